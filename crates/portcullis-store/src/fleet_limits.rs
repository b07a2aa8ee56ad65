//! Rate limits shared across a fleet: quotas leased from Redis in small batches.
//!
//! ```no_run
//! use portcullis_store::fleet_limits::{FleetConfig, FleetLimits};
//! use std::sync::Arc;
//! let limits = FleetLimits::open("redis://127.0.0.1:6379", FleetConfig::default())?;
//! // let checker = checker.with_limits(Arc::new(limits));
//! # let _ = Arc::new(limits);
//! # Ok::<(), portcullis_store::Error>(())
//! ```
//!
//! Decisions:
//! - **Leases:** per (limit, subject) a process takes up to `lease` tokens (never more
//!   than the quota's burst, nor than accrue in [`FleetConfig::lease_for`]) with one atomic Redis call: a Lua script running the same
//!   GCRA as [`portcullis::limit::RateLimiter`] on the server's `TIME`, granting what fits
//!   and answering the granted count, what is left, the retry-after and the reset. The
//!   process spends them locally under a short per-subject lock, so N processes exceed a
//!   limit by at most N leases, and most checks make no Redis call.
//! - **Leases expire** after [`FleetConfig::lease_for`] (1 s): an idle process does not
//!   hoard tokens. Tokens of an expired lease are not given back to Redis (the fleet then
//!   allows a little less, never more).
//! - **A refusal is remembered** until its retry-after, so a flood of limited requests
//!   costs one Redis call per retry-after, not one per request.
//! - **Fail closed:** every Redis call has a budget ([`FleetConfig::budget`], 5 ms: the
//!   connect, write and read timeouts). When Redis is unreachable or slower, the
//!   connection is dropped and a process spends only the tokens it already holds, then
//!   answers [`Taken::Unavailable`] (503 `limiter_unavailable`), never an unlimited
//!   allow; it probes Redis again at most once per backoff (100 ms, doubling to 1 s), not
//!   once per request, and reconnects by itself. [`Degrade::Local`] instead gives each
//!   process its share of the limit (limit ÷ processes) while Redis is down.
//! - **Bounded memory:** leases live in a fixed table (`max_subjects`, allocated at open);
//!   a subject takes a free slot or one whose lease and refusal have passed within a probe
//!   window of 8. When none is free, the request asks Redis for one token directly
//!   (correct, one round trip).
//! - **No plaintext off the machine:** `redis://` must name a loopback address and
//!   `redis+unix://` a socket; TLS (`rediss://`) is not built in: reach a remote Redis
//!   through a local TLS proxy (stunnel, a sidecar). A URL's password is never shown.
//! - **Redis keys:** `{prefix}{limit name}:{key|owner}:{subject}`, expiring when their
//!   TAT passes. Processes must share the policy's limit names and quotas.
//! - **Credits** ([`Limits::spend`]) are counted in Redis, one atomic script per spend
//!   on `{prefix}credits:{key id}:{refill}:{period}`: it adds one only while the count is
//!   below the amount, so the fleet spends exactly `amount` per period, never one more.
//!   Not leased: a leased credit dies with its process (a crash or a restart), and a
//!   credit that never refills would be lost for good; a credited request costs one
//!   round trip instead. A refilling period's key expires an hour after the period ends
//!   (a process whose clock lags still finds it); a `never` key does not expire. They are
//!   as durable as the Redis (enable its AOF or snapshots): a Redis that loses its data
//!   refills every key's credits.
//! - **Credits fail closed** under every [`Degrade`]: while Redis is down a key with
//!   credits gets [`Spent::Unavailable`] (503), and a credit given back
//!   ([`Limits::unspend`]) while it is down stays spent (the fleet allows less).

use crate::error::{Error, ErrorKind};
use crate::url::MAX_URL_LEN;
use portcullis::limit::{
    Clock, Credits, Limit, Limits, MAX_WINDOW_SECS, MonotonicClock, Per, Quota, RateLimiter,
    Refill, Spent, Taken,
};
use portcullis::{KeyId, Timestamp};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The most subjects whose leases one process holds at once.
pub const MAX_LEASED_SUBJECTS: usize = 1 << 22;
/// Slots probed for a subject.
const WINDOW: usize = 8;
/// The longest probe backoff while Redis is down.
const MAX_BACKOFF_US: u64 = 1_000_000;

