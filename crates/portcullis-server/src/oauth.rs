//! The product's OAuth endpoints, translating HTTP to the core's engine
//! (`portcullis::oauth`), which decides everything:
//!
//! - `GET /oauth/authorize`: validates the request; without a signed-in user, a 401 page
//!   saying to sign in at the host; with one, the consent page (`consent.rs`).
//!   `POST /oauth/authorize` (the consent form): checks the sign-in and the CSRF token,
//!   validates the request again, then approves (the code's owner is the signed-in user)
//!   or denies, by a 303 to the client. Errors the engine says belong to the client are
//!   redirected to it; the others (unknown client, unregistered redirect URI) are an HTML
//!   page, never a redirect.
//! - `POST /oauth/token`, `/oauth/revoke`, `/oauth/introspect`: the body (form or the JSON
//!   object the product documents, at most [`crate::Bounds::max_body_bytes`]) with its
//!   `Authorization` and `Content-Type` go to the engine; its status, headers and body come
//!   back as they are.
//! - `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//!   `/.well-known/oauth-protected-resource` (RFC 9728), built from
//!   [`crate::ServeConfig::public_url`] (404 without it).
//!
//! Who is signed in is the host's to say, by the signed assertion of `assertion.rs`: the
//! cookie `portcullis_user` (set by the host on the site both share, `HttpOnly; Secure;
//! SameSite=Lax`: `Strict` would not be sent when the client's site links here), or the
//! header `X-Portcullis-User` from a trusted proxy ([`crate::ServeConfig::trusted_proxies`];
//! from anyone else it is ignored). Two different `portcullis_user` cookies are refused
//! rather than one picked.
//!
//! The CSRF token of the consent form is the HMAC, under the host secret, of the signed-in
//! user, the authorization request's query and an expiry ([`CSRF_TTL`]): a page of another
//! site can neither read nor compute it, and it cannot be replayed for another user,
//! another request or after 15 minutes. It binds the user rather than the assertion's
//! bytes, so a host that re-mints the cookie on every page does not break open forms.
//!
//! The engine's store calls read the database: they run on blocking threads.

use crate::assertion::HostSecret;
use crate::consent::{self, Consent};
use crate::http::{Body, json_response, method_not_allowed, read_body};
use crate::service::Service;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use portcullis::oauth::{
    AccessKeyError, AccessKeys, AccessVerifier, AuthorizeOutcome, EndpointRequest, Endpoints,
    Issuer, MetadataError, OAuthError, OAuthErrorCode, OAuthServer, Params, Stores, TokenResponse,
};
use portcullis::{Catalog, OsRandom, Policy, Timestamp};
use sha2::Digest as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The cookie the host sets with the signed-in user's assertion.
pub const USER_COOKIE: &str = "portcullis_user";
/// The header a trusted proxy sends the assertion in.
pub const USER_HEADER: &str = "x-portcullis-user";

/// What the OAuth endpoints need beyond the service: the engine and the host secret.
#[derive(Debug)]
pub struct OAuthState {
    /// The engine (configuration from the policy's `[oauth]`, its catalog and realm).
    pub server: OAuthServer,
    /// The secret shared with the host: assertions and CSRF tokens.
    pub host_secret: HostSecret,
    /// `public_url` without its trailing `/`: the issuer and the base of every endpoint
    /// URL in the metadata documents.
    pub base_url: Option<String>,
}

/// Why the OAuth endpoints cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum OAuthSetupError {
    /// The public URL cannot be the issuer (RFC 8414: https, or http to loopback).
    #[error("the public URL cannot be the OAuth issuer: {0}")]
    Issuer(#[from] MetadataError),
    /// The verifier was built for another scope catalog.
    #[error("the access-token verifier was built for another scope catalog")]
    Catalog,
}

impl OAuthState {
    /// The endpoints for `policy` (its `[oauth]` settings, catalog and realm), signing
    /// access tokens with `verifier`'s keys. With a `public_url` and no `issuer` in the
    /// policy, the public URL is the issuer (so authorization responses carry `iss`).
    pub fn new(
        policy: &Policy,
        verifier: Arc<AccessVerifier>,
        host_secret: HostSecret,
        public_url: Option<&str>,
    ) -> Result<Self, OAuthSetupError> {
        let base_url = public_url.map(|u| u.trim_end_matches('/').to_owned());
        let mut config = policy.oauth().clone();
        if let Some(base) = &base_url
            && config.issuer.is_none()
        {
            config.issuer = Some(Issuer::new(base)?);
        }
        let server = OAuthServer::new(config, policy.catalog().clone(), verifier, policy.realm())
            .map_err(|_| OAuthSetupError::Catalog)?;
        Ok(OAuthState {
            server,
            host_secret,
            base_url,
        })
    }
}

