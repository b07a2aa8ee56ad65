//! Shared fixtures of the integration tests.
#![allow(dead_code)]

use portcullis::{Checker, Peppers, Policy};

pub const NOW: u64 = 1_800_000_000;

pub fn claimport_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/claimport.toml"
    ))
    .expect("policy file")
}

pub fn checker() -> Checker {
    let policy = Policy::from_toml(&claimport_text()).expect("claimport policy loads");
    Checker::new(policy, Peppers::new("p1", &[42u8; 32]).expect("pepper"))
}
