//! Envoy's gRPC external authorization: `envoy.service.auth.v3.Authorization/Check`, served
//! on [`ServeConfig::grpc_listen`](crate::ServeConfig::grpc_listen) (HTTP/2 without TLS;
//! `portcullis serve --grpc 127.0.0.1:7879`).
//!
//! # What Envoy sends
//!
//! The `envoy.filters.http.ext_authz` filter with a `grpc_service` and
//! `transport_api_version: V3` sends, for every request it guards, a `CheckRequest` whose
//! `attributes` carry:
//! - `request.http.method`, `request.http.path` (the request target as the client sent it,
//!   path and query, undecoded), `host`, `scheme` (`http` or `https`) and `headers` (a map,
//!   keys lowercased, repeated headers joined with commas), or with `encode_raw_headers:
//!   true` `header_map` (a list, repeated headers kept apart); `query` and `fragment` are
//!   always empty;
//! - `source.address.socket_address.address`: the downstream client's address.
//!
//! # How it is read
//!
//! Into the same [`Original`] as forward auth ([`Style::Grpc`]), then
//! [`Service::decide`] with endpoint `grpc`:
//! - only a peer in [`trusted_proxies`](crate::ServeConfig::trusted_proxies) is answered
//!   (else a denial, 403 `untrusted_proxy`): the attributes name the request decided, so
//!   whoever may send them chooses the decision's inputs;
//! - the path is split at the first `?`; a target that does not start with `/` is 400;
//! - HTTPS: `scheme` is `https`, or the `x-forwarded-proto` header is (a value other than
//!   `http` or `https` is 400);
//! - the client: the source address, else the peer's;
//! - `authorization` (any letter case) and `x-forwarded-proto` are read once: a header that
//!   appears twice (`header_map`, or two keys differing in case), both header forms in one
//!   request, or no `request.http` at all is a denial with 400 `invalid_request`.
//!
//! # What we answer
//!
//! Always a `CheckResponse` (never an RPC error, which Envoy would treat as the service
//! failing and pass to `failure_mode_allow`), the one [`Verdict`] translated:
//! - allowed: `status` OK and `ok_response.headers` with `x-portcullis-key-id`, `-owner`
//!   and `-scopes` (always all three, empty when absent), each `OVERWRITE_IF_EXISTS_OR_ADD`
//!   so a client's own copy never reaches the upstream; the rate-limit fields
//!   (`RateLimit-Policy`, `RateLimit`) in `ok_response.response_headers_to_add`, for the
//!   client;
//! - denied: `status` UNAUTHENTICATED (401), PERMISSION_DENIED (403), INVALID_ARGUMENT
//!   (400), RESOURCE_EXHAUSTED (429) or UNAVAILABLE (503), and `denied_response` with the
//!   HTTP status, `WWW-Authenticate`, `Retry-After`, the rate-limit fields,
//!   `Content-Type: application/json`, `Cache-Control: no-store` and the JSON body. Envoy
//!   sends the client `denied_response.status` (403 when unset) whatever non-OK code
//!   `status` holds; the code is for Envoy's stats and traces. `X-Portcullis-Status` is
//!   left out: it exists for proxies that rewrite statuses, and this status arrives
//!   as sent.
//!
//! # Bounds
//!
//! A `CheckRequest` of at most [`Bounds::max_body_bytes`](crate::Bounds::max_body_bytes)
//! (64 KiB; larger is refused with RESOURCE_EXHAUSTED before decoding), HTTP/2 header lists
//! of at most `max_header_bytes`, [`MAX_STREAMS`] concurrent calls per connection,
//! `max_connections` connections, `request_timeout` per decision (then DEADLINE_EXCEEDED,
//! Envoy's `status_on_error`), keep-alive pings to drop dead peers, and the same graceful
//! shutdown as HTTP.
//!
//! # Envoy's configuration
//!
//! `docs/envoy-grpc.yaml` holds a complete example; the parts that matter:
//!
//! ```yaml
//! http_filters:
//!   - name: envoy.filters.http.ext_authz
//!     typed_config:
//!       "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
//!       transport_api_version: V3
//!       failure_mode_allow: false
//!       grpc_service:
//!         envoy_grpc: { cluster_name: portcullis }
//!         timeout: 0.25s
//!   - name: envoy.filters.http.router
//!     typed_config:
//!       "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
//! clusters:
//!   - name: portcullis
//!     type: STATIC
//!     typed_extension_protocol_options:
//!       envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
//!         "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
//!         explicit_http_config: { http2_protocol_options: {} }
//!     load_assignment:
//!       cluster_name: portcullis
//!       endpoints:
//!         - lb_endpoints:
//!             - endpoint:
//!                 address: { socket_address: { address: 127.0.0.1, port_value: 7879 } }
//! ```

