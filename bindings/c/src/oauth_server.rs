//! `portcullis_oauth_server`: the OAuth 2.0 engine (configuration, catalog, access-token
//! keys) and its endpoints: authorize (+ approve / deny), token, revoke, introspect.

use crate::checker::write_owned;
use crate::ffi::{
    Failure, FfiResult, array, borrow, bytes, free_handle, guard, into_handle, optional_bytes,
    optional_text, out_ptr, read, text,
};
use crate::oauth_access::{catalog_mismatch, family_id, portcullis_access_verifier};
use crate::oauth_store::portcullis_oauth_store;
use crate::policy::portcullis_policy;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::oauth::{
    AuthorizeOutcome, EndpointRequest, OAuthConfig, OAuthError, OAuthServer, Stores, TokenResponse,
};
use core_lib::{OsRandom, Timestamp};
use std::ffi::c_char;
use std::sync::Arc;

/// The engine's knobs. Get the secure defaults from `portcullis_oauth_config_default`, or
/// a policy's `[oauth]` settings from `portcullis_oauth_config_from_policy`, then change
/// fields.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_config {
    /// Authorization-code lifetime in seconds (default 600; capped at 600).
    pub code_ttl: u64,
    /// Access-token lifetime in seconds (default 3600).
    pub access_ttl: u64,
    /// A refresh token unused this long expires (default 30 days).
    pub refresh_idle_ttl: u64,
    /// A grant family lives at most this long (default 90 days).
    pub refresh_max_ttl: u64,
    /// Seconds after rotation during which the previous refresh token may be redeemed
    /// once more without revoking the family; a further use is reuse (default 0).
    pub refresh_grace: u64,
    /// Accept `code_challenge_method=plain` (default false).
    pub allow_plain_pkce: bool,
    /// Require PKCE from confidential clients too (default true).
    pub require_pkce_for_confidential: bool,
    /// Accept `client_id` / `client_secret` in the body (default false: HTTP Basic).
    pub allow_body_credentials: bool,
    /// Scopes granted when an authorization request has no `scope` (UTF-8; NULL, the
    /// default, refuses such requests with `invalid_scope`). Read during
    /// `portcullis_oauth_server_new` only.
    pub default_scope: portcullis_str,
    /// The issuer identifier (UTF-8; an `https` URL, `http` only for a loopback host,
    /// without query or fragment). When set, every authorization redirect carries it as
    /// `iss` (RFC 9207) and `portcullis_oauth_server_metadata` publishes it (RFC 8414).
    /// NULL, the default: no `iss`, no metadata. Read during `portcullis_oauth_server_new`
    /// only; an invalid one fails it with `PORTCULLIS_INVALID_ARGUMENT`.
    pub issuer: portcullis_str,
}

/// The secure defaults (RFC 9700 / OAuth 2.1 profile). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_oauth_config_default() -> portcullis_oauth_config {
    let d = OAuthConfig::default();
    portcullis_oauth_config {
        code_ttl: d.code_ttl,
        access_ttl: d.access_ttl,
        refresh_idle_ttl: d.refresh_idle_ttl,
        refresh_max_ttl: d.refresh_max_ttl,
        refresh_grace: d.refresh_grace,
        allow_plain_pkce: d.allow_plain_pkce,
        require_pkce_for_confidential: d.require_pkce_for_confidential,
        allow_body_credentials: d.allow_body_credentials,
        default_scope: portcullis_str::NONE,
        issuer: portcullis_str::NONE,
    }
}

/// Decodes a configuration.
///
/// # Safety
/// `default_scope` and `issuer` are NULL or readable.
unsafe fn config(c: &portcullis_oauth_config) -> FfiResult<OAuthConfig> {
    // SAFETY: forwarded contract.
    let default_scope = unsafe { optional_text(c.default_scope.data, c.default_scope.len) }?;
    // SAFETY: forwarded contract.
    let issuer = unsafe { optional_text(c.issuer.data, c.issuer.len) }?
        .map(crate::oauth_metadata::issuer)
        .transpose()?;
    Ok(OAuthConfig {
        code_ttl: c.code_ttl,
        access_ttl: c.access_ttl,
        refresh_idle_ttl: c.refresh_idle_ttl,
        refresh_max_ttl: c.refresh_max_ttl,
        refresh_grace: c.refresh_grace,
        allow_plain_pkce: c.allow_plain_pkce,
        require_pkce_for_confidential: c.require_pkce_for_confidential,
        allow_body_credentials: c.allow_body_credentials,
        default_scope: default_scope.map(str::to_owned),
        issuer,
    })
}

