//! Policy loading on arbitrary text: total, and every reported issue points inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(text) {
        Ok(policy) => {
            let _ = policy.for_environment("test");
            for i in 0..policy.routes().routes().len() {
                assert!(policy.route_info(i).is_some());
            }
        }
        Err(e) => {
            assert!(!e.issues.is_empty());
            let lines = text.lines().count().max(1) + 1;
            for issue in &e.issues {
                assert!(issue.line <= lines, "{issue:?} in {lines} lines");
            }
            let _ = e.to_string();
        }
    }
});
