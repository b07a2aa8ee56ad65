//! [`Store`]: the database, the cache in front of it, and the feed that keeps the cache
//! current.
//!
//! Decisions:
//! - **Every write appends to `changes` in its own transaction** (kinds `key`, `family`,
//!   `epoch`, with the subject's id), after taking a transaction-scoped lock on
//!   PostgreSQL so that sequence numbers become visible in commit order (a reader that saw
//!   `n` never later finds a smaller one committed); on PostgreSQL it also sends
//!   `NOTIFY portcullis_changes` in that transaction, delivered at commit.
//! - **The writing process applies its own change at once** after the commit, so its own
//!   revocations take effect without waiting for the feed.
//! - **Bounded staleness, failing closed:** the cache answers only while the feed's last
//!   successful catch-up started less than [`Options::staleness`] ago (default 1 s).
//!   Otherwise every lookup reads the database; if that fails too, the lookup fails
//!   (the checker answers 503 `lookup_failed`), never an answer from a cache that may be
//!   stale. A catch-up reads every change after the last sequence seen, so a feed that
//!   reconnects trusts its cache again only once it has applied what it missed.
//! - **One database connection per store for lookups and writes** (behind a mutex taken
//!   only on a cache miss or a write), one more for the feed. A broken connection is
//!   re-opened at most every [`Options::reconnect_every`]; meanwhile calls fail at once.
//! - **Bounded reads:** a stored JSON value longer than [`MAX_JSON`] is refused before it
//!   is parsed; every query reads at most a fixed number of rows (see each method).
//! - **Bounded retention** (see [`Options::keep_changes`], [`Options::code_margin`],
//!   [`Options::family_window`], [`Options::usage_window`]): the feed prunes at most every [`Options::prune_every`],
//!   one short transaction of at most 1,000 rows per table at a time, never on a
//!   request's path; a failed prune is retried at the next turn. A feed that finds changes
//!   it had not applied pruned away drops its whole cache and reloads the revocations
//!   before it marks itself fresh again (`feed.rs`).

use crate::audit::{Actor, AuditFilter, MAX_AUDIT_PAGE};
use crate::cache::{Cache, CacheConfig, Cached};
use crate::db::{Col, ColRef, Conn, Exec, Limits, Rows, Value};
use crate::error::{Error, ErrorKind};
use crate::feed;
use crate::schema::MIGRATION_LOCK;
use crate::url::Target;
use portcullis::oauth::{
    AccessVerifier, Client, ClientStore, CodeRecord, CodeStore, Consumed, RefreshRecord,
    RefreshStore, RevocationFeed, Revocations, Rotated, TokenHash,
};
use portcullis::{Checker, KeyId, KeyLookup, KeyRecord, LookupError, Peppers, Rotation, Timestamp};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The longest stored JSON value (record, client, code, refresh token) a read accepts.
pub const MAX_JSON: usize = 64 * 1024;

/// Most rows one catch-up query reads (it repeats until it has read them all).
pub(crate) const CHANGE_PAGE: usize = 1_000;

/// Most revoked OAuth families loaded at open (those revoked within
/// [`Options::family_window`], newest first).
pub const MAX_FAMILIES: usize = 100_000;

/// The `NOTIFY` channel.
pub const CHANNEL: &str = "portcullis_changes";

/// How a store is opened.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How old the feed's last successful catch-up may be before the cache stops answering
    /// on its own (default 1 s).
    pub staleness: Duration,
    /// How often a SQLite store polls the change sequence (default 20 ms). PostgreSQL
    /// stores are woken by `NOTIFY` and poll at a quarter of the staleness bound as a
    /// heartbeat.
    pub poll_every: Duration,
    /// Connecting gives up after this long (default 2 s).
    pub connect_timeout: Duration,
    /// A statement gives up after this long (default 5 s; SQLite: the busy timeout).
    pub statement_timeout: Duration,
    /// A broken connection is re-opened at most this often (default 100 ms).
    pub reconnect_every: Duration,
    /// Revoked OAuth families are loaded at open if revoked within this window (default
    /// 3,660 s: the access-token lifetime and a minute of clock skew), and forgotten from
    /// memory (this store's and attached verifiers' sets) this long after they arrived. Pruning deletes a
    /// family revoked longer ago than this (by this machine's clock), together with its
    /// refresh tokens, which no request can use again: keep it at least the access-token
    /// lifetime.
    pub family_window: Duration,
    /// Rows of the `changes` table kept: pruning deletes the rows more than this many
    /// sequence numbers behind the newest, which it always keeps (default 100,000; at
    /// least 1). A count rather than an age because a change row holds no write time and
    /// a count bounds the table's size; 100,000 because replaying more costs about what a
    /// full resynchronisation does (reloading up to [`MAX_FAMILIES`] families). A process
    /// that missed pruned changes resynchronises instead of replaying (see `feed.rs`).
    pub keep_changes: u64,
    /// Authorization codes are deleted once their `expires_at` is this far in the past by
    /// this machine's clock, used or not (default 300 s: a code past its expiry is refused
    /// anyway; the margin covers clock skew between servers).
    pub code_margin: Duration,
    /// How often the feed prunes (default 60 s); a prune that found a full batch to delete
    /// continues at the feed's next turn.
    pub prune_every: Duration,
    /// How long usage history is kept: hourly counts and signals older than this (by this
    /// machine's clock) are pruned (default 90 days, the rotation period the product
    /// advises, so a key's whole life between rotations can be read back). A key's first
    /// and last use and networks are kept (one row per key).
    pub usage_window: Duration,
    /// Create a missing SQLite file (default true).
    pub create: bool,
    /// Run the change feed (default true). Without it the cache answers on its own only
    /// within `staleness` of the open and every later lookup reads the database: for a
    /// short-lived process (a command line) that should hold no second connection.
    pub feed: bool,
    /// The cache's limits.
    pub cache: CacheConfig,
    /// Who the writes of this store handle are recorded as in the audit when no actor is
    /// named per call ([`Store::acting_as`]); default [`Actor::UNKNOWN`] (recorded as "").
    pub actor: Actor,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            staleness: Duration::from_secs(1),
            poll_every: Duration::from_millis(20),
            connect_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            reconnect_every: Duration::from_millis(100),
            family_window: Duration::from_secs(3_660),
            keep_changes: 100_000,
            code_margin: Duration::from_secs(300),
            prune_every: Duration::from_secs(60),
            usage_window: Duration::from_secs(90 * 86_400),
            create: true,
            feed: true,
            cache: CacheConfig::default(),
            actor: Actor::UNKNOWN,
        }
    }
}

impl Options {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            connect_timeout: self.connect_timeout,
            statement_timeout: self.statement_timeout,
        }
    }
}

/// One entry of the lifecycle audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its place in the audit (increasing).
    pub seq: i64,
    /// The key ("" for an entry that concerns no key: `pepper_rotated`).
    pub key_id: String,
    /// `created`, `revoked`, `rotated`, `rehashed` or `pepper_rotated`.
    pub action: String,
    /// When (the time the caller gave).
    pub at: Timestamp,
    /// Details (`rotated`: the successor's id; `created` by rotation: the predecessor's;
    /// `pepper_rotated`: the new primary pepper's id).
    pub detail: String,
    /// Who made the change, as the host named it ("" unknown: none was named, or the
    /// entry predates the column).
    pub actor: String,
}

/// The action of an audit entry that concerns no key.
const PEPPER_ROTATED: &str = "pepper_rotated";

/// What the feed has done so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedStatus {
    /// The last change sequence applied.
    pub last_seq: i64,
    /// Changes applied since open.
    pub applied: u64,
    /// Whether the cache may answer on its own now.
    pub fresh: bool,
    /// Full resynchronisations since open: the feed found that changes it had not
    /// applied were pruned, dropped its cache and reloaded the revocations.
    pub resyncs: u64,
}

