//! Usage vectors: `tests/vectors/usage.json`, sequences of recorded uses (key, reason,
//! time, client address, decision warnings) and drains, with the warnings each use raises
//! and each drain's batch (`UsageBatch::to_json`). The Rust, C and Python suites run them
//! through their recorder, `record` and `drain`.
//!
//! This test regenerates the file and fails if it differs from what is committed;
//! `make vectors` (PORTCULLIS_BLESS=1) rewrites it. Every case states by hand the
//! warnings each use raises and, for each drain, the signals and the allowed and denied
//! totals; generation fails if the recorder disagrees.

use portcullis::usage::{UsageBatch, UsageConfig, UsageRecorder, Use};
use portcullis::{KeyId, Timestamp, Warning, Warnings};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::path::PathBuf;

/// The start of an hour.
const T0: u64 = 1_800_000_000; // 500,000 hours exactly
const H: u64 = 3_600;
const DAY: u64 = 86_400;
const A: &str = "usageAAAAAAAAAAA";
const B: &str = "usageBBBBBBBBBBB";

/// One step, with what it must come out as.
enum Step {
    /// `repeat` uses, `every` seconds apart from `at`, raising `raised` (all together).
    Use {
        key: &'static str,
        used: &'static str,
        at: u64,
        client: Option<&'static str>,
        warnings: &'static [&'static str],
        repeat: u64,
        every: u64,
        raised: &'static [&'static str],
    },
    /// A drain at `at`, whose batch has these signal kinds (in order) and totals.
    Drain {
        at: u64,
        signals: &'static [&'static str],
        allowed: u64,
        denied: u64,
    },
}

fn use_(key: &'static str, used: &'static str, at: u64) -> Step {
    Step::Use {
        key,
        used,
        at,
        client: None,
        warnings: &[],
        repeat: 1,
        every: 0,
        raised: &[],
    }
}

fn from(step: Step, client: &'static str, raised: &'static [&'static str]) -> Step {
    match step {
        Step::Use {
            key,
            used,
            at,
            warnings,
            repeat,
            every,
            ..
        } => Step::Use {
            key,
            used,
            at,
            client: Some(client),
            warnings,
            repeat,
            every,
            raised,
        },
        drain => drain,
    }
}

fn times(step: Step, n: u64, gap: u64) -> Step {
    match step {
        Step::Use {
            key,
            used,
            at,
            client,
            warnings,
            raised,
            ..
        } => Step::Use {
            key,
            used,
            at,
            client,
            warnings,
            repeat: n,
            every: gap,
            raised,
        },
        drain => drain,
    }
}

fn drain(at: u64, signals: &'static [&'static str], allowed: u64, denied: u64) -> Step {
    Step::Drain {
        at,
        signals,
        allowed,
        denied,
    }
}

struct Case {
    name: &'static str,
    config: UsageConfig,
    steps: Vec<Step>,
}