/// GCRA in Redis, the core's semantics for up to `n` tokens: KEYS[1] the subject's TAT
/// (microseconds of the server's clock); ARGV interval (µs), burst, n, and optionally a
/// fixed now (tests only). Returns {granted, remaining, retry_after_us, reset_us}.
const SCRIPT: &str = r"
local now
if ARGV[4] then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[1])
local horizon = interval * tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local ahead = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  ahead = tonumber(stored) - now
  if ahead < 0 or ahead > horizon then ahead = 0 end
end
local fits = math.floor((horizon - ahead) / interval)
local granted = math.max(0, math.min(n, fits))
local after = ahead + granted * interval
if granted > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', now + after), 'PX', math.floor(after / 1000) + 1)
end
local retry = 0
if granted == 0 then retry = ahead + interval - horizon end
return {granted, math.floor((horizon - after) / interval), retry, after}
";

/// Credits in Redis: KEYS[1] the period's count of spent credits; ARGV amount, the
/// key's time to live in seconds (0: none), and 1 to spend one or -1 to give one back.
/// Returns {spent (1 or 0), remaining}.
const CREDITS_SCRIPT: &str = r"
local amount = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[3] == '-1' then
  if used > 0 then redis.call('DECR', KEYS[1]) end
  return {0, math.max(0, amount - math.max(0, used - 1))}
end
if used >= amount then return {0, 0} end
used = redis.call('INCR', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return {1, amount - used}
";

/// How long a refilling period's count outlives the period, in seconds: a process whose
/// clock lags behind still counts in it.
const CREDITS_MARGIN_SECS: u64 = 3_600;

/// What a process does while Redis is down and it holds no tokens of a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Degrade {
    /// 503 `limiter_unavailable` (the default: a limit is never exceeded).
    #[default]
    Closed,
    /// Counts the limit in this process at its share: `rate ÷ processes` and
    /// `burst ÷ processes` (at least 1; a rate below `processes` per window becomes one
    /// per `processes` windows). The fleet stays within the limit only if at most
    /// `processes` processes run.
    Local {
        /// Processes in the fleet (0 counts as 1).
        processes: u32,
    },
}

/// How a [`FleetLimits`] leases and fails.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// Tokens taken per Redis call (default 10; at least 1, at most the quota's burst and
    /// what the quota accrues in `lease_for`).
    pub lease: u32,
    /// The longest a Redis call may take, connecting included (default 5 ms; at least
    /// 1 ms): past it Redis counts as down.
    pub budget: Duration,
    /// How long a lease's tokens may be spent (default 1 s).
    pub lease_for: Duration,
    /// The first backoff between probes of a down Redis (default 100 ms; doubling to 1 s).
    pub probe_every: Duration,
    /// Subjects (limit × key or owner) whose leases are held at once (default 10,000; at
    /// most [`MAX_LEASED_SUBJECTS`]).
    pub max_subjects: usize,
    /// While Redis is down (default [`Degrade::Closed`]).
    pub degrade: Degrade,
    /// Prefix of the Redis keys (default `portcullis:limit:`).
    pub prefix: String,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            lease: 10,
            budget: Duration::from_millis(5),
            lease_for: Duration::from_secs(1),
            probe_every: Duration::from_millis(100),
            max_subjects: 10_000,
            degrade: Degrade::Closed,
            prefix: "portcullis:limit:".to_owned(),
        }
    }
}

/// Counters of a [`FleetLimits`] (since it was opened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Commands sent to Redis (a script call is one; a `NOSCRIPT` retry another).
    pub round_trips: u64,
    /// Redis calls or connects that failed or outran the budget.
    pub failures: u64,
    /// Answers [`Taken::Unavailable`].
    pub unavailable: u64,
    /// Answers counted locally under [`Degrade::Local`].
    pub degraded: u64,
    /// Connections made (the first included).
    pub connects: u64,
}

/// What Redis granted ([`FleetLimits::script_at`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Tokens granted (0: limited).
    pub granted: u32,
    /// Tokens that could still be taken at once after these.
    pub remaining: u32,
    /// When none was granted, microseconds until one would be.
    pub retry_after_us: u64,
    /// Microseconds until the full burst is back.
    pub reset_us: u64,
}

