//! The OAuth 2.0 engine (issue 8): one test per clause of RFC 6749 / 7636 / 7009 / 7662 /
//! 9700 that the engine implements, named for it.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::TestPolicy;
use portcullis::oauth::{
    AccessKeys, AccessVerifier, AuthorizationRequest, AuthorizeOutcome, Client, MemoryOAuthStore,
    OAuthConfig, OAuthError, OAuthErrorCode, OAuthServer, Stores, TokenError, TokenResponse,
};
use portcullis::{Checker, Policy, Reason, Request, SecretString, SeededRandom, Timestamp};
use serde_json::Value;
use std::sync::Arc;

const NOW: u64 = common::NOW;
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const WEB_CB: &str = "https://app.example.com/callback";

struct Fx {
    server: OAuthServer,
    store: MemoryOAuthStore,
    rng: SeededRandom,
    checker: Checker,
    web_secret: SecretString,
}

fn fx() -> Fx {
    fx_with(OAuthConfig::default())
}

fn fx_with(config: OAuthConfig) -> Fx {
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    let keys = AccessKeys::new("k1", &[9u8; 32]).expect("keys");
    let verifier = Arc::new(AccessVerifier::new(keys, policy.catalog()));
    let server = OAuthServer::new(
        config,
        policy.catalog().clone(),
        verifier.clone(),
        "claimport",
    )
    .expect("same catalog");
    let rng = SeededRandom::new(b"oauth tests");
    let store = MemoryOAuthStore::new();
    let (web, web_secret) = Client::confidential(
        "webapp",
        &[WEB_CB, "https://app.example.com/other?x=1"],
        &["claims:read", "claims:write", "orders:read"],
        &rng,
    )
    .expect("client");
    store.add_client(web);
    let spa = Client::public(
        "spa",
        false,
        &["https://spa.example.com/cb"],
        &["claims:read"],
    );
    store.add_client(spa.expect("spa"));
    let cli = Client::public(
        "cli",
        true,
        &["http://127.0.0.1/callback", "com.example.cli:/cb"],
        &["claims:*"],
    );
    store.add_client(cli.expect("cli"));
    let checker = common::checker_of(policy)
        .with_access_tokens(verifier)
        .expect("same catalog");
    Fx {
        server,
        store,
        rng,
        checker,
        web_secret,
    }
}

fn web_query(extra: &str) -> String {
    format!("{}{extra}", Query::web())
}

