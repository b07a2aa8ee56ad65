//! Two stores on one PostgreSQL database, as two processes of a fleet: revocations reach the
//! other within milliseconds (NOTIFY), and when the database goes away the other fails
//! closed within the staleness bound and recovers after a restart.
//!
//! The propagation figures print with `--nocapture`:
//! `cargo test -p portcullis-store --release --test fleet -- --nocapture`.

mod common;

use common::pg::Pg;
use common::{NOW, checker, spec, status};
use portcullis::oauth::{AccessClaims, AccessKeys, AccessVerifier, RefreshStore, TokenError};
use portcullis::{KeyId, ScopeSet, Timestamp};
use portcullis_store::{Options, Store};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Waits (≤ 5 s) in another thread until `refused` holds for each item sent, and returns
/// the delay from the moment before the write.
fn measure<T: Send + Sync + 'static>(
    items: Vec<T>,
    write: impl Fn(&T),
    refused: impl Fn(&T) -> bool + Send + 'static,
) -> Vec<Duration> {
    let (tx, rx) = mpsc::channel::<(usize, Instant)>();
    let (done_tx, done_rx) = mpsc::channel::<Duration>();
    let items = Arc::new(items);
    let watched = Arc::clone(&items);
    let watcher = std::thread::spawn(move || {
        for (i, t0) in rx {
            while !refused(&watched[i]) {
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "item {i} never refused"
                );
                std::thread::sleep(Duration::from_micros(100));
            }
            done_tx.send(t0.elapsed()).expect("send");
        }
    });
    let mut delays = Vec::with_capacity(items.len());
    for i in 0..items.len() {
        let t0 = Instant::now();
        write(&items[i]);
        tx.send((i, t0)).expect("send");
        delays.push(done_rx.recv().expect("watcher"));
    }
    drop(tx);
    watcher.join().expect("watcher");
    delays.sort();
    delays
}

fn report(what: &str, delays: &[Duration]) -> Duration {
    let p99 = percentile(delays, 0.99);
    println!(
        "propagation of {} {what}: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        percentile(delays, 0.5),
        percentile(delays, 0.9),
        p99,
        delays[delays.len() - 1]
    );
    p99
}

#[test]
fn revocations_reach_another_store_within_100_ms() {
    let Some(pg) = Pg::start() else { return };
    let url = pg.database("fleet");
    let a = Store::open(&url).expect("a");
    let b = Arc::new(Store::open(&url).expect("b"));
    let c = Arc::new(checker());
    let keys: Vec<(KeyId, String)> = (0..200)
        .map(|i| {
            let issued = c.issue(&spec(&format!("k{i}")), NOW).expect("issue");
            a.insert_key(&issued.record, NOW).expect("insert");
            (issued.record.id(), issued.key.expose().to_owned())
        })
        .collect();
    for (_, key) in &keys {
        assert_eq!(status(&c, &b, key), 200, "cached in b");
    }
    let (bc, cc) = (Arc::clone(&b), Arc::clone(&c));
    let delays = measure(
        keys,
        |(id, _)| {
            a.revoke_key(id, NOW).expect("revoke");
        },
        move |(_, key)| status(&cc, &bc, key) == 401,
    );
    let keys_p99 = report("key revocations", &delays);

    let families: Vec<KeyId> = (0..50)
        .map(|i| KeyId::parse(&format!("F{i:0>15}")).expect("family"))
        .collect();
    let bf = Arc::clone(&b);
    let delays = measure(
        families,
        |f| a.revoke_family(f, NOW).expect("revoke family"),
        move |f| bf.revocations().is_family_revoked(f),
    );
    let families_p99 = report("OAuth family revocations", &delays);
    assert!(
        keys_p99 <= Duration::from_millis(100),
        "key p99 {keys_p99:?}"
    );
    assert!(
        families_p99 <= Duration::from_millis(100),
        "family p99 {families_p99:?}"
    );
}

