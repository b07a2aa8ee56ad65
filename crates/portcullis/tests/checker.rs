//! The one-call and two-phase checks, lifecycle, rotation, peppers and lookups.

mod common;

use common::{DAY, NOW, TestPolicy, checker, checker_of};
use portcullis::{
    Checker, IssuedKey, KeyLookup, KeyRecord, KeySpec, LookupError, MemoryStore, Peppers, Policy,
    Prepared, Reason, Request, StoredHash, Timestamp, Warning,
};
use std::sync::Arc;

fn get<'a>(path: &'a str, header: &'a str) -> Request<'a> {
    Request::new("GET", path).authorization(header).https(true)
}

/// A `claims:read` key issued by `c` at `NOW`.
fn reader(c: &Checker) -> IssuedKey {
    c.issue(&KeySpec::new("k", "o", ["claims:read"]), Timestamp(NOW))
        .expect("issue")
}

/// A `claims:read` key issued by `c` at `NOW` and inserted into `store`: its
/// `Authorization` header.
fn stored_reader(c: &Checker, store: &MemoryStore) -> String {
    let issued = reader(c);
    let header = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    header
}

#[test]
fn issue_store_check_allowed_with_principal() {
    let c = checker();
    let store = MemoryStore::new();
    let issued = c
        .issue(
            &KeySpec::new("Production Integration", "org_42", ["claims:write"]),
            Timestamp(NOW),
        )
        .expect("issue");
    assert!(issued.key.expose().starts_with("sk_live_"));
    let header = format!("Bearer {}", issued.key.expose());
    let id = issued.record.id();
    store.insert(issued.record).expect("insert");
    let d = c.check(&get("/v1/claims/1", &header), &store, Timestamp(NOW));
    assert!(d.allowed(), "{:?}", d.reason());
    assert_eq!(d.key_id(), Some(id));
    assert_eq!(d.owner(), Some("org_42"));
    assert_eq!(
        d.scopes().collect::<Vec<_>>(),
        ["claims:read", "claims:write"]
    );
    assert_eq!(d.route(), Some(("GET", "/v1/claims/{id}")));
    assert!(d.www_authenticate().is_none());
}

#[test]
fn two_phase_matches_one_call() {
    let c = checker();
    let store = MemoryStore::new();
    let header = stored_reader(&c, &store);
    for path in ["/v1/claims/1", "/v1/orders", "/health", "/nope"] {
        let req = get(path, &header);
        let one = c.check(&req, &store, Timestamp(NOW)).into_outcome();
        let two = match c.prepare(&req) {
            Prepared::Done(d) => d.into_outcome(),
            Prepared::Lookup(p) => {
                let record = store.get(&p.key_id());
                c.finish(p, record, Timestamp(NOW)).into_outcome()
            }
        };
        assert_eq!(one, two, "{path}");
    }
}

#[test]
fn a_decision_over_a_borrowed_outcome_reads_like_the_owned_one() {
    let c = checker();
    let store = MemoryStore::new();
    let header = stored_reader(&c, &store);
    let requests = [
        get("/v1/claims/1", &header),
        Request::new("POST", "/v1/claims")
            .authorization(&header)
            .https(true),
        get("/v1/claims/1", "Bearer sk_live_nope"),
        get("/health", ""),
        get("/nope", &header),
    ];
    let mut statuses = Vec::new();
    for req in &requests {
        let d = c.check(req, &store, Timestamp(NOW));
        let r = portcullis::Decision::new(d.outcome(), c.policy());
        let shown = |w: Option<portcullis::WwwAuthenticate<'_>>| w.map(|w| w.to_string());
        assert_eq!(
            (r.allowed(), r.status(), r.error()),
            (d.allowed(), d.status(), d.error())
        );
        assert_eq!(
            (r.reason(), r.key_id(), r.owner()),
            (d.reason(), d.key_id(), d.owner())
        );
        assert!(r.scopes().eq(d.scopes()) && r.missing().eq(d.missing()));
        assert!(r.required().eq(d.required()));
        assert_eq!((r.warnings(), r.route()), (d.warnings(), d.route()));
        assert_eq!(shown(r.www_authenticate()), shown(d.www_authenticate()));
        assert!(std::ptr::eq(r.outcome(), d.outcome()));
        statuses.push(d.status());
    }
    // The cases above differ where it matters: allowed, 403 (missing scopes), 401.
    assert_eq!(&statuses[..3], [200, 403, 401]);
}

