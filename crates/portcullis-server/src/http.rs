//! The HTTP endpoints: routing, forward auth, health and metrics, and the helpers every
//! endpoint answers with.

use crate::forwarded::{self, ENVOY_PREFIX};
use crate::service::Service;
use crate::verdict::{IDENTITY_HEADERS, STATUS_HEADER, Verdict};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The body of every response.
pub type Body = Full<Bytes>;

/// Answers one request. Never fails: every error is a response.
pub async fn handle<B>(
    service: Arc<Service>,
    request: Request<B>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let path = request.uri().path();
    if path == "/auth" || path.starts_with(ENVOY_PREFIX) {
        // No timer on the hot path: only a cache miss waits, and `decide` bounds that wait.
        return Ok(forward_auth(&service, &request, peer, started).await);
    }
    let timeout = service.config.bounds.request_timeout;
    // Boxed: the other endpoints' state is large, and a request's future is moved by value.
    let answer = tokio::time::timeout(timeout, Box::pin(route(&service, request, peer))).await;
    Ok(answer.unwrap_or_else(|_| {
        json_response(
            StatusCode::REQUEST_TIMEOUT,
            r#"{"error":"request_timeout"}"#,
        )
    }))
}

async fn route<B>(service: &Service, request: Request<B>, peer: SocketAddr) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = request.uri().path();
    match path {
        "/healthz" => health(service, request.method()).await,
        "/metrics" => metrics(service, request.method()),
        _ if crate::keys_api::owns(path) => crate::keys_api::route(service, request, peer).await,
        _ => match crate::oauth::route(service, request, peer).await {
            Some(response) => response,
            None => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
        },
    }
}

/// `/auth` and `/auth/envoy/…`: may the request the proxy describes pass?
async fn forward_auth<B>(
    service: &Service,
    request: &Request<B>,
    peer: SocketAddr,
    started: Instant,
) -> Response<Body> {
    let peer = peer.ip();
    if !service.config.trusted_proxies.trusts(peer) {
        service.log.event(
            "untrusted_proxy",
            serde_json::json!({"peer": peer.to_string(), "path": "/auth"}),
        );
        return verdict_response(Verdict::refused(
            403,
            "untrusted_proxy",
            "This address is not a trusted proxy",
        ));
    }
    let uri = request.uri();
    let original = match forwarded::original(
        request.method().as_str(),
        uri.path(),
        uri.query(),
        request.headers(),
        peer,
    ) {
        Ok(original) => original,
        Err(e) => {
            service
                .metrics
                .decision("auth", e.code(), 400, started.elapsed());
            service.log.event(
                "bad_forward",
                serde_json::json!({"error": e.code(), "peer": peer.to_string()}),
            );
            return verdict_response(Verdict::refused(400, "invalid_request", &e.to_string()));
        }
    };
    let endpoint = match original.style {
        forwarded::Style::Envoy => "auth_envoy",
        _ => "auth",
    };
    let verdict = service.decide(endpoint, &original, started).await;
    verdict_response(verdict)
}

