//! Several processes on one store at once: nothing is lost.

mod common;

use common::Sandbox;
use std::collections::BTreeSet;
use std::sync::Arc;

const PER_WORKER: usize = 12;

#[test]
fn two_processes_creating_and_revoking_lose_nothing() {
    let s = Arc::new(Sandbox::initialised());
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..PER_WORKER {
                    let name = format!("worker {w} key {i}");
                    ids.push(s.create(&name, "claims:read").1);
                    // revoke every other key while the other process keeps writing
                    if i % 2 == 1 {
                        let id = ids[i - 1].clone();
                        let v = s.json(0, &["keys", "revoke", &id]);
                        assert_eq!(v["record"]["status"], "revoked");
                    }
                }
                ids
            })
        })
        .collect();
    let mut created = BTreeSet::new();
    let mut revoked = BTreeSet::new();
    for worker in workers {
        let ids = worker.join().expect("worker");
        for (i, id) in ids.into_iter().enumerate() {
            if i % 2 == 0 {
                revoked.insert(id.clone());
            }
            created.insert(id);
        }
    }
    assert_eq!(created.len(), 2 * PER_WORKER, "ids are unique");

    let list = s.json(0, &["keys", "list"]);
    let records = list["records"].as_array().expect("records");
    let listed: BTreeSet<String> = records
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed, created, "every created key is stored");
    let listed_revoked: BTreeSet<String> = records
        .iter()
        .filter(|r| r["status"] == "revoked")
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed_revoked, revoked, "every revocation is stored");
}

#[test]
fn concurrent_rotations_of_one_key_issue_one_successor_each() {
    let s = Arc::new(Sandbox::initialised());
    let (_, id) = s.create("Shared", "claims:read");
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let s = Arc::clone(&s);
            let id = id.clone();
            std::thread::spawn(move || s.json(0, &["keys", "rotate", &id, "--grace", "1d"]))
        })
        .collect();
    for w in workers {
        let v = w.join().expect("worker");
        assert_eq!(v["record"]["rotated_from"], id.as_str());
    }
    let list = s.json(0, &["keys", "list"]);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(3));

    let peppers: Vec<_> = (0..2)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.json(0, &["pepper", "rotate"]))
        })
        .collect();
    let mut primaries: Vec<String> = peppers
        .into_iter()
        .map(|p| {
            p.join().expect("rotate")["primary"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    primaries.sort();
    assert_eq!(primaries, ["p2", "p3"], "pepper rotations are serialised");
}

#[test]
fn a_store_locked_too_long_is_a_clear_error() {
    let s = Sandbox::initialised();
    let mut conn = rusqlite::Connection::open(s.store().join("keys.sqlite3")).expect("open store");
    let lock = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("hold the write lock");
    let v = s.json(
        4,
        &[
            "--busy-timeout",
            "0",
            "keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "claims:read",
        ],
    );
    assert_eq!(v["error"]["code"], "store_busy");
    // readers are not blocked by a writer
    assert_eq!(
        s.json(0, &["--busy-timeout", "0", "keys", "list"])["records"],
        serde_json::json!([])
    );
    lock.rollback().expect("release");
    s.create("after the lock", "claims:read");
}