#[test]
fn lookup_failure_fails_closed_with_503() {
    let c = checker();
    let issued = reader(&c);
    let header = format!("Bearer {}", issued.key.expose());
    let failing = |_: &portcullis::KeyId| -> Result<Option<Arc<KeyRecord>>, LookupError> {
        Err(LookupError::new("db down"))
    };
    let d = c.check(&get("/v1/claims/1", &header), &failing, Timestamp(NOW));
    assert_eq!((d.status(), d.reason()), (503, Reason::LookupFailed));
    assert!(!d.allowed() && d.www_authenticate().is_none());
    assert_eq!(
        d.outcome()
            .lookup_error
            .as_ref()
            .map(|e| e.message.as_str()),
        Some("db down")
    );
    let Prepared::Lookup(p) = c.prepare(&get("/v1/claims/1", &header)) else {
        panic!("expected lookup")
    };
    assert_eq!(
        c.finish_failed(p, LookupError::new("timeout")).status(),
        503
    );
}

#[test]
fn closures_are_lookups() {
    let c = checker();
    let issued = c
        .issue(&KeySpec::new("k", "o", ["orders:read"]), Timestamp(NOW))
        .expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    let record = Arc::new(issued.record);
    let lookup = move |id: &portcullis::KeyId| Ok((*id == record.id()).then(|| record.clone()));
    assert!(
        lookup
            .lookup(&c.parse(issued.key.expose().as_bytes()).expect("parse").id())
            .expect("ok")
            .is_some()
    );
    assert!(
        c.check(&get("/v1/orders", &header), &lookup, Timestamp(NOW))
            .allowed()
    );
}

#[test]
fn unknown_key_and_wrong_secret_look_the_same_outside() {
    let c = checker();
    let store = MemoryStore::new();
    let issued = reader(&c);
    let other = reader(&c);
    // Same id as the issued key but another key's hash: the presented secret is "wrong".
    let mut json: serde_json::Value = serde_json::from_str(&issued.record.to_json()).expect("json");
    json["hash"] = serde_json::Value::String(other.record.hash().to_owned());
    let wrong = KeyRecord::from_json(&json.to_string()).expect("valid record");
    store.insert(wrong).expect("insert");
    let unknown = c.check(
        &get("/v1/claims/1", &format!("Bearer {}", other.key.expose())),
        &store,
        Timestamp(NOW),
    );
    let mismatch = c.check(
        &get("/v1/claims/1", &format!("Bearer {}", issued.key.expose())),
        &store,
        Timestamp(NOW),
    );
    assert_eq!(unknown.reason(), Reason::UnknownKey);
    assert_eq!(mismatch.reason(), Reason::WrongSecret);
    assert_eq!(unknown.status(), mismatch.status());
    assert_eq!(unknown.error(), mismatch.error());
    assert_eq!(
        unknown.www_authenticate().map(|w| w.to_string()),
        mismatch.www_authenticate().map(|w| w.to_string())
    );
}

#[test]
fn lifecycle_reasons() {
    let c = checker();
    let store = MemoryStore::new();
    let mut spec = KeySpec::new("k", "o", ["claims:read"]).with_ttl(3600);
    spec.not_before = Some(Timestamp(NOW + 10));
    let issued = c.issue(&spec, Timestamp(NOW)).expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    let id = issued.record.id();
    store.insert(issued.record).expect("insert");
    let at = |t: u64| {
        c.check(&get("/v1/claims/1", &header), &store, Timestamp(t))
            .reason()
    };
    assert_eq!(at(NOW), Reason::NotYetValid);
    assert_eq!(at(NOW + 10), Reason::Allowed);
    assert_eq!(at(NOW + 3599), Reason::Allowed);
    assert_eq!(at(NOW + 3600), Reason::Expired);
    store.revoke(&id, Timestamp(NOW + 100)).expect("revoke");
    assert_eq!(at(NOW + 99), Reason::Allowed);
    assert_eq!(at(NOW + 100), Reason::Revoked);
}

#[test]
fn max_age_warns_or_is_enforced() {
    let old = Timestamp(NOW - 91 * DAY);
    for (enforce, expected) in [(false, Reason::Allowed), (true, Reason::MaxAgeExceeded)] {
        let c = checker_of(TestPolicy::claimport().enforce_max_age(enforce).build());
        let store = MemoryStore::new();
        let issued = c
            .issue(&KeySpec::new("k", "o", ["claims:read"]), old)
            .expect("issue");
        let header = format!("Bearer {}", issued.key.expose());
        store.insert(issued.record).expect("insert");
        let d = c.check(&get("/v1/claims/1", &header), &store, Timestamp(NOW));
        assert_eq!(d.reason(), expected);
        if expected == Reason::Allowed {
            assert!(d.warnings().contains(Warning::RotationDue));
        }
    }
}

