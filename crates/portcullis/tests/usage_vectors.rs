//! Usage vectors: `tests/vectors/usage.json`, sequences of recorded uses (key, reason,
//! time, client address, decision warnings) and drains, with the warnings each use raises
//! and each drain's batch (`UsageBatch::to_json`). The Rust, C and Python suites run them
//! through their recorder, `record` and `drain`.
//!
//! This test regenerates the file and fails if it differs from what is committed;
//! `make vectors` (PORTCULLIS_BLESS=1) rewrites it. Every case states by hand the
//! warnings each use raises and, for each drain, the signals and the allowed and denied
//! totals; generation fails if the recorder disagrees.

mod common;

use common::settle_vectors;
use portcullis::usage::{self, UsageBatch, UsageConfig, UsageRecorder};
use portcullis::{KeyId, Timestamp, Warning, Warnings};
use serde_json::{Value, json};
use std::net::IpAddr;

/// The start of an hour.
const T0: u64 = 1_800_000_000; // 500,000 hours exactly
const H: u64 = 3_600;
const DAY: u64 = 86_400;
const A: &str = "usageAAAAAAAAAAA";
const B: &str = "usageBBBBBBBBBBB";

/// `repeat` uses, `every` seconds apart from `at`, raising `raised` (all together).
#[derive(Clone, Copy)]
struct Uses {
    key: &'static str,
    used: &'static str,
    at: u64,
    client: Option<&'static str>,
    warnings: &'static [&'static str],
    repeat: u64,
    every: u64,
    raised: &'static [&'static str],
}

/// One step, with what it must come out as.
enum Step {
    Use(Uses),
    /// A drain at `at`, whose batch has these signal kinds (in order) and totals.
    Drain {
        at: u64,
        signals: &'static [&'static str],
        allowed: u64,
        denied: u64,
    },
}

