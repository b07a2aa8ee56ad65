//! Issuing and rotating: a zero lifetime is refused, and rotation keeps the predecessor's
//! constraints and goes through the spec checks of issuing (issue #15, items 5, 17, 21).

mod common;

use common::{NOW, TestPolicy, checker, checker_of};
use portcullis::{
    Checker, IssueError, KeyRecord, KeySpec, MemoryStore, OsRandom, Reason, Request, Timestamp,
};

fn spec() -> KeySpec {
    KeySpec::new("k", "o", ["claims:read"])
}

/// A checker of the claimport policy as `edit` changes it.
fn edited(edit: impl FnOnce(TestPolicy) -> TestPolicy) -> Checker {
    checker_of(edit(TestPolicy::claimport()).build())
}

#[test]
fn a_zero_ttl_is_refused_instead_of_issuing_an_expired_key() {
    let c = checker();
    assert_eq!(
        c.issue(&spec().with_ttl(0), Timestamp(NOW)).map(|_| ()),
        Err(IssueError::ZeroTtl)
    );
    let rng = OsRandom::new();
    assert_eq!(
        c.issue_with("sk", "live", &spec().with_ttl(0), Timestamp(NOW), &rng)
            .map(|_| ()),
        Err(IssueError::ZeroTtl)
    );
    let one = c
        .issue(&spec().with_ttl(1), Timestamp(NOW))
        .expect("one second");
    assert_eq!(one.record.expires_at(), Some(Timestamp(NOW + 1)));
    let never = c.issue(&spec(), Timestamp(NOW)).expect("no ttl");
    assert_eq!(never.record.expires_at(), None);
}

#[test]
fn rotation_keeps_the_predecessors_not_before() {
    let c = checker();
    let mut s = spec();
    s.not_before = Some(Timestamp(NOW + 3_600));
    let old = c.issue(&s, Timestamp(NOW)).expect("issue");
    let r = c
        .rotate(&old.record, 600, Timestamp(NOW + 60))
        .expect("rotate");
    assert_eq!(
        r.successor.record.not_before(),
        Some(Timestamp(NOW + 3_600))
    );
    let key = r.successor.key.expose().as_bytes();
    let before = c.verify(key, &r.successor.record, Timestamp(NOW + 120));
    assert_eq!(before.reason, Reason::NotYetValid);
    assert!(
        c.verify(key, &r.successor.record, Timestamp(NOW + 3_600))
            .is_valid()
    );
}

#[test]
fn rotation_gives_the_successor_a_revocation_scheduled_for_the_future() {
    let c = checker();
    let store = MemoryStore::new();
    let mut old = c.issue(&spec(), Timestamp(NOW)).expect("issue").record;
    old.revoke(Timestamp(NOW + 86_400));
    let r = c
        .rotate(&old, 7 * 86_400, Timestamp(NOW + 60))
        .expect("rotate");
    assert_eq!(
        r.successor.record.revoked_at(),
        Some(Timestamp(NOW + 86_400))
    );
    assert_eq!(r.predecessor.revoked_at(), Some(Timestamp(NOW + 86_400)));
    let header = format!("Bearer {}", r.successor.key.expose());
    store.insert(r.successor.record).expect("insert");
    let at = |t: u64| {
        let request = Request::new("GET", "/v1/claims")
            .authorization(&header)
            .https(true);
        c.check(&request, &store, Timestamp(t)).reason()
    };
    assert_eq!(
        (at(NOW + 86_399), at(NOW + 86_400)),
        (Reason::Allowed, Reason::Revoked)
    );
}

#[test]
fn rotation_refuses_a_scope_the_catalog_no_longer_knows() {
    let before = checker();
    let old = before
        .issue(
            &KeySpec::new("k", "o", ["claims:read", "analytics:read"]),
            Timestamp(NOW),
        )
        .expect("issue");
    let after = edited(|p| p.rename_scope("analytics:read", "reports:read"));
    assert_eq!(
        after
            .rotate(&old.record, 600, Timestamp(NOW + 60))
            .map(|_| ()),
        Err(IssueError::UnknownScope("analytics:read".into()))
    );
}

#[test]
fn rotation_refuses_a_kind_or_environment_the_policy_no_longer_accepts() {
    let before = checker();
    let test_key = before
        .issue_with("sk", "test", &spec(), Timestamp(NOW), &OsRandom::new())
        .expect("issue");
    let live_only = edited(|p| p.environments(&["live"]));
    assert_eq!(
        live_only
            .rotate(&test_key.record, 600, Timestamp(NOW + 60))
            .map(|_| ()),
        Err(IssueError::Env("test".into()))
    );
    let old = before.issue(&spec(), Timestamp(NOW)).expect("issue");
    let rk_only = edited(|p| p.kinds(&["rk"]));
    assert_eq!(
        rk_only
            .rotate(&old.record, 600, Timestamp(NOW + 60))
            .map(|_| ()),
        Err(IssueError::Kind("sk".into()))
    );
}

#[test]
fn rotation_refuses_a_record_whose_lifetime_is_zero() {
    let c = checker();
    // Imported with a lifetime that ends at creation, created ahead of `now` (clock skew):
    // not yet expired, but its successor would be expired on issue.
    let issued = c.issue(&spec(), Timestamp(NOW + 100)).expect("issue");
    let mut odd: KeyRecord = issued.record;
    odd.set_expires_at(Some(Timestamp(NOW + 100)));
    assert_eq!(
        c.rotate(&odd, 600, Timestamp(NOW)).map(|_| ()),
        Err(IssueError::ZeroTtl)
    );
}