/// A verdict as an HTTP response (its strings become the header values without a copy).
pub fn verdict_response(verdict: Verdict) -> Response<Body> {
    let json = verdict.body.is_some();
    let body = verdict.body.map_or_else(Bytes::new, Bytes::from);
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(verdict.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in verdict.headers {
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
            headers.insert(header_name(name), value);
        }
    }
    // A refusal may reach the client (Traefik, Caddy, Envoy pass it on): never cached. An
    // allowed answer goes to the proxy alone, which does not cache it unless told to.
    if json {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The names a verdict carries, parsed once (parsing a name per response costs more than
/// the rest of the response).
static VERDICT_HEADERS: [(&str, HeaderName); 8] = [
    (
        IDENTITY_HEADERS[0],
        HeaderName::from_static(IDENTITY_HEADERS[0]),
    ),
    (
        IDENTITY_HEADERS[1],
        HeaderName::from_static(IDENTITY_HEADERS[1]),
    ),
    (
        IDENTITY_HEADERS[2],
        HeaderName::from_static(IDENTITY_HEADERS[2]),
    ),
    (STATUS_HEADER, HeaderName::from_static(STATUS_HEADER)),
    ("www-authenticate", http::header::WWW_AUTHENTICATE),
    ("retry-after", http::header::RETRY_AFTER),
    (
        "ratelimit-policy",
        HeaderName::from_static("ratelimit-policy"),
    ),
    ("ratelimit", HeaderName::from_static("ratelimit")),
];

/// The header name of a verdict's header.
fn header_name(name: &'static str) -> HeaderName {
    VERDICT_HEADERS
        .iter()
        .find(|(known, _)| *known == name)
        .map_or_else(
            || HeaderName::from_static(name),
            |(_, header)| header.clone(),
        )
}

/// `/healthz`: 200 `ok` while the store's cache is current; 200 `degraded` while it is not
/// but the database answers (decisions read it directly); 503 `unavailable` when neither
/// can vouch for a decision (every check would be 503), so a load balancer takes the
/// instance out.
async fn health(service: &Service, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let feed = service.store.feed_status();
    let (status, state) = if feed.fresh {
        (StatusCode::OK, "ok")
    } else if database_answers(service).await {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = serde_json::json!({
        "status": state,
        "feed": {"fresh": feed.fresh, "last_seq": feed.last_seq, "applied": feed.applied, "resyncs": feed.resyncs},
    });
    json_response(status, &body.to_string())
}

/// Whether the database answers a lookup (of an id no key has), on a blocking thread.
async fn database_answers(service: &Service) -> bool {
    use portcullis::KeyLookup;
    let Ok(id) = portcullis::KeyId::parse("0000000000000000") else {
        return false;
    };
    let store = service.store.clone();
    matches!(
        tokio::task::spawn_blocking(move || store.lookup(&id)).await,
        Ok(Ok(_))
    )
}

/// `/metrics`: the Prometheus text.
fn metrics(service: &Service, method: &Method) -> Response<Body> {
    if method != Method::GET {
        return method_not_allowed("GET");
    }
    let mut response = Response::new(Full::new(Bytes::from(service.metrics.render())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// A JSON response that no cache keeps.
pub fn json_response(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML page that no cache keeps, no frame shows and no other site is told of, under
/// `csp` (one that cannot be a header value is replaced by `default-src 'none'`: a page
/// never goes out with a weaker policy than asked).
pub fn html_response(status: StatusCode, page: String, csp: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    let csp = HeaderValue::from_str(csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    headers.insert("content-security-policy", csp);
    response
}

/// Two different values of one cookie: which one the host meant cannot be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmbiguousCookie;

/// The value of cookie `name` from every `Cookie` header (quotes removed); two different
/// values are refused.
pub fn cookie(headers: &http::HeaderMap, name: &str) -> Result<Option<Vec<u8>>, AmbiguousCookie> {
    let mut found: Option<&[u8]> = None;
    for header in headers.get_all(http::header::COOKIE) {
        for pair in header.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if &pair[..eq] != name.as_bytes() {
                continue;
            }
            let value = &pair[eq + 1..];
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            match found {
                Some(seen) if seen != value => return Err(AmbiguousCookie),
                _ => found = Some(value),
            }
        }
    }
    Ok(found.map(<[u8]>::to_vec))
}

/// 405 with `Allow`.
pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        r#"{"error":"method_not_allowed"}"#,
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Reads a request body of at most `max` bytes; past it, the 413 to answer.
pub async fn read_body<B>(body: B, max: usize) -> Result<Bytes, Response<Body>>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"error":"invalid_request","error_description":"The request body is too large"}"#,
            ))
        }
        Err(_) => Err(json_response(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_request","error_description":"The request body could not be read"}"#,
        )),
    }
}
