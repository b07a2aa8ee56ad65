//! A checker with a usage recorder: what `check` and `finish` record, and the warnings the
//! recorder adds to decisions.

mod common;

use common::{DAY, NOW, checker};
use portcullis::usage::{Denial, UsageConfig, UsageRecorder};
use portcullis::{Checker, KeySpec, MemoryStore, Prepared, Request, Timestamp, Warning};
use std::net::IpAddr;
use std::sync::Arc;

struct Fixture {
    checker: Checker,
    recorder: Arc<UsageRecorder>,
    store: MemoryStore,
    header: String,
    id: portcullis::KeyId,
}

fn fixture() -> Fixture {
    let config = UsageConfig {
        learning: DAY,
        ..UsageConfig::default()
    };
    let recorder = Arc::new(UsageRecorder::new(config).expect("config"));
    let checker = checker().with_usage(recorder.clone());
    let store = MemoryStore::new();
    let spec = KeySpec::new("Usage", "org_1", ["claims:read"]);
    let issued = checker.issue(&spec, Timestamp(NOW)).expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    let id = issued.record.id();
    store.insert(issued.record).expect("insert");
    Fixture {
        checker,
        recorder,
        store,
        header,
        id,
    }
}

fn addr(text: &str) -> IpAddr {
    text.parse().expect("address")
}

#[test]
fn check_records_allowed_and_forbidden_but_not_unknown_keys() {
    let f = fixture();
    let at = Timestamp(NOW + 10);
    let get = Request::new("GET", "/v1/claims/42")
        .authorization(&f.header)
        .https(true);
    assert!(
        f.checker
            .check(&get.client(addr("203.0.113.9")), &f.store, at)
            .allowed()
    );
    let post = Request::new("POST", "/v1/claims")
        .authorization(&f.header)
        .https(true);
    assert_eq!(f.checker.check(&post, &f.store, at).status(), 403);
    // A well-formed key whose id no record has.
    let other = f
        .checker
        .issue(&KeySpec::new("Other", "org_2", ["claims:read"]), at)
        .expect("issue");
    let unknown = format!("Bearer {}", other.key.expose());
    let get_unknown = Request::new("GET", "/v1/claims/42")
        .authorization(&unknown)
        .https(true);
    assert_eq!(f.checker.check(&get_unknown, &f.store, at).status(), 401);
    let batch = f.recorder.drain(at);
    assert_eq!(batch.keys.len(), 1, "the unknown key's id is not recorded");
    let usage = &batch.keys[0];
    assert_eq!(usage.key_id, f.id);
    assert_eq!(usage.hours[0].allowed, 1);
    assert_eq!(usage.hours[0].denied(Denial::InsufficientScope), 1);
    assert_eq!(usage.first_used, Some(at));
    assert_eq!(usage.networks.len(), 1);
}

#[test]
fn finish_records_with_the_client_of_the_prepared_request() {
    let f = fixture();
    let get = Request::new("GET", "/v1/claims/42")
        .authorization(&f.header)
        .https(true);
    // Learnt on the first day, then a new network after it: the warning comes back.
    let Prepared::Lookup(pending) = f.checker.prepare(&get.client(addr("198.51.100.1"))) else {
        panic!("a key to look up");
    };
    let record = f.store.get(&pending.key_id());
    let first = f.checker.finish(pending, record, Timestamp(NOW));
    assert!(first.allowed() && first.warnings().is_empty());
    let later = Timestamp(NOW + 2 * DAY);
    let Prepared::Lookup(pending) = f.checker.prepare(&get.client(addr("2001:db8:7::1"))) else {
        panic!("a key to look up");
    };
    let record = f.store.get(&pending.key_id());
    let second = f.checker.finish(pending, record, later);
    assert!(second.allowed());
    assert!(second.warnings().contains(Warning::NewNetwork));
    let signals = f.recorder.drain(later).signals;
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].kind.code(), "new_network");
}

#[test]
fn a_checker_without_a_recorder_adds_no_warning() {
    let f = fixture();
    let plain = checker();
    let get = Request::new("GET", "/v1/claims/42")
        .authorization(&f.header)
        .https(true);
    let d = plain.check(
        &get.client(addr("192.0.2.1")),
        &f.store,
        Timestamp(NOW + 5 * DAY),
    );
    assert!(d.allowed() && d.warnings().is_empty());
    assert!(plain.usage().is_none());
    assert!(f.recorder.drain(Timestamp(NOW)).keys.is_empty());
}
