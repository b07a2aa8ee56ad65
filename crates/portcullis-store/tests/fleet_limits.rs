//! Rate limits across a fleet through a real Redis (Debian's `redis-server` on a free
//! loopback port, `tests/common/redis_server.rs`): leases shared by two real processes,
//! Redis stopped and restarted under load, a slow Redis, an organisation of twenty keys,
//! the Lua GCRA against the core's `RateLimiter`, and credits: one key's shared exactly
//! by two processes, a daily refill at midnight, Redis down (503) and back.
//!
//! The two-process test runs this binary again as workers (the ignored test
//! `worker_process`, driven by environment variables; it prints one `FLEET` line); the
//! credits test likewise (`credits_worker_process`, one `CREDITS` line).

mod common;

use common::redis_server::RedisServer;
use portcullis::limit::{Credits, Limit, Limits, Quota, RateLimiter, Refill, Spent, Taken};
use portcullis::{Checker, KeyId, KeySpec, MemoryStore, Peppers, Policy, Request, Timestamp};
use portcullis_store::{Degrade, FleetConfig, FleetLimits};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NOW: Timestamp = Timestamp(1_800_000_000);

/// A policy with one route and these `[[limits]]`.
fn policy(limits: &str) -> Policy {
    Policy::from_toml(&format!(
        r#"
        [service]
        realm = "test"
        [[scopes]]
        name = "claims:read"
        description = "Read Claims"
        [[routes]]
        method = "GET"
        path = "/v1/claims"
        require = "claims:read"
        {limits}
        "#
    ))
    .expect("policy")
}

fn limit(per: &str, rate: u32, burst: u32) -> Limit {
    let p = policy(&format!(
        "[[limits]]\nname = \"shared\"\nper = \"{per}\"\nrate = {rate}\nburst = {burst}\n"
    ));
    p.limits()[0].clone()
}