/// An authorize query as ordered parameters (values percent-encoded), so a test changes one
/// by name; naming a parameter the query lacks fails the test.
#[derive(Clone, Debug)]
struct Query(Vec<(&'static str, String)>);

impl Query {
    fn of(params: &[(&'static str, &str)]) -> Self {
        Query(params.iter().map(|&(n, v)| (n, v.to_owned())).collect())
    }

    /// The web client's PKCE request, without a scope.
    fn web() -> Self {
        Query::of(&[
            ("response_type", "code"),
            ("client_id", "webapp"),
            ("redirect_uri", &enc(WEB_CB)),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    }

    fn set(mut self, name: &str, value: &str) -> Self {
        let at = self.0.iter().position(|(n, _)| *n == name);
        let at = at.unwrap_or_else(|| panic!("no {name} in {self:?}"));
        self.0[at].1 = value.to_owned();
        self
    }

    fn remove(mut self, name: &str) -> Self {
        let before = self.0.len();
        self.0.retain(|(n, _)| *n != name);
        assert_eq!(self.0.len() + 1, before, "no {name} in {self:?}");
        self
    }

    fn scope(mut self, scope: &str) -> Self {
        self.0.push(("scope", scope.to_owned()));
        self
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, value)) in self.0.iter().enumerate() {
            write!(f, "{}{name}={value}", if i == 0 { "" } else { "&" })?;
        }
        Ok(())
    }
}

/// The web client's request for `claims:read`, with `edit` applied.
fn web_read(edit: impl FnOnce(Query) -> Query) -> String {
    edit(Query::web()).scope("claims:read").to_string()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn json(r: &TokenResponse) -> Value {
    serde_json::from_str(r.body()).expect("json body")
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    let p = portcullis::oauth::Params::parse(q).expect("redirect query");
    p.get(name).map(str::to_owned)
}

impl Fx {
    fn authorize(&self, query: &str) -> AuthorizeOutcome {
        self.server.authorize(query, &self.store)
    }
    fn valid(&self, query: &str) -> AuthorizationRequest {
        match self.authorize(query) {
            AuthorizeOutcome::Valid(r) => r,
            other => panic!("expected a valid request, got {other:?}"),
        }
    }
    fn redirect_error(&self, query: &str) -> (OAuthErrorCode, String) {
        match self.authorize(query) {
            AuthorizeOutcome::Redirect { error, location } => (error.code, location),
            other => panic!("expected an error redirect, got {other:?}"),
        }
    }
    fn shown(&self, query: &str) -> OAuthError {
        match self.authorize(query) {
            AuthorizeOutcome::ShowError(e) => e,
            other => panic!("expected an error page, got {other:?}"),
        }
    }
    fn code_for(&self, query: &str, now: u64) -> String {
        let req = self.valid(query);
        let loc = self
            .server
            .approve(&req, "user_7", None, &self.store, &self.rng, Timestamp(now))
            .expect("approve");
        query_param(&loc, "code").expect("code in redirect")
    }
    fn code(&self) -> String {
        self.code_for(&web_query("&scope=claims:read"), NOW)
    }
    fn token_at(&self, auth: Option<&str>, body: &str, now: u64) -> TokenResponse {
        let stores = Stores::all(&self.store);
        self.server
            .token(auth, body, stores, &self.rng, Timestamp(now))
    }
    fn web_token(&self, body: &str, now: u64) -> TokenResponse {
        self.token_at(Some(&basic("webapp", self.web_secret.expose())), body, now)
    }
    fn exchange(&self, code: &str, now: u64) -> TokenResponse {
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            enc(WEB_CB)
        );
        self.web_token(&body, now)
    }
    fn tokens(&self) -> (String, String) {
        let r = self.exchange(&self.code(), NOW);
        assert_eq!(r.status, 200, "{}", r.body());
        let v = json(&r);
        (
            v["access_token"].as_str().expect("at").to_owned(),
            v["refresh_token"].as_str().expect("rt").to_owned(),
        )
    }
    fn refresh(&self, rt: &str, extra: &str, now: u64) -> TokenResponse {
        self.web_token(
            &format!("grant_type=refresh_token&refresh_token={rt}{extra}"),
            now,
        )
    }
    fn api(&self, token: &str, now: u64) -> portcullis::Decision<'_> {
        let header = format!("Bearer {token}");
        let req = Request::new("GET", "/v1/claims")
            .authorization(&header)
            .https(true);
        self.checker
            .check(&req, &portcullis::MemoryStore::new(), Timestamp(now))
    }
}

fn error_code(r: &TokenResponse) -> String {
    json(r)["error"].as_str().unwrap_or("").to_owned()
}

// ---------------------------------------------------------------- authorization request

#[test]
fn authorize_4_1_1_valid_request_is_ready_for_consent() {
    let f = fx();
    let req = f.valid(&web_query("&scope=claims:write"));
    assert_eq!(req.client.id, "webapp");
    assert_eq!(req.redirect_uri, WEB_CB);
    assert_eq!(req.state.as_deref(), Some("xyz"));
    let names: Vec<_> = f.server.catalog().names(&req.scope).collect();
    assert_eq!(names, ["claims:read", "claims:write"]);
    assert!(!req.scope_narrowed);
}

#[test]
fn authorize_4_1_2_1_missing_client_id_is_shown_not_redirected() {
    let f = fx();
    let e = f.shown("response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback");
    assert_eq!(e.code, OAuthErrorCode::InvalidRequest);
}

#[test]
fn authorize_4_1_2_1_unknown_client_is_shown_not_redirected() {
    let f = fx();
    let q = web_read(|q| q.set("client_id", "evil"));
    assert_eq!(f.shown(&q).code, OAuthErrorCode::InvalidRequest);
}

#[test]
fn authorize_3_1_empty_client_id_counts_as_missing() {
    let f = fx();
    let q = web_read(|q| q.set("client_id", ""));
    assert_eq!(f.shown(&q).description, "client_id is missing");
}

#[test]
fn authorize_query_bytes_that_are_not_utf8_are_shown_not_redirected() {
    let f = fx();
    let mut q = web_query("&scope=claims:read").into_bytes();
    q.extend_from_slice(b"&state=\xff");
    let outcome = f.server.authorize_bytes(&q, &f.store);
    assert!(
        matches!(&outcome, AuthorizeOutcome::ShowError(e) if e.code == OAuthErrorCode::InvalidRequest),
        "{outcome:?}"
    );
    // The same query as valid text is accepted: only the encoding was refused.
    f.valid(&web_query("&scope=claims:read"));
}

#[test]
fn authorize_3_1_repeated_client_id_or_redirect_uri_is_shown() {
    let f = fx();
    f.shown(&web_query("&scope=claims:read&client_id=webapp"));
    f.shown(&web_query(&format!(
        "&scope=claims:read&redirect_uri={}",
        enc(WEB_CB)
    )));
}

#[test]
fn authorize_3_1_repeated_parameter_redirects_invalid_request_with_state() {
    let f = fx();
    let (code, loc) = f.redirect_error(&web_query("&scope=claims:read&scope=orders:read"));
    assert_eq!(code, OAuthErrorCode::InvalidRequest);
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
    assert!(loc.starts_with(&format!("{WEB_CB}?error=invalid_request&")));
}

#[test]
fn authorize_3_1_unknown_parameters_are_ignored() {
    fx().valid(&web_query("&scope=claims:read&foo=bar"));
}

#[test]
fn authorize_9700_2_1_redirect_uri_near_misses_are_shown_not_redirected() {
    let f = fx();
    for near in [
        "https://app.example.com/callback/",
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://app.example.com/callback?extra=1",
        "https://user@app.example.com/callback",
        "https://app.example.com/callback#frag",
        "http://app.example.com/callback",
        "https://app.example.com:443/callback",
        "https://app.example.com/other",
        "https://app.example.com/other?x=1&y=2",
    ] {
        let q = web_read(|q| q.set("redirect_uri", &enc(near)));
        let e = f.shown(&q);
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest, "{near}");
    }
    // The registered URI with its own query matches exactly, and the answer keeps it.
    let q = web_read(|q| q.set("redirect_uri", &enc("https://app.example.com/other?x=1")));
    let req = f.valid(&q);
    let loc = f.server.deny(&req);
    assert!(loc.starts_with("https://app.example.com/other?x=1&error=access_denied"));
}

#[test]
fn authorize_8252_loopback_port_exception_for_native_clients_only() {
    let f = fx();
    let base = Query::of(&[
        ("response_type", "code"),
        ("client_id", "cli"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("scope", "claims:read"),
    ]);
    for ok in [
        "http://127.0.0.1/callback",
        "http://127.0.0.1:51004/callback",
        "http://127.0.0.1:8080/callback",
        "com.example.cli:/cb",
    ] {
        f.valid(&format!("{base}&redirect_uri={}", enc(ok)));
    }
    for bad in [
        "http://127.0.0.1:8080/callback/",
        "http://127.0.0.1:8080/other",
        "http://localhost:8080/callback",
        "http://[::1]:8080/callback",
        "http://127.0.0.1:080/callback",
        "http://127.0.0.1:8080@evil.example/callback",
    ] {
        f.shown(&format!("{base}&redirect_uri={}", enc(bad)));
    }
    // A web client registered with a loopback URI gets no port exception; and a
    // non-native client cannot register http at all.
    assert!(Client::public("w", false, &["http://127.0.0.1/cb"], &[]).is_err());
    assert!(Client::public("w", false, &["https://127.0.0.1/cb"], &[]).is_ok());
    let web = Client::public("w", false, &["https://127.0.0.1/cb"], &["claims:read"]);
    f.store.add_client(web.expect("client"));
    let q = format!(
        "response_type=code&client_id=w&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=claims:read&redirect_uri={}",
        enc("https://127.0.0.1:8443/cb")
    );
    f.shown(&q);
    // Even a record built without validation (say, loaded from a database) gets no port
    // exception unless it is native.
    let web: Client = serde_json::from_value(serde_json::json!({
        "id": "w2", "client_type": "public", "native": false,
        "redirect_uris": ["http://127.0.0.1/callback"], "allowed_scopes": ["claims:read"],
    }))
    .expect("client json");
    f.store.add_client(web);
    let base = base.set("client_id", "w2");
    f.valid(&format!(
        "{base}&redirect_uri={}",
        enc("http://127.0.0.1/callback")
    ));
    f.shown(&format!(
        "{base}&redirect_uri={}",
        enc("http://127.0.0.1:8080/callback")
    ));
}

#[test]
fn authorize_3_1_2_registration_rejects_fragment_userinfo_and_http() {
    use portcullis::oauth::ClientError;
    for bad in [
        "https://a.example/cb#x",
        "https://u@a.example/cb",
        "http://a.example/cb",
        "/relative",
        "https://a.example/ cb",
    ] {
        let r = Client::public("c", false, &[bad], &[]);
        assert!(
            matches!(r, Err(ClientError::Redirect { index: 0, .. })),
            "{bad}"
        );
    }
}

#[test]
fn authorize_3_1_2_3_omitted_redirect_uri_uses_the_only_registration() {
    let f = fx();
    let q = format!(
        "response_type=code&client_id=spa&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=claims:read"
    );
    assert_eq!(f.valid(&q).redirect_uri, "https://spa.example.com/cb");
    assert!(!f.valid(&q).redirect_uri_given);
    // webapp has two: the request must name one.
    let q = format!(
        "response_type=code&client_id=webapp&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=claims:read"
    );
    f.shown(&q);
}

#[test]
fn authorize_4_1_2_1_missing_response_type_is_invalid_request() {
    let f = fx();
    let q = web_read(|q| q.remove("response_type"));
    assert_eq!(f.redirect_error(&q).0, OAuthErrorCode::InvalidRequest);
}

#[test]
fn authorize_4_1_2_1_unsupported_response_type() {
    let f = fx();
    for rt in ["token", "code%20token", "CODE"] {
        let q = web_read(|q| q.set("response_type", rt));
        assert_eq!(
            f.redirect_error(&q).0,
            OAuthErrorCode::UnsupportedResponseType
        );
    }
}

#[test]
fn authorize_4_1_2_1_unauthorized_client() {
    let f = fx();
    let mut c = Client::public("nocode", false, &["https://n.example/cb"], &["claims:read"])
        .expect("client");
    c.grant_types = vec!["refresh_token".into()];
    f.store.add_client(c);
    let q = format!(
        "response_type=code&client_id=nocode&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=claims:read"
    );
    assert_eq!(f.redirect_error(&q).0, OAuthErrorCode::UnauthorizedClient);
}

#[test]
fn authorize_3_3_invalid_scope_unknown_malformed_missing_or_not_allowed() {
    let f = fx();
    for scope in [
        "claims:delete",
        "claims:read%20%20orders:read",
        "%20claims:read",
        "claims:read%22",
        "analytics:read",
    ] {
        let (code, loc) = f.redirect_error(&web_query(&format!("&scope={scope}")));
        assert_eq!(code, OAuthErrorCode::InvalidScope, "{scope}");
        assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));
    }
    assert_eq!(
        f.redirect_error(&web_query("")).0,
        OAuthErrorCode::InvalidScope
    );
}

#[test]
fn authorize_3_3_default_scope_when_configured() {
    let f = fx_with(OAuthConfig {
        default_scope: Some("claims:read".into()),
        ..OAuthConfig::default()
    });
    let req = f.valid(&web_query(""));
    assert_eq!(f.server.catalog().canonical(&req.scope), "claims:read");
}

#[test]
fn authorize_9700_2_3_granted_is_requested_intersect_client_allowed() {
    let f = fx();
    let req = f.valid(&web_query("&scope=claims:read%20analytics:read"));
    assert_eq!(f.server.catalog().canonical(&req.scope), "claims:read");
    assert!(req.scope_narrowed);
}

#[test]
fn pkce_7636_required_for_public_and_by_default_for_confidential() {
    let f = fx();
    let q = "response_type=code&client_id=spa&scope=claims:read&state=s1";
    let (code, loc) = f.redirect_error(q);
    assert_eq!(code, OAuthErrorCode::InvalidRequest);
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s1"));
    let web = web_read(|q| q.remove("code_challenge").remove("code_challenge_method"));
    assert_eq!(f.redirect_error(&web).0, OAuthErrorCode::InvalidRequest);
    let relaxed = fx_with(OAuthConfig {
        require_pkce_for_confidential: false,
        ..OAuthConfig::default()
    });
    assert!(relaxed.valid(&web).challenge.is_none());
    assert_eq!(relaxed.redirect_error(q).0, OAuthErrorCode::InvalidRequest);
}

#[test]
fn pkce_7636_4_3_plain_refused_unless_enabled() {
    let f = fx();
    let plain = web_read(|q| {
        q.set("code_challenge", VERIFIER)
            .set("code_challenge_method", "plain")
    });
    let no_method = web_read(|q| q.remove("code_challenge_method"));
    assert_eq!(f.redirect_error(&plain).0, OAuthErrorCode::InvalidRequest);
    assert_eq!(
        f.redirect_error(&no_method).0,
        OAuthErrorCode::InvalidRequest
    );
    let g = fx_with(OAuthConfig {
        allow_plain_pkce: true,
        ..OAuthConfig::default()
    });
    g.valid(&plain);
    let code = g.code_for(&plain, NOW);
    assert_eq!(g.exchange(&code, NOW).status, 200);
}

#[test]
fn pkce_7636_4_4_1_malformed_challenge_or_unknown_method_is_invalid_request() {
    let f = fx();
    for (c, m) in [
        ("short", "S256"),
        (&CHALLENGE[..42], "S256"),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", "S256"),
        (CHALLENGE, "S512"),
        (CHALLENGE, "s256"),
    ] {
        let q = web_read(|q| {
            q.set("code_challenge", &enc(c))
                .set("code_challenge_method", m)
        });
        assert_eq!(
            f.redirect_error(&q).0,
            OAuthErrorCode::InvalidRequest,
            "{c} {m}"
        );
    }
}

#[test]
fn authorize_4_1_2_approve_redirects_with_code_and_state() {
    let f = fx();
    let req = f.valid(&web_query("&scope=claims:read"));
    let loc = f
        .server
        .approve(&req, "user_7", None, &f.store, &f.rng, Timestamp(NOW))
        .expect("approve");
    assert!(loc.starts_with(&format!("{WEB_CB}?code=ac.")));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
    let code = query_param(&loc, "code").expect("code");
    // ≥ 128 bits: 43 base62 characters ≈ 256 bits.
    assert_eq!(code.len(), 3 + 43);
}

#[test]
fn authorize_4_1_2_1_access_denied_server_error_and_temporarily_unavailable() {
    let f = fx();
    let req = f.valid(&web_query("&scope=claims:read"));
    let loc = f.server.deny(&req);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
    for code in [
        OAuthErrorCode::ServerError,
        OAuthErrorCode::TemporarilyUnavailable,
    ] {
        let loc = f
            .server
            .error_redirect(&req, OAuthError::new(code, "Try later & again"));
        assert_eq!(query_param(&loc, "error").as_deref(), Some(code.as_str()));
        assert_eq!(
            query_param(&loc, "error_description").as_deref(),
            Some("Try later & again")
        );
    }
    // State with reserved characters is echoed intact.
    let q = web_read(|q| {
        q.set("state", "a%26b%3Dc%20d")
            .set("response_type", "token")
    });
    let (_, loc) = f.redirect_error(&q);
    assert_eq!(query_param(&loc, "state").as_deref(), Some("a&b=c d"));
}

#[test]
fn authorize_consent_may_narrow_but_not_widen() {
    let f = fx();
    let req = f.valid(&web_query("&scope=claims:read"));
    let orders = f.server.parse_scope("orders:read").expect("scope");
    let e = f
        .server
        .approve(
            &req,
            "user_7",
            Some(orders),
            &f.store,
            &f.rng,
            Timestamp(NOW),
        )
        .expect_err("nothing consented");
    assert_eq!(e.code, OAuthErrorCode::AccessDenied);
}

// ---------------------------------------------------------------- token endpoint

#[test]
fn token_5_1_success_response_json_and_headers() {
    let f = fx();
    let r = f.exchange(&f.code(), NOW);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = json(&r);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert!(
        v["access_token"]
            .as_str()
            .expect("at")
            .starts_with("at.k1.")
    );
    assert!(v["refresh_token"].as_str().expect("rt").starts_with("rt."));
    assert!(
        v.get("scope").is_none(),
        "scope is only returned when it differs"
    );
    assert!(!format!("{r:?}").contains("at.k1."));
}

#[test]
fn token_5_1_scope_returned_when_it_differs_from_the_request() {
    let f = fx();
    let code = f.code_for(&web_query("&scope=claims:read%20analytics:read"), NOW);
    let v = json(&f.exchange(&code, NOW));
    assert_eq!(v["scope"], "claims:read");
}

#[test]
fn token_5_2_error_response_for_errors_the_host_finds_itself() {
    let f = fx();
    let r = f.server.error_response(OAuthError::new(
        OAuthErrorCode::InvalidRequest,
        "The request body is not UTF-8",
    ));
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "invalid_request");
    assert_eq!(
        json(&r)["error_description"],
        "The request body is not UTF-8"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("www-authenticate"), None);
    let r = f
        .server
        .error_response(OAuthError::new(OAuthErrorCode::InvalidClient, "x"));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"claimport\"")
    );
}

