//! The authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.1.2): validate the request,
//! then — after the host has authenticated the user and asked for consent — issue a code
//! or an `access_denied`, by redirect.
//!
//! A bad or unknown `client_id`, or a `redirect_uri` that is missing, unregistered or
//! repeated, is shown to the user and **never** redirected (§4.1.2.1, RFC 9700 §4.11:
//! no open redirector). Every other error goes back to the client's redirect URI with
//! `error`, `error_description` and the `state` echoed, and, when
//! [`OAuthConfig::issuer`](super::OAuthConfig::issuer) is set, every redirect (code or
//! error) carries `iss` (RFC 9207).
//!
//! PKCE and `state` (decisions):
//! - A public client must send a PKCE S256 challenge, always: without a secret, the code
//!   verifier is the only proof that the redeemer of a code is the client that asked for
//!   it (RFC 9700 §2.1.1). A request without `code_challenge` is redirected back with
//!   `invalid_request` "code_challenge is required".
//! - A confidential client must too by default
//!   ([`OAuthConfig::require_pkce_for_confidential`](super::OAuthConfig)). A host may turn
//!   that off for confidential clients only (ClaimPort's documented authorize URL has no
//!   PKCE); the cost, per RFC 9700 §2.1.1: a code stolen from the redirect (logs,
//!   referrer, a malicious app on the device) and injected into the legitimate client's
//!   session is no longer detected, so the client secret then protects the exchange
//!   alone. A client that sends a challenge anyway is held to it, and a code issued
//!   without one cannot be redeemed with a `code_verifier` (downgrade refused).
//! - `state` is optional (RFC 6749 §4.1.1) and echoed when sent. A client that omits it
//!   and uses no PKCE loses CSRF protection of its redirect endpoint (RFC 6749 §10.12):
//!   an attacker can make the user's browser deliver the attacker's code. PKCE gives
//!   the same protection, which is why it stays required where it can be.

use super::client::Client;
use super::code::{CODE_PREFIX, CodeRecord};
use super::error::{OAuthError, OAuthErrorCode};
use super::opaque;
use super::params::{ParamError, Params};
use super::pkce::PkceChallenge;
use super::redirect::{matches, with_params};
use super::server::{OAuthServer, intersect};
use super::store::{ClientStore, CodeStore};
use crate::random::RandomSource;
use crate::scope::ScopeSet;
use crate::time::Timestamp;
use std::sync::Arc;

/// A validated authorization request, waiting for the user's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationRequest {
    /// The client (show its id or name on the consent screen).
    pub client: Arc<Client>,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (the token request must repeat it).
    pub redirect_uri_given: bool,
    /// The client's `state`, echoed in the redirect.
    pub state: Option<String>,
    /// The scopes to ask consent for: requested ∩ client-allowed, implications expanded.
    pub scope: ScopeSet,
    /// Whether `scope` differs from what the client requested.
    pub scope_narrowed: bool,
    /// The PKCE challenge.
    pub challenge: Option<PkceChallenge>,
}

/// The outcome of validating an authorization request.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthorizeOutcome {
    /// Valid: authenticate the user, ask for consent, then call [`OAuthServer::approve`]
    /// or [`OAuthServer::deny`].
    Valid(AuthorizationRequest),
    /// Invalid, and safe to tell the client: redirect the user agent (302) to `location`.
    Redirect {
        /// The error.
        error: OAuthError,
        /// The redirect URL (client's URI + `error`, `error_description`, `state`).
        location: String,
    },
    /// The client or redirect URI cannot be trusted: show this error to the user, do not
    /// redirect (a 400 page).
    ShowError(OAuthError),
}

/// Parameters that identify where to redirect: if one of these is repeated, nothing can
/// be trusted.
const IDENTIFYING: [&str; 2] = ["client_id", "redirect_uri"];