fn config(f: impl FnOnce(&mut UsageConfig)) -> UsageConfig {
    let mut c = UsageConfig {
        max_keys: 64,
        ..UsageConfig::default()
    };
    f(&mut c);
    c
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "counts per hour and reason; guesses do not make a key used",
            config: config(|_| {}),
            steps: vec![
                times(use_(A, "allowed", T0 + 10), 3, 60),
                use_(A, "wrong_secret", T0 + 300),
                use_(A, "insufficient_scope", T0 + 400),
                use_(A, "corrupt_record", T0 + 500),
                use_(A, "allowed", T0 + H + 1),
                use_(B, "revoked", T0 + 20),
                use_(B, "expired", T0 + H + 20),
                // Reasons with no record behind them record nothing.
                use_(B, "unknown_key", T0 + 30),
                use_(B, "lookup_failed", T0 + 30),
                drain(T0 + H + 30, &[], 4, 5),
                drain(T0 + H + 40, &[], 0, 0),
            ],
        },
        Case {
            name: "new networks after the learning period, IPv4 /24 and IPv6 /48",
            config: config(|c| c.learning = 1_000),
            steps: vec![
                from(use_(A, "allowed", T0), "203.0.113.5", &[]),
                from(use_(A, "allowed", T0 + 500), "2001:db8:1:2::1", &[]),
                // Same networks, other hosts: quiet after learning.
                from(use_(A, "allowed", T0 + 2_000), "203.0.113.250", &[]),
                from(use_(A, "allowed", T0 + 2_001), "2001:db8:1:ffff::9", &[]),
                from(use_(A, "allowed", T0 + 2_002), "::ffff:203.0.113.7", &[]),
                drain(T0 + 2_100, &[], 5, 0),
                from(
                    use_(A, "allowed", T0 + 3_000),
                    "198.51.100.1",
                    &["new_network"],
                ),
                from(use_(A, "allowed", T0 + 3_001), "198.51.100.2", &[]),
                // A refusal for scope is an authenticated use: it is watched too.
                from(
                    use_(A, "insufficient_scope", T0 + 3_002),
                    "2001:db8:2::1",
                    &["new_network"],
                ),
                // A wrong secret from anywhere neither fires nor teaches.
                from(use_(A, "wrong_secret", T0 + 3_003), "192.0.2.1", &[]),
                // One signal of a kind per key and drain: the latest network.
                drain(T0 + 3_100, &["new_network"], 2, 2),
            ],
        },
        Case {
            name: "use after dormancy",
            config: config(|c| c.dormancy = 30 * DAY),
            steps: vec![
                use_(A, "allowed", T0),
                use_(A, "allowed", T0 + 29 * DAY),
                drain(T0 + 29 * DAY, &[], 2, 0),
                use_(A, "wrong_secret", T0 + 70 * DAY),
                step_raising(use_(A, "allowed", T0 + 80 * DAY), &["after_dormancy"]),
                use_(A, "allowed", T0 + 80 * DAY + 1),
                drain(T0 + 80 * DAY + 2, &["after_dormancy"], 2, 1),
            ],
        },
        Case {
            name: "wrong-secret burst against one key id",
            config: config(|c| {
                c.burst_threshold = 5;
                c.burst_window = 60;
            }),
            steps: vec![
                // Four a minute, spread out: never five in one window.
                times(use_(A, "wrong_secret", T0), 12, 16),
                drain(T0 + 200, &[], 0, 12),
                times(use_(A, "wrong_secret", T0 + 1_000), 9, 1),
                use_(B, "wrong_secret", T0 + 1_000),
                drain(T0 + 1_010, &["wrong_secret_burst"], 0, 10),
            ],
        },
        Case {
            name: "rotation due: once a day per key",
            config: config(|_| {}),
            steps: vec![
                times(due(use_(A, "allowed", T0)), 5, 10),
                use_(B, "allowed", T0),
                drain(T0 + 100, &["rotation_due"], 6, 0),
                due(use_(A, "allowed", T0 + 200)),
                drain(T0 + 300, &[], 1, 0),
                use_(A, "max_age_exceeded", T0 + DAY),
                drain(T0 + DAY + 1, &["rotation_due"], 0, 1),
            ],
        },
        Case {
            name: "volume far above the trailing baseline",
            config: config(|c| {
                c.baseline_hours = 4;
                c.volume_factor = 5.0;
                c.volume_min_count = 50;
            }),
            steps: vec![
                // A busy first hour has no baseline to compare with: quiet.
                times(use_(A, "allowed", T0), 300, 10),
                drain(T0 + H - 1, &[], 300, 0),
                times(use_(A, "allowed", T0 + H), 20, 60),
                drain(T0 + 2 * H - 1, &[], 20, 0),
                times(use_(A, "allowed", T0 + 2 * H), 20, 60),
                drain(T0 + 3 * H - 1, &[], 20, 0),
                times(use_(A, "allowed", T0 + 3 * H), 20, 60),
                drain(T0 + 4 * H - 1, &[], 20, 0),
                times(use_(A, "allowed", T0 + 4 * H), 20, 60),
                drain(T0 + 5 * H - 1, &[], 20, 0),
                times(use_(A, "allowed", T0 + 5 * H), 20, 60),
                drain(T0 + 6 * H - 1, &[], 20, 0),
                // Nine times the baseline (the busy first hour still weighs in it): one alarm,
                // even over two drains.
                times(use_(A, "allowed", T0 + 6 * H), 200, 10),
                times(use_(A, "wrong_secret", T0 + 6 * H + 2_500), 100, 1),
                // (A hundred wrong secrets in as many seconds are a burst as well.)
                drain(
                    T0 + 6 * H + 2_700,
                    &["wrong_secret_burst", "volume"],
                    200,
                    100,
                ),
                times(use_(A, "allowed", T0 + 6 * H + 2_800), 50, 1),
                drain(T0 + 7 * H - 1, &[], 50, 0),
            ],
        },
        Case {
            name: "a quiet key's jump below the minimum count is no alarm",
            config: config(|c| {
                c.baseline_hours = 2;
                c.volume_min_count = 50;
            }),
            steps: vec![
                times(use_(A, "allowed", T0), 2, 60),
                drain(T0 + H - 1, &[], 2, 0),
                times(use_(A, "allowed", T0 + H), 2, 60),
                drain(T0 + 2 * H - 1, &[], 2, 0),
                times(use_(A, "allowed", T0 + 2 * H), 2, 60),
                drain(T0 + 3 * H - 1, &[], 2, 0),
                times(use_(A, "allowed", T0 + 3 * H), 40, 60),
                drain(T0 + 4 * H - 1, &[], 40, 0),
            ],
        },
        Case {
            name: "a full table drops new keys, then evicts the least recently used",
            config: config(|c| c.max_keys = 4),
            steps: vec![
                use_("usage0000000000A", "allowed", T0 + 1),
                use_("usage0000000000B", "allowed", T0 + 2),
                use_("usage0000000000C", "allowed", T0 + 3),
                use_("usage0000000000D", "allowed", T0 + 4),
                use_("usage0000000000E", "allowed", T0 + 5),
                use_("usage0000000000F", "wrong_secret", T0 + 6),
                drain(T0 + 10, &[], 4, 0),
                use_("usage0000000000E", "allowed", T0 + 20),
                drain(T0 + 30, &[], 1, 0),
            ],
        },
    ]
}

