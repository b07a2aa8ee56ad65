//! A fleet of real processes on one PostgreSQL database: this test binary runs itself as
//! worker processes (`processes worker URL STALENESS_MS`, a line protocol on stdin and
//! stdout), each with its own `Store`, and checks what the issue promises between them:
//!
//! - propagation: 200 key and 50 OAuth family revocations written by this process are
//!   refused by a worker process within p99 ≤ 100 ms (the distribution is printed);
//! - faults: PostgreSQL stopped while two workers check under load: no allow for a key
//!   revoked before the stop, 503 within the staleness bound, recovery after the restart,
//!   and every key created before the outage verifies;
//! - concurrency: 8 workers × 100 create/rotate/revoke operations on shared and own keys;
//!   exact counts of rows, audit entries and changes afterwards, and every issued key
//!   verifies or is refused exactly as its state says.
//!
//! It runs without the test harness (`harness = false`): the workers' stdout is their
//! protocol. `cargo test -p portcullis-store --test processes` (the figures print on
//! stdout).

mod common;

use common::pg::Pg;
use common::{NOW, checker, spec, status};
use portcullis::oauth::RefreshStore;
use portcullis::{Checker, KeyId};
use portcullis_store::{ErrorKind, Options, Store};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch: one clock for every process on the machine.
fn wall() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn options(staleness_ms: u64) -> Options {
    Options {
        staleness: Duration::from_millis(staleness_ms),
        connect_timeout: Duration::from_secs(1),
        reconnect_every: Duration::from_millis(50),
        ..Options::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        let url = args.get(2).expect("worker URL");
        let staleness = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1_000);
        worker(url, staleness);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("processes: test");
        return;
    }
    let started = Instant::now();
    let Some(pg) = Pg::start() else { return };
    propagation(&pg);
    concurrency(&pg);
    drop(pg);
    let Some(pg) = Pg::start() else { return };
    faults(&pg);
    println!("processes: ok in {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// The worker process.

fn say(out: &mut impl Write, line: &str) {
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("flush");
}

fn worker(url: &str, staleness_ms: u64) {
    let store = Arc::new(Store::open_with(url, options(staleness_ms)).expect("worker open"));
    let checker = Arc::new(checker());
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let mut live: Vec<String> = Vec::new();
    let mut revoked: Vec<String> = Vec::new();
    let mut pool: Vec<(KeyId, String)> = Vec::new();
    let mut load: Option<(Arc<AtomicBool>, std::thread::JoinHandle<Vec<String>>)> = None;
    say(&mut out, "ready");
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let (command, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match command {
            "check" => say(&mut out, &status(&checker, &store, rest).to_string()),
            "wait-key" => {
                let t0 = Instant::now();
                while status(&checker, &store, rest) != 401 && t0.elapsed() < Duration::from_secs(5)
                {
                    std::thread::sleep(Duration::from_micros(50));
                }
                let done = status(&checker, &store, rest) == 401;
                say(
                    &mut out,
                    &if done {
                        format!("refused {}", wall())
                    } else {
                        "timeout".to_owned()
                    },
                );
            }
            "wait-family" => {
                let family = KeyId::parse(rest).expect("family id");
                let t0 = Instant::now();
                while !store.revocations().is_family_revoked(&family)
                    && t0.elapsed() < Duration::from_secs(5)
                {
                    std::thread::sleep(Duration::from_micros(50));
                }
                let done = store.revocations().is_family_revoked(&family);
                say(
                    &mut out,
                    &if done {
                        format!("refused {}", wall())
                    } else {
                        "timeout".to_owned()
                    },
                );
            }
            "live" => live.push(rest.to_owned()),
            "revoked" => revoked.push(rest.to_owned()),
            "start" => {
                let stop = Arc::new(AtomicBool::new(false));
                let (s, c, l, r, st) = (
                    Arc::clone(&store),
                    Arc::clone(&checker),
                    live.clone(),
                    revoked.clone(),
                    Arc::clone(&stop),
                );
                load = Some((
                    stop,
                    std::thread::spawn(move || under_load(&s, &c, &l, &r, &st)),
                ));
                say(&mut out, "started");
            }
            "stop" => {
                let (stop, handle) = load.take().expect("started");
                stop.store(true, Ordering::Release);
                for line in handle.join().expect("load thread") {
                    say(&mut out, &line);
                }
                say(&mut out, "end");
            }
            "verify" => {
                let ok = live
                    .iter()
                    .filter(|k| status(&checker, &store, k) == 200)
                    .count();
                let refused = revoked
                    .iter()
                    .filter(|k| status(&checker, &store, k) == 401)
                    .count();
                say(
                    &mut out,
                    &format!(
                        "verified {ok} of {} live, {refused} of {} revoked refused",
                        live.len(),
                        revoked.len()
                    ),
                );
            }
            "pool" => {
                let (id, key) = rest.split_once(' ').expect("pool ID KEY");
                pool.push((KeyId::parse(id).expect("pool id"), key.to_owned()));
            }
            "ops" => {
                let (seed, n) = rest.split_once(' ').expect("ops SEED N");
                operations(
                    &store,
                    &checker,
                    &mut pool,
                    seed.parse().expect("seed"),
                    n.parse().expect("n"),
                    &mut out,
                );
                say(&mut out, "done");
            }
            "quit" => break,
            other => panic!("unknown command {other:?}"),
        }
    }
}

/// Checks every key over and over until told to stop; reports each change of the live
/// keys' status (`event WALL STATUS`), the counts, and any allow of a revoked key.
fn under_load(
    store: &Store,
    checker: &Checker,
    live: &[String],
    revoked: &[String],
    stop: &AtomicBool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut last = 0u16;
    let mut counts: HashMap<u16, u64> = HashMap::new();
    let mut revoked_allowed = 0u64;
    let mut revoked_other = 0u64;
    while !stop.load(Ordering::Acquire) {
        for key in revoked {
            match status(checker, store, key) {
                200 => revoked_allowed += 1,
                401 | 503 => {}
                _ => revoked_other += 1,
            }
        }
        for key in live {
            let s = status(checker, store, key);
            *counts.entry(s).or_default() += 1;
            if s != last {
                lines.push(format!("event {} {s}", wall()));
                last = s;
            }
        }
        // Leaves the database and the other worker a share of the two cores.
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort();
    for (s, n) in counts {
        lines.push(format!("count {s} {n}"));
    }
    lines.push(format!("revoked_allowed {revoked_allowed}"));
    lines.push(format!("revoked_other {revoked_other}"));
    lines
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// `n` operations, a third each: create a key; rotate one of the pool (shared with the
/// other workers) or of its own; revoke one. Each prints what it did.
fn operations(
    store: &Store,
    checker: &Checker,
    keys: &mut Vec<(KeyId, String)>,
    seed: u64,
    n: usize,
    out: &mut impl Write,
) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for i in 0..n {
        match i % 3 {
            0 => {
                let issued = checker
                    .issue(&spec(&format!("w{seed}-{i}")), NOW)
                    .expect("issue");
                store.insert_key(&issued.record, NOW).expect("insert");
                let id = issued.record.id();
                say(out, &format!("created {id} {}", issued.key.expose()));
                keys.push((id, issued.key.expose().to_owned()));
            }
            1 => {
                let (id, _) = keys[rng.below(keys.len())].clone();
                match store.rotate_key(&id, checker, 3_600, NOW) {
                    Ok(r) => {
                        let new = r.successor.record.id();
                        say(
                            out,
                            &format!("rotated {id} {new} {}", r.successor.key.expose()),
                        );
                        keys.push((new, r.successor.key.expose().to_owned()));
                    }
                    Err(e) => say(out, &format!("rotate-refused {id} {}", e.code())),
                }
            }
            _ => {
                let (id, _) = keys[rng.below(keys.len())].clone();
                let already = store.revoke_key(&id, NOW).expect("revoke");
                say(
                    out,
                    &format!("revoked {id} {}", if already { "again" } else { "first" }),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The test process's side.

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(url: &str, staleness_ms: u64) -> Worker {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .args(["worker", url, &staleness_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn worker");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut w = Worker {
            child,
            stdin,
            stdout,
        };
        assert_eq!(w.recv(), "ready");
        w
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("to worker");
        self.stdin.flush().expect("flush");
    }

    fn recv(&mut self) -> String {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("from worker");
        assert!(n > 0, "the worker ended");
        line.trim_end().to_owned()
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.recv()
    }

    /// Lines until `end`.
    fn until(&mut self, end: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.recv();
            if line == end {
                return lines;
            }
            lines.push(line);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn refused_at(line: &str) -> u128 {
    line.strip_prefix("refused ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not refused: {line}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, delays: &mut [Duration]) -> Duration {
    delays.sort();
    let p99 = percentile(delays, 0.99);
    println!(
        "between processes, {} {what}: min {:?}, p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        delays[0],
        percentile(delays, 0.5),
        percentile(delays, 0.9),
        p99,
        delays[delays.len() - 1]
    );
    p99
}

fn since(t0: u128, t: u128) -> Duration {
    Duration::from_nanos(u64::try_from(t.saturating_sub(t0)).unwrap_or(u64::MAX))
}

/// This process revokes; a worker process measures how long until it refuses each.
fn propagation(pg: &Pg) {
    let url = pg.database("propagation");
    let a = Store::open(&url).expect("a");
    let c = checker();
    let mut w = Worker::spawn(&url, 1_000);
    let keys: Vec<(KeyId, String)> = (0..200)
        .map(|i| {
            let issued = c.issue(&spec(&format!("k{i}")), NOW).expect("issue");
            a.insert_key(&issued.record, NOW).expect("insert");
            (issued.record.id(), issued.key.expose().to_owned())
        })
        .collect();
    for (_, key) in &keys {
        assert_eq!(
            w.ask(&format!("check {key}")),
            "200",
            "cached in the worker"
        );
    }
    let mut delays = Vec::new();
    for (id, key) in &keys {
        w.send(&format!("wait-key {key}"));
        let t0 = wall();
        a.revoke_key(id, NOW).expect("revoke");
        delays.push(since(t0, refused_at(&w.recv())));
    }
    let keys_p99 = report("key revocations", &mut delays);

    let mut delays = Vec::new();
    for i in 0..50 {
        let family = KeyId::parse(&format!("F{i:0>15}")).expect("family");
        w.send(&format!("wait-family {family}"));
        let t0 = wall();
        a.revoke_family(&family, NOW).expect("revoke family");
        delays.push(since(t0, refused_at(&w.recv())));
    }
    let families_p99 = report("OAuth family revocations", &mut delays);
    assert!(
        keys_p99 <= Duration::from_millis(100),
        "key p99 {keys_p99:?}"
    );
    assert!(
        families_p99 <= Duration::from_millis(100),
        "family p99 {families_p99:?}"
    );
}

/// Two workers check under load while PostgreSQL is stopped and started again.
fn faults(pg: &Pg) {
    let url = pg.database("faults");
    let bound_ms = 500;
    let bound = Duration::from_millis(bound_ms);
    let a = Store::open_with(&url, options(bound_ms)).expect("a");
    let c = checker();
    let revoked = c.issue(&spec("revoked"), NOW).expect("issue");
    a.insert_key(&revoked.record, NOW).expect("insert");
    let live: Vec<(KeyId, String)> = (0..20)
        .map(|i| {
            let issued = c.issue(&spec(&format!("live{i}")), NOW).expect("issue");
            a.insert_key(&issued.record, NOW).expect("insert");
            (issued.record.id(), issued.key.expose().to_owned())
        })
        .collect();
    a.revoke_key(&revoked.record.id(), NOW).expect("revoke");
    let mut workers: Vec<Worker> = (0..2).map(|_| Worker::spawn(&url, bound_ms)).collect();
    for w in &mut workers {
        assert!(
            w.ask(&format!("wait-key {}", revoked.key.expose()))
                .starts_with("refused")
        );
        w.send(&format!("revoked {}", revoked.key.expose()));
        for (_, key) in &live {
            w.send(&format!("live {key}"));
        }
        assert_eq!(w.ask("start"), "started");
    }
    std::thread::sleep(Duration::from_millis(300));
    let stopped = wall();
    pg.stop();
    std::thread::sleep(bound * 4);
    let restarted = wall();
    pg.start_again();
    // This process recovers as the workers do; they get a second more.
    let t0 = Instant::now();
    while status(&c, &a, &live[1].1) != 200 {
        assert!(t0.elapsed() < Duration::from_secs(15), "no recovery here");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    for (n, w) in workers.iter_mut().enumerate() {
        w.send("stop");
        let lines = w.until("end");
        let value = |name: &str| -> u64 {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or(0)
        };
        assert_eq!(
            value("revoked_allowed "),
            0,
            "worker {n}: a revoked key was allowed: {lines:?}"
        );
        assert_eq!(value("revoked_other "), 0, "worker {n}: {lines:?}");
        let events: Vec<(u128, u16)> = lines
            .iter()
            .filter_map(|l| {
                let mut parts = l.strip_prefix("event ")?.split(' ');
                Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
            })
            .collect();
        assert!(
            events.iter().all(|(_, s)| matches!(s, 200 | 503)),
            "worker {n}: live keys only 200 or 503: {events:?}"
        );
        let first_503 = events
            .iter()
            .find(|(t, s)| *t >= stopped && *s == 503)
            .unwrap_or_else(|| panic!("worker {n}: never 503: {events:?}"))
            .0;
        let allowed_during = events
            .iter()
            .any(|(t, s)| *t > first_503 && *t < restarted && *s == 200);
        assert!(
            !allowed_during,
            "worker {n}: allowed again while the database was down: {events:?}"
        );
        let recovered = events
            .iter()
            .find(|(t, s)| *t >= restarted && *s == 200)
            .unwrap_or_else(|| panic!("worker {n}: no recovery: {events:?}"))
            .0;
        let to_503 = since(stopped, first_503);
        println!(
            "faults, worker {n}: first 503 {to_503:?} after the stop (bound {bound:?}); allowed again {:?} after the restart; {}",
            since(restarted, recovered),
            lines
                .iter()
                .filter(|l| l.starts_with("count"))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(
            to_503 <= bound + Duration::from_millis(300),
            "worker {n}: {to_503:?}"
        );
        assert_eq!(
            w.ask("verify"),
            format!(
                "verified {} of {} live, 1 of 1 revoked refused",
                live.len(),
                live.len()
            ),
            "worker {n}: every key created before the outage verifies"
        );
    }
    // Writes after the restart reach both workers again.
    let t0 = Instant::now();
    while let Err(e) = a.revoke_key(&live[0].0, NOW) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "cannot write after the restart: {e}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for w in &mut workers {
        assert!(
            w.ask(&format!("wait-key {}", live[0].1))
                .starts_with("refused")
        );
    }
}

/// 8 workers × 100 operations; then exact counts and every key's decision.
fn concurrency(pg: &Pg) {
    let url = pg.database("concurrency");
    let a = Store::open(&url).expect("a");
    let c = checker();
    let pool: Vec<(KeyId, String)> = (0..16)
        .map(|i| {
            let issued = c.issue(&spec(&format!("pool{i}")), NOW).expect("issue");
            a.insert_key(&issued.record, NOW).expect("insert");
            (issued.record.id(), issued.key.expose().to_owned())
        })
        .collect();
    let started = Instant::now();
    let mut workers: Vec<Worker> = (0..8).map(|_| Worker::spawn(&url, 1_000)).collect();
    for (n, w) in workers.iter_mut().enumerate() {
        for (id, key) in &pool {
            w.send(&format!("pool {id} {key}"));
        }
        w.send(&format!("ops {} 100", n + 1));
    }
    let mut keys: HashMap<String, String> = pool
        .iter()
        .map(|(id, k)| (id.to_string(), k.clone()))
        .collect();
    let (mut created, mut rotated, mut refused, mut first, mut again) = (0, 0, 0, 0, 0);
    let mut revoked: HashSet<String> = HashSet::new();
    let mut refused_ids = Vec::new();
    for w in &mut workers {
        let lines = w.until("done");
        assert_eq!(lines.len(), 100, "one line per operation");
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["created", id, key] => {
                    created += 1;
                    keys.insert((*id).to_owned(), (*key).to_owned());
                }
                ["rotated", _, new, key] => {
                    rotated += 1;
                    keys.insert((*new).to_owned(), (*key).to_owned());
                }
                ["rotate-refused", id, code] => {
                    assert_eq!(*code, ErrorKind::Inactive.code(), "{line}");
                    refused += 1;
                    refused_ids.push((*id).to_owned());
                }
                ["revoked", id, "first"] => {
                    first += 1;
                    assert!(revoked.insert((*id).to_owned()), "{id} revoked first twice");
                }
                ["revoked", _, "again"] => again += 1,
                _ => panic!("unexpected line {line}"),
            }
        }
    }
    let elapsed = started.elapsed();
    drop(workers);
    println!(
        "concurrency: 8 processes x 100 operations in {elapsed:?}: {created} created, {rotated} rotated, {refused} rotations refused (revoked), {first} revoked, {again} revoked again"
    );
    assert_eq!(created + rotated + refused + first + again, 800);
    for id in &refused_ids {
        assert!(
            revoked.contains(id),
            "{id}: rotation refused but never revoked"
        );
    }

    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let count = |client: &mut postgres::Client, sql: &str| -> i64 {
        client.query_one(sql, &[]).expect(sql).get(0)
    };
    let rows = count(&mut client, "SELECT count(*) FROM keys");
    assert_eq!(rows, 16 + created + rotated, "key rows");
    assert_eq!(
        keys.len() as i64,
        rows,
        "every row is a key someone was given"
    );
    let revoked_rows = count(
        &mut client,
        "SELECT count(*) FROM keys WHERE revoked_at IS NOT NULL",
    );
    assert_eq!(revoked_rows, first, "revoked rows");
    for (action, n) in [("created", rows), ("rotated", rotated), ("revoked", first)] {
        let audited = count(
            &mut client,
            &format!("SELECT count(*) FROM key_audit WHERE action = '{action}'"),
        );
        assert_eq!(audited, n, "audit {action}");
    }
    let changes = count(&mut client, "SELECT count(*) FROM changes");
    assert_eq!(
        changes,
        16 + created + 2 * rotated + first,
        "one change per effect"
    );

    // A fresh process's view: every issued key verifies or is refused as its state says.
    let fresh = Store::open(&url).expect("fresh");
    for (id, key) in &keys {
        let expected = if revoked.contains(id) { 401 } else { 200 };
        assert_eq!(status(&c, &fresh, key), expected, "key {id}");
    }
}
