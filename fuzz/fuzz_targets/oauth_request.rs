//! The OAuth endpoints on arbitrary requests: `/authorize` query strings and `/token`,
//! `/revoke`, `/introspect` with arbitrary `Authorization` headers and bodies (raw, or a
//! real request with one parameter replaced, written as form or JSON) under an arbitrary
//! `Content-Type` (form, JSON, raw bytes or none), against a store with a confidential and a
//! public client, a live code and a live refresh token. Every response is well formed,
//! uncacheable and never echoes the client secret.
//!
//! Everything that does not depend on the input — policy, catalog, keys, clients, the
//! code and refresh token and their records — is built once (`WORLD`). What a request
//! can change is made fresh per input, cheaply: a store filled with those records (a few
//! map inserts) and a server whose verifier starts with no revoked family. A revocation
//! set shared across inputs would carry state from one input to the next, and its
//! deferred frees would make every revoking input look like a leak to libFuzzer, which
//! then runs LeakSanitizer over the whole heap.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use portcullis::oauth::{
    AccessKeys, AccessVerifier, AuthorizeOutcome, Client, CodeRecord, CodeStore, EndpointRequest,
    MemoryOAuthStore, OAuthConfig, OAuthServer, PkceChallenge, RefreshRecord, RefreshStore, Stores,
    TokenHash,
};
use portcullis::{Catalog, Policy, SeededRandom, Timestamp};
use std::sync::{Arc, LazyLock};

const NOW: u64 = 1_800_000_000;
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "https%3A%2F%2Fapp.example%2Fcb";

struct World {
    catalog: Catalog,
    keys: AccessKeys,
    clients: Vec<Client>,
    secret: String,
    /// `Authorization: Basic …` of the confidential client.
    basic: String,
    challenge: String,
    /// An unused code, its hash and record.
    code: (String, TokenHash, CodeRecord),
    /// A live refresh token (of another grant), its hash and record.
    refresh: (String, TokenHash, RefreshRecord),
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let policy = Policy::from_toml(include_str!("../../examples/claimport.toml")).expect("policy");
    let catalog = policy.catalog().clone();
    let keys = AccessKeys::new("k1", &[7u8; 32]).expect("key");
    let server = server(&catalog, &keys);
    let rng = SeededRandom::new(b"oauth-fuzz");
    let scopes = ["claims:read", "claims:write", "orders:read"];
    let (webapp, secret) =
        Client::confidential("webapp", &["https://app.example/cb"], &scopes, &rng).expect("client");
    let cli = Client::public("cli", true, &["http://127.0.0.1/cb"], &scopes).expect("client");
    let secret = secret.expose().to_owned();
    let pair = format!("webapp:{secret}");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    let challenge = PkceChallenge::s256(VERIFIER).challenge;
    // Runs the real flow once, on a scratch store, for a code and a refresh token.
    let store = MemoryOAuthStore::new();
    store.add_client(webapp.clone());
    let now = Timestamp(NOW);
    let query = format!(
        "response_type=code&client_id=webapp&redirect_uri={REDIRECT}&scope=claims:read\
         &state=s&code_challenge={challenge}&code_challenge_method=S256"
    );
    let AuthorizeOutcome::Valid(request) = server.authorize(&query, &store) else {
        panic!("the fixed request is valid");
    };
    let code_for = || {
        let location = server
            .approve(&request, "user_7", None, &store, &rng, now)
            .expect("approve");
        let code = location
            .split("code=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .unwrap_or("")
            .to_owned();
        let hash = TokenHash::of_token(&code).expect("code hash");
        (code, hash)
    };
    let (first, _) = code_for();
    let response = server.token(
        Some(&basic),
        &token_body(&first),
        Stores::all(&store),
        &rng,
        now,
    );
    let json: serde_json::Value = serde_json::from_str(response.body()).expect("json");
    let refresh = json["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let refresh_hash = TokenHash::of_token(&refresh).expect("refresh hash");
    let refresh_record = store.refresh(&refresh_hash).ok().flatten().expect("record");
    let (code, code_hash) = code_for();
    let code_record = store.code(&code_hash).ok().flatten().expect("record");
    World {
        catalog,
        keys,
        clients: vec![webapp, cli],
        secret,
        basic,
        challenge,
        code: (code, code_hash, code_record),
        refresh: (refresh, refresh_hash, refresh_record),
    }
});

impl World {
    /// A fresh store with both clients, the unused code and the live refresh token.
    fn store(&self) -> MemoryOAuthStore {
        let store = MemoryOAuthStore::new();
        for c in &self.clients {
            store.add_client(c.clone());
        }
        let fresh = store
            .put_code(self.code.1, self.code.2.clone())
            .and(store.put_refresh(self.refresh.1, self.refresh.2.clone()));
        fresh.expect("the memory store never fails");
        store
    }
}

/// A server whose verifier has revoked nothing yet.
fn server(catalog: &Catalog, keys: &AccessKeys) -> OAuthServer {
    let verifier = Arc::new(AccessVerifier::new(keys.clone(), catalog));
    OAuthServer::new(
        OAuthConfig::default(),
        catalog.clone(),
        verifier,
        "claimport",
    )
    .expect("the verifier is built for this catalog")
}

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

/// The `Content-Type` the body is sent with.
#[derive(Arbitrary, Debug)]
enum Type<'a> {
    Form,
    /// `application/json`; an edited valid request is then written as a JSON object.
    Json,
    Raw(&'a [u8]),
    Absent,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    endpoint: Endpoint,
    auth: Auth<'a>,
    body: Body<'a>,
    content_type: Type<'a>,
    now_offset: i16,
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
            ("code_challenge", WORLD.challenge.clone()),
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
    let store = w.store();
    let server = server(&w.catalog, &w.keys);
    let body = match &input.body {
        Body::Raw(text) => (*text).to_owned(),
        Body::Edited { param, value } => {
            let mut pairs = valid_pairs(&input.endpoint, &w.code.0, &w.refresh.0);
            let i = usize::from(*param) % (pairs.len() + 1);
            match pairs.get_mut(i) {
                Some(pair) => pair.1 = (*value).to_owned(),
                None => pairs.push(("extra".into(), (*value).to_owned())),
            }
            if matches!(input.content_type, Type::Json)
                && !matches!(input.endpoint, Endpoint::Authorize)
            {
                let object: serde_json::Map<String, serde_json::Value> =
                    pairs.into_iter().map(|(k, v)| (k, v.into())).collect();
                serde_json::Value::Object(object).to_string()
            } else {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&")
            }
        }
    };
    let content_type: Option<&[u8]> = match &input.content_type {
        Type::Form => Some(b"application/x-www-form-urlencoded"),
        Type::Json => Some(b"application/json"),
        Type::Raw(raw) => Some(raw),
        Type::Absent => None,
    };
    let auth = match &input.auth {
        Auth::None => None,
        Auth::Basic => Some(w.basic.clone()),
        Auth::Raw(text) => Some((*text).to_owned()),
    };
    let rng = SeededRandom::new(b"request");
    let stores = Stores::all(&store);
    let response = match input.endpoint {
        Endpoint::Authorize => {
            let _ = server.authorize(&body, &store);
            return;
        }
        endpoint => {
            let request = EndpointRequest {
                authorization: auth.as_deref().map(str::as_bytes),
                content_type,
                body: body.as_bytes(),
            };
            match endpoint {
                Endpoint::Token => server.token_request(&request, stores, &rng, now),
                Endpoint::Revoke => server.revoke_request(&request, stores, now),
                _ => server.introspect_request(&request, stores, now),
            }
        }
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
