//! The OAuth endpoints on arbitrary requests: `/authorize` query strings and `/token`,
//! `/revoke`, `/introspect` with arbitrary `Authorization` headers and bodies (raw, or a
//! real request with one parameter replaced), against a store with a confidential and a
//! public client, a live code and a live refresh token. Every response is well formed,
//! uncacheable and never echoes the client secret.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use portcullis::oauth::{
    AccessKeys, AccessVerifier, AuthorizeOutcome, Client, MemoryOAuthStore, OAuthConfig,
    OAuthServer, PkceChallenge, Stores,
};
use portcullis::{Policy, SeededRandom, Timestamp};
use std::sync::{Arc, LazyLock};

const NOW: u64 = 1_800_000_000;
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "https%3A%2F%2Fapp.example%2Fcb";

struct World {
    server: OAuthServer,
    clients: Vec<Client>,
    secret: String,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let policy = Policy::from_toml(include_str!("../../examples/claimport.toml")).expect("policy");
    let keys = AccessKeys::new("k1", &[7u8; 32]).expect("key");
    let verifier = Arc::new(AccessVerifier::new(keys, policy.catalog()));
    let server = OAuthServer::new(
        OAuthConfig::default(),
        policy.catalog().clone(),
        verifier,
        "claimport",
    );
    let rng = SeededRandom::new(b"oauth-fuzz");
    let scopes = ["claims:read", "claims:write", "orders:read"];
    let (webapp, secret) =
        Client::confidential("webapp", &["https://app.example/cb"], &scopes, &rng).expect("client");
    let cli = Client::public("cli", true, &["http://127.0.0.1/cb"], &scopes).expect("client");
    World {
        server,
        clients: vec![webapp, cli],
        secret: secret.expose().to_owned(),
    }
});

#[derive(Arbitrary, Debug)]
enum Endpoint {
    Authorize,
    Token,
    Revoke,
    Introspect,
}

#[derive(Arbitrary, Debug)]
enum Auth<'a> {
    None,
    Basic,
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Body<'a> {
    Raw(&'a str),
    /// A valid request for the endpoint with one parameter set to `value`.
    Edited {
        param: u8,
        value: &'a str,
    },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    endpoint: Endpoint,
    auth: Auth<'a>,
    body: Body<'a>,
    now_offset: i16,
}

/// A fresh store with both clients, one unused code and one refresh token.
fn setup(w: &World, now: Timestamp) -> (MemoryOAuthStore, String, String) {
    let store = MemoryOAuthStore::new();
    for c in &w.clients {
        store.add_client(c.clone());
    }
    let rng = SeededRandom::new(b"per-input");
    let challenge = PkceChallenge::s256(VERIFIER).challenge;
    let query = format!(
        "response_type=code&client_id=webapp&redirect_uri={REDIRECT}&scope=claims:read\
         &state=s&code_challenge={challenge}&code_challenge_method=S256"
    );
    let AuthorizeOutcome::Valid(request) = w.server.authorize(&query, &store) else {
        panic!("the fixed request is valid");
    };
    let code_for = |store: &MemoryOAuthStore| {
        let location = w
            .server
            .approve(&request, "user_7", None, store, &rng, now)
            .expect("approve");
        location
            .split("code=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .unwrap_or("")
            .to_owned()
    };
    let first = code_for(&store);
    let body = token_body(&first);
    let response = w
        .server
        .token(Some(&basic(w)), &body, Stores::all(&store), &rng, now);
    let json: serde_json::Value = serde_json::from_str(response.body()).expect("json");
    let refresh = json["refresh_token"].as_str().unwrap_or("").to_owned();
    let code = code_for(&store);
    (store, code, refresh)
}

fn basic(w: &World) -> String {
    let pair = format!("webapp:{}", w.secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn token_body(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
    )
}

fn valid_pairs(endpoint: &Endpoint, code: &str, refresh: &str) -> Vec<(String, String)> {
    let pairs: Vec<(&str, String)> = match endpoint {
        Endpoint::Authorize => vec![
            ("response_type", "code".into()),
            ("client_id", "webapp".into()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "claims:read".into()),
            ("state", "s".into()),
            ("code_challenge", PkceChallenge::s256(VERIFIER).challenge),
            ("code_challenge_method", "S256".into()),
        ],
        Endpoint::Token => vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.into()),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", VERIFIER.into()),
        ],
        Endpoint::Revoke | Endpoint::Introspect => vec![
            ("token", refresh.into()),
            ("token_type_hint", "refresh_token".into()),
        ],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fuzz_target!(|input: Input<'_>| {
    let w = &*WORLD;
    let now = Timestamp(NOW.saturating_add_signed(i64::from(input.now_offset)));
    let (store, code, refresh) = setup(w, Timestamp(NOW));
    let body = match &input.body {
        Body::Raw(text) => (*text).to_owned(),
        Body::Edited { param, value } => {
            let mut pairs = valid_pairs(&input.endpoint, &code, &refresh);
            let i = usize::from(*param) % (pairs.len() + 1);
            match pairs.get_mut(i) {
                Some(pair) => pair.1 = (*value).to_owned(),
                None => pairs.push(("extra".into(), (*value).to_owned())),
            }
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }
    };
    let auth = match &input.auth {
        Auth::None => None,
        Auth::Basic => Some(basic(w)),
        Auth::Raw(text) => Some((*text).to_owned()),
    };
    let rng = SeededRandom::new(b"request");
    let stores = Stores::all(&store);
    let response = match input.endpoint {
        Endpoint::Authorize => {
            let _ = w.server.authorize(&body, &store);
            return;
        }
        Endpoint::Token => w.server.token(auth.as_deref(), &body, stores, &rng, now),
        Endpoint::Revoke => w.server.revoke(auth.as_deref(), &body, stores, now),
        Endpoint::Introspect => w.server.introspect(auth.as_deref(), &body, stores, now),
    };
    assert!(
        matches!(response.status, 200 | 400 | 401 | 500 | 503),
        "{response:?}"
    );
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    let json: serde_json::Value = serde_json::from_str(response.body()).expect("JSON body");
    assert!(json.is_object());
    assert!(!response.body().contains(&w.secret), "client secret echoed");
    assert!(!format!("{response:?}").contains(&w.secret));
});
