//! The key-management JSON API (`/api/keys`) behind the Settings > API Keys page
//! (`page.rs`), translating HTTP to the store and the core, which decide every rule
//! (scopes known, name and owner lengths, lifetimes, rotation of inactive keys).
//!
//! Endpoints (JSON in and out, `Cache-Control: no-store`, errors as
//! `{"error": code, "error_description": text}`):
//! - `GET /api/keys`: `{"keys": [key…]}`, oldest first.
//! - `POST /api/keys` `{"name", "scopes": [..], "ttl_days"?, "owner"? (admin only)}`:
//!   201 `{"key": key, "secret": "sk_live_…"}`. The plaintext is in this response and
//!   nowhere else: never stored, logged or shown again.
//! - `GET /api/keys/{id}`: `{"key": key}`.
//! - `POST /api/keys/{id}/revoke` (or `DELETE /api/keys/{id}`): `{"key": key}`.
//! - `POST /api/keys/{id}/rotate` `{"grace_seconds"?}` (default [`DEFAULT_GRACE`], at most
//!   [`MAX_GRACE`]): 201 `{"key": successor, "secret": "sk_live_…", "previous": key}`; the
//!   old key keeps working until the grace period ends.
//!
//! A key is `{"id", "display": "sk_live_<id>_…", "name", "owner", "scopes", "permissions"
//! (the scopes' descriptions), "status", "created_at", "expires_at", "revoked_at",
//! "last_used_at", "rotated_from"}`, times in Unix seconds or `null`.
//!
//! Who may call, and what they see:
//! - **An admin**: `Authorization: Bearer <the admin-token file's content>` (compared in
//!   constant time; the file is `STORE/admin-token` or `--admin-token-file`, 64 hex digits,
//!   mode 0600, e.g. `openssl rand -hex 32`; without it there is no admin). An admin sees
//!   every organisation's keys, narrows a list with `?owner=ORG`, and names the owner of a
//!   key it creates in the body. No CSRF token: the header is never sent by a browser on
//!   its own.
//! - **A signed-in user**, by the host's signed assertion (`assertion.rs`): the cookie
//!   `portcullis_user`, or the header `X-Portcullis-User` from a trusted proxy. The
//!   user's organisation is the key's `owner`; the user sees and changes only its keys
//!   (another organisation's key is 404, as a key that does not exist). The organisation is
//!   told by a second assertion, [`ORG_COOKIE`] / [`ORG_HEADER`] (see [`assert_org`]),
//!   which carries user and organisation under the same host secret; without it the
//!   organisation is the user itself (a personal account). Every `POST` and `DELETE` of a
//!   user must carry [`CSRF_HEADER`] with the token of the page ([`csrf_token`]: bound to
//!   the user and organisation, expiring after [`CSRF_TTL`]) and a JSON `Content-Type`.
//!
//! Decisions:
//! - **The organisation assertion is a separate field, not a change of `v1`:** existing
//!   hosts keep working, and `o1.` assertions cannot be replayed as `v1.` ones (or back),
//!   since each MAC covers its own version tag.
//! - **Audited as the caller:** `admin`, or `user@org` (the store's `acting_as`).
//! - **Store calls run on blocking threads**; bodies are bounded by
//!   [`crate::Bounds::max_body_bytes`].

use crate::assertion::{HostSecret, SecretFileError};
use crate::http::{Body, json_response, method_not_allowed, read_body};
use crate::service::Service;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use http::{Method, Request, Response, StatusCode};
use portcullis::{Catalog, KeyId, KeyRecord, KeySpec, Timestamp};
use portcullis_store::{Actor, ErrorKind, StoredKey};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// The admin token's file name in the store directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// The cookie the host sets with the signed-in user's organisation assertion.
pub const ORG_COOKIE: &str = "portcullis_org";
/// The header a trusted proxy sends the organisation assertion in.
pub const ORG_HEADER: &str = "x-portcullis-org";
/// The cookie of the signed-in user's assertion (as `oauth.rs`).
pub const USER_COOKIE: &str = "portcullis_user";
/// The header a trusted proxy sends the user assertion in (as `oauth.rs`).
pub const USER_HEADER: &str = "x-portcullis-user";
/// The header carrying the page's CSRF token on every `POST` and `DELETE`.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a page's CSRF token is accepted, in seconds.
pub const CSRF_TTL: u64 = 4 * 3600;
/// The grace period of a rotation when none is asked for: one day.
pub const DEFAULT_GRACE: u64 = 86_400;
/// The longest grace period of a rotation: 30 days.
pub const MAX_GRACE: u64 = 30 * 86_400;
/// The longest lifetime a key may be created with, in days (ten years).
pub const MAX_TTL_DAYS: u64 = 3650;
/// The page's path.
pub const PAGE_PATH: &str = "/settings/api-keys";
/// The API's path.
pub const API_PATH: &str = "/api/keys";
/// The organisation assertion's version tag.
const ORG_VERSION: &str = "o1";