/// What one [`Store::prune`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows of the `changes` table beyond [`Options::keep_changes`].
    pub changes: u64,
    /// Authorization codes expired for longer than [`Options::code_margin`].
    pub codes: u64,
    /// Revoked OAuth families older than [`Options::family_window`].
    pub families: u64,
    /// Refresh tokens of those families (none of them can be used again).
    pub refresh_tokens: u64,
    /// Hourly usage counts older than [`Options::usage_window`].
    pub usage_hours: u64,
    /// Usage signals older than [`Options::usage_window`].
    pub usage_signals: u64,
}

impl Pruned {
    fn add(&mut self, other: Pruned) {
        self.changes += other.changes;
        self.codes += other.codes;
        self.families += other.families;
        self.refresh_tokens += other.refresh_tokens;
        self.usage_hours += other.usage_hours;
        self.usage_signals += other.usage_signals;
    }
}

/// The connection for lookups and writes, re-opened when broken.
struct Link {
    conn: Option<Conn>,
    last_attempt: Option<Instant>,
}

pub(crate) struct Shared {
    pub(crate) target: Target,
    pub(crate) options: Options,
    link: Mutex<Link>,
    pub(crate) cache: Cache,
    /// Whether the feed caught up within the bound; shared with attached verifiers.
    freshness: Arc<Freshness>,
    pub(crate) last_seq: AtomicI64,
    applied: AtomicU64,
    resyncs: AtomicU64,
    revocations: Revocations,
    verifiers: Mutex<Vec<Arc<AccessVerifier>>>,
    /// The families revoked in memory, oldest first, with when: forgotten once
    /// [`Options::family_window`] has passed (their access tokens have expired), so that
    /// the sets hold the window, not the process's history.
    revoked: Mutex<VecDeque<(Instant, KeyId)>>,
    pub(crate) stop: AtomicBool,
}

/// The store's freshness: when the feed last caught up, against the staleness bound. Held
/// apart from [`Shared`] so that a verifier following it does not keep the store alive.
pub(crate) struct Freshness {
    clock: Clock,
    /// Clock nanos (+1; 0: never) when the last successful catch-up started.
    healthy_at: AtomicU64,
    bound: u64,
}

/// A monotonic clock in nanos. On Linux the coarse clock (`CLOCK_MONOTONIC_COARSE`: a
/// read of the kernel's last tick, a few ns, where `Instant` reads the TSC); it lags real
/// time by up to a tick, so an age is taken `lag` (two ticks) older than it reads: never
/// under-estimated, the cache stops answering at most `lag` early, never late.
struct Clock {
    #[cfg(not(target_os = "linux"))]
    base: Instant,
    lag: u64,
}

impl Clock {
    fn new() -> Self {
        #[cfg(target_os = "linux")]
        {
            let res = rustix::time::clock_getres(rustix::time::ClockId::MonotonicCoarse);
            Clock {
                lag: nanos(res).saturating_mul(2),
            }
        }
        #[cfg(not(target_os = "linux"))]
        Clock {
            base: Instant::now(),
            lag: 0,
        }
    }

    /// Now, up to a tick behind real time (see `lag`).
    #[inline]
    fn now(&self) -> u64 {
        #[cfg(target_os = "linux")]
        let raw = nanos(rustix::time::clock_gettime(
            rustix::time::ClockId::MonotonicCoarse,
        ));
        #[cfg(not(target_os = "linux"))]
        let raw = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        raw
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn nanos(t: rustix::time::Timespec) -> u64 {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let ns = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(ns)
}

impl Freshness {
    fn new(bound: Duration) -> Self {
        Freshness {
            clock: Clock::new(),
            healthy_at: AtomicU64::new(0),
            bound: u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// Now (see [`Clock`]).
    #[inline]
    fn now(&self) -> u64 {
        self.clock.now()
    }

    #[inline]
    fn fresh(&self, now: u64) -> bool {
        let at = self.healthy_at.load(Ordering::Acquire);
        // `now` may read up to a tick behind real time (the start's reading only errs older).
        at != 0 && now.saturating_add(self.clock.lag).saturating_sub(at - 1) <= self.bound
    }
}

/// Access tokens fail closed as key lookups do: stale revocations are not trusted.
impl RevocationFeed for Freshness {
    fn is_current(&self) -> bool {
        self.fresh(self.now())
    }
}

impl Shared {
    /// Monotonic nanos since the store opened.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.freshness.now()
    }

    #[inline]
    fn fresh(&self, now: u64) -> bool {
        self.freshness.fresh(now)
    }

    /// Records a catch-up that started at `started` and read everything.
    pub(crate) fn mark_healthy(&self, started: u64) {
        self.freshness
            .healthy_at
            .fetch_max(started.saturating_add(1), Ordering::AcqRel);
    }

    fn lock_link(&self) -> MutexGuard<'_, Link> {
        // A panic during a call leaves at worst a connection in an unknown state; it is
        // dropped below when a call on it fails.
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection, re-opening it if it broke (at most every
    /// `reconnect_every`); a connection that fails a call and is closed is dropped.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut link = self.lock_link();
        if link.conn.as_ref().is_none_or(Conn::is_closed) {
            link.conn = None;
            let now = Instant::now();
            if link
                .last_attempt
                .is_some_and(|t| now.duration_since(t) < self.options.reconnect_every)
            {
                return Err(Error::new(
                    ErrorKind::Unreachable,
                    format!("{}: not connected (reconnecting)", self.target),
                ));
            }
            link.last_attempt = Some(now);
            link.conn = Some(Conn::connect(&self.target, self.options.limits(), false)?);
        }
        let Some(conn) = link.conn.as_mut() else {
            return Err(Error::new(ErrorKind::Unreachable, "not connected"));
        };
        let result = f(conn);
        if result.is_err() && conn.is_closed() {
            link.conn = None;
        }
        result
    }

    /// Rebuilds what the feed keeps, from the database itself, for a feed that finds
    /// changes it had not applied pruned away: the sequence first, then the whole cache
    /// dropped and the revocations reloaded (as at open), so a change in between is
    /// applied twice, harmlessly, never missed.
    pub(crate) fn resync(&self, conn: &mut Conn) -> Result<(), Error> {
        let seq = max_seq(conn)?;
        self.cache.invalidate_all();
        load_revocations(conn, self)?;
        self.last_seq.fetch_max(seq, Ordering::AcqRel);
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Applies one change of the feed: its effect, then the sequence seen.
    pub(crate) fn apply(&self, seq: i64, kind: &str, subject: &str, at: i64) {
        self.effect(kind, subject, at);
        self.last_seq.fetch_max(seq, Ordering::AcqRel);
        self.applied.fetch_add(1, Ordering::Relaxed);
    }

    /// What a change does to the cache and to the revocation sets (idempotent).
    fn effect(&self, kind: &str, subject: &str, at: i64) {
        match kind {
            "key" => match KeyId::parse(subject) {
                Ok(id) => self.cache.invalidate(&id),
                Err(_) => self.cache.invalidate_all(),
            },
            "family" => {
                if let Ok(family) = KeyId::parse(subject) {
                    self.revoke_families(&[family]);
                }
            }
            "epoch" => {
                let epoch = Timestamp(u64::try_from(at).unwrap_or(0));
                self.revocations.set_epoch(epoch);
                for v in self.verifiers().iter() {
                    v.revocations().set_epoch(epoch);
                }
            }
            // Written by a newer build: forget everything rather than miss a change.
            _ => self.cache.invalidate_all(),
        }
    }

    /// Revokes families in this store's set and every attached verifier's, and notes
    /// them for [`Shared::forget_expired_families`].
    fn revoke_families(&self, families: &[KeyId]) {
        let verifiers = self.verifiers();
        for family in families {
            self.revocations.revoke_family(*family);
            for v in verifiers.iter() {
                v.revocations().revoke_family(*family);
            }
        }
        let now = Instant::now();
        let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
        revoked.extend(families.iter().map(|f| (now, *f)));
    }

    /// Forgets the families revoked in memory longer than [`Options::family_window`]
    /// ago (run by the feed; the database keeps refusing their refresh tokens).
    pub(crate) fn forget_expired_families(&self) {
        let window = self.options.family_window;
        let mut expired = Vec::new();
        {
            // A queue of plain values: a panic cannot leave it half-changed.
            let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
            while let Some(&(at, family)) = revoked.front() {
                if at.elapsed() < window {
                    break;
                }
                revoked.pop_front();
                expired.push(family);
            }
        }
        if expired.is_empty() {
            return;
        }
        let verifiers = self.verifiers();
        for family in &expired {
            self.revocations.forget_family(family);
            for v in verifiers.iter() {
                v.revocations().forget_family(family);
            }
        }
    }

    fn verifiers(&self) -> MutexGuard<'_, Vec<Arc<AccessVerifier>>> {
        // A list of handles: a panic cannot leave it half-changed.
        self.verifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A write and its change, then the change applied here.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Exec, &mut Vec<Change>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut changes = Vec::new();
        let mut appended = false;
        let value = self.with_conn(|conn| {
            conn.write(|x| {
                let value = f(x, &mut changes)?;
                publish(x, &changes)?;
                appended = true;
                Ok(value)
            })
        })?;
        // Applied here at once; the feed applies them again in sequence order (the
        // sequence seen only moves through the feed, so no other writer's change is
        // skipped).
        if appended {
            for c in &changes {
                let (kind, subject, at) = c.parts();
                self.effect(kind, &subject, at);
            }
        }
        Ok(value)
    }
}

/// A change to publish.
pub(crate) enum Change {
    Key(KeyId),
    Family(KeyId),
    Epoch(Timestamp),
}

impl Change {
    fn parts(&self) -> (&'static str, String, i64) {
        match self {
            Change::Key(id) => ("key", id.as_str().to_owned(), 0),
            Change::Family(id) => ("family", id.as_str().to_owned(), 0),
            Change::Epoch(t) => ("epoch", String::new(), secs(*t)),
        }
    }
}

/// Appends the changes (in the caller's transaction) and notifies on PostgreSQL.
fn publish(x: &mut dyn Exec, changes: &[Change]) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    if x.is_postgres() {
        // Held to commit: sequence numbers become visible in the order they were taken.
        x.exec(
            "SELECT pg_advisory_xact_lock($1)",
            &[Value::Int(MIGRATION_LOCK + 1)],
        )?;
    }
    let mut last = 0;
    for c in changes {
        let (kind, subject, at) = c.parts();
        let rows = x.query(
            "INSERT INTO changes (kind, subject, at) VALUES ($1, $2, $3) RETURNING seq",
            &[Value::Text(kind), Value::Text(&subject), Value::Int(at)],
            1,
        )?;
        last = first_int(&rows).unwrap_or(last);
    }
    if x.is_postgres() {
        let last = last.to_string();
        x.exec(
            "SELECT pg_notify($1, $2)",
            &[Value::Text(CHANNEL), Value::Text(&last)],
        )?;
    }
    Ok(())
}

fn first_int(rows: &Rows) -> Option<i64> {
    rows.first()?.first()?.int()
}

pub(crate) fn secs(t: Timestamp) -> i64 {
    i64::try_from(t.secs()).unwrap_or(i64::MAX)
}

fn stamp(v: Option<i64>) -> Option<Timestamp> {
    v.map(|s| Timestamp(u64::try_from(s).unwrap_or(0)))
}

fn json_col(col: Col, what: &str) -> Result<String, Error> {
    let text = col.into_text().ok_or_else(|| not_text(what))?;
    if text.len() > MAX_JSON {
        return Err(too_large(what, text.len()));
    }
    Ok(text)
}

fn too_large(what: &str, len: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("{what}: {len} bytes, more than {MAX_JSON}"),
    )
}

fn not_text(what: &str) -> Error {
    Error::new(ErrorKind::Corrupt, format!("{what}: not text"))
}

fn corrupt(what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Corrupt, format!("{what} is corrupt: {why}"))
}