/// The access-token verifier keyed by the `oauth-key` file's secret. Its key id is derived
/// from the secret, so every server reading the same file signs with the same id, and a
/// new file is a new id.
pub fn access_verifier(
    key: &HostSecret,
    catalog: &Catalog,
) -> Result<Arc<AccessVerifier>, AccessKeyError> {
    let digest = sha2::Sha256::digest(key.expose());
    let kid: String = std::iter::once("k".to_owned())
        .chain(digest.iter().take(6).map(|b| format!("{b:02x}")))
        .collect();
    let keys = AccessKeys::new(&kid, key.expose())?;
    Ok(Arc::new(AccessVerifier::new(keys, catalog)))
}

/// Answers `/oauth/…` and `/.well-known/oauth-…`; `None` for any other path.
pub async fn route<B>(
    service: &Service,
    request: Request<B>,
    peer: SocketAddr,
) -> Option<Response<Body>>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let endpoint = match request.uri().path() {
        "/oauth/authorize" => Endpoint::Authorize,
        "/oauth/token" => Endpoint::Token,
        "/oauth/revoke" => Endpoint::Revoke,
        "/oauth/introspect" => Endpoint::Introspect,
        "/.well-known/oauth-authorization-server" => Endpoint::ServerMetadata,
        "/.well-known/oauth-protected-resource" => Endpoint::ResourceMetadata,
        _ => return None,
    };
    let Some(state) = service.oauth.clone() else {
        return Some(json_response(
            StatusCode::NOT_FOUND,
            r#"{"error":"not_found","error_description":"This server does not serve OAuth"}"#,
        ));
    };
    let started = Instant::now();
    let method = request.method().clone();
    Some(match (endpoint, method) {
        (Endpoint::Authorize, Method::GET) => authorize_get(service, &state, &request, peer).await,
        (Endpoint::Authorize, Method::POST) => authorize_post(service, &state, request, peer).await,
        (Endpoint::Authorize, _) => method_not_allowed("GET, POST"),
        (Endpoint::Token | Endpoint::Revoke | Endpoint::Introspect, Method::POST) => {
            token_endpoint(service, &state, endpoint, request, started).await
        }
        (Endpoint::Token | Endpoint::Revoke | Endpoint::Introspect, _) => {
            method_not_allowed("POST")
        }
        (_, Method::GET | Method::HEAD) => metadata(&state, endpoint),
        (_, _) => method_not_allowed("GET, HEAD"),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Authorize,
    Token,
    Revoke,
    Introspect,
    ServerMetadata,
    ResourceMetadata,
}

/// Runs a store-reading call on a blocking thread; `None` if that thread died.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// The signed-in user.
struct SignedIn {
    user: String,
}

/// The assertion from a trusted proxy's header, else from the cookie; `Err` with a reason
/// code when there is none or it does not verify.
fn signed_in(
    service: &Service,
    state: &OAuthState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<SignedIn, &'static str> {
    let from_proxy = service.config.trusted_proxies.trusts(peer.ip());
    let mut header = headers.get_all(USER_HEADER).iter();
    let assertion = match (from_proxy, header.next(), header.next()) {
        (true, Some(value), None) => value.as_bytes().to_vec(),
        (true, Some(_), Some(_)) => return Err("assertion_ambiguous"),
        _ => user_cookie(headers)?.ok_or("no_assertion")?,
    };
    match state.host_secret.verify(&assertion, Timestamp::now().0) {
        Ok(user) => Ok(SignedIn { user }),
        Err(e) => {
            service.log.event(
                "assertion_refused",
                serde_json::json!({"error": e.code(), "peer": peer.ip().to_string()}),
            );
            Err(e.code())
        }
    }
}

/// The `portcullis_user` cookie's value; two different values are refused.
fn user_cookie(headers: &HeaderMap) -> Result<Option<Vec<u8>>, &'static str> {
    crate::http::cookie(headers, USER_COOKIE).map_err(|_| "assertion_ambiguous")
}

