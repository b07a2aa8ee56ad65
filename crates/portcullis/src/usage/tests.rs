use super::*;
use std::sync::Arc;

const H: u64 = 3_600;
const T0: u64 = 1_800_000_000; // 500,000 hours exactly

fn id(n: u32) -> KeyId {
    KeyId::parse(&format!("usagekey{n:08}")).expect("test input")
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().expect("test input"))
}

fn recorder(f: impl FnOnce(&mut UsageConfig)) -> UsageRecorder {
    let mut config = UsageConfig {
        max_keys: 64,
        ..UsageConfig::default()
    };
    f(&mut config);
    UsageRecorder::new(config).expect("test input")
}

fn allow(r: &UsageRecorder, k: u32, at: u64, client: Option<IpAddr>) -> Warnings {
    r.record(
        &id(k),
        Use::Allowed,
        Warnings::default(),
        client,
        Timestamp(at),
    )
}

fn deny(r: &UsageRecorder, k: u32, d: Denial, at: u64) {
    r.record(
        &id(k),
        Use::Denied(d),
        Warnings::default(),
        None,
        Timestamp(at),
    );
}

fn kinds(batch: &UsageBatch) -> Vec<&'static str> {
    batch.signals.iter().map(|s| s.kind.code()).collect()
}

#[test]
fn counts_per_hour_first_and_last_use() {
    let r = recorder(|_| {});
    allow(&r, 1, T0 + 10, None);
    allow(&r, 1, T0 + 20, None);
    deny(&r, 1, Denial::WrongSecret, T0 + 30);
    allow(&r, 1, T0 + H + 5, None);
    deny(&r, 2, Denial::Revoked, T0 + 40);
    let batch = r.drain(Timestamp(T0 + H + 10));
    assert_eq!(batch.keys.len(), 2);
    let k1 = &batch.keys[0];
    assert_eq!(k1.key_id, id(1));
    assert_eq!(k1.first_used, Some(Timestamp(T0 + 10)));
    assert_eq!(k1.last_used, Some(Timestamp(T0 + H + 5)));
    assert_eq!(k1.hours.len(), 2);
    assert_eq!((k1.hours[0].hour, k1.hours[0].allowed), (Timestamp(T0), 2));
    assert_eq!(k1.hours[0].denied(Denial::WrongSecret), 1);
    assert_eq!(
        (k1.hours[1].hour, k1.hours[1].allowed),
        (Timestamp(T0 + H), 1)
    );
    // A wrong secret is counted but does not make the key used.
    let k2 = &batch.keys[1];
    assert_eq!((k2.first_used, k2.last_used), (None, None));
    assert_eq!(k2.hours[0].denied(Denial::Revoked), 1);
    // Drained counts are gone; the next drain has only what came after.
    assert_eq!(r.drain(Timestamp(T0 + H + 20)).keys, vec![]);
    allow(&r, 1, T0 + H + 30, None);
    let again = r.drain(Timestamp(T0 + H + 40));
    assert_eq!(again.keys[0].hours[0].allowed, 1);
}

#[test]
fn counts_from_many_threads_add_up() {
    let r = Arc::new(recorder(|_| {}));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = r.clone();
            std::thread::spawn(move || {
                for n in 0..10_000u64 {
                    allow(&r, 7, T0 + n % 100, None);
                    if n % 100 == 0 {
                        deny(&r, t + 10, Denial::Expired, T0);
                    }
                }
            })
        })
        .collect();
    let mut total = 0;
    let mut drained = UsageBatch::default();
    while !threads.iter().all(|t| t.is_finished()) {
        let b = r.drain(Timestamp(T0));
        total += b
            .keys
            .iter()
            .find(|k| k.key_id == id(7))
            .map_or(0, |k| k.hours[0].allowed);
        drained.keys.extend(b.keys);
    }
    for t in threads {
        t.join().expect("test input");
    }
    let b = r.drain(Timestamp(T0));
    total += b
        .keys
        .iter()
        .find(|k| k.key_id == id(7))
        .map_or(0, |k| k.hours[0].allowed);
    drained.keys.extend(b.keys);
    assert_eq!(total, 40_000);
    let expired: u64 = drained
        .keys
        .iter()
        .filter(|k| k.key_id != id(7))
        .map(|k| k.hours[0].denied(Denial::Expired))
        .sum();
    assert_eq!(expired, 400);
}