impl OAuthServer {
    /// Validates an authorization request's query string as the raw bytes of the request
    /// line: bytes that are not UTF-8 are a [`AuthorizeOutcome::ShowError`] like any other
    /// malformed query, decided here once for every binding. Otherwise as
    /// [`OAuthServer::authorize`].
    pub fn authorize_bytes(&self, query: &[u8], clients: &dyn ClientStore) -> AuthorizeOutcome {
        match std::str::from_utf8(query) {
            Ok(query) => self.authorize(query, clients),
            Err(_) => show("The request parameters are malformed (not UTF-8)"),
        }
    }

    /// Validates an authorization request's query string (a leading `?` is ignored).
    pub fn authorize(&self, query: &str, clients: &dyn ClientStore) -> AuthorizeOutcome {
        let query = query.strip_prefix('?').unwrap_or(query);
        let (params, repeated) = match Params::parse(query) {
            Ok(p) => (p, None),
            Err(ParamError::Repeated(name)) if !IDENTIFYING.contains(&name.as_str()) => {
                match Params::parse_first(query) {
                    Ok(p) => (p, Some(name)),
                    Err(_) => return show("The request parameters are malformed"),
                }
            }
            Err(ParamError::Repeated(_)) => return show("client_id or redirect_uri is repeated"),
            Err(_) => return show("The request parameters are malformed"),
        };
        let client = match self.find_client(&params, clients) {
            Ok(c) => c,
            Err(e) => return AuthorizeOutcome::ShowError(e),
        };
        let (redirect_uri, given) = match pick_redirect(&client, params.get("redirect_uri")) {
            Ok(r) => r,
            Err(e) => return AuthorizeOutcome::ShowError(e),
        };
        let state = params.get("state").map(str::to_owned);
        let error_to_client = |error: OAuthError| AuthorizeOutcome::Redirect {
            location: error_location(&redirect_uri, state.as_deref(), self.issuer(), &error),
            error,
        };
        if repeated.is_some() {
            return error_to_client(OAuthError::request("A parameter is repeated"));
        }
        match self.check_request(&params, &client) {
            Ok((scope, scope_narrowed, challenge)) => {
                AuthorizeOutcome::Valid(AuthorizationRequest {
                    client,
                    redirect_uri,
                    redirect_uri_given: given,
                    state,
                    scope,
                    scope_narrowed,
                    challenge,
                })
            }
            Err(e) => error_to_client(e),
        }
    }