#[test]
fn token_5_2_invalid_client_is_401_with_www_authenticate() {
    let f = fx();
    let code = f.code();
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(WEB_CB)
    );
    let wrong = "cs.0000000000000000000000000000000000000000000";
    for auth in [
        Some(basic("webapp", wrong)),
        Some(basic("webapp", "short")),
        Some(basic("nobody", f.web_secret.expose())),
        Some("Basic !!!".to_owned()),
        Some("Bearer x".to_owned()),
        None,
    ] {
        let r = f.token_at(auth.as_deref(), &body, NOW);
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(error_code(&r), "invalid_client");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"claimport\"")
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // None of these consumed the code.
    assert_eq!(f.exchange(&code, NOW).status, 200);
}

#[test]
fn token_2_3_1_body_credentials_refused_unless_enabled() {
    let f = fx();
    let body = |code: &str, secret: &str| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id=webapp&client_secret={secret}",
            enc(WEB_CB)
        )
    };
    let r = f.token_at(None, &body(&f.code(), f.web_secret.expose()), NOW);
    assert_eq!(
        (r.status, error_code(&r)),
        (401, "invalid_client".to_owned())
    );
    let g = fx_with(OAuthConfig {
        allow_body_credentials: true,
        ..OAuthConfig::default()
    });
    let r = g.token_at(None, &body(&g.code(), g.web_secret.expose()), NOW);
    assert_eq!(r.status, 200, "{}", r.body());
}

