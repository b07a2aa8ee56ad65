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
        Self::new(
            OAuthErrorCode::ServerError,
            "The server could not complete the request",
        )
    }
}