use crate::forwarded::{Original, Style};
use crate::service::Service;
use crate::verdict::{IDENTITY_HEADERS, STATUS_HEADER, Verdict};
use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, DeniedHttpResponse,
    HeaderAppendAction, HeaderValue, HeaderValueOption, HttpResponse, HttpStatus, OkHttpResponse,
};
use envoy_types::pb::envoy::config::core::v3::address;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::google::rpc;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tonic::codegen::Service as _;

/// Concurrent calls on one HTTP/2 connection (Envoy multiplexes its checks over a few).
pub const MAX_STREAMS: u32 = 1024;

/// How often an idle connection is pinged, and how long a ping may go unanswered.
const KEEPALIVE: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(20));

/// The gRPC status codes of a denial (`google.rpc.Code`).
mod code {
    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// Why a `CheckRequest` does not say what it asks about (400; the texts name fields and
/// headers only, never their values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// `attributes.request.http` is missing.
    #[error("the CheckRequest has no attributes.request.http")]
    NoHttp,
    /// The method is empty.
    #[error("the CheckRequest names no HTTP method")]
    NoMethod,
    /// The path is not an origin-form target (`/path?query`).
    #[error("the CheckRequest's path does not start with '/'")]
    NotOriginForm,
    /// A query both in `path` and in `query`.
    #[error("the CheckRequest carries a query both in path and in query")]
    TwoQueries,
    /// Both `headers` and `header_map` are set.
    #[error("the CheckRequest carries both headers and header_map")]
    TwoHeaderForms,
    /// A header the decision reads appears twice.
    #[error("the header {0} is repeated")]
    RepeatedHeader(&'static str),
    /// `x-forwarded-proto` is neither `http` nor `https`.
    #[error("x-forwarded-proto is neither 'http' nor 'https'")]
    BadProto,
}

impl CheckError {
    /// A stable snake_case name, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CheckError::NoHttp => "no_http_attributes",
            CheckError::NoMethod => "no_method",
            CheckError::NotOriginForm => "bad_forwarded_uri",
            CheckError::TwoQueries => "two_queries",
            CheckError::TwoHeaderForms => "two_header_forms",
            CheckError::RepeatedHeader(_) => "bad_forwarded_header",
            CheckError::BadProto => "bad_forwarded_proto",
        }
    }
}

/// Reads the original request of a `CheckRequest` that `peer` sent. The caller has checked
/// that `peer` is trusted.
pub fn original(check: &CheckRequest, peer: IpAddr) -> Result<Original<'_>, CheckError> {
    let attributes = check.attributes.as_ref();
    let http = attributes
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref())
        .ok_or(CheckError::NoHttp)?;
    if http.method.is_empty() {
        return Err(CheckError::NoMethod);
    }
    if !http.path.starts_with('/') {
        return Err(CheckError::NotOriginForm);
    }
    let (path, query) = match http.path.split_once('?') {
        Some(_) if !http.query.is_empty() => return Err(CheckError::TwoQueries),
        Some((path, query)) => (path, Some(query)),
        None if !http.query.is_empty() => (http.path.as_str(), Some(http.query.as_str())),
        None => (http.path.as_str(), None),
    };
    if http.header_map.is_some() && !http.headers.is_empty() {
        return Err(CheckError::TwoHeaderForms);
    }
    let authorization = header(http, "authorization")?;
    let forwarded_https = match header(http, "x-forwarded-proto")? {
        None => false,
        Some(p) if p.eq_ignore_ascii_case(b"https") => true,
        Some(p) if p.eq_ignore_ascii_case(b"http") => false,
        Some(_) => return Err(CheckError::BadProto),
    };
    let source = attributes
        .and_then(|a| a.source.as_ref())
        .and_then(|s| s.address.as_ref())
        .and_then(|a| a.address.as_ref())
        .and_then(|a| match a {
            address::Address::SocketAddress(socket) => socket.address.parse::<IpAddr>().ok(),
            _ => None,
        });
    Ok(Original {
        style: Style::Grpc,
        method: &http.method,
        path,
        query,
        authorization,
        https: http.scheme.eq_ignore_ascii_case("https") || forwarded_https,
        client: source.unwrap_or(peer),
    })
}

