//! The key-management API and the Settings > API Keys page on a real server: who may
//! call, what each organisation sees, CSRF, the once-only plaintext, revocation and
//! rotation reaching `/auth`, and the page's headers and markup.

mod common;

use common::{CLAIMPORT, Reply, TestServer, send};
use portcullis::Timestamp;
use portcullis_server::assertion::HostSecret;
use portcullis_server::keys_api::{self, KeysState};
use portcullis_server::{ServeConfig, Service};
use portcullis_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;

const ADMIN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// A server with the key API: host secret `[5; 32]`, the admin token [`ADMIN`].
struct KeysServer {
    addr: SocketAddr,
    secret: HostSecret,
    store: Arc<Store>,
    /// Stopped when dropped.
    _server: TestServer,
}

impl KeysServer {
    fn start() -> KeysServer {
        let secret = HostSecret::from_bytes(&[5u8; 32]).expect("secret");
        let server = TestServer::start_built(ServeConfig::default(), |store, dir, config| {
            let token_file = dir.join(keys_api::ADMIN_TOKEN_FILE);
            std::fs::write(&token_file, format!("{ADMIN}\n")).expect("admin token");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            let state = KeysState::new(Some(secret.clone()), &token_file).expect("keys state");
            assert!(state.admin_token.is_some(), "the admin token file is read");
            Service::new(Arc::new(common::checker(CLAIMPORT)), store, config).with_keys(state)
        });
        KeysServer {
            addr: server.addr,
            store: server.store.clone(),
            secret,
            _server: server,
        }
    }

    /// The `Cookie` header of `user` in `org`, and the page's CSRF token for them.
    fn member(&self, user: &str, org: &str) -> Member {
        let expires = Timestamp::now().0 + 600;
        let cookie = if user == org {
            let a = self.secret.assert_user(user, expires).expect("assert");
            format!("portcullis_user={a}")
        } else {
            let a = keys_api::assert_org(&self.secret, org, user, expires).expect("assert");
            format!("portcullis_org={a}")
        };
        let csrf = keys_api::csrf_token(&self.secret, user, org, Timestamp::now().0);
        Member { cookie, csrf }
    }

    fn call(&self, method: &str, path: &str, headers: &str, body: &str) -> Reply {
        let json = if body.is_empty() {
            ""
        } else {
            "\nContent-Type: application/json"
        };
        send(
            self.addr,
            &format!("{method} {path} HTTP/1.1\nHost: a{json}{headers}"),
            body.as_bytes(),
        )
    }

    fn as_member(&self, m: &Member, method: &str, path: &str, body: &str) -> Reply {
        let headers = format!("\nCookie: {}\nX-CSRF-Token: {}", m.cookie, m.csrf);
        let body = if method == "POST" && body.is_empty() {
            "{}"
        } else {
            body
        };
        self.call(method, path, &headers, body)
    }

    fn as_admin(&self, method: &str, path: &str, body: &str) -> Reply {
        self.call(
            method,
            path,
            &format!("\nAuthorization: Bearer {ADMIN}"),
            body,
        )
    }

    /// `/auth` as nginx asks it.
    fn auth(&self, method: &str, uri: &str, key: &str) -> u16 {
        send(
            self.addr,
            &format!(
                "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: {uri}\nX-Original-Method: {method}\nX-Forwarded-Proto: https\nAuthorization: Bearer {key}"
            ),
            b"",
        )
        .status
    }
}

struct Member {
    cookie: String,
    csrf: String,
}

fn create(server: &KeysServer, m: &Member, name: &str, scopes: &[&str]) -> (String, String) {
    let body = serde_json::json!({"name": name, "scopes": scopes, "ttl_days": 90}).to_string();
    let created = server.as_member(m, "POST", "/api/keys", &body);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let json = created.json();
    let secret = json["secret"].as_str().expect("secret").to_owned();
    let id = json["key"]["id"].as_str().expect("id").to_owned();
    (id, secret)
}

#[test]
fn a_user_creates_a_key_that_works_then_revokes_it() {
    let server = KeysServer::start();
    let ann = server.member("ann", "acme");
    let (id, secret) = create(&server, &ann, "Production Integration", &["claims:read"]);
    assert!(secret.starts_with("sk_live_"), "the plaintext is returned");
    assert!(secret.contains(&id));

    assert_eq!(server.auth("GET", "/v1/claims", &secret), 200);
    assert_eq!(server.auth("POST", "/v1/claims", &secret), 403);

    let listed = server.as_member(&ann, "GET", "/api/keys", "");
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert!(
        !listed.text().contains(&secret),
        "listed without the secret"
    );
    let keys = listed.json()["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["owner"], "acme");
    assert_eq!(key["name"], "Production Integration");
    assert_eq!(key["permissions"], serde_json::json!(["Read Claims"]));
    assert_eq!(key["status"], "active");
    assert_eq!(key["display"], format!("sk_live_{id}_…"));
    let ninety = key["created_at"].as_u64().expect("created") + 90 * 86_400;
    assert_eq!(key["expires_at"].as_u64(), Some(ninety));

    let shown = server.as_member(&ann, "GET", &format!("/api/keys/{id}"), "");
    assert_eq!(shown.status, 200);
    assert!(!shown.text().contains(&secret));

    let revoked = server.as_member(&ann, "POST", &format!("/api/keys/{id}/revoke"), "");
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["key"]["status"], "revoked");
    assert_eq!(server.auth("GET", "/v1/claims", &secret), 401);

    let key_id = portcullis::KeyId::parse(&id).expect("id");
    let audit = server.store.audit(&key_id, 10).expect("audit");
    assert!(
        audit.iter().any(|e| e.actor == "ann@acme"),
        "audited as the user: {audit:?}"
    );
}