/// A key row: the record, or why it cannot be read, and its `revoked_at` column.
enum KeyRow {
    Record(KeyRecord),
    Corrupt(Error, Option<i64>),
}

fn read_key(x: &mut dyn Exec, id: &KeyId) -> Result<Option<KeyRow>, Error> {
    let mut found = None;
    // The record is decoded from the row in place (no copy of its JSON).
    x.query_first(
        "SELECT record, revoked_at FROM keys WHERE id = $1",
        &[Value::Text(id.as_str())],
        &mut |row| {
            let revoked_at = row.col(1)?.int();
            found = Some(decode_key(id.as_str(), row.col(0)?, revoked_at));
            Ok(())
        },
    )?;
    Ok(found)
}

fn pepper_of(record: &KeyRecord) -> Option<String> {
    record
        .stored_hash()
        .ok()
        .and_then(|h| h.pepper_id().map(str::to_owned))
}

fn insert_key(x: &mut dyn Exec, record: &KeyRecord) -> Result<(), Error> {
    let json = record.to_json();
    let pepper = pepper_of(record);
    let rotated_from = record.rotated_from();
    let result = x.exec(
        "INSERT INTO keys (id, name, owner, env, pepper_id, created_at, expires_at,
                           revoked_at, rotated_from, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            Value::Text(record.id().as_str()),
            Value::Text(record.name()),
            Value::Text(record.owner()),
            Value::Text(record.env()),
            Value::OptText(pepper.as_deref()),
            Value::Int(secs(record.created_at())),
            Value::OptInt(record.expires_at().map(secs)),
            Value::OptInt(record.revoked_at().map(secs)),
            Value::OptText(rotated_from.as_ref().map(KeyId::as_str)),
            Value::Text(&json),
        ],
    );
    match result {
        Err(e) if e.kind() == ErrorKind::Duplicate => Err(Error::new(
            ErrorKind::Duplicate,
            format!("a key with id {} already exists", record.id()),
        )),
        other => other.map(|_| ()),
    }
}

fn update_key(x: &mut dyn Exec, record: &KeyRecord) -> Result<(), Error> {
    let json = record.to_json();
    let pepper = pepper_of(record);
    x.exec(
        "UPDATE keys SET name = $2, owner = $3, pepper_id = $4, expires_at = $5,
                         revoked_at = $6, record = $7
         WHERE id = $1",
        &[
            Value::Text(record.id().as_str()),
            Value::Text(record.name()),
            Value::Text(record.owner()),
            Value::OptText(pepper.as_deref()),
            Value::OptInt(record.expires_at().map(secs)),
            Value::OptInt(record.revoked_at().map(secs)),
            Value::Text(&json),
        ],
    )
    .map(|_| ())
}

/// Appends one audit entry (`key_id` "" for an entry that concerns no key). Every
/// caller passes ids and action names only, never a secret.
fn audit(
    x: &mut dyn Exec,
    key_id: &str,
    action: &str,
    at: Timestamp,
    detail: &str,
    actor: &Actor,
) -> Result<(), Error> {
    x.exec(
        "INSERT INTO key_audit (key_id, action, at, detail, actor) VALUES ($1, $2, $3, $4, $5)",
        &[
            Value::Text(key_id),
            Value::Text(action),
            Value::Int(secs(at)),
            Value::Text(detail),
            Value::Text(actor.as_str()),
        ],
    )
    .map(|_| ())
}

