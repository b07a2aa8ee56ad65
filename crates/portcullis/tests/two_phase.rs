//! The two-phase check is bound to the checker that prepared it, and `verify` applies the
//! deployment-environment rule as `check` does (issue #15, items 3 and 4).

mod common;

use common::{NOW, checker, claimport_text};
use portcullis::{
    Checker, KeySpec, LookupError, MemoryStore, OsRandom, Peppers, Policy, Prepared, Reason,
    Request, Timestamp,
};

fn peppers() -> Peppers {
    common::peppers()
}

/// A checker of the claimport policy with one more route in front, so every route index
/// names the route before it in the original: what a reload can do.
fn reloaded_with_shifted_routes() -> Checker {
    let text = claimport_text().replacen(
        "[[routes]]",
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1/status\"\naccess = \"authenticated\"\n\n[[routes]]",
        1,
    );
    Checker::new(Policy::from_toml(&text).expect("policy"), peppers())
}

/// A `claims:read` key of `env`, stored: its `Authorization` header.
fn stored_key(c: &Checker, env: &str, store: &MemoryStore) -> String {
    let spec = KeySpec::new("k", "o", ["claims:read"]);
    let issued = c
        .issue_with("sk", env, &spec, Timestamp(NOW), &OsRandom::new())
        .expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    header
}

fn pending(c: &Checker, method: &'static str, path: &str, header: &str) -> portcullis::Pending {
    let request = Request::new(method, path).authorization(header).https(true);
    match c.prepare(&request) {
        Prepared::Lookup(p) => p,
        Prepared::Done(d) => panic!("decided early: {:?}", d.reason()),
    }
}

#[test]
fn a_pending_finished_after_a_reload_is_refused_not_authorised_against_the_new_route_index() {
    let before = checker();
    let after = reloaded_with_shifted_routes();
    let store = MemoryStore::new();
    let header = stored_key(&before, "live", &store);
    // POST /v1/claims needs claims:write; after the reload its index names a claims:read route.
    let p = pending(&before, "POST", "/v1/claims", &header);
    let record = store.get(&p.key_id());
    let d = after.finish(p, record, Timestamp(NOW));
    assert_eq!(
        (d.reason(), d.status(), d.allowed()),
        (Reason::ForeignPending, 503, false)
    );
    assert_eq!(d.route(), None, "no route of the other policy is named");
    assert_eq!(d.reason().code(), "foreign_pending");
}

#[test]
fn a_pending_of_a_live_checker_is_refused_by_a_test_checker_instead_of_accepted() {
    let live = checker();
    let test = Checker::new(
        live.policy().for_environment("test").expect("env"),
        peppers(),
    );
    let store = MemoryStore::new();
    let header = stored_key(&live, "live", &store);
    let p = pending(&live, "GET", "/v1/claims", &header);
    let record = store.get(&p.key_id());
    let d = test.finish(p, record, Timestamp(NOW));
    assert_eq!((d.reason(), d.status()), (Reason::ForeignPending, 503));
    let p = pending(&live, "GET", "/v1/claims", &header);
    let d = test.finish_failed(p, LookupError::new("timeout"));
    assert_eq!((d.reason(), d.status()), (Reason::ForeignPending, 503));
}

#[test]
fn a_pending_finished_by_the_checker_that_prepared_it_is_decided_as_before() {
    let c = checker();
    let store = MemoryStore::new();
    let header = stored_key(&c, "live", &store);
    let p = pending(&c, "GET", "/v1/claims", &header);
    let record = store.get(&p.key_id());
    assert_eq!(
        c.finish(p, record, Timestamp(NOW)).reason(),
        Reason::Allowed
    );
    let p = pending(&c, "POST", "/v1/claims", &header);
    let record = store.get(&p.key_id());
    assert_eq!(
        c.finish(p, record, Timestamp(NOW)).reason(),
        Reason::InsufficientScope
    );
    let p = pending(&c, "GET", "/v1/claims", &header);
    let d = c.finish_failed(p, LookupError::new("timeout"));
    assert_eq!((d.reason(), d.status()), (Reason::LookupFailed, 503));
}

#[test]
fn verify_refuses_a_key_of_another_environment_as_check_does() {
    let live = checker();
    let test = Checker::new(
        live.policy().for_environment("test").expect("env"),
        peppers(),
    );
    let spec = KeySpec::new("k", "o", ["claims:read"]);
    let issued = live
        .issue_with("sk", "test", &spec, Timestamp(NOW), &OsRandom::new())
        .expect("issue");
    let key = issued.key.expose().as_bytes();
    let store = MemoryStore::new();
    store.insert(issued.record.clone()).expect("insert");
    let header = format!("Bearer {}", issued.key.expose());
    let request = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    assert_eq!(
        live.check(&request, &store, Timestamp(NOW)).reason(),
        Reason::WrongEnvironment
    );
    let v = live.verify(key, &issued.record, Timestamp(NOW));
    assert_eq!((v.reason, v.is_valid()), (Reason::WrongEnvironment, false));
    assert!(v.granted.is_empty());
    assert!(test.verify(key, &issued.record, Timestamp(NOW)).is_valid());
    let mut record = issued.record.clone();
    assert_eq!(
        live.rehash(key, &mut record, Timestamp(NOW)),
        Err(Reason::WrongEnvironment)
    );
}
