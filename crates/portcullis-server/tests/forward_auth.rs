//! `/auth` as each proxy calls it, on a real server: the statuses, the identity headers,
//! the challenge, trusted proxies and ambiguous paths.

mod common;

use common::{CLAIMPORT, TestServer};
use portcullis_server::{Cidr, ServeConfig, TrustedProxies};

fn nginx(server: &TestServer, method: &str, uri: &str, auth: Option<&str>) -> common::Reply {
    let auth = auth.map_or_else(String::new, |a| format!("\nAuthorization: Bearer {a}"));
    server.send(
        &format!(
            "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: {uri}\nX-Original-Method: {method}\nX-Forwarded-Proto: https{auth}"
        ),
        b"",
    )
}

#[test]
fn nginx_requests_are_decided_by_the_policy() {
    let server = TestServer::start(CLAIMPORT);
    let key = server.key("acme", &["claims:read"]);

    let allowed = nginx(&server, "GET", "/v1/claims?page=2", Some(&key));
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.header("x-portcullis-owner"), Some("acme"));
    assert_eq!(allowed.header("x-portcullis-scopes"), Some("claims:read"));
    assert_eq!(
        allowed.header("x-portcullis-key-id").map(str::len),
        Some(16),
        "the key id"
    );

    let missing = nginx(&server, "GET", "/v1/claims", None);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"claimport\"")
    );
    assert_eq!(missing.header("x-portcullis-owner"), None);

    let write = nginx(&server, "POST", "/v1/claims", Some(&key));
    assert_eq!(write.status, 403);
    let challenge = write.header("www-authenticate").expect("challenge");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"claims:write\""), "{challenge}");
    assert_eq!(write.header("x-portcullis-status"), Some("403"));

    let wrong = nginx(
        &server,
        "GET",
        "/v1/claims",
        Some(&key.replace("sk_live_", "sk_test_")),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "invalid_token");
}

#[test]
fn identity_headers_are_always_set_and_empty_on_public_routes() {
    let server = TestServer::start(CLAIMPORT);
    let public = nginx(&server, "GET", "/health", None);
    assert_eq!(public.status, 200);
    for name in [
        "x-portcullis-key-id",
        "x-portcullis-owner",
        "x-portcullis-scopes",
    ] {
        assert_eq!(public.header(name), Some(""), "{name}");
    }
}

#[test]
fn traefik_caddy_and_envoy_shapes_are_understood() {
    let server = TestServer::start(CLAIMPORT);
    let key = server.key("acme", &["claims:write"]);
    let forwarded = server.send(
        &format!(
            "GET /auth HTTP/1.1\nHost: a\nX-Forwarded-Method: POST\nX-Forwarded-Uri: /v1/claims\nX-Forwarded-Proto: https\nX-Forwarded-For: 198.51.100.4\nAuthorization: Bearer {key}"
        ),
        b"",
    );
    assert_eq!(forwarded.status, 200, "{}", forwarded.text());
    let envoy = server.send(
        &format!(
            "POST /auth/envoy/v1/claims HTTP/1.1\nHost: a\nX-Forwarded-Proto: https\nAuthorization: Bearer {key}"
        ),
        b"",
    );
    assert_eq!(envoy.status, 200, "{}", envoy.text());
    let envoy_denied = server.send(
        "DELETE /auth/envoy/v1/claims/7 HTTP/1.1\nHost: a\nX-Forwarded-Proto: https",
        b"",
    );
    assert_eq!(envoy_denied.status, 401);
}

#[test]
fn plain_http_is_refused_when_the_policy_requires_https() {
    let server = TestServer::start(CLAIMPORT);
    let key = server.key("acme", &["claims:read"]);
    let reply = server.send(
        &format!(
            "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: /v1/claims\nX-Forwarded-Proto: http\nAuthorization: Bearer {key}"
        ),
        b"",
    );
    assert_eq!(reply.status, 400);
}

#[test]
fn ambiguous_and_repeated_forwarded_values_are_refused() {
    let server = TestServer::start(CLAIMPORT);
    let key = server.key("acme", &["claims:read"]);
    for uri in [
        "/v1/claims/../admin",
        "/v1/claims/%2e%2e/x",
        "/v1//claims",
        "/v1/claims%2Fx",
    ] {
        let reply = nginx(&server, "GET", uri, Some(&key));
        assert_eq!(reply.status, 400, "{uri}: {}", reply.text());
    }
    let twice = server.send(
        "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: /health\nX-Original-URI: /v1/claims",
        b"",
    );
    assert_eq!(twice.status, 400);
    let none = server.send("GET /auth HTTP/1.1\nHost: a", b"");
    assert_eq!(none.status, 400);
    assert_eq!(none.json()["error"], "invalid_request");
}

