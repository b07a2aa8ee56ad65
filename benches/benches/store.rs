//! The database store (`portcullis-store`) against the in-memory store, on SQLite and, when
//! `tests/pg-server.sh` can start one, PostgreSQL (issue #18):
//! - a cached check (the feed fresh, the record in the cache) against a `MemoryStore`
//!   check, target ≤ 1.1×;
//! - a check on a cache miss against a `MemoryStore` check plus a bare primary-key
//!   `SELECT` of the same row over the same store's connection (`Store::bench_bare_select`,
//!   hidden), prepared once, target ≤ 1.2×. Each round opens a new store (untimed; no feed,
//!   a staleness bound of one nanosecond; its connection warmed by reading every row) and
//!   checks each key once, so every timed lookup reads the database, decodes the record
//!   and adds it to a cache that holds 3,000 keys of other organisations (informational:
//!   the same into an empty cache);
//! - informational: the same with the cache already holding every key while the feed is
//!   stale (every lookup reads the database and finds the cached copy equal);
//! - change-feed events applied per second: 20,000 change rows committed at once, timed
//!   until another store's feed has applied them.
//!
//! - with Redis (Debian's `redis-server`, installed by
//!   `crates/portcullis-store/tests/redis.sh` and started on a free loopback port; skipped
//!   with a message when it cannot be): the mean added cost per check of fleet-wide rate
//!   limits (`FleetLimits`, leases of 10, a per-key limit no check reaches) against the
//!   same check without limits, and the Redis round trips per 1,000 checks (informational,
//!   issue #21).
//!
//! The ratios come from alternating rounds in one process (as `paired` in core.rs), and
//! are written to target/bench-results/store.json for benches/summary.py; criterion
//! times each subject too.

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::SeededRandom;
use portcullis::{
    Checker, KeyLookup, KeyRecord, KeySpec, MemoryStore, Peppers, Policy, Request, Timestamp,
};
use portcullis_benches::write_results;
use portcullis_store::{FleetConfig, FleetLimits, Options, Store};
use std::cell::RefCell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const NOW: Timestamp = Timestamp(1_800_000_000);
const PEPPER: [u8; 32] = [42; 32];
const KEYS: usize = 1_000;
/// Keys of other organisations already in the cache when the misses are measured.
const RESIDENT: usize = 3_000;
const FEED_EVENTS: usize = 20_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A bare primary-key read of one key row over the store's own connection: the record's
/// length, or (`decode`) the record decoded.
fn bare_select(store: &Store, id: &str) -> usize {
    store.bench_bare_select(id, str::len).expect("the row")
}

fn bare_decode(store: &Store, id: &str) -> KeyRecord {
    store
        .bench_bare_select(id, |json| KeyRecord::from_json(json).expect("a record"))
        .expect("the row")
}

/// What one backend's measurements share.
struct Fixture {
    checker: Checker,
    memory: MemoryStore,
    cached: Store,
    /// A store read through on every lookup, its cache warm.
    stale: Store,
    url: String,
    headers: Vec<String>,
    ids: Vec<String>,
    /// The headers of [`RESIDENT`] more keys, in the database only.
    resident: Vec<String>,
}

fn fixture(url: &str) -> Fixture {
    let policy = std::fs::read_to_string(root().join("examples/claimport.toml")).expect("policy");
    let checker = Checker::new(
        Policy::from_toml(&policy).expect("policy"),
        Peppers::new("p1", &PEPPER).expect("pepper"),
    );
    let memory = MemoryStore::new();
    let cached = Store::open(url).expect("open the store");
    let rng = SeededRandom::new(b"store bench");
    let mut headers = Vec::with_capacity(KEYS);
    let mut ids = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let spec = KeySpec::new("bench", &format!("org_{i}"), ["claims:read"]);
        let issued = checker
            .issue_with("sk", "live", &spec, NOW, &rng)
            .expect("issue");
        headers.push(format!("Bearer {}", issued.key.expose()));
        ids.push(issued.record.id().as_str().to_owned());
        cached.insert_key(&issued.record, NOW).expect("insert");
        memory.insert(issued.record).expect("insert");
    }
    let mut resident = Vec::with_capacity(RESIDENT);
    for i in 0..RESIDENT {
        let spec = KeySpec::new("resident", &format!("other_{i}"), ["claims:read"]);
        let issued = checker
            .issue_with("sk", "live", &spec, NOW, &rng)
            .expect("issue");
        resident.push(format!("Bearer {}", issued.key.expose()));
        cached.insert_key(&issued.record, NOW).expect("insert");
    }
    let stale = uncached(url);
    checks_of(&checker, &headers, &stale, KEYS, 0);
    Fixture {
        checker,
        memory,
        cached,
        stale,
        url: url.to_owned(),
        headers,
        ids,
        resident,
    }
}

