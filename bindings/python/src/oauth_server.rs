//! `OAuthServer` (the authorize, token, revocation and introspection endpoints),
//! `OAuthConfig`, `AuthorizeOutcome` and `TokenResponse`.
//!
//! Every endpoint copies its inputs and runs without the GIL; a host store's methods
//! re-acquire it (see `oauth_store`).

use crate::errors;
use crate::input;
use crate::oauth::PyAccessVerifier;
use crate::oauth_client::PyClient;
use crate::oauth_store::{ALL_METHODS, CLIENT_METHODS, CODE_METHODS, OwnedStore, oauth_error};
use crate::policy::PyPolicy;
use portcullis::oauth::{
    AuthorizationRequest, AuthorizeOutcome, EndpointRequest, Endpoints, Issuer, OAuthConfig,
    OAuthError, OAuthErrorCode, OAuthServer, TokenResponse,
};
use portcullis::scope::CatalogMismatch;
use portcullis::{OsRandom, Policy, SecretBytes, SecretString};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

/// The engine's knobs; the defaults are the secure profile (RFC 9700, OAuth 2.1).
/// Times are int seconds.
#[pyclass(
    frozen,
    eq,
    get_all,
    module = "portcullis._portcullis",
    name = "OAuthConfig"
)]
#[derive(Clone, PartialEq)]
pub struct PyOAuthConfig {
    /// Authorization-code lifetime (default 600; capped at 600).
    code_ttl: u64,
    /// Access-token lifetime (default 3600: one hour).
    access_ttl: u64,
    /// A refresh token unused this long expires (default 30 days).
    refresh_idle_ttl: u64,
    /// A grant family lives at most this long (default 90 days).
    refresh_max_ttl: u64,
    /// Seconds after rotation during which the previous refresh token may be redeemed
    /// once more without revoking the family; a further use is reuse (default 0).
    refresh_grace: u64,
    /// Accept `code_challenge_method=plain` (default False).
    allow_plain_pkce: bool,
    /// Require PKCE from confidential clients too (default True).
    require_pkce_for_confidential: bool,
    /// Accept `client_id`/`client_secret` in the body (default False: HTTP Basic only).
    allow_body_credentials: bool,
    /// Scopes granted when the request has none (default None: `invalid_scope`).
    default_scope: Option<String>,
    /// The issuer identifier (default None). When set, every authorization redirect
    /// carries it as `iss` (RFC 9207) and `OAuthServer.metadata` publishes it (RFC 8414).
    issuer: Option<String>,
}

impl PyOAuthConfig {
    fn to_core(&self) -> OAuthConfig {
        OAuthConfig {
            code_ttl: self.code_ttl,
            access_ttl: self.access_ttl,
            refresh_idle_ttl: self.refresh_idle_ttl,
            refresh_max_ttl: self.refresh_max_ttl,
            refresh_grace: self.refresh_grace,
            allow_plain_pkce: self.allow_plain_pkce,
            require_pkce_for_confidential: self.require_pkce_for_confidential,
            allow_body_credentials: self.allow_body_credentials,
            default_scope: self.default_scope.clone(),
            // Validated when the config was made.
            issuer: self.issuer.as_deref().and_then(|i| Issuer::new(i).ok()),
        }
    }

    pub(crate) fn from_core(c: &OAuthConfig) -> Self {
        PyOAuthConfig {
            code_ttl: c.code_ttl,
            access_ttl: c.access_ttl,
            refresh_idle_ttl: c.refresh_idle_ttl,
            refresh_max_ttl: c.refresh_max_ttl,
            refresh_grace: c.refresh_grace,
            allow_plain_pkce: c.allow_plain_pkce,
            require_pkce_for_confidential: c.require_pkce_for_confidential,
            allow_body_credentials: c.allow_body_credentials,
            default_scope: c.default_scope.clone(),
            issuer: c.issuer.as_ref().map(|i| i.as_str().to_owned()),
        }
    }
}