/// Locks the key's row for the rest of the transaction (PostgreSQL; SQLite's write lock
/// is already held) and reads it.
fn read_key_for_update(x: &mut dyn Exec, id: &KeyId) -> Result<KeyRow, Error> {
    if x.is_postgres() {
        x.query(
            "SELECT id FROM keys WHERE id = $1 FOR UPDATE",
            &[Value::Text(id.as_str())],
            1,
        )?;
    }
    read_key(x, id)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("no key with id {id} in this store"),
        )
    })
}

fn into_record(row: KeyRow) -> Result<KeyRecord, Error> {
    match row {
        KeyRow::Record(r) => Ok(r),
        KeyRow::Corrupt(e, _) => Err(e),
    }
}

/// Most rows [`Store::list_keys`] reads.
pub const MAX_LIST: usize = 100_000;

/// A stored key as read by [`Store::list_keys`] and [`Store::key_row`]: its record, or a
/// row whose record cannot be decoded (listed beside the others, never hiding them).
#[derive(Clone, Debug)]
pub enum StoredKey {
    /// A decoded record.
    Record(KeyRecord),
    /// A row whose record JSON is damaged.
    Corrupt(CorruptKey),
}

/// A row whose record cannot be decoded. It can still be revoked (its `revoked_at`
/// column); a lookup of it fails (503) until then, and finds no key (401) after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptKey {
    /// The row's id as stored (it may not be a valid key id).
    pub id: String,
    /// Why it cannot be decoded (`corrupt_record` or `store_value_too_large`; never its
    /// content).
    pub error: Error,
    /// The row's `revoked_at` column.
    pub revoked_at: Option<Timestamp>,
}

fn stored(id: &str, row: KeyRow) -> StoredKey {
    match row {
        KeyRow::Record(r) => StoredKey::Record(r),
        KeyRow::Corrupt(error, revoked_at) => StoredKey::Corrupt(CorruptKey {
            id: id.to_owned(),
            error,
            revoked_at: stamp(revoked_at),
        }),
    }
}

/// Decodes a row's record column.
fn decode_key(id: &str, col: ColRef<'_>, revoked_at: Option<i64>) -> KeyRow {
    let what = || format!("record {id}");
    let json = match col {
        ColRef::Text(json) => json,
        _ => return KeyRow::Corrupt(not_text(&what()), revoked_at),
    };
    if json.len() > MAX_JSON {
        return KeyRow::Corrupt(too_large(&what(), json.len()), revoked_at);
    }
    match KeyRecord::from_json(json) {
        Ok(record) if record.id().as_str() == id => KeyRow::Record(record),
        Ok(_) => KeyRow::Corrupt(
            corrupt(&what(), "its id does not match its row"),
            revoked_at,
        ),
        Err(e) => KeyRow::Corrupt(corrupt(&what(), e), revoked_at),
    }
}

/// The store: key records, their audit and the OAuth state in one database, with a cache
/// kept current by the change feed. Open one per process and share it (it is
/// `Send + Sync`); dropping it stops its feed.
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    /// The feed's thread, joined on drop (so a host that frees the store and exits leaks
    /// nothing, under valgrind too).
    feed: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (records, absent) = self.shared.cache.sizes();
        f.debug_struct("Store")
            .field("target", &self.shared.target)
            .field("cached_records", &records)
            .field("cached_absent", &absent)
            .field("feed", &self.feed_status())
            .finish()
    }
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
};

impl Drop for Store {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(feed) = self.feed.take() {
            // It ends within one heartbeat (a reconnect: within the connect timeout).
            let _ = feed.join();
        }
    }
}

impl Store {
    /// Opens the store at `url` (`sqlite:PATH` or `postgresql://…`) with default options.
    pub fn open(url: &str) -> Result<Store, Error> {
        Store::open_with(url, Options::default())
    }

    /// Opens the store at `url`: connects, checks the database's identity, migrates its
    /// schema, loads the OAuth revocations, and starts the change feed.
    pub fn open_with(url: &str, options: Options) -> Result<Store, Error> {
        let target = Target::parse(url)?;
        let mut conn = Conn::connect(&target, options.limits(), options.create)?;
        conn.migrate(&target)?;
        let shared = Arc::new(Shared {
            target,
            options,
            link: Mutex::new(Link {
                conn: None,
                last_attempt: None,
            }),
            cache: Cache::new(options.cache),
            freshness: Arc::new(Freshness::new(options.staleness)),
            last_seq: AtomicI64::new(0),
            applied: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            revocations: Revocations::new(),
            verifiers: Mutex::new(Vec::new()),
            revoked: Mutex::new(VecDeque::new()),
            stop: AtomicBool::new(false),
        });
        let started = shared.now();
        // The sequence first, then the state: a change in between is applied twice
        // (harmlessly), never missed.
        let seq = max_seq(&mut conn)?;
        shared.last_seq.store(seq, Ordering::Release);
        load_revocations(&mut conn, &shared)?;
        shared.mark_healthy(started);
        shared.lock_link().conn = Some(conn);
        let feed = if shared.options.feed {
            Some(feed::start(Arc::clone(&shared))?)
        } else {
            None
        };
        Ok(Store { shared, feed })
    }

    /// Where the store lives (without a password).
    pub fn target(&self) -> &Target {
        &self.shared.target
    }

    /// Whether the cache may answer on its own now (the feed caught up within the bound).
    pub fn is_fresh(&self) -> bool {
        self.shared.fresh(self.shared.now())
    }

    /// The feed's progress.
    pub fn feed_status(&self) -> FeedStatus {
        FeedStatus {
            last_seq: self.shared.last_seq.load(Ordering::Acquire),
            applied: self.shared.applied.load(Ordering::Relaxed),
            fresh: self.is_fresh(),
            resyncs: self.shared.resyncs.load(Ordering::Relaxed),
        }
    }

    /// The OAuth revocations this store has seen (families and the epoch), kept current
    /// by the feed.
    pub fn revocations(&self) -> &Revocations {
        &self.shared.revocations
    }

    /// Pushes this store's OAuth revocations, now and as the feed brings them, into an
    /// access-token verifier (the one given to `Checker::with_access_tokens`), and makes
    /// the verifier fail closed like the cache: while the feed is behind its staleness
    /// bound, its tokens are refused with `TokenError::RevocationsStale` (503
    /// `lookup_failed` from the checker). A verifier follows the first store it is attached
    /// to.
    pub fn attach(&self, verifier: Arc<AccessVerifier>) -> Result<(), Error> {
        let freshness: Arc<dyn RevocationFeed> = self.shared.freshness.clone();
        verifier.revocations().follow(freshness);
        let mut verifiers = self.shared.verifiers();
        // Loaded under the list's lock: a change applied meanwhile waits, then reaches it.
        let families = self
            .shared
            .with_conn(|conn| families_since(conn, &self.shared))?;
        let epoch = self.shared.revocations.epoch();
        for family in families {
            verifier.revocations().revoke_family(family);
        }
        verifier.revocations().set_epoch(epoch);
        verifiers.push(verifier);
        Ok(())
    }

    /// Stores a new key record (from `Checker::issue`); an existing id is `duplicate_key`.
    /// Audited as [`Options::actor`] (see [`Store::acting_as`] to name another).
    pub fn insert_key(&self, record: &KeyRecord, now: Timestamp) -> Result<(), Error> {
        self.insert_key_as(&self.shared.options.actor, record, now)
    }

