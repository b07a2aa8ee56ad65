//! Envoy's gRPC `Authorization/Check` on a real server, called by a tonic client with the
//! `CheckRequest`s Envoy sends: allowed with identity headers, refusals with their HTTP
//! status and challenge, ambiguity, trusted peers, revocation and metrics.

mod common;

use common::{CLAIMPORT, TestServer};
use envoy_types::ext_authz::v3::pb::{
    CheckRequest, CheckResponse, DeniedHttpResponse, HeaderAppendAction, HeaderValueOption,
    HttpResponse, OkHttpResponse,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, HeaderMap, HeaderValue, SocketAddress, address,
};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use portcullis_server::{Cidr, ServeConfig, TrustedProxies};
use std::net::SocketAddr;

const UNAUTHENTICATED: i32 = 16;
const PERMISSION_DENIED: i32 = 7;
const INVALID_ARGUMENT: i32 = 3;

fn grpc_server(config: ServeConfig) -> TestServer {
    let config = ServeConfig {
        grpc_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..config
    };
    TestServer::start_with(CLAIMPORT, config, |c| c)
}

/// The `CheckRequest` Envoy sends for `method path` from client 198.51.100.7 over HTTPS.
fn envoy(method: &str, path: &str, key: Option<&str>) -> CheckRequest {
    let mut headers = vec![
        (":authority", "api.example.com".to_owned()),
        ("x-forwarded-proto", "https".to_owned()),
        ("x-request-id", "4f1c7a9e".to_owned()),
    ];
    if let Some(key) = key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    let http = HttpRequest {
        id: "4f1c7a9e".to_owned(),
        method: method.to_owned(),
        path: path.to_owned(),
        host: "api.example.com".to_owned(),
        scheme: "https".to_owned(),
        protocol: "HTTP/1.1".to_owned(),
        size: -1,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..HttpRequest::default()
    };
    with_http(Some(http))
}

fn with_http(http: Option<HttpRequest>) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: "198.51.100.7".to_owned(),
                        ..SocketAddress::default()
                    })),
                }),
                ..Peer::default()
            }),
            request: Some(Request {
                http,
                ..Request::default()
            }),
            ..AttributeContext::default()
        }),
    }
}

/// Sends `requests` in order over one connection, as Envoy does.
fn call(server: &TestServer, requests: Vec<CheckRequest>) -> Vec<CheckResponse> {
    let addr = server.grpc.expect("a gRPC address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut client = AuthorizationClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let mut out = Vec::new();
        for request in requests {
            out.push(
                client
                    .check(request)
                    .await
                    .expect("a CheckResponse")
                    .into_inner(),
            );
        }
        out
    })
}

fn one(server: &TestServer, request: CheckRequest) -> CheckResponse {
    call(server, vec![request]).pop().expect("one response")
}

fn code(response: &CheckResponse) -> i32 {
    response.status.as_ref().expect("a status").code
}

fn allowed(response: CheckResponse) -> OkHttpResponse {
    match response.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok,
        other => panic!("not an ok response: {other:?}"),
    }
}

fn denied(response: CheckResponse) -> DeniedHttpResponse {
    match response.http_response {
        Some(HttpResponse::DeniedResponse(no)) => no,
        other => panic!("not a denied response: {other:?}"),
    }
}

fn header<'a>(headers: &'a [HeaderValueOption], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .find(|h| h.key == name)
        .map(|h| h.value.as_str())
}

fn http_status(no: &DeniedHttpResponse) -> i32 {
    no.status.as_ref().expect("an HTTP status").code
}

#[test]
fn allowed_requests_carry_the_identity_headers() {
    let server = grpc_server(ServeConfig::default());
    let key = server.key("acme", &["claims:read"]);
    let response = one(&server, envoy("GET", "/v1/claims?page=2", Some(&key)));
    assert_eq!(code(&response), 0, "{response:?}");
    let ok = allowed(response);
    assert_eq!(header(&ok.headers, "x-portcullis-owner"), Some("acme"));
    assert_eq!(
        header(&ok.headers, "x-portcullis-scopes"),
        Some("claims:read")
    );
    assert_eq!(
        header(&ok.headers, "x-portcullis-key-id"),
        Some(&key[8..24])
    );
    for h in &ok.headers {
        assert_eq!(
            h.append_action,
            HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
            "{h:?}"
        );
    }
    let public = allowed(one(&server, envoy("GET", "/health", None)));
    assert_eq!(header(&public.headers, "x-portcullis-owner"), Some(""));
}

#[test]
fn refusals_carry_the_status_challenge_and_body() {
    let server = grpc_server(ServeConfig::default());
    let key = server.key("acme", &["claims:read"]);
    let responses = call(
        &server,
        vec![
            envoy("GET", "/v1/claims", None),
            envoy("POST", "/v1/claims", Some(&key)),
        ],
    );
    let [missing, scope] = <[CheckResponse; 2]>::try_from(responses).expect("two");

    assert_eq!(code(&missing), UNAUTHENTICATED);
    let missing = denied(missing);
    assert_eq!(http_status(&missing), 401);
    assert_eq!(
        header(&missing.headers, "www-authenticate"),
        Some("Bearer realm=\"claimport\"")
    );
    assert_eq!(header(&missing.headers, "x-portcullis-owner"), None);

    assert_eq!(code(&scope), PERMISSION_DENIED);
    let scope = denied(scope);
    assert_eq!(http_status(&scope), 403);
    let challenge = header(&scope.headers, "www-authenticate").expect("challenge");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"claims:write\""), "{challenge}");
    assert_eq!(
        header(&scope.headers, "content-type"),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&scope.body).expect("a JSON body");
    assert_eq!(body["error"], "insufficient_scope");
}

