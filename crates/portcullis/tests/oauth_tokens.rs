//! OAuth token formats: access-token signing and verification (key rotation, tampering,
//! catalogs), property tests for round trips, and never-panic parsers.

mod common;

use portcullis::oauth::{
    AccessClaims, AccessKeys, AccessVerifier, AuthorizeOutcome, Client, MemoryOAuthStore,
    OAuthConfig, OAuthServer, Params, PkceChallenge, Stores, TokenError,
};
use portcullis::{KeyId, Policy, ScopeSet, SeededRandom, Timestamp};
use proptest::prelude::*;
use std::sync::Arc;

const NOW: u64 = common::NOW;

fn policy() -> Policy {
    Policy::from_toml(&common::claimport_text()).expect("policy")
}

fn claims(scopes: ScopeSet) -> AccessClaims {
    AccessClaims {
        subject: "user_7".into(),
        client_id: "webapp".into(),
        scopes,
        issued_at: Timestamp(NOW),
        expires_at: Timestamp(NOW + 3600),
        token_id: KeyId::parse("T0k3nId000000001").expect("id"),
        family: KeyId::parse("Fam1ly0000000001").expect("id"),
    }
}

fn all_scopes(p: &Policy) -> ScopeSet {
    p.catalog().grant(&["*"]).set
}

#[test]
fn access_token_signs_and_verifies_under_its_key_id() {
    let p = policy();
    let keys = common::access_keys();
    let token = keys.sign(&claims(all_scopes(&p)), p.catalog());
    assert!(token.expose().starts_with("at.k1."));
    let v = AccessVerifier::new(keys, p.catalog());
    assert_eq!(
        v.verify(token.expose().as_bytes(), Timestamp(NOW)),
        Ok(claims(all_scopes(&p)))
    );
}