#[test]
fn each_organisation_sees_and_changes_only_its_own_keys() {
    let server = KeysServer::start();
    let ann = server.member("ann", "acme");
    let eve = server.member("eve", "globex");
    let (id, secret) = create(&server, &ann, "acme key", &["orders:read"]);

    let theirs = server.as_member(&eve, "GET", "/api/keys", "");
    assert_eq!(theirs.json()["keys"], serde_json::json!([]));
    for (method, path) in [
        ("GET", format!("/api/keys/{id}")),
        ("POST", format!("/api/keys/{id}/revoke")),
        ("POST", format!("/api/keys/{id}/rotate")),
        ("DELETE", format!("/api/keys/{id}")),
    ] {
        let r = server.as_member(&eve, method, &path, "");
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
    }
    assert_eq!(server.auth("GET", "/v1/orders", &secret), 200, "untouched");

    // Another user of the same organisation sees it.
    let bob = server.member("bob", "acme");
    let seen = server.as_member(&bob, "GET", "/api/keys", "");
    assert_eq!(seen.json()["keys"][0]["id"], id.as_str());

    // A user cannot create for another organisation.
    let body = r#"{"name":"x","scopes":["claims:read"],"owner":"acme"}"#;
    let refused = server.as_member(&eve, "POST", "/api/keys", body);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "owner_forbidden");
}