/// The OAuth engine. Immutable: every endpoint may be called from any number of threads
/// at once (as far as the store's callbacks allow). Signs access tokens with its
/// verifier's primary key and pushes revoked families into that verifier.
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_server {
    pub(crate) inner: Arc<OAuthServer>,
    rng: OsRandom,
}

/// Makes an engine for the catalog of `policy`, signing with `verifier` (shared: give the
/// same verifier to `portcullis_checker_new_with_access_tokens`), answering `invalid_client`
/// with `WWW-Authenticate: Basic realm="<realm>"`. Random values come from the OS.
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the verifier was made for another catalog, or the
/// configuration's issuer is not a valid issuer identifier).
///
/// `config` NULL takes the policy's `[oauth]` section (`allow_body_credentials`, lifetimes,
/// PKCE switches; every setting it leaves out keeps `portcullis_oauth_config_default`).
///
/// # Safety
/// `config` NULL or live; `policy`, `verifier` live; `realm` readable; `server_out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_server_new(
    config: *const portcullis_oauth_config,
    policy: *const portcullis_policy,
    verifier: *const portcullis_access_verifier,
    realm: *const c_char,
    realm_len: usize,
    server_out: *mut *mut portcullis_oauth_server,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(server_out)?;
        // SAFETY: live / readable (contract).
        let (policy, v, realm) = unsafe {
            (
                borrow::<portcullis_policy>(policy)?,
                borrow(verifier)?,
                text(realm, realm_len)?,
            )
        };
        // NULL: the policy's `[oauth]` section (the secure defaults where it is silent).
        let config = match config.is_null() {
            true => policy.policy.oauth().clone(),
            // SAFETY: non-NULL, so live (contract).
            false => unsafe { self::config(borrow(config)?)? },
        };
        let catalog = policy.policy.catalog().clone();
        let server =
            OAuthServer::new(config, catalog, v.inner.clone(), realm).map_err(catalog_mismatch)?;
        let inner = Arc::new(server);
        let handle = portcullis_oauth_server {
            inner,
            rng: OsRandom::new(),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Frees a server. NULL is a no-op. Authorization requests made by it stay valid.
///
/// # Safety
/// `server` is NULL or a server not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_server_free(server: *mut portcullis_oauth_server) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(server) }
}

/// What `portcullis_oauth_authorize` concluded.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum portcullis_oauth_authorize_kind {
    /// Valid: authenticate the user, ask consent, then `portcullis_oauth_approve` or
    /// `portcullis_oauth_deny`.
    PORTCULLIS_AUTHORIZE_VALID = 0,
    /// Invalid and safe to tell the client: answer 302 to `portcullis_authorization_location`.
    PORTCULLIS_AUTHORIZE_REDIRECT = 1,
    /// The client or redirect URI cannot be trusted: show the error (400), do not redirect.
    PORTCULLIS_AUTHORIZE_SHOW_ERROR = 2,
}

/// A validated (or refused) authorization request. Immutable: safe to read from several
/// threads at once. Strings it returns borrow from it.
#[allow(non_camel_case_types)]
pub struct portcullis_authorization {
    server: Arc<OAuthServer>,
    outcome: AuthorizeOutcome,
}