/// What the key API and page need beyond the service: who may call.
#[derive(Debug, Default)]
pub struct KeysState {
    /// The secret the host signs user and organisation assertions with; `None`: no user
    /// can sign in (admin only, and no page).
    pub host_secret: Option<HostSecret>,
    /// The admin bearer token; `None`: no admin.
    pub admin_token: Option<HostSecret>,
}

impl KeysState {
    /// The state with the host's secret and the admin token of `admin_token_file`, when
    /// that file exists (it is never created: an admin credential is opted into).
    pub fn new(
        host_secret: Option<HostSecret>,
        admin_token_file: &Path,
    ) -> Result<Self, SecretFileError> {
        let admin_token = match HostSecret::load(admin_token_file) {
            Ok(token) => Some(token),
            Err(SecretFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        Ok(KeysState {
            host_secret,
            admin_token,
        })
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The admin token's holder: every organisation.
    Admin,
    /// A signed-in user of one organisation.
    Member {
        /// The user (the assertion's).
        user: String,
        /// The organisation: the owner of the keys it sees.
        org: String,
    },
}

impl Principal {
    /// The organisation whose keys this caller sees, `None` for all.
    pub fn org(&self) -> Option<&str> {
        match self {
            Principal::Admin => None,
            Principal::Member { org, .. } => Some(org),
        }
    }

    /// The audit log's actor: `admin` or `user@org` (or the user alone when it is its own
    /// organisation).
    fn actor(&self) -> Actor {
        let name = match self {
            Principal::Admin => "admin".to_owned(),
            Principal::Member { user, org } if user == org => user.clone(),
            Principal::Member { user, org } => format!("{user}@{org}"),
        };
        Actor::new(&name).unwrap_or(Actor::UNKNOWN)
    }
}

/// Whether `path` belongs to the API or the page.
pub fn owns(path: &str) -> bool {
    let under = |base: &str| {
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under(API_PATH) || under(PAGE_PATH)
}

/// Answers `/api/keys…` and `/settings/api-keys…`.
pub async fn route<B>(service: &Service, request: Request<B>, peer: SocketAddr) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(state) = service.keys.clone() else {
        return json_response(
            StatusCode::NOT_FOUND,
            r#"{"error":"not_found","error_description":"This server does not manage keys"}"#,
        );
    };
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix(PAGE_PATH) {
        return crate::page::route(service, &state, request, peer, rest).await;
    }
    let rest = path.strip_prefix(API_PATH).unwrap_or_default();
    let answer = api(service, &state, request, peer, rest).await;
    answer.unwrap_or_else(|e| e.response())
}

/// A refusal of the API: its status, code and text (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// For people.
    pub description: String,
}

impl ApiError {
    /// An error of this status, code and text.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
        }
    }

    fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such key")
    }

    fn bad(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn store(e: &portcullis_store::Error) -> Self {
        match e.kind() {
            ErrorKind::NotFound => ApiError::not_found(),
            ErrorKind::Inactive => ApiError::new(
                StatusCode::CONFLICT,
                "key_inactive",
                "The key is revoked or expired and cannot be rotated",
            ),
            kind => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                kind.code(),
                "The key store cannot answer now; try again",
            ),
        }
    }

    fn blocking() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The key store cannot answer now; try again",
        )
    }

    /// The JSON response.
    pub fn response(&self) -> Response<Body> {
        let mut response = json_response(
            self.status,
            &json!({"error": self.code, "error_description": self.description}).to_string(),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"portcullis-admin\""),
            );
        }
        response
    }
}