#[test]
fn token_2_3_one_authentication_method_only() {
    let f = fx();
    let body = format!(
        "grant_type=authorization_code&code={}&client_secret=x",
        f.code()
    );
    let r = f.web_token(&body, NOW);
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "invalid_request".to_owned())
    );
    let body = format!(
        "grant_type=authorization_code&code={}&client_id=spa",
        f.code()
    );
    assert_eq!(error_code(&f.web_token(&body, NOW)), "invalid_request");
}

#[test]
fn token_2_3_1_public_client_identifies_with_client_id_only() {
    let f = fx();
    let q = format!(
        "response_type=code&client_id=spa&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=claims:read"
    );
    let code = f.code_for(&q, NOW);
    let body =
        format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&client_id=spa");
    let r = f.token_at(None, &body, NOW);
    assert_eq!(r.status, 200, "{}", r.body());
    // A public client has no secret to present.
    let r = f.token_at(
        Some(&basic("spa", "cs.x")),
        "grant_type=refresh_token&refresh_token=x",
        NOW,
    );
    assert_eq!(error_code(&r), "invalid_client");
}

#[test]
fn token_5_2_invalid_request_missing_or_repeated_parameters() {
    let f = fx();
    assert_eq!(error_code(&f.web_token("code=x", NOW)), "invalid_request");
    assert_eq!(
        error_code(&f.web_token("grant_type=authorization_code", NOW)),
        "invalid_request"
    );
    assert_eq!(
        error_code(&f.web_token("grant_type=refresh_token", NOW)),
        "invalid_request"
    );
    let r = f.web_token(
        "grant_type=authorization_code&grant_type=authorization_code&code=x",
        NOW,
    );
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "invalid_request".to_owned())
    );
    assert_eq!(
        error_code(&f.web_token("grant_type=%ZZ", NOW)),
        "invalid_request"
    );
}

#[test]
fn token_5_2_unsupported_grant_type() {
    let f = fx();
    for g in [
        "password",
        "client_credentials",
        "implicit",
        "Authorization_Code",
    ] {
        let r = f.web_token(&format!("grant_type={g}&username=a&password=b"), NOW);
        assert_eq!(
            (r.status, error_code(&r)),
            (400, "unsupported_grant_type".to_owned()),
            "{g}"
        );
    }
}

#[test]
fn token_5_2_unauthorized_client() {
    let f = fx();
    let mut c = Client::public(
        "norefresh",
        false,
        &["https://n.example/cb"],
        &["claims:read"],
    )
    .expect("client");
    c.grant_types = vec!["authorization_code".into()];
    f.store.add_client(c);
    let r = f.token_at(
        None,
        "grant_type=refresh_token&refresh_token=rt.x&client_id=norefresh",
        NOW,
    );
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "unauthorized_client".to_owned())
    );
    // And it gets no refresh token from a code exchange.
    let q = format!(
        "response_type=code&client_id=norefresh&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=claims:read"
    );
    let code = f.code_for(&q, NOW);
    let r = f.token_at(
        None,
        &format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&client_id=norefresh"
        ),
        NOW,
    );
    assert_eq!(r.status, 200);
    assert!(json(&r).get("refresh_token").is_none());
}

#[test]
fn token_5_2_invalid_grant_unknown_or_malformed_code() {
    let f = fx();
    for code in [
        "nope",
        "ac.0000000000000000000000000000000000000000000",
        "ac.%00",
    ] {
        let r = f.exchange(code, NOW);
        assert_eq!(
            (r.status, error_code(&r)),
            (400, "invalid_grant".to_owned()),
            "{code}"
        );
    }
}