/// How long a consent form may be answered.
pub const CSRF_TTL: u64 = 900;

/// The consent form's CSRF token for this user and request: `<expiry>.<base64url MAC>`.
fn csrf_token(secret: &HostSecret, user: &str, query: &str, now: u64) -> String {
    secret.token(
        CSRF_PURPOSE,
        &[user.as_bytes(), query.as_bytes()],
        now + CSRF_TTL,
    )
}

/// Whether `token` is this user's and request's, and not expired.
fn csrf_matches(secret: &HostSecret, user: &str, query: &str, token: &str, now: u64) -> bool {
    secret.token_matches(
        CSRF_PURPOSE,
        &[user.as_bytes(), query.as_bytes()],
        token.as_bytes(),
        now,
    )
}

/// What the consent form's CSRF tokens are for (the key page's are for another).
const CSRF_PURPOSE: &[u8] = b"portcullis-csrf-v1";

/// Validates an authorization request's query on a blocking thread.
async fn validate(service: &Service, state: &Arc<OAuthState>, query: String) -> AuthorizeOutcome {
    let (store, state) = (service.store.clone(), state.clone());
    blocking(move || state.server.authorize_bytes(query.as_bytes(), &*store))
        .await
        .unwrap_or_else(|| AuthorizeOutcome::ShowError(OAuthError::of(OAuthErrorCode::ServerError)))
}

/// `GET /oauth/authorize`.
async fn authorize_get<B>(
    service: &Service,
    state: &Arc<OAuthState>,
    request: &Request<B>,
    peer: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    let query = request.uri().query().unwrap_or("").to_owned();
    let count = |reason, status| {
        service
            .metrics
            .decision("authorize", reason, status, started.elapsed());
    };
    let valid = match validate(service, state, query.clone()).await {
        AuthorizeOutcome::Valid(valid) => valid,
        other => return not_valid(other, StatusCode::FOUND, count),
    };
    let signed = match signed_in(service, state, request.headers(), peer) {
        Ok(signed) => signed,
        Err(reason) => {
            count(reason, 401);
            return html(
                StatusCode::UNAUTHORIZED,
                consent::sign_in_page(),
                &consent::content_security_policy(None),
            );
        }
    };
    let catalog = state.server.catalog();
    let scopes: Vec<(&str, &str)> = catalog
        .scopes()
        .iter()
        .filter(|info| catalog.names(&valid.scope).any(|n| n == info.name))
        .map(|info| (info.name.as_str(), info.description.as_str()))
        .collect();
    let csrf = csrf_token(&state.host_secret, &signed.user, &query, Timestamp::now().0);
    let page = consent::consent_page(&Consent {
        client: &valid.client.id,
        user: &signed.user,
        scopes: &scopes,
        narrowed: valid.scope_narrowed,
        redirect_uri: &valid.redirect_uri,
        query: &query,
        csrf: &csrf,
    });
    count("consent", 200);
    html(
        StatusCode::OK,
        page,
        &consent::content_security_policy(Some(&valid.redirect_uri)),
    )
}

