//! Rate-limit vectors: `tests/vectors/limits.json`, sequences of requests to a GCRA limiter
//! (`portcullis::limit::RateLimiter`) at given microseconds, with each verdict. The Rust,
//! C and Python suites run them through their limiter.
//!
//! This test regenerates the file and fails if it differs from what is committed;
//! `make vectors` (PORTCULLIS_BLESS=1) rewrites it. Every step states by hand whether it
//! is allowed; generation fails if the limiter disagrees.

mod common;

use common::settle_vectors;
use portcullis::limit::{Quota, RateLimiter};
use serde_json::{Value, json};

/// One request: at `at_us`, `n` requests of `subject` under limit `limit`; allowed or not.
struct Step(u64, u32, &'static str, u32, bool);

struct Case {
    name: &'static str,
    quota: (u32, u32, u32),
    steps: Vec<Step>,
}

const S: u64 = 1_000_000;
const T: u64 = 1_000 * S;

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a burst of three, then one per 100 ms",
            quota: (10, 1, 3),
            steps: vec![
                Step(T, 0, "k", 1, true),
                Step(T, 0, "k", 1, true),
                Step(T, 0, "k", 1, true),
                Step(T, 0, "k", 1, false),
                Step(T + 99_999, 0, "k", 1, false),
                Step(T + 100_000, 0, "k", 1, true),
                Step(T + 100_000, 0, "k", 1, false),
                Step(T + 400_000, 0, "k", 1, true),
                Step(T + 400_000, 0, "k", 1, true),
                Step(T + 400_000, 0, "k", 1, true),
                Step(T + 400_000, 0, "k", 1, false),
            ],
        },
        Case {
            name: "subjects and limits are counted apart",
            quota: (1, 60, 1),
            steps: vec![
                Step(T, 0, "a", 1, true),
                Step(T, 0, "a", 1, false),
                Step(T, 0, "b", 1, true),
                Step(T, 1, "a", 1, true),
                Step(T + 59 * S, 0, "a", 1, false),
                Step(T + 60 * S, 0, "a", 1, true),
            ],
        },
        Case {
            name: "several at once: all or none, never above the burst",
            quota: (100, 1, 10),
            steps: vec![
                Step(T, 0, "k", 6, true),
                Step(T, 0, "k", 5, false),
                Step(T, 0, "k", 4, true),
                Step(T, 0, "k", 1, false),
                Step(T + 2 * S, 0, "k", 11, false),
                Step(T + 2 * S, 0, "k", 10, true),
                Step(T + 2 * S, 0, "k", 0, true),
            ],
        },
        Case {
            name: "a long idle time refills the burst, never beyond",
            quota: (2, 1, 2),
            steps: vec![
                Step(T, 0, "k", 1, true),
                Step(T, 0, "k", 1, true),
                Step(T, 0, "k", 1, false),
                Step(T + 3_600 * S, 0, "k", 1, true),
                Step(T + 3_600 * S, 0, "k", 1, true),
                Step(T + 3_600 * S, 0, "k", 1, false),
            ],
        },
        Case {
            name: "the clock crosses 2^44 microseconds",
            quota: (10, 1, 2),
            steps: vec![
                Step((1 << 44) - 50_000, 0, "k", 1, true),
                Step((1 << 44) - 50_000, 0, "k", 1, true),
                Step((1 << 44) + 10_000, 0, "k", 1, false),
                Step((1 << 44) + 50_000, 0, "k", 1, true),
            ],
        },
    ]
}

fn run(case: &Case) -> Value {
    let (rate, window, burst) = case.quota;
    let quota = Quota::new(rate, window, burst).expect("quota");
    let limiter = RateLimiter::new(1_000).expect("limiter");
    let steps: Vec<Value> = case
        .steps
        .iter()
        .map(|Step(at, limit, subject, n, allowed)| {
            let v = limiter.check_n(&quota, *limit, subject.as_bytes(), *n, *at);
            assert_eq!(
                v.allowed, *allowed,
                "{}: {n} of {subject} at {at}",
                case.name
            );
            json!({
                "at_us": at, "limit": limit, "subject": subject, "n": n,
                "allowed": v.allowed, "remaining": v.remaining,
                "reset_us": v.reset_us, "retry_after_us": v.retry_after_us,
            })
        })
        .collect();
    json!({
        "name": case.name,
        "quota": {"rate": rate, "window": window, "burst": burst},
        "steps": steps,
    })
}

#[test]
fn limits_json_is_current_and_every_step_comes_out_as_stated() {
    let cases: Vec<Value> = cases().iter().map(run).collect();
    let doc = json!({
        "comment": "Rate-limit vectors (crates/portcullis/tests/limit_vectors.rs): for each case, make a limiter and the quota (`rate` per `window` seconds, `burst` at once), then for each step call check_n(quota, limit, subject, n, at_us) in order on that one limiter; the verdict's four fields are given (n = 0 only reads).",
        "cases": cases,
    });
    settle_vectors("limits.json", &doc);
}
