//! Rules the core decides once for every caller: a record's state at a time, a key's
//! display form, the names of a requirement's missing scopes, and that an access-token
//! verifier shares its catalog with the policy or engine it serves.

mod common;

use common::{DAY, NOW, checker};
use portcullis::KeyState;
use portcullis::oauth::{AccessKeys, AccessVerifier, OAuthConfig, OAuthServer};
use portcullis::scope::CatalogMismatch;
use portcullis::{
    Checker, KeyRecord, KeySpec, MemoryStore, Peppers, Policy, Reason, Request, Requirement,
    Timestamp,
};
use std::sync::Arc;

fn at(secs: u64) -> Timestamp {
    Timestamp(secs)
}

/// A key issued at [`NOW`] by the example policy's checker: its plaintext and record.
fn issued(spec: &KeySpec) -> (String, KeyRecord) {
    let issued = checker().issue(spec, at(NOW)).expect("issues");
    (issued.key.expose().to_owned(), issued.record)
}

fn spec() -> KeySpec {
    KeySpec::new("Read Claims", "org_42", ["claims:read"])
}

#[test]
fn a_key_is_not_yet_valid_before_not_before_and_active_from_that_instant() {
    let (_, record) = issued(&KeySpec {
        not_before: Some(at(NOW + DAY)),
        ..spec()
    });
    assert_eq!(record.state(at(NOW + DAY - 1)), KeyState::NotYetValid);
    assert_eq!(record.state(at(NOW + DAY)), KeyState::Active);
}

#[test]
fn a_key_is_expired_from_expires_at_exactly() {
    let (_, record) = issued(&spec().with_ttl(DAY));
    assert_eq!(record.state(at(NOW + DAY - 1)), KeyState::Active);
    assert_eq!(record.state(at(NOW + DAY)), KeyState::Expired);
}

#[test]
fn a_key_is_revoked_from_revoked_at_exactly_and_revocation_wins() {
    let (_, mut record) = issued(&KeySpec {
        not_before: Some(at(NOW + 2 * DAY)),
        ..spec().with_ttl(DAY)
    });
    record.revoke(at(NOW + 10));
    assert_eq!(record.state(at(NOW + 9)), KeyState::NotYetValid);
    assert_eq!(record.state(at(NOW + 10)), KeyState::Revoked);
    // Expired and not yet valid too at this instant: revocation is reported.
    assert_eq!(record.state(at(NOW + DAY)), KeyState::Revoked);
}

#[test]
fn not_yet_valid_wins_over_expired_as_the_checker_refuses() {
    let (_, record) = issued(&KeySpec {
        not_before: Some(at(NOW + 2 * DAY)),
        ..spec().with_ttl(DAY)
    });
    assert_eq!(record.state(at(NOW + DAY)), KeyState::NotYetValid);
}

#[test]
fn state_names_are_stable_and_display_as_named() {
    let all = [
        (KeyState::Active, "active"),
        (KeyState::Revoked, "revoked"),
        (KeyState::Expired, "expired"),
        (KeyState::NotYetValid, "not_yet_valid"),
    ];
    for (state, name) in all {
        assert_eq!(state.as_str(), name);
        assert_eq!(state.to_string(), name);
        assert_eq!(state.is_active(), name == "active");
    }
}

#[test]
fn the_checker_refuses_with_the_records_state_at_every_boundary() {
    let c = checker();
    let (key, mut record) = issued(&KeySpec {
        not_before: Some(at(NOW + 10)),
        ..spec().with_ttl(DAY)
    });
    record.revoke(at(NOW + DAY - 5));
    let store = MemoryStore::new();
    store.insert(record.clone()).expect("stored");
    let header = format!("Bearer {key}");
    let request = Request::new("GET", "/v1/claims/42")
        .authorization(&header)
        .https(true);
    let instants = [NOW + 9, NOW + 10, NOW + DAY - 6, NOW + DAY - 5, NOW + DAY];
    let mut seen = Vec::new();
    for t in instants {
        let state = record.state(at(t));
        let decision = c.check(&request, &store, at(t));
        match state {
            KeyState::Active => assert!(decision.allowed(), "{t}: {:?}", decision.reason()),
            _ => assert_eq!(decision.reason().code(), state.as_str(), "at {t}"),
        }
        seen.push(state);
    }
    assert_eq!(
        seen,
        [
            KeyState::NotYetValid,
            KeyState::Active,
            KeyState::Active,
            KeyState::Revoked,
            KeyState::Revoked
        ]
    );
    assert_ne!(
        c.check(&request, &store, at(NOW + 9)).reason(),
        Reason::Allowed
    );
}