#[test]
fn rotation_overlaps_for_the_grace_period() {
    let c = checker();
    let store = MemoryStore::new();
    let mut spec = KeySpec::new(
        "Production Integration",
        "org_42",
        ["claims:read", "orders:read"],
    )
    .with_ttl(30 * DAY);
    spec.metadata.insert("team".into(), "billing".into());
    let first = c.issue(&spec, Timestamp(NOW)).expect("issue");
    let old_header = format!("Bearer {}", first.key.expose());
    store.insert(first.record.clone()).expect("insert");
    let later = Timestamp(NOW + 1000);
    let rotation = c.rotate(&first.record, 7 * DAY, later).expect("rotate");
    let succ = &rotation.successor.record;
    assert_eq!(
        (succ.name(), succ.owner(), succ.scopes()),
        (
            first.record.name(),
            first.record.owner(),
            first.record.scopes()
        )
    );
    assert_eq!(succ.metadata(), first.record.metadata());
    assert_eq!(succ.rotated_from(), Some(first.record.id()));
    assert_eq!(
        succ.expires_at(),
        Some(Timestamp(NOW + 1000 + 30 * DAY)),
        "keeps the lifetime length"
    );
    assert_eq!(
        rotation.predecessor.expires_at(),
        Some(Timestamp(NOW + 1000 + 7 * DAY))
    );
    let new_header = format!("Bearer {}", rotation.successor.key.expose());
    store.put(rotation.predecessor);
    store.insert(rotation.successor.record).expect("insert");
    let ok = |h: &str, t: u64| {
        c.check(&get("/v1/orders", h), &store, Timestamp(t))
            .reason()
    };
    assert_eq!(
        (ok(&old_header, NOW + 2000), ok(&new_header, NOW + 2000)),
        (Reason::Allowed, Reason::Allowed)
    );
    let after = NOW + 1000 + 7 * DAY;
    assert_eq!(
        (ok(&old_header, after), ok(&new_header, after)),
        (Reason::Expired, Reason::Allowed)
    );
}

#[test]
fn rotation_refuses_dead_keys_and_never_extends_expiry() {
    let c = checker();
    let issued = c
        .issue(
            &KeySpec::new("k", "o", ["claims:read"]).with_ttl(100),
            Timestamp(NOW),
        )
        .expect("issue");
    let r = c
        .rotate(&issued.record, 10_000, Timestamp(NOW + 50))
        .expect("rotate");
    assert_eq!(
        r.predecessor.expires_at(),
        Some(Timestamp(NOW + 100)),
        "grace never extends an earlier expiry"
    );
    assert!(matches!(
        c.rotate(&issued.record, 0, Timestamp(NOW + 100)),
        Err(portcullis::IssueError::Inactive(_))
    ));
    let mut revoked = issued.record.clone();
    revoked.revoke(Timestamp(NOW));
    assert!(c.rotate(&revoked, 0, Timestamp(NOW + 1)).is_err());
}

#[test]
fn pepper_rotation_keeps_old_records_valid_and_flags_rehash() {
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    let before = portcullis::Checker::new(
        policy.clone(),
        Peppers::new("2026-01", &[1; 32]).expect("p"),
    );
    let issued = reader(&before);
    let mut peppers = Peppers::new("2026-01", &[1; 32]).expect("p");
    peppers.add("2026-07", &[2; 32]).expect("add");
    peppers.set_primary("2026-07").expect("primary");
    assert_eq!(peppers.ids().collect::<Vec<_>>(), ["2026-07", "2026-01"]);
    let after = portcullis::Checker::new(policy, peppers);
    let v = after.verify(
        issued.key.expose().as_bytes(),
        &issued.record,
        Timestamp(NOW),
    );
    assert!(v.is_valid() && v.warnings.contains(Warning::NeedsRehash));
    let parsed = after.parse(issued.key.expose().as_bytes()).expect("parse");
    let mut by_hand = issued.record.clone();
    by_hand.set_hash(&StoredHash::compute(after.peppers(), &parsed));
    let mut record = issued.record.clone();
    let other = reader(&after);
    assert_eq!(
        after.rehash(other.key.expose().as_bytes(), &mut record, Timestamp(NOW)),
        Err(Reason::WrongSecret)
    );
    assert_eq!(
        record, issued.record,
        "a failed rehash leaves the record alone"
    );
    assert_eq!(
        after.rehash(issued.key.expose().as_bytes(), &mut record, Timestamp(NOW)),
        Ok(true)
    );
    assert_eq!(record.hash(), by_hand.hash());
    assert_eq!(
        after.hash_key(issued.key.expose().as_bytes()).as_deref(),
        Ok(by_hand.hash().as_str())
    );
    assert!(after.hash_key(b"sk_live_nope").is_err());
    assert!(record.hash().starts_with("hmac-sha256$2026-07$"));
    assert_eq!(
        after.rehash(issued.key.expose().as_bytes(), &mut record, Timestamp(NOW)),
        Ok(false)
    );
    let v = after.verify(issued.key.expose().as_bytes(), &record, Timestamp(NOW));
    assert!(v.is_valid() && !v.warnings.contains(Warning::NeedsRehash));
    let fresh = portcullis::Checker::new(
        Policy::from_toml(&common::claimport_text()).expect("policy"),
        Peppers::new("2026-07", &[2; 32]).expect("p"),
    );
    assert_eq!(
        fresh
            .verify(
                issued.key.expose().as_bytes(),
                &issued.record,
                Timestamp(NOW)
            )
            .reason,
        Reason::UnknownPepper
    );
}