/// Validates an authorization request's query string (`query_len` bytes, as received; a
/// leading `?` is ignored), finding the client in `store`. Writes the outcome to
/// `*authorization_out` (also for refusals: that is data, not an error); a query that is
/// not UTF-8 is `PORTCULLIS_AUTHORIZE_SHOW_ERROR` (`invalid_request`, answer 400). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_LENGTH`.
///
/// # Safety
/// `server`, `store` live; `query` readable; `authorization_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_authorize(
    server: *const portcullis_oauth_server,
    query: *const c_char,
    query_len: usize,
    store: *const portcullis_oauth_store,
    authorization_out: *mut *mut portcullis_authorization,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(authorization_out)?;
        // SAFETY: live / readable (contract).
        let (server, query, store) =
            unsafe { (borrow(server)?, bytes(query, query_len)?, borrow(store)?) };
        let outcome = server.inner.authorize_bytes(query, store.stores().clients);
        let handle = portcullis_authorization {
            server: server.inner.clone(),
            outcome,
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

impl portcullis_authorization {
    fn error(&self) -> Option<&OAuthError> {
        match &self.outcome {
            AuthorizeOutcome::Valid(_) => None,
            AuthorizeOutcome::Redirect { error, .. } | AuthorizeOutcome::ShowError(error) => {
                Some(error)
            }
        }
    }

    fn valid(&self) -> FfiResult<&core_lib::oauth::AuthorizationRequest> {
        match &self.outcome {
            AuthorizeOutcome::Valid(r) => Ok(r),
            _ => Err(Failure::new(
                R::PORTCULLIS_INVALID_ARGUMENT,
                "the authorization request is not valid",
            )),
        }
    }
}

/// The outcome's kind (`PORTCULLIS_AUTHORIZE_SHOW_ERROR` for NULL).
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_kind(
    authorization: *const portcullis_authorization,
) -> portcullis_oauth_authorize_kind {
    use portcullis_oauth_authorize_kind as K;
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, K::PORTCULLIS_AUTHORIZE_SHOW_ERROR, |a| {
            Some(match a.outcome {
                AuthorizeOutcome::Valid(_) => K::PORTCULLIS_AUTHORIZE_VALID,
                AuthorizeOutcome::Redirect { .. } => K::PORTCULLIS_AUTHORIZE_REDIRECT,
                AuthorizeOutcome::ShowError(_) => K::PORTCULLIS_AUTHORIZE_SHOW_ERROR,
            })
        })
    }
}

/// The OAuth error code (`invalid_request`, …) of a refused request; absent when valid.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_error(
    authorization: *const portcullis_authorization,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| {
            Some(portcullis_str::of(a.error()?.code.as_str()))
        })
    }
}

/// The error's description, safe to show (never contains input); absent when valid.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_error_description(
    authorization: *const portcullis_authorization,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| {
            Some(portcullis_str::of(a.error()?.description))
        })
    }
}

/// Where to redirect (302) for `PORTCULLIS_AUTHORIZE_REDIRECT`; absent otherwise.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_location(
    authorization: *const portcullis_authorization,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| match &a.outcome {
            AuthorizeOutcome::Redirect { location, .. } => Some(portcullis_str::of(location)),
            _ => None,
        })
    }
}

/// The client id of a valid request (for the consent screen); absent otherwise.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_client_id(
    authorization: *const portcullis_authorization,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| {
            Some(portcullis_str::of(&a.valid().ok()?.client.id))
        })
    }
}

/// The client's `state` of a valid request; absent when it sent none or not valid.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_state(
    authorization: *const portcullis_authorization,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| {
            Some(portcullis_str::of(a.valid().ok()?.state.as_deref()?))
        })
    }
}

/// The redirect URI of a valid request; absent otherwise.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_redirect_uri(
    authorization: *const portcullis_authorization,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| {
            Some(portcullis_str::of(&a.valid().ok()?.redirect_uri))
        })
    }
}

/// How many scopes a valid request asks consent for (0 otherwise).
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_scopes_len(
    authorization: *const portcullis_authorization,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(authorization, 0, |a| Some(a.valid().ok()?.scope.len())) }
}

/// The scope at `index` (catalog order) a valid request asks consent for; absent when
/// out of range.
///
/// # Safety
/// `authorization` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_scope(
    authorization: *const portcullis_authorization,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(authorization, portcullis_str::NONE, |a| {
            let scope = &a.valid().ok()?.scope;
            Some(portcullis_str::of(
                a.server.catalog().names(scope).nth(index)?,
            ))
        })
    }
}

/// Frees an authorization. NULL is a no-op.
///
/// # Safety
/// `authorization` is NULL or not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_authorization_free(
    authorization: *mut portcullis_authorization,
) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(authorization) }
}