/// One subject's lease in this process.
#[derive(Default)]
struct Lease {
    /// The subject's print (0: empty).
    print: u64,
    tokens: u32,
    /// Redis's remaining count when the lease was granted.
    shared: u32,
    expires_us: u64,
    /// Redis refused until then: answered here.
    limited_until_us: u64,
    /// When the subject is back to its full burst.
    reset_at_us: u64,
}

impl Lease {
    /// When the slot may go to another subject.
    fn until(&self) -> u64 {
        self.expires_us.max(self.limited_until_us)
    }
}

struct Slot {
    /// The lease's print, read without the lock to find it (0: empty).
    print: AtomicU64,
    /// [`Lease::until`], read without the lock to find a free slot.
    until: AtomicU64,
    lease: Mutex<Lease>,
}

/// The connection and a reusable key buffer.
struct Conn {
    client: redis::Client,
    connection: Option<redis::Connection>,
    key: Vec<u8>,
    /// The current probe backoff.
    backoff_us: u64,
}

/// Rate limits counted across a fleet in Redis ([`Limits`] for
/// [`portcullis::Checker::with_limits`]); see the module notes.
pub struct FleetLimits {
    config: FleetConfig,
    /// `host:port` or the socket path, for `Debug` (never the password).
    target: String,
    conn: Mutex<Conn>,
    /// Until when Redis counts as down (monotonic µs; 0: up).
    down_until: AtomicU64,
    clock: MonotonicClock,
    hasher: foldhash::fast::RandomState,
    slots: Box<[Slot]>,
    mask: usize,
    local: Option<RateLimiter>,
    /// The script's SHA-1 (EVALSHA).
    sha: String,
    /// The credits script's SHA-1.
    credits_sha: String,
    budget: Duration,
    lease_us: u64,
    probe_us: u64,
    round_trips: AtomicU64,
    failures: AtomicU64,
    unavailable: AtomicU64,
    degraded: AtomicU64,
    connects: AtomicU64,
}

impl fmt::Debug for FleetLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetLimits")
            .field("redis", &self.target)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Whether `host` is this machine.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Parses a Redis URL, refusing plaintext off this machine; the client and its target.
fn parse_url(url: &str) -> Result<(redis::Client, String), Error> {
    let bad = |message: &str| Error::new(ErrorKind::BadUrl, message.to_owned());
    if url.len() > MAX_URL_LEN {
        return Err(bad("the Redis URL is too long"));
    }
    if url.starts_with("rediss://") {
        return Err(bad(
            "TLS to Redis is not built in: use redis:// to a loopback address and a local TLS proxy",
        ));
    }
    if !(url.starts_with("redis://")
        || url.starts_with("redis+unix://")
        || url.starts_with("unix://"))
    {
        return Err(bad(
            "a Redis URL starts with redis:// (loopback) or redis+unix:// (a socket)",
        ));
    }
    // The client's errors may quote the URL: not shown.
    let client = redis::Client::open(url)
        .map_err(|_| bad("the Redis URL does not parse (check its host, port and escapes)"))?;
    let target = match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) if is_loopback(host) => format!("{host}:{port}"),
        redis::ConnectionAddr::Tcp(..) => {
            return Err(bad(
                "plaintext Redis is refused off this machine: name a loopback address (a local TLS proxy to a remote Redis) or a socket",
            ));
        }
        redis::ConnectionAddr::Unix(path) => path.display().to_string(),
        _ => return Err(bad("TLS to Redis is not built in")),
    };
    Ok((client, target))
}

/// The share of `quota` one of `processes` processes may use alone.
fn share(quota: &Quota, processes: u32) -> Quota {
    let n = processes.max(1);
    let burst = (quota.burst() / n).max(1);
    let divided = if quota.rate() >= n {
        Quota::new(quota.rate() / n, quota.window(), burst)
    } else {
        let window = quota.window().saturating_mul(n).min(MAX_WINDOW_SECS);
        Quota::new(1, window, 1)
    };
    // The divided quota is never faster than the valid one it comes from.
    divided.unwrap_or(*quota)
}