#[test]
fn records_round_trip_json_and_reject_corruption() {
    let c = checker();
    let issued = reader(&c);
    let json = issued.record.to_json();
    assert_eq!(KeyRecord::from_json(&json).expect("parse"), issued.record);
    assert!(!json.contains(issued.key.expose()));
    let corrupt = json.replace("hmac-sha256$p1$", "hmac-sha256$p1$%%");
    assert!(matches!(
        KeyRecord::from_json(&corrupt),
        Err(portcullis::RecordError::Hash(_))
    ));
    assert!(matches!(
        KeyRecord::from_json("{"),
        Err(portcullis::RecordError::Json(_))
    ));
    let bad_env = json.replace("\"env\":\"live\"", "\"env\":\"LIVE\"");
    assert!(matches!(
        KeyRecord::from_json(&bad_env),
        Err(portcullis::RecordError::BadLabel { .. })
    ));
    // A corrupted record that reaches the checker anyway is a denial, not a crash.
    let raw: KeyRecord = serde_json::from_str(&corrupt).expect("serde alone accepts it");
    let v = c.verify(issued.key.expose().as_bytes(), &raw, Timestamp(NOW));
    assert_eq!(v.reason, Reason::CorruptRecord);
}

#[test]
fn issuance_validates_its_input() {
    let c = checker();
    let now = Timestamp(NOW);
    use portcullis::IssueError;
    assert!(matches!(
        c.issue(&KeySpec::new("k", "o", ["nope"]), now),
        Err(IssueError::UnknownScope(_))
    ));
    assert!(matches!(
        c.issue(&KeySpec::new("", "o", ["claims:read"]), now),
        Err(IssueError::Field("name"))
    ));
    assert!(matches!(
        c.issue(&KeySpec::new("k", "", ["claims:read"]), now),
        Err(IssueError::Field("owner"))
    ));
    let rng = portcullis::OsRandom::new();
    let spec = KeySpec::new("k", "o", ["claims:*"]);
    assert!(matches!(
        c.issue_with("rk", "live", &spec, now, &rng),
        Err(IssueError::Kind(_))
    ));
    assert!(matches!(
        c.issue_with("sk", "prod", &spec, now, &rng),
        Err(IssueError::Env(_))
    ));
    let test_key = c
        .issue_with("sk", "test", &spec, now, &rng)
        .expect("test keys can be issued");
    assert!(test_key.key.expose().starts_with("sk_test_"));
}