    /// A view of this store whose writes are audited as `actor` (a server acting for many
    /// users in one process names each call's): `store.acting_as(Actor::new(user)?)
    /// .revoke_key(&id, now)`. It costs a copy of the actor, nothing else.
    pub fn acting_as(&self, actor: Actor) -> ActingAs<'_> {
        ActingAs { store: self, actor }
    }

    /// The actor this handle's writes are audited as unless named per call.
    pub fn actor(&self) -> &Actor {
        &self.shared.options.actor
    }

    fn insert_key_as(
        &self,
        actor: &Actor,
        record: &KeyRecord,
        now: Timestamp,
    ) -> Result<(), Error> {
        self.shared.write(|x, changes| {
            insert_key(x, record)?;
            audit(x, record.id().as_str(), "created", now, "", actor)?;
            changes.push(Change::Key(record.id()));
            Ok(())
        })
    }

    /// The record with this id, read from the database (not the cache).
    pub fn key(&self, id: &KeyId) -> Result<Option<KeyRecord>, Error> {
        match self.shared.with_conn(|c| c.read(|x| read_key(x, id)))? {
            None => Ok(None),
            Some(row) => into_record(row).map(Some),
        }
    }

    /// The row with this id, decoded or not, read from the database.
    pub fn key_row(&self, id: &KeyId) -> Result<Option<StoredKey>, Error> {
        let row = self.shared.with_conn(|c| c.read(|x| read_key(x, id)))?;
        Ok(row.map(|row| stored(id.as_str(), row)))
    }

    /// Every key row, oldest first (by creation time, then id), at most [`MAX_LIST`]: the
    /// records, and the rows that cannot be decoded beside them.
    pub fn list_keys(&self) -> Result<Vec<StoredKey>, Error> {
        let rows = self.shared.with_conn(|c| {
            c.read(|x| {
                x.query(
                    "SELECT id, record, revoked_at FROM keys ORDER BY created_at, id LIMIT $1",
                    &[Value::Int(MAX_LIST as i64)],
                    MAX_LIST,
                )
            })
        })?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let id = std::mem::replace(&mut r[0], Col::Null)
                    .into_text()
                    .unwrap_or_default();
                let revoked_at = r.get(2).and_then(Col::int);
                let col = match &r[1] {
                    Col::Text(t) => ColRef::Text(t),
                    _ => ColRef::Null,
                };
                stored(&id, decode_key(&id, col, revoked_at))
            })
            .collect())
    }

    /// How many records use each pepper (`None`: records without one, legacy SHA-256),
    /// ordered by pepper id.
    pub fn pepper_usage(&self) -> Result<Vec<(Option<String>, u64)>, Error> {
        let rows = self.shared.with_conn(|c| {
            c.read(|x| {
                x.query(
                    "SELECT pepper_id, COUNT(*) FROM keys GROUP BY pepper_id ORDER BY pepper_id LIMIT 10000",
                    &[],
                    10_000,
                )
            })
        })?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let pepper = std::mem::replace(&mut r[0], Col::Null).into_text();
                let count = r.get(1).and_then(Col::int).unwrap_or(0);
                (pepper, u64::try_from(count).unwrap_or(0))
            })
            .collect())
    }

    /// Runs `f` while holding the store's write lock (SQLite's, or a PostgreSQL advisory
    /// lock held for a transaction), so that work outside the database — a pepper file —
    /// is serialised between processes. Nothing is written; `f`'s error is returned as is.
    pub fn with_write_lock<T, E: From<Error>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        // Nothing is written: a commit that fails after `f` succeeded loses nothing.
        self.locked(&self.shared.options.actor, false, |_| f())
    }

    /// [`Store::with_write_lock`] for work that the audit records: `f` appends its entries
    /// through the [`AuditLock`] it is given (as [`Options::actor`]), in the lock's
    /// transaction, committed only if `f` succeeds. Work outside the database (a pepper
    /// file) cannot share the transaction: should the commit fail after `f` succeeded, the
    /// error is returned (the work is done, its entry is not).
    pub fn with_write_lock_audited<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut AuditLock<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.with_write_lock_audited_as(&self.shared.options.actor, f)
    }

    fn with_write_lock_audited_as<T, E: From<Error>>(
        &self,
        actor: &Actor,
        f: impl FnOnce(&mut AuditLock<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.locked(actor, true, f)
    }

    /// Runs `f` in a transaction holding the write lock (PostgreSQL: an advisory lock too),
    /// rolled back if `f` fails. When `commit_matters` (`f` wrote audit entries), a commit
    /// that fails after `f` succeeded is an error.
    fn locked<T, E: From<Error>>(
        &self,
        actor: &Actor,
        commit_matters: bool,
        f: impl FnOnce(&mut AuditLock<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut outcome = None;
        let locked = self.shared.with_conn(|conn| {
            conn.write(|x| {
                if x.is_postgres() {
                    x.exec(
                        "SELECT pg_advisory_xact_lock($1)",
                        &[Value::Int(MIGRATION_LOCK + 2)],
                    )?;
                }
                let mut lock = AuditLock { x, actor };
                let result = f(&mut lock);
                let failed = result.is_err();
                outcome = Some(result);
                if failed {
                    // Rolls back whatever `f` appended before it failed.
                    return Err(Error::new(ErrorKind::Database, "rolled back"));
                }
                Ok(())
            })
        });
        match (outcome, locked) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(value)), Err(_)) if !commit_matters => Ok(value),
            (Some(Ok(_)), Err(e)) | (None, Err(e)) => Err(E::from(e)),
            (None, Ok(())) => Err(E::from(Error::new(
                ErrorKind::Database,
                "the write lock was not taken",
            ))),
        }
    }

    /// Revokes a key from `now` on. Returns whether it already was (the earlier time is
    /// kept). A row whose record cannot be decoded is revoked by its `revoked_at` column.
    /// Audited as [`Options::actor`].
    pub fn revoke_key(&self, id: &KeyId, now: Timestamp) -> Result<bool, Error> {
        self.revoke_key_as(&self.shared.options.actor, id, now)
    }

    fn revoke_key_as(&self, actor: &Actor, id: &KeyId, now: Timestamp) -> Result<bool, Error> {
        self.shared.write(|x, changes| {
            let already = match read_key_for_update(x, id)? {
                KeyRow::Record(mut record) => {
                    let already = record.revoked_at().is_some_and(|t| t <= now);
                    record.revoke(now);
                    update_key(x, &record)?;
                    already
                }
                KeyRow::Corrupt(_, revoked_at) => {
                    let already = revoked_at.is_some_and(|t| t <= secs(now));
                    if !already {
                        x.exec(
                            "UPDATE keys SET revoked_at = $2 WHERE id = $1",
                            &[Value::Text(id.as_str()), Value::Int(secs(now))],
                        )?;
                    }
                    already
                }
            };
            if !already {
                audit(x, id.as_str(), "revoked", now, "", actor)?;
                changes.push(Change::Key(*id));
            }
            Ok(already)
        })
    }

    /// Rotates a key in one transaction: issues its successor and shortens the
    /// predecessor's life to `grace` seconds (see `Checker::rotate`). Audited as
    /// [`Options::actor`].
    pub fn rotate_key(
        &self,
        id: &KeyId,
        checker: &Checker,
        grace: u64,
        now: Timestamp,
    ) -> Result<Rotation, Error> {
        self.rotate_key_as(&self.shared.options.actor, id, checker, grace, now)
    }

    fn rotate_key_as(
        &self,
        actor: &Actor,
        id: &KeyId,
        checker: &Checker,
        grace: u64,
        now: Timestamp,
    ) -> Result<Rotation, Error> {
        self.shared.write(|x, changes| {
            let old = into_record(read_key_for_update(x, id)?)?;
            let rotation = checker
                .rotate(&old, grace, now)
                .map_err(|e| Error::new(ErrorKind::Inactive, format!("key {id}: {e}")))?;
            let new_id = rotation.successor.record.id();
            update_key(x, &rotation.predecessor)?;
            insert_key(x, &rotation.successor.record)?;
            audit(x, id.as_str(), "rotated", now, new_id.as_str(), actor)?;
            audit(x, new_id.as_str(), "created", now, id.as_str(), actor)?;
            changes.push(Change::Key(*id));
            changes.push(Change::Key(new_id));
            Ok(rotation)
        })
    }

    /// Moves a record to the primary pepper once its key is presented (see
    /// `Checker::rehash`, which verifies the key first). Returns whether it changed.
    /// Audited as [`Options::actor`].
    pub fn rehash_key(
        &self,
        id: &KeyId,
        key: &[u8],
        checker: &Checker,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.rehash_key_as(&self.shared.options.actor, id, key, checker, now)
    }

    fn rehash_key_as(
        &self,
        actor: &Actor,
        id: &KeyId,
        key: &[u8],
        checker: &Checker,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.shared.write(|x, changes| {
            let mut record = into_record(read_key_for_update(x, id)?)?;
            match checker.rehash(key, &mut record, now) {
                Ok(true) => {
                    update_key(x, &record)?;
                    audit(x, id.as_str(), "rehashed", now, "", actor)?;
                    changes.push(Change::Key(*id));
                    Ok(true)
                }
                Ok(false) | Err(_) => Ok(false),
            }
        })
    }

    /// The audit of a key, oldest first, at most `limit` (≤ 1,000) entries.
    pub fn audit(&self, id: &KeyId, limit: usize) -> Result<Vec<AuditEntry>, Error> {
        let limit = limit.min(MAX_AUDIT_PAGE);
        let rows = self.shared.with_conn(|c| {
            c.read(|x| {
                x.query(
                    "SELECT seq, key_id, action, at, detail, actor FROM key_audit
                     WHERE key_id = $1 ORDER BY seq LIMIT $2",
                    &[Value::Text(id.as_str()), Value::Int(limit as i64)],
                    limit,
                )
            })
        })?;
        Ok(rows.into_iter().map(audit_entry).collect())
    }

    /// The audit log, **newest first**: every entry (or one key's, [`AuditFilter::key`])
    /// between the filter's sequence bounds, at most [`AuditFilter::limit`] (capped at
    /// [`MAX_AUDIT_PAGE`]). Page back with the smallest `seq` returned as the next
    /// filter's `before`.
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, Error> {
        let limit = filter.limit.min(MAX_AUDIT_PAGE);
        let key = filter.key.as_ref().map(KeyId::as_str);
        let rows = self.shared.with_conn(|c| {
            c.read(|x| {
                x.query(
                    "SELECT seq, key_id, action, at, detail, actor FROM key_audit
                     WHERE (CAST($1 AS TEXT) IS NULL OR key_id = $1)
                       AND (CAST($2 AS BIGINT) IS NULL OR seq < $2)
                       AND (CAST($3 AS BIGINT) IS NULL OR seq > $3)
                     ORDER BY seq DESC LIMIT $4",
                    &[
                        Value::OptText(key),
                        Value::OptInt(filter.before),
                        Value::OptInt(filter.after),
                        Value::Int(limit as i64),
                    ],
                    limit,
                )
            })
        })?;
        Ok(rows.into_iter().map(audit_entry).collect())
    }

    /// Registers or replaces an OAuth client.
    pub fn put_client(&self, client: &Client) -> Result<(), Error> {
        let json = serde_json::to_string(client)
            .map_err(|e| Error::new(ErrorKind::Database, format!("client {}: {e}", client.id)))?;
        self.shared.write(|x, _| {
            x.exec(
                "INSERT INTO oauth_clients (id, client) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET client = excluded.client",
                &[Value::Text(&client.id), Value::Text(&json)],
            )
            .map(|_| ())
        })
    }

    /// Revokes every access token issued before `epoch` in every process (raises the
    /// stored epoch; never lowers it).
    pub fn revoke_access_tokens_before(&self, epoch: Timestamp) -> Result<(), Error> {
        self.shared.write(|x, changes| {
            x.exec(
                "UPDATE access_epoch SET epoch = $1 WHERE id = 1 AND epoch < $1",
                &[Value::Int(secs(epoch))],
            )?;
            changes.push(Change::Epoch(epoch));
            Ok(())
        })
    }

    /// For the benchmarks only (not part of the API): a bare primary-key `SELECT` of a key
    /// row over the store's own connection, its record JSON given to `f` undecoded.
    #[doc(hidden)]
    pub fn bench_bare_select<T>(&self, id: &str, f: impl FnOnce(&str) -> T) -> Result<T, Error> {
        self.shared.with_conn(|c| c.bare_record(id, f))
    }

    /// Deletes now what the feed prunes every [`Options::prune_every`]: `changes` rows
    /// beyond [`Options::keep_changes`], authorization codes expired for longer than
    /// [`Options::code_margin`], and families revoked longer ago than
    /// [`Options::family_window`] with their refresh tokens, and usage counts and signals
    /// older than [`Options::usage_window`] (times by this machine's clock). Batch after
    /// batch, each its own short transaction, the connection released between them, until
    /// nothing is left (at most 10,000 batches).
    pub fn prune(&self) -> Result<Pruned, Error> {
        let mut total = Pruned::default();
        for _ in 0..MAX_PRUNE_BATCHES {
            let (pruned, more) = self
                .shared
                .with_conn(|c| prune_batch(c, &self.shared.options, Timestamp::now()))?;
            total.add(pruned);
            if !more {
                break;
            }
        }
        Ok(total)
    }

    /// The cache's sizes: known records, remembered unknown ids.
    pub fn cache_sizes(&self) -> (usize, usize) {
        self.shared.cache.sizes()
    }
}