/// The user approved a valid request as `subject` (1-255 bytes, UTF-8), for the
/// `consented` scope names (a subset of what was asked, implications expanded; NULL with
/// `consented_len` 0 = everything asked). Mints a code, stores it, and writes the
/// redirect URL with `code` and `state` to `*location_out` (library-owned, holds the
/// code: free with `portcullis_string_free`; length to `*len_out`, may be NULL). Answer
/// 302 to it. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the request is not valid), `PORTCULLIS_ISSUE_UNKNOWN_SCOPE`,
/// and the OAuth refusals `PORTCULLIS_OAUTH_ACCESS_DENIED` (no scope left),
/// `PORTCULLIS_OAUTH_INVALID_REQUEST` (bad subject), `PORTCULLIS_OAUTH_SERVER_ERROR` (the
/// store failed): redirect with `portcullis_oauth_error_redirect` and that code.
///
/// # Safety
/// `server`, `authorization`, `store` live; `subject` readable; `consented` readable for
/// `consented_len` strings; `location_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_approve(
    server: *const portcullis_oauth_server,
    authorization: *const portcullis_authorization,
    subject: *const c_char,
    subject_len: usize,
    consented: *const portcullis_str,
    consented_len: usize,
    store: *const portcullis_oauth_store,
    now: u64,
    location_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(location_out)?;
        // SAFETY: live / readable (contract).
        let (server, a, subject, store) = unsafe {
            (
                borrow(server)?,
                borrow(authorization)?,
                text(subject, subject_len)?,
                borrow(store)?,
            )
        };
        // SAFETY: readable (contract).
        let consented = unsafe { consent(&server.inner, consented, consented_len) }?;
        let location = server
            .inner
            .approve(
                a.valid()?,
                subject,
                consented,
                store.stores().codes,
                &server.rng,
                Timestamp(now),
            )
            .map_err(|e| Failure::new(R::from(e.code), e.to_string()))?;
        // SAFETY: forwarded contract.
        unsafe { write_owned(out, len_out, location) }
    })
}

/// The consented scope set; `None` when no list was given.
///
/// # Safety
/// `p` readable for `n` strings (NULL only with `n == 0`).
unsafe fn consent(
    server: &OAuthServer,
    p: *const portcullis_str,
    n: usize,
) -> FfiResult<Option<core_lib::ScopeSet>> {
    if p.is_null() && n == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    let names: Vec<&str> = unsafe { array(p, n) }?
        .iter()
        // SAFETY: as above.
        .map(|s| unsafe { text(s.data, s.len) })
        .collect::<FfiResult<_>>()?;
    if let Some(bad) = server.catalog().unknown(&names).first() {
        return Err(Failure::new(
            R::PORTCULLIS_ISSUE_UNKNOWN_SCOPE,
            format!("unknown scope {bad:?}"),
        ));
    }
    Ok(Some(server.catalog().grant(&names).set))
}

/// The user refused: writes the `access_denied` redirect URL (output as for
/// `portcullis_oauth_approve`). Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the request is not valid).
///
/// # Safety
/// `server`, `authorization` live; `location_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_deny(
    server: *const portcullis_oauth_server,
    authorization: *const portcullis_authorization,
    location_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(location_out)?;
        // SAFETY: live (contract).
        let (server, a) = unsafe { (borrow(server)?, borrow(authorization)?) };
        let location = server.inner.deny(a.valid()?);
        // SAFETY: forwarded contract.
        unsafe { write_owned(out, len_out, location) }
    })
}

/// Writes the redirect URL carrying the OAuth error `error` (a `PORTCULLIS_OAUTH_*` code,
/// e.g. what `portcullis_oauth_approve` returned, or `PORTCULLIS_OAUTH_SERVER_ERROR`) for
/// a valid request; output as for `portcullis_oauth_approve`. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (not a valid request, or
/// `error` is not a code an authorization error may carry, RFC 6749 §4.1.2.1: not
/// `invalid_grant`, `invalid_client`, …).
///
/// # Safety
/// `server`, `authorization` live; `location_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_error_redirect(
    server: *const portcullis_oauth_server,
    authorization: *const portcullis_authorization,
    error: u32,
    location_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(location_out)?;
        // SAFETY: live (contract).
        let (server, a) = unsafe { (borrow(server)?, borrow(authorization)?) };
        let code = oauth_code(error)?;
        if !code.is_authorization_error() {
            return Err(Failure::new(
                R::PORTCULLIS_INVALID_ARGUMENT,
                "not an authorization error code (RFC 6749 4.1.2.1)",
            ));
        }
        let location = server
            .inner
            .error_redirect(a.valid()?, OAuthError::of(code));
        // SAFETY: forwarded contract.
        unsafe { write_owned(out, len_out, location) }
    })
}