#[test]
fn ambiguous_and_malformed_requests_are_400() {
    let server = grpc_server(ServeConfig::default());
    let key = server.key("acme", &["claims:read"]);
    let mut repeated = envoy("GET", "/v1/claims", None);
    if let Some(http) = repeated
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
    {
        http.headers.clear();
        http.header_map = Some(HeaderMap {
            headers: ["Bearer a", "Bearer b"]
                .into_iter()
                .map(|v| HeaderValue {
                    key: "authorization".to_owned(),
                    raw_value: v.as_bytes().to_vec(),
                    ..HeaderValue::default()
                })
                .collect(),
        });
    }
    let requests = vec![
        envoy("GET", "/v1/claims/../admin", Some(&key)),
        envoy("GET", "/v1//claims", Some(&key)),
        envoy("GET", "/v1/claims%2Fx", Some(&key)),
        with_http(None),
        repeated,
        envoy("GET", "v1/claims", Some(&key)),
    ];
    for (i, response) in call(&server, requests).into_iter().enumerate() {
        assert_eq!(code(&response), INVALID_ARGUMENT, "{i}: {response:?}");
        let no = denied(response);
        assert_eq!(http_status(&no), 400, "{i}");
        let body: serde_json::Value = serde_json::from_str(&no.body).expect("a JSON body");
        assert_eq!(body["error"], "invalid_request", "{i}");
    }
}

#[test]
fn only_trusted_proxies_are_answered() {
    let config = ServeConfig {
        trusted_proxies: TrustedProxies::new(vec!["10.0.0.0/8".parse::<Cidr>().expect("net")])
            .expect("proxies"),
        ..ServeConfig::default()
    };
    let server = grpc_server(config);
    let key = server.key("acme", &["claims:read"]);
    let response = one(&server, envoy("GET", "/v1/claims", Some(&key)));
    assert_eq!(code(&response), PERMISSION_DENIED);
    let no = denied(response);
    assert_eq!(http_status(&no), 403);
    let body: serde_json::Value = serde_json::from_str(&no.body).expect("a JSON body");
    assert_eq!(body["error"], "untrusted_proxy");
}

#[test]
fn a_revoked_key_is_refused_at_once() {
    let server = grpc_server(ServeConfig::default());
    let key = server.key("acme", &["claims:read"]);
    assert_eq!(
        code(&one(&server, envoy("GET", "/v1/claims", Some(&key)))),
        0
    );
    let id = portcullis::KeyId::parse(&key[8..24]).expect("id");
    let already = server
        .store
        .revoke_key(&id, portcullis::Timestamp::now())
        .expect("revoke");
    assert!(!already);
    let after = one(&server, envoy("GET", "/v1/claims", Some(&key)));
    assert_eq!(code(&after), UNAUTHENTICATED);
    assert_eq!(http_status(&denied(after)), 401);
}

#[test]
fn metrics_count_the_grpc_endpoint() {
    let server = grpc_server(ServeConfig::default());
    let key = server.key("acme", &["claims:read"]);
    call(
        &server,
        vec![
            envoy("GET", "/v1/claims", Some(&key)),
            envoy("GET", "/v1/claims", None),
            with_http(None),
        ],
    );
    let metrics = server.send("GET /metrics HTTP/1.1\nHost: a", b"").text();
    for line in [
        "portcullis_decisions_total{endpoint=\"grpc\",reason=\"allowed\",status=\"200\"} 1",
        "portcullis_decisions_total{endpoint=\"grpc\",reason=\"missing_credential\",status=\"401\"} 1",
        "portcullis_decisions_total{endpoint=\"grpc\",reason=\"no_http_attributes\",status=\"400\"} 1",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
}

#[test]
fn a_server_without_grpc_listen_serves_no_grpc() {
    let server = TestServer::start(CLAIMPORT);
    assert_eq!(server.grpc, None);
}

#[test]
fn an_oversized_check_request_is_refused_before_decoding() {
    let server = grpc_server(ServeConfig::default());
    let addr = server.grpc.expect("a gRPC address");
    let mut big = envoy("GET", "/v1/claims", None);
    if let Some(http) = big
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
    {
        http.body = "x".repeat(80 * 1024);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let status = runtime.block_on(async move {
        let mut client = AuthorizationClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        client.check(big).await.expect_err("too large")
    });
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
    // The connection and the server stay usable.
    assert_eq!(code(&one(&server, envoy("GET", "/health", None))), 0);
}

#[test]
fn stopping_does_not_wait_for_an_idle_envoy_connection() {
    let server = grpc_server(ServeConfig::default());
    let addr = server.grpc.expect("a gRPC address");
    // A worker keeps the client's connection task running, answering the server as Envoy.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client = runtime.block_on(async move {
        let mut client = AuthorizationClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let response = client
            .check(envoy("GET", "/health", None))
            .await
            .expect("a CheckResponse");
        assert_eq!(code(response.get_ref()), 0);
        client
    });
    // Envoy keeps its connection open; a graceful stop closes it rather than waiting out
    // the grace (10 s).
    let started = std::time::Instant::now();
    drop(server);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(client);
    drop(runtime);
}
