//! Usage persistence (issue #20): batches drained from a recorder are saved in one
//! transaction, additively (a batch saved twice counts twice; two processes saving into one
//! database add up exactly), read back per key, restored into a new recorder after a
//! restart, pruned after the usage window, and never hold a secret — on SQLite and
//! PostgreSQL.

mod common;

use common::pg::Pg;
use common::{NOW, spec};
use portcullis::usage::{
    Denial, HourCounts, KeyUsage, Network, Signal, SignalKind, UsageBatch, UsageConfig,
    UsageRecorder, Use,
};
use portcullis::{KeyId, Request, Timestamp, Warning};
use portcullis_store::{Options, SignalFilter, Store};
use std::sync::Arc;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// Runs `f` on a fresh SQLite store URL and a fresh PostgreSQL database URL.
fn on_both(name: &str, f: impl Fn(&str, &str)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite:{}", dir.path().join("u.sqlite3").display());
    f("sqlite", &sqlite);
    if let Some(pg) = Pg::start() {
        f("postgres", &pg.database(name));
    }
}

fn open(url: &str) -> Store {
    let options = Options {
        feed: false,
        ..Options::default()
    };
    Store::open_with(url, options).expect("open")
}

fn id(text: &str) -> KeyId {
    KeyId::parse(text).expect("test id")
}

fn net(text: &str) -> Network {
    Network::parse(text).expect("test network")
}

fn hour(at: u64, allowed: u64, wrong: u64, scope: u64) -> HourCounts {
    let mut denied = [0; Denial::COUNT];
    denied[Denial::WrongSecret as usize] = wrong;
    denied[Denial::InsufficientScope as usize] = scope;
    HourCounts {
        hour: Timestamp(at / HOUR * HOUR),
        allowed,
        denied,
    }
}

/// Two keys, two hours of one of them, one signal.
fn batch(a: KeyId, b: KeyId) -> UsageBatch {
    let h0 = NOW.secs() / HOUR * HOUR;
    UsageBatch {
        keys: vec![
            KeyUsage {
                key_id: a,
                first_used: Some(NOW),
                last_used: Some(NOW.plus(HOUR + 5)),
                hours: vec![hour(h0, 10, 2, 1), hour(h0 + HOUR, 3, 0, 0)],
                networks: vec![net("203.0.113.0/24")],
            },
            KeyUsage {
                key_id: b,
                first_used: None,
                last_used: None,
                hours: vec![hour(h0, 0, 7, 0)],
                networks: vec![],
            },
        ],
        signals: vec![Signal {
            key_id: b,
            at: NOW.plus(60),
            kind: SignalKind::WrongSecretBurst {
                attempts: 7,
                since: NOW,
            },
        }],
        dropped: 0,
    }
}

#[test]
fn a_batch_saved_twice_adds_up_and_reads_back_per_key() {
    on_both("usage_twice", |backend, url| {
        let store = open(url);
        let (a, b) = (id("AAAAAAAAAAAAAAAA"), id("BBBBBBBBBBBBBBBB"));
        let batch = batch(a, b);
        store.save_usage(&batch).expect("save");
        store.save_usage(&batch).expect("save again");
        let history = store.key_usage(&a, Timestamp(0)).expect("read a");
        assert_eq!(history.first_used, Some(NOW), "{backend}");
        assert_eq!(history.last_used, Some(NOW.plus(HOUR + 5)), "{backend}");
        assert_eq!(history.networks, vec![net("203.0.113.0/24")], "{backend}");
        let h0 = NOW.secs() / HOUR * HOUR;
        assert_eq!(
            history.hours,
            vec![hour(h0, 20, 4, 2), hour(h0 + HOUR, 6, 0, 0)],
            "{backend}"
        );
        assert!(history.signals.is_empty(), "{backend}");
        // `since` drops the older hour.
        let later = store.key_usage(&a, Timestamp(h0 + HOUR)).expect("since");
        assert_eq!(later.hours, vec![hour(h0 + HOUR, 6, 0, 0)], "{backend}");

        let history = store.key_usage(&b, Timestamp(0)).expect("read b");
        assert_eq!((history.first_used, history.last_used), (None, None));
        assert_eq!(history.hours, vec![hour(h0, 0, 14, 0)], "{backend}");
        assert_eq!(history.signals.len(), 2, "{backend}: appended twice");
        assert!(
            history.signals[0].seq > history.signals[1].seq,
            "newest first"
        );
        assert_eq!(history.signals[0].signal(), Some(batch.signals[0]));

        // Last used: only keys with an authenticated use.
        let last = store.last_used_all().expect("last used");
        assert_eq!(last.len(), 1, "{backend}");
        assert_eq!(last.get(&a), Some(&NOW.plus(HOUR + 5)));

        // A later batch moves last use forward, never first use; networks are a union.
        let mut next = UsageBatch::default();
        next.keys.push(KeyUsage {
            key_id: a,
            first_used: Some(NOW.plus(10)),
            last_used: Some(NOW.plus(9 * HOUR)),
            hours: vec![],
            networks: vec![net("198.51.100.0/24")],
        });
        store.save_usage(&next).expect("save next");
        let history = store.key_usage(&a, Timestamp(0)).expect("read a");
        assert_eq!(history.first_used, Some(NOW));
        assert_eq!(history.last_used, Some(NOW.plus(9 * HOUR)));
        assert_eq!(
            history.networks,
            vec![net("198.51.100.0/24"), net("203.0.113.0/24")]
        );
        // An unknown key has an empty history.
        let none = store
            .key_usage(&id("CCCCCCCCCCCCCCCC"), Timestamp(0))
            .expect("none");
        assert!(none.hours.is_empty() && none.signals.is_empty() && none.last_used.is_none());
    });
}

