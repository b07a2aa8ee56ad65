//! OAuth error codes (RFC 6749 §4.1.2.1, §5.2; RFC 7009 §2.2.1) and the error type the
//! endpoints return.

use std::fmt;

/// An OAuth error code, as sent on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated, malformed or unsupported.
    InvalidRequest,
    /// Client authentication failed (token endpoint, 401).
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked, reused or mismatched.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The response type is not supported (authorize endpoint).
    UnsupportedResponseType,
    /// The requested scope is invalid, unknown or exceeds what is allowed.
    InvalidScope,
    /// The resource owner or server denied the request (authorize endpoint).
    AccessDenied,
    /// The server failed (a store error); the request may be retried.
    ServerError,
    /// The server is temporarily unable to answer.
    TemporarilyUnavailable,
    /// The token type hint names a type this server cannot revoke (RFC 7009).
    UnsupportedTokenType,
}

impl OAuthErrorCode {
    /// The wire form (`invalid_grant`).
    pub const fn as_str(&self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthErrorCode::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            OAuthErrorCode::InvalidRequest => &crate::codes::OAUTH_INVALID_REQUEST,
            OAuthErrorCode::InvalidClient => &crate::codes::OAUTH_INVALID_CLIENT,
            OAuthErrorCode::InvalidGrant => &crate::codes::OAUTH_INVALID_GRANT,
            OAuthErrorCode::UnauthorizedClient => &crate::codes::OAUTH_UNAUTHORIZED_CLIENT,
            OAuthErrorCode::UnsupportedGrantType => &crate::codes::OAUTH_UNSUPPORTED_GRANT_TYPE,
            OAuthErrorCode::UnsupportedResponseType => {
                &crate::codes::OAUTH_UNSUPPORTED_RESPONSE_TYPE
            }
            OAuthErrorCode::InvalidScope => &crate::codes::OAUTH_INVALID_SCOPE,
            OAuthErrorCode::AccessDenied => &crate::codes::OAUTH_ACCESS_DENIED,
            OAuthErrorCode::ServerError => &crate::codes::OAUTH_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => &crate::codes::OAUTH_TEMPORARILY_UNAVAILABLE,
            OAuthErrorCode::UnsupportedTokenType => &crate::codes::OAUTH_UNSUPPORTED_TOKEN_TYPE,
        }
    }

    /// A stable machine-readable name: the wire form (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }

    /// Every code, in declaration order.
    pub const ALL: [OAuthErrorCode; 11] = [
        OAuthErrorCode::InvalidRequest,
        OAuthErrorCode::InvalidClient,
        OAuthErrorCode::InvalidGrant,
        OAuthErrorCode::UnauthorizedClient,
        OAuthErrorCode::UnsupportedGrantType,
        OAuthErrorCode::UnsupportedResponseType,
        OAuthErrorCode::InvalidScope,
        OAuthErrorCode::AccessDenied,
        OAuthErrorCode::ServerError,
        OAuthErrorCode::TemporarilyUnavailable,
        OAuthErrorCode::UnsupportedTokenType,
    ];

    /// The code with this wire form, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// Whether an authorization-endpoint error redirect may carry this code
    /// (RFC 6749 §4.1.2.1).
    pub const fn is_authorization_error(&self) -> bool {
        matches!(
            self,
            OAuthErrorCode::InvalidRequest
                | OAuthErrorCode::UnauthorizedClient
                | OAuthErrorCode::AccessDenied
                | OAuthErrorCode::UnsupportedResponseType
                | OAuthErrorCode::InvalidScope
                | OAuthErrorCode::ServerError
                | OAuthErrorCode::TemporarilyUnavailable
        )
    }

    /// A generic, secret-free `error_description` for errors the host raises itself
    /// (the engine's own errors carry more precise texts).
    pub const fn default_description(&self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "The request is malformed",
            OAuthErrorCode::InvalidClient => "Client authentication failed",
            OAuthErrorCode::InvalidGrant => "The grant is invalid",
            OAuthErrorCode::UnauthorizedClient => "The client may not use this grant",
            OAuthErrorCode::UnsupportedGrantType => "The grant type is not supported",
            OAuthErrorCode::UnsupportedResponseType => "The response type is not supported",
            OAuthErrorCode::InvalidScope => "The scope is invalid",
            OAuthErrorCode::AccessDenied => "The request was denied",
            OAuthErrorCode::ServerError => "The server could not complete the request",
            OAuthErrorCode::TemporarilyUnavailable => "The server is temporarily unavailable",
            OAuthErrorCode::UnsupportedTokenType => "The token type is not supported",
        }
    }

    /// The HTTP status of a token-endpoint error response (RFC 6749 §5.2).
    pub const fn status(&self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::ServerError => 500,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: a code and a fixed, secret-free description for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The wire code.
    pub code: OAuthErrorCode,
    /// A human-readable text safe to send (`error_description`); never contains input.
    pub description: &'static str,
}

impl OAuthError {
    /// An error with a code and a description.
    pub const fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        OAuthError { code, description }
    }

    /// An error with the code's [`OAuthErrorCode::default_description`].
    pub const fn of(code: OAuthErrorCode) -> Self {
        Self::new(code, code.default_description())
    }

    pub(crate) const fn request(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub(crate) const fn grant(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub(crate) const fn scope(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    pub(crate) const fn server() -> Self {
        Self::of(OAuthErrorCode::ServerError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_from_their_wire_form_only() {
        for code in OAuthErrorCode::ALL {
            assert_eq!(OAuthErrorCode::parse(code.as_str()), Some(code));
            assert!(!code.default_description().is_empty());
        }
        for text in ["", "Invalid_Request", "invalid_request ", "made_up"] {
            assert_eq!(OAuthErrorCode::parse(text), None, "{text:?}");
        }
        assert!(OAuthErrorCode::AccessDenied.is_authorization_error());
        assert!(!OAuthErrorCode::InvalidGrant.is_authorization_error());
        assert!(!OAuthErrorCode::InvalidClient.is_authorization_error());
    }
}