/// [`uncached`], its connection warmed (untimed): the database's pages read and both
/// statements prepared, as in a process that has run a while; its cache holding the
/// resident keys (`populated`) or empty, and none of the measured keys.
fn warm_uncached(f: &Fixture, populated: bool) -> Store {
    let store = uncached(&f.url);
    for id in &f.ids {
        black_box(bare_select(&store, id));
    }
    let id = portcullis::KeyId::parse(&f.ids[0]).expect("an id");
    store.key(&id).expect("a read").expect("the record");
    if populated {
        checks_of(&f.checker, &f.resident, &store, RESIDENT, 0);
    }
    let resident = if populated { RESIDENT } else { 0 };
    assert_eq!(
        store.cache_sizes(),
        (resident, 0),
        "the warm-up cached another key"
    );
    store
}

/// Checks on cache misses against a `MemoryStore` check plus a bare `SELECT` of the same
/// row (and its decoding, with `decode`) over the same store's connection; each round on a
/// new store ([`warm_uncached`]) whose cache is `populated` or empty.
fn misses(f: &Fixture, iters: usize, populated: bool, decode: bool) -> (f64, f64, (f64, f64, f64)) {
    let fresh = RefCell::new(uncached(&f.url));
    let (mut at_s, mut at_b) = (0, 0);
    paired_with(
        21,
        iters,
        &mut || *fresh.borrow_mut() = warm_uncached(f, populated),
        &mut |n| at_s = checks(f, &*fresh.borrow(), n, at_s),
        &mut |n| {
            let store = fresh.borrow();
            for _ in 0..n {
                at_b = checks(f, &f.memory, 1, at_b);
                if decode {
                    black_box(bare_decode(&store, &f.ids[at_b]));
                } else {
                    black_box(bare_select(&store, &f.ids[at_b]));
                }
            }
        },
    )
}

/// A store that reads the database on every lookup (no feed, always stale), its cache empty.
fn uncached(url: &str) -> Store {
    Store::open_with(
        url,
        Options {
            feed: false,
            staleness: Duration::from_nanos(1),
            ..Options::default()
        },
    )
    .expect("open the uncached store")
}

/// Checks `n` requests, cycling through the keys, against `lookup`.
fn checks(f: &Fixture, lookup: &(impl KeyLookup + ?Sized), n: usize, at: usize) -> usize {
    checks_of(&f.checker, &f.headers, lookup, n, at)
}