#[test]
fn signals_page_newest_first_and_filter_by_key_and_time() {
    on_both("usage_signals", |backend, url| {
        let store = open(url);
        let (a, b) = (id("AAAAAAAAAAAAAAAA"), id("BBBBBBBBBBBBBBBB"));
        let mut batch = UsageBatch::default();
        for i in 0..5 {
            for key_id in [a, b] {
                batch.signals.push(Signal {
                    key_id,
                    at: NOW.plus(i * 10),
                    kind: SignalKind::RotationDue,
                });
            }
        }
        store.save_usage(&batch).expect("save");
        let page = store
            .usage_signals(&SignalFilter {
                key: Some(a),
                limit: 2,
                ..SignalFilter::default()
            })
            .expect("page");
        assert_eq!(page.len(), 2, "{backend}");
        assert!(page.iter().all(|s| s.key_id == a));
        assert_eq!(page[0].at, NOW.plus(40));
        let rest = store
            .usage_signals(&SignalFilter {
                key: Some(a),
                before: Some(page[1].seq),
                limit: 100,
                ..SignalFilter::default()
            })
            .expect("rest");
        assert_eq!(rest.len(), 3, "{backend}");
        let recent = store
            .usage_signals(&SignalFilter {
                since: Some(NOW.plus(30)),
                ..SignalFilter::default()
            })
            .expect("since");
        assert_eq!(recent.len(), 4, "{backend}");
        let all = store
            .usage_signals(&SignalFilter {
                limit: 1_000_000,
                ..SignalFilter::default()
            })
            .expect("all");
        assert_eq!(all.len(), 10, "{backend}: the limit is capped, not refused");
    });
}