#[test]
fn only_trusted_proxies_are_answered() {
    let config = ServeConfig {
        trusted_proxies: TrustedProxies::new(vec!["10.0.0.0/8".parse::<Cidr>().expect("net")])
            .expect("proxies"),
        ..ServeConfig::default()
    };
    let server = TestServer::start_with(CLAIMPORT, config, |c| c);
    let reply = nginx(&server, "GET", "/health", None);
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["error"], "untrusted_proxy");
}

#[test]
fn health_and_metrics_report() {
    let server = TestServer::start(CLAIMPORT);
    let key = server.key("acme", &["claims:read"]);
    assert_eq!(nginx(&server, "GET", "/v1/claims", Some(&key)).status, 200);
    assert_eq!(nginx(&server, "GET", "/v1/claims", None).status, 401);
    let health = server.send("GET /healthz HTTP/1.1\nHost: a", b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let metrics = server.send("GET /metrics HTTP/1.1\nHost: a", b"").text();
    assert!(
        metrics.contains(
            "portcullis_decisions_total{endpoint=\"auth\",reason=\"allowed\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("reason=\"missing_credential\",status=\"401\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_decision_seconds_count 2"),
        "{metrics}"
    );
}

#[test]
fn oversized_headers_are_refused() {
    let server = TestServer::start(CLAIMPORT);
    let big = "a".repeat(20 * 1024);
    let reply = server.send(&format!("GET /auth HTTP/1.1\nHost: a\nX-Big: {big}"), b"");
    assert_eq!(reply.status, 431);
}

#[test]
fn a_revoked_key_is_refused_at_once() {
    let server = TestServer::start(CLAIMPORT);
    let key = server.key("acme", &["claims:read"]);
    assert_eq!(nginx(&server, "GET", "/v1/claims", Some(&key)).status, 200);
    let id = portcullis::KeyId::parse(&key[8..24]).expect("id");
    let already = server
        .store
        .revoke_key(&id, portcullis::Timestamp::now())
        .expect("revoke");
    assert!(!already);
    assert_eq!(nginx(&server, "GET", "/v1/claims", Some(&key)).status, 401);
}

#[test]
fn limits_answer_429_with_retry_after_and_the_rate_limit_fields() {
    let policy = format!(
        "{CLAIMPORT}\n[[limits]]\nname = \"per_key\"\nper = \"key\"\nrate = 2\nwindow = 60\nburst = 2\n"
    );
    let limits = portcullis::limit::LocalLimits::new(64).expect("limits");
    let server = TestServer::start_with(&policy, ServeConfig::default(), |c| {
        c.with_limits(std::sync::Arc::new(limits))
    });
    let key = server.key("acme", &["claims:read"]);
    for _ in 0..2 {
        let ok = nginx(&server, "GET", "/v1/claims", Some(&key));
        assert_eq!(ok.status, 200);
        assert!(
            ok.header("ratelimit-policy")
                .is_some_and(|p| p.contains("per_key"))
        );
    }
    let limited = nginx(&server, "GET", "/v1/claims", Some(&key));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("x-portcullis-status"), Some("429"));
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(limited.header("ratelimit").is_some());
    assert_eq!(limited.json()["error"], "rate_limited");
    // Unauthenticated requests spend nothing: still 401, not 429.
    assert_eq!(nginx(&server, "GET", "/v1/claims", None).status, 401);
}

#[test]
fn usage_is_recorded_and_drained_to_the_store_when_the_server_stops() {
    let recorder = portcullis::usage::UsageRecorder::new(Default::default()).expect("recorder");
    let server = TestServer::start_with(CLAIMPORT, ServeConfig::default(), |c| {
        c.with_usage(std::sync::Arc::new(recorder))
    });
    let key = server.key("acme", &["claims:read"]);
    for _ in 0..3 {
        assert_eq!(nginx(&server, "GET", "/v1/claims", Some(&key)).status, 200);
    }
    let store = server.store.clone();
    drop(server);
    let id = portcullis::KeyId::parse(&key[8..24]).expect("id");
    let last = store.last_used_all().expect("last used");
    assert!(last.contains_key(&id), "{last:?}");
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use std::io::{Read, Write};
    let config = ServeConfig {
        bounds: portcullis_server::Bounds {
            header_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        },
        ..ServeConfig::default()
    };
    let server = TestServer::start_with(CLAIMPORT, config, |c| c);
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /auth HTTP/1.1\r\nHost: a\r\nX-Original-URI: /v1")
        .expect("write");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = stream.read_to_end(&mut rest);
    assert!(read.is_ok(), "the server closed the connection: {read:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}