fn checks_of(
    checker: &Checker,
    headers: &[String],
    lookup: &(impl KeyLookup + ?Sized),
    n: usize,
    mut at: usize,
) -> usize {
    for _ in 0..n {
        at = (at + 1) % headers.len();
        let request = Request::new("GET", "/v1/claims/42")
            .authorization(&headers[at])
            .https(true);
        let status = checker.check(black_box(&request), lookup, NOW).status();
        assert_eq!(black_box(status), 200);
    }
    at
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// Alternating rounds of two subjects; (subject ns, baseline ns, ratio q1, median, q3).
fn paired(
    rounds: usize,
    iters: usize,
    subject: &mut dyn FnMut(usize),
    baseline: &mut dyn FnMut(usize),
) -> (f64, f64, (f64, f64, f64)) {
    paired_with(rounds, iters, &mut || {}, subject, baseline)
}

/// [`paired`] with an untimed `setup` before each round.
fn paired_with(
    rounds: usize,
    iters: usize,
    setup: &mut dyn FnMut(),
    subject: &mut dyn FnMut(usize),
    baseline: &mut dyn FnMut(usize),
) -> (f64, f64, (f64, f64, f64)) {
    let (mut s, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=rounds {
        setup();
        let time = |f: &mut dyn FnMut(usize)| {
            let start = Instant::now();
            f(iters);
            start.elapsed().as_nanos() as f64 / iters as f64
        };
        let (vs, vb) = if round % 2 == 0 {
            let vs = time(subject);
            (vs, time(baseline))
        } else {
            let vb = time(baseline);
            (time(subject), vb)
        };
        if round > 0 {
            s.push(vs);
            b.push(vb);
            r.push(vs / vb);
        }
    }
    (quartiles(s).1, quartiles(b).1, quartiles(r))
}

fn measure(c: &mut Criterion, name: &str, url: &str, json: &mut Vec<String>) {
    let f = fixture(url);
    // Warm the cache with every key.
    checks(&f, &f.cached, KEYS, 0);

    let mut group = c.benchmark_group(format!("store_{name}"));
    let mut at = 0;
    group.bench_function("memory_check", |b| {
        b.iter(|| at = checks(&f, &f.memory, 1, at))
    });
    group.bench_function("cached_check", |b| {
        b.iter(|| at = checks(&f, &f.cached, 1, at))
    });
    group.bench_function("stale_check", |b| {
        b.iter(|| at = checks(&f, &f.stale, 1, at))
    });
    group.bench_function("bare_select", |b| {
        b.iter(|| {
            at = (at + 1) % KEYS;
            black_box(bare_select(&f.stale, &f.ids[at]))
        })
    });
    group.finish();

    let mut at_s = 0;
    let mut at_b = 0;
    let (cached, memory, (q1, r, q3)) = paired(
        41,
        20_000,
        &mut |n| at_s = checks(&f, &f.cached, n, at_s),
        &mut |n| at_b = checks(&f, &f.memory, n, at_b),
    );
    println!(
        "store_{name}/cached vs memory: {cached:.1} ns vs {memory:.1} ns, {r:.3}x (q1-q3 {q1:.3}-{q3:.3})"
    );
    json.push(format!(
        "\"{name}_cached_ns\": {cached:.2}, \"{name}_memory_ns\": {memory:.2}, \
         \"{name}_cached_ratio\": {r:.4}, \"{name}_cached_ratio_q1\": {q1:.4}, \"{name}_cached_ratio_q3\": {q3:.4}"
    ));

    // A miss: each round a new store holding the resident keys, each measured key looked
    // up once (so never found cached).
    let iters = if name == "sqlite" { KEYS } else { 500 };
    let (miss, floor, (q1, r, q3)) = misses(&f, iters, true, false);
    println!(
        "store_{name}/miss vs memory+select: {miss:.1} ns vs {floor:.1} ns, {r:.3}x (q1-q3 {q1:.3}-{q3:.3})"
    );
    json.push(format!(
        "\"{name}_miss_ns\": {miss:.2}, \"{name}_memory_select_ns\": {floor:.2}, \
         \"{name}_miss_ratio\": {r:.4}, \"{name}_miss_ratio_q1\": {q1:.4}, \"{name}_miss_ratio_q3\": {q3:.4}"
    ));

    // Informational: the same baseline plus decoding the record, which a miss must do.
    let (_, floor, (q1, r, q3)) = misses(&f, iters, true, true);
    println!(
        "store_{name}/miss vs memory+select+decode: {floor:.1} ns baseline, {r:.3}x (q1-q3 {q1:.3}-{q3:.3})"
    );
    json.push(format!(
        "\"{name}_memory_select_decode_ns\": {floor:.2}, \"{name}_miss_decode_ratio\": {r:.4}"
    ));

    // Informational: the same misses into an empty cache (a process's first requests).
    let (empty, floor, (_, r, _)) = misses(&f, iters, false, false);
    println!(
        "store_{name}/miss into an empty cache vs memory+select: {empty:.1} ns vs {floor:.1} ns, {r:.3}x"
    );
    json.push(format!(
        "\"{name}_miss_empty_ns\": {empty:.2}, \"{name}_miss_empty_ratio\": {r:.4}"
    ));

    // Informational: the feed stale, every key cached: each lookup reads the database.
    let (mut at_s, mut at_b) = (0, 0);
    let (stale, floor, (_, r, _)) = paired(
        21,
        iters,
        &mut |n| at_s = checks(&f, &f.stale, n, at_s),
        &mut |n| {
            for _ in 0..n {
                at_b = checks(&f, &f.memory, 1, at_b);
                black_box(bare_select(&f.stale, &f.ids[at_b]));
            }
        },
    );
    println!(
        "store_{name}/stale read-through vs memory+select: {stale:.1} ns vs {floor:.1} ns, {r:.3}x"
    );
    json.push(format!(
        "\"{name}_stale_ns\": {stale:.2}, \"{name}_stale_ratio\": {r:.4}"
    ));

    let per_sec = feed_rate(url, &f.ids, bare_writer(name, url).as_mut());
    println!("store_{name}/feed: {per_sec:.0} events applied per second");
    json.push(format!("\"{name}_feed_events_per_sec\": {per_sec:.0}"));
}

/// A connection that commits many change rows in one transaction.
trait BulkChanges {
    fn commit(&mut self, subjects: &[String]);
}

impl BulkChanges for rusqlite::Connection {
    fn commit(&mut self, subjects: &[String]) {
        let tx = self.transaction().expect("begin");
        {
            let mut stmt = tx
                .prepare("INSERT INTO changes (kind, subject, at) VALUES ('key', ?1, 0)")
                .expect("prepare");
            for s in subjects {
                stmt.execute([s]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
}

impl BulkChanges for postgres::Client {
    fn commit(&mut self, subjects: &[String]) {
        let mut tx = self.transaction().expect("begin");
        let stmt = tx
            .prepare("INSERT INTO changes (kind, subject, at) VALUES ('key', $1, 0)")
            .expect("prepare");
        for s in subjects {
            tx.execute(&stmt, &[s]).expect("insert");
        }
        tx.execute("NOTIFY portcullis_changes", &[])
            .expect("notify");
        tx.commit().expect("commit");
    }
}

fn bare_writer(name: &str, url: &str) -> Box<dyn BulkChanges> {
    if name == "sqlite" {
        let path = url.strip_prefix("sqlite:").expect("a sqlite URL");
        Box::new(rusqlite::Connection::open(path).expect("open"))
    } else {
        Box::new(postgres::Client::connect(url, postgres::NoTls).expect("connect"))
    }
}

/// Commits `FEED_EVENTS` key changes at once (the ids of real keys: each invalidates a
/// cache entry) and times until a fresh store's feed has applied them all.
fn feed_rate(url: &str, ids: &[String], writer: &mut dyn BulkChanges) -> f64 {
    let reader = Store::open(url).expect("open the reader");
    let subjects: Vec<String> = ids.iter().cycle().take(FEED_EVENTS).cloned().collect();
    let before = reader.feed_status().applied;
    writer.commit(&subjects);
    let start = Instant::now();
    while reader.feed_status().applied < before + FEED_EVENTS as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the feed stalled"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    FEED_EVENTS as f64 / start.elapsed().as_secs_f64()
}

/// A throwaway PostgreSQL server (tests/pg-server.sh), stopped on drop.
struct Pg {
    dir: String,
    url: String,
}

impl Pg {
    fn start() -> Option<Pg> {
        let dir = std::env::temp_dir()
            .join(format!("portcullis-bench-pg-{}", std::process::id()))
            .display()
            .to_string();
        let script = root().join("tests/pg-server.sh");
        let out = Command::new("bash")
            .arg(&script)
            .args(["start", &dir])
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "store bench: no PostgreSQL ({})",
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = Command::new("bash")
                .arg(&script)
                .args(["stop", &dir])
                .status();
            return None;
        }
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Some(Pg { dir, url })
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let script = root().join("tests/pg-server.sh");
        let _ = Command::new("bash")
            .arg(script)
            .args(["stop", &self.dir])
            .status();
    }
}

/// A throwaway Redis on a free loopback port, without persistence, killed on drop.
struct RedisServer {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Result<RedisServer, String> {
        let script = root().join("crates/portcullis-store/tests/redis.sh");
        let installed = Command::new("bash").arg(&script).status();
        if !installed.is_ok_and(|s| s.success()) {
            return Err("redis-server is not installed and could not be (tests/redis.sh)".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--unixsocket", ""])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        let server = RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            _dir: dir,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A check with fleet-wide limits (Redis leases) against the same check without limits,
/// both on a `MemoryStore`; the Redis round trips per 1,000 checks.
fn fleet_limits(c: &mut Criterion, url: &str, json: &mut Vec<String>) {
    let text = std::fs::read_to_string(root().join("examples/claimport.toml")).expect("policy");
    let limit = "\n[[limits]]\nname = \"per_key\"\nrate = 100000\nburst = 1000\n";
    let checker = |limits: bool| {
        let policy = Policy::from_toml(&format!("{text}{limit}")).expect("policy");
        let checker = Checker::new(policy, Peppers::new("p1", &PEPPER).expect("pepper"));
        if limits {
            // A generous budget: a scheduling hiccup of this shared VM past the default
            // 5 ms would make a check 503 and stop the bench, which measures cost, not
            // failure (the tests do that).
            let config = FleetConfig {
                budget: std::time::Duration::from_millis(250),
                ..FleetConfig::default()
            };
            let fleet = FleetLimits::open(url, config).expect("fleet limits");
            let fleet = std::sync::Arc::new(fleet);
            (checker.with_limits(fleet.clone()), Some(fleet))
        } else {
            (checker, None)
        }
    };
    let ((plain, _), (leased, fleet)) = (checker(false), checker(true));
    let fleet = fleet.expect("the limiter");
    let memory = MemoryStore::new();
    let rng = SeededRandom::new(b"fleet bench");
    let mut headers = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let spec = KeySpec::new("bench", &format!("org_{i}"), ["claims:read"]);
        let issued = plain
            .issue_with("sk", "live", &spec, NOW, &rng)
            .expect("issue");
        headers.push(format!("Bearer {}", issued.key.expose()));
        memory.insert(issued.record).expect("insert");
    }
    let (mut at_s, mut at_b) = (0, 0);
    checks_of(&leased, &headers, &memory, KEYS, 0);
    let trips = fleet.stats().round_trips;
    let counted = std::cell::Cell::new(0usize);
    let (s, b, ratio) = paired(
        21,
        20_000,
        &mut |n| {
            at_s = checks_of(&leased, &headers, &memory, n, at_s);
            counted.set(counted.get() + n);
        },
        &mut |n| at_b = checks_of(&plain, &headers, &memory, n, at_b),
    );
    let per_1000 = (fleet.stats().round_trips - trips) as f64 * 1000.0 / counted.get() as f64;
    let stats = fleet.stats();
    assert_eq!(
        (stats.failures, stats.unavailable),
        (0, 0),
        "Redis failed: {stats:?}"
    );
    let mut group = c.benchmark_group("store_fleet");
    group.bench_function("redis_leased_check", |bench| {
        bench.iter(|| at_s = checks_of(&leased, &headers, &memory, 1, at_s))
    });
    group.finish();
    json.push(format!(
        "\"fleet_check_ns\": {s:.1}, \"fleet_plain_ns\": {b:.1}, \"fleet_added_ns\": {:.1}, \"fleet_ratio\": {:.3}, \"fleet_round_trips_per_1000\": {per_1000:.1}, \"fleet_lease\": {}",
        s - b,
        ratio.1,
        FleetConfig::default().lease
    ));
}

fn all(c: &mut Criterion) {
    let mut json = vec![format!("\"keys\": {KEYS}, \"feed_events\": {FEED_EVENTS}")];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.sqlite3");
    let url = format!("sqlite:{}", path.display());
    measure(c, "sqlite", &url, &mut json);
    if let Some(pg) = Pg::start() {
        measure(c, "postgres", &pg.url.clone(), &mut json);
    }
    match RedisServer::start() {
        Ok(redis) => fleet_limits(c, &redis.url, &mut json),
        Err(why) => eprintln!("\n!!! store bench: Redis rows SKIPPED: {why} !!!\n"),
    }
    write_results("store.json", &json);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(20);
    targets = all
}
criterion_main!(benches);
