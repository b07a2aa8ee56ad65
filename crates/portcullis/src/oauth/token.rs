//! The token endpoint (RFC 6749 §4.1.3, §5.1, §5.2, §6): code exchange and refresh, with
//! the JSON body and headers of every answer.
//!
//! The host routes `POST /oauth/token` to [`OAuthServer::token_request`] with the
//! `Authorization` and `Content-Type` headers and the raw body (form or JSON, see
//! [`super::body`]), and sends back [`TokenResponse`] as is.
//!
//! Decisions:
//! - The body is read by its `Content-Type` before anything else (see [`super::EndpointRequest`]): a
//!   body the engine cannot read is `invalid_request` saying what to send, never an
//!   `invalid_client` that hides the cause.
//! - Client authentication (RFC 6749 §2.3.1): HTTP Basic always; `client_id` and
//!   `client_secret` in the body (`client_secret_post`) only when
//!   [`OAuthConfig::allow_body_credentials`](super::OAuthConfig) is set (a policy's
//!   `[oauth]` section; ClaimPort's policy sets it because its docs send them); both at
//!   once is `invalid_request`; a public client names itself with `client_id` alone.
//! - A confidential client that sends no secret — e.g. refreshing with `client_id` alone,
//!   which §6 does not allow it — gets 401 `invalid_client` "This client must send its
//!   client_secret …", naming the methods the server accepts. An unknown client and a
//!   wrong secret both get "Client authentication failed".
//! - `redirect_uri` (§4.1.3) must be repeated when the authorization request named it,
//!   unless the client has exactly one registered redirect URI: exact matching
//!   delivered the code there, so the repeat proves nothing (ClaimPort's documented
//!   code exchange omits it). When sent, it must match.
//! - Every error body carries an RFC 6749 §5.2 code (see [`OAuthErrorCode`]).

use super::access::{AccessClaims, random_id};
use super::body::{self, EndpointRequest};
use super::client::{self, Client, ClientAuthError};
use super::code::{CODE_PREFIX, CodeRecord};
use super::error::{OAuthError, OAuthErrorCode};
use super::opaque::{self, TokenHash};
use super::params::Params;
use super::refresh::{GRACE_SPENT, REFRESH_PREFIX, RefreshRecord};
use super::server::{OAuthServer, Stores};
use super::store::{Consumed, Rotated};
use crate::format::KeyId;
use crate::random::RandomSource;
use crate::scope::ScopeSet;
use crate::secret::SecretString;
use crate::time::Timestamp;
use std::sync::Arc;

/// An HTTP response to send as is: status, headers, JSON body.
///
/// Every response carries `Content-Type: application/json`, `Cache-Control: no-store` and
/// `Pragma: no-cache` (§5.1). The body may hold tokens: `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// 200, 400, 401, 500 or 503.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    body: SecretString,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &"[REDACTED]")
            .finish()
    }
}

impl TokenResponse {
    /// The JSON body (may contain tokens: send it, do not log it).
    pub fn body(&self) -> &str {
        self.body.expose()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        TokenResponse {
            status,
            headers: vec![
                ("Content-Type", "application/json".to_owned()),
                ("Cache-Control", "no-store".to_owned()),
                ("Pragma", "no-cache".to_owned()),
            ],
            body: SecretString::new(body.to_string()),
        }
    }

    /// An error response (§5.2); `invalid_client` gets 401 and `WWW-Authenticate`.
    pub(crate) fn error(error: OAuthError, realm: &str) -> Self {
        let body = serde_json::json!({
            "error": error.code.as_str(),
            "error_description": error.description,
        });
        let mut r = Self::json(error.code.status(), &body);
        if error.code == OAuthErrorCode::InvalidClient {
            r.headers
                .push(("WWW-Authenticate", format!("Basic realm=\"{realm}\"")));
        }
        r
    }
}

/// A grant being turned into tokens.
struct Grant<'a> {
    client: &'a Client,
    subject: &'a str,
    /// The scope of the access token.
    scope: ScopeSet,
    /// The scope of the refresh token (the whole grant).
    grant_scope: ScopeSet,
    family: KeyId,
    family_started_at: Timestamp,
    /// Whether to return `scope` (it differs from the request).
    echo_scope: bool,
}