impl FleetLimits {
    /// Limits counted in the Redis at `url` (`redis://[user:password@]127.0.0.1:6379[/db]`
    /// or `redis+unix:///path/redis.sock`). Redis need not be up: until it is, requests
    /// are answered as when it is down.
    ///
    /// # Errors
    /// [`ErrorKind::BadUrl`]: the URL does not parse, uses TLS (`rediss://`) or names a
    /// host other than this machine.
    pub fn open(url: &str, config: FleetConfig) -> Result<FleetLimits, Error> {
        let (client, target) = parse_url(url)?;
        let wanted = config.max_subjects.clamp(1, MAX_LEASED_SUBJECTS);
        let len = (wanted + wanted / 3).next_power_of_two().max(WINDOW);
        let slots = (0..len)
            .map(|_| Slot {
                print: AtomicU64::new(0),
                until: AtomicU64::new(0),
                lease: Mutex::new(Lease::default()),
            })
            .collect();
        let local = match config.degrade {
            Degrade::Closed => None,
            Degrade::Local { .. } => RateLimiter::new(wanted).ok(),
        };
        let budget = config.budget.max(Duration::from_millis(1));
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let limits = FleetLimits {
            target,
            conn: Mutex::new(Conn {
                client,
                connection: None,
                key: Vec::with_capacity(128),
                backoff_us: 0,
            }),
            down_until: AtomicU64::new(0),
            clock: MonotonicClock::new(),
            hasher: foldhash::fast::RandomState::default(),
            slots,
            mask: len - 1,
            local,
            sha: redis::Script::new(SCRIPT).get_hash().to_owned(),
            credits_sha: redis::Script::new(CREDITS_SCRIPT).get_hash().to_owned(),
            budget,
            lease_us: micros(config.lease_for).max(1),
            probe_us: micros(config.probe_every).clamp(1, MAX_BACKOFF_US),
            round_trips: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            degraded: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            config,
        };
        // A first connection now, so the first requests need not wait for it.
        drop(limits.connection(limits.clock.now_us()));
        Ok(limits)
    }

    /// Its counters.
    pub fn stats(&self) -> FleetStats {
        FleetStats {
            round_trips: self.round_trips.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            degraded: self.degraded.load(Ordering::Relaxed),
            connects: self.connects.load(Ordering::Relaxed),
        }
    }

    /// Whether Redis answered the last call (or connect).
    pub fn is_up(&self) -> bool {
        self.down_until.load(Ordering::Relaxed) == 0
    }

    /// Its settings.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Runs the script once for `n` tokens of `key` at a fixed `now_us` (Redis keeps the
    /// TAT on that clock): the GCRA's tests compare it with the core's.
    ///
    /// # Errors
    /// [`ErrorKind::Unreachable`] when Redis did not answer within the budget.
    #[doc(hidden)]
    pub fn script_at(
        &self,
        key: &[u8],
        quota: &Quota,
        n: u32,
        now_us: u64,
    ) -> Result<Grant, Error> {
        let mut conn = self
            .connection(self.clock.now_us())
            .ok_or_else(|| Error::new(ErrorKind::Unreachable, "Redis did not answer"))?;
        conn.key.clear();
        conn.key.extend_from_slice(key);
        self.run(&mut conn, quota, n, Some(now_us))
            .ok_or_else(|| Error::new(ErrorKind::Unreachable, "Redis did not answer"))
    }

    fn print(&self, index: u32, subject: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u32(index);
        h.write(subject);
        h.finish() | 1
    }

    /// The subject's lease slot, locked: its own, or a free one claimed for it; `None`
    /// when the window is full.
    fn slot(&self, print: u64, now: u64, claim: bool) -> Option<(usize, MutexGuard<'_, Lease>)> {
        let start = print as usize & self.mask;
        let mut free = None;
        for k in 0..WINDOW {
            let i = (start + k) & self.mask;
            let slot = &self.slots[i];
            if slot.print.load(Ordering::Acquire) == print {
                let lease = lock(&slot.lease);
                if lease.print == print {
                    return Some((i, lease));
                }
            } else if free.is_none() && slot.until.load(Ordering::Acquire) <= now {
                free = Some(i);
            }
        }
        if !claim {
            return None;
        }
        // Claimed under its lock, after checking again that it is free.
        let i = free?;
        let slot = &self.slots[i];
        let mut lease = lock(&slot.lease);
        if lease.print != 0 && lease.until() > now {
            return None;
        }
        *lease = Lease {
            print,
            ..Lease::default()
        };
        slot.print.store(print, Ordering::Release);
        Some((i, lease))
    }

