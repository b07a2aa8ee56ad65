//! The OAuth endpoints on a real server: sign-in, consent, CSRF, approval, the token
//! exchange (form and JSON bodies), the access token at `/auth`, refresh rotation and
//! reuse, revocation, introspection, the metadata documents and the bounds.

mod common;

use base64::Engine;
use common::{CLAIMPORT, Reply, TestServer, send};
use portcullis::oauth::{Client, PkceChallenge};
use portcullis::{OsRandom, Policy, Timestamp};
use portcullis_server::assertion::HostSecret;
use portcullis_server::oauth::{OAuthState, access_verifier};
use portcullis_server::{Cidr, ServeConfig, Service, TrustedProxies};
use std::net::SocketAddr;
use std::sync::Arc;

const REDIRECT: &str = "https://app.example/cb";
const ISSUER: &str = "https://auth.claimport.example";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A server with the OAuth endpoints, a confidential client `webapp` (its secret in
/// `secret`) and a public client `spa`.
struct OAuthServer {
    /// Stopped when dropped.
    _server: TestServer,
    addr: SocketAddr,
    host: HostSecret,
    secret: String,
}

impl OAuthServer {
    fn start(config: ServeConfig) -> OAuthServer {
        let host = HostSecret::from_bytes(&[6u8; 32]).expect("host secret");
        let mut secret = None;
        let server = TestServer::start_built(config, |store, _, config| {
            let policy = Policy::from_toml(CLAIMPORT).expect("policy");
            let key = HostSecret::from_bytes(&[5u8; 32]).expect("key");
            let verifier = access_verifier(&key, policy.catalog()).expect("verifier");
            store.attach(verifier.clone()).expect("attach");
            let state = OAuthState::new(
                &policy,
                verifier.clone(),
                host.clone(),
                config.public_url.as_deref(),
            )
            .expect("oauth");
            let checker = common::checker(CLAIMPORT)
                .with_access_tokens(verifier)
                .expect("same catalog");
            let (client, client_secret) = Client::confidential(
                "webapp",
                &[REDIRECT],
                &["claims:read", "claims:write"],
                &OsRandom::new(),
            )
            .expect("client");
            store.put_client(&client).expect("put client");
            let spa = Client::public("spa", false, &[REDIRECT], &["claims:read"]).expect("spa");
            store.put_client(&spa).expect("put spa");
            secret = Some(client_secret.expose().to_owned());
            Service::new(Arc::new(checker), store, config).with_oauth(state)
        });
        OAuthServer {
            addr: server.addr,
            _server: server,
            host,
            secret: secret.expect("the client's secret"),
        }
    }

    fn send(&self, head: &str, body: &[u8]) -> Reply {
        send(self.addr, head, body)
    }

    fn assertion(&self, user: &str) -> String {
        self.host
            .assert_user(user, Timestamp::now().0 + 300)
            .expect("assertion")
    }

    fn get_authorize(&self, query: &str, extra: &str) -> Reply {
        self.send(
            &format!("GET /oauth/authorize?{query} HTTP/1.1\nHost: a{extra}"),
            b"",
        )
    }

    fn post_form(&self, path: &str, headers: &str, body: &str) -> Reply {
        self.send(
            &format!(
                "POST {path} HTTP/1.1\nHost: a\nContent-Type: application/x-www-form-urlencoded{headers}"
            ),
            body.as_bytes(),
        )
    }

    fn basic(&self) -> String {
        let pair = format!("webapp:{}", self.secret);
        format!(
            "\nAuthorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// The consent page for `query` as `user`, then its CSRF token.
    fn consent(&self, query: &str, user: &str) -> (Reply, String) {
        let cookie = format!(
            "\nCookie: theme=dark; portcullis_user={}",
            self.assertion(user)
        );
        let page = self.get_authorize(query, &cookie);
        let csrf = between(&page.text(), "name=\"csrf\" value=\"", "\"").unwrap_or_default();
        (page, csrf)
    }

    /// Approves (or denies) `query` as `user` with `csrf`.
    fn decide(&self, query: &str, user: &str, csrf: &str, decision: &str) -> Reply {
        let cookie = format!("\nCookie: portcullis_user={}", self.assertion(user));
        let body = format!(
            "request={}&csrf={}&decision={decision}",
            encode(query),
            encode(csrf)
        );
        self.post_form("/oauth/authorize", &cookie, &body)
    }

    /// The whole browser part: consent as `user`, approve, and the code.
    fn code(&self, query: &str, user: &str) -> String {
        let (page, csrf) = self.consent(query, user);
        assert_eq!(page.status, 200, "{}", page.text());
        let approved = self.decide(query, user, &csrf, "approve");
        assert_eq!(approved.status, 303, "{}", approved.text());
        let location = approved.header("location").expect("a redirect");
        between(location, "code=", "&").expect("a code")
    }

    fn auth(&self, token: &str) -> Reply {
        self.send(
            &format!(
                "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: /v1/claims\nX-Original-Method: GET\nX-Forwarded-Proto: https\nAuthorization: Bearer {token}"
            ),
            b"",
        )
    }
}

fn with_issuer() -> ServeConfig {
    ServeConfig {
        public_url: Some(format!("{ISSUER}/")),
        ..ServeConfig::default()
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    Some(rest[..rest.find(end).unwrap_or(rest.len())].to_owned())
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn pkce_query(state: &str) -> String {
    let challenge = PkceChallenge::s256(VERIFIER).challenge;
    format!(
        "response_type=code&client_id=webapp&redirect_uri={}&scope=claims:read+claims:write&state={state}&code_challenge={challenge}&code_challenge_method=S256",
        encode(REDIRECT)
    )
}

#[test]
fn the_authorization_code_flow_end_to_end() {
    let server = OAuthServer::start(with_issuer());
    let query = pkce_query("xyz");

    // Not signed in: a page saying so, never a redirect.
    let anonymous = server.get_authorize(&query, "");
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("location"), None);
    assert!(anonymous.text().contains("Sign in"), "{}", anonymous.text());
    assert!(
        anonymous
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );

    // Signed in: the consent page, under a strict CSP.
    let (page, csrf) = server.consent(&query, "user_7");
    assert_eq!(page.status, 200, "{}", page.text());
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(
        csp.contains("form-action 'self' https://app.example;"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("style-src 'sha256-"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let text = page.text();
    for shown in [
        "Read Claims",
        "Write Claims",
        "webapp",
        "user_7",
        "Approve",
        "Deny",
    ] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    assert!(!text.contains("Read Orders"), "a scope not asked for");
    assert!(
        csrf.contains('.') && csrf.len() > 43,
        "a CSRF token in {text}"
    );

    // A wrong CSRF token, or another user's, is refused without a redirect.
    let forged = server.decide(
        &query,
        "user_7",
        &format!("99999999999.{}", "A".repeat(43)),
        "approve",
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert_eq!(forged.header("location"), None);
    let other_user = server.decide(&query, "mallory", &csrf, "approve");
    assert_eq!(other_user.status, 403);
    let other_request = server.decide(&pkce_query("other"), "user_7", &csrf, "approve");
    assert_eq!(other_request.status, 403);

    // The right one: a code, the state and the issuer, back at the client.
    let approved = server.decide(&query, "user_7", &csrf, "approve");
    assert_eq!(approved.status, 303, "{}", approved.text());
    let location = approved.header("location").expect("a redirect");
    assert!(
        location.starts_with("https://app.example/cb?code=ac."),
        "{location}"
    );
    assert!(location.contains("&state=xyz"), "{location}");
    assert!(
        location.contains(&format!("iss={}", encode(ISSUER))),
        "{location}"
    );
    let code = between(location, "code=", "&").expect("code");

    // The exchange, form-encoded with HTTP Basic.
    let exchange = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        encode(REDIRECT)
    );
    let tokens = server.post_form("/oauth/token", &server.basic(), &exchange);
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens = tokens.json();
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(tokens["expires_in"], 3600);

    // The access token at /auth, as nginx asks.
    let allowed = server.auth(&access);
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.header("x-portcullis-owner"), Some("user_7"));
    assert_eq!(
        allowed.header("x-portcullis-scopes"),
        Some("claims:read claims:write")
    );

    // Introspection of the live access token.
    let live = server.post_form(
        "/oauth/introspect",
        &server.basic(),
        &format!("token={access}"),
    );
    assert_eq!(live.status, 200, "{}", live.text());
    assert_eq!(live.json()["active"], true);
    assert_eq!(live.json()["sub"], "user_7");

    // Refresh rotates; the old refresh token's reuse revokes the family.
    let rotated = server.post_form(
        "/oauth/token",
        &server.basic(),
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let rotated = rotated.json();
    let new_refresh = rotated["refresh_token"].as_str().expect("new refresh");
    let new_access = rotated["access_token"]
        .as_str()
        .expect("new access")
        .to_owned();
    assert_ne!(new_refresh, refresh);
    assert_eq!(server.auth(&new_access).status, 200);
    let reused = server.post_form(
        "/oauth/token",
        &server.basic(),
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    );
    assert_eq!(reused.status, 400);
    assert_eq!(reused.json()["error"], "invalid_grant");
    let after_reuse = server.post_form(
        "/oauth/token",
        &server.basic(),
        &format!("grant_type=refresh_token&refresh_token={new_refresh}"),
    );
    assert_eq!(after_reuse.status, 400, "the family is revoked");
    assert_eq!(
        server.auth(&new_access).status,
        401,
        "and its access tokens"
    );

    // A code is single-use (its reuse would revoke the grant, RFC 6749 §4.1.2).
    let again = server.post_form("/oauth/token", &server.basic(), &exchange);
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "invalid_grant");

    // The endpoints are counted.
    let metrics = server.send("GET /metrics HTTP/1.1\nHost: a", b"").text();
    assert!(
        metrics.contains(r#"endpoint="token",reason="ok",status="200""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"endpoint="token",reason="invalid_grant",status="400""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"endpoint="authorize",reason="approved",status="303""#),
        "{metrics}"
    );
}

#[test]
fn the_documented_json_body_exchanges_a_code_and_revocation_ends_a_grant() {
    let server = OAuthServer::start(ServeConfig::default());
    // The product's documented authorize URL: no PKCE, no redirect_uri.
    let query = "response_type=code&client_id=webapp&scope=claims:read&state=s1";
    let code = server.code(query, "user_9");
    let body = serde_json::json!({
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "webapp",
        "client_secret": server.secret,
    })
    .to_string();
    let tokens = server.send(
        "POST /oauth/token HTTP/1.1\nHost: a\nContent-Type: application/json",
        body.as_bytes(),
    );
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    let tokens = tokens.json();
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert!(
        tokens["scope"].is_null() || tokens["scope"] == "claims:read",
        "{tokens}"
    );
    assert_eq!(server.auth(&access).status, 200);

    // Revoking the refresh token ends the grant: the token is inactive, its access token
    // refused at /auth.
    let revoked = server.post_form(
        "/oauth/revoke",
        &server.basic(),
        &format!("token={refresh}"),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let inactive = server.post_form(
        "/oauth/introspect",
        &server.basic(),
        &format!("token={refresh}"),
    );
    assert_eq!(inactive.status, 200);
    assert_eq!(inactive.json(), serde_json::json!({"active": false}));
    assert_eq!(server.auth(&access).status, 401);

    // Without credentials, introspection is refused.
    let anonymous = server.post_form("/oauth/introspect", "", &format!("token={access}"));
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["error"], "invalid_client");

    // GET on a POST endpoint.
    let get = server.send("GET /oauth/token HTTP/1.1\nHost: a", b"");
    assert_eq!(get.status, 405);
}

#[test]
fn deny_and_request_errors_go_where_the_engine_says() {
    let server = OAuthServer::start(with_issuer());
    let query = pkce_query("d1");
    let (_, csrf) = server.consent(&query, "user_7");
    let denied = server.decide(&query, "user_7", &csrf, "deny");
    assert_eq!(denied.status, 303);
    let location = denied.header("location").expect("redirect");
    assert!(
        location.starts_with("https://app.example/cb?error=access_denied"),
        "{location}"
    );
    assert!(location.contains("state=d1"), "{location}");

    // An error the client may hear: redirected, signed in or not.
    let bad_scope = server.get_authorize(
        &format!(
            "response_type=code&client_id=webapp&redirect_uri={}&scope=nope&state=s",
            encode(REDIRECT)
        ),
        "",
    );
    assert_eq!(bad_scope.status, 302, "{}", bad_scope.text());
    assert!(
        bad_scope
            .header("location")
            .is_some_and(|l| l.contains("error=invalid_scope")),
        "{:?}",
        bad_scope.header("location")
    );

    // Ones it may not (an unknown client, an unregistered redirect URI): a page.
    for query in [
        "response_type=code&client_id=nobody&scope=claims:read".to_owned(),
        format!(
            "response_type=code&client_id=webapp&redirect_uri={}&scope=claims:read",
            encode("https://evil.example/cb")
        ),
    ] {
        let shown = server.get_authorize(&query, "");
        assert_eq!(shown.status, 400, "{query}");
        assert_eq!(shown.header("location"), None, "{query}");
        assert!(
            shown.text().contains("cannot be answered"),
            "{}",
            shown.text()
        );
        assert!(!shown.text().contains("evil.example"));
    }

    // A public client without PKCE is sent back with invalid_request.
    let spa = server.get_authorize(
        "response_type=code&client_id=spa&scope=claims:read&state=p",
        "",
    );
    assert_eq!(spa.status, 302);
    assert!(
        spa.header("location")
            .is_some_and(|l| l.contains("error=invalid_request"))
    );
}

#[test]
fn expired_forged_and_untrusted_assertions_are_refused() {
    let server = OAuthServer::start(ServeConfig::default());
    let query = pkce_query("a");
    let cookie = |value: &str| format!("\nCookie: portcullis_user={value}");

    let expired = server
        .host
        .assert_user("user_7", Timestamp::now().0 - 1)
        .expect("mint");
    assert_eq!(server.get_authorize(&query, &cookie(&expired)).status, 401);

    let other = HostSecret::from_bytes(&[1u8; 32]).expect("secret");
    let forged = other
        .assert_user("user_7", Timestamp::now().0 + 300)
        .expect("mint");
    assert_eq!(server.get_authorize(&query, &cookie(&forged)).status, 401);
    assert_eq!(server.get_authorize(&query, &cookie("garbage")).status, 401);
    let huge = "A".repeat(2000);
    assert_eq!(server.get_authorize(&query, &cookie(&huge)).status, 401);

    // Two different assertion cookies: neither is believed.
    let two = format!(
        "\nCookie: portcullis_user={}; portcullis_user={}",
        server.assertion("user_7"),
        server.assertion("mallory")
    );
    assert_eq!(server.get_authorize(&query, &two).status, 401);

    // The header, from a trusted proxy (loopback), is believed.
    let header = format!("\nX-Portcullis-User: {}", server.assertion("user_8"));
    let page = server.get_authorize(&query, &header);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("user_8"));

    // A POST without a sign-in is refused.
    let body = format!("request={}&csrf=x&decision=approve", encode(&query));
    let anonymous = server.post_form("/oauth/authorize", "", &body);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("location"), None);
}

#[test]
fn the_assertion_header_from_an_untrusted_peer_is_ignored() {
    let config = ServeConfig {
        trusted_proxies: TrustedProxies::new(vec!["10.0.0.0/8".parse::<Cidr>().expect("cidr")])
            .expect("proxies"),
        ..ServeConfig::default()
    };
    let server = OAuthServer::start(config);
    let header = format!("\nX-Portcullis-User: {}", server.assertion("user_8"));
    assert_eq!(server.get_authorize(&pkce_query("h"), &header).status, 401);
    // The cookie still works from anywhere.
    let (page, _) = server.consent(&pkce_query("h"), "user_8");
    assert_eq!(page.status, 200);
}

#[test]
fn both_metadata_documents() {
    let server = OAuthServer::start(with_issuer());
    let document = server.send(
        "GET /.well-known/oauth-authorization-server HTTP/1.1\nHost: a",
        b"",
    );
    assert_eq!(document.status, 200, "{}", document.text());
    assert_eq!(document.header("content-type"), Some("application/json"));
    let document = document.json();
    assert_eq!(document["issuer"], ISSUER);
    assert_eq!(
        document["authorization_endpoint"],
        format!("{ISSUER}/oauth/authorize")
    );
    assert_eq!(document["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(
        document["revocation_endpoint"],
        format!("{ISSUER}/oauth/revoke")
    );
    assert_eq!(
        document["introspection_endpoint"],
        format!("{ISSUER}/oauth/introspect")
    );
    assert!(
        document["scopes_supported"]
            .as_array()
            .is_some_and(|s| s.contains(&serde_json::json!("claims:read")))
    );

    let resource = server.send(
        "GET /.well-known/oauth-protected-resource HTTP/1.1\nHost: a",
        b"",
    );
    assert_eq!(resource.status, 200, "{}", resource.text());
    let resource = resource.json();
    assert_eq!(resource["resource"], ISSUER);
    assert_eq!(
        resource["authorization_servers"],
        serde_json::json!([ISSUER])
    );
    assert_eq!(
        resource["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert!(
        resource["scopes_supported"]
            .as_array()
            .is_some_and(|s| s.contains(&serde_json::json!("claims:write")))
    );

    // /auth's challenge points at the second document.
    let challenge = server.send(
        "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: /v1/claims\nX-Original-Method: GET\nX-Forwarded-Proto: https",
        b"",
    );
    assert!(
        challenge
            .header("www-authenticate")
            .is_some_and(|c| c.contains(&format!(
                "resource_metadata=\"{ISSUER}/.well-known/oauth-protected-resource\""
            ))),
        "{:?}",
        challenge.header("www-authenticate")
    );

    // Without a public URL there is no document.
    let bare = OAuthServer::start(ServeConfig::default());
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
    ] {
        let missing = bare.send(&format!("GET {path} HTTP/1.1\nHost: a"), b"");
        assert_eq!(missing.status, 404, "{path}");
    }
}

#[test]
fn oversize_bodies_are_refused_with_413() {
    let server = OAuthServer::start(ServeConfig::default());
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        "a".repeat(70_000)
    );
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/authorize"] {
        let reply = server.post_form(path, &server.basic(), &body);
        assert_eq!(reply.status, 413, "{path}");
    }
    // Bodies the engine cannot read are named, not hidden behind invalid_client.
    let typeless = server.send("POST /oauth/token HTTP/1.1\nHost: a", b"grant_type=x");
    assert_eq!(typeless.status, 400);
    assert_eq!(typeless.json()["error"], "invalid_request");
}

#[test]
fn a_server_without_oauth_answers_404() {
    let server = common::TestServer::start(CLAIMPORT);
    let reply = server.send("GET /oauth/authorize?client_id=x HTTP/1.1\nHost: a", b"");
    assert_eq!(reply.status, 404);
}