fn config(lease: u32) -> FleetConfig {
    FleetConfig {
        lease,
        ..FleetConfig::default()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    allowed: u64,
    limited: u64,
    unavailable: u64,
}

impl Counts {
    fn add(&mut self, t: Taken) {
        match t {
            Taken::Allowed { .. } => self.allowed += 1,
            Taken::Limited { .. } => self.limited += 1,
            Taken::Unavailable { .. } => self.unavailable += 1,
        }
    }
}

/// Takes from `limits` every `pause` for `time`.
fn run(limits: &FleetLimits, limit: &Limit, subject: &[u8], time: Duration) -> Counts {
    let mut counts = Counts::default();
    let t0 = Instant::now();
    while t0.elapsed() < time {
        counts.add(limits.take(0, limit, subject));
        std::thread::sleep(Duration::from_micros(200));
    }
    counts
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

#[test]
#[ignore = "a worker process of two_processes_share_one_limit (run by it)"]
fn worker_process() {
    let (Ok(url), Ok(start), Ok(secs)) = (
        std::env::var("FLEET_WORKER_URL"),
        std::env::var("FLEET_WORKER_START_MS"),
        std::env::var("FLEET_WORKER_SECS"),
    ) else {
        return;
    };
    let start: u64 = start.parse().expect("start");
    let secs: u64 = secs.parse().expect("secs");
    let limit = limit("key", 200, 20);
    let limits = FleetLimits::open(&url, config(10)).expect("open");
    // Both workers begin at one wall-clock instant and run the same length of time.
    while wall_ms() < start {
        std::thread::sleep(Duration::from_micros(200));
    }
    let counts = run(&limits, &limit, b"key_shared", Duration::from_secs(secs));
    let stats = limits.stats();
    println!(
        "\nFLEET allowed={} limited={} unavailable={} round_trips={}",
        counts.allowed, counts.limited, counts.unavailable, stats.round_trips
    );
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {line:?}"))
}

#[test]
fn two_processes_share_one_limit() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    const SECS: u64 = 10;
    const RATE: u64 = 200;
    const BURST: u64 = 20;
    const LEASE: u64 = 10;
    let exe = std::env::current_exe().expect("test binary");
    let start = wall_ms() + 1_500;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "worker_process",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("FLEET_WORKER_URL", redis.url())
                .env("FLEET_WORKER_START_MS", start.to_string())
                .env("FLEET_WORKER_SECS", SECS.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    let mut total = Counts::default();
    let mut trips = 0;
    for w in workers {
        let out = w.wait_with_output().expect("worker");
        assert!(out.status.success(), "a worker failed");
        let text = String::from_utf8_lossy(&out.stdout);
        // The harness's own output shares the line.
        let line = text
            .find("FLEET ")
            .and_then(|at| text[at..].lines().next())
            .unwrap_or_else(|| panic!("no FLEET line in {text:?}"));
        println!("worker: {line}");
        total.allowed += field(line, "allowed");
        total.limited += field(line, "limited");
        total.unavailable += field(line, "unavailable");
        trips += field(line, "round_trips");
    }
    let most = RATE * SECS + BURST + 2 * LEASE;
    let least = RATE * SECS * 95 / 100;
    println!(
        "two processes, {RATE}/s for {SECS} s: allowed {} (bounds {least}..={most}), limited {}, round trips {trips}",
        total.allowed, total.limited
    );
    assert_eq!(total.unavailable, 0);
    assert!(total.allowed <= most, "over the limit: {total:?}");
    assert!(total.allowed >= least, "under 95 %: {total:?}");
    assert!(total.limited > 0, "the workers never reached the limit");
}

#[test]
fn redis_stopped_mid_run_fails_closed_then_recovers_without_a_restart() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    const LEASE: u64 = 5;
    let limit = limit("key", 50, 10);
    let limits = FleetLimits::open(&redis.url(), config(LEASE as u32)).expect("open");
    assert!(limits.is_up());
    let up = run(&limits, &limit, b"k1", Duration::from_millis(500));
    assert_eq!(up.unavailable, 0);
    assert!(up.allowed > 0 && up.limited > 0, "{up:?}");

    // A subject under a generous limit holds a lease (LEASE - 1 tokens) when Redis stops.
    let generous = self::limit("key", 1_000, 100);
    assert!(matches!(
        limits.take(0, &generous, b"k2"),
        Taken::Allowed { .. }
    ));

    redis.stop();
    // It spends exactly what it holds, then answers 503.
    for _ in 1..LEASE {
        let t = limits.take(0, &generous, b"k2");
        assert!(matches!(t, Taken::Allowed { .. }), "{t:?}");
    }
    let t = limits.take(0, &generous, b"k2");
    assert!(matches!(t, Taken::Unavailable { .. }), "{t:?}");
    let before = limits.stats();
    let mut down = Counts::default();
    let mut allowed_after_503 = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) {
        let t = limits.take(0, &limit, b"k1");
        if down.unavailable > 0 && matches!(t, Taken::Allowed { .. }) {
            allowed_after_503 += 1;
        }
        if let Taken::Unavailable { retry_after_us } = t {
            assert!(retry_after_us >= 1_000_000, "Retry-After of at least 1 s");
        }
        down.add(t);
        std::thread::sleep(Duration::from_micros(200));
    }
    let after = limits.stats();
    println!("Redis down for 1 s: {down:?}, stats {after:?}");
    // Only what was already leased, then 503s: never an unlimited allow.
    assert!(down.allowed <= LEASE, "{down:?}");
    assert_eq!(allowed_after_503, 0);
    assert!(down.unavailable > 0);
    assert!(!limits.is_up());
    // A probe per backoff (100 ms, doubling), not a Redis call per request.
    let probes = after.failures - before.failures;
    assert!(probes <= 12, "{probes} probes for {down:?}");
    assert!(down.unavailable + down.limited > 100 * probes);

    redis.start_again();
    let t0 = Instant::now();
    let recovered = loop {
        if let Taken::Allowed { .. } = limits.take(0, &limit, b"k1") {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "no allow after the restart"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    println!("allowed again {recovered:?} after the restart");
    assert!(limits.is_up());
    // And limited again as before: within the bound for the rest of a second.
    let t0 = Instant::now();
    let again = run(&limits, &limit, b"k1", Duration::from_millis(600));
    let most = (50.0 * t0.elapsed().as_secs_f64()).ceil() as u64 + 10 + LEASE;
    assert!(again.allowed <= most && again.limited > 0, "{again:?}");
    assert_eq!(again.unavailable, 0);
}

#[test]
fn degrade_local_gives_each_process_its_share_while_redis_is_down() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let limit = limit("key", 100, 20);
    let cfg = FleetConfig {
        lease: 5,
        degrade: Degrade::Local { processes: 4 },
        ..FleetConfig::default()
    };
    let limits = FleetLimits::open(&redis.url(), cfg).expect("open");
    assert!(matches!(
        limits.take(0, &limit, b"k"),
        Taken::Allowed { .. }
    ));
    redis.stop();
    let t0 = Instant::now();
    let down = run(&limits, &limit, b"k", Duration::from_millis(1_000));
    let secs = t0.elapsed().as_secs_f64();
    println!("degraded for {secs:.2} s: {down:?} {:?}", limits.stats());
    // A quarter of the limit: 25/s with a burst of 5, plus the lease held (4 left).
    let most = (25.0 * secs).ceil() as u64 + 5 + 4;
    assert_eq!(down.unavailable, 0);
    assert!(down.allowed >= 20 && down.allowed <= most, "{down:?}");
    assert!(limits.stats().degraded > 0);
}

#[test]
fn a_redis_slower_than_the_budget_counts_as_down() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limit = limit("key", 1_000, 1);
    let limits = FleetLimits::open(&redis.url(), config(1)).expect("open");
    assert!(matches!(
        limits.take(0, &limit, b"s"),
        Taken::Allowed { .. }
    ));
    // Every client is held for 300 ms: the next lease outruns its 5 ms budget.
    let client = redis::Client::open(redis.url()).expect("client");
    let mut admin = client.get_connection().expect("connect");
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .arg("ALL")
        .query::<()>(&mut admin)
        .expect("pause");
    std::thread::sleep(Duration::from_millis(2));
    let t0 = Instant::now();
    let t = limits.take(0, &limit, b"s");
    let waited = t0.elapsed();
    assert!(matches!(t, Taken::Unavailable { .. }), "{t:?}");
    assert!(waited < Duration::from_millis(250), "waited {waited:?}");
    // After the pause a probe finds it again.
    std::thread::sleep(Duration::from_millis(400));
    let t0 = Instant::now();
    while !matches!(limits.take(0, &limit, b"s"), Taken::Allowed { .. }) {
        assert!(t0.elapsed() < Duration::from_secs(3), "never back");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_organisation_with_twenty_keys_cannot_exceed_its_limit() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    const RATE: f64 = 100.0;
    const BURST: u64 = 20;
    const LEASE: u64 = 10;
    let text = "[[limits]]\nname = \"per_org\"\nper = \"owner\"\nrate = 100\nburst = 20\n";
    let peppers = || Peppers::new("p1", &[7u8; 32]).expect("pepper");
    // Two checkers, each with its own fleet limiter: two processes of one fleet.
    let checkers: Vec<Checker> = (0..2)
        .map(|_| {
            let limits = FleetLimits::open(&redis.url(), config(LEASE as u32)).expect("open");
            Checker::new(policy(text), peppers()).with_limits(Arc::new(limits))
        })
        .collect();
    let store = MemoryStore::new();
    let mut keys = Vec::new();
    for i in 0..21 {
        let owner = if i < 20 { "org_1" } else { "org_2" };
        let spec = KeySpec::new(&format!("k{i}"), owner, ["claims:read"]);
        let issued = checkers[0].issue(&spec, NOW).expect("issue");
        keys.push(format!("Bearer {}", issued.key.expose()));
        store.insert(issued.record).expect("insert");
    }
    let other = keys.pop().expect("org_2's key");
    let status = |c: &Checker, header: &str| {
        let r = Request::new("GET", "/v1/claims")
            .authorization(header)
            .https(true);
        c.check(&r, &store, NOW).status()
    };
    let (mut allowed, mut limited, mut n) = (0u64, 0u64, 0usize);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        match status(&checkers[n % 2], &keys[n % keys.len()]) {
            200 => allowed += 1,
            429 => limited += 1,
            s => panic!("status {s}"),
        }
        n += 1;
        std::thread::sleep(Duration::from_micros(200));
    }
    let secs = t0.elapsed().as_secs_f64();
    let most = (RATE * secs).ceil() as u64 + BURST + 2 * LEASE;
    println!(
        "20 keys of one org, 2 processes, {secs:.2} s: allowed {allowed} (≤ {most}), limited {limited}"
    );
    assert!(allowed <= most, "{allowed} > {most}");
    assert!(limited > 0);
    // Another organisation is not limited by org_1's use.
    assert_eq!(status(&checkers[1], &other), 200);
}