    /// The connection, locked; `None` while Redis is down (a probe is due at most once
    /// per backoff, made by the caller that finds it due).
    fn connection(&self, now: u64) -> Option<MutexGuard<'_, Conn>> {
        let down = self.down_until.load(Ordering::Acquire);
        if down != 0 && now < down {
            return None;
        }
        let mut conn = lock(&self.conn);
        if conn.connection.is_some() {
            return Some(conn);
        }
        // Another caller may have probed while this one waited.
        let down = self.down_until.load(Ordering::Acquire);
        if down != 0 && now < down {
            return None;
        }
        let made = conn
            .client
            .get_connection_with_timeout(self.budget)
            .and_then(|c| {
                c.set_read_timeout(Some(self.budget))?;
                c.set_write_timeout(Some(self.budget))?;
                Ok(c)
            });
        match made {
            Ok(c) => {
                conn.connection = Some(c);
                conn.backoff_us = 0;
                self.connects.fetch_add(1, Ordering::Relaxed);
                self.down_until.store(0, Ordering::Release);
                Some(conn)
            }
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.went_down(&mut conn, now);
                None
            }
        }
    }

    /// Drops the connection and waits a backoff before the next probe.
    fn went_down(&self, conn: &mut Conn, now: u64) {
        conn.connection = None;
        conn.backoff_us = if conn.backoff_us == 0 {
            self.probe_us
        } else {
            conn.backoff_us.saturating_mul(2).min(MAX_BACKOFF_US)
        };
        let until = now.saturating_add(conn.backoff_us).max(1);
        self.down_until.store(until, Ordering::Release);
    }

    /// The GCRA script on the connection for the key in `conn.key`; `None` (the
    /// connection dropped) on any error or past the budget.
    fn run(&self, conn: &mut Conn, quota: &Quota, n: u32, now_us: Option<u64>) -> Option<Grant> {
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let args = [
            int(quota.interval_us()),
            i64::from(quota.burst()),
            i64::from(n),
            int(now_us.unwrap_or(0)),
        ];
        let args = if now_us.is_some() {
            &args[..]
        } else {
            &args[..3]
        };
        match self.eval(conn, SCRIPT, &self.sha, args).as_deref() {
            Some(&[granted, remaining, retry, reset]) => Some(Grant {
                granted: u32::try_from(granted).unwrap_or(0),
                remaining: u32::try_from(remaining).unwrap_or(0),
                retry_after_us: u64::try_from(retry).unwrap_or(0),
                reset_us: u64::try_from(reset).unwrap_or(0),
            }),
            _ => self.failed(conn),
        }
    }

    /// Counts a failure and drops the connection.
    #[cold]
    fn failed<T>(&self, conn: &mut Conn) -> Option<T> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.went_down(conn, self.clock.now_us());
        None
    }

    /// `script` (its SHA-1 `sha`) on the connection for the key in `conn.key` with
    /// `args`; its integers, or `None` on any error or past the budget (the caller
    /// counts the failure).
    fn eval(&self, conn: &mut Conn, script: &str, sha: &str, args: &[i64]) -> Option<Vec<i64>> {
        let Conn {
            connection, key, ..
        } = conn;
        let c = connection.as_mut()?;
        let call = |eval: bool| {
            let mut cmd = if eval {
                redis::cmd("EVAL").arg(script).to_owned()
            } else {
                redis::cmd("EVALSHA").arg(sha).to_owned()
            };
            cmd.arg(1).arg(key.as_slice());
            for arg in args {
                cmd.arg(*arg);
            }
            cmd
        };
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let mut answer: redis::RedisResult<Vec<i64>> = call(false).query(c);
        if answer
            .as_ref()
            .is_err_and(|e| e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
        {
            // A restarted or flushed Redis: the source once, cached by the server after.
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            answer = call(true).query(c);
        }
        answer.ok()
    }

    /// Asks Redis for up to `n` tokens of the subject; `None` while it is down.
    fn lease(&self, limit: &Limit, subject: &[u8], n: u32, now: u64) -> Option<Grant> {
        let mut conn = self.connection(now)?;
        let prefix = self.config.prefix.as_bytes();
        conn.key.clear();
        conn.key.extend_from_slice(prefix);
        conn.key.extend_from_slice(limit.name().as_bytes());
        conn.key.extend_from_slice(match limit.per() {
            Per::Key => b":key:",
            Per::Owner => b":owner:",
        });
        conn.key.extend_from_slice(subject);
        self.run(&mut conn, limit.quota(), n, None)
    }

    /// Runs the credits script for `key` at `now` (`give_back`: -1 instead of +1); its
    /// answer {spent, remaining}, or `None` while Redis is down.
    fn credits(
        &self,
        key: &KeyId,
        credits: &Credits,
        now: Timestamp,
        give_back: bool,
    ) -> Option<(bool, u32)> {
        let mut conn = self.connection(self.clock.now_us())?;
        let refill = credits.refill();
        conn.key.clear();
        conn.key.extend_from_slice(self.config.prefix.as_bytes());
        conn.key.extend_from_slice(b"credits:");
        conn.key.extend_from_slice(key.as_bytes());
        conn.key.push(b':');
        conn.key.extend_from_slice(refill.as_str().as_bytes());
        // Writing to a Vec cannot fail.
        let _ = write!(conn.key, ":{}", credits.period(now));
        let ttl = match (refill, credits.next_refill(now)) {
            (Refill::Never, _) | (_, None) => 0,
            (_, Some(end)) => end.since(now).saturating_add(CREDITS_MARGIN_SECS),
        };
        let args = [
            i64::from(credits.amount()),
            i64::try_from(ttl).unwrap_or(i64::MAX),
            if give_back { -1 } else { 1 },
        ];
        let answer = self.eval(&mut conn, CREDITS_SCRIPT, &self.credits_sha, &args);
        match answer.as_deref() {
            Some(&[spent, remaining]) => Some((spent == 1, u32::try_from(remaining).unwrap_or(0))),
            _ => self.failed(&mut conn),
        }
    }

    /// The answer while Redis is down and no lease holds a token.
    #[cold]
    fn down(&self, index: u32, limit: &Limit, subject: &[u8], now: u64) -> Taken {
        if let (Some(local), Degrade::Local { processes }) = (&self.local, self.config.degrade) {
            self.degraded.fetch_add(1, Ordering::Relaxed);
            let v = local.check(&share(limit.quota(), processes), index, subject, now);
            return if v.allowed {
                Taken::Allowed {
                    remaining: v.remaining,
                    reset_us: v.reset_us,
                }
            } else {
                Taken::Limited {
                    retry_after_us: v.retry_after_us,
                    reset_us: v.reset_us,
                }
            };
        }
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        let next = self.down_until.load(Ordering::Acquire).saturating_sub(now);
        Taken::Unavailable {
            retry_after_us: next.max(1_000_000),
        }
    }
}