#[test]
fn test_deployment_accepts_only_test_keys() {
    let live = checker();
    let test = portcullis::Checker::new(
        live.policy().for_environment("test").expect("env"),
        common::peppers(),
    );
    assert!(live.policy().for_environment("prod").is_none());
    let store = MemoryStore::new();
    let rng = portcullis::OsRandom::new();
    let spec = KeySpec::new("k", "o", ["claims:read"]);
    let t = live
        .issue_with("sk", "test", &spec, Timestamp(NOW), &rng)
        .expect("issue");
    let l = live
        .issue_with("sk", "live", &spec, Timestamp(NOW), &rng)
        .expect("issue");
    let (th, lh) = (
        format!("Bearer {}", t.key.expose()),
        format!("Bearer {}", l.key.expose()),
    );
    store.insert(t.record).expect("insert");
    store.insert(l.record).expect("insert");
    let r = |c: &portcullis::Checker, h: &str| {
        c.check(&get("/v1/claims/1", h), &store, Timestamp(NOW))
            .reason()
    };
    assert_eq!(
        (r(&live, &th), r(&live, &lh)),
        (Reason::WrongEnvironment, Reason::Allowed)
    );
    assert_eq!(
        (r(&test, &th), r(&test, &lh)),
        (Reason::Allowed, Reason::WrongEnvironment)
    );
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let c = checker();
    let issued = reader(&c);
    let key = issued.key.expose().to_owned();
    let secret_part = &key[25..50];
    let texts = [
        format!("{issued:?}"),
        format!("{}", issued.key),
        format!("{:?}", issued.record),
        format!("{:?}", c.parse(key.as_bytes())),
        format!("{:?}", c.peppers()),
        format!("{:?}", Request::new("GET", "/").authorization(&key)),
        format!("{c:?}"),
    ];
    let digest = issued
        .record
        .hash()
        .rsplit('$')
        .next()
        .unwrap_or("x")
        .to_owned();
    for t in &texts {
        assert!(!t.contains(secret_part), "secret leaked in {t}");
        assert!(!t.contains(&digest), "hash leaked in {t}");
        assert!(
            !t.contains("2a2a2a2a") && !t.contains("42, 42, 42"),
            "pepper leaked in {t}"
        );
    }
    let mut typo = key.clone().into_bytes();
    typo[30] ^= 1;
    let err = c.parse(&typo).expect_err("typo");
    assert!(!err.to_string().contains(secret_part));
}

#[test]
fn finish_corrupt_decides_as_a_record_whose_hash_does_not_decode() {
    let c = checker_of(TestPolicy::claimport().allow_query_key(true).build());
    let issued = reader(&c);
    let json = issued.record.to_json();
    let corrupt = json.replace("hmac-sha256$p1$", "hmac-sha256$p1$%%");
    let corrupt: KeyRecord = serde_json::from_str(&corrupt).expect("serde alone accepts it");
    let header = format!("Bearer {}", issued.key.expose());
    let query = format!("api_key={}", issued.key.expose());
    // A matched route, and a credential in the query (a warning the decision keeps).
    let requests = [
        get("/v1/claims/1", &header),
        Request::new("GET", "/v1/orders").query(&query).https(true),
    ];
    for request in &requests {
        let pending = || match c.prepare(request) {
            Prepared::Lookup(p) => p,
            Prepared::Done(d) => panic!("decided without a record: {:?}", d.reason()),
        };
        let via_record = c
            .finish(pending(), Some(Arc::new(corrupt.clone())), Timestamp(NOW))
            .into_outcome();
        let d = c.finish_corrupt(pending());
        assert_eq!((d.status(), d.reason()), (401, Reason::CorruptRecord));
        assert!(d.route().is_some() && d.www_authenticate().is_some());
        assert_eq!(d.into_outcome(), via_record);
    }
}

/// `Decision::require`: a handler's declared scopes on top of the policy's route. A
/// verified caller short of them gets the 403 the checker gives for a route that requires
/// them, word for word; a caller that meets them, a public route and a denial are left
/// as they are.
#[test]
fn a_declared_requirement_denies_as_a_route_would() {
    let c = checker();
    let store = MemoryStore::new();
    let header = stored_reader(&c, &store);
    let now = Timestamp(NOW);
    let catalog = c.policy().catalog();
    let write = portcullis::Requirement::parse(catalog, "claims:write").expect("parse");
    let read = portcullis::Requirement::parse(catalog, "claims:read").expect("parse");

    let allowed = c.check(&get("/v1/claims/1", &header), &store, now);
    let denied = allowed.require(&write);
    let route = c.check(
        &Request::new("POST", "/v1/claims")
            .authorization(&header)
            .https(true),
        &store,
        now,
    );
    assert_eq!(route.reason(), Reason::InsufficientScope);
    assert_eq!(denied.reason(), Reason::InsufficientScope);
    assert_eq!(denied.status(), 403);
    assert_eq!(
        denied.www_authenticate().map(|w| w.to_string()),
        route.www_authenticate().map(|w| w.to_string())
    );
    assert_eq!(denied.missing().collect::<Vec<_>>(), ["claims:write"]);
    assert_eq!(
        denied.key_id(),
        allowed.key_id(),
        "the caller is still named"
    );

    let kept = allowed.require(&read);
    assert!(kept.allowed() && kept.outcome() == allowed.outcome());
    let public = c.check(&get("/health", ""), &store, now);
    assert_eq!(public.require(&write).reason(), Reason::Public);
    let wrong = c.check(&get("/v1/claims/1", "Bearer sk_live_x"), &store, now);
    assert_eq!(wrong.require(&write).outcome(), wrong.outcome());
}