/// The value of cookie `name`; two different values are refused.
pub fn cookie(headers: &HeaderMap, name: &str) -> Result<Option<Vec<u8>>, ApiError> {
    crate::http::cookie(headers, name).map_err(|_| unauthorized("assertion_ambiguous"))
}

fn unauthorized(code: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        code,
        "Sign in to the application, or send the admin token",
    )
}

/// The assertion in a trusted proxy's `header`, else in cookie `name`.
fn assertion(
    service: &Service,
    headers: &HeaderMap,
    peer: SocketAddr,
    header: &str,
    name: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    if service.config.trusted_proxies.trusts(peer.ip()) {
        let mut values = headers.get_all(header).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => return Ok(Some(value.as_bytes().to_vec())),
            (Some(_), Some(_)) => return Err(unauthorized("assertion_ambiguous")),
            _ => {}
        }
    }
    cookie(headers, name)
}

/// Who calls: the admin token, else the signed-in user (and organisation).
pub fn principal(
    service: &Service,
    state: &KeysState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Principal, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let token = value
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or_else(|| unauthorized("invalid_token"))?;
        let matches = state.admin_token.as_ref().is_some_and(|admin| {
            // The token is the file's hex; compared as digests so the time does not
            // depend on where the bytes differ, nor on the token's length.
            let expected = admin.mac(&[b"portcullis-admin-v1", to_hex(admin.expose()).as_bytes()]);
            let given = admin.mac(&[
                b"portcullis-admin-v1",
                &token.trim_ascii().to_ascii_lowercase(),
            ]);
            constant_time_eq::constant_time_eq_32(&expected, &given)
        });
        if !matches {
            service.log.event(
                "admin_token_refused",
                json!({"peer": peer.ip().to_string()}),
            );
            return Err(unauthorized("invalid_token"));
        }
        return Ok(Principal::Admin);
    }
    let Some(secret) = state.host_secret.as_ref() else {
        return Err(unauthorized("no_assertion"));
    };
    let now = Timestamp::now().0;
    let refused = |e: crate::assertion::AssertionError| {
        service.log.event(
            "assertion_refused",
            json!({"error": e.code(), "peer": peer.ip().to_string()}),
        );
        unauthorized(e.code())
    };
    if let Some(org) = assertion(service, headers, peer, ORG_HEADER, ORG_COOKIE)? {
        let (org, user) = verify_org(secret, &org, now).map_err(refused)?;
        return Ok(Principal::Member { user, org });
    }
    let user = assertion(service, headers, peer, USER_HEADER, USER_COOKIE)?
        .ok_or_else(|| unauthorized("no_assertion"))?;
    let user = secret.verify(&user, now).map_err(refused)?;
    Ok(Principal::Member {
        org: user.clone(),
        user,
    })
}

/// Mints an organisation assertion: `user` of `org` is signed in until `expires_at`
/// (Unix seconds):
///
/// ```text
/// o1.<base64url(org)>.<base64url(user)>.<expiry>.<base64url(HMAC-SHA256(secret, "o1.<base64url(org)>.<base64url(user)>.<expiry>"))>
/// ```
///
/// The same secret, rules for names (1-255 bytes of UTF-8 without control characters) and
/// encoding as the user assertion of `assertion.rs`.
pub fn assert_org(
    secret: &HostSecret,
    org: &str,
    user: &str,
    expires_at: u64,
) -> Result<String, crate::assertion::AssertionError> {
    secret.sign_names(ORG_VERSION, &[org, user], expires_at)
}