/// A lock, even if a thread panicked holding it (a lease is plain counters).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Limits for FleetLimits {
    fn take(&self, index: u32, limit: &Limit, subject: &[u8]) -> Taken {
        let now = self.clock.now_us();
        let print = self.print(index, subject);
        let quota = limit.quota();
        let Some((i, mut lease)) = self.slot(print, now, true) else {
            // No slot free in the window: one token straight from Redis.
            return match self.lease(limit, subject, 1, now) {
                Some(g) if g.granted > 0 => Taken::Allowed {
                    remaining: g.remaining,
                    reset_us: g.reset_us,
                },
                Some(g) => Taken::Limited {
                    retry_after_us: g.retry_after_us,
                    reset_us: g.reset_us,
                },
                None => self.down(index, limit, subject, now),
            };
        };
        if lease.tokens > 0 && now < lease.expires_us {
            lease.tokens -= 1;
            return Taken::Allowed {
                remaining: lease.tokens.saturating_add(lease.shared).min(quota.burst()),
                reset_us: lease.reset_at_us.saturating_sub(now),
            };
        }
        if now < lease.limited_until_us {
            return Taken::Limited {
                retry_after_us: lease.limited_until_us - now,
                reset_us: lease.reset_at_us.saturating_sub(now),
            };
        }
        // No more than accrue while a lease lasts: a slow limit (100 a day) leases one.
        let accrues = self.lease_us / quota.interval_us().max(1);
        let n = self
            .config
            .lease
            .min(quota.burst())
            .min(u32::try_from(accrues).unwrap_or(u32::MAX))
            .max(1);
        let taken = match self.lease(limit, subject, n, now) {
            None => {
                // The lease (if any) is spent or expired: nothing more is held, and a
                // refund of this answer must not reach it.
                lease.tokens = 0;
                lease.expires_us = now;
                drop(lease);
                return self.down(index, limit, subject, now);
            }
            Some(g) if g.granted == 0 => {
                lease.tokens = 0;
                lease.limited_until_us = now.saturating_add(g.retry_after_us);
                lease.reset_at_us = now.saturating_add(g.reset_us);
                Taken::Limited {
                    retry_after_us: g.retry_after_us,
                    reset_us: g.reset_us,
                }
            }
            Some(g) => {
                lease.tokens = g.granted - 1;
                lease.shared = g.remaining;
                lease.expires_us = now.saturating_add(self.lease_us);
                // None left in Redis: the next token is due when one interval fits again,
                // so a spent lease asks no sooner (a call that would be refused).
                lease.limited_until_us = if g.remaining == 0 {
                    let horizon = quota.interval_us().saturating_mul(u64::from(quota.burst()));
                    let due = (g.reset_us + quota.interval_us()).saturating_sub(horizon);
                    now.saturating_add(due)
                } else {
                    0
                };
                lease.reset_at_us = now.saturating_add(g.reset_us);
                Taken::Allowed {
                    remaining: lease.tokens.saturating_add(g.remaining).min(quota.burst()),
                    reset_us: g.reset_us,
                }
            }
        };
        self.slots[i].until.store(lease.until(), Ordering::Release);
        taken
    }

    fn refund(&self, index: u32, limit: &Limit, subject: &[u8]) {
        let now = self.clock.now_us();
        // A token of a live lease goes back to it; one from elsewhere (a degraded count,
        // a direct grant, an expired lease) is not given back: the fleet allows less.
        if let Some((_, mut lease)) = self.slot(self.print(index, subject), now, false)
            && now < lease.expires_us
        {
            lease.tokens = lease.tokens.saturating_add(1).min(limit.quota().burst());
            return;
        }
        if let (Some(local), Degrade::Local { processes }) = (&self.local, self.config.degrade) {
            local.refund(&share(limit.quota(), processes), index, subject, 1, now);
        }
    }

    fn spend(&self, key: &KeyId, credits: &Credits, now: Timestamp) -> Spent {
        if credits.amount() == 0 {
            // Nothing to count (malformed credits read as none): no call needed.
            return Spent::Exhausted;
        }
        match self.credits(key, credits, now, false) {
            Some((true, remaining)) => Spent::Spent { remaining },
            Some((false, _)) => Spent::Exhausted,
            None => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
                let mono = self.clock.now_us();
                let next = self.down_until.load(Ordering::Acquire).saturating_sub(mono);
                Spent::Unavailable {
                    retry_after_us: next.max(1_000_000),
                }
            }
        }
    }

    fn unspend(&self, key: &KeyId, credits: &Credits, now: Timestamp) {
        if credits.amount() > 0 {
            // While Redis is down the credit stays spent: the fleet allows less.
            let _ = self.credits(key, credits, now, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_off_this_machine_or_with_tls_are_refused() {
        for url in [
            "redis://10.0.0.5:6379",
            "redis://cache.example:6379",
            "rediss://127.0.0.1:6380",
            "http://127.0.0.1:6379",
            "redis://:pw@[",
        ] {
            let e = FleetLimits::open(url, FleetConfig::default()).expect_err(url);
            assert_eq!(e.kind(), ErrorKind::BadUrl, "{url}");
        }
        let e = FleetLimits::open("redis://:s3cret-pw@10.0.0.5:6379", FleetConfig::default())
            .expect_err("remote");
        assert!(!format!("{e} {e:?}").contains("s3cret"));
    }

    #[test]
    fn loopback_urls_open_even_with_redis_down() {
        // Port 9 (discard) on loopback: nothing listens; open still succeeds, closed.
        for url in [
            "redis://127.0.0.1:9",
            "redis://localhost:9/2",
            "redis://[::1]:9",
        ] {
            let l = FleetLimits::open(url, FleetConfig::default()).expect(url);
            assert!(!l.is_up());
            assert!(!format!("{l:?}").contains("pw"));
        }
    }

    #[test]
    fn a_share_never_exceeds_the_quota_divided() {
        let q = Quota::new(200, 1, 50).expect("quota");
        let s = share(&q, 3);
        assert_eq!((s.rate(), s.window(), s.burst()), (66, 1, 16));
        let q = Quota::new(2, 60, 2).expect("quota");
        let s = share(&q, 4);
        assert_eq!((s.rate(), s.window(), s.burst()), (1, 240, 1));
        assert_eq!(share(&q, 0), Quota::new(2, 60, 2).expect("quota"));
    }
}