#[test]
fn a_records_display_form_is_the_parsed_keys_and_holds_no_secret() {
    let (key, record) = issued(&spec());
    let shown = record.display().to_string();
    assert_eq!(shown, format!("sk_live_{}_…", record.id()));
    let c = checker();
    let parsed = c.parse(key.as_bytes()).expect("parses");
    assert_eq!(parsed.display().to_string(), shown);
    assert_eq!(parsed.display(), record.display());
    let secret = &key[shown.len() - "…".len()..];
    assert!(!shown.contains(secret));
}

#[test]
fn evaluation_of_grants_names_what_the_closest_alternative_lacks() {
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    let catalog = policy.catalog();
    let req = Requirement::parse(catalog, "claims:write | orders:read & analytics:read")
        .expect("requirement");
    let denied = req.evaluate_grants(catalog, &["claims:read", "orders:read", "nope:*"]);
    assert!(!denied.allowed());
    assert_eq!(denied.grant().unknown, 1);
    let effective: Vec<_> = denied.effective().collect();
    assert_eq!(effective, ["claims:read", "orders:read"]);
    assert_eq!(denied.missing().collect::<Vec<_>>(), ["claims:write"]);
    assert_eq!(denied.required().collect::<Vec<_>>(), ["claims:write"]);
    let granted = catalog.grant(&["claims:read", "orders:read"]).set;
    assert_eq!(denied.shortfall(), req.evaluate(&granted).err());

    let allowed = req.evaluate_grants(catalog, &["full_access"]);
    assert!(allowed.allowed());
    assert_eq!(allowed.missing().count(), 0);
    assert_eq!(allowed.required().count(), 0);
    assert_eq!(allowed.effective().count(), catalog.len());
}

const ONE_SCOPE: &str = r#"
[service]
realm = "r"
[[scopes]]
name = "a:read"
description = "A"
[[routes]]
method = "GET"
path = "/a"
require = "a:read"
"#;

fn two_scopes() -> String {
    format!("{ONE_SCOPE}\n[[scopes]]\nname = \"b:read\"\ndescription = \"B\"\n")
}

fn verifier_for(policy: &Policy) -> Arc<AccessVerifier> {
    let keys = AccessKeys::new("k1", &[9u8; 32]).expect("keys");
    Arc::new(AccessVerifier::new(keys, policy.catalog()))
}

#[test]
fn a_verifier_of_another_catalog_is_refused_by_the_checker_and_the_engine() {
    let one = Policy::from_toml(ONE_SCOPE).expect("one");
    let two = Policy::from_toml(&two_scopes()).expect("two");
    assert_ne!(one.catalog().id(), two.catalog().id());
    let peppers = Peppers::new("p1", &[42u8; 32]).expect("pepper");
    let foreign = verifier_for(&two);

    let refused = Checker::new(one.clone(), peppers.clone()).with_access_tokens(foreign.clone());
    assert_eq!(refused.err(), Some(CatalogMismatch));
    assert_eq!(CatalogMismatch.code(), "catalog_mismatch");
    let engine = OAuthServer::new(OAuthConfig::default(), one.catalog().clone(), foreign, "r");
    assert_eq!(engine.err(), Some(CatalogMismatch));

    let own = verifier_for(&one);
    assert!(foreign_free(&one, &own, peppers));
}

/// The same verifier, built for the policy's own catalog, is accepted by both.
fn foreign_free(policy: &Policy, verifier: &Arc<AccessVerifier>, peppers: Peppers) -> bool {
    let checker = Checker::new(policy.clone(), peppers).with_access_tokens(verifier.clone());
    let engine = OAuthServer::new(
        OAuthConfig::default(),
        policy.catalog().clone(),
        verifier.clone(),
        "r",
    );
    checker.is_ok() && engine.is_ok()
}