#[test]
fn code_4_1_2_expires_after_ten_minutes() {
    let f = fx();
    assert_eq!(f.exchange(&f.code(), NOW + 599).status, 200);
    let r = f.exchange(&f.code(), NOW + 600);
    assert_eq!(error_code(&r), "invalid_grant");
    // A longer configured lifetime is capped at ten minutes.
    let g = fx_with(OAuthConfig {
        code_ttl: 3600,
        ..OAuthConfig::default()
    });
    assert_eq!(
        error_code(&g.exchange(&g.code(), NOW + 600)),
        "invalid_grant"
    );
}

#[test]
fn code_4_1_2_reuse_is_invalid_grant_and_revokes_the_family() {
    let f = fx();
    let code = f.code();
    let first = json(&f.exchange(&code, NOW));
    let at = first["access_token"].as_str().expect("at");
    let rt = first["refresh_token"].as_str().expect("rt");
    assert!(f.api(at, NOW + 1).allowed());
    let again = f.exchange(&code, NOW + 2);
    assert_eq!(
        (again.status, error_code(&again)),
        (400, "invalid_grant".to_owned())
    );
    let d = f.api(at, NOW + 3);
    assert_eq!(d.status(), 401);
    assert_eq!(d.reason(), Reason::AccessToken(TokenError::Revoked));
    assert_eq!(error_code(&f.refresh(rt, "", NOW + 4)), "invalid_grant");
}

#[test]
fn code_a_request_failing_client_redirect_or_pkce_checks_does_not_burn_the_code() {
    let f = fx();
    let code = f.code();
    let body = |redirect: &str, verifier: &str| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}",
            enc(redirect)
        )
    };
    let wrong_verifier = f.web_token(&body(WEB_CB, &"x".repeat(43)), NOW);
    assert_eq!(error_code(&wrong_verifier), "invalid_grant");
    let wrong_redirect = f.web_token(&body("https://app.example.com/other?x=1", VERIFIER), NOW);
    assert_eq!(error_code(&wrong_redirect), "invalid_grant");
    let wrong_client = f.token_at(
        None,
        &format!("{}&client_id=spa", body(WEB_CB, VERIFIER)),
        NOW,
    );
    assert_eq!(error_code(&wrong_client), "invalid_grant");
    // The code is still redeemable, once, by its client with the right verifier.
    let first = f.exchange(&code, NOW + 1);
    assert_eq!(first.status, 200, "{}", first.body());
    let at = json(&first)["access_token"]
        .as_str()
        .expect("at")
        .to_owned();
    // Single use stays strict for correct attempts, and a replay revokes the grant.
    assert_eq!(error_code(&f.exchange(&code, NOW + 2)), "invalid_grant");
    assert_eq!(
        f.api(&at, NOW + 3).reason(),
        Reason::AccessToken(TokenError::Revoked)
    );
}

#[test]
fn code_4_1_3_bound_to_the_client() {
    let f = fx();
    let code = f.code();
    let r = f.token_at(
        None,
        &format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&client_id=spa"
        ),
        NOW,
    );
    assert_eq!(error_code(&r), "invalid_grant");
}

#[test]
fn code_4_1_3_redirect_uri_must_be_identical() {
    let f = fx();
    let r = f.web_token(
        &format!(
            "grant_type=authorization_code&code={}&code_verifier={VERIFIER}",
            f.code()
        ),
        NOW,
    );
    assert_eq!(error_code(&r), "invalid_request");
    let r = f.web_token(
        &format!(
            "grant_type=authorization_code&code={}&code_verifier={VERIFIER}&redirect_uri={}",
            f.code(),
            enc("https://app.example.com/callback/")
        ),
        NOW,
    );
    assert_eq!(error_code(&r), "invalid_grant");
}

#[test]
fn pkce_7636_4_6_wrong_or_missing_verifier() {
    let f = fx();
    let other = "x".repeat(43);
    let body = |code: &str, v: &str| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}{v}",
            enc(WEB_CB)
        )
    };
    assert_eq!(
        error_code(&f.web_token(&body(&f.code(), &format!("&code_verifier={other}")), NOW)),
        "invalid_grant"
    );
    assert_eq!(
        error_code(&f.web_token(&body(&f.code(), ""), NOW)),
        "invalid_request"
    );
    // The verifier grammar: 43..=128 unreserved characters.
    let short = &VERIFIER[..42];
    assert_eq!(
        error_code(&f.web_token(&body(&f.code(), &format!("&code_verifier={short}")), NOW)),
        "invalid_grant"
    );
}

#[test]
fn pkce_9700_2_1_1_downgrade_attack_is_refused() {
    // A code issued without a challenge, redeemed with a verifier: the attacker stripped
    // the challenge from the authorization request.
    let f = fx_with(OAuthConfig {
        require_pkce_for_confidential: false,
        ..OAuthConfig::default()
    });
    let q = web_read(|q| q.remove("code_challenge").remove("code_challenge_method"));
    let code = f.code_for(&q, NOW);
    let r = f.exchange(&code, NOW);
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "invalid_grant".to_owned())
    );
    // Without a verifier the same kind of code works (PKCE off for this client).
    let code = f.code_for(&q, NOW);
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        enc(WEB_CB)
    );
    assert_eq!(f.web_token(&body, NOW).status, 200);
}

// ---------------------------------------------------------------- refresh

#[test]
fn refresh_6_rotates_on_every_use() {
    let f = fx();
    let (_, rt1) = f.tokens();
    let r = f.refresh(&rt1, "", NOW + 10);
    assert_eq!(r.status, 200, "{}", r.body());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = json(&r);
    let rt2 = v["refresh_token"].as_str().expect("rt2");
    assert_ne!(rt1, rt2);
    assert!(
        f.api(v["access_token"].as_str().expect("at"), NOW + 11)
            .allowed()
    );
    assert_eq!(f.refresh(rt2, "", NOW + 20).status, 200);
}

