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
//! - The thread ends within one heartbeat of its store being dropped, which joins it.

use crate::db::{Col, Conn, Value};
use crate::error::{Error, ErrorKind};
use crate::store::{CHANGE_PAGE, CHANNEL, Shared};
use postgres::fallible_iterator::FallibleIterator;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

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

/// Reads and applies every change after the last one applied.
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