#[test]
fn a_flushed_script_cache_is_loaded_again() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limit = limit("key", 1_000, 1);
    let limits = FleetLimits::open(&redis.url(), config(1)).expect("open");
    assert!(matches!(
        limits.take(0, &limit, b"a"),
        Taken::Allowed { .. }
    ));
    let client = redis::Client::open(redis.url()).expect("client");
    let mut admin = client.get_connection().expect("connect");
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut admin)
        .expect("flush");
    let before = limits.stats().round_trips;
    std::thread::sleep(Duration::from_millis(3));
    assert!(matches!(
        limits.take(0, &limit, b"a"),
        Taken::Allowed { .. }
    ));
    // EVALSHA answered NOSCRIPT, EVAL ran it.
    assert_eq!(limits.stats().round_trips - before, 2);
    assert!(limits.is_up());
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn the_lua_gcra_answers_as_the_core_rate_limiter() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limits = FleetLimits::open(&redis.url(), FleetConfig::default()).expect("open");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..40u64 {
        // Intervals of at least 10 ms: the key's expiry (real time) outlives the test's
        // fixed clock.
        let rate = 1 + rng.below(100) as u32;
        let burst = 1 + rng.below(20) as u32;
        let quota = Quota::new(rate, 1, burst).expect("quota");
        let core = RateLimiter::new(16).expect("limiter");
        let key = format!("gcra:{case}");
        let mut now = 1_000_000_000_000 + rng.below(1_000_000);
        for step in 0..60 {
            now += rng.below(quota.interval_us() * 2);
            let n = if rng.below(3) == 0 {
                1 + rng.below(u64::from(burst) + 2) as u32
            } else {
                1
            };
            let lua = limits
                .script_at(key.as_bytes(), &quota, n, now)
                .expect("script");
            let context = format!("case {case} step {step} {quota:?} n={n}");
            if n == 1 {
                let v = core.check(&quota, 0, b"s", now);
                assert_eq!(lua.granted == 1, v.allowed, "{context}");
                assert_eq!(lua.remaining, v.remaining, "{context}");
                assert_eq!(lua.reset_us, v.reset_us, "{context}");
                assert_eq!(lua.retry_after_us, v.retry_after_us, "{context}");
            } else {
                // Up to n: as many as the core says fit, taken all at once there.
                let fits = core.check_n(&quota, 0, b"s", 0, now).remaining;
                assert_eq!(lua.granted, n.min(fits), "{context}");
                if lua.granted > 0 {
                    let v = core.check_n(&quota, 0, b"s", lua.granted, now);
                    assert!(v.allowed, "{context}");
                    assert_eq!((lua.remaining, lua.reset_us), (v.remaining, v.reset_us));
                }
            }
        }
    }
}