/// A valid issuer identifier, or `ConfigurationError` (code `bad_issuer`).
fn checked_issuer(py: Python<'_>, issuer: Option<String>) -> PyResult<Option<String>> {
    match issuer {
        Some(i) => match Issuer::new(&i) {
            Ok(_) => Ok(Some(i)),
            Err(e) => Err(errors::configuration(py, &e.to_string(), "bad_issuer")),
        },
        None => Ok(None),
    }
}

fn duration(v: Option<&Bound<'_, PyAny>>, what: &str, default: u64) -> PyResult<u64> {
    match v {
        Some(v) if !v.is_none() => input::seconds(v, what),
        _ => Ok(default),
    }
}

#[pymethods]
impl PyOAuthConfig {
    /// A configuration; every argument is keyword-only and defaults to the secure value.
    /// Durations: int seconds or `timedelta`. `issuer`: an `https` URL (`http` for a
    /// loopback host) without query or fragment, else `ConfigurationError`.
    #[new]
    #[pyo3(signature = (*, code_ttl=None, access_ttl=None, refresh_idle_ttl=None, refresh_max_ttl=None, refresh_grace=None, allow_plain_pkce=false, require_pkce_for_confidential=true, allow_body_credentials=false, default_scope=None, issuer=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        code_ttl: Option<&Bound<'_, PyAny>>,
        access_ttl: Option<&Bound<'_, PyAny>>,
        refresh_idle_ttl: Option<&Bound<'_, PyAny>>,
        refresh_max_ttl: Option<&Bound<'_, PyAny>>,
        refresh_grace: Option<&Bound<'_, PyAny>>,
        allow_plain_pkce: bool,
        require_pkce_for_confidential: bool,
        allow_body_credentials: bool,
        default_scope: Option<String>,
        issuer: Option<String>,
    ) -> PyResult<Self> {
        let d = OAuthConfig::default();
        let issuer = checked_issuer(py, issuer)?;
        let access_ttl = duration(access_ttl, "access_ttl", d.access_ttl)?;
        if access_ttl == 0 {
            return Err(PyValueError::new_err(
                "access_ttl must be at least 1 second",
            ));
        }
        Ok(PyOAuthConfig {
            code_ttl: duration(code_ttl, "code_ttl", d.code_ttl)?,
            access_ttl,
            refresh_idle_ttl: duration(refresh_idle_ttl, "refresh_idle_ttl", d.refresh_idle_ttl)?,
            refresh_max_ttl: duration(refresh_max_ttl, "refresh_max_ttl", d.refresh_max_ttl)?,
            refresh_grace: duration(refresh_grace, "refresh_grace", d.refresh_grace)?,
            allow_plain_pkce,
            require_pkce_for_confidential,
            allow_body_credentials,
            default_scope,
            issuer,
        })
    }

    /// The code lifetime actually used: `code_ttl` capped at ten minutes.
    #[getter]
    fn effective_code_ttl(&self) -> u64 {
        self.to_core().effective_code_ttl()
    }

    fn __repr__(&self) -> String {
        format!(
            "OAuthConfig(code_ttl={}, access_ttl={}, refresh_idle_ttl={}, refresh_max_ttl={}, refresh_grace={}, allow_plain_pkce={}, require_pkce_for_confidential={}, allow_body_credentials={}, default_scope={}, issuer={})",
            self.code_ttl,
            self.access_ttl,
            self.refresh_idle_ttl,
            self.refresh_max_ttl,
            self.refresh_grace,
            py_bool(self.allow_plain_pkce),
            py_bool(self.require_pkce_for_confidential),
            py_bool(self.allow_body_credentials),
            crate::py_opt(self.default_scope.as_deref()),
            crate::py_opt(self.issuer.as_deref()),
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// An HTTP response to send as is: `status`, `headers` (`Content-Type`,
/// `Cache-Control: no-store`, `Pragma: no-cache`, and `WWW-Authenticate` on a 401) and
/// the JSON `body`. The body may hold tokens: `repr` does not show it; do not log it.
#[pyclass(frozen, module = "portcullis._portcullis", name = "TokenResponse")]
pub struct PyTokenResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: SecretString,
}

impl PyTokenResponse {
    fn from_core(r: &TokenResponse) -> Self {
        PyTokenResponse {
            status: r.status,
            headers: r
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect(),
            body: SecretString::new(r.body().to_owned()),
        }
    }
}

#[pymethods]
impl PyTokenResponse {
    /// The HTTP status: 200, 400, 401, 500 or 503.
    #[getter]
    fn status(&self) -> u16 {
        self.status
    }

    /// Header `(name, value)` pairs, in order.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.headers.clone()
    }

    /// The JSON body text (may contain tokens).
    #[getter]
    fn body(&self) -> &str {
        self.body.expose()
    }

    /// A header's value (name case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The body, parsed.
    fn json(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py
            .import("json")?
            .call_method1("loads", (self.body.expose(),))?
            .unbind())
    }

    fn __repr__(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("({}, {})", crate::py_str(n), crate::py_str(v)))
            .collect();
        format!(
            "TokenResponse(status={}, headers=[{}], body=[REDACTED])",
            self.status,
            headers.join(", ")
        )
    }
}

