//! Token revocation (RFC 7009) and introspection (RFC 7662) endpoints.
//!
//! Decisions:
//! - Introspection requires an authenticated caller (RFC 7662 §2.1): a confidential
//!   client with its secret. A public client names itself with a `client_id` anyone can
//!   read, which proves nothing, so it gets 401 `invalid_client`.
//! - Revocation accepts public clients too (RFC 7009 §2.1, §5: the token itself is the
//!   proof of possession), after the usual client authentication.
//! - A client may only introspect its own tokens: another client's token, and anything
//!   unknown, malformed, expired, rotated or revoked, is `{"active": false}` (RFC 7662
//!   §2.2), so introspection reveals nothing about other clients.
//! - A client may only revoke its own tokens: an authentic token issued to another client
//!   (an access token with a valid MAC, expired or not, or a refresh token in the store)
//!   is refused with 400 `unauthorized_client` and left alone (RFC 7009 §2.1); unknown,
//!   malformed, expired or already revoked tokens are 200 with an empty body (§2.2).
//!
//! Revoking either token of a grant revokes the whole family: its refresh tokens in the
//! store, its access tokens through the verifier's revocation set (a self-contained
//! access token cannot be revoked alone).

use super::access::is_access_token;
use super::body::{self, EndpointRequest};
use super::client::{Client, ClientType};
use super::error::{OAuthError, OAuthErrorCode};
use super::opaque;
use super::params::Params;
use super::refresh::{REFRESH_PREFIX, RefreshRecord};
use super::server::{OAuthServer, Stores};
use super::token::TokenResponse;
use crate::format::KeyId;
use crate::time::Timestamp;
use serde_json::json;
use std::sync::Arc;

/// What a presented token turned out to be, for this client.
enum Found {
    /// A live access token of this client.
    Access(super::access::AccessClaims),
    /// A live refresh token of this client.
    Refresh(RefreshRecord),
    /// An authentic token issued to another client.
    Other,
    /// Nothing this client may act on: unknown, malformed, expired, rotated or revoked.
    Nothing,
}