#[test]
fn access_token_key_rotation_keeps_old_tokens_valid_until_the_key_is_dropped() {
    let p = policy();
    let mut keys = common::access_keys();
    let old = keys.sign(&claims(ScopeSet::EMPTY), p.catalog());
    keys.add("k2", &[2u8; 32]).expect("add");
    keys.set_primary("k2").expect("primary");
    let new = keys.sign(&claims(ScopeSet::EMPTY), p.catalog());
    assert!(new.expose().starts_with("at.k2."));
    let v = AccessVerifier::new(keys.clone(), p.catalog());
    assert!(v.verify(old.expose().as_bytes(), Timestamp(NOW)).is_ok());
    assert!(v.verify(new.expose().as_bytes(), Timestamp(NOW)).is_ok());
    keys.remove("k1").expect("remove");
    assert!(
        keys.remove("k2").is_err(),
        "the primary key cannot be removed"
    );
    let v = AccessVerifier::new(keys, p.catalog());
    assert_eq!(
        v.verify(old.expose().as_bytes(), Timestamp(NOW)),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn access_token_keys_reject_short_secrets_and_bad_ids() {
    assert!(AccessKeys::new("k1", &[1u8; 31]).is_err());
    assert!(AccessKeys::new("", &[1u8; 32]).is_err());
    assert!(AccessKeys::new("k.1", &[1u8; 32]).is_err());
    assert!(AccessKeys::new(&"k".repeat(33), &[1u8; 32]).is_err());
    let mut k = common::access_keys();
    assert!(k.add("k1", &[2u8; 32]).is_err());
}

#[test]
fn access_token_tampering_is_a_bad_signature() {
    let p = policy();
    let keys = common::access_keys();
    let token = keys
        .sign(&claims(ScopeSet::EMPTY), p.catalog())
        .expose()
        .to_owned();
    let v = AccessVerifier::new(keys, p.catalog());
    // Flip one character of the payload, then of the MAC.
    let payload_at = "at.k1.".len() + 5;
    for at in [payload_at, token.len() - 2] {
        let mut bytes = token.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            v.verify(&bytes, Timestamp(NOW)),
            Err(TokenError::BadSignature)
        );
    }
    // Another key with the same id.
    let evil = AccessKeys::new("k1", &[3u8; 32]).expect("keys");
    let forged = evil.sign(&claims(all_scopes(&p)), p.catalog());
    assert_eq!(
        v.verify(forged.expose().as_bytes(), Timestamp(NOW)),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn access_token_from_another_catalog_is_refused() {
    let p = policy();
    // One more scope in front: every scope number shifts.
    let other = common::TestPolicy::claimport()
        .scope_first("admin:all", "Admin")
        .build();
    let keys = common::access_keys();
    let token = keys.sign(&claims(ScopeSet::EMPTY), other.catalog());
    let v = AccessVerifier::new(keys, p.catalog());
    assert_ne!(p.catalog().id(), other.catalog().id());
    assert_eq!(
        v.verify(token.expose().as_bytes(), Timestamp(NOW)),
        Err(TokenError::WrongCatalog)
    );
}

#[test]
fn access_token_time_window() {
    let p = policy();
    let keys = common::access_keys();
    let token = keys.sign(&claims(ScopeSet::EMPTY), p.catalog());
    let v = AccessVerifier::new(keys, p.catalog());
    let at = |t| v.verify(token.expose().as_bytes(), Timestamp(t));
    assert!(at(NOW + 3599).is_ok());
    assert_eq!(at(NOW + 3600), Err(TokenError::Expired));
    assert!(at(NOW - 60).is_ok(), "60 s of clock skew");
    assert_eq!(at(NOW - 61), Err(TokenError::NotYetValid));
}

#[test]
fn access_token_revoked_family() {
    let p = policy();
    let keys = common::access_keys();
    let token = keys.sign(&claims(ScopeSet::EMPTY), p.catalog());
    let v = AccessVerifier::new(keys, p.catalog());
    v.revocations()
        .revoke_family(KeyId::parse("Fam1ly0000000002").expect("id"));
    assert!(v.verify(token.expose().as_bytes(), Timestamp(NOW)).is_ok());
    v.revocations()
        .revoke_family(KeyId::parse("Fam1ly0000000001").expect("id"));
    assert_eq!(
        v.verify(token.expose().as_bytes(), Timestamp(NOW)),
        Err(TokenError::Revoked)
    );
    assert_eq!(v.revocations().family_count(), 2);
    v.revocations()
        .forget_family(&KeyId::parse("Fam1ly0000000001").expect("id"));
    assert!(v.verify(token.expose().as_bytes(), Timestamp(NOW)).is_ok());
}

#[test]
fn access_token_prefix_cannot_be_an_api_key() {
    // API keys are `{kind}_{env}_{id}_{secret}{check}`: base62 and `_` only.
    let p = policy();
    let keys = common::access_keys();
    let token = keys.sign(&claims(ScopeSet::EMPTY), p.catalog());
    assert!(p.format().parse(token.expose().as_bytes()).is_err());
    assert!(token.expose().contains('.'));
}

fn arb_text() -> impl Strategy<Value = String> {
    "\\PC{1,40}".prop_filter("1..=255 bytes", |s| !s.is_empty() && s.len() <= 255)
}

fn arb_id() -> impl Strategy<Value = KeyId> {
    "[0-9A-Za-z]{16}".prop_map(|s| KeyId::parse(&s).expect("id"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn access_token_round_trips(
        subject in arb_text(),
        client_id in arb_text(),
        bits in proptest::collection::vec(0usize..5, 0..5),
        iat in 0u64..u64::MAX / 2,
        ttl in 1u64..1_000_000,
        token_id in arb_id(),
        family in arb_id(),
        kid in "[A-Za-z0-9-]{1,32}",
    ) {
        let p = policy();
        let mut scopes = ScopeSet::EMPTY;
        bits.iter().for_each(|&i| scopes.insert(i));
        let c = AccessClaims {
            subject, client_id, scopes,
            issued_at: Timestamp(iat), expires_at: Timestamp(iat + ttl), token_id, family,
        };
        let keys = AccessKeys::new(&kid, &[7u8; 32]).expect("keys");
        let token = keys.sign(&c, p.catalog());
        let v = AccessVerifier::new(keys, p.catalog());
        prop_assert!(token.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)));
        prop_assert_eq!(v.decode(token.expose().as_bytes()), Ok(c.clone()));
        prop_assert_eq!(v.verify(token.expose().as_bytes(), Timestamp(iat)), Ok(c));
    }

    #[test]
    fn access_token_parser_is_total(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let p = policy();
        let v = AccessVerifier::new(common::access_keys(), p.catalog());
        let mut prefixed = b"at.k1.".to_vec();
        prefixed.extend_from_slice(&input);
        prop_assert!(v.verify(&input, Timestamp(NOW)).is_err());
        prop_assert!(v.verify(&prefixed, Timestamp(NOW)).is_err());
    }

    #[test]
    fn params_parser_is_total(input in "\\PC{0,200}|[a-z=&%0-9A-F+]{0,200}") {
        let _ = Params::parse(&input);
        let _ = Params::parse_first(&input);
    }

    #[test]
    fn pkce_parsers_are_total(challenge in "\\PC{0,140}", method in proptest::option::of("\\PC{0,8}"), verifier in "\\PC{0,140}") {
        if let Ok(c) = PkceChallenge::parse(&challenge, method.as_deref(), true) {
            let _ = c.verify(&verifier);
        }
        prop_assert!(PkceChallenge::s256(&verifier).verify(&verifier) == portcullis::oauth::is_valid_verifier(&verifier));
    }

    #[test]
    fn endpoints_are_total(query in "[a-z_=&%0-9A-Za-z.:/+-]{0,200}", auth in proptest::option::of("\\PC{0,80}")) {
        let p = policy();
        let keys = common::access_keys();
        let verifier = Arc::new(AccessVerifier::new(keys, p.catalog()));
        let server = OAuthServer::new(OAuthConfig::default(), p.catalog().clone(), verifier, "r").expect("same catalog");
        let store = MemoryOAuthStore::new();
        store.add_client(Client::public("spa", false, &["https://s.example/cb"], &["*"]).expect("c"));
        let rng = SeededRandom::new(b"x");
        let q = format!("client_id=spa&{query}");
        if let AuthorizeOutcome::Valid(req) = server.authorize(&q, &store) {
            let _ = server.approve(&req, "u", None, &store, &rng, Timestamp(NOW));
        }
        let stores = Stores::all(&store);
        let r = server.token(auth.as_deref(), &query, stores, &rng, Timestamp(NOW));
        prop_assert!(r.status == 400 || r.status == 401, "{}", r.body());
        let _ = server.revoke(auth.as_deref(), &query, stores, Timestamp(NOW));
        let _ = server.introspect(auth.as_deref(), &q, stores, Timestamp(NOW));
    }
}