fn step_raising(step: Step, raised: &'static [&'static str]) -> Step {
    match step {
        Step::Use {
            key,
            used,
            at,
            client,
            warnings,
            repeat,
            every,
            ..
        } => Step::Use {
            key,
            used,
            at,
            client,
            warnings,
            repeat,
            every,
            raised,
        },
        drain => drain,
    }
}

fn due(step: Step) -> Step {
    match step {
        Step::Use {
            key,
            used,
            at,
            client,
            repeat,
            every,
            raised,
            ..
        } => Step::Use {
            key,
            used,
            at,
            client,
            warnings: &["rotation_due"],
            repeat,
            every,
            raised,
        },
        drain => drain,
    }
}

fn config_json(c: &UsageConfig) -> Value {
    json!({
        "max_keys": c.max_keys,
        "learning": c.learning,
        "dormancy": c.dormancy,
        "burst_threshold": c.burst_threshold,
        "burst_window": c.burst_window,
        "volume_factor": c.volume_factor,
        "volume_min_count": c.volume_min_count,
        "baseline_hours": c.baseline_hours,
    })
}

fn warnings_of(codes: &[&str]) -> Warnings {
    let mut w = Warnings::default();
    for code in codes {
        match *code {
            "rotation_due" => w.insert(Warning::RotationDue),
            other => panic!("a vector warning the runner does not pass: {other}"),
        }
    }
    w
}

fn totals(batch: &UsageBatch) -> (u64, u64) {
    let hours = batch.keys.iter().flat_map(|k| &k.hours);
    hours.fold((0, 0), |(a, d), h| {
        (a + h.allowed, d + h.total() - h.allowed)
    })
}

fn run(case: &Case) -> Value {
    let recorder = UsageRecorder::new(case.config.clone()).expect("config");
    let mut steps = Vec::new();
    for step in &case.steps {
        match step {
            Step::Use {
                key,
                used,
                at,
                client,
                warnings,
                repeat,
                every,
                raised,
            } => {
                let id = KeyId::parse(key).expect("key id");
                let addr: Option<IpAddr> = client.map(|c| c.parse().expect("address"));
                let mut got = Warnings::default();
                for n in 0..*repeat {
                    if let Some(u) = Use::from_code(used) {
                        let t = Timestamp(at + n * every);
                        got.extend(recorder.record(&id, u, warnings_of(warnings), addr, t));
                    }
                }
                let got: Vec<&str> = got.iter().map(|w| w.code()).collect();
                assert_eq!(&got, raised, "{}: {used} at {at}", case.name);
                let mut record = json!({"key_id": key, "use": used, "at": at});
                if let Some(c) = client {
                    record["client"] = json!(c);
                }
                if !warnings.is_empty() {
                    record["warnings"] = json!(warnings);
                }
                if *repeat > 1 {
                    record["repeat"] = json!(repeat);
                    record["every"] = json!(every);
                }
                steps.push(json!({"record": record, "raised": raised}));
            }
            Step::Drain {
                at,
                signals,
                allowed,
                denied,
            } => {
                let batch = recorder.drain(Timestamp(*at));
                let kinds: Vec<&str> = batch.signals.iter().map(|s| s.kind.code()).collect();
                assert_eq!(&kinds, signals, "{}: drain at {at}", case.name);
                assert_eq!(
                    totals(&batch),
                    (*allowed, *denied),
                    "{}: drain at {at}",
                    case.name
                );
                steps.push(json!({"drain": at, "batch": batch.to_json()}));
            }
        }
    }
    json!({"name": case.name, "config": config_json(&case.config), "steps": steps})
}

#[test]
fn usage_json_is_current_and_every_case_comes_out_as_stated() {
    let cases: Vec<Value> = cases().iter().map(run).collect();
    let doc = json!({
        "comment": "Usage vectors (crates/portcullis/tests/usage_vectors.rs): for each case, make a recorder with `config`, then run the steps in order. A `record` step records `repeat` uses (default 1), `every` seconds apart from `at`, of `key_id` with the reason `use` (reasons that record nothing, such as unknown_key, are skipped), from `client` if given, with the decision warnings `warnings`; the warnings the uses raised, all together, are `raised`. A `drain` step drains at that time; its batch, as UsageBatch::to_json writes it, is `batch`.",
        "cases": cases,
    });
    let text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/usage.json");
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "usage.json is stale: run `make vectors` and review the diff"
    );
}