#[test]
fn new_network_after_learning_only() {
    let r = recorder(|c| c.learning = 1_000);
    assert!(allow(&r, 1, T0, ip("203.0.113.5")).is_empty());
    // Learning: a second network is learnt silently.
    assert!(allow(&r, 1, T0 + 500, ip("198.51.100.7")).is_empty());
    // Known networks stay quiet after learning, whatever the host part.
    assert!(allow(&r, 1, T0 + 2_000, ip("203.0.113.200")).is_empty());
    assert!(allow(&r, 1, T0 + 2_001, None).is_empty());
    let quiet = r.drain(Timestamp(T0 + 2_002));
    assert_eq!(kinds(&quiet), Vec::<&str>::new());
    assert_eq!(quiet.keys[0].networks.len(), 2);
    // A new one fires once, as a signal and a warning.
    let w = allow(&r, 1, T0 + 3_000, ip("2001:db8:9::1"));
    assert!(w.contains(Warning::NewNetwork));
    assert!(allow(&r, 1, T0 + 3_001, ip("2001:db8:9:1::2")).is_empty());
    let batch = r.drain(Timestamp(T0 + 3_002));
    assert_eq!(kinds(&batch), ["new_network"]);
    assert_eq!(
        batch.signals[0].kind,
        SignalKind::NewNetwork {
            network: Network::parse("2001:db8:9::/48").expect("test input")
        }
    );
    assert_eq!(batch.signals[0].at, Timestamp(T0 + 3_000));
    // Denied guesses from anywhere teach nothing and raise nothing.
    deny(&r, 1, Denial::WrongSecret, T0 + 3_100);
    assert!(kinds(&r.drain(Timestamp(T0 + 3_200))).is_empty());
}

#[test]
fn dormancy_fires_on_the_use_after_a_long_idle_time() {
    let r = recorder(|c| c.dormancy = 10 * DAY);
    allow(&r, 1, T0, None);
    assert!(allow(&r, 1, T0 + 9 * DAY, None).is_empty());
    assert!(kinds(&r.drain(Timestamp(T0 + 9 * DAY))).is_empty());
    let w = allow(&r, 1, T0 + 19 * DAY + 1, None);
    assert!(w.contains(Warning::AfterDormancy));
    let batch = r.drain(Timestamp(T0 + 20 * DAY));
    assert_eq!(
        batch.signals[0].kind,
        SignalKind::AfterDormancy {
            last_used: Timestamp(T0 + 9 * DAY)
        }
    );
}

#[test]
fn wrong_secret_burst_fires_once_per_window() {
    let r = recorder(|c| {
        c.burst_threshold = 5;
        c.burst_window = 60;
    });
    // Spread out: never five within a minute.
    for n in 0..10 {
        deny(&r, 1, Denial::WrongSecret, T0 + n * 20);
    }
    assert!(kinds(&r.drain(Timestamp(T0 + 300))).is_empty());
    for n in 0..8 {
        deny(&r, 1, Denial::WrongSecret, T0 + 1_000 + n);
    }
    let batch = r.drain(Timestamp(T0 + 1_010));
    assert_eq!(kinds(&batch), ["wrong_secret_burst"]);
    assert_eq!(
        batch.signals[0].kind,
        SignalKind::WrongSecretBurst {
            attempts: 8,
            since: Timestamp(T0 + 1_000)
        }
    );
    assert_eq!(batch.signals[0].at, Timestamp(T0 + 1_004));
}

#[test]
fn rotation_due_once_a_day() {
    let r = recorder(|_| {});
    let mut due = Warnings::default();
    due.insert(Warning::RotationDue);
    for n in 0..5 {
        r.record(&id(1), Use::Allowed, due, None, Timestamp(T0 + n));
    }
    r.record(
        &id(2),
        Use::Allowed,
        Warnings::default(),
        None,
        Timestamp(T0),
    );
    assert_eq!(kinds(&r.drain(Timestamp(T0 + 10))), ["rotation_due"]);
    r.record(&id(1), Use::Allowed, due, None, Timestamp(T0 + 100));
    assert!(kinds(&r.drain(Timestamp(T0 + 200))).is_empty());
    deny(&r, 1, Denial::MaxAgeExceeded, T0 + DAY);
    assert_eq!(kinds(&r.drain(Timestamp(T0 + DAY))), ["rotation_due"]);
}

#[test]
fn volume_needs_history_and_a_minimum() {
    let r = recorder(|c| {
        c.baseline_hours = 3;
        c.volume_factor = 5.0;
        c.volume_min_count = 50;
    });
    let hour = |h: u64, n: u64| {
        for i in 0..n {
            allow(&r, 1, T0 + h * H + i % H, None);
        }
        kinds(&r.drain(Timestamp(T0 + h * H + H - 1)))
    };
    // No history yet: a busy first hour is not an alarm.
    assert!(hour(0, 200).is_empty());
    // Steady traffic builds the baseline.
    for h in 1..6 {
        assert!(hour(h, 20).is_empty(), "hour {h}");
    }
    // Ten times the baseline: an alarm, once per hour even if drained twice.
    assert_eq!(hour(6, 150), ["volume"]);
    assert!(hour(6, 50).is_empty());
    // A quiet key's jump below the minimum count is not one.
    let q = recorder(|c| {
        c.baseline_hours = 3;
        c.volume_min_count = 50;
    });
    for h in 0..6 {
        for _ in 0..2 {
            allow(&q, 2, T0 + h * H, None);
        }
        q.drain(Timestamp(T0 + h * H));
    }
    for _ in 0..40 {
        allow(&q, 2, T0 + 6 * H, None);
    }
    assert!(kinds(&q.drain(Timestamp(T0 + 6 * H))).is_empty());
}

