//! Requirement expressions on arbitrary text: total and bounded, and every compiled
//! requirement survives a round trip through its canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::scope::MAX_EXPR_TERMS;
use portcullis::{Policy, Requirement, ScopeSet};
use std::sync::LazyLock;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/claimport.toml")).expect("policy")
});

fuzz_target!(|data: &[u8]| {
    let catalog = POLICY.catalog();
    let (grant_bits, text) = data.split_first().unwrap_or((&0, &[]));
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(req) = Requirement::parse(catalog, text) else {
        return;
    };
    assert!(!req.terms().is_empty() && req.terms().len() <= MAX_EXPR_TERMS);
    let again = Requirement::parse(catalog, &req.canonical(catalog)).expect("canonical parses");
    assert_eq!(again, req);
    let mut granted = ScopeSet::EMPTY;
    for i in 0..catalog.len() {
        if grant_bits & (1 << i) != 0 {
            granted.insert(i);
        }
    }
    let naive = req.terms().iter().any(|t| t.is_subset(&granted));
    match req.evaluate(&granted) {
        Ok(()) => assert!(naive),
        Err(short) => {
            assert!(!naive && !short.missing.is_empty());
            assert!(short.missing.is_subset(&short.required));
        }
    }
});
