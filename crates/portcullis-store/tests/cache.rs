//! The cached lookup: hits answered from memory, misses read through, unknown ids
//! remembered briefly and in bounded number, and changes carried between two stores on one
//! SQLite file by the polled change sequence.

mod common;

use common::{NOW, checker, spec, status};
use portcullis::{KeyId, KeyLookup};
use portcullis_store::{CacheConfig, Options, Store};
use std::time::{Duration, Instant};

fn sqlite(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    let path = dir.path().join("s.sqlite3");
    (format!("sqlite:{}", path.display()), path)
}

/// Runs SQL on the file behind the store's back (no change is published).
fn behind(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path)
        .and_then(|c| c.execute_batch(sql))
        .expect("sql");
}

#[test]
fn a_hit_is_answered_from_memory_and_a_miss_reads_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, path) = sqlite(&dir);
    let store = Store::open(&url).expect("open");
    let c = checker();
    let issued = c.issue(&spec("k"), NOW).expect("issue");
    let id = issued.record.id();
    // Written by another process: the first lookup reads it from the database.
    let writer = Store::open(&url).expect("writer");
    writer.insert_key(&issued.record, NOW).expect("insert");
    // After the feed applied the insert's change (an invalidation), a lookup caches it.
    let start = Instant::now();
    while store.feed_status().last_seq < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the feed applied nothing"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(status(&c, &store, issued.key.expose()), 200);
    assert_eq!(store.cache_sizes().0, 1);
    behind(&path, "DELETE FROM keys");
    assert_eq!(
        status(&c, &store, issued.key.expose()),
        200,
        "a hit does not read the database"
    );
    assert_eq!(store.lookup(&id).expect("lookup").map(|r| r.id()), Some(id));
}

#[test]
fn unknown_ids_are_remembered_briefly_and_in_bounded_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, path) = sqlite(&dir);
    let options = Options {
        cache: CacheConfig {
            absent_ttl: Duration::from_millis(300),
            max_absent: 10,
        },
        ..Options::default()
    };
    let store = Store::open_with(&url, options).expect("open");
    let c = checker();
    let issued = c.issue(&spec("k"), NOW).expect("issue");
    let id = issued.record.id();
    assert!(store.lookup(&id).expect("miss").is_none());
    // Inserted behind the store's back (no change published): the negative answer holds
    // until its TTL, then the row is read.
    let json = issued.record.to_json().replace('\'', "''");
    behind(
        &path,
        &format!(
            "INSERT INTO keys (id, name, owner, env, created_at, record) VALUES ('{id}', 'k', 'org_1', 'live', 0, '{json}')"
        ),
    );
    assert!(store.lookup(&id).expect("cached absent").is_none());
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(
        store.lookup(&id).expect("expired").map(|r| r.id()),
        Some(id)
    );

    for i in 0..500u32 {
        let unknown = KeyId::parse(&format!("U{i:0>15}")).expect("id");
        assert!(store.lookup(&unknown).expect("unknown").is_none());
        assert!(store.cache_sizes().1 <= 10, "{:?}", store.cache_sizes());
    }
}

#[test]
fn a_revocation_reaches_another_store_on_the_same_sqlite_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, _) = sqlite(&dir);
    let (a, b) = (Store::open(&url).expect("a"), Store::open(&url).expect("b"));
    let c = checker();
    let issued = c.issue(&spec("k"), NOW).expect("issue");
    a.insert_key(&issued.record, NOW).expect("insert");
    assert_eq!(status(&c, &b, issued.key.expose()), 200);
    let start = Instant::now();
    a.revoke_key(&issued.record.id(), NOW).expect("revoke");
    assert_eq!(
        status(&c, &a, issued.key.expose()),
        401,
        "at once in the writer"
    );
    while status(&c, &b, issued.key.expose()) == 200 {
        assert!(start.elapsed() < Duration::from_secs(2), "not propagated");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(b.feed_status().applied >= 1);
}