/// Verifies an organisation assertion at `now`: `(org, user)`. Checked in the order of
/// the user assertion's: length, shape, version, MAC (constant time), expiry, names.
pub fn verify_org(
    secret: &HostSecret,
    assertion: &[u8],
    now: u64,
) -> Result<(String, String), crate::assertion::AssertionError> {
    let [org, user] = secret.verify_names(ORG_VERSION, assertion, now)?;
    Ok((org, user))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The page's CSRF token for this user and organisation: `<expiry>.<base64url MAC>`.
pub fn csrf_token(secret: &HostSecret, user: &str, org: &str, now: u64) -> String {
    secret.token(
        CSRF_PURPOSE,
        &[user.as_bytes(), org.as_bytes()],
        now + CSRF_TTL,
    )
}

/// Whether `token` is this user's and organisation's, and not expired.
pub fn csrf_matches(secret: &HostSecret, user: &str, org: &str, token: &[u8], now: u64) -> bool {
    secret.token_matches(CSRF_PURPOSE, &[user.as_bytes(), org.as_bytes()], token, now)
}

/// What the key page's CSRF tokens are for (the consent form's are for another).
const CSRF_PURPOSE: &[u8] = b"portcullis-keys-csrf-v1";

/// A user's `POST` or `DELETE` must carry the page's CSRF token, and a `POST` a JSON body
/// type (no HTML form can send either).
fn check_csrf(
    service: &Service,
    state: &KeysState,
    principal: &Principal,
    method: &Method,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    let Principal::Member { user, org } = principal else {
        return Ok(());
    };
    // A DELETE has no body, and no HTML form can send one.
    let json_body = method == Method::DELETE
        || headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    let token_ok = match (state.host_secret.as_ref(), headers.get(CSRF_HEADER)) {
        (Some(secret), Some(token)) => {
            csrf_matches(secret, user, org, token.as_bytes(), Timestamp::now().0)
        }
        _ => false,
    };
    if json_body && token_ok {
        return Ok(());
    }
    service
        .log
        .event("csrf_refused", json!({"peer": peer.ip().to_string()}));
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_mismatch",
        "The request lacks the page's token; reload the page and try again",
    ))
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ApiError::blocking()))
}

/// The JSON of a key, as the API and the page show it.
pub fn key_json(record: &KeyRecord, catalog: &Catalog, last_used: Option<Timestamp>) -> Value {
    let now = Timestamp::now();
    let secs = |t: Option<Timestamp>| t.map(|t| t.0);
    json!({
        "id": record.id().as_str(),
        "display": record.display().to_string(),
        "name": record.name(),
        "owner": record.owner(),
        "scopes": record.scopes(),
        "permissions": permissions(record.scopes(), catalog),
        "status": record.state(now).as_str(),
        "created_at": record.created_at().0,
        "expires_at": secs(record.expires_at()),
        "revoked_at": secs(record.revoked_at()),
        "last_used_at": secs(last_used),
        "rotated_from": record.rotated_from().map(|id| id.as_str().to_owned()),
    })
}

/// The people's names of granted scopes: each scope's description (its name when it has
/// none, or when it is a pattern).
pub fn permissions(scopes: &[String], catalog: &Catalog) -> Vec<String> {
    scopes
        .iter()
        .map(|s| {
            catalog
                .scopes()
                .iter()
                .find(|info| &info.name == s && !info.description.is_empty())
                .map_or_else(|| s.clone(), |info| info.description.clone())
        })
        .collect()
}

/// The keys `org` sees (every key when `None`) with their last use, oldest first.
pub fn list(
    store: &portcullis_store::Store,
    org: Option<&str>,
) -> Result<Vec<(KeyRecord, Option<Timestamp>)>, ApiError> {
    let keys = store.list_keys().map_err(|e| ApiError::store(&e))?;
    let used: HashMap<KeyId, Timestamp> = store.last_used_all().unwrap_or_default();
    Ok(keys
        .into_iter()
        .filter_map(|k| match k {
            StoredKey::Record(r) => Some(r),
            // A damaged row has no owner to show it to; the CLI lists it for operators.
            StoredKey::Corrupt(_) => None,
        })
        .filter(|r| org.is_none_or(|o| r.owner() == o))
        .map(|r| {
            let last = used.get(&r.id()).copied();
            (r, last)
        })
        .collect())
}

/// The key `id` if `principal` may see it (else not found, as a key that does not exist).
fn visible(
    store: &portcullis_store::Store,
    principal: &Principal,
    id: &KeyId,
) -> Result<KeyRecord, ApiError> {
    match store.key_row(id).map_err(|e| ApiError::store(&e))? {
        Some(StoredKey::Record(r)) if principal.org().is_none_or(|o| r.owner() == o) => Ok(r),
        _ => Err(ApiError::not_found()),
    }
}