#[test]
fn a_slow_limit_leases_one_token_at_a_time() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // 100 a day: a lease of 10 would expire unspent after 1 s and waste the day's quota.
    let p = policy("[[limits]]\nname = \"daily\"\nrate = 100\nwindow = 86400\n");
    let daily = &p.limits()[0];
    let limits = FleetLimits::open(&redis.url(), FleetConfig::default()).expect("open");
    // The first call also loads the script (NOSCRIPT, then EVAL).
    assert!(matches!(limits.take(0, daily, b"d"), Taken::Allowed { .. }));
    let first = limits.stats().round_trips;
    for i in 1..=2 {
        assert!(matches!(limits.take(0, daily, b"d"), Taken::Allowed { .. }));
        assert_eq!(limits.stats().round_trips, first + i, "one token per call");
    }
    let client = redis::Client::open(redis.url()).expect("client");
    let mut admin = client.get_connection().expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("portcullis:limit:*")
        .query(&mut admin)
        .expect("keys");
    assert_eq!(keys, ["portcullis:limit:daily:key:d"]);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query(&mut admin)
        .expect("ttl");
    // Three of a hundred a day: the TAT is 3 × 864 s ahead, and the key expires with it.
    assert!((2_592_000 - 5_000..=2_592_001).contains(&ttl), "{ttl}");
}

// Credits ------------------------------------------------------------------------------

/// A key id of this test's own (ids are 16 base62 characters).
fn key_id(text: &str) -> KeyId {
    KeyId::parse(text).expect("key id")
}