    fn find_client(
        &self,
        params: &Params,
        clients: &dyn ClientStore,
    ) -> Result<Arc<Client>, OAuthError> {
        let id = params
            .get("client_id")
            .ok_or(OAuthError::request("client_id is missing"))?;
        match clients.client(id) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(OAuthError::request("Unknown client")),
            Err(_) => Err(OAuthError::server()),
        }
    }

    /// The checks whose errors may be redirected: response type, grant permission, PKCE,
    /// scope. Returns (granted scope, narrowed?, challenge).
    fn check_request(
        &self,
        params: &Params,
        client: &Client,
    ) -> Result<(ScopeSet, bool, Option<PkceChallenge>), OAuthError> {
        match params.get("response_type") {
            None => return Err(OAuthError::request("response_type is missing")),
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedResponseType,
                    "Only response_type=code is supported",
                ));
            }
        }
        if !client.allows_grant("authorization_code") {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "The client may not use the authorization code grant",
            ));
        }
        let challenge = self.check_pkce(params, client)?;
        let (scope, narrowed) = self.check_scope(params, client)?;
        Ok((scope, narrowed, challenge))
    }

    fn check_pkce(
        &self,
        params: &Params,
        client: &Client,
    ) -> Result<Option<PkceChallenge>, OAuthError> {
        let method = params.get("code_challenge_method");
        let Some(challenge) = params.get("code_challenge") else {
            let required = client.client_type == super::ClientType::Public
                || self.config.require_pkce_for_confidential;
            return if required || method.is_some() {
                Err(OAuthError::request("code_challenge is required"))
            } else {
                Ok(None)
            };
        };
        PkceChallenge::parse(challenge, method, self.config.allow_plain_pkce).map(Some)
    }

    fn check_scope(
        &self,
        params: &Params,
        client: &Client,
    ) -> Result<(ScopeSet, bool), OAuthError> {
        let text = match params.get("scope").or(self.config.default_scope.as_deref()) {
            Some(t) => t,
            None => return Err(OAuthError::scope("scope is required")),
        };
        let requested = self.parse_scope(text)?;
        let granted = intersect(requested, self.allowed(&client.allowed_scopes));
        if granted.is_empty() {
            return Err(OAuthError::scope(
                "None of the requested scopes may be granted",
            ));
        }
        Ok((granted, granted != requested))
    }

    /// The user approved (for `consented` scopes, if the consent screen let them narrow;
    /// `None` = everything asked): mints a code, stores it, and returns the redirect URL
    /// with `code` and `state`. On a store failure, redirect with
    /// [`OAuthServer::error_redirect`] and `server_error`.
    pub fn approve(
        &self,
        request: &AuthorizationRequest,
        subject: &str,
        consented: Option<ScopeSet>,
        codes: &dyn CodeStore,
        rng: &dyn RandomSource,
        now: Timestamp,
    ) -> Result<String, OAuthError> {
        let scope = consented.map_or(request.scope, |c| intersect(request.scope, c));
        if scope.is_empty() {
            return Err(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "No scope was approved",
            ));
        }
        if subject.is_empty() || subject.len() > 255 {
            return Err(OAuthError::request("The subject must be 1-255 bytes"));
        }
        let (code, hash) = opaque::mint(CODE_PREFIX, rng).map_err(|_| OAuthError::server())?;
        let record = CodeRecord {
            client_id: request.client.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_given: request.redirect_uri_given,
            challenge: request.challenge.clone(),
            subject: subject.to_owned(),
            scope: self.catalog.canonical(&scope),
            scope_narrowed: request.scope_narrowed || scope != request.scope,
            family: super::access::random_id(rng).map_err(|_| OAuthError::server())?,
            issued_at: now,
            expires_at: now.plus(self.config.effective_code_ttl()),
        };
        codes
            .put_code(hash, record)
            .map_err(|_| OAuthError::server())?;
        Ok(with_params(
            &request.redirect_uri,
            &[
                ("code", Some(code.expose())),
                ("state", request.state.as_deref()),
                ("iss", self.issuer()),
            ],
        ))
    }

    /// The user refused: the `access_denied` redirect URL.
    pub fn deny(&self, request: &AuthorizationRequest) -> String {
        self.error_redirect(
            request,
            OAuthError::new(OAuthErrorCode::AccessDenied, "The user denied the request"),
        )
    }

    /// The redirect URL carrying `error` for a validated request (e.g. `server_error`,
    /// `temporarily_unavailable`).
    pub fn error_redirect(&self, request: &AuthorizationRequest, error: OAuthError) -> String {
        error_location(
            &request.redirect_uri,
            request.state.as_deref(),
            self.issuer(),
            &error,
        )
    }

    /// The configured issuer identifier, sent as `iss` in authorization responses.
    fn issuer(&self) -> Option<&str> {
        self.config.issuer.as_ref().map(|i| i.as_str())
    }
}

fn show(description: &'static str) -> AuthorizeOutcome {
    AuthorizeOutcome::ShowError(OAuthError::request(description))
}

fn error_location(
    redirect_uri: &str,
    state: Option<&str>,
    issuer: Option<&str>,
    error: &OAuthError,
) -> String {
    with_params(
        redirect_uri,
        &[
            ("error", Some(error.code.as_str())),
            ("error_description", Some(error.description)),
            ("state", state),
            ("iss", issuer),
        ],
    )
}

/// The redirect URI to use: the requested one if registered, else the only registered
/// one when the request named none.
fn pick_redirect(client: &Client, requested: Option<&str>) -> Result<(String, bool), OAuthError> {
    match requested {
        Some(uri) => client
            .redirect_uris
            .iter()
            .any(|r| matches(r, uri, client.native))
            .then(|| (uri.to_owned(), true))
            .ok_or(OAuthError::request(
                "redirect_uri is not registered for this client",
            )),
        None => match client.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), false)),
            _ => Err(OAuthError::request("redirect_uri is required")),
        },
    }
}