/// The write methods of a [`Store`] with the actor named per call ([`Store::acting_as`]).
#[derive(Clone, Copy, Debug)]
pub struct ActingAs<'a> {
    store: &'a Store,
    actor: Actor,
}

impl ActingAs<'_> {
    /// [`Store::insert_key`], audited as this actor.
    pub fn insert_key(&self, record: &KeyRecord, now: Timestamp) -> Result<(), Error> {
        self.store.insert_key_as(&self.actor, record, now)
    }

    /// [`Store::revoke_key`], audited as this actor.
    pub fn revoke_key(&self, id: &KeyId, now: Timestamp) -> Result<bool, Error> {
        self.store.revoke_key_as(&self.actor, id, now)
    }

    /// [`Store::rotate_key`], audited as this actor.
    pub fn rotate_key(
        &self,
        id: &KeyId,
        checker: &Checker,
        grace: u64,
        now: Timestamp,
    ) -> Result<Rotation, Error> {
        self.store
            .rotate_key_as(&self.actor, id, checker, grace, now)
    }

    /// [`Store::rehash_key`], audited as this actor.
    pub fn rehash_key(
        &self,
        id: &KeyId,
        key: &[u8],
        checker: &Checker,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.store.rehash_key_as(&self.actor, id, key, checker, now)
    }

    /// [`Store::with_write_lock_audited`], audited as this actor.
    pub fn with_write_lock_audited<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut AuditLock<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.store.with_write_lock_audited_as(&self.actor, f)
    }

    /// The actor these writes are audited as.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// The store's write lock as [`Store::with_write_lock_audited`] holds it: appends entries
/// that concern no key, in the lock's transaction.
pub struct AuditLock<'a> {
    x: &'a mut dyn Exec,
    actor: &'a Actor,
}

impl std::fmt::Debug for AuditLock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLock")
            .field("actor", self.actor)
            .finish_non_exhaustive()
    }
}

impl AuditLock<'_> {
    /// Records that `peppers`' primary became the primary pepper at `now`: the entry
    /// `pepper_rotated` with the pepper's id as its detail. Only the id is read from the
    /// set (a valid pepper id by construction); its secrets never reach the audit.
    pub fn pepper_rotated(&mut self, peppers: &Peppers, now: Timestamp) -> Result<(), Error> {
        audit(
            self.x,
            "",
            PEPPER_ROTATED,
            now,
            peppers.primary_id(),
            self.actor,
        )
    }
}