#[test]
fn a_stopped_database_fails_closed_within_the_bound_and_recovers() {
    let Some(pg) = Pg::start() else { return };
    let url = pg.database("faults");
    let bound = Duration::from_millis(500);
    let options = Options {
        staleness: bound,
        connect_timeout: Duration::from_secs(1),
        reconnect_every: Duration::from_millis(50),
        ..Options::default()
    };
    let a = Store::open_with(&url, options).expect("a");
    let b = Store::open_with(&url, options).expect("b");
    let c = checker();
    let revoked = c.issue(&spec("revoked"), NOW).expect("issue");
    let live = c.issue(&spec("live"), NOW).expect("issue");
    for k in [&revoked, &live] {
        a.insert_key(&k.record, NOW).expect("insert");
        assert_eq!(status(&c, &b, k.key.expose()), 200);
    }
    a.revoke_key(&revoked.record.id(), NOW).expect("revoke");
    let start = Instant::now();
    while status(&c, &b, revoked.key.expose()) != 401 {
        assert!(start.elapsed() < Duration::from_secs(2), "not propagated");
    }

    // Once b has applied every change, both records are cached.
    while b.feed_status().last_seq < 3 {
        assert!(start.elapsed() < Duration::from_secs(2), "feed behind");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(status(&c, &b, revoked.key.expose()), 401);
    assert_eq!(status(&c, &b, live.key.expose()), 200);
    assert_eq!(b.cache_sizes().0, 2);
    // An access-token verifier attached to b fails closed with it.
    let keys = AccessKeys::new("k1", &[9u8; 32]).expect("access key");
    let claims = AccessClaims {
        subject: "user_7".into(),
        client_id: "webapp".into(),
        scopes: ScopeSet::EMPTY,
        issued_at: NOW,
        expires_at: Timestamp(NOW.0 + 3600),
        token_id: KeyId::parse("T0k3nId000000001").expect("id"),
        family: KeyId::parse("Fam1ly0000000001").expect("id"),
    };
    let token = keys.sign(&claims, c.policy().catalog());
    let verifier = Arc::new(AccessVerifier::new(keys, c.policy().catalog()));
    b.attach(verifier.clone()).expect("attach");
    let verify = || verifier.verify(token.expose().as_bytes(), NOW);
    assert!(verify().is_ok());

    pg.stop();
    let stopped = Instant::now();
    let mut served_from_cache = false;
    let mut first_503 = None;
    while stopped.elapsed() < bound * 3 {
        let r = status(&c, &b, revoked.key.expose());
        assert_ne!(r, 200, "a key revoked before the stop is never allowed");
        let l = status(&c, &b, live.key.expose());
        match (l, first_503) {
            (503, None) => first_503 = Some(stopped.elapsed()),
            (200, Some(_)) => panic!("allowed again while the database is down"),
            (200, None) => served_from_cache = true,
            (503, Some(_)) => {}
            (other, _) => panic!("unexpected status {other}"),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(verify(), Err(TokenError::RevocationsStale), "tokens too");
    let first_503 = first_503.expect("decisions became 503");
    println!("first 503 after the stop: {first_503:?} (bound {bound:?})");
    assert!(
        first_503 <= bound + Duration::from_millis(300),
        "{first_503:?}"
    );
    assert!(
        served_from_cache,
        "the fresh cache answered until the bound"
    );
    assert!(!b.is_fresh());

    pg.start_again();
    let restarted = Instant::now();
    while status(&c, &b, live.key.expose()) != 200 {
        assert!(restarted.elapsed() < Duration::from_secs(10), "no recovery");
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("recovered {:?} after the restart", restarted.elapsed());
    while verify().is_err() {
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "tokens stay refused"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(status(&c, &b, revoked.key.expose()), 401);
    // Writes after the restart reach b again.
    while a.revoke_key(&live.record.id(), NOW).is_err() {
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "a cannot write"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = Instant::now();
    while status(&c, &b, live.key.expose()) != 401 {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "not propagated after the restart"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(b.is_fresh());
}