/// The outcome of validating an authorization request. `kind`:
///
/// - `"valid"`: authenticate the user, show the consent screen (`client_id`,
///   `scopes`), then call `OAuthServer.approve` or `OAuthServer.deny` with this object;
/// - `"redirect"`: the request is bad but the client is trusted: redirect (302) to
///   `location` (it carries `error` and the `state`);
/// - `"show_error"`: the client or redirect URI cannot be trusted: show `error` and
///   `description` on a 400 page and do **not** redirect.
#[pyclass(frozen, module = "portcullis._portcullis", name = "AuthorizeOutcome")]
pub struct PyAuthorizeOutcome {
    kind: &'static str,
    error: Option<OAuthError>,
    location: Option<String>,
    request: Option<AuthorizationRequest>,
    policy: Arc<Policy>,
}

impl PyAuthorizeOutcome {
    fn request(&self) -> PyResult<&AuthorizationRequest> {
        self.request.as_ref().ok_or_else(|| {
            PyValueError::new_err(format!(
                "only a \"valid\" AuthorizeOutcome can be approved or denied (this one is {:?})",
                self.kind
            ))
        })
    }
}

#[pymethods]
impl PyAuthorizeOutcome {
    /// `"valid"`, `"redirect"` or `"show_error"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }
    /// The OAuth error code (`invalid_request`, …), unless valid.
    #[getter]
    fn error(&self) -> Option<&'static str> {
        self.error.map(|e| e.code.as_str())
    }
    /// The error's description (safe to show), unless valid.
    #[getter]
    fn description(&self) -> Option<&'static str> {
        self.error.map(|e| e.description)
    }
    /// Where to redirect, for `"redirect"`.
    #[getter]
    fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
    /// The requesting client's id, for `"valid"`.
    #[getter]
    fn client_id(&self) -> Option<&str> {
        self.request.as_ref().map(|r| r.client.id.as_str())
    }
    /// The requesting client, for `"valid"`.
    #[getter]
    fn client(&self) -> Option<PyClient> {
        self.request.as_ref().map(|r| PyClient {
            inner: r.client.clone(),
        })
    }
    /// Where the answer goes, for `"valid"`.
    #[getter]
    fn redirect_uri(&self) -> Option<&str> {
        self.request.as_ref().map(|r| r.redirect_uri.as_str())
    }
    /// The client's `state`, for `"valid"`.
    #[getter]
    fn state(&self) -> Option<&str> {
        self.request.as_ref().and_then(|r| r.state.as_deref())
    }
    /// The scopes to ask consent for (requested ∩ client-allowed, implications
    /// expanded), in catalog order; empty unless valid.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.request.as_ref().map_or_else(Vec::new, |r| {
            self.policy
                .catalog()
                .names(&r.scope)
                .map(str::to_owned)
                .collect()
        })
    }
    /// Whether `scopes` is narrower than what the client asked for.
    #[getter]
    fn scope_narrowed(&self) -> bool {
        self.request.as_ref().is_some_and(|r| r.scope_narrowed)
    }
    /// The PKCE challenge method (`"S256"`/`"plain"`), if the request had one.
    #[getter]
    fn code_challenge_method(&self) -> Option<&'static str> {
        self.request
            .as_ref()
            .and_then(|r| r.challenge.as_ref())
            .map(|c| c.method.as_str())
    }

    fn __repr__(&self) -> String {
        match &self.request {
            Some(r) => format!(
                "AuthorizeOutcome(kind='valid', client_id={}, redirect_uri={}, scopes={})",
                crate::py_str(&r.client.id),
                crate::py_str(&r.redirect_uri),
                crate::py_list(&self.scopes()),
            ),
            None => format!(
                "AuthorizeOutcome(kind={}, error={})",
                crate::py_str(self.kind),
                crate::py_opt(self.error()),
            ),
        }
    }
}