/// Writes the token-endpoint response (RFC 6749 §5.2: JSON body, `Cache-Control:
/// no-store`; 401 with `WWW-Authenticate` for `invalid_client`) for an OAuth error the host
/// found itself, before the engine could read the request: typically
/// `PORTCULLIS_OAUTH_INVALID_REQUEST` after `portcullis_oauth_token` answered
/// `PORTCULLIS_INVALID_UTF8`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (`error` is not an OAuth code).
///
/// # Safety
/// `server` live; `response_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_error_response(
    server: *const portcullis_oauth_server,
    error: u32,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(response_out)?;
        // SAFETY: live (contract).
        let server = unsafe { borrow(server)? };
        let code = oauth_code(error)?;
        let inner = server.inner.error_response(OAuthError::of(code));
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_token_response { inner })) };
        Ok(())
    })
}

/// The OAuth error code a `PORTCULLIS_OAUTH_*` result stands for.
fn oauth_code(error: u32) -> FfiResult<core_lib::oauth::OAuthErrorCode> {
    R::from_u32(error)
        .and_then(R::oauth_code)
        .ok_or_else(|| Failure::new(R::PORTCULLIS_INVALID_ARGUMENT, "not an OAuth error code"))
}

/// An HTTP response to send as is: status, headers (always `Content-Type:
/// application/json`, `Cache-Control: no-store`, `Pragma: no-cache`; plus
/// `WWW-Authenticate` for 401), JSON body. The body may hold tokens: send it, never log
/// it; it is zeroized when the response is freed. Immutable: safe to read from several
/// threads at once. Strings it returns borrow from it.
#[allow(non_camel_case_types)]
pub struct portcullis_token_response {
    inner: TokenResponse,
}

/// Which endpoint answers.
#[derive(Clone, Copy)]
enum Endpoint {
    Token,
    Revoke,
    Introspect,
}

/// Shared body of the three POST endpoints.
///
/// # Safety
/// As for `portcullis_oauth_token`.
#[allow(clippy::too_many_arguments)]
unsafe fn answer(
    endpoint: Endpoint,
    server: *const portcullis_oauth_server,
    authorization: *const c_char,
    authorization_len: usize,
    body: *const c_char,
    body_len: usize,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(response_out)?;
        // SAFETY: live / readable (contract).
        let (server, header, body, store) = unsafe {
            (
                borrow(server)?,
                optional_text(authorization, authorization_len)?,
                text(body, body_len)?,
                borrow(store)?,
            )
        };
        let (s, stores, now): (&OAuthServer, Stores<'_>, _) =
            (&server.inner, store.stores(), Timestamp(now));
        let inner = match endpoint {
            Endpoint::Token => s.token(header, body, stores, &server.rng, now),
            Endpoint::Revoke => s.revoke(header, body, stores, now),
            Endpoint::Introspect => s.introspect(header, body, stores, now),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_token_response { inner })) };
        Ok(())
    })
}

/// The token endpoint (RFC 6749 §4.1.3, §6) for a form body: `authorization` is the
/// request's `Authorization` header (UTF-8; NULL when absent), `body` its
/// `application/x-www-form-urlencoded` body (UTF-8). A host that also takes JSON bodies,
/// or has bytes that may not be UTF-8, calls `portcullis_oauth_token_request` with the
/// `Content-Type` it received.
/// Writes the response to send to `*response_out` (errors such as `invalid_grant` are
/// responses, not failures; a failing store callback gives a 500 `server_error`
/// response). Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8` (answer with
/// `portcullis_oauth_error_response(server, PORTCULLIS_OAUTH_INVALID_REQUEST, …)`),
/// `PORTCULLIS_INVALID_LENGTH`.
///
/// # Safety
/// `server`, `store` live; `authorization` NULL or readable; `body` readable;
/// `response_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_token(
    server: *const portcullis_oauth_server,
    authorization: *const c_char,
    authorization_len: usize,
    body: *const c_char,
    body_len: usize,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        answer(
            Endpoint::Token,
            server,
            authorization,
            authorization_len,
            body,
            body_len,
            store,
            now,
            response_out,
        )
    }
}