fn last_used(store: &portcullis_store::Store, id: &KeyId) -> Option<Timestamp> {
    store.last_used_all().ok()?.get(id).copied()
}

async fn api<B>(
    service: &Service,
    state: &KeysState,
    request: Request<B>,
    peer: SocketAddr,
    rest: &str,
) -> Result<Response<Body>, ApiError>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let principal = principal(service, state, &parts.headers, peer)?;
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let method = parts.method.clone();
    let writes = method == Method::POST || method == Method::DELETE;
    let target = match segments[..] {
        [""] => Target::Collection,
        [id] => Target::Key(parse_id(id)?),
        [id, "revoke"] => Target::Revoke(parse_id(id)?),
        [id, "rotate"] => Target::Rotate(parse_id(id)?),
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such endpoint",
            ));
        }
    };
    let allow = match (&target, &method) {
        (Target::Collection, &Method::GET | &Method::POST) => None,
        (Target::Collection, _) => Some("GET, POST"),
        (Target::Key(_), &Method::GET | &Method::DELETE) => None,
        (Target::Key(_), _) => Some("GET, DELETE"),
        (Target::Revoke(_) | Target::Rotate(_), &Method::POST) => None,
        (Target::Revoke(_) | Target::Rotate(_), _) => Some("POST"),
    };
    if let Some(allow) = allow {
        return Ok(method_not_allowed(allow));
    }
    if writes {
        check_csrf(service, state, &principal, &method, &parts.headers, peer)?;
    }
    let body = if method == Method::POST {
        read_body(body, service.config.bounds.max_body_bytes)
            .await
            .map_err(|r| {
                ApiError::new(
                    r.status(),
                    "invalid_request",
                    "The request body is too large or could not be read",
                )
            })?
    } else {
        Bytes::new()
    };
    let json_of = |body: &Bytes| -> Result<serde_json::Map<String, Value>, ApiError> {
        if body.is_empty() {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::bad("The body must be a JSON object")),
        }
    };
    let store = service.store.clone();
    let checker = service.checker.clone();
    let actor = principal.actor();
    let (status, value) = match target {
        Target::Collection if method == Method::GET => {
            let owner = match &principal {
                Principal::Admin => query_param(parts.uri.query(), "owner"),
                Principal::Member { org, .. } => Some(org.clone()),
            };
            let catalog = checker.policy().catalog().clone();
            let keys = blocking(move || list(&store, owner.as_deref())).await?;
            let keys: Vec<Value> = keys
                .iter()
                .map(|(r, last)| key_json(r, &catalog, *last))
                .collect();
            (StatusCode::OK, json!({ "keys": keys }))
        }
        Target::Collection => {
            let spec = create_spec(&principal, json_of(&body)?)?;
            let (record, secret) = blocking(move || {
                let now = Timestamp::now();
                let issued = checker
                    .issue(&spec, now)
                    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))?;
                store
                    .acting_as(actor)
                    .insert_key(&issued.record, now)
                    .map_err(|e| ApiError::store(&e))?;
                let json = key_json(&issued.record, checker.policy().catalog(), None);
                Ok((json, issued.key))
            })
            .await?;
            service.log.event(
                "key_created",
                json!({"key": record["display"], "actor": principal.actor().as_str()}),
            );
            let body = json!({"key": record, "secret": secret.expose()});
            (StatusCode::CREATED, body)
        }
        Target::Key(id) if method == Method::GET => {
            let key = blocking(move || {
                let r = visible(&store, &principal, &id)?;
                let last = last_used(&store, &id);
                Ok(key_json(&r, checker.policy().catalog(), last))
            })
            .await?;
            (StatusCode::OK, json!({ "key": key }))
        }
        Target::Key(id) | Target::Revoke(id) => {
            let key = blocking(move || {
                visible(&store, &principal, &id)?;
                store
                    .acting_as(actor)
                    .revoke_key(&id, Timestamp::now())
                    .map_err(|e| ApiError::store(&e))?;
                let r = visible(&store, &principal, &id)?;
                Ok(key_json(
                    &r,
                    checker.policy().catalog(),
                    last_used(&store, &id),
                ))
            })
            .await?;
            service.log.event(
                "key_revoked",
                json!({"key": key["display"], "actor": actor.as_str()}),
            );
            (StatusCode::OK, json!({ "key": key }))
        }
        Target::Rotate(id) => {
            let grace = grace_of(&json_of(&body)?)?;
            let (successor, secret, previous) = blocking(move || {
                visible(&store, &principal, &id)?;
                let now = Timestamp::now();
                let rotation = store
                    .acting_as(actor)
                    .rotate_key(&id, &checker, grace, now)
                    .map_err(|e| ApiError::store(&e))?;
                let catalog = checker.policy().catalog();
                let successor = key_json(&rotation.successor.record, catalog, None);
                let previous = key_json(&rotation.predecessor, catalog, last_used(&store, &id));
                Ok((successor, rotation.successor.key, previous))
            })
            .await?;
            service.log.event(
                "key_rotated",
                json!({"key": previous["display"], "successor": successor["display"], "actor": actor.as_str()}),
            );
            let body = json!({"key": successor, "secret": secret.expose(), "previous": previous});
            (StatusCode::CREATED, body)
        }
    };
    Ok(json_response(status, &value.to_string()))
}

