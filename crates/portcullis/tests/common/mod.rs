//! Shared fixtures of the integration tests: the fixed time, the pepper, the example policy.
#![allow(dead_code, unused_imports)]

mod policy;

pub use policy::{TestPolicy, claimport_text};

use portcullis::{Checker, Peppers, Policy};

/// A fixed "now" for deterministic tests (2027-01-15 08:00 UTC).
pub const NOW: u64 = 1_800_000_000;

/// One day in seconds.
pub const DAY: u64 = 86_400;

/// The id of the tests' pepper.
pub const PEPPER_ID: &str = "p1";

/// The tests' pepper secret.
pub const PEPPER: [u8; 32] = [42; 32];

/// The tests' pepper set: [`PEPPER`] under [`PEPPER_ID`].
pub fn peppers() -> Peppers {
    Peppers::new(PEPPER_ID, &PEPPER).expect("pepper")
}

/// The tests' access-token signing key set: one key, `k1`.
pub fn access_keys() -> portcullis::oauth::AccessKeys {
    portcullis::oauth::AccessKeys::new("k1", &[1; 32]).expect("access keys")
}

/// A checker of `policy` with the tests' pepper.
pub fn checker_of(policy: Policy) -> Checker {
    Checker::new(policy, peppers())
}

/// A checker of the example policy with the tests' pepper.
pub fn checker() -> Checker {
    checker_of(TestPolicy::claimport().build())
}

/// The conformance vectors' directory, `tests/vectors/`.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// Compares `value` with the committed vector file `name`, or writes it when
/// `PORTCULLIS_BLESS` is set (`make vectors`: review the diff before committing).
pub fn settle_vectors(name: &str, value: &serde_json::Value) {
    let path = vectors_dir().join(name);
    let text = serde_json::to_string_pretty(value).expect("json") + "\n";
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::create_dir_all(vectors_dir()).expect("mkdir");
        std::fs::write(&path, &text).expect("write vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{name} is stale: run `make vectors` and review the diff"
    );
}