/// The one value of header `name` (lowercase), in either header form, matched without
/// regard to letter case; two are an error.
fn header<'a>(http: &'a HttpRequest, name: &'static str) -> Result<Option<&'a [u8]>, CheckError> {
    let mut found = None;
    let mut take = |key: &str, value: &'a [u8]| {
        if !key.eq_ignore_ascii_case(name) {
            return Ok(());
        }
        match found.replace(value) {
            Some(_) => Err(CheckError::RepeatedHeader(name)),
            None => Ok(()),
        }
    };
    match &http.header_map {
        Some(map) => {
            for h in &map.headers {
                let value = if h.raw_value.is_empty() {
                    h.value.as_bytes()
                } else {
                    &h.raw_value
                };
                take(&h.key, value)?;
            }
        }
        None => {
            for (key, value) in &http.headers {
                take(key, value.as_bytes())?;
            }
        }
    }
    Ok(found)
}

/// A verdict as Envoy's `CheckResponse` (see the module docs).
pub fn response(verdict: &Verdict) -> CheckResponse {
    if verdict.allowed() {
        let (identity, downstream): (Vec<_>, Vec<_>) = verdict
            .headers
            .iter()
            .partition(|(name, _)| IDENTITY_HEADERS.contains(name));
        return CheckResponse {
            status: Some(rpc::Status {
                code: code::OK,
                ..rpc::Status::default()
            }),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                headers: identity.iter().map(|(n, v)| set(n, v)).collect(),
                response_headers_to_add: downstream.iter().map(|(n, v)| set(n, v)).collect(),
                ..OkHttpResponse::default()
            })),
            dynamic_metadata: None,
        };
    }
    let mut headers: Vec<HeaderValueOption> = verdict
        .headers
        .iter()
        .filter(|(name, _)| *name != STATUS_HEADER)
        .map(|(n, v)| set(n, v))
        .collect();
    if verdict.body.is_some() {
        headers.push(set("content-type", "application/json"));
    }
    headers.push(set("cache-control", "no-store"));
    CheckResponse {
        status: Some(rpc::Status {
            code: grpc_code(verdict.status),
            message: verdict.reason.to_owned(),
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: i32::from(verdict.status),
            }),
            headers,
            body: verdict.body.clone().unwrap_or_default(),
        })),
        dynamic_metadata: None,
    }
}

/// A header that replaces any copy already present (an empty value is kept, not dropped).
fn set(name: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_owned(),
            value: value.to_owned(),
            ..HeaderValue::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        keep_empty_value: true,
        ..HeaderValueOption::default()
    }
}

/// The gRPC code of a refusal's HTTP status.
fn grpc_code(status: u16) -> i32 {
    match status {
        400 => code::INVALID_ARGUMENT,
        401 => code::UNAUTHENTICATED,
        429 => code::RESOURCE_EXHAUSTED,
        503 => code::UNAVAILABLE,
        _ => code::PERMISSION_DENIED,
    }
}

/// The connection's remote address, set on every request by [`serve_grpc`].
#[derive(Clone, Copy, Debug)]
struct Peer(SocketAddr);

/// The refusal of a peer outside the trusted proxies (as HTTP's).
fn untrusted() -> Verdict {
    Verdict::refused(
        403,
        "untrusted_proxy",
        "This address is not a trusted proxy",
    )
}

/// The `Authorization` service over the shared state.
#[derive(Clone, Debug)]
pub struct Check {
    service: Arc<Service>,
}

impl Check {
    /// The service deciding with `service`.
    pub fn new(service: Arc<Service>) -> Self {
        Check { service }
    }