fn use_(key: &'static str, used: &'static str, at: u64) -> Uses {
    Uses {
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

impl Uses {
    /// From `client`, raising `raised`.
    fn from(self, client: &'static str, raised: &'static [&'static str]) -> Step {
        Step::Use(Uses {
            client: Some(client),
            raised,
            ..self
        })
    }
    /// `n` uses, `gap` seconds apart.
    fn times(self, n: u64, gap: u64) -> Step {
        Step::Use(Uses {
            repeat: n,
            every: gap,
            ..self
        })
    }
    /// Raising `raised`.
    fn raising(self, raised: &'static [&'static str]) -> Step {
        Step::Use(Uses { raised, ..self })
    }
    /// With the decision's `rotation_due` warning.
    fn due(self) -> Uses {
        Uses {
            warnings: &["rotation_due"],
            ..self
        }
    }
    fn step(self) -> Step {
        Step::Use(self)
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
                use_(A, "allowed", T0 + 10).times(3, 60),
                use_(A, "wrong_secret", T0 + 300).step(),
                use_(A, "insufficient_scope", T0 + 400).step(),
                use_(A, "corrupt_record", T0 + 500).step(),
                use_(A, "allowed", T0 + H + 1).step(),
                use_(B, "revoked", T0 + 20).step(),
                use_(B, "expired", T0 + H + 20).step(),
                // Reasons with no record behind them record nothing.
                use_(B, "unknown_key", T0 + 30).step(),
                use_(B, "lookup_failed", T0 + 30).step(),
                drain(T0 + H + 30, &[], 4, 5),
                drain(T0 + H + 40, &[], 0, 0),
            ],
        },
        Case {
            name: "new networks after the learning period, IPv4 /24 and IPv6 /48",
            config: config(|c| c.learning = 1_000),
            steps: vec![
                use_(A, "allowed", T0).from("203.0.113.5", &[]),
                use_(A, "allowed", T0 + 500).from("2001:db8:1:2::1", &[]),
                // Same networks, other hosts: quiet after learning.
                use_(A, "allowed", T0 + 2_000).from("203.0.113.250", &[]),
                use_(A, "allowed", T0 + 2_001).from("2001:db8:1:ffff::9", &[]),
                use_(A, "allowed", T0 + 2_002).from("::ffff:203.0.113.7", &[]),
                drain(T0 + 2_100, &[], 5, 0),
                use_(A, "allowed", T0 + 3_000).from("198.51.100.1", &["new_network"]),
                use_(A, "allowed", T0 + 3_001).from("198.51.100.2", &[]),
                // A refusal for scope is an authenticated use: it is watched too.
                use_(A, "insufficient_scope", T0 + 3_002).from("2001:db8:2::1", &["new_network"]),
                // A wrong secret from anywhere neither fires nor teaches.
                use_(A, "wrong_secret", T0 + 3_003).from("192.0.2.1", &[]),
                // One signal of a kind per key and drain: the latest network.
                drain(T0 + 3_100, &["new_network"], 2, 2),
            ],
        },
        Case {
            name: "use after dormancy",
            config: config(|c| c.dormancy = 30 * DAY),
            steps: vec![
                use_(A, "allowed", T0).step(),
                use_(A, "allowed", T0 + 29 * DAY).step(),
                drain(T0 + 29 * DAY, &[], 2, 0),
                use_(A, "wrong_secret", T0 + 70 * DAY).step(),
                use_(A, "allowed", T0 + 80 * DAY).raising(&["after_dormancy"]),
                use_(A, "allowed", T0 + 80 * DAY + 1).step(),
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
                use_(A, "wrong_secret", T0).times(12, 16),
                drain(T0 + 200, &[], 0, 12),
                use_(A, "wrong_secret", T0 + 1_000).times(9, 1),
                use_(B, "wrong_secret", T0 + 1_000).step(),
                drain(T0 + 1_010, &["wrong_secret_burst"], 0, 10),
            ],
        },
        Case {
            name: "rotation due: once a day per key",
            config: config(|_| {}),
            steps: vec![
                use_(A, "allowed", T0).due().times(5, 10),
                use_(B, "allowed", T0).step(),
                drain(T0 + 100, &["rotation_due"], 6, 0),
                use_(A, "allowed", T0 + 200).due().step(),
                drain(T0 + 300, &[], 1, 0),
                use_(A, "max_age_exceeded", T0 + DAY).step(),
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
                use_(A, "allowed", T0).times(300, 10),
                drain(T0 + H - 1, &[], 300, 0),
                use_(A, "allowed", T0 + H).times(20, 60),
                drain(T0 + 2 * H - 1, &[], 20, 0),
                use_(A, "allowed", T0 + 2 * H).times(20, 60),
                drain(T0 + 3 * H - 1, &[], 20, 0),
                use_(A, "allowed", T0 + 3 * H).times(20, 60),
                drain(T0 + 4 * H - 1, &[], 20, 0),
                use_(A, "allowed", T0 + 4 * H).times(20, 60),
                drain(T0 + 5 * H - 1, &[], 20, 0),
                use_(A, "allowed", T0 + 5 * H).times(20, 60),
                drain(T0 + 6 * H - 1, &[], 20, 0),
                // Nine times the baseline (the busy first hour still weighs in it): one alarm,
                // even over two drains.
                use_(A, "allowed", T0 + 6 * H).times(200, 10),
                use_(A, "wrong_secret", T0 + 6 * H + 2_500).times(100, 1),
                // (A hundred wrong secrets in as many seconds are a burst as well.)
                drain(
                    T0 + 6 * H + 2_700,
                    &["wrong_secret_burst", "volume"],
                    200,
                    100,
                ),
                use_(A, "allowed", T0 + 6 * H + 2_800).times(50, 1),
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
                use_(A, "allowed", T0).times(2, 60),
                drain(T0 + H - 1, &[], 2, 0),
                use_(A, "allowed", T0 + H).times(2, 60),
                drain(T0 + 2 * H - 1, &[], 2, 0),
                use_(A, "allowed", T0 + 2 * H).times(2, 60),
                drain(T0 + 3 * H - 1, &[], 2, 0),
                use_(A, "allowed", T0 + 3 * H).times(40, 60),
                drain(T0 + 4 * H - 1, &[], 40, 0),
            ],
        },
        Case {
            name: "a full table drops new keys, then evicts the least recently used",
            config: config(|c| c.max_keys = 4),
            steps: vec![
                use_("usage0000000000A", "allowed", T0 + 1).step(),
                use_("usage0000000000B", "allowed", T0 + 2).step(),
                use_("usage0000000000C", "allowed", T0 + 3).step(),
                use_("usage0000000000D", "allowed", T0 + 4).step(),
                use_("usage0000000000E", "allowed", T0 + 5).step(),
                use_("usage0000000000F", "wrong_secret", T0 + 6).step(),
                drain(T0 + 10, &[], 4, 0),
                use_("usage0000000000E", "allowed", T0 + 20).step(),
                drain(T0 + 30, &[], 1, 0),
            ],
        },
    ]
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
            Step::Use(Uses {
                key,
                used,
                at,
                client,
                warnings,
                repeat,
                every,
                raised,
            }) => {
                let id = KeyId::parse(key).expect("key id");
                let addr: Option<IpAddr> = client.map(|c| c.parse().expect("address"));
                let mut got = Warnings::default();
                for n in 0..*repeat {
                    if let Some(u) = usage::Use::from_code(used) {
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
    settle_vectors("usage.json", &doc);
}
