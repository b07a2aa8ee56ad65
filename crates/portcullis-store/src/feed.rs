//! The change feed: one thread per store with its own connection, which reads every change
//! after the last sequence it applied, applies them, and marks the cache fresh.
//!
//! - PostgreSQL: the connection `LISTEN`s on [`crate::CHANNEL`]; a notification wakes the
//!   thread at once, and it also catches up every quarter of the staleness bound (at most
//!   every 250 ms) as a heartbeat: a silent feed is not taken for a healthy one.
//! - SQLite: the thread polls every [`crate::Options::poll_every`].
//! - A failed connection or query drops the connection; it is re-opened every
//!   [`crate::Options::reconnect_every`], and the first catch-up after it reads every change
//!   missed meanwhile before the cache is marked fresh again.
//! - **Pruned changes are never skipped silently.** Pruning keeps only the newest
//!   [`crate::Options::keep_changes`] rows, so a process that fell further behind (one
//!   suspended or disconnected meanwhile) cannot replay what it missed. A catch-up whose next
//!   row is not `last + 1` compares `last` with the oldest row left; if changes after
//!   `last` are gone, it drops the whole cache, reloads the OAuth revocations and jumps to
//!   the newest sequence before it goes on, so the cache is marked fresh only once it holds
//!   nothing older than the catch-up's start (`Shared::resync`).
//! - The feed also prunes, at most every [`crate::Options::prune_every`] and after a
//!   successful catch-up, one small batch per table per turn; a failed prune is retried
//!   at the next interval and never stops the feed.
//! - The thread ends within one heartbeat of its store being dropped, which joins it.

use crate::db::{Col, Conn, Value};
use crate::error::{Error, ErrorKind};
use crate::store::{CHANGE_PAGE, CHANNEL, Shared, missed_pruned, prune_batch};
use portcullis::Timestamp;
use postgres::fallible_iterator::FallibleIterator;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Most notifications drained at once (each only says "something changed").
const MAX_DRAIN: usize = 10_000;

pub(crate) fn start(shared: Arc<Shared>) -> Result<std::thread::JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name("portcullis-feed".to_owned())
        .spawn(move || run(&shared))
        .map_err(|e| {
            Error::new(
                ErrorKind::Database,
                format!("cannot start the change feed: {e}"),
            )
        })
}

fn heartbeat(shared: &Shared) -> Duration {
    (shared.options.staleness / 4).clamp(Duration::from_millis(5), Duration::from_millis(250))
}

fn connect(shared: &Shared) -> Option<Conn> {
    let mut conn = Conn::connect(&shared.target, shared.options.limits(), false).ok()?;
    if let Some(client) = conn.postgres() {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).ok()?;
    }
    Some(conn)
}

fn run(shared: &Shared) {
    let mut conn: Option<Conn> = None;
    // `None`: never (an interval too long to add to the clock).
    let mut next_prune = Instant::now().checked_add(shared.options.prune_every);
    while !shared.stop.load(Ordering::Acquire) {
        let Some(c) = conn.as_mut() else {
            conn = connect(shared);
            if conn.is_none() {
                std::thread::sleep(shared.options.reconnect_every);
            }
            continue;
        };
        let started = shared.now();
        if catch_up(c, shared).is_err() {
            conn = None;
            continue;
        }
        shared.mark_healthy(started);
        shared.forget_expired_families();
        if next_prune.is_some_and(|at| Instant::now() >= at) {
            // A failure (busy, a dropped connection) waits for the next interval; the
            // catch-up notices a broken connection.
            let more = matches!(
                prune_batch(c, &shared.options, Timestamp::now()),
                Ok((_, true))
            );
            let pause = if more {
                Duration::ZERO
            } else {
                shared.options.prune_every
            };
            next_prune = Instant::now().checked_add(pause);
        }
        if !wait(c, shared) {
            conn = None;
        }
    }
}

/// Waits for a notification or the next poll; false if the connection failed.
fn wait(conn: &mut Conn, shared: &Shared) -> bool {
    let beat = heartbeat(shared);
    let Some(client) = conn.postgres() else {
        std::thread::sleep(shared.options.poll_every.min(beat));
        return true;
    };
    let mut notifications = client.notifications();
    if notifications.timeout_iter(beat).next().is_err() {
        return false;
    }
    // The catch-up reads every change: the other pending notifications add nothing.
    let mut pending = notifications.iter();
    for _ in 0..MAX_DRAIN {
        match pending.next() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    true
}

/// Reads and applies every change after the last one applied; resynchronises instead when
/// some of them were pruned.
pub(crate) fn catch_up(conn: &mut Conn, shared: &Shared) -> Result<(), Error> {
    loop {
        let last = shared.last_seq.load(Ordering::Acquire);
        let rows = conn.read(|x| {
            x.query(
                "SELECT seq, kind, subject, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[Value::Int(last), Value::Int(CHANGE_PAGE as i64)],
                CHANGE_PAGE,
            )
        })?;
        // A page that starts at `last + 1`, or is empty (pruning keeps the newest row),
        // misses nothing; otherwise a hole in the sequence (a rolled-back write) or a
        // gap left by pruning, which the oldest row left tells apart.
        let next = rows.first().and_then(|r| r.first()).and_then(Col::int);
        if next.is_some_and(|seq| seq > last.saturating_add(1)) && missed_pruned(conn, last)? {
            shared.resync(conn)?;
            continue;
        }
        let n = rows.len();
        for row in rows {
            let [seq, kind, subject, at] = <[Col; 4]>::try_from(row)
                .map_err(|_| Error::new(ErrorKind::Corrupt, "a change row has another shape"))?;
            shared.apply(
                seq.int().unwrap_or(0),
                kind.text().unwrap_or(""),
                subject.text().unwrap_or(""),
                at.int().unwrap_or(0),
            );
        }
        if n < CHANGE_PAGE {
            return Ok(());
        }
    }
}