/// `POST /oauth/authorize`: the consent form's answer.
async fn authorize_post<B>(
    service: &Service,
    state: &Arc<OAuthState>,
    request: Request<B>,
    peer: SocketAddr,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let count = |reason, status| {
        service
            .metrics
            .decision("authorize", reason, status, started.elapsed());
    };
    let (parts, body) = request.into_parts();
    let body = match read_body(body, service.config.bounds.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => {
            count("body_refused", response.status().as_u16());
            return response;
        }
    };
    let csp = consent::content_security_policy(None);
    let bad_form = |reason| {
        count(reason, 400);
        html(
            StatusCode::BAD_REQUEST,
            consent::error_page(
                "This form cannot be accepted",
                "The form is malformed. Go back to the application and start again.",
            ),
            &csp,
        )
    };
    let Some(form) = std::str::from_utf8(&body)
        .ok()
        .and_then(|text| Params::parse(text).ok())
    else {
        return bad_form("form_malformed");
    };
    let (Some(query), Some(csrf), Some(decision)) =
        (form.get("request"), form.get("csrf"), form.get("decision"))
    else {
        return bad_form("form_incomplete");
    };
    let signed = match signed_in(service, state, &parts.headers, peer) {
        Ok(signed) => signed,
        Err(reason) => {
            count(reason, 401);
            return html(StatusCode::UNAUTHORIZED, consent::sign_in_page(), &csp);
        }
    };
    if !csrf_matches(
        &state.host_secret,
        &signed.user,
        query,
        csrf,
        Timestamp::now().0,
    ) {
        service.log.event(
            "csrf_refused",
            serde_json::json!({"peer": peer.ip().to_string()}),
        );
        count("csrf_mismatch", 403);
        return html(
            StatusCode::FORBIDDEN,
            consent::error_page(
                "This form has expired",
                "The form does not match your sign-in. Go back to the application and start again.",
            ),
            &csp,
        );
    }
    let valid = match validate(service, state, query.to_owned()).await {
        AuthorizeOutcome::Valid(valid) => valid,
        other => return not_valid(other, StatusCode::SEE_OTHER, count),
    };
    let location = match decision {
        "approve" => {
            let (store, engine, user) = (service.store.clone(), state.clone(), signed.user);
            let request = valid.clone();
            let approved = blocking(move || {
                engine.server.approve(
                    &request,
                    &user,
                    None,
                    &*store,
                    &OsRandom::new(),
                    Timestamp::now(),
                )
            })
            .await
            .unwrap_or_else(|| Err(OAuthError::of(OAuthErrorCode::ServerError)));
            match approved {
                Ok(location) => {
                    count("approved", 303);
                    location
                }
                Err(error) => {
                    count(error.code.as_str(), 303);
                    state.server.error_redirect(&valid, error)
                }
            }
        }
        "deny" => {
            count("denied", 303);
            state.server.deny(&valid)
        }
        _ => return bad_form("form_decision"),
    };
    redirect(StatusCode::SEE_OTHER, &location)
}

/// An authorization request that is not valid: redirected to the client, or a page.
fn not_valid(
    outcome: AuthorizeOutcome,
    status: StatusCode,
    count: impl Fn(&'static str, u16),
) -> Response<Body> {
    match outcome {
        AuthorizeOutcome::Redirect { error, location } => {
            count(error.code.as_str(), status.as_u16());
            redirect(status, &location)
        }
        AuthorizeOutcome::ShowError(error) => {
            count(error.code.as_str(), 400);
            let status = if error.code == OAuthErrorCode::ServerError {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            html(
                status,
                consent::error_page("This request cannot be answered", error.description),
                &consent::content_security_policy(None),
            )
        }
        // Only called with the two outcomes above.
        AuthorizeOutcome::Valid(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"server_error"}"#,
        ),
    }
}

/// A redirect that no cache keeps and that sends no referrer.
fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let Ok(value) = HeaderValue::from_str(location) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            consent::error_page(
                "This request cannot be answered",
                "The redirect URI cannot be sent.",
            ),
            &consent::content_security_policy(None),
        );
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(LOCATION, value);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

/// An HTML page with the security headers of every page here.
fn html(status: StatusCode, page: String, csp: &str) -> Response<Body> {
    crate::http::html_response(status, page, csp)
}

/// `POST /oauth/token`, `/oauth/revoke`, `/oauth/introspect`.
async fn token_endpoint<B>(
    service: &Service,
    state: &Arc<OAuthState>,
    endpoint: Endpoint,
    request: Request<B>,
    started: Instant,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let name = match endpoint {
        Endpoint::Revoke => "revoke",
        Endpoint::Introspect => "introspect",
        _ => "token",
    };
    let (parts, body) = request.into_parts();
    let body = match read_body(body, service.config.bounds.max_body_bytes).await {
        Ok(body) => body,
        Err(response) => {
            let status = response.status().as_u16();
            service
                .metrics
                .decision(name, "invalid_request", status, started.elapsed());
            return response;
        }
    };
    let header = |name| {
        parts
            .headers
            .get(name)
            .map(|v: &HeaderValue| v.as_bytes().to_vec())
    };
    let (authorization, content_type) = (header(AUTHORIZATION), header(CONTENT_TYPE));
    let (store, engine) = (service.store.clone(), state.clone());
    let answered = blocking(move || {
        let request = EndpointRequest {
            authorization: authorization.as_deref(),
            content_type: content_type.as_deref(),
            body: &body,
        };
        let stores = Stores::all(&*store);
        let now = Timestamp::now();
        match endpoint {
            Endpoint::Revoke => engine.server.revoke_request(&request, stores, now),
            Endpoint::Introspect => engine.server.introspect_request(&request, stores, now),
            _ => engine
                .server
                .token_request(&request, stores, &OsRandom::new(), now),
        }
    })
    .await;
    let answer = answered.unwrap_or_else(|| {
        state
            .server
            .error_response(OAuthError::of(OAuthErrorCode::ServerError))
    });
    service
        .metrics
        .decision(name, reason_of(&answer), answer.status, started.elapsed());
    token_response(&answer)
}