/// The revocation endpoint (RFC 7009): revokes the token's whole grant family (refresh
/// tokens in the store, access tokens through the verifier); 200 for unknown, expired or
/// revoked tokens too; 400 `unauthorized_client` for a token issued to another client,
/// which is left alone. Arguments and errors as for `portcullis_oauth_token`.
///
/// # Safety
/// As for `portcullis_oauth_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_revoke(
    server: *const portcullis_oauth_server,
    authorization: *const c_char,
    authorization_len: usize,
    body: *const c_char,
    body_len: usize,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        answer(
            Endpoint::Revoke,
            server,
            authorization,
            authorization_len,
            body,
            body_len,
            store,
            now,
            response_out,
        )
    }
}

/// The introspection endpoint (RFC 7662): `{"active": true, …}` for a live token of the
/// authenticated client, else `{"active": false}`. The caller must be a confidential
/// client authenticating with its secret: a public client (a `client_id` alone) gets 401
/// `invalid_client`. Arguments and errors as for `portcullis_oauth_token`.
///
/// # Safety
/// As for `portcullis_oauth_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_introspect(
    server: *const portcullis_oauth_server,
    authorization: *const c_char,
    authorization_len: usize,
    body: *const c_char,
    body_len: usize,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        answer(
            Endpoint::Introspect,
            server,
            authorization,
            authorization_len,
            body,
            body_len,
            store,
            now,
            response_out,
        )
    }
}

/// A POST to the token, revocation or introspection endpoint as received, for
/// `portcullis_oauth_token_request`, `portcullis_oauth_revoke_request` and
/// `portcullis_oauth_introspect_request`. Strings are (pointer, length) pairs of raw bytes,
/// read during the call only; none of them need be UTF-8: the engine decides.
///
/// The body is read by its type: `application/x-www-form-urlencoded` or
/// `application/json` (one object of string values; `; charset=utf-8` accepted). Any
/// other type, no type, a body over 64 KiB or not UTF-8, nested or non-string JSON
/// values, a repeated member, or a JSON body sent as form (or the reverse) is a 400
/// `invalid_request` response whose `error_description` says what to send — before
/// client authentication, and without consuming the code.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_request {
    /// The raw `Authorization` header value (any bytes), or NULL when the request has none.
    pub authorization: *const c_char,
    /// Length of `authorization` in bytes.
    pub authorization_len: usize,
    /// The raw `Content-Type` header value (any bytes), or NULL when the request has none
    /// (a 400 `invalid_request` response).
    pub content_type: *const c_char,
    /// Length of `content_type` in bytes.
    pub content_type_len: usize,
    /// The raw body (any bytes). Required: not NULL, even when `body_len` is 0.
    pub body: *const c_char,
    /// Length of `body` in bytes.
    pub body_len: usize,
}

/// Shared body of the three content-type-aware POST endpoints.
///
/// # Safety
/// As for `portcullis_oauth_token_request`.
unsafe fn answer_request(
    endpoint: Endpoint,
    server: *const portcullis_oauth_server,
    request: *const portcullis_oauth_request,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(response_out)?;
        // SAFETY: live / readable (contract).
        let (server, request, store) =
            unsafe { (borrow(server)?, borrow(request)?, borrow(store)?) };
        // SAFETY: readable for their lengths, `authorization` and `content_type` NULL or
        // readable (contract).
        let request = unsafe {
            EndpointRequest {
                authorization: optional_bytes(request.authorization, request.authorization_len)?,
                content_type: optional_bytes(request.content_type, request.content_type_len)?,
                body: bytes(request.body, request.body_len)?,
            }
        };
        let (s, stores, now): (&OAuthServer, Stores<'_>, _) =
            (&server.inner, store.stores(), Timestamp(now));
        let inner = match endpoint {
            Endpoint::Token => s.token_request(&request, stores, &server.rng, now),
            Endpoint::Revoke => s.revoke_request(&request, stores, now),
            Endpoint::Introspect => s.introspect_request(&request, stores, now),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_token_response { inner })) };
        Ok(())
    })
}