/// The OAuth 2.0 authorization server engine for one policy's scope catalog, signing
/// with the verifier's keys. Immutable; share one instance between threads.
#[pyclass(frozen, module = "portcullis._portcullis", name = "OAuthServer")]
pub struct PyOAuthServer {
    inner: Arc<OAuthServer>,
    policy: Arc<Policy>,
}

/// An optional header value as bytes (`str`, `bytes` or `None`).
fn opt_bytes(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<SecretBytes>> {
    match value {
        Some(v) if !v.is_none() => Ok(Some(SecretBytes::new(input::bytes_of(v, what)?))),
        _ => Ok(None),
    }
}

/// The error of an error redirect the host asks for: an authorization-endpoint code
/// (RFC 6749 §4.1.2.1) with the core's generic description.
fn redirect_error(py: Python<'_>, code: &str) -> PyResult<OAuthError> {
    match OAuthErrorCode::parse(code).filter(OAuthErrorCode::is_authorization_error) {
        Some(code) => Ok(OAuthError::of(code)),
        None => Err(errors::raise(
            py,
            "OAuthError",
            (
                format!("error_redirect cannot send {}", crate::py_str(code)),
                "invalid_request",
                "unsupported error code",
            ),
        )),
    }
}

/// The core's refusal of a verifier built for another scope catalog, as
/// `ConfigurationError` with its message and code (`catalog_mismatch`).
pub(crate) fn catalog_mismatch(py: Python<'_>, e: CatalogMismatch) -> PyErr {
    errors::configuration(py, &e.to_string(), e.code())
}

#[pymethods]
impl PyOAuthServer {
    /// An engine for `policy`'s scope catalog, signing with `verifier`'s keys and
    /// pushing revoked families into its revocation set. `realm` (for
    /// `WWW-Authenticate`) defaults to the policy's. `issuer` (RFC 8414 issuer
    /// identifier) replaces `config.issuer` when given: it enables `iss` in authorization
    /// responses (RFC 9207) and `metadata`.
    #[new]
    #[pyo3(signature = (policy, verifier, config=None, *, realm=None, issuer=None))]
    fn new(
        py: Python<'_>,
        policy: &PyPolicy,
        verifier: &PyAccessVerifier,
        config: Option<&PyOAuthConfig>,
        realm: Option<&str>,
        issuer: Option<String>,
    ) -> PyResult<Self> {
        let issuer = checked_issuer(py, issuer)?;
        // No config: the policy's `[oauth]` section (secure defaults where it is silent).
        let mut config =
            config.map_or_else(|| policy.inner.oauth().clone(), PyOAuthConfig::to_core);
        if let Some(issuer) = issuer {
            config.issuer = Issuer::new(&issuer).ok();
        }
        let realm = realm.unwrap_or_else(|| policy.inner.realm());
        let server = OAuthServer::new(
            config,
            policy.inner.catalog().clone(),
            verifier.inner.clone(),
            realm,
        )
        .map_err(|e| catalog_mismatch(py, e))?;
        Ok(PyOAuthServer {
            inner: Arc::new(server),
            policy: policy.inner.clone(),
        })
    }

    /// The configuration.
    #[getter]
    fn config(&self) -> PyOAuthConfig {
        PyOAuthConfig::from_core(self.inner.config())
    }

    /// The authorization-server metadata document (RFC 8414 §2) as JSON text: serve it
    /// at `GET /.well-known/oauth-authorization-server` with `Content-Type:
    /// application/json`, without authentication. Built from the configuration (auth
    /// methods, PKCE methods, the catalog's scopes); the endpoints are the absolute URLs
    /// where the host serves them (`https`, `http` for a loopback host). Raises
    /// `ConfigurationError` (`no_issuer` without an issuer, `bad_endpoint` for a URL
    /// that is not acceptable).
    #[pyo3(signature = (*, authorization_endpoint, token_endpoint, revocation_endpoint=None, introspection_endpoint=None))]
    fn metadata(
        &self,
        py: Python<'_>,
        authorization_endpoint: &str,
        token_endpoint: &str,
        revocation_endpoint: Option<&str>,
        introspection_endpoint: Option<&str>,
    ) -> PyResult<String> {
        let endpoints = Endpoints {
            authorization: authorization_endpoint,
            token: token_endpoint,
            revocation: revocation_endpoint,
            introspection: introspection_endpoint,
        };
        self.inner
            .metadata(&endpoints)
            .map_err(|e| errors::configuration(py, &e.to_string(), e.code()))
    }

    /// Validates an authorization request's query string (`str` or `bytes`; a leading
    /// `?` is ignored). `store`: a `MemoryOAuthStore`, a `Store` or an object with `client(id)`.
    fn authorize(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
    ) -> PyResult<PyAuthorizeOutcome> {
        // The query may carry a code challenge or state: wiped when dropped.
        let query = SecretBytes::new(input::bytes_of(query, "query")?);
        let store = OwnedStore::of(store, CLIENT_METHODS)?;
        let server: &OAuthServer = &self.inner;
        let host = &store;
        let outcome =
            py.detach(move || server.authorize_bytes(query.expose(), host.stores().clients));
        store.reraise()?;
        let policy = self.policy.clone();
        Ok(match outcome {
            AuthorizeOutcome::Valid(request) => PyAuthorizeOutcome {
                kind: crate::codes::KIND_VALID,
                error: None,
                location: None,
                request: Some(request),
                policy,
            },
            AuthorizeOutcome::Redirect { error, location } => PyAuthorizeOutcome {
                kind: crate::codes::KIND_REDIRECT,
                error: Some(error),
                location: Some(location),
                request: None,
                policy,
            },
            AuthorizeOutcome::ShowError(error) => PyAuthorizeOutcome {
                kind: crate::codes::KIND_SHOW_ERROR,
                error: Some(error),
                location: None,
                request: None,
                policy,
            },
        })
    }

    /// The user approved a `"valid"` request: mints a code, stores it (`put_code`), and
    /// returns the redirect URL with `code` and `state`. `scopes`: what the user
    /// consented to, if the consent screen let them narrow (default: everything asked).
    /// Raises `OAuthError` (`access_denied` when no scope is left, `invalid_request` for
    /// a bad subject, `server_error` when the store failed: then redirect to
    /// `error_redirect(outcome, "server_error")`).
    #[pyo3(signature = (outcome, subject, store, *, scopes=None, now=None))]
    fn approve(
        &self,
        py: Python<'_>,
        outcome: &PyAuthorizeOutcome,
        subject: &str,
        store: &Bound<'_, PyAny>,
        scopes: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let request = outcome.request()?;
        let consented = match scopes {
            Some(s) if !s.is_none() => {
                let names = input::strings(s, "scopes")?;
                if names.is_empty() {
                    None
                } else {
                    let set = self
                        .inner
                        .parse_scope(&names.join(" "))
                        .map_err(|e| oauth_error(py, &e))?;
                    Some(set)
                }
            }
            _ => None,
        };
        if scopes.is_some_and(|s| !s.is_none()) && consented.is_none() {
            return Err(oauth_error(
                py,
                &OAuthError::new(OAuthErrorCode::AccessDenied, "No scope was approved"),
            ));
        }
        let store = OwnedStore::of(store, CODE_METHODS)?;
        let now = input::timestamp(now, "now")?;
        let server: &OAuthServer = &self.inner;
        let subject = subject.to_owned();
        let host = &store;
        let location = py.detach(move || {
            server.approve(
                request,
                &subject,
                consented,
                host.stores().codes,
                &OsRandom::new(),
                now,
            )
        });
        store.reraise()?;
        location.map_err(|e| oauth_error(py, &e))
    }

    /// The user refused a `"valid"` request: the `access_denied` redirect URL.
    fn deny(&self, outcome: &PyAuthorizeOutcome) -> PyResult<String> {
        Ok(self.inner.deny(outcome.request()?))
    }

    /// The redirect URL carrying `error`, an authorization error code of RFC 6749
    /// §4.1.2.1 (`access_denied`, `server_error`, `temporarily_unavailable`,
    /// `invalid_request`, `invalid_scope`, `unauthorized_client`,
    /// `unsupported_response_type`), for a `"valid"` request.
    fn error_redirect(
        &self,
        py: Python<'_>,
        outcome: &PyAuthorizeOutcome,
        error: &str,
    ) -> PyResult<String> {
        let request = outcome.request()?;
        Ok(self
            .inner
            .error_redirect(request, redirect_error(py, error)?))
    }

    /// The token endpoint (`POST /oauth/token`): `authorization` is the request's
    /// `Authorization` header (or `None`), `body` its urlencoded body. Send the
    /// `TokenResponse` back as is.
    #[pyo3(signature = (authorization, body, store, *, now=None))]
    fn token(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        self.endpoint(py, Endpoint::Token, authorization, None, body, store, now)
    }

    /// The revocation endpoint (RFC 7009): revokes the token's whole grant family; 200
    /// for unknown, expired or revoked tokens too; 400 `unauthorized_client` for a token
    /// issued to another client, which is left alone.
    #[pyo3(signature = (authorization, body, store, *, now=None))]
    fn revoke(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        self.endpoint(py, Endpoint::Revoke, authorization, None, body, store, now)
    }

    /// The introspection endpoint (RFC 7662): `{"active": true, …}` for a live token of
    /// the authenticated client, otherwise `{"active": false}`. The caller must be a
    /// confidential client authenticating with its secret: a public client (a
    /// `client_id` alone) gets 401 `invalid_client`.
    #[pyo3(signature = (authorization, body, store, *, now=None))]
    fn introspect(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        self.endpoint(
            py,
            Endpoint::Introspect,
            authorization,
            None,
            body,
            store,
            now,
        )
    }

    /// The token endpoint for a request as received: the `Authorization` and
    /// `Content-Type` headers (`str`, `bytes` or `None` when absent) and the body (`str`
    /// or `bytes`, any bytes). The body is read by its type: form
    /// (`application/x-www-form-urlencoded`) or JSON (`application/json`: one object of
    /// string values). Another type, no type, a body over 64 KiB or not UTF-8, nested
    /// or non-string JSON values, a repeated member, or a JSON body sent as form (or the
    /// reverse) is a 400 `invalid_request` response saying what to send, and leaves the
    /// code unused.
    #[pyo3(signature = (authorization, content_type, body, store, *, now=None))]
    fn token_request(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        content_type: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        let ct = Some(content_type);
        self.endpoint(py, Endpoint::Token, authorization, ct, body, store, now)
    }

    /// The revocation endpoint (RFC 7009) for a request as received; arguments and body
    /// types as for `token_request`, answers as `revoke`.
    #[pyo3(signature = (authorization, content_type, body, store, *, now=None))]
    fn revoke_request(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        content_type: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        let ct = Some(content_type);
        self.endpoint(py, Endpoint::Revoke, authorization, ct, body, store, now)
    }

    /// The introspection endpoint (RFC 7662) for a request as received; arguments and
    /// body types as for `token_request`, answers as `introspect`.
    #[pyo3(signature = (authorization, content_type, body, store, *, now=None))]
    fn introspect_request(
        &self,
        py: Python<'_>,
        authorization: Option<&Bound<'_, PyAny>>,
        content_type: Option<&Bound<'_, PyAny>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        let ct = Some(content_type);
        self.endpoint(
            py,
            Endpoint::Introspect,
            authorization,
            ct,
            body,
            store,
            now,
        )
    }

    /// Revokes a grant family everywhere: the store's refresh tokens and the verifier's
    /// access tokens (e.g. when the user withdraws consent).
    #[pyo3(signature = (family, store, *, now=None))]
    fn revoke_family(
        &self,
        py: Python<'_>,
        family: &str,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let family = input::key_id(py, family)?;
        let store = OwnedStore::of(store, ALL_METHODS)?;
        let now = input::timestamp(now, "now")?;
        let server: &OAuthServer = &self.inner;
        let host = &store;
        py.detach(move || server.revoke_family(&family, host.stores(), now));
        store.reraise()
    }

    fn __repr__(&self) -> String {
        format!(
            "OAuthServer(realm={}, access_ttl={})",
            crate::py_str(self.policy.realm()),
            self.inner.config().access_ttl
        )
    }
}

/// The endpoints that answer with a `TokenResponse`.
#[derive(Clone, Copy)]
enum Endpoint {
    Token,
    Revoke,
    Introspect,
}

impl PyOAuthServer {
    /// Answers one POST endpoint; `content_type` `None` stands for the form-only methods
    /// (`token`, `revoke`, `introspect`), which send the form type.
    #[allow(clippy::too_many_arguments)]
    fn endpoint(
        &self,
        py: Python<'_>,
        which: Endpoint,
        authorization: Option<&Bound<'_, PyAny>>,
        content_type: Option<Option<&Bound<'_, PyAny>>>,
        body: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTokenResponse> {
        let authorization = opt_bytes(authorization, "authorization")?;
        let content_type = match content_type {
            None => Some(b"application/x-www-form-urlencoded".to_vec()),
            Some(value) => opt_bytes(value, "content_type")?.map(|b| b.expose().to_vec()),
        };
        // Bytes as received: the core decides once what is not UTF-8.
        let body = SecretBytes::new(input::bytes_of(body, "body")?);
        let store = OwnedStore::of(store, ALL_METHODS)?;
        let now = input::timestamp(now, "now")?;
        let server: &OAuthServer = &self.inner;
        let host = &store;
        let response = py.detach(move || {
            let request = EndpointRequest {
                authorization: authorization.as_ref().map(SecretBytes::expose),
                content_type: content_type.as_deref(),
                body: body.expose(),
            };
            let stores = host.stores();
            match which {
                Endpoint::Token => server.token_request(&request, stores, &OsRandom::new(), now),
                Endpoint::Revoke => server.revoke_request(&request, stores, now),
                Endpoint::Introspect => server.introspect_request(&request, stores, now),
            }
        });
        store.reraise()?;
        Ok(PyTokenResponse::from_core(&response))
    }
}
