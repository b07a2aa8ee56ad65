//! Token revocation (RFC 7009) and introspection (RFC 7662) endpoints.
//!
//! Both require client authentication. A client may only revoke or introspect its own
//! tokens: anything else — unknown, malformed, expired, revoked, another client's — is
//! answered exactly like an unknown token (revocation: 200 with an empty body;
//! introspection: `{"active": false}`), so the endpoints reveal nothing.
//!
//! Revoking either token of a grant revokes the whole family: its refresh tokens in the
//! store, its access tokens through the verifier's revocation set (a self-contained
//! access token cannot be revoked alone).

use super::access::is_access_token;
use super::error::{OAuthError, OAuthErrorCode};
use super::opaque;
use super::params::Params;
use super::refresh::{REFRESH_PREFIX, RefreshRecord};
use super::server::{OAuthServer, Stores};
use super::token::TokenResponse;
use crate::format::KeyId;
use crate::time::Timestamp;
use serde_json::json;

/// What a presented token turned out to be, for this client.
enum Found {
    Access(super::access::AccessClaims),
    Refresh(RefreshRecord),
    Nothing,
}

impl OAuthServer {
    /// RFC 7009: revokes `token` (and its grant family). 200 for unknown tokens too.
    pub fn revoke(
        &self,
        authorization: Option<&str>,
        body: &str,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> TokenResponse {
        let (client_id, params) = match self.endpoint_client(authorization, body, stores) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let Some(token) = params.get("token") else {
            return TokenResponse::error(OAuthError::request("token is missing"), &self.realm);
        };
        if let Err(e) = check_hint(params.get("token_type_hint")) {
            return TokenResponse::error(e, &self.realm);
        }
        let family: Option<KeyId> = match self.find(token, &client_id, stores, now) {
            Found::Access(c) => Some(c.family),
            Found::Refresh(r) => Some(r.family),
            Found::Nothing => None,
        };
        if let Some(f) = family {
            self.revoke_family(&f, stores, now);
        }
        TokenResponse::json(200, &json!({}))
    }

    /// RFC 7662: `{"active": true, …}` for a live token of this client, otherwise only
    /// `{"active": false}`.
    pub fn introspect(
        &self,
        authorization: Option<&str>,
        body: &str,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> TokenResponse {
        let (client_id, params) = match self.endpoint_client(authorization, body, stores) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let Some(token) = params.get("token") else {
            return TokenResponse::error(OAuthError::request("token is missing"), &self.realm);
        };
        let body = match self.find(token, &client_id, stores, now) {
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
            Found::Nothing => json!({"active": false}),
        };
        TokenResponse::json(200, &body)
    }

    fn endpoint_client(
        &self,
        authorization: Option<&str>,
        body: &str,
        stores: Stores<'_>,
    ) -> Result<(String, Params), TokenResponse> {
        let params = Params::parse(body).map_err(|_| {
            TokenResponse::error(
                OAuthError::request("The request body is malformed"),
                &self.realm,
            )
        })?;
        let client = self
            .authenticate_client(authorization, &params, stores)
            .map_err(|e| TokenResponse::error(e.error, &self.realm))?;
        Ok((client.id.clone(), params))
    }

    /// A live token of `client_id`, or nothing.
    fn find(&self, token: &str, client_id: &str, stores: Stores<'_>, now: Timestamp) -> Found {
        if is_access_token(token.as_bytes()) {
            return match self.verifier.verify(token.as_bytes(), now) {
                Ok(c) if c.client_id == client_id => Found::Access(c),
                _ => Found::Nothing,
            };
        }
        let Some(hash) = opaque::parse(REFRESH_PREFIX, token) else {
            return Found::Nothing;
        };
        match stores.refresh.refresh(&hash) {
            Ok(Some(r)) if r.client_id == client_id && self.refresh_live(&r, stores, now) => {
                Found::Refresh(r)
            }
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