/// Two stores (two processes' handles) save batches at once into one database; every
/// count is there exactly once.
#[test]
fn two_processes_saving_into_one_database_add_up_exactly() {
    on_both("usage_fleet", |backend, url| {
        let keys: Vec<KeyId> = ["AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC"]
            .into_iter()
            .map(id)
            .collect();
        let rounds = 25;
        let stores = [Arc::new(open(url)), Arc::new(open(url))];
        let threads: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(p, store)| {
                let store = Arc::clone(store);
                let keys = keys.clone();
                std::thread::spawn(move || {
                    for round in 0..rounds {
                        let mut batch = UsageBatch::default();
                        // Each process sees the keys in its own order.
                        let mut order = keys.clone();
                        if p == 1 {
                            order.reverse();
                        }
                        for key_id in order {
                            let at = NOW.secs() + round % 3 * HOUR;
                            batch.keys.push(KeyUsage {
                                key_id,
                                first_used: Some(Timestamp(at)),
                                last_used: Some(Timestamp(at + p as u64)),
                                hours: vec![hour(at, 1 + p as u64, 1, 0)],
                                networks: vec![net(&format!("10.{p}.{round}.0/24"))],
                            });
                        }
                        store.save_usage(&batch).expect("save");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("saver");
        }
        let h0 = NOW.secs() / HOUR * HOUR;
        for key_id in &keys {
            let history = stores[0].key_usage(key_id, Timestamp(0)).expect("read");
            let allowed: u64 = history.hours.iter().map(|h| h.allowed).sum();
            let wrong: u64 = history
                .hours
                .iter()
                .map(|h| h.denied(Denial::WrongSecret))
                .sum();
            assert_eq!(allowed, rounds * (1 + 2), "{backend}: {key_id}");
            assert_eq!(wrong, rounds * 2, "{backend}: {key_id}");
            assert_eq!(
                history
                    .hours
                    .iter()
                    .map(|h| h.hour.secs())
                    .collect::<Vec<_>>(),
                vec![h0, h0 + HOUR, h0 + 2 * HOUR]
            );
            assert_eq!(history.first_used, Some(NOW));
            assert_eq!(history.last_used, Some(NOW.plus(2 * HOUR + 1)));
            assert_eq!(history.networks.len(), 8, "{backend}: capped");
        }
    });
}

fn recorder() -> Arc<UsageRecorder> {
    Arc::new(
        UsageRecorder::new(UsageConfig {
            max_keys: 64,
            ..UsageConfig::default()
        })
        .expect("config"),
    )
}

/// A key used for weeks, then the process restarts: the new recorder, restored from the
/// store, knows the key's networks (no new-network signal for them) and its last use (a
/// use after a long pause is after dormancy); one that was not restored knows neither.
#[test]
fn a_restart_restores_first_and_last_use_and_networks() {
    on_both("usage_restore", |backend, url| {
        let store = open(url);
        let issued = common::checker().issue(&spec("k"), NOW).expect("issue");
        let key_id = issued.record.id();
        store.insert_key(&issued.record, NOW).expect("insert");
        let header = format!("Bearer {}", issued.key.expose());
        let known: std::net::IpAddr = "203.0.113.9".parse().expect("addr");
        let first = recorder();
        let checker = common::checker().with_usage(Arc::clone(&first));
        let request = Request::new("GET", "/v1/claims")
            .authorization(&header)
            .https(true)
            .client(known);
        assert!(checker.check(&request, &store, NOW).allowed());
        assert!(checker.check(&request, &store, NOW.plus(8 * DAY)).allowed());
        store.drain_usage(&first, NOW.plus(8 * DAY)).expect("drain");

        // Forty days later, in a new process.
        let later = NOW.plus(48 * DAY);
        let warnings = |recorder: &Arc<UsageRecorder>, addr: &str| {
            let checker = common::checker().with_usage(Arc::clone(recorder));
            let request = Request::new("GET", "/v1/claims")
                .authorization(&header)
                .https(true)
                .client(addr.parse().expect("addr"));
            let decision = checker.check(&request, &store, later);
            assert!(decision.allowed());
            (
                decision.warnings().contains(Warning::NewNetwork),
                decision.warnings().contains(Warning::AfterDormancy),
            )
        };
        let restored = recorder();
        assert_eq!(
            store.restore_usage(&restored).expect("restore"),
            1,
            "{backend}"
        );
        assert_eq!(
            warnings(&restored, "203.0.113.77"),
            (false, true),
            "{backend}"
        );
        assert_eq!(
            warnings(&restored, "198.51.100.1"),
            (true, false),
            "{backend}"
        );
        // Without the restore: a key seen for the first time, learning, nothing to say.
        assert_eq!(
            warnings(&recorder(), "198.51.100.1"),
            (false, false),
            "{backend}"
        );
        // Restoring named keys does the same.
        let named = recorder();
        assert_eq!(
            store.restore_key_usage(&named, &[key_id]).expect("named"),
            1
        );
        assert_eq!(warnings(&named, "203.0.113.77"), (false, true), "{backend}");
        assert_eq!(
            store
                .restore_key_usage(&recorder(), &[id("CCCCCCCCCCCCCCCC")])
                .expect("unknown"),
            0
        );
    });
}

#[test]
fn counts_and_signals_older_than_the_usage_window_are_pruned() {
    on_both("usage_retention", |backend, url| {
        let store = open(url);
        let now = Timestamp::now().secs();
        let a = id("AAAAAAAAAAAAAAAA");
        let old = now - 91 * DAY;
        let mut batch = UsageBatch::default();
        batch.keys.push(KeyUsage {
            key_id: a,
            first_used: Some(Timestamp(old)),
            last_used: Some(Timestamp(now - HOUR)),
            hours: vec![
                hour(old, 1, 0, 0),
                hour(old + HOUR, 1, 0, 0),
                hour(now - HOUR, 4, 0, 0),
            ],
            networks: vec![],
        });
        for at in [old, now - HOUR] {
            batch.signals.push(Signal {
                key_id: a,
                at: Timestamp(at),
                kind: SignalKind::RotationDue,
            });
        }
        store.save_usage(&batch).expect("save");
        let pruned = store.prune().expect("prune");
        assert_eq!(
            (pruned.usage_hours, pruned.usage_signals),
            (2, 1),
            "{backend}"
        );
        let history = store.key_usage(&a, Timestamp(0)).expect("read");
        assert_eq!(history.hours, vec![hour(now - HOUR, 4, 0, 0)], "{backend}");
        assert_eq!(history.signals.len(), 1, "{backend}");
        // First and last use outlive the window.
        assert_eq!(history.first_used, Some(Timestamp(old)), "{backend}");
        let again = store.prune().expect("prune again");
        assert_eq!((again.usage_hours, again.usage_signals), (0, 0));
    });
}

/// Every text and number of the usage tables, as one string.
fn usage_rows(store_url: &str, pg: Option<(&Pg, &str)>) -> String {
    let queries = [
        "SELECT key_id || ' ' || COALESCE(CAST(first_used AS TEXT), '') || ' ' || COALESCE(CAST(last_used AS TEXT), '') || ' ' || networks FROM key_usage",
        "SELECT key_id || ' ' || CAST(hour AS TEXT) || ' ' || CAST(allowed AS TEXT) || ' ' || CAST(wrong_secret AS TEXT) FROM key_usage_hours",
        "SELECT key_id || ' ' || CAST(at AS TEXT) || ' ' || kind || ' ' || details FROM usage_signals",
    ];
    let mut out = String::new();
    match pg {
        None => {
            let path = store_url.trim_start_matches("sqlite:");
            let conn = rusqlite::Connection::open(path).expect("open");
            for q in queries {
                let mut stmt = conn.prepare(q).expect("prepare");
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .expect("query");
                for row in rows {
                    out.push_str(&row.expect("row"));
                    out.push('\n');
                }
            }
        }
        Some((pg, db)) => {
            let mut client =
                postgres::Client::connect(&pg.url(db), postgres::NoTls).expect("connect");
            for q in queries {
                for row in client.query(q, &[]).expect("query") {
                    out.push_str(&row.get::<_, String>(0));
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[test]
fn no_usage_row_holds_a_secret() {
    let check = |url: &str, pg: Option<(&Pg, &str)>| {
        let store = open(url);
        let issued = common::checker().issue(&spec("k"), NOW).expect("issue");
        store.insert_key(&issued.record, NOW).expect("insert");
        let key = issued.key.expose().to_owned();
        let recorder = recorder();
        let checker = common::checker().with_usage(Arc::clone(&recorder));
        let client: std::net::IpAddr = "203.0.113.9".parse().expect("addr");
        // Wrong secrets, as the checker records them (a forged key needs a valid checksum).
        for i in 0..12 {
            recorder.record(
                &issued.record.id(),
                Use::Denied(Denial::WrongSecret),
                Default::default(),
                Some(client),
                NOW.plus(i),
            );
        }
        let header = format!("Bearer {key}");
        let request = Request::new("GET", "/v1/claims")
            .authorization(&header)
            .https(true)
            .client(client);
        assert!(checker.check(&request, &store, NOW.plus(20)).allowed());
        let batch = store.drain_usage(&recorder, NOW.plus(60)).expect("drain");
        assert!(!batch.signals.is_empty(), "a wrong-secret burst was raised");
        let rows = usage_rows(url, pg);
        assert!(rows.contains(issued.record.id().as_str()), "{rows}");
        // The secret part: everything after the id.
        let secret = &key[key.len() - 30..];
        assert!(!rows.contains(secret), "secret in usage rows: {rows}");
        let hash = issued.record.to_json();
        assert!(!rows.contains("hash") && !hash.is_empty());
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("s.sqlite3").display());
    check(&url, None);
    if let Some(pg) = Pg::start() {
        let url = pg.database("usage_secret");
        check(&url, Some((&pg, "usage_secret")));
    }
}

/// Credits counted in memory, then a restart: the new process's limits are given back
/// what the key spent this month (from the saved usage), so they are not spent twice.
#[test]
fn a_restart_restores_the_credits_spent_this_period() {
    use portcullis::limit::{LocalLimits, MonotonicClock};
    on_both("usage_credits", |backend, url| {
        let store = open(url);
        let mut with_credits = spec("credits");
        let credits = serde_json::json!({"amount": 5, "refill": "monthly"});
        with_credits.metadata.insert("credits".into(), credits);
        let issued = common::checker().issue(&with_credits, NOW).expect("issue");
        store.insert_key(&issued.record, NOW).expect("insert");
        let key = issued.key.expose().to_owned();
        let process = |limits: Arc<LocalLimits<MonotonicClock>>| {
            common::checker().with_usage(recorder()).with_limits(limits)
        };
        let first_limits = Arc::new(LocalLimits::new(64).expect("limits"));
        let first = process(first_limits);
        let statuses: Vec<u16> = (0..3)
            .map(|_| common::status(&first, &store, &key))
            .collect();
        assert_eq!(statuses, [200, 200, 200], "{backend}");
        let usage = first.usage().expect("recorder");
        store.drain_usage(usage, NOW).expect("drain");
        // A new process: restored, it has two credits left, not five.
        let limits = Arc::new(LocalLimits::new(64).expect("limits"));
        assert_eq!(
            store.restore_credits(&limits, NOW).expect("restore"),
            1,
            "{backend}"
        );
        let second = process(limits);
        let statuses: Vec<u16> = (0..3)
            .map(|_| common::status(&second, &store, &key))
            .collect();
        assert_eq!(statuses, [200, 200, 429], "{backend}");
    });
}