#[test]
fn full_table_drops_then_evicts_least_recent() {
    let r = recorder(|c| c.max_keys = 16);
    for k in 0..20 {
        allow(&r, k, T0 + u64::from(k), None);
    }
    assert_eq!(r.stats().keys, 16);
    let batch = r.drain(Timestamp(T0 + 100));
    assert_eq!(batch.dropped, 4);
    assert_eq!(batch.keys.len(), 16);
    // Evicted down to three quarters, oldest first; the newest are kept.
    assert_eq!(r.stats().keys, 12);
    assert_eq!(r.stats().evicted, 4);
    allow(&r, 15, T0 + 200, None);
    allow(&r, 0, T0 + 200, None);
    let after = r.drain(Timestamp(T0 + 300));
    let k15 = after
        .keys
        .iter()
        .find(|k| k.key_id == id(15))
        .expect("test input");
    assert_eq!(k15.first_used, Some(Timestamp(T0 + 15)));
    let k0 = after
        .keys
        .iter()
        .find(|k| k.key_id == id(0))
        .expect("test input");
    assert_eq!(
        k0.first_used,
        Some(Timestamp(T0 + 200)),
        "key 0 was evicted"
    );
}

#[test]
fn restore_carries_history_across_a_restart() {
    let r = recorder(|c| {
        c.learning = 100;
        c.dormancy = 1_000;
    });
    let home = Network::parse("203.0.113.0/24").expect("test input");
    assert!(r.restore(
        &id(1),
        Some(Timestamp(T0)),
        Some(Timestamp(T0 + 10)),
        &[home]
    ));
    assert!(allow(&r, 1, T0 + 500, ip("203.0.113.9")).is_empty());
    let w = allow(&r, 1, T0 + 2_000, ip("192.0.2.1"));
    assert!(w.contains(Warning::NewNetwork) && w.contains(Warning::AfterDormancy));
    let batch = r.drain(Timestamp(T0 + 2_001));
    assert_eq!(batch.keys[0].first_used, Some(Timestamp(T0)));
}

#[test]
fn config_is_validated() {
    let bad = |f: fn(&mut UsageConfig)| {
        let mut c = UsageConfig::default();
        f(&mut c);
        UsageRecorder::new(c)
            .expect_err("an invalid setting")
            .code()
    };
    assert_eq!(bad(|c| c.max_keys = 0), "bad_max_keys");
    assert_eq!(bad(|c| c.max_keys = MAX_TRACKED_KEYS + 1), "bad_max_keys");
    assert_eq!(bad(|c| c.burst_threshold = 0), "bad_burst_threshold");
    assert_eq!(bad(|c| c.volume_factor = f64::NAN), "bad_volume_factor");
    assert_eq!(bad(|c| c.volume_factor = 0.5), "bad_volume_factor");
    assert_eq!(bad(|c| c.baseline_hours = 0), "bad_baseline_hours");
}

#[test]
fn uses_map_from_reasons_and_codes() {
    assert_eq!(Use::of(Reason::Allowed), Some(Use::Allowed));
    assert_eq!(Use::of(Reason::UnknownKey), None);
    assert_eq!(Use::of(Reason::LookupFailed), None);
    assert_eq!(
        Use::of(Reason::CorruptRecord),
        Some(Use::Denied(Denial::Other))
    );
    for d in Denial::ALL {
        let expect = (d != Denial::Other).then_some(Use::Denied(d));
        assert_eq!(Use::from_code(d.code()), expect);
    }
    assert_eq!(Use::from_code("unknown_key"), None);
    assert_eq!(
        Use::from_code("legacy_hash_refused"),
        Some(Use::Denied(Denial::Other))
    );
}

#[test]
fn memory_is_allocated_once_and_reported() {
    let small = recorder(|c| c.max_keys = 1_000).stats().bytes;
    let large = recorder(|c| c.max_keys = 10_000).stats().bytes;
    // Proportional to the bound (slots are a power of two above 4/3 of it).
    assert!(large >= 8 * small && large < 20 * small, "{small} {large}");
    let per_key = large / 10_000;
    println!("usage recorder: {large} bytes for 10,000 keys ({per_key} per key)");
    assert!(per_key < 1_500, "{per_key} bytes per key");
}