fn audit_entry(mut r: Vec<Col>) -> AuditEntry {
    let mut take = |i: usize| {
        r.get_mut(i)
            .map_or(Col::Null, |c| std::mem::replace(c, Col::Null))
    };
    AuditEntry {
        seq: take(0).int().unwrap_or(0),
        key_id: take(1).into_text().unwrap_or_default(),
        action: take(2).into_text().unwrap_or_default(),
        at: stamp(take(3).int()).unwrap_or(Timestamp(0)),
        detail: take(4).into_text().unwrap_or_default(),
        actor: take(5).into_text().unwrap_or_default(),
    }
}

/// Families revoked within the window, newest first, at most [`MAX_FAMILIES`].
fn families_since(conn: &mut Conn, shared: &Shared) -> Result<Vec<KeyId>, Error> {
    let since = Timestamp::now()
        .secs()
        .saturating_sub(shared.options.family_window.as_secs());
    let rows = conn.read(|x| {
        x.query(
            "SELECT family FROM oauth_revoked_families WHERE revoked_at >= $1
             ORDER BY revoked_at DESC LIMIT $2",
            &[
                Value::Int(i64::try_from(since).unwrap_or(i64::MAX)),
                Value::Int(MAX_FAMILIES as i64),
            ],
            MAX_FAMILIES,
        )
    })?;
    Ok(rows
        .iter()
        .filter_map(|r| r.first()?.text().and_then(|t| KeyId::parse(t).ok()))
        .collect())
}

/// Loads the revoked families within the window and the epoch into the store's set and
/// every attached verifier's (none at open).
fn load_revocations(conn: &mut Conn, shared: &Shared) -> Result<(), Error> {
    let families = families_since(conn, shared)?;
    let epoch = conn.read(|x| {
        first_int(&x.query("SELECT epoch FROM access_epoch WHERE id = 1", &[], 1)?)
            .ok_or_else(|| Error::new(ErrorKind::Database, "no access_epoch row"))
    })?;
    let epoch = Timestamp(u64::try_from(epoch).unwrap_or(0));
    shared.revoke_families(&families);
    shared.revocations.set_epoch(epoch);
    for v in shared.verifiers().iter() {
        v.revocations().set_epoch(epoch);
    }
    Ok(())
}

/// The last change sequence number written (0: none).
fn max_seq(conn: &mut Conn) -> Result<i64, Error> {
    conn.read(|x| {
        first_int(&x.query("SELECT COALESCE(MAX(seq), 0) FROM changes", &[], 1)?)
            .ok_or_else(|| Error::new(ErrorKind::Database, "no change sequence"))
    })
}

/// Whether changes after `last` were pruned: the oldest row left is past `last + 1`.
/// Pruning deletes a prefix of the sequence and always keeps the newest row, so a row at
/// or before `last + 1` proves nothing after `last` was deleted. Read after the page it
/// judges: a prune committed before that page was read is seen here. A hole (a
/// rolled-back write) right where pruning stopped reads as a gap: a needless resync, never
/// a missed change.
pub(crate) fn missed_pruned(conn: &mut Conn, last: i64) -> Result<bool, Error> {
    let oldest = conn.read(|x| {
        Ok(first_int(&x.query(
            "SELECT MIN(seq) FROM changes",
            &[],
            1,
        )?))
    })?;
    Ok(oldest.is_some_and(|oldest| oldest > last.saturating_add(1)))
}

/// Most rows one pruning statement deletes; each batch is its own short transaction, so
/// a prune never holds the write lock long.
const PRUNE_BATCH: usize = 1_000;

/// Most revoked families one pruning batch deletes with their refresh tokens (a family
/// holds one refresh token per rotation, so fewer than [`PRUNE_BATCH`]).
const FAMILY_BATCH: usize = 100;

/// Batches at most one [`Store::prune`] runs (a writer outpacing it cannot hold it forever).
const MAX_PRUNE_BATCHES: usize = 10_000;

/// Serialises pruning across the fleet on PostgreSQL (SQLite's write lock already does):
/// two pruners deleting the same rows in different orders could deadlock.
pub(crate) fn prune_lock(x: &mut dyn Exec) -> Result<(), Error> {
    if x.is_postgres() {
        x.exec(
            "SELECT pg_advisory_xact_lock($1)",
            &[Value::Int(MIGRATION_LOCK + 3)],
        )?;
    }
    Ok(())
}

fn secs_of(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// One pruning batch per table at wall-clock time `now`, each in its own transaction;
/// whether any batch was full (more may be left).
pub(crate) fn prune_batch(
    conn: &mut Conn,
    options: &Options,
    now: Timestamp,
) -> Result<(Pruned, bool), Error> {
    let batch = PRUNE_BATCH as i64;
    let keep = i64::try_from(options.keep_changes.max(1)).unwrap_or(i64::MAX);
    let changes = conn.write(|x| {
        prune_lock(x)?;
        let newest =
            first_int(&x.query("SELECT COALESCE(MAX(seq), 0) FROM changes", &[], 1)?).unwrap_or(0);
        let through = newest.saturating_sub(keep);
        if through <= 0 {
            return Ok(0);
        }
        // The oldest first: what is deleted is always a prefix of the sequence.
        x.exec(
            "DELETE FROM changes WHERE seq IN
             (SELECT seq FROM changes WHERE seq <= $1 ORDER BY seq LIMIT $2)",
            &[Value::Int(through), Value::Int(batch)],
        )
    })?;
    let codes_before = secs(now).saturating_sub(secs_of(options.code_margin));
    let codes = conn.write(|x| {
        prune_lock(x)?;
        x.exec(
            "DELETE FROM oauth_codes WHERE hash IN
             (SELECT hash FROM oauth_codes WHERE expires_at < $1 LIMIT $2)",
            &[Value::Int(codes_before), Value::Int(batch)],
        )
    })?;
    let families_before = secs(now).saturating_sub(secs_of(options.family_window));
    let family_batch = FAMILY_BATCH as i64;
    let (refresh_tokens, families) = conn.write(|x| {
        prune_lock(x)?;
        let refresh = x.exec(
            "DELETE FROM oauth_refresh WHERE family IN
             (SELECT family FROM oauth_revoked_families WHERE revoked_at < $1
              ORDER BY revoked_at LIMIT $2)",
            &[Value::Int(families_before), Value::Int(family_batch)],
        )?;
        // Only a family without refresh tokens left: its row is what refuses them.
        let families = x.exec(
            "DELETE FROM oauth_revoked_families WHERE family IN
             (SELECT f.family FROM oauth_revoked_families f
              WHERE f.revoked_at < $1
                AND NOT EXISTS (SELECT 1 FROM oauth_refresh r WHERE r.family = f.family)
              ORDER BY f.revoked_at LIMIT $2)",
            &[Value::Int(families_before), Value::Int(family_batch)],
        )?;
        Ok((refresh, families))
    })?;
    let (usage_hours, usage_signals) = crate::usage::prune_batch(conn, options, now, PRUNE_BATCH)?;
    let more = changes >= PRUNE_BATCH as u64
        || codes >= PRUNE_BATCH as u64
        || families >= FAMILY_BATCH as u64
        || usage_hours >= PRUNE_BATCH as u64
        || usage_signals >= PRUNE_BATCH as u64;
    Ok((
        Pruned {
            changes,
            codes,
            families,
            refresh_tokens,
            usage_hours,
            usage_signals,
        },
        more,
    ))
}

impl KeyLookup for Store {
    /// From the cache while the feed is fresh; otherwise (and on a miss) from the
    /// database; an error when neither can answer.
    #[inline]
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        let s = &*self.shared;
        let now = s.now();
        if s.fresh(now) {
            match s.cache.get(id, now) {
                Cached::Known(record) => return Ok(Some(record)),
                Cached::Absent => return Ok(None),
                Cached::Miss => {}
            }
        }
        self.read_through(id, now).map_err(LookupError::from)
    }
}