#[test]
#[ignore = "a worker process of two_processes_share_one_keys_credits_exactly (run by it)"]
fn credits_worker_process() {
    let (Ok(url), Ok(start), Ok(tries)) = (
        std::env::var("FLEET_WORKER_URL"),
        std::env::var("FLEET_WORKER_START_MS"),
        std::env::var("FLEET_WORKER_TRIES"),
    ) else {
        return;
    };
    let start: u64 = start.parse().expect("start");
    let tries: u32 = tries.parse().expect("tries");
    let limits = FleetLimits::open(&url, FleetConfig::default()).expect("open");
    let credits = Credits::new(50, Refill::Monthly);
    let key = key_id("creditsShared001");
    while wall_ms() < start {
        std::thread::sleep(Duration::from_micros(200));
    }
    let (mut spent, mut exhausted, mut unavailable, mut remaining_sum) = (0, 0, 0, 0u64);
    for _ in 0..tries {
        match limits.spend(&key, &credits, NOW) {
            Spent::Spent { remaining } => {
                spent += 1;
                remaining_sum += u64::from(remaining);
            }
            Spent::Exhausted => exhausted += 1,
            Spent::Unavailable { .. } => unavailable += 1,
        }
    }
    println!(
        "\nCREDITS spent={spent} exhausted={exhausted} unavailable={unavailable} remaining_sum={remaining_sum}"
    );
}

#[test]
fn two_processes_share_one_keys_credits_exactly() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let exe = std::env::current_exe().expect("test binary");
    let start = wall_ms() + 1_500;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "credits_worker_process",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("FLEET_WORKER_URL", redis.url())
                .env("FLEET_WORKER_START_MS", start.to_string())
                .env("FLEET_WORKER_TRIES", "60")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    let (mut spent, mut exhausted, mut sum) = (0, 0, 0);
    for w in workers {
        let out = w.wait_with_output().expect("worker");
        assert!(out.status.success(), "a worker failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .find("CREDITS ")
            .and_then(|at| text[at..].lines().next())
            .unwrap_or_else(|| panic!("no CREDITS line in {text:?}"));
        println!("worker: {line}");
        assert_eq!(field(line, "unavailable"), 0);
        spent += field(line, "spent");
        exhausted += field(line, "exhausted");
        sum += field(line, "remaining_sum");
    }
    // Exactly the amount, each remaining count (49 down to 0) answered once.
    assert_eq!((spent, exhausted), (50, 70));
    assert_eq!(sum, (0..50).sum::<u64>());
}

#[test]
fn two_fleet_limits_in_threads_share_credits_exactly() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let credits = Credits::new(50, Refill::Never);
    let key = key_id("creditsThreads01");
    let limits: Vec<_> = (0..2)
        .map(|_| Arc::new(FleetLimits::open(&redis.url(), FleetConfig::default()).expect("open")))
        .collect();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let l = Arc::clone(&limits[t % 2]);
            std::thread::spawn(move || {
                (0..30)
                    .filter(|_| matches!(l.spend(&key, &credits, NOW), Spent::Spent { .. }))
                    .count()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(total, 50);
    // Credits that never refill are not bound to a time: later is the same count.
    let later = Timestamp(NOW.secs() + 400 * 86_400);
    assert_eq!(limits[0].spend(&key, &credits, later), Spent::Exhausted);
}

/// The Redis key's time to live (-1: none, -2: no key).
fn ttl(redis: &RedisServer, key: &str) -> i64 {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut c = client.get_connection().expect("connection");
    redis::cmd("TTL").arg(key).query(&mut c).expect("TTL")
}

#[test]
fn daily_credits_come_back_at_midnight_utc() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limits = FleetLimits::open(&redis.url(), FleetConfig::default()).expect("open");
    let other = FleetLimits::open(&redis.url(), FleetConfig::default()).expect("open");
    let daily = Credits::new(3, Refill::Daily);
    let key = key_id("creditsDaily0001");
    let midnight = Timestamp((NOW.secs() / 86_400 + 1) * 86_400);
    let before = Timestamp(midnight.secs() - 1);
    for (n, l) in [2, 1, 0].into_iter().zip([&limits, &other, &limits]) {
        assert_eq!(l.spend(&key, &daily, before), Spent::Spent { remaining: n });
    }
    assert_eq!(other.spend(&key, &daily, before), Spent::Exhausted);
    // The day's count expires an hour after the day ends, not before.
    let day = midnight.secs() / 86_400 - 1;
    let name = format!("portcullis:limit:credits:creditsDaily0001:daily:{day}");
    let t = ttl(&redis, &name);
    assert!((3_590..=3_601).contains(&t), "TTL {t}");
    // A credit given back (a later check refused the request) can be spent again.
    limits.unspend(&key, &daily, before);
    assert_eq!(
        other.spend(&key, &daily, before),
        Spent::Spent { remaining: 0 }
    );
    assert_eq!(limits.spend(&key, &daily, before), Spent::Exhausted);

    // At 00:00:00 UTC the new day has all three, for every process.
    assert_eq!(
        other.spend(&key, &daily, midnight),
        Spent::Spent { remaining: 2 }
    );
    assert_eq!(
        limits.spend(&key, &daily, midnight),
        Spent::Spent { remaining: 1 }
    );
    // A process whose clock lags a second still counts in the old day: exhausted.
    assert_eq!(limits.spend(&key, &daily, before), Spent::Exhausted);

    // Credits that never refill never expire.
    let never = Credits::new(1, Refill::Never);
    let once = key_id("creditsNever0001");
    assert_eq!(
        limits.spend(&once, &never, NOW),
        Spent::Spent { remaining: 0 }
    );
    assert_eq!(
        ttl(&redis, "portcullis:limit:credits:creditsNever0001:never:0"),
        -1
    );
    // Malformed credits (amount 0) allow nothing.
    let none = Credits::new(0, Refill::Daily);
    assert_eq!(limits.spend(&key, &none, midnight), Spent::Exhausted);
}