    /// Answers one `CheckRequest` from `peer` (see the module docs).
    pub async fn answer(&self, check: &CheckRequest, peer: IpAddr, started: Instant) -> Verdict {
        let service = &self.service;
        if !service.config.trusted_proxies.trusts(peer) {
            service.log.event(
                "untrusted_proxy",
                serde_json::json!({"peer": peer.to_string(), "path": "grpc"}),
            );
            return untrusted();
        }
        match original(check, peer) {
            Ok(original) => service.decide("grpc", &original, started).await,
            Err(e) => {
                service
                    .metrics
                    .decision("grpc", e.code(), 400, started.elapsed());
                service.log.event(
                    "bad_forward",
                    serde_json::json!({"error": e.code(), "peer": peer.to_string(), "path": "grpc"}),
                );
                Verdict::refused(400, "invalid_request", &e.to_string())
            }
        }
    }
}

#[tonic::async_trait]
impl Authorization for Check {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let started = Instant::now();
        let peer = request
            .extensions()
            .get::<Peer>()
            .map(|p| p.0)
            .or_else(|| request.remote_addr());
        // A transport that cannot say who asks is not a trusted proxy.
        let Some(peer) = peer.map(|p| p.ip()) else {
            return Ok(tonic::Response::new(response(&untrusted())));
        };
        let check = request.into_inner();
        let timeout = self.service.config.bounds.request_timeout;
        match tokio::time::timeout(timeout, self.answer(&check, peer, started)).await {
            Ok(verdict) => Ok(tonic::Response::new(response(&verdict))),
            Err(_) => Err(tonic::Status::deadline_exceeded("no decision in time")),
        }
    }
}