impl Store {
    /// The cache's answer alone: `Some` when the feed is fresh and the cache knows the id
    /// (a record, or known absent); `None` when only the database can answer. For async
    /// hosts (`portcullis serve`) that answer hits on the runtime and send misses, which
    /// block on the database, to a blocking thread.
    pub fn lookup_cached(&self, id: &KeyId) -> Option<Option<Arc<KeyRecord>>> {
        let s = &*self.shared;
        let now = s.now();
        if !s.fresh(now) {
            return None;
        }
        match s.cache.get(id, now) {
            Cached::Known(record) => Some(Some(record)),
            Cached::Absent => Some(None),
            Cached::Miss => None,
        }
    }

    #[cold]
    fn read_through(&self, id: &KeyId, now: u64) -> Result<Option<Arc<KeyRecord>>, Error> {
        let s = &*self.shared;
        let generation = s.cache.generation();
        let found = match s.with_conn(|c| c.read(|x| read_key(x, id)))? {
            None => None,
            Some(KeyRow::Record(record)) => Some(record),
            // Revoked by its column: no key answers to it any more.
            Some(KeyRow::Corrupt(_, Some(_))) => None,
            Some(KeyRow::Corrupt(e, None)) => return Err(e),
        };
        Ok(s.cache.fill(generation, id, found, now))
    }
}

fn lookup_err(e: Error) -> LookupError {
    LookupError::from(e)
}

impl ClientStore for Store {
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, LookupError> {
        let rows = self
            .shared
            .with_conn(|c| {
                c.read(|x| {
                    x.query(
                        "SELECT client FROM oauth_clients WHERE id = $1",
                        &[Value::Text(id)],
                        1,
                    )
                })
            })
            .map_err(lookup_err)?;
        let Some(mut row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let what = "an OAuth client";
        let json = json_col(std::mem::replace(&mut row[0], Col::Null), what).map_err(lookup_err)?;
        let client: Client =
            serde_json::from_str(&json).map_err(|e| lookup_err(corrupt(what, e)))?;
        Ok(Some(Arc::new(client)))
    }
}

impl CodeStore for Store {
    fn put_code(&self, hash: TokenHash, record: CodeRecord) -> Result<(), LookupError> {
        let json = serde_json::to_string(&record)
            .map_err(|e| lookup_err(Error::new(ErrorKind::Database, e.to_string())))?;
        self.shared
            .write(|x, _| {
                x.exec(
                    "INSERT INTO oauth_codes (hash, record, used, expires_at) VALUES ($1, $2, 0, $3)",
                    &[
                        Value::Blob(&hash.0),
                        Value::Text(&json),
                        Value::Int(secs(record.expires_at)),
                    ],
                )
                .map(|_| ())
            })
            .map_err(lookup_err)
    }

    fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, LookupError> {
        let found = self
            .shared
            .with_conn(|c| c.read(|x| read_code(x, hash)))
            .map_err(lookup_err)?;
        Ok(found.map(|(record, _)| record))
    }

    fn consume_code(&self, hash: &TokenHash) -> Result<Consumed, LookupError> {
        self.shared
            .write(|x, _| {
                let first = x.exec(
                    "UPDATE oauth_codes SET used = 1 WHERE hash = $1 AND used = 0",
                    &[Value::Blob(&hash.0)],
                )? == 1;
                Ok(match read_code(x, hash)? {
                    None => Consumed::Unknown,
                    Some((record, _)) if first => Consumed::First(record),
                    Some((record, _)) => Consumed::Again(record),
                })
            })
            .map_err(lookup_err)
    }
}

fn read_code(x: &mut dyn Exec, hash: &TokenHash) -> Result<Option<(CodeRecord, bool)>, Error> {
    let rows = x.query(
        "SELECT record, used FROM oauth_codes WHERE hash = $1",
        &[Value::Blob(&hash.0)],
        1,
    )?;
    let Some(mut row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let what = "an authorization code";
    let json = json_col(std::mem::replace(&mut row[0], Col::Null), what)?;
    let record: CodeRecord = serde_json::from_str(&json).map_err(|e| corrupt(what, e))?;
    Ok(Some((record, row[1].int() == Some(1))))
}

fn read_refresh(x: &mut dyn Exec, hash: &TokenHash) -> Result<Option<RefreshRecord>, Error> {
    let rows = x.query(
        "SELECT record, rotated_at FROM oauth_refresh WHERE hash = $1",
        &[Value::Blob(&hash.0)],
        1,
    )?;
    let Some(mut row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let what = "a refresh token";
    let json = json_col(std::mem::replace(&mut row[0], Col::Null), what)?;
    let mut record: RefreshRecord = serde_json::from_str(&json).map_err(|e| corrupt(what, e))?;
    // The column is what rotations compare and set.
    record.rotated_at = stamp(row[1].int());
    Ok(Some(record))
}

fn insert_refresh(x: &mut dyn Exec, hash: &TokenHash, record: &RefreshRecord) -> Result<(), Error> {
    let json = serde_json::to_string(record)
        .map_err(|e| Error::new(ErrorKind::Database, e.to_string()))?;
    x.exec(
        "INSERT INTO oauth_refresh (hash, family, record, rotated_at) VALUES ($1, $2, $3, $4)",
        &[
            Value::Blob(&hash.0),
            Value::Text(record.family.as_str()),
            Value::Text(&json),
            Value::OptInt(record.rotated_at.map(secs)),
        ],
    )
    .map(|_| ())
}

impl RefreshStore for Store {
    fn put_refresh(&self, hash: TokenHash, record: RefreshRecord) -> Result<(), LookupError> {
        self.shared
            .write(|x, _| insert_refresh(x, &hash, &record))
            .map_err(lookup_err)
    }

    fn refresh(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, LookupError> {
        self.shared
            .with_conn(|c| c.read(|x| read_refresh(x, hash)))
            .map_err(lookup_err)
    }

    fn rotate(
        &self,
        old: &TokenHash,
        expected: Option<Timestamp>,
        rotated_at: Timestamp,
        successor: (TokenHash, RefreshRecord),
    ) -> Result<Rotated, LookupError> {
        self.shared
            .write(|x, _| {
                let swapped = x.exec(
                    "UPDATE oauth_refresh SET rotated_at = $2
                     WHERE hash = $1 AND rotated_at IS NOT DISTINCT FROM $3",
                    &[
                        Value::Blob(&old.0),
                        Value::Int(secs(rotated_at)),
                        Value::OptInt(expected.map(secs)),
                    ],
                )?;
                if swapped != 1 {
                    return Ok(Rotated::Conflict);
                }
                insert_refresh(x, &successor.0, &successor.1)?;
                Ok(Rotated::Done)
            })
            .map_err(lookup_err)
    }

    fn revoke_family(&self, family: &KeyId, now: Timestamp) -> Result<(), LookupError> {
        self.shared
            .write(|x, changes| {
                let added = x.exec(
                    "INSERT INTO oauth_revoked_families (family, revoked_at) VALUES ($1, $2)
                     ON CONFLICT (family) DO NOTHING",
                    &[Value::Text(family.as_str()), Value::Int(secs(now))],
                )?;
                if added == 1 {
                    changes.push(Change::Family(*family));
                }
                Ok(())
            })
            .map_err(lookup_err)
    }

    fn is_family_revoked(&self, family: &KeyId) -> Result<bool, LookupError> {
        let rows = self
            .shared
            .with_conn(|c| {
                c.read(|x| {
                    x.query(
                        "SELECT 1 FROM oauth_revoked_families WHERE family = $1",
                        &[Value::Text(family.as_str())],
                        1,
                    )
                })
            })
            .map_err(lookup_err)?;
        Ok(!rows.is_empty())
    }
}