/// The metrics reason of an endpoint's answer: `ok`, or its RFC 6749 error code.
fn reason_of(answer: &TokenResponse) -> &'static str {
    if answer.status == 200 {
        return "ok";
    }
    serde_json::from_str::<serde_json::Value>(answer.body())
        .ok()
        .and_then(|body| {
            body.get("error")
                .and_then(|e| e.as_str())
                .and_then(OAuthErrorCode::parse)
        })
        .map_or("error", |code| code.as_str())
}

/// The engine's answer as it is.
fn token_response(answer: &TokenResponse) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(answer.body().as_bytes())));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.append(*name, value);
        }
    }
    response
}

/// The two metadata documents.
fn metadata(state: &OAuthState, endpoint: Endpoint) -> Response<Body> {
    let Some(base) = state.base_url.as_deref() else {
        return json_response(
            StatusCode::NOT_FOUND,
            r#"{"error":"not_found","error_description":"The server has no public URL (portcullis serve --public-url)"}"#,
        );
    };
    let document = if endpoint == Endpoint::ServerMetadata {
        let (authorization, token, revocation, introspection) = (
            format!("{base}/oauth/authorize"),
            format!("{base}/oauth/token"),
            format!("{base}/oauth/revoke"),
            format!("{base}/oauth/introspect"),
        );
        state.server.metadata(&Endpoints {
            authorization: &authorization,
            token: &token,
            revocation: Some(&revocation),
            introspection: Some(&introspection),
        })
    } else {
        let issuer = state
            .server
            .config()
            .issuer
            .as_ref()
            .map_or(base, Issuer::as_str);
        state.server.protected_resource_metadata(base, &[issuer])
    };
    match document {
        Ok(document) => {
            let mut response = Response::new(Full::new(Bytes::from(document)));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
            // Browser-based clients read discovery documents across origins.
            headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            response
        }
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({"error": "server_error", "error_description": e.to_string()})
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_bind_the_user_the_request_and_time() {
        let secret = HostSecret::from_bytes(&[3u8; 32]).expect("secret");
        let token = csrf_token(&secret, "ann", "client_id=a", 1000);
        assert!(token.starts_with("1900."), "{token}");
        assert!(csrf_matches(&secret, "ann", "client_id=a", &token, 1899));
        assert!(!csrf_matches(&secret, "ann", "client_id=a", &token, 1900));
        assert!(!csrf_matches(&secret, "bob", "client_id=a", &token, 1000));
        assert!(!csrf_matches(&secret, "ann", "client_id=b", &token, 1000));
        let other = HostSecret::from_bytes(&[4u8; 32]).expect("secret");
        assert!(!csrf_matches(&other, "ann", "client_id=a", &token, 1000));
        let later = token.replacen("1900", "9900", 1);
        assert!(!csrf_matches(&secret, "ann", "client_id=a", &later, 1000));
        for bad in ["", "1900", "x.y", "1900.AAAA", "1900.!!"] {
            assert!(
                !csrf_matches(&secret, "ann", "client_id=a", bad, 1000),
                "{bad}"
            );
        }
    }

    #[test]
    fn cookies_are_found_and_ambiguity_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(user_cookie(&headers), Ok(None));
        headers.append(
            http::header::COOKIE,
            HeaderValue::from_static("a=1; portcullis_user=v1.x"),
        );
        assert_eq!(user_cookie(&headers), Ok(Some(b"v1.x".to_vec())));
        headers.append(
            http::header::COOKIE,
            HeaderValue::from_static("portcullis_user=\"v1.x\""),
        );
        assert_eq!(user_cookie(&headers), Ok(Some(b"v1.x".to_vec())));
        headers.append(
            http::header::COOKIE,
            HeaderValue::from_static("portcullis_user=v1.y"),
        );
        assert_eq!(user_cookie(&headers), Err("assertion_ambiguous"));
    }
}