enum Target {
    Collection,
    Key(KeyId),
    Revoke(KeyId),
    Rotate(KeyId),
}

fn parse_id(text: &str) -> Result<KeyId, ApiError> {
    KeyId::parse(text).map_err(|_| ApiError::not_found())
}

/// A query parameter's value (percent-decoding `%XX` and `+`); the first one.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let params = portcullis::oauth::Params::parse(query?).ok()?;
    params.get(name).map(str::to_owned)
}

/// The key to issue from a creation body: the core checks every field.
fn create_spec(
    principal: &Principal,
    mut body: serde_json::Map<String, Value>,
) -> Result<KeySpec, ApiError> {
    let name = match body.remove("name") {
        Some(Value::String(name)) => name.trim().to_owned(),
        _ => return Err(ApiError::bad("\"name\" must be a string")),
    };
    let scopes = match body.remove("scopes") {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::bad("\"scopes\" must be an array of strings")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(ApiError::bad("\"scopes\" must be an array of strings")),
    };
    if scopes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_permissions",
            "Choose at least one permission",
        ));
    }
    let owner = match (principal, body.remove("owner")) {
        (Principal::Member { org, .. }, None) => org.clone(),
        (Principal::Member { org, .. }, Some(Value::String(o))) if &o == org => o,
        (Principal::Member { .. }, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "owner_forbidden",
                "A key can only be created for your own organisation",
            ));
        }
        (Principal::Admin, Some(Value::String(o))) => o,
        (Principal::Admin, _) => {
            return Err(ApiError::bad("\"owner\" (the organisation) is required"));
        }
    };
    let mut spec = KeySpec::new(&name, &owner, scopes);
    match body.remove("ttl_days") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => match n.as_u64() {
            Some(days @ 1..=MAX_TTL_DAYS) => spec = spec.with_ttl(days * 86_400),
            _ => {
                return Err(ApiError::bad(format!(
                    "\"ttl_days\" must be 1-{MAX_TTL_DAYS}, or null for no expiry"
                )));
            }
        },
        Some(_) => return Err(ApiError::bad("\"ttl_days\" must be a number of days")),
    }
    if let Some(unknown) = body.keys().next() {
        return Err(ApiError::bad(format!("unknown field {unknown:?}")));
    }
    Ok(spec)
}