#[test]
fn refresh_9700_4_14_2_reuse_of_rotated_token_revokes_the_family() {
    let f = fx();
    let (at1, rt1) = f.tokens();
    let v = json(&f.refresh(&rt1, "", NOW + 10));
    let at2 = v["access_token"].as_str().expect("at2").to_owned();
    let rt2 = v["refresh_token"].as_str().expect("rt2").to_owned();
    let reuse = f.refresh(&rt1, "", NOW + 20);
    assert_eq!(
        (reuse.status, error_code(&reuse)),
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(error_code(&f.refresh(&rt2, "", NOW + 21)), "invalid_grant");
    for at in [at1, at2] {
        assert_eq!(
            f.api(&at, NOW + 22).reason(),
            Reason::AccessToken(TokenError::Revoked)
        );
    }
    // Another grant of the same client is untouched.
    let (at3, rt3) = f.tokens();
    assert!(f.api(&at3, NOW + 23).allowed());
    assert_eq!(f.refresh(&rt3, "", NOW + 24).status, 200);
}

#[test]
fn refresh_grace_window_allows_a_retry_then_reuse_revokes() {
    let f = fx_with(OAuthConfig {
        refresh_grace: 30,
        ..OAuthConfig::default()
    });
    let (_, rt1) = f.tokens();
    assert_eq!(f.refresh(&rt1, "", NOW + 10).status, 200);
    assert_eq!(
        f.refresh(&rt1, "", NOW + 39).status,
        200,
        "within 30 s of the rotation"
    );
    // The window counts from the first rotation (+10) and closes at +40.
    let (_, rt2) = f.tokens();
    assert_eq!(f.refresh(&rt2, "", NOW + 10).status, 200);
    let late = f.refresh(&rt2, "", NOW + 40);
    assert_eq!(error_code(&late), "invalid_grant");
    // Default grace is 0: an immediate second use is already reuse.
    let g = fx();
    let (_, rt) = g.tokens();
    assert_eq!(g.refresh(&rt, "", NOW).status, 200);
    assert_eq!(error_code(&g.refresh(&rt, "", NOW)), "invalid_grant");
}

#[test]
fn refresh_grace_redeems_a_rotated_token_once_and_a_second_redemption_revokes_the_family() {
    let f = fx_with(OAuthConfig {
        refresh_grace: 30,
        ..OAuthConfig::default()
    });
    let (at0, rt0) = f.tokens();
    let first = json(&f.refresh(&rt0, "", NOW + 10));
    let retry = json(&f.refresh(&rt0, "", NOW + 12));
    let (at1, rt1) = (&first["access_token"], &first["refresh_token"]);
    let (at2, rt2) = (&retry["access_token"], &retry["refresh_token"]);
    assert!(rt2.is_string(), "the one retry within the window succeeds");
    // A third redemption, still inside the window, is reuse (RFC 9700 §4.14.2).
    let third = f.refresh(&rt0, "", NOW + 14);
    assert_eq!(
        (third.status, error_code(&third)),
        (400, "invalid_grant".to_owned())
    );
    for rt in [rt1, rt2] {
        let rt = rt.as_str().expect("rt");
        assert_eq!(error_code(&f.refresh(rt, "", NOW + 15)), "invalid_grant");
    }
    for at in [&at0, at1.as_str().expect("at1"), at2.as_str().expect("at2")] {
        assert_eq!(
            f.api(at, NOW + 15).reason(),
            Reason::AccessToken(TokenError::Revoked)
        );
    }
}

#[test]
fn refresh_6_scope_may_only_narrow() {
    let f = fx();
    let code = f.code_for(&web_query("&scope=claims:write%20orders:read"), NOW);
    let rt = json(&f.exchange(&code, NOW))["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    let wide = f.refresh(&rt, "&scope=analytics:read", NOW + 1);
    assert_eq!(error_code(&wide), "invalid_scope");
    let v = json(&f.refresh(&rt, "&scope=claims:read", NOW + 2));
    let at = v["access_token"].as_str().expect("at");
    let d = f.api(at, NOW + 3);
    assert_eq!(d.scopes().collect::<Vec<_>>(), ["claims:read"]);
    // The new refresh token keeps the whole grant (RFC 6749 §6).
    let rt2 = v["refresh_token"].as_str().expect("rt2");
    let full = json(&f.refresh(rt2, "", NOW + 4));
    let d = f.api(full["access_token"].as_str().expect("at"), NOW + 5);
    assert_eq!(
        d.scopes().collect::<Vec<_>>(),
        ["claims:read", "claims:write", "orders:read"]
    );
}

#[test]
fn refresh_idle_expiry_and_family_lifetime() {
    let day = 86_400;
    let f = fx();
    let (_, rt) = f.tokens();
    assert_eq!(
        error_code(&f.refresh(&rt, "", NOW + 30 * day)),
        "invalid_grant"
    );
    let (_, mut rt) = f.tokens();
    for i in 1..=3 {
        let r = f.refresh(&rt, "", NOW + i * 29 * day);
        assert_eq!(r.status, 200);
        rt = json(&r)["refresh_token"].as_str().expect("rt").to_owned();
    }
    assert_eq!(
        error_code(&f.refresh(&rt, "", NOW + 90 * day)),
        "invalid_grant"
    );
}

#[test]
fn refresh_bound_to_the_client() {
    let f = fx();
    let (_, rt) = f.tokens();
    let r = f.token_at(
        None,
        &format!("grant_type=refresh_token&refresh_token={rt}&client_id=spa"),
        NOW,
    );
    assert_eq!(error_code(&r), "invalid_grant");
    assert_eq!(
        f.refresh(&rt, "", NOW + 1).status,
        200,
        "the owner can still use it"
    );
}

// ---------------------------------------------------------------- access tokens in check

#[test]
fn access_token_expires_at_exactly_one_hour() {
    let f = fx();
    let (at, _) = f.tokens();
    let d = f.api(&at, NOW + 3599);
    assert!(d.allowed());
    assert_eq!(d.owner(), Some("user_7"));
    let d = f.api(&at, NOW + 3600);
    assert_eq!(
        (d.status(), d.reason()),
        (401, Reason::AccessToken(TokenError::Expired))
    );
    assert_eq!(d.error().map(|e| e.as_str()), Some("invalid_token"));
    assert_eq!(
        d.www_authenticate().map(|w| w.to_string()).as_deref(),
        Some(
            "Bearer realm=\"claimport\", error=\"invalid_token\", error_description=\"The access token is invalid\""
        )
    );
}

#[test]
fn access_token_scope_checked_like_a_key() {
    let f = fx();
    let (at, _) = f.tokens();
    let header = format!("Bearer {at}");
    let req = Request::new("POST", "/v1/claims")
        .authorization(&header)
        .https(true);
    let d = f
        .checker
        .check(&req, &portcullis::MemoryStore::new(), Timestamp(NOW));
    assert_eq!(d.status(), 403);
    assert_eq!(d.missing().collect::<Vec<_>>(), ["claims:write"]);
    assert_eq!(d.owner(), Some("user_7"));
    let record = &d.principal().expect("principal").record;
    assert_eq!(record.kind(), "at");
    assert_eq!(record.name(), "webapp");
}

/// A revocation feed whose currency the test sets.
struct Feed(std::sync::atomic::AtomicBool);

impl portcullis::oauth::RevocationFeed for Feed {
    fn is_current(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn access_token_fails_closed_while_its_revocation_feed_is_behind() {
    let f = fx();
    let (at, _) = f.tokens();
    let header = format!("Bearer {at}");
    let req = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    let lookup = portcullis::MemoryStore::new();
    let feed = Arc::new(Feed(true.into()));
    let revocations = f.server.verifier().revocations();
    assert!(revocations.follow(feed.clone()));
    assert!(!revocations.follow(Arc::new(Feed(true.into()))), "one feed");
    assert_eq!(f.checker.check(&req, &lookup, Timestamp(NOW)).status(), 200);

    feed.0.store(false, std::sync::atomic::Ordering::SeqCst);
    let d = f.checker.check(&req, &lookup, Timestamp(NOW));
    assert_eq!((d.status(), d.reason().code()), (503, "lookup_failed"));
    let verified = f.server.verifier().verify(at.as_bytes(), Timestamp(NOW));
    assert_eq!(verified, Err(TokenError::RevocationsStale));
    assert_eq!(
        TokenError::RevocationsStale.code(),
        "access_token_revocations_stale"
    );
    // A token whose family is known to be revoked is still told so.
    let family = f
        .server
        .verifier()
        .decode(at.as_bytes())
        .expect("decode")
        .family;
    revocations.revoke_family(family);
    let verified = f.server.verifier().verify(at.as_bytes(), Timestamp(NOW));
    assert_eq!(verified, Err(TokenError::Revoked));

    revocations.forget_family(&family);
    feed.0.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(f.checker.check(&req, &lookup, Timestamp(NOW)).status(), 200);
}

#[test]
fn access_token_in_query_is_refused() {
    let f = fx();
    let policy = TestPolicy::claimport().allow_query_key(true).build();
    let verifier = f.server.verifier().clone();
    let checker = common::checker_of(policy)
        .with_access_tokens(verifier)
        .expect("same catalog");
    let (at, _) = f.tokens();
    let q = format!("api_key={at}");
    let req = Request::new("GET", "/v1/claims").query(&q).https(true);
    let d = checker.check(&req, &portcullis::MemoryStore::new(), Timestamp(NOW));
    assert_eq!(d.status(), 400);
    assert_eq!(d.reason().code(), "query_refused");
}

#[test]
fn access_token_two_phase_needs_the_time() {
    let f = fx();
    let (at, _) = f.tokens();
    let header = format!("Bearer {at}");
    let req = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    match f.checker.prepare(&req) {
        portcullis::Prepared::Done(d) => {
            assert_eq!(d.reason(), Reason::AccessToken(TokenError::TimeRequired));
            assert_eq!(d.status(), 401);
        }
        portcullis::Prepared::Lookup(_) => panic!("no lookup for an access token"),
    }
    match f.checker.prepare_at(&req, Timestamp(NOW)) {
        portcullis::Prepared::Done(d) => assert!(d.allowed()),
        portcullis::Prepared::Lookup(_) => panic!("no lookup for an access token"),
    }
}

#[test]
fn access_token_revocation_epoch() {
    let f = fx();
    let (at, _) = f.tokens();
    f.server
        .verifier()
        .revocations()
        .set_epoch(Timestamp(NOW + 1));
    assert_eq!(
        f.api(&at, NOW + 2).reason(),
        Reason::AccessToken(TokenError::Revoked)
    );
    let g = fx();
    let (at, _) = g.tokens();
    g.server.verifier().revocations().set_epoch(Timestamp(NOW));
    assert!(
        g.api(&at, NOW + 2).allowed(),
        "issued at the epoch: still valid"
    );
}

#[test]
fn access_token_without_verifier_is_a_malformed_key() {
    let f = fx();
    let (at, _) = f.tokens();
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    let plain = common::checker_of(policy);
    let header = format!("Bearer {at}");
    let req = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    let d = plain.check(&req, &portcullis::MemoryStore::new(), Timestamp(NOW));
    assert_eq!(d.status(), 401);
    assert_eq!(d.reason().code(), "malformed_key");
}

// ---------------------------------------------------------------- revocation, introspection

#[test]
fn revoke_7009_2_2_unknown_token_is_200() {
    let f = fx();
    let stores = Stores::all(&f.store);
    let auth = basic("webapp", f.web_secret.expose());
    for token in [
        "nope",
        "rt.0000000000000000000000000000000000000000000",
        "at.k1.AA.AA",
    ] {
        let r = f.server.revoke(
            Some(&auth),
            &format!("token={token}"),
            stores,
            Timestamp(NOW),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}

#[test]
fn revoke_7009_2_1_refresh_token_revokes_its_family() {
    let f = fx();
    let (at, rt) = f.tokens();
    let stores = Stores::all(&f.store);
    let auth = basic("webapp", f.web_secret.expose());
    let r = f.server.revoke(
        Some(&auth),
        &format!("token={rt}&token_type_hint=refresh_token"),
        stores,
        Timestamp(NOW + 1),
    );
    assert_eq!(r.status, 200);
    assert_eq!(error_code(&f.refresh(&rt, "", NOW + 2)), "invalid_grant");
    assert_eq!(
        f.api(&at, NOW + 2).reason(),
        Reason::AccessToken(TokenError::Revoked)
    );
}

#[test]
fn revoke_7009_access_token_revokes_its_family_and_needs_its_client() {
    let f = fx();
    let (at, rt) = f.tokens();
    let stores = Stores::all(&f.store);
    // Another client cannot revoke it (RFC 7009 §2.1: refused, and the token stays valid).
    let spa = f.server.revoke(
        None,
        &format!("token={at}&client_id=spa"),
        stores,
        Timestamp(NOW),
    );
    assert_eq!(
        (spa.status, error_code(&spa)),
        (400, "unauthorized_client".to_owned())
    );
    assert!(f.api(&at, NOW + 1).allowed());
    let auth = basic("webapp", f.web_secret.expose());
    f.server.revoke(
        Some(&auth),
        &format!("token={at}"),
        stores,
        Timestamp(NOW + 1),
    );
    assert_eq!(f.api(&at, NOW + 2).status(), 401);
    assert_eq!(error_code(&f.refresh(&rt, "", NOW + 2)), "invalid_grant");
}

#[test]
fn revoke_7009_2_2_1_unsupported_token_type_and_client_auth() {
    let f = fx();
    let stores = Stores::all(&f.store);
    let auth = basic("webapp", f.web_secret.expose());
    let r = f.server.revoke(
        Some(&auth),
        "token=x&token_type_hint=id_token",
        stores,
        Timestamp(NOW),
    );
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "unsupported_token_type".to_owned())
    );
    let r = f.server.revoke(None, "token=x", stores, Timestamp(NOW));
    assert_eq!(
        (r.status, error_code(&r)),
        (401, "invalid_client".to_owned())
    );
    let r = f.server.revoke(Some(&auth), "", stores, Timestamp(NOW));
    assert_eq!(error_code(&r), "invalid_request");
}

#[test]
fn introspect_7662_2_2_active_and_inactive() {
    let f = fx();
    let (at, rt) = f.tokens();
    let stores = Stores::all(&f.store);
    let auth = basic("webapp", f.web_secret.expose());
    let look = |token: &str, auth: Option<&str>, now: u64| {
        json(
            &f.server
                .introspect(auth, &format!("token={token}"), stores, Timestamp(now)),
        )
    };
    let v = look(&at, Some(&auth), NOW + 5);
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "webapp");
    assert_eq!(v["sub"], "user_7");
    assert_eq!(v["scope"], "claims:read");
    assert_eq!(v["exp"], NOW + 3600);
    assert_eq!(
        look(&rt, Some(&auth), NOW + 5)["token_type"],
        "refresh_token"
    );
    let inactive = serde_json::json!({"active": false});
    assert_eq!(look(&at, Some(&auth), NOW + 3600), inactive, "expired");
    assert_eq!(look("garbage", Some(&auth), NOW), inactive);
    assert_eq!(
        look(&at, None, NOW).get("error").and_then(Value::as_str),
        Some("invalid_client")
    );
    // A rotated refresh token is inactive.
    f.refresh(&rt, "", NOW + 6);
    assert_eq!(look(&rt, Some(&auth), NOW + 7), inactive);
}

/// A second confidential client, "partner", and its Basic header.
fn partner(f: &Fx) -> String {
    let (client, secret) = Client::confidential(
        "partner",
        &["https://partner.example/cb"],
        &["claims:read"],
        &f.rng,
    )
    .expect("partner");
    f.store.add_client(client);
    basic("partner", secret.expose())
}

#[test]
fn introspect_7662_2_1_a_public_client_id_alone_is_401_invalid_client() {
    let f = fx();
    let (at, rt) = f.tokens();
    let stores = Stores::all(&f.store);
    for token in [&at, &rt] {
        // Its own client's id, or any other public one: an id proves nothing.
        for id in ["spa", "cli"] {
            let r = f.server.introspect(
                None,
                &format!("token={token}&client_id={id}"),
                stores,
                Timestamp(NOW + 1),
            );
            assert_eq!(
                (r.status, error_code(&r)),
                (401, "invalid_client".to_owned())
            );
            assert!(r.header("WWW-Authenticate").is_some());
            assert!(json(&r).get("active").is_none(), "no token data");
        }
    }
}

#[test]
fn introspect_7662_2_2_another_confidential_clients_token_is_inactive() {
    let f = fx();
    let (at, rt) = f.tokens();
    let stores = Stores::all(&f.store);
    let auth = partner(&f);
    for token in [&at, &rt] {
        let r = f.server.introspect(
            Some(&auth),
            &format!("token={token}"),
            stores,
            Timestamp(NOW + 1),
        );
        assert_eq!(r.status, 200);
        assert_eq!(json(&r), serde_json::json!({"active": false}));
    }
}

#[test]
fn revoke_7009_2_1_another_clients_token_is_refused_and_stays_valid() {
    let f = fx();
    let (at, rt) = f.tokens();
    let stores = Stores::all(&f.store);
    let auth = partner(&f);
    for token in [&at, &rt] {
        let r = f.server.revoke(
            Some(&auth),
            &format!("token={token}"),
            stores,
            Timestamp(NOW + 1),
        );
        assert_eq!(
            (r.status, error_code(&r)),
            (400, "unauthorized_client".to_owned())
        );
    }
    // Expired, the access token is still attributable to its client: still refused.
    let r = f.server.revoke(
        Some(&auth),
        &format!("token={at}"),
        stores,
        Timestamp(NOW + 7200),
    );
    assert_eq!(error_code(&r), "unauthorized_client");
    assert!(f.api(&at, NOW + 2).allowed());
    assert_eq!(f.refresh(&rt, "", NOW + 2).status, 200);
}

// ---------------------------------------------------------------- secrets

#[test]
fn secrets_stay_out_of_debug_output() {
    let f = fx();
    let code = f.code();
    let body = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    let params = portcullis::oauth::Params::parse(&body).expect("params");
    assert!(!format!("{params:?}").contains(&code));
    assert!(!format!("{params:?}").contains(VERIFIER));
    let keys = AccessKeys::new("k1", &[0xAB; 32]).expect("keys");
    assert!(!format!("{keys:?}").to_lowercase().contains("abab"));
    assert!(!format!("{:?}", f.server).to_lowercase().contains("0909"));
    let r = f.exchange(&code, NOW);
    let at = json(&r)["access_token"].as_str().expect("at").to_owned();
    assert!(!format!("{r:?}").contains(&at));
    assert!(!format!("{:?}", f.store).contains(&code));
    let e = OAuthError::new(OAuthErrorCode::InvalidGrant, "x");
    assert_eq!(e.to_string(), "invalid_grant: x");
}

// ---------------------------------------------------------------- stores

#[test]
fn authorize_leading_question_mark_is_ignored() {
    let f = fx();
    f.valid(&format!("?{}", web_query("&scope=claims:read")));
}

/// A store whose every operation fails (the host's database is down).
struct DownStore;

impl portcullis::oauth::ClientStore for DownStore {
    fn client(&self, _: &str) -> Result<Option<Arc<Client>>, portcullis::LookupError> {
        Err(portcullis::LookupError::new("db down"))
    }
}

#[test]
fn server_error_when_the_store_fails() {
    let f = fx();
    let e = f
        .server
        .authorize(&web_query("&scope=claims:read"), &DownStore);
    assert!(matches!(e, AuthorizeOutcome::ShowError(e) if e.code == OAuthErrorCode::ServerError));
    let stores = Stores {
        clients: &DownStore,
        codes: &f.store,
        refresh: &f.store,
    };
    let auth = basic("webapp", f.web_secret.expose());
    let r = f.server.token(
        Some(&auth),
        "grant_type=authorization_code&code=x",
        stores,
        &f.rng,
        Timestamp(NOW),
    );
    assert_eq!((r.status, error_code(&r)), (500, "server_error".to_owned()));
    assert!(
        !r.body().contains("db down"),
        "store messages stay in the host's logs"
    );
}

#[test]
fn code_consume_is_atomic_under_concurrency() {
    let f = fx();
    let code = f.code();
    let results: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| f.exchange(&code, NOW).status))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|&&s| s == 200).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|&&s| s == 400).count(),
        7,
        "{results:?}"
    );
}

#[test]
fn refresh_rotation_is_atomic_under_concurrency() {
    let f = fx();
    let (_, rt) = f.tokens();
    let results: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| f.refresh(&rt, "", NOW + 1).status))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    // At most one wins; a race is reuse, which revokes the family (grace 0).
    assert!(
        results.iter().filter(|&&s| s == 200).count() <= 1,
        "{results:?}"
    );
    assert!(results.contains(&400));
}