#[test]
fn the_admin_token_sees_every_organisation_and_names_owners() {
    let server = KeysServer::start();
    let body = r#"{"name":"ops","scopes":["analytics:read"],"owner":"initech"}"#;
    let created = server.as_admin("POST", "/api/keys", body);
    assert_eq!(created.status, 201, "{}", created.text());
    let ann = server.member("ann", "acme");
    create(&server, &ann, "acme key", &["claims:read"]);

    let all = server.as_admin("GET", "/api/keys", "");
    assert_eq!(all.json()["keys"].as_array().map(Vec::len), Some(2));
    let one = server.as_admin("GET", "/api/keys?owner=initech", "");
    let keys = one.json()["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["owner"], "initech");

    let upper = server.call(
        "GET",
        "/api/keys",
        &format!("\nAuthorization: Bearer {}", ADMIN.to_ascii_uppercase()),
        "",
    );
    assert_eq!(upper.status, 200, "hex digits in either case");

    let no_owner = server.as_admin("POST", "/api/keys", r#"{"name":"x","scopes":["a"]}"#);
    assert_eq!(no_owner.status, 400);

    let wrong = server.call(
        "GET",
        "/api/keys",
        &format!("\nAuthorization: Bearer {}", ADMIN.replace('a', "b")),
        "",
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "invalid_token");
    assert!(!wrong.text().contains("bbb"), "the token is not echoed");
    let nobody = server.call("GET", "/api/keys", "", "");
    assert_eq!(nobody.status, 401);
    assert_eq!(nobody.json()["error"], "no_assertion");
}

#[test]
fn writes_without_the_csrf_token_or_a_json_body_are_refused() {
    let server = KeysServer::start();
    let ann = server.member("ann", "acme");
    let body = r#"{"name":"x","scopes":["claims:read"]}"#;
    let without = server.call(
        "POST",
        "/api/keys",
        &format!("\nCookie: {}", ann.cookie),
        body,
    );
    assert_eq!(without.status, 403, "{}", without.text());
    assert_eq!(without.json()["error"], "csrf_mismatch");

    let bob = server.member("bob", "acme");
    let foreign = server.call(
        "POST",
        "/api/keys",
        &format!("\nCookie: {}\nX-CSRF-Token: {}", ann.cookie, bob.csrf),
        body,
    );
    assert_eq!(foreign.status, 403, "another user's token");

    let form = send(
        server.addr,
        &format!(
            "POST /api/keys HTTP/1.1\nHost: a\nContent-Type: text/plain\nCookie: {}\nX-CSRF-Token: {}",
            ann.cookie, ann.csrf
        ),
        body.as_bytes(),
    );
    assert_eq!(form.status, 403, "a body a cross-site form could send");
    let listed = server.as_member(&ann, "GET", "/api/keys", "");
    assert_eq!(
        listed.json()["keys"],
        serde_json::json!([]),
        "nothing created"
    );
}

#[test]
fn rotation_keeps_the_old_key_for_the_grace_period_only() {
    let server = KeysServer::start();
    let ann = server.member("ann", "acme");
    let (id, old) = create(&server, &ann, "rotating", &["claims:write"]);
    let rotated = server.as_member(
        &ann,
        "POST",
        &format!("/api/keys/{id}/rotate"),
        r#"{"grace_seconds":3600}"#,
    );
    assert_eq!(rotated.status, 201, "{}", rotated.text());
    let json = rotated.json();
    let new = json["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert_eq!(json["key"]["rotated_from"], id.as_str());
    assert_eq!(
        json["key"]["permissions"],
        serde_json::json!(["Write Claims"])
    );
    let grace_end = json["previous"]["expires_at"].as_u64().expect("old expiry");
    assert!(grace_end <= Timestamp::now().0 + 3600);
    assert_eq!(
        server.auth("POST", "/v1/claims", &old),
        200,
        "in the grace period"
    );
    assert_eq!(server.auth("POST", "/v1/claims", &new), 200);

    let new_id = json["key"]["id"].as_str().expect("id").to_owned();
    let now = server.as_member(
        &ann,
        "POST",
        &format!("/api/keys/{new_id}/rotate"),
        r#"{"grace_seconds":0}"#,
    );
    assert_eq!(now.status, 201, "{}", now.text());
    assert_eq!(server.auth("POST", "/v1/claims", &new), 401, "no overlap");

    let too_long = server.as_member(
        &ann,
        "POST",
        &format!("/api/keys/{id}/rotate"),
        r#"{"grace_seconds":99999999999}"#,
    );
    assert_eq!(too_long.status, 400);
}

#[test]
fn the_cores_rules_come_back_as_typed_errors() {
    let server = KeysServer::start();
    let ann = server.member("ann", "acme");
    let cases = [
        (
            r#"{"name":"x","scopes":["claims:delete"]}"#,
            400,
            "unknown_scope",
        ),
        (r#"{"name":"","scopes":["claims:read"]}"#, 400, "bad_field"),
        (r#"{"name":"x","scopes":[]}"#, 400, "no_permissions"),
        (
            r#"{"name":"x","scopes":["claims:read"],"ttl_days":0}"#,
            400,
            "invalid_request",
        ),
        (r#"[1]"#, 400, "invalid_request"),
        (r#"{"name":"x""#, 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let r = server.as_member(&ann, "POST", "/api/keys", body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.json()["error"], code, "{body}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let long = format!(
        r#"{{"name":"{}","scopes":["claims:read"]}}"#,
        "x".repeat(70 * 1024)
    );
    assert_eq!(
        server.as_member(&ann, "POST", "/api/keys", &long).status,
        413
    );
    let bad_id = server.as_member(&ann, "GET", "/api/keys/not-an-id", "");
    assert_eq!(bad_id.status, 404);
    let put = server.as_member(&ann, "PUT", "/api/keys", "{}");
    assert_eq!(put.status, 405);
    assert_eq!(put.header("allow"), Some("GET, POST"));
}

#[test]
fn the_page_is_served_with_a_strict_policy_and_never_holds_a_secret() {
    let server = KeysServer::start();
    let anonymous = server.call("GET", "/settings/api-keys", "", "");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.text().contains("Sign in first"));

    let ann = server.member("ann", "acme");
    let (id, secret) = create(&server, &ann, "Production <Integration>", &["claims:read"]);
    let page = server.call(
        "GET",
        "/settings/api-keys",
        &format!("\nCookie: {}", ann.cookie),
        "",
    );
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-security-policy"),
        Some(portcullis_server::page::CSP)
    );
    let csp = portcullis_server::page::CSP;
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive}");
    }
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let html = page.text();
    assert!(
        !html.contains(&secret),
        "the plaintext is never in the page"
    );
    assert!(html.contains(&format!("sk_live_{id}_…")));
    assert!(html.contains("Production &lt;Integration&gt;"));
    for label in [
        "Read Claims",
        "Write Claims",
        "Read Orders",
        "Read Analytics",
        "Full Access",
    ] {
        assert!(html.contains(&format!(">{label} <code>")), "{label}");
    }
    assert!(html.contains("name=\"csrf-token\""));

    let js = server.call("GET", "/settings/api-keys/assets/keys.js", "", "");
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.text().contains("X-CSRF-Token"));
    let css = server.call("GET", "/settings/api-keys/assets/keys.css", "", "");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let missing = server.call("GET", "/settings/api-keys/assets/x.js", "", "");
    assert_eq!(missing.status, 404);
}