/// The grace period of a rotation body.
fn grace_of(body: &serde_json::Map<String, Value>) -> Result<u64, ApiError> {
    match body.get("grace_seconds") {
        None | Some(Value::Null) => Ok(DEFAULT_GRACE),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|g| *g <= MAX_GRACE)
            .ok_or_else(|| ApiError::bad(format!("\"grace_seconds\" must be 0-{MAX_GRACE}"))),
        Some(_) => Err(ApiError::bad("\"grace_seconds\" must be a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn secret(byte: u8) -> HostSecret {
        HostSecret::from_bytes(&[byte; 32]).expect("32 bytes")
    }

    #[test]
    fn org_assertions_verify_and_refuse_forgeries() {
        let s = secret(1);
        let a = assert_org(&s, "acme", "ann", 1000).expect("mint");
        assert_eq!(
            verify_org(&s, a.as_bytes(), 999),
            Ok(("acme".to_owned(), "ann".to_owned()))
        );
        use crate::assertion::AssertionError as E;
        assert_eq!(verify_org(&s, a.as_bytes(), 1000), Err(E::Expired));
        assert_eq!(
            verify_org(&secret(2), a.as_bytes(), 1),
            Err(E::BadSignature)
        );
        let other = a.replacen(
            &URL_SAFE_NO_PAD.encode("acme"),
            &URL_SAFE_NO_PAD.encode("evil"),
            1,
        );
        assert_eq!(verify_org(&s, other.as_bytes(), 1), Err(E::BadSignature));
        // A user assertion is not an organisation assertion, nor the reverse.
        let user = s.assert_user("ann", 1000).expect("mint");
        assert_eq!(verify_org(&s, user.as_bytes(), 1), Err(E::Malformed));
        assert!(s.verify(a.as_bytes(), 1).is_err());
        assert_eq!(verify_org(&s, b"o2.a.b.1.x", 1), Err(E::Version));
        assert_eq!(assert_org(&s, "", "ann", 1), Err(E::BadUser));
    }

    #[test]
    fn csrf_tokens_bind_user_org_and_time() {
        let s = secret(3);
        let t = csrf_token(&s, "ann", "acme", 100);
        assert!(csrf_matches(&s, "ann", "acme", t.as_bytes(), 101));
        assert!(!csrf_matches(
            &s,
            "ann",
            "acme",
            t.as_bytes(),
            100 + CSRF_TTL
        ));
        assert!(!csrf_matches(&s, "bob", "acme", t.as_bytes(), 101));
        assert!(!csrf_matches(&s, "ann", "other", t.as_bytes(), 101));
        assert!(!csrf_matches(&secret(4), "ann", "acme", t.as_bytes(), 101));
        for bad in ["", "1", "x.y", "99999999.AAAA"] {
            assert!(!csrf_matches(&s, "ann", "acme", bad.as_bytes(), 1), "{bad}");
        }
    }

    #[test]
    fn paths_are_owned_exactly() {
        for p in [
            "/api/keys",
            "/api/keys/x/rotate",
            "/settings/api-keys",
            "/settings/api-keys/assets/keys.js",
        ] {
            assert!(owns(p), "{p}");
        }
        for p in [
            "/api/keysx",
            "/api",
            "/settings",
            "/settings/api-keys-x",
            "/oauth/token",
        ] {
            assert!(!owns(p), "{p}");
        }
    }

    #[test]
    fn creation_bodies_are_translated_not_judged() {
        let member = Principal::Member {
            user: "ann".into(),
            org: "acme".into(),
        };
        let body = |v: Value| v.as_object().cloned().expect("object");
        let spec = create_spec(
            &member,
            body(json!({"name": "Production Integration", "scopes": ["claims:read"], "ttl_days": 90})),
        )
        .expect("spec");
        assert_eq!((spec.owner.as_str(), spec.ttl), ("acme", Some(90 * 86_400)));
        let other = create_spec(
            &member,
            body(json!({"name": "x", "scopes": ["a"], "owner": "evil"})),
        );
        assert_eq!(other.map_err(|e| e.code), Err("owner_forbidden"));
        let admin = create_spec(
            &Principal::Admin,
            body(json!({"name": "x", "scopes": ["a"]})),
        );
        assert_eq!(admin.map_err(|e| e.code), Err("invalid_request"));
        let none = create_spec(&member, body(json!({"name": "x", "scopes": []})));
        assert_eq!(none.map_err(|e| e.code), Err("no_permissions"));
        let extra = create_spec(
            &member,
            body(json!({"name": "x", "scopes": ["a"], "env": "t"})),
        );
        assert_eq!(extra.map_err(|e| e.code), Err("invalid_request"));
        assert_eq!(grace_of(&body(json!({}))), Ok(DEFAULT_GRACE));
        assert!(grace_of(&body(json!({"grace_seconds": MAX_GRACE + 1}))).is_err());
    }
}