/// Serves `Authorization/Check` (HTTP/2 only) on `listener` until `shutdown` completes, then
/// lets open calls finish for at most the configured grace.
pub async fn serve_grpc(
    service: Arc<Service>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let bounds = service.config.bounds;
    let max_message = bounds.max_body_bytes;
    let grpc = AuthorizationServer::new(Check::new(service.clone()))
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let mut builder = auto::Builder::new(TokioExecutor::new()).http2_only();
    builder
        .http2()
        .max_header_list_size(u32::try_from(bounds.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_STREAMS)
        .keep_alive_interval(KEEPALIVE.0)
        .keep_alive_timeout(KEEPALIVE.1)
        .timer(TokioTimer::new());
    let handler = move |peer: SocketAddr| {
        let grpc = grpc.clone();
        // The generated server is always ready (its poll_ready returns Ready), so it is
        // called directly.
        service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(Peer(peer));
            grpc.clone().call(request)
        })
    };
    crate::listen::accept(&service, listener, builder, "grpc", handler, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::{Address, HeaderMap, SocketAddress};
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
        Peer as EnvoyPeer, Request,
    };

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn check(http: HttpRequest, source: Option<&str>) -> CheckRequest {
        CheckRequest {
            attributes: Some(AttributeContext {
                source: source.map(|ip| EnvoyPeer {
                    address: Some(Address {
                        address: Some(address::Address::SocketAddress(SocketAddress {
                            address: ip.to_owned(),
                            ..SocketAddress::default()
                        })),
                    }),
                    ..EnvoyPeer::default()
                }),
                request: Some(Request {
                    http: Some(http),
                    ..Request::default()
                }),
                ..AttributeContext::default()
            }),
        }
    }

    fn http(method: &str, path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            host: "api.example.com".to_owned(),
            scheme: "http".to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..HttpRequest::default()
        }
    }

    #[test]
    fn envoy_attributes_become_the_original_request() {
        let c = check(
            http(
                "POST",
                "/v1/claims?page=2",
                &[
                    ("authorization", "Bearer x"),
                    ("x-forwarded-proto", "https"),
                ],
            ),
            Some("203.0.113.9"),
        );
        let o = original(&c, PEER).expect("original");
        assert_eq!(o.style, Style::Grpc);
        assert_eq!(
            (o.method, o.path, o.query),
            ("POST", "/v1/claims", Some("page=2"))
        );
        assert_eq!(o.authorization, Some(&b"Bearer x"[..]));
        assert!(o.https, "x-forwarded-proto: https");
        assert_eq!(o.client, IpAddr::from([203, 0, 113, 9]));

        let mut plain = http("GET", "/v1/claims", &[]);
        let c = check(plain.clone(), None);
        let o = original(&c, PEER).expect("original");
        assert!(!o.https);
        assert_eq!((o.client, o.query, o.authorization), (PEER, None, None));
        plain.scheme = "https".to_owned();
        assert!(original(&check(plain, None), PEER).expect("original").https);
    }

    #[test]
    fn raw_header_maps_are_read_and_repeats_refused() {
        let raw = |pairs: &[(&str, &[u8])]| {
            let mut h = http("GET", "/v1/claims", &[]);
            h.header_map = Some(HeaderMap {
                headers: pairs
                    .iter()
                    .map(|(k, v)| HeaderValue {
                        key: (*k).to_owned(),
                        raw_value: v.to_vec(),
                        ..HeaderValue::default()
                    })
                    .collect(),
            });
            check(h, None)
        };
        let one = raw(&[("authorization", b"Bearer a")]);
        assert_eq!(
            original(&one, PEER).expect("original").authorization,
            Some(&b"Bearer a"[..])
        );
        let two = raw(&[
            ("authorization", b"Bearer a"),
            ("authorization", b"Bearer b"),
        ]);
        assert_eq!(
            original(&two, PEER),
            Err(CheckError::RepeatedHeader("authorization"))
        );
        let cases = check(
            http(
                "GET",
                "/v1/claims",
                &[("authorization", "Bearer a"), ("Authorization", "Bearer b")],
            ),
            None,
        );
        assert_eq!(
            original(&cases, PEER),
            Err(CheckError::RepeatedHeader("authorization"))
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        let no = |c: CheckRequest| original(&c, PEER).expect_err("refused");
        assert_eq!(no(CheckRequest::default()), CheckError::NoHttp);
        assert_eq!(no(check(http("", "/a", &[]), None)), CheckError::NoMethod);
        assert_eq!(
            no(check(http("GET", "http://h/a", &[]), None)),
            CheckError::NotOriginForm
        );
        assert_eq!(
            no(check(
                http("GET", "/a", &[("x-forwarded-proto", "https, http")]),
                None
            )),
            CheckError::BadProto
        );
        let mut both = http("GET", "/a?x=1", &[]);
        both.query = "y=2".to_owned();
        assert_eq!(no(check(both, None)), CheckError::TwoQueries);
    }

    #[test]
    fn verdicts_become_check_responses() {
        let allowed = Verdict {
            status: 200,
            reason: "allowed",
            detail: None,
            key_id: None,
            headers: vec![
                (IDENTITY_HEADERS[0], "abc".to_owned()),
                (IDENTITY_HEADERS[1], String::new()),
                (IDENTITY_HEADERS[2], "claims:read".to_owned()),
                ("ratelimit", "\"default\";r=9;t=60".to_owned()),
            ],
            body: None,
        };
        let r = response(&allowed);
        assert_eq!(r.status.as_ref().map(|s| s.code), Some(code::OK));
        let Some(HttpResponse::OkResponse(ok)) = r.http_response else {
            panic!("an ok response");
        };
        let names = |h: &[HeaderValueOption]| {
            h.iter()
                .filter_map(|h| h.header.as_ref().map(|h| h.key.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&ok.headers), IDENTITY_HEADERS);
        assert_eq!(names(&ok.response_headers_to_add), ["ratelimit"]);
        assert!(ok.headers.iter().all(|h| h.append_action
            == HeaderAppendAction::OverwriteIfExistsOrAdd as i32
            && h.keep_empty_value));

        let denied = Verdict::refused(429, "rate_limited", "slow down");
        let r = response(&denied);
        assert_eq!(
            r.status.as_ref().map(|s| s.code),
            Some(code::RESOURCE_EXHAUSTED)
        );
        let Some(HttpResponse::DeniedResponse(no)) = r.http_response else {
            panic!("a denied response");
        };
        assert_eq!(no.status.map(|s| s.code), Some(429));
        assert!(no.body.contains("rate_limited"), "{}", no.body);
        assert_eq!(names(&no.headers), ["content-type", "cache-control"]);
    }
}