/// The token endpoint for a request as received (`request`'s fields, body types and the
/// 400 `invalid_request` responses are described at `portcullis_oauth_request`).
/// Otherwise as `portcullis_oauth_token`: writes the response to send to
/// `*response_out`. Errors: `PORTCULLIS_NULL_PARAMETER` (also for a NULL `request` or
/// `request->body`), `PORTCULLIS_INVALID_LENGTH` (a length over `PTRDIFF_MAX`).
///
/// # Safety
/// `server`, `store` live; `request` readable, its `authorization` and `content_type`
/// NULL or readable for their lengths, its `body` readable for `body_len` bytes;
/// `response_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_token_request(
    server: *const portcullis_oauth_server,
    request: *const portcullis_oauth_request,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { answer_request(Endpoint::Token, server, request, store, now, response_out) }
}

/// The revocation endpoint (RFC 7009) for a request as received: arguments, body types
/// and errors as for `portcullis_oauth_token_request`; answers as
/// `portcullis_oauth_revoke`.
///
/// # Safety
/// As for `portcullis_oauth_token_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_revoke_request(
    server: *const portcullis_oauth_server,
    request: *const portcullis_oauth_request,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { answer_request(Endpoint::Revoke, server, request, store, now, response_out) }
}

/// The introspection endpoint (RFC 7662) for a request as received: arguments, body types
/// and errors as for `portcullis_oauth_token_request`; answers as
/// `portcullis_oauth_introspect`.
///
/// # Safety
/// As for `portcullis_oauth_token_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_introspect_request(
    server: *const portcullis_oauth_server,
    request: *const portcullis_oauth_request,
    store: *const portcullis_oauth_store,
    now: u64,
    response_out: *mut *mut portcullis_token_response,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        answer_request(
            Endpoint::Introspect,
            server,
            request,
            store,
            now,
            response_out,
        )
    }
}

/// Revokes a grant family (16 characters) everywhere: the verifier's revocation set and
/// the store (a store failure is ignored: the verifier refuses the family anyway).
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_KEY_LENGTH` / `PORTCULLIS_KEY_CHARACTER`.
///
/// # Safety
/// `server`, `store` live; `family` readable for `family_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_revoke_family(
    server: *const portcullis_oauth_server,
    family: *const c_char,
    family_len: usize,
    store: *const portcullis_oauth_store,
    now: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (server, id, store) = unsafe {
            (
                borrow(server)?,
                family_id(portcullis_str {
                    data: family,
                    len: family_len,
                })?,
                borrow(store)?,
            )
        };
        server
            .inner
            .revoke_family(&id, store.stores(), Timestamp(now));
        Ok(())
    })
}

/// The HTTP status (200, 400, 401, 500, 503; 0 for NULL).
///
/// # Safety
/// `response` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_token_response_status(
    response: *const portcullis_token_response,
) -> u16 {
    // SAFETY: forwarded contract.
    unsafe { read(response, 0, |r| r.inner.status) }
}

/// How many headers to send (0 for NULL).
///
/// # Safety
/// `response` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_token_response_headers_len(
    response: *const portcullis_token_response,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(response, 0, |r| r.inner.headers.len()) }
}

/// The name of header `index`; absent when out of range.
///
/// # Safety
/// `response` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_token_response_header_name(
    response: *const portcullis_token_response,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(response, portcullis_str::NONE, |r| {
            Some(portcullis_str::of(r.inner.headers.get(index)?.0))
        })
    }
}

/// The value of header `index`; absent when out of range.
///
/// # Safety
/// `response` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_token_response_header_value(
    response: *const portcullis_token_response,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(response, portcullis_str::NONE, |r| {
            Some(portcullis_str::of(&r.inner.headers.get(index)?.1))
        })
    }
}

/// The JSON body (may hold tokens: send it, never log it); absent for NULL.
///
/// # Safety
/// `response` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_token_response_body(
    response: *const portcullis_token_response,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(response, portcullis_str::NONE, |r| {
            portcullis_str::of(r.inner.body())
        })
    }
}

/// Frees a response (the body is zeroized). NULL is a no-op.
///
/// # Safety
/// `response` is NULL or not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_token_response_free(response: *mut portcullis_token_response) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(response) }
}