#[test]
fn redis_down_makes_credits_503_never_an_allow_then_they_work_again() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let limits = FleetLimits::open(&redis.url(), config(5)).expect("open");
    let credits = Credits::new(1_000, Refill::Monthly);
    let key = key_id("creditsDown00001");
    assert_eq!(
        limits.spend(&key, &credits, NOW),
        Spent::Spent { remaining: 999 }
    );
    redis.stop();
    for _ in 0..200 {
        match limits.spend(&key, &credits, NOW) {
            Spent::Unavailable { retry_after_us } => assert!(retry_after_us >= 1_000_000),
            other => panic!("Redis is down: {other:?}"),
        }
    }
    // Degrade::Local is for rate limits only: credits still fail closed.
    let local = FleetLimits::open(
        &redis.url(),
        FleetConfig {
            degrade: Degrade::Local { processes: 2 },
            ..FleetConfig::default()
        },
    )
    .expect("open");
    assert!(matches!(
        local.spend(&key, &credits, NOW),
        Spent::Unavailable { .. }
    ));
    assert!(limits.stats().unavailable >= 200);

    redis.start_again();
    let t0 = Instant::now();
    loop {
        match limits.spend(&key, &credits, NOW) {
            // The test server keeps nothing on disk: the count starts again.
            Spent::Spent { remaining } => {
                assert_eq!(remaining, 999);
                break;
            }
            Spent::Exhausted => panic!("exhausted after a restart"),
            Spent::Unavailable { .. } => {
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "no spend after the restart"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[test]
fn a_fleet_checker_answers_credits_exhausted_and_503_when_redis_is_down() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let limits = FleetLimits::open(&redis.url(), FleetConfig::default()).expect("open");
    let peppers = Peppers::new("p1", &[7u8; 32]).expect("pepper");
    let checker = Checker::new(policy(""), peppers).with_limits(Arc::new(limits));
    let store = MemoryStore::new();
    let mut spec = KeySpec::new("credited", "org_1", ["claims:read"]);
    spec.metadata.insert(
        "credits".into(),
        serde_json::json!({"amount": 2, "refill": "daily"}),
    );
    let issued = checker.issue(&spec, NOW).expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    let check = || {
        let r = Request::new("GET", "/v1/claims")
            .authorization(&header)
            .https(true);
        let d = checker.check(&r, &store, NOW);
        (d.status(), d.credits_remaining())
    };
    assert_eq!(check(), (200, Some(1)));
    assert_eq!(check(), (200, Some(0)));
    assert_eq!(check(), (429, Some(0)));
    redis.stop();
    assert_eq!(check().0, 503);
}