type Outcome = Result<TokenResponse, OAuthError>;

impl OAuthServer {
    /// The RFC 6749 §5.2 response for an error the host found before the engine could
    /// read the request: a body or header that is not UTF-8, a body over the host's size
    /// limit. For example `OAuthError::new(OAuthErrorCode::InvalidRequest, "The request
    /// body is not UTF-8")`; `invalid_client` gets its 401 and `WWW-Authenticate`.
    pub fn error_response(&self, error: OAuthError) -> TokenResponse {
        TokenResponse::error(error, &self.realm)
    }

    /// Answers a token request whose body is `application/x-www-form-urlencoded`:
    /// `authorization` is the request's `Authorization` header, `body` its body. The same
    /// as [`OAuthServer::token_request`] with that `Content-Type`; a host that accepts
    /// JSON bodies too calls `token_request` with the header it received.
    pub fn token(
        &self,
        authorization: Option<&str>,
        body: &str,
        stores: Stores<'_>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> TokenResponse {
        self.token_request(
            &EndpointRequest::form(authorization, body),
            stores,
            rng,
            now,
        )
    }

    /// Answers a token request (RFC 6749 §4.1.3, §6) as received: the `Authorization`
    /// and `Content-Type` headers and the body bytes. The body is read by its type
    /// (form or JSON, see [`super::EndpointRequest`]) before the client is authenticated, so a body
    /// the engine cannot read is `invalid_request` naming what to send.
    pub fn token_request(
        &self,
        request: &EndpointRequest<'_>,
        stores: Stores<'_>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> TokenResponse {
        let params = match body::parse(request.content_type, request.body) {
            Ok(p) => p,
            Err(e) => return self.fail(e),
        };
        let authorization = request.authorization_text();
        let client = match self.authenticate_client(authorization, &params, stores) {
            Ok(c) => c,
            Err(e) => return self.fail(e.error),
        };
        let result = match params.get("grant_type") {
            None => Err(OAuthError::request("grant_type is missing")),
            Some(g @ ("authorization_code" | "refresh_token")) if !client.allows_grant(g) => {
                Err(OAuthError::new(
                    OAuthErrorCode::UnauthorizedClient,
                    "The client may not use this grant type",
                ))
            }
            Some("authorization_code") => self.exchange_code(&client, &params, stores, rng, now),
            Some("refresh_token") => self.refresh(&client, &params, stores, rng, now),
            Some(_) => Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "The grant type is not supported",
            )),
        };
        result.unwrap_or_else(|e| self.fail(e))
    }

    fn fail(&self, error: OAuthError) -> TokenResponse {
        TokenResponse::error(error, &self.realm)
    }

    /// Client authentication (§2.3.1): HTTP Basic, body credentials only when enabled,
    /// `client_id` alone for public clients.
    pub(crate) fn authenticate_client(
        &self,
        authorization: Option<&str>,
        params: &Params,
        stores: Stores<'_>,
    ) -> Result<Arc<Client>, ClientAuthError> {
        let presented =
            client::presented(authorization, params, self.config.allow_body_credentials)?;
        let found = stores
            .clients
            .client(&presented.id)
            .map_err(|_| ClientAuthError {
                error: OAuthError::server(),
                used_header: false,
            })?;
        client::authenticate(
            &presented,
            found.as_deref(),
            self.config.allow_body_credentials,
        )?;
        found.ok_or(ClientAuthError {
            error: OAuthError::server(),
            used_header: false,
        })
    }

    fn exchange_code(
        &self,
        client: &Client,
        params: &Params,
        stores: Stores<'_>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> Outcome {
        let code = params
            .get("code")
            .ok_or(OAuthError::request("code is missing"))?;
        let invalid = OAuthError::grant("The authorization code is invalid");
        let hash = opaque::parse(CODE_PREFIX, code).ok_or(invalid)?;
        // Client, redirect URI and PKCE are checked before the code is consumed, so a
        // request that fails them (a stolen code with a guessed verifier) cannot burn it.
        match stores.codes.code(&hash) {
            Err(_) => return Err(OAuthError::server()),
            Ok(None) => return Err(invalid),
            Ok(Some(record)) => check_code(&record, client, params, now)?,
        }
        let record = match stores.codes.consume_code(&hash) {
            Err(_) => return Err(OAuthError::server()),
            Ok(Consumed::Unknown) => return Err(invalid),
            Ok(Consumed::Again(record)) => {
                self.revoke_family(&record.family, stores, now);
                return Err(OAuthError::grant("The authorization code was already used"));
            }
            Ok(Consumed::First(record)) => record,
        };
        let scope = self.stored_scope(&record.scope);
        self.issue(
            Grant {
                client,
                subject: &record.subject,
                scope,
                grant_scope: scope,
                family: record.family,
                family_started_at: now,
                echo_scope: record.scope_narrowed,
            },
            stores,
            rng,
            now,
        )
    }

    fn refresh(
        &self,
        client: &Client,
        params: &Params,
        stores: Stores<'_>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> Outcome {
        let token = params
            .get("refresh_token")
            .ok_or(OAuthError::request("refresh_token is missing"))?;
        let invalid = OAuthError::grant("The refresh token is invalid");
        let hash = opaque::parse(REFRESH_PREFIX, token).ok_or(invalid)?;
        let record = match stores.refresh.refresh(&hash) {
            Err(_) => return Err(OAuthError::server()),
            Ok(None) => return Err(invalid),
            Ok(Some(r)) => r,
        };
        if record.client_id != client.id {
            return Err(invalid);
        }
        if stores
            .refresh
            .is_family_revoked(&record.family)
            .map_err(|_| OAuthError::server())?
        {
            return Err(invalid);
        }
        let rotated_at = self.check_refresh_reuse(&record, stores, now)?;
        self.check_refresh_age(&record, now)?;
        let grant_scope = self.stored_scope(&record.scope);
        let scope = match params.get("scope") {
            None => grant_scope,
            Some(text) => {
                let asked = self.parse_scope(text)?;
                if !asked.is_subset(&grant_scope) {
                    return Err(OAuthError::scope("A refresh may only narrow the scope"));
                }
                asked
            }
        };
        let grant = Grant {
            client,
            subject: &record.subject,
            scope,
            grant_scope,
            family: record.family,
            family_started_at: record.family_started_at,
            echo_scope: false,
        };
        self.rotate(
            grant,
            &hash,
            (record.rotated_at, rotated_at),
            stores,
            rng,
            now,
        )
    }

    /// The `rotated_at` a redemption sets: `now` for the current token; for a rotated
    /// token within the grace window, once, [`GRACE_SPENT`]; otherwise the use is reuse
    /// and the family is revoked (RFC 9700 §4.14.2).
    fn check_refresh_reuse(
        &self,
        record: &RefreshRecord,
        stores: Stores<'_>,
        now: Timestamp,
    ) -> Result<Timestamp, OAuthError> {
        match record.rotated_at {
            None => Ok(now),
            Some(at) if at != GRACE_SPENT && now < at.plus(self.config.refresh_grace) => {
                Ok(GRACE_SPENT)
            }
            Some(_) => {
                self.revoke_family(&record.family, stores, now);
                Err(OAuthError::grant("The refresh token was already used"))
            }
        }
    }

    fn check_refresh_age(&self, record: &RefreshRecord, now: Timestamp) -> Result<(), OAuthError> {
        let idle = record.issued_at.plus(self.config.refresh_idle_ttl) <= now;
        let old = record.family_started_at.plus(self.config.refresh_max_ttl) <= now;
        if idle || old {
            return Err(OAuthError::grant("The refresh token expired"));
        }
        Ok(())
    }

    /// Swaps `old`'s `rotated_at` from `swap.0` to `swap.1` and stores a successor.
    fn rotate(
        &self,
        grant: Grant<'_>,
        old: &TokenHash,
        swap: (Option<Timestamp>, Timestamp),
        stores: Stores<'_>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> Outcome {
        let (refresh, hash) =
            opaque::mint(REFRESH_PREFIX, rng).map_err(|_| OAuthError::server())?;
        let record = self.refresh_record(&grant, now);
        match stores.refresh.rotate(old, swap.0, swap.1, (hash, record)) {
            Err(_) => Err(OAuthError::server()),
            Ok(Rotated::Conflict) => {
                // Someone else used this token at the same moment: that is reuse.
                self.revoke_family(&grant.family, stores, now);
                Err(OAuthError::grant("The refresh token was already used"))
            }
            Ok(Rotated::Done) => self.respond(&grant, Some(refresh), rng, now),
        }
    }

    /// First tokens of a grant: a refresh token (when the client may refresh) and an
    /// access token.
    fn issue(
        &self,
        grant: Grant<'_>,
        stores: Stores<'_>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> Outcome {
        let refresh = if grant.client.allows_grant("refresh_token") {
            let (token, hash) =
                opaque::mint(REFRESH_PREFIX, rng).map_err(|_| OAuthError::server())?;
            let record = self.refresh_record(&grant, now);
            stores
                .refresh
                .put_refresh(hash, record)
                .map_err(|_| OAuthError::server())?;
            Some(token)
        } else {
            None
        };
        self.respond(&grant, refresh, rng, now)
    }

    fn refresh_record(&self, grant: &Grant<'_>, now: Timestamp) -> RefreshRecord {
        RefreshRecord {
            client_id: grant.client.id.clone(),
            subject: grant.subject.to_owned(),
            scope: self.catalog.canonical(&grant.grant_scope),
            family: grant.family,
            family_started_at: grant.family_started_at,
            issued_at: now,
            rotated_at: None,
        }
    }

    /// The §5.1 success response.
    fn respond(
        &self,
        grant: &Grant<'_>,
        refresh: Option<SecretString>,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> Outcome {
        let claims = AccessClaims {
            subject: grant.subject.to_owned(),
            client_id: grant.client.id.clone(),
            scopes: grant.scope,
            issued_at: now,
            expires_at: now.plus(self.config.access_ttl),
            token_id: random_id(rng).map_err(|_| OAuthError::server())?,
            family: grant.family,
        };
        let access = self.verifier.keys().sign(&claims, &self.catalog);
        let mut body = serde_json::json!({
            "access_token": access.expose(),
            "token_type": "Bearer",
            "expires_in": self.config.access_ttl,
        });
        if let Some(r) = refresh {
            body["refresh_token"] = r.expose().into();
        }
        if grant.echo_scope {
            body["scope"] = self.catalog.canonical(&grant.scope).into();
        }
        Ok(TokenResponse::json(200, &body))
    }

    /// Revokes a grant family everywhere: the store (refresh tokens) and the verifier's
    /// revocation set (access tokens). Store failures are ignored here: the request is
    /// refused anyway, and the verifier already refuses the family.
    pub fn revoke_family(&self, family: &KeyId, stores: Stores<'_>, now: Timestamp) {
        self.verifier.revocations().revoke_family(*family);
        let _ = stores.refresh.revoke_family(family, now);
    }
}

/// The checks of §4.1.3 and RFC 7636 §4.6 on a code, before it is consumed.
fn check_code(
    record: &CodeRecord,
    client: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<(), OAuthError> {
    let invalid = OAuthError::grant("The authorization code is invalid");
    if record.client_id != client.id || record.expires_at <= now {
        return Err(invalid);
    }
    // §4.1.3 asks for redirect_uri again when the authorization request named it; a
    // client with one registered URI is excused: exact matching delivered the code there.
    let implied = client.redirect_uris.len() == 1;
    match (record.redirect_uri_given, params.get("redirect_uri")) {
        (true, None) if !implied => return Err(OAuthError::request("redirect_uri is missing")),
        (_, Some(uri)) if uri != record.redirect_uri => {
            return Err(OAuthError::grant("redirect_uri does not match"));
        }
        _ => {}
    }
    match (&record.challenge, params.get("code_verifier")) {
        (Some(_), None) => Err(OAuthError::request("code_verifier is missing")),
        (Some(c), Some(v)) if !c.verify(v) => {
            Err(OAuthError::grant("code_verifier does not match"))
        }
        (None, Some(_)) => Err(OAuthError::grant(
            "code_verifier sent for a code issued without a challenge",
        )),
        _ => Ok(()),
    }
}
