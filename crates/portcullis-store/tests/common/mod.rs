//! Shared fixtures: a real PostgreSQL server per test ([`pg::Pg`]), a policy and checker.
#![allow(dead_code)]

pub mod pg;
pub mod redis_server;

use portcullis::{Checker, KeySpec, Peppers, Policy, Request, Timestamp};

/// A fixed "now" (2027-01-15 08:00 UTC).
pub const NOW: Timestamp = Timestamp(1_800_000_000);

/// A small policy: one scope, one route.
pub fn checker() -> Checker {
    let policy = Policy::from_toml(
        r#"
        [service]
        realm = "test"
        [[scopes]]
        name = "claims:read"
        description = "Read Claims"
        [[routes]]
        method = "GET"
        path = "/v1/claims"
        require = "claims:read"
        "#,
    )
    .expect("policy");
    Checker::new(policy, Peppers::new("p1", &[7u8; 32]).expect("pepper"))
}

/// A new key's spec.
pub fn spec(name: &str) -> KeySpec {
    KeySpec::new(name, "org_1", ["claims:read"])
}

/// The check's status for `key` on the policy's route.
pub fn status(checker: &Checker, store: &portcullis_store::Store, key: &str) -> u16 {
    let header = format!("Bearer {key}");
    let request = Request::new("GET", "/v1/claims")
        .authorization(&header)
        .https(true);
    checker.check(&request, store, NOW).status()
}