impl OAuthServer {
    /// RFC 7009: revokes `token` (and its grant family). 200 for unknown, expired or
    /// revoked tokens too; 400 `unauthorized_client` for a token issued to another client,
    /// which stays valid.
    ///
    /// The body is `application/x-www-form-urlencoded`: the same as
    /// [`OAuthServer::revoke_request`] with that `Content-Type`.
    pub fn revoke(
        &self,
        authorization: Option<&str>,
        body: &str,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> TokenResponse {
        self.revoke_request(&EndpointRequest::form(authorization, body), stores, now)
    }

    /// The RFC 7009 endpoint for a request as received: `Authorization` and `Content-Type`
    /// headers and the body bytes (form or JSON, see [`super::EndpointRequest`]); answers as
    /// [`OAuthServer::revoke`].
    pub fn revoke_request(
        &self,
        request: &EndpointRequest<'_>,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> TokenResponse {
        let (client, params) = match self.endpoint_client(request, stores) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let Some(token) = params.get("token") else {
            return TokenResponse::error(OAuthError::request("token is missing"), &self.realm);
        };
        if let Err(e) = check_hint(params.get("token_type_hint")) {
            return TokenResponse::error(e, &self.realm);
        }
        let family: Option<KeyId> = match self.find(token, &client.id, stores, now) {
            Found::Access(c) => Some(c.family),
            Found::Refresh(r) => Some(r.family),
            Found::Other => {
                let e = OAuthError::new(
                    OAuthErrorCode::UnauthorizedClient,
                    "The token was issued to another client",
                );
                return TokenResponse::error(e, &self.realm);
            }
            Found::Nothing => None,
        };
        if let Some(f) = family {
            self.revoke_family(&f, stores, now);
        }
        TokenResponse::json(200, &json!({}))
    }

    /// RFC 7662: `{"active": true, …}` for a live token of this client, otherwise only
    /// `{"active": false}`. The caller must be a confidential client authenticating with
    /// its secret; a public client gets 401 `invalid_client`.
    ///
    /// The body is `application/x-www-form-urlencoded`: the same as
    /// [`OAuthServer::introspect_request`] with that `Content-Type`.
    pub fn introspect(
        &self,
        authorization: Option<&str>,
        body: &str,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> TokenResponse {
        self.introspect_request(&EndpointRequest::form(authorization, body), stores, now)
    }

    /// The RFC 7662 endpoint for a request as received: `Authorization` and `Content-Type`
    /// headers and the body bytes (form or JSON, see [`super::EndpointRequest`]); answers as
    /// [`OAuthServer::introspect`].
    pub fn introspect_request(
        &self,
        request: &EndpointRequest<'_>,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> TokenResponse {
        let (client, params) = match self.endpoint_client(request, stores) {
            Ok(v) => v,
            Err(r) => return r,
        };
        if client.client_type != ClientType::Confidential {
            let e = OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "Introspection requires client authentication with a secret",
            );
            return TokenResponse::error(e, &self.realm);
        }
        let Some(token) = params.get("token") else {
            return TokenResponse::error(OAuthError::request("token is missing"), &self.realm);
        };
        let body = match self.find(token, &client.id, stores, now) {
            Found::Access(c) => json!({
                "active": true,
                "token_type": "Bearer",
                "scope": self.catalog.canonical(&c.scopes),
                "client_id": c.client_id,
                "sub": c.subject,
                "exp": c.expires_at.0,
                "iat": c.issued_at.0,
                "jti": c.token_id.as_str(),
            }),
            Found::Refresh(r) => json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scope,
                "client_id": r.client_id,
                "sub": r.subject,
                "iat": r.issued_at.0,
                "exp": r.issued_at.plus(self.config.refresh_idle_ttl).0
                    .min(r.family_started_at.plus(self.config.refresh_max_ttl).0),
            }),
            Found::Other | Found::Nothing => json!({"active": false}),
        };
        TokenResponse::json(200, &body)
    }

    fn endpoint_client(
        &self,
        request: &EndpointRequest<'_>,
        stores: Stores<'_>,
    ) -> Result<(Arc<Client>, Params), TokenResponse> {
        let params = body::parse(request.content_type, request.body)
            .map_err(|e| TokenResponse::error(e, &self.realm))?;
        let client = self
            .authenticate_client(request.authorization_text(), &params, stores)
            .map_err(|e| TokenResponse::error(e.error, &self.realm))?;
        Ok((client, params))
    }

    /// A live token of `client_id`, an authentic token of another client, or nothing.
    fn find(&self, token: &str, client_id: &str, stores: Stores<'_>, now: Timestamp) -> Found {
        if is_access_token(token.as_bytes()) {
            return match self.verifier.decode(token.as_bytes()) {
                Ok(c) if c.client_id != client_id => Found::Other,
                Ok(c) if self.verifier.check_live(&c, now).is_ok() => Found::Access(c),
                _ => Found::Nothing,
            };
        }
        let Some(hash) = opaque::parse(REFRESH_PREFIX, token) else {
            return Found::Nothing;
        };
        match stores.refresh.refresh(&hash) {
            Ok(Some(r)) if r.client_id != client_id => Found::Other,
            Ok(Some(r)) if self.refresh_live(&r, stores, now) => Found::Refresh(r),
            _ => Found::Nothing,
        }
    }

    fn refresh_live(&self, r: &RefreshRecord, stores: Stores<'_>, now: Timestamp) -> bool {
        let revoked = stores.refresh.is_family_revoked(&r.family).unwrap_or(true);
        let fresh = now < r.issued_at.plus(self.config.refresh_idle_ttl)
            && now < r.family_started_at.plus(self.config.refresh_max_ttl);
        !revoked && r.rotated_at.is_none() && fresh
    }
}

/// `token_type_hint`: `access_token`, `refresh_token` or absent; any other value is
/// `unsupported_token_type` (RFC 7009 §2.2.1).
fn check_hint(hint: Option<&str>) -> Result<(), OAuthError> {
    match hint {
        None | Some("access_token" | "refresh_token") => Ok(()),
        Some(_) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedTokenType,
            "The token type is not supported",
        )),
    }
}
