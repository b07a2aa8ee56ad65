//! Bounded retention (issue #18), on SQLite and on PostgreSQL when a test server can be
//! started: pruning deletes old change rows, expired authorization codes and old revoked
//! families (with their refresh tokens) and keeps the rest; a process that missed pruned
//! changes resynchronises, so a key or family revoked while it was away is refused when it
//! comes back, never allowed from its stale cache.
//!
//! The "away" process is real: this binary runs itself as a worker (the `worker_process`
//! test does nothing unless `PORTCULLIS_RETENTION_WORKER` names a database), which is
//! suspended with SIGSTOP while another store revokes and prunes, then resumed.

mod common;

use common::pg::Pg;
use common::{NOW, checker, spec, status};
use portcullis::oauth::{
    AccessKeys, AccessVerifier, CodeRecord, CodeStore, Consumed, RefreshRecord, RefreshStore,
    TokenHash,
};
use portcullis::{KeyId, Timestamp};
use portcullis_store::{Options, Pruned, Store};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `f` on a fresh SQLite URL, then on a fresh PostgreSQL database when a server can
/// be started (skipped as the other tests of this folder skip).
fn on_both(name: &str, f: impl Fn(&str)) {
    let dir = tempfile::tempdir().expect("tempdir");
    f(&format!(
        "sqlite:{}",
        dir.path().join("r.sqlite3").display()
    ));
    if let Some(pg) = Pg::start() {
        f(&pg.database(name));
    }
}

/// Options that never prune on their own (the tests call `Store::prune`).
fn manual(keep_changes: u64) -> Options {
    Options {
        keep_changes,
        prune_every: Duration::from_secs(3_600),
        ..Options::default()
    }
}

/// A connection of the test's own to the same database, for what a store does not show.
enum Raw {
    Sqlite(rusqlite::Connection),
    Pg(Box<postgres::Client>),
}

impl Raw {
    fn open(url: &str) -> Raw {
        match url.strip_prefix("sqlite:") {
            Some(path) => Raw::Sqlite(rusqlite::Connection::open(path).expect("raw sqlite")),
            None => Raw::Pg(Box::new(
                postgres::Client::connect(url, postgres::NoTls).expect("raw postgres"),
            )),
        }
    }

    fn int(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(c) => c.query_row(sql, [], |r| r.get(0)).expect(sql),
            Raw::Pg(c) => c.query_one(sql, &[]).expect(sql).get(0),
        }
    }

    fn batch(&mut self, sql: &str) {
        match self {
            Raw::Sqlite(c) => c.execute_batch(sql).expect(sql),
            Raw::Pg(c) => c.batch_execute(sql).expect(sql),
        }
    }

    fn changes(&mut self) -> i64 {
        self.int("SELECT COUNT(*) FROM changes")
    }

    fn oldest(&mut self) -> i64 {
        self.int("SELECT COALESCE(MIN(seq), 0) FROM changes")
    }

    fn newest(&mut self) -> i64 {
        self.int("SELECT COALESCE(MAX(seq), 0) FROM changes")
    }
}

fn ago(secs: u64) -> Timestamp {
    Timestamp(Timestamp::now().secs().saturating_sub(secs))
}

fn family(n: u32) -> KeyId {
    KeyId::parse(&format!("Fam{n:0>13}")).expect("family id")
}

fn code(expires_at: Timestamp) -> CodeRecord {
    CodeRecord {
        client_id: "webapp".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_given: true,
        challenge: None,
        subject: "user_7".into(),
        scope: "claims:read".into(),
        scope_narrowed: false,
        family: family(0),
        issued_at: Timestamp(expires_at.secs().saturating_sub(600)),
        expires_at,
    }
}

fn refresh(family: KeyId) -> RefreshRecord {
    RefreshRecord {
        client_id: "webapp".into(),
        subject: "user_7".into(),
        scope: "claims:read".into(),
        family,
        family_started_at: ago(5_000),
        issued_at: ago(5_000),
        rotated_at: None,
    }
}

/// Waits (≤ 5 s) until the store's feed has applied `seq` and is fresh.
fn caught_up(store: &Store, seq: i64) -> bool {
    let t0 = Instant::now();
    loop {
        let s = store.feed_status();
        if s.last_seq >= seq && s.fresh {
            return true;
        }
        if t0.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn pruning_keeps_the_newest_changes_and_deletes_the_older_ones_in_batches() {
    on_both("changes", |url| {
        let store = Store::open_with(url, manual(5)).expect("open");
        let c = checker();
        let issued: Vec<_> = (0..12)
            .map(|i| {
                let k = c.issue(&spec(&format!("k{i}")), NOW).expect("issue");
                store.insert_key(&k.record, NOW).expect("insert");
                k
            })
            .collect();
        let mut raw = Raw::open(url);
        let newest = raw.newest();
        assert_eq!(raw.changes(), 12);
        let pruned = store.prune().expect("prune");
        assert_eq!(pruned.changes, 7, "{url}");
        assert_eq!(raw.changes(), 5);
        assert_eq!(raw.oldest(), newest - 4, "the newest five are kept");
        assert_eq!(store.prune().expect("again"), Pruned::default());
        // The data is not the changes: every key still verifies.
        for k in &issued {
            assert_eq!(status(&c, &store, k.key.expose()), 200);
        }

        // More than one batch (1,000 rows each) of old rows, down to the newest one.
        let bulk = if url.starts_with("sqlite:") {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
             INSERT INTO changes (kind, subject, at) SELECT 'key', 'not-an-id', 0 FROM n;"
        } else {
            "INSERT INTO changes (kind, subject, at)
             SELECT 'key', 'not-an-id', 0 FROM generate_series(1, 2500);"
        };
        raw.batch(bulk);
        let newest = raw.newest();
        let one = Store::open_with(url, manual(1)).expect("open keeping one");
        assert_eq!(one.prune().expect("prune").changes, 2_504);
        assert_eq!(raw.changes(), 1);
        assert_eq!(raw.oldest(), newest, "the newest row is always kept");
        // A store opened after pruning starts at the newest change and misses nothing.
        let later = Store::open_with(url, manual(1)).expect("open after");
        assert_eq!(later.feed_status().last_seq, newest);
        let extra = c.issue(&spec("extra"), NOW).expect("issue");
        store.insert_key(&extra.record, NOW).expect("insert");
        store
            .revoke_key(&issued[0].record.id(), NOW)
            .expect("revoke");
        assert!(caught_up(&later, newest + 2), "{url}");
        assert_eq!(later.feed_status().resyncs, 0, "no gap: no resync");
        assert_eq!(status(&c, &later, issued[0].key.expose()), 401);
    });
}

#[test]
fn expired_codes_are_pruned_after_the_margin_used_or_not() {
    on_both("codes", |url| {
        let options = Options {
            code_margin: Duration::from_secs(60),
            ..manual(100_000)
        };
        let store = Store::open_with(url, options).expect("open");
        let (unused, used, recent, live) = (
            TokenHash([1; 32]),
            TokenHash([2; 32]),
            TokenHash([3; 32]),
            TokenHash([4; 32]),
        );
        store.put_code(unused, code(ago(3_600))).expect("put");
        store.put_code(used, code(ago(3_600))).expect("put");
        assert!(matches!(
            store.consume_code(&used).expect("consume"),
            Consumed::First(_)
        ));
        // Expired 10 s ago: within the margin, kept.
        store.put_code(recent, code(ago(10))).expect("put");
        store
            .put_code(live, code(Timestamp::now().plus(600)))
            .expect("put");
        let pruned = store.prune().expect("prune");
        assert_eq!(pruned.codes, 2, "{url}");
        assert_eq!(store.code(&unused).expect("read"), None);
        assert_eq!(store.code(&used).expect("read"), None);
        assert!(store.code(&recent).expect("read").is_some());
        assert!(store.code(&live).expect("read").is_some());
        assert_eq!(store.prune().expect("again").codes, 0);
    });
}

#[test]
fn families_revoked_before_the_window_are_pruned_with_their_refresh_tokens() {
    on_both("families", |url| {
        let store = Store::open_with(url, manual(100_000)).expect("open");
        let window = Options::default().family_window.as_secs();
        let (old, recent, live) = (family(1), family(2), family(3));
        let tokens = [
            (TokenHash([11; 32]), old),
            (TokenHash([12; 32]), old),
            (TokenHash([13; 32]), recent),
            (TokenHash([14; 32]), live),
        ];
        for (hash, f) in tokens {
            store.put_refresh(hash, refresh(f)).expect("put refresh");
        }
        store
            .revoke_family(&old, ago(window + 60))
            .expect("revoke old");
        store
            .revoke_family(&recent, ago(10))
            .expect("revoke recent");
        let pruned = store.prune().expect("prune");
        assert_eq!(pruned.families, 1, "{url}");
        assert_eq!(pruned.refresh_tokens, 2, "{url}");
        // The old family's tokens are gone: none can be used, as while it was listed.
        assert_eq!(store.refresh(&tokens[0].0).expect("read"), None);
        assert_eq!(store.refresh(&tokens[1].0).expect("read"), None);
        assert!(!store.is_family_revoked(&old).expect("read"));
        // The recent revocation and the live family are untouched.
        assert!(store.is_family_revoked(&recent).expect("read"));
        assert!(store.refresh(&tokens[2].0).expect("read").is_some());
        assert!(store.refresh(&tokens[3].0).expect("read").is_some());
        assert!(!store.is_family_revoked(&live).expect("read"));
        assert_eq!(store.prune().expect("again"), Pruned::default());
    });
}

#[test]
fn the_feed_prunes_on_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("r.sqlite3").display());
    let options = Options {
        keep_changes: 3,
        prune_every: Duration::from_millis(10),
        ..Options::default()
    };
    let store = Store::open_with(&url, options).expect("open");
    let c = checker();
    for i in 0..10 {
        let k = c.issue(&spec(&format!("k{i}")), NOW).expect("issue");
        store.insert_key(&k.record, NOW).expect("insert");
    }
    let mut raw = Raw::open(&url);
    let t0 = Instant::now();
    while raw.changes() != 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the feed never pruned"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A hole in the sequence (a write rolled back after taking its number) is not a gap:
/// the feed reads past it without resynchronising.
#[test]
fn a_hole_in_the_sequence_is_not_taken_for_pruned_changes() {
    on_both("holes", |url| {
        let store = Store::open_with(url, manual(100_000)).expect("open");
        let c = checker();
        let k = c.issue(&spec("k"), NOW).expect("issue");
        store.insert_key(&k.record, NOW).expect("insert");
        let mut raw = Raw::open(url);
        let skipped = raw.newest() + 5;
        raw.batch(&format!(
            "INSERT INTO changes (seq, kind, subject, at) VALUES ({skipped}, 'key', '{}', 0)",
            k.record.id()
        ));
        assert!(caught_up(&store, skipped), "{url}");
        assert_eq!(store.feed_status().resyncs, 0, "{url}");
    });
}

/// What another process and a prune do to this one's unread changes, in one transaction
/// (so the feed cannot read between them): key `revoked` revoked, family `f` revoked,
/// one more change, and every change but the newest pruned.
fn revoke_and_prune_behind_its_back(url: &str, revoked: &portcullis::KeyRecord, f: &KeyId) {
    let mut record = revoked.clone();
    record.revoke(NOW);
    let json = record.to_json().replace('\'', "''");
    let id = record.id();
    let now = Timestamp::now().secs();
    let begin = if url.starts_with("sqlite:") {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    Raw::open(url).batch(&format!(
        "{begin};
         UPDATE keys SET revoked_at = {revoked_at}, record = '{json}' WHERE id = '{id}';
         INSERT INTO changes (kind, subject, at) VALUES ('key', '{id}', 0);
         INSERT INTO oauth_revoked_families (family, revoked_at) VALUES ('{f}', {now});
         INSERT INTO changes (kind, subject, at) VALUES ('family', '{f}', 0);
         INSERT INTO changes (kind, subject, at) VALUES ('key', 'not-an-id', 0);
         DELETE FROM changes WHERE seq < (SELECT MAX(seq) FROM changes);
         COMMIT;",
        revoked_at = NOW.secs()
    ));
}

#[test]
fn a_feed_that_finds_its_next_changes_pruned_resyncs_before_it_is_fresh() {
    on_both("gap", |url| {
        let store = Store::open_with(url, manual(100_000)).expect("open");
        let c = checker();
        let (k, live) = (
            c.issue(&spec("k"), NOW).expect("issue"),
            c.issue(&spec("live"), NOW).expect("issue"),
        );
        store.insert_key(&k.record, NOW).expect("insert");
        store.insert_key(&live.record, NOW).expect("insert");
        let mut raw = Raw::open(url);
        assert!(caught_up(&store, raw.newest()));
        // Cached, and fresh: from here the cache answers on its own.
        assert_eq!(status(&c, &store, k.key.expose()), 200);
        assert_eq!(status(&c, &store, live.key.expose()), 200);
        assert_eq!(store.cache_sizes().0, 2);
        let keys = AccessKeys::new("k1", &[9u8; 32]).expect("access key");
        let verifier = Arc::new(AccessVerifier::new(keys, c.policy().catalog()));
        store.attach(verifier.clone()).expect("attach");
        let f = family(9);
        revoke_and_prune_behind_its_back(url, &k.record, &f);
        assert!(caught_up(&store, raw.newest()), "{url}");
        assert_eq!(status(&c, &store, k.key.expose()), 401, "{url}");
        assert_eq!(status(&c, &store, live.key.expose()), 200);
        assert!(store.revocations().is_family_revoked(&f), "{url}");
        assert!(
            verifier.revocations().is_family_revoked(&f),
            "{url}: verifiers too"
        );
        assert_eq!(store.feed_status().resyncs, 1, "{url}");
    });
}

// ---------------------------------------------------------------------------------------
// A real process away (suspended) while another revokes and prunes.

const WORKER: &str = "PORTCULLIS_RETENTION_WORKER";

/// The worker's side: a store on the URL in [`WORKER`], answering one line per command
/// on stdout, each prefixed `proto:` (the test harness prints its own lines too).
#[test]
fn worker_process() {
    let Ok(url) = std::env::var(WORKER) else {
        return;
    };
    let options = Options {
        staleness: Duration::from_millis(200),
        ..manual(2)
    };
    let store = Store::open_with(&url, options).expect("worker open");
    let c = checker();
    let mut out = std::io::stdout();
    let mut say = |line: String| {
        writeln!(out, "proto:{line}").expect("stdout");
        out.flush().expect("flush");
    };
    say("ready".into());
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let (command, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match command {
            "check" => say(status(&c, &store, arg).to_string()),
            "caught-up" => {
                let seq = arg.parse().expect("seq");
                let done = caught_up(&store, seq);
                say(format!("{done} {}", store.feed_status().resyncs));
            }
            "family" => {
                let f = KeyId::parse(arg).expect("family");
                say(store.revocations().is_family_revoked(&f).to_string());
            }
            _ => return,
        }
    }
}

/// The test's handle on a worker; it is resumed and killed on drop.
struct Worker {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(url: &str) -> Worker {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "worker_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WORKER, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the worker");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        let mut w = Worker {
            child,
            input,
            output,
        };
        assert_eq!(w.read(), "ready");
        w
    }

    fn read(&mut self) -> String {
        loop {
            let mut line = String::new();
            let n = self.output.read_line(&mut line).expect("worker stdout");
            assert!(n > 0, "the worker ended");
            // The harness prints "test worker_process ... " before the first answer.
            if let Some((_, answer)) = line.trim_end().split_once("proto:") {
                return answer.to_owned();
            }
        }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.input, "{line}").expect("worker stdin");
        self.input.flush().expect("flush");
        self.read()
    }

    fn signal(&self, which: &str) {
        let ok = Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {which}");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_process_suspended_while_its_changes_were_pruned_refuses_what_was_revoked_meanwhile() {
    on_both("away", |url| {
        let a = Store::open_with(url, manual(2)).expect("open");
        let c = checker();
        let (k, live) = (
            c.issue(&spec("k"), NOW).expect("issue"),
            c.issue(&spec("live"), NOW).expect("issue"),
        );
        a.insert_key(&k.record, NOW).expect("insert");
        a.insert_key(&live.record, NOW).expect("insert");
        let mut raw = Raw::open(url);
        let mut b = Worker::spawn(url);
        assert_eq!(b.ask(&format!("caught-up {}", raw.newest())), "true 0");
        // Cached in b while fresh.
        assert_eq!(b.ask(&format!("check {}", k.key.expose())), "200");
        assert_eq!(b.ask(&format!("check {}", live.key.expose())), "200");
        let seen = raw.newest();

        b.signal("-STOP");
        let f = family(7);
        a.revoke_key(&k.record.id(), NOW).expect("revoke");
        a.revoke_family(&f, Timestamp::now())
            .expect("revoke family");
        for i in 0..3 {
            let other = c.issue(&spec(&format!("o{i}")), NOW).expect("issue");
            a.insert_key(&other.record, NOW).expect("insert");
        }
        assert!(a.prune().expect("prune").changes >= 3);
        assert!(raw.oldest() > seen + 1, "the changes b missed are gone");
        b.signal("-CONT");

        let caught = b.ask(&format!("caught-up {}", raw.newest()));
        assert!(caught.starts_with("true "), "{url}: {caught}");
        assert_eq!(
            b.ask(&format!("check {}", k.key.expose())),
            "401",
            "{url}: never allowed from the stale cache"
        );
        assert_eq!(b.ask(&format!("check {}", live.key.expose())), "200");
        assert_eq!(b.ask(&format!("family {f}")), "true", "{url}");
        assert_eq!(caught, "true 1", "{url}: one resync");
    });
}

/// The in-memory revocation sets hold the window, not the process's history: a family the
/// feed brought in is forgotten by this store and by an attached verifier once
/// `family_window` has passed (its access tokens have expired by then), and the database
/// still refuses its refresh tokens.
#[test]
fn revoked_families_are_forgotten_in_memory_after_the_window() {
    on_both("forget", |url| {
        let window = Duration::from_millis(300);
        let options = Options {
            family_window: window,
            ..Options::default()
        };
        let writer = Store::open_with(url, manual(100_000)).expect("open the writer");
        let reader = Store::open_with(url, options).expect("open the reader");
        let keys = AccessKeys::new("k1", &[9u8; 32]).expect("access key");
        let verifier = Arc::new(AccessVerifier::new(keys, checker().policy().catalog()));
        reader.attach(Arc::clone(&verifier)).expect("attach");
        let f = family(7);
        writer.revoke_family(&f, NOW).expect("revoke");
        let t0 = Instant::now();
        while !reader.revocations().is_family_revoked(&f) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{url}: never applied"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(verifier.revocations().is_family_revoked(&f), "{url}");
        while reader.revocations().family_count() > 0 {
            assert!(
                t0.elapsed() < window + Duration::from_secs(5),
                "{url}: never forgotten"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(t0.elapsed() >= window, "{url}: forgotten before the window");
        assert!(!verifier.revocations().is_family_revoked(&f), "{url}");
        assert!(writer.is_family_revoked(&f).expect("read"), "{url}");
    });
}
