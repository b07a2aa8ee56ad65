//! Usage persistence: what a [`UsageRecorder`] drains — each key's first and last use and
//! networks, its counts per hour, the unusual-activity signals — saved in batches and read
//! back for "last used", a key's usage chart and its signals.
//!
//! ```no_run
//! use portcullis::usage::{UsageConfig, UsageRecorder};
//! use portcullis_store::Store;
//! use std::sync::Arc;
//! let store = Store::open("sqlite:/var/lib/app/keys.sqlite3")?;
//! let recorder = Arc::new(UsageRecorder::new(UsageConfig::default()).expect("config"));
//! store.restore_usage(&recorder)?; // after a restart: learning and dormancy carry over
//! // checker.with_usage(recorder.clone()) decides requests; every few seconds, on a thread:
//! match store.drain_usage(&recorder, portcullis::Timestamp::now()) {
//!     Ok(batch) => for signal in &batch.signals { /* alert */ },
//!     Err(unsaved) => { /* keep unsaved.batch and save_usage it later */ }
//! }
//! # Ok::<(), portcullis_store::Error>(())
//! ```
//!
//! Decisions:
//! - **Drained in batches, never a write per request.** The recorder counts in memory;
//!   the host calls [`Store::drain_usage`] every few seconds (one transaction per call,
//!   whatever the traffic). Writing on the request path would put the database's latency
//!   and its write lock in front of every decision.
//! - **One transaction per batch** ([`Store::save_usage`]): a batch is saved whole or not
//!   at all. A failed save gives the batch back ([`UnsavedUsage`]) to be saved later:
//!   saving is additive, so an old batch saved after newer ones adds up the same.
//! - **Additive, so a fleet shares one database:** counts are added to the row of their
//!   key and hour (`INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`), first use
//!   keeps the earliest and last use the latest, networks are a union; many processes
//!   saving into one PostgreSQL add up exactly. Rows are written in key order, then hour
//!   order, so two savers never wait on each other in opposite orders.
//! - **Networks: at most [`portcullis::usage::NETWORKS_PER_KEY`] per key**, the batch's
//!   first (its recorder's most recently learnt), then the stored ones.
//! - **Times are Unix seconds**; an hour is stored as its first second.
//! - **Never a secret:** rows hold key ids (public), counts, times, networks (/24, /48)
//!   and the signal's fields; a recorder never sees a key's secret.
//! - **Bounded:** reads return at most [`MAX_USAGE_HOURS`] hours and [`MAX_SIGNAL_PAGE`]
//!   signals; hourly counts and signals older than [`crate::Options::usage_window`]
//!   (default 90 days) are pruned with the rest ([`Store::prune`], the feed), 1,000 rows
//!   a batch. A key's one `key_usage` row (first and last use, networks) is kept: "last
//!   used" outlives the window.
//! - **Restoring after a restart** ([`Store::restore_usage`]) gives a new recorder the
//!   most recently used keys' first and last use and networks, at most three quarters of
//!   its `max_keys`: the level a drain evicts down to, so new keys still find room.

use crate::db::{Col, Conn, Exec, Value};
use crate::error::Error;
use crate::store::{MAX_JSON, MAX_LIST, Options, Store, prune_lock};
use portcullis::limit::{Clock, Credits, LocalLimits};
use portcullis::usage::{
    Denial, HourCounts, KeyUsage, NETWORKS_PER_KEY, Network, Signal, SignalKind, UsageBatch,
    UsageRecorder,
};
use portcullis::{KeyId, Timestamp};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::fmt;

/// Most hours one [`Store::key_usage`] returns (the newest; a leap year of hours).
pub const MAX_USAGE_HOURS: usize = 8_784;

/// Most signals one read returns ([`Store::key_usage`], [`Store::usage_signals`]).
pub const MAX_SIGNAL_PAGE: usize = 1_000;

/// A key's stored usage, as [`Store::key_usage`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageHistory {
    /// The key.
    pub key_id: KeyId,
    /// Its first authenticated use on record (`None`: never used).
    pub first_used: Option<Timestamp>,
    /// Its last authenticated use on record.
    pub last_used: Option<Timestamp>,
    /// The networks it has been used from (at most
    /// [`portcullis::usage::NETWORKS_PER_KEY`]).
    pub networks: Vec<Network>,
    /// Its counts per hour since the time asked for, oldest first; hours without use
    /// are absent.
    pub hours: Vec<HourCounts>,
    /// Its signals since the time asked for, newest first (at most [`MAX_SIGNAL_PAGE`]).
    pub signals: Vec<StoredSignal>,
}

/// A saved signal.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSignal {
    /// Its place among saved signals (increasing).
    pub seq: i64,
    /// The key.
    pub key_id: KeyId,
    /// When it was raised.
    pub at: Timestamp,
    /// Its kind's code ([`SignalKind::code`]: `new_network`, `volume`, …).
    pub kind: String,
    /// The kind's fields, as [`Signal::to_json`] writes them (`{"network": …}`, `{}` for
    /// `rotation_due`).
    pub details: Json,
}

impl StoredSignal {
    /// The signal as the core's type; `None` for a kind or fields this build does not
    /// know (written by a newer one).
    pub fn signal(&self) -> Option<Signal> {
        let d = &self.details;
        let int = |name: &str| d.get(name).and_then(Json::as_u64);
        let kind = match self.kind.as_str() {
            "new_network" => SignalKind::NewNetwork {
                network: Network::parse(d.get("network")?.as_str()?)?,
            },
            "volume" => SignalKind::Volume {
                hour: Timestamp(int("hour")?),
                count: int("count")?,
                baseline: d.get("baseline")?.as_f64()?,
            },
            "after_dormancy" => SignalKind::AfterDormancy {
                last_used: Timestamp(int("last_used")?),
            },
            "wrong_secret_burst" => SignalKind::WrongSecretBurst {
                attempts: u32::try_from(int("attempts")?).ok()?,
                since: Timestamp(int("since")?),
            },
            "rotation_due" => SignalKind::RotationDue,
            _ => return None,
        };
        Some(Signal {
            key_id: self.key_id,
            at: self.at,
            kind,
        })
    }

    /// `{"seq", "key_id", "at", "kind", …the kind's fields}`: [`Signal::to_json`]'s shape
    /// with the sequence number.
    pub fn to_json(&self) -> Json {
        let mut out = Map::new();
        out.insert("seq".to_owned(), self.seq.into());
        out.insert("key_id".to_owned(), self.key_id.as_str().into());
        out.insert("at".to_owned(), self.at.secs().into());
        out.insert("kind".to_owned(), self.kind.clone().into());
        if let Json::Object(fields) = &self.details {
            for (k, v) in fields {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Json::Object(out)
    }
}

/// Which signals [`Store::usage_signals`] reads: newest first, at most `limit` (capped at
/// [`MAX_SIGNAL_PAGE`]). Page back with the smallest `seq` of a page as the next
/// `before`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalFilter {
    /// Only this key's signals.
    pub key: Option<KeyId>,
    /// Only signals raised at or after this time.
    pub since: Option<Timestamp>,
    /// Only signals with a sequence number below this.
    pub before: Option<i64>,
    /// Only signals with a sequence number above this.
    pub after: Option<i64>,
    /// At most this many (default 100; capped at [`MAX_SIGNAL_PAGE`]).
    pub limit: usize,
}

impl Default for SignalFilter {
    fn default() -> Self {
        SignalFilter {
            key: None,
            since: None,
            before: None,
            after: None,
            limit: 100,
        }
    }
}

/// A drained batch that could not be saved: the error and the batch, to save later with
/// [`Store::save_usage`] (saving is additive: late is as good as on time).
#[derive(Clone, Debug, PartialEq)]
pub struct UnsavedUsage {
    /// Why the save failed.
    pub error: Error,
    /// What was drained.
    pub batch: UsageBatch,
}

impl fmt::Display for UnsavedUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usage not saved: {}", self.error)
    }
}

impl std::error::Error for UnsavedUsage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<UnsavedUsage> for Error {
    fn from(e: UnsavedUsage) -> Self {
        e.error
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn count(c: Option<&Col>) -> u64 {
    c.and_then(Col::int)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0)
}

fn time(c: Option<&Col>) -> Option<Timestamp> {
    let v = c.and_then(Col::int)?;
    u64::try_from(v).ok().filter(|&s| s > 0).map(Timestamp)
}

fn networks_of(col: Option<&Col>) -> Vec<Network> {
    let Some(text) = col.and_then(Col::text).filter(|t| t.len() <= MAX_JSON) else {
        return Vec::new();
    };
    let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
    names.iter().filter_map(|n| Network::parse(n)).collect()
}

fn networks_json(networks: &[Network]) -> String {
    Json::from(networks.iter().map(ToString::to_string).collect::<Vec<_>>()).to_string()
}

/// The batch's networks first, then the stored ones, at most [`NETWORKS_PER_KEY`].
fn union(batch: &[Network], stored: &[Network]) -> Vec<Network> {
    let mut out: Vec<Network> = Vec::with_capacity(NETWORKS_PER_KEY);
    for n in batch.iter().chain(stored) {
        if out.len() == NETWORKS_PER_KEY {
            break;
        }
        if !out.contains(n) {
            out.push(*n);
        }
    }
    out
}

/// The hour columns, in [`Denial::ALL`] order after `allowed`.
const HOUR_COLUMNS: &str = "hour, allowed, wrong_secret, revoked, expired, not_yet_valid, \
     max_age_exceeded, insufficient_scope, unknown_route, other";

// The column list above names every denial, in counting order.
const _: () = assert!(Denial::COUNT == 8);

fn save_key(x: &mut dyn Exec, usage: &KeyUsage) -> Result<(), Error> {
    let id = usage.key_id.as_str();
    let rows = x.query(
        "INSERT INTO key_usage (key_id, first_used, last_used, networks) VALUES ($1, $2, $3, '[]')
         ON CONFLICT (key_id) DO UPDATE SET
           first_used = COALESCE(CASE WHEN excluded.first_used < key_usage.first_used
                                      THEN excluded.first_used ELSE key_usage.first_used END,
                                 excluded.first_used),
           last_used = COALESCE(CASE WHEN excluded.last_used > key_usage.last_used
                                     THEN excluded.last_used ELSE key_usage.last_used END,
                                excluded.last_used)
         RETURNING networks",
        &[
            Value::Text(id),
            Value::OptInt(usage.first_used.map(|t| int(t.secs()))),
            Value::OptInt(usage.last_used.map(|t| int(t.secs()))),
        ],
        1,
    )?;
    let stored = networks_of(rows.first().and_then(|r| r.first()));
    let merged = union(&usage.networks, &stored);
    if merged != stored {
        x.exec(
            "UPDATE key_usage SET networks = $2 WHERE key_id = $1",
            &[Value::Text(id), Value::Text(&networks_json(&merged))],
        )?;
    }
    let mut hours: Vec<&HourCounts> = usage.hours.iter().collect();
    hours.sort_by_key(|h| h.hour);
    for h in hours {
        let d = |denial: Denial| Value::Int(int(h.denied(denial)));
        x.exec(
            "INSERT INTO key_usage_hours (key_id, hour, allowed, wrong_secret, revoked, expired,
                 not_yet_valid, max_age_exceeded, insufficient_scope, unknown_route, other)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (key_id, hour) DO UPDATE SET
               allowed = key_usage_hours.allowed + excluded.allowed,
               wrong_secret = key_usage_hours.wrong_secret + excluded.wrong_secret,
               revoked = key_usage_hours.revoked + excluded.revoked,
               expired = key_usage_hours.expired + excluded.expired,
               not_yet_valid = key_usage_hours.not_yet_valid + excluded.not_yet_valid,
               max_age_exceeded = key_usage_hours.max_age_exceeded + excluded.max_age_exceeded,
               insufficient_scope = key_usage_hours.insufficient_scope + excluded.insufficient_scope,
               unknown_route = key_usage_hours.unknown_route + excluded.unknown_route,
               other = key_usage_hours.other + excluded.other",
            &[
                Value::Text(id),
                Value::Int(int(h.hour.secs())),
                Value::Int(int(h.allowed)),
                d(Denial::WrongSecret),
                d(Denial::Revoked),
                d(Denial::Expired),
                d(Denial::NotYetValid),
                d(Denial::MaxAgeExceeded),
                d(Denial::InsufficientScope),
                d(Denial::UnknownRoute),
                d(Denial::Other),
            ],
        )?;
    }
    Ok(())
}

fn save_signal(x: &mut dyn Exec, signal: &Signal) -> Result<(), Error> {
    let mut details = signal.to_json();
    if let Json::Object(fields) = &mut details {
        for common in ["key_id", "at", "kind"] {
            fields.remove(common);
        }
    }
    x.exec(
        "INSERT INTO usage_signals (key_id, at, kind, details) VALUES ($1, $2, $3, $4)",
        &[
            Value::Text(signal.key_id.as_str()),
            Value::Int(int(signal.at.secs())),
            Value::Text(signal.kind.code()),
            Value::Text(&details.to_string()),
        ],
    )
    .map(|_| ())
}

fn hour_counts(r: &[Col]) -> HourCounts {
    let mut denied = [0; Denial::COUNT];
    for (i, d) in denied.iter_mut().enumerate() {
        *d = count(r.get(2 + i));
    }
    HourCounts {
        hour: time(r.first()).unwrap_or(Timestamp(0)),
        allowed: count(r.get(1)),
        denied,
    }
}

fn stored_signal(mut r: Vec<Col>) -> Option<StoredSignal> {
    let key_id = KeyId::parse(r.get(1)?.text()?).ok()?;
    let details = std::mem::replace(r.get_mut(4)?, Col::Null)
        .into_text()
        .filter(|t| t.len() <= MAX_JSON)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| Json::Object(Map::new()));
    Some(StoredSignal {
        seq: r.first()?.int()?,
        key_id,
        at: time(r.get(2)).unwrap_or(Timestamp(0)),
        kind: std::mem::replace(r.get_mut(3)?, Col::Null).into_text()?,
        details,
    })
}

fn signals(x: &mut dyn Exec, filter: &SignalFilter) -> Result<Vec<StoredSignal>, Error> {
    let limit = filter.limit.min(MAX_SIGNAL_PAGE);
    let rows = x.query(
        "SELECT seq, key_id, at, kind, details FROM usage_signals
         WHERE (CAST($1 AS TEXT) IS NULL OR key_id = $1)
           AND (CAST($2 AS BIGINT) IS NULL OR at >= $2)
           AND (CAST($3 AS BIGINT) IS NULL OR seq < $3)
           AND (CAST($4 AS BIGINT) IS NULL OR seq > $4)
         ORDER BY seq DESC LIMIT $5",
        &[
            Value::OptText(filter.key.as_ref().map(KeyId::as_str)),
            Value::OptInt(filter.since.map(|t| int(t.secs()))),
            Value::OptInt(filter.before),
            Value::OptInt(filter.after),
            Value::Int(int(limit as u64)),
        ],
        limit,
    )?;
    // A row not written by portcullis (an id that does not parse) is left out.
    Ok(rows.into_iter().filter_map(stored_signal).collect())
}

/// Gives `recorder` what the rows say of their keys; how many it took.
fn restore_rows(recorder: &UsageRecorder, rows: Vec<Vec<Col>>, room: usize) -> usize {
    let mut restored = 0;
    for r in rows {
        if restored == room {
            break;
        }
        let Some(id) = r
            .first()
            .and_then(Col::text)
            .and_then(|t| KeyId::parse(t).ok())
        else {
            continue;
        };
        let networks = networks_of(r.get(3));
        if recorder.restore(&id, time(r.get(1)), time(r.get(2)), &networks) {
            restored += 1;
        }
    }
    restored
}

impl Store {
    /// Saves a drained batch in one transaction: adds its counts to each key's hours,
    /// keeps the earliest first use and the latest last use, merges the networks (at most
    /// [`portcullis::usage::NETWORKS_PER_KEY`]) and appends the signals. Additive: saving
    /// the same batch twice counts it twice, and any number of processes may save into one
    /// database. An empty batch writes nothing.
    pub fn save_usage(&self, batch: &UsageBatch) -> Result<(), Error> {
        if batch.keys.is_empty() && batch.signals.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<&KeyUsage> = batch.keys.iter().collect();
        // Key order: concurrent savers lock rows in the same order.
        keys.sort_by_key(|k| k.key_id);
        self.shared.with_conn(|c| {
            c.write(|x| {
                for usage in &keys {
                    save_key(x, usage)?;
                }
                for signal in &batch.signals {
                    save_signal(x, signal)?;
                }
                Ok(())
            })
        })
    }

    /// Drains `recorder` ([`UsageRecorder::drain`] at `now`) and saves the batch
    /// ([`Store::save_usage`]); the batch, for its signals. Call it every few seconds from
    /// one thread (and once before the process exits), never per request. When the save
    /// fails the batch is in the error, to save later.
    pub fn drain_usage(
        &self,
        recorder: &UsageRecorder,
        now: Timestamp,
    ) -> Result<UsageBatch, UnsavedUsage> {
        let batch = recorder.drain(now);
        match self.save_usage(&batch) {
            Ok(()) => Ok(batch),
            Err(error) => Err(UnsavedUsage { error, batch }),
        }
    }

    /// Gives a new recorder (after a restart) the first and last use and networks of the
    /// most recently used keys, at most three quarters of its `max_keys` (the level its
    /// drains evict down to, leaving room for new keys), so that learning periods,
    /// dormancy and known networks carry over. Returns how many keys it restored.
    pub fn restore_usage(&self, recorder: &UsageRecorder) -> Result<usize, Error> {
        let room = (recorder.config().max_keys * 3 / 4).clamp(1, MAX_LIST);
        let rows = self.shared.with_conn(|c| {
            c.read(|x| {
                x.query(
                    "SELECT key_id, first_used, last_used, networks FROM key_usage
                     WHERE last_used IS NOT NULL ORDER BY last_used DESC, key_id LIMIT $1",
                    &[Value::Int(int(room as u64))],
                    room,
                )
            })
        })?;
        Ok(restore_rows(recorder, rows, room))
    }

    /// [`Store::restore_usage`] for the keys named (a host that knows which keys it will
    /// see, such as a command line checking one request); at most [`MAX_LIST`] ids.
    pub fn restore_key_usage(
        &self,
        recorder: &UsageRecorder,
        ids: &[KeyId],
    ) -> Result<usize, Error> {
        let ids = &ids[..ids.len().min(MAX_LIST)];
        let mut rows = Vec::with_capacity(ids.len());
        self.shared.with_conn(|c| {
            c.read(|x| {
                for id in ids {
                    rows.extend(x.query(
                        "SELECT key_id, first_used, last_used, networks FROM key_usage
                         WHERE key_id = $1",
                        &[Value::Text(id.as_str())],
                        1,
                    )?);
                }
                Ok(())
            })
        })?;
        Ok(restore_rows(recorder, rows, ids.len()))
    }

    /// Gives `limits` back what each key with credits (its record's `metadata.credits`)
    /// spent in its current period, from the saved usage (a credit is spent by every
    /// allowed request, which the usage recorder counts): after a restart, credits are not
    /// spent twice. Needs the checker's usage recorder drained into this store; counts
    /// older than [`crate::Options::usage_window`] are pruned, so credits that never
    /// refill are restored from that window only. At most [`MAX_LIST`] keys; returns how
    /// many it restored.
    pub fn restore_credits<C: Clock>(
        &self,
        limits: &LocalLimits<C>,
        now: Timestamp,
    ) -> Result<usize, Error> {
        let keys: Vec<(KeyId, Credits)> = self
            .list_keys()?
            .into_iter()
            .filter_map(|k| match k {
                crate::StoredKey::Record(r) => Some((r.id(), Credits::of(&r)?)),
                crate::StoredKey::Corrupt(_) => None,
            })
            .collect();
        let mut spent = Vec::with_capacity(keys.len());
        self.shared.with_conn(|c| {
            c.read(|x| {
                for (id, credits) in &keys {
                    let since = credits.period_start(now).map_or(0, |t| int(t.secs()));
                    let rows = x.query(
                        "SELECT CAST(COALESCE(SUM(allowed), 0) AS BIGINT) FROM key_usage_hours
                         WHERE key_id = $1 AND hour >= $2",
                        &[Value::Text(id.as_str()), Value::Int(since)],
                        1,
                    )?;
                    let used = rows.first().and_then(|r| r.first()).and_then(Col::int);
                    spent.push(u32::try_from(used.unwrap_or(0)).unwrap_or(u32::MAX));
                }
                Ok(())
            })
        })?;
        Ok(keys
            .iter()
            .zip(spent)
            .filter(|((id, credits), used)| limits.restore_credits(id, credits, *used, now))
            .count())
    }

    /// Every key's last authenticated use on record (keys never used are absent), at
    /// most [`MAX_LIST`] keys: the "last used" of a key listing.
    pub fn last_used_all(&self) -> Result<HashMap<KeyId, Timestamp>, Error> {
        let rows = self.shared.with_conn(|c| {
            c.read(|x| {
                x.query(
                    "SELECT key_id, last_used FROM key_usage WHERE last_used IS NOT NULL
                     ORDER BY last_used DESC LIMIT $1",
                    &[Value::Int(MAX_LIST as i64)],
                    MAX_LIST,
                )
            })
        })?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let id = KeyId::parse(r.first()?.text()?).ok()?;
                Some((id, time(r.get(1))?))
            })
            .collect())
    }

    /// A key's stored usage: first and last use and networks, its counts per hour from
    /// `since` on (the newest [`MAX_USAGE_HOURS`], oldest first) and its signals raised
    /// from `since` on (the newest [`MAX_SIGNAL_PAGE`], newest first). A key without any
    /// has an empty history.
    pub fn key_usage(&self, id: &KeyId, since: Timestamp) -> Result<UsageHistory, Error> {
        let since_secs = int(since.secs());
        self.shared.with_conn(|c| {
            c.read(|x| {
                let row = x.query(
                    "SELECT key_id, first_used, last_used, networks FROM key_usage
                     WHERE key_id = $1",
                    &[Value::Text(id.as_str())],
                    1,
                )?;
                let row = row.first();
                let sql = format!(
                    "SELECT {HOUR_COLUMNS} FROM key_usage_hours WHERE key_id = $1 AND hour >= $2
                     ORDER BY hour DESC LIMIT $3"
                );
                let mut hours: Vec<HourCounts> = x
                    .query(
                        &sql,
                        &[
                            Value::Text(id.as_str()),
                            Value::Int(since_secs),
                            Value::Int(MAX_USAGE_HOURS as i64),
                        ],
                        MAX_USAGE_HOURS,
                    )?
                    .iter()
                    .map(|r| hour_counts(r))
                    .collect();
                hours.reverse();
                let signals = signals(
                    x,
                    &SignalFilter {
                        key: Some(*id),
                        since: Some(since),
                        limit: MAX_SIGNAL_PAGE,
                        ..SignalFilter::default()
                    },
                )?;
                Ok(UsageHistory {
                    key_id: *id,
                    first_used: time(row.and_then(|r| r.get(1))),
                    last_used: time(row.and_then(|r| r.get(2))),
                    networks: networks_of(row.and_then(|r| r.get(3))),
                    hours,
                    signals,
                })
            })
        })
    }

    /// Saved signals, **newest first**, filtered (see [`SignalFilter`]).
    pub fn usage_signals(&self, filter: &SignalFilter) -> Result<Vec<StoredSignal>, Error> {
        self.shared.with_conn(|c| c.read(|x| signals(x, filter)))
    }
}

/// One pruning batch of usage at `now`: hourly counts and signals older than
/// [`Options::usage_window`], at most `batch` rows each, each in its own transaction.
pub(crate) fn prune_batch(
    conn: &mut Conn,
    options: &Options,
    now: Timestamp,
    batch: usize,
) -> Result<(u64, u64), Error> {
    let before = int(now.secs().saturating_sub(options.usage_window.as_secs()));
    let batch = int(batch as u64);
    let hours = conn.write(|x| {
        prune_lock(x)?;
        x.exec(
            "DELETE FROM key_usage_hours WHERE (key_id, hour) IN
             (SELECT key_id, hour FROM key_usage_hours WHERE hour < $1
              ORDER BY hour, key_id LIMIT $2)",
            &[Value::Int(before), Value::Int(batch)],
        )
    })?;
    let signals = conn.write(|x| {
        prune_lock(x)?;
        x.exec(
            "DELETE FROM usage_signals WHERE seq IN
             (SELECT seq FROM usage_signals WHERE at < $1 ORDER BY seq LIMIT $2)",
            &[Value::Int(before), Value::Int(batch)],
        )
    })?;
    Ok((hours, signals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Network {
        Network::parse(text).expect("test network")
    }

    #[test]
    fn networks_union_keeps_the_batch_first_and_at_most_eight() {
        let stored: Vec<Network> = (0..8).map(|i| net(&format!("10.0.{i}.0/24"))).collect();
        let batch = [net("10.0.3.0/24"), net("192.0.2.0/24")];
        let merged = union(&batch, &stored);
        assert_eq!(merged.len(), NETWORKS_PER_KEY);
        assert_eq!(&merged[..2], &batch);
        assert!(
            !merged.contains(&net("10.0.7.0/24")),
            "the oldest stored one goes"
        );
        assert_eq!(union(&[], &stored), stored);
        let text = networks_json(&merged);
        assert_eq!(networks_of(Some(&Col::Text(text))), merged);
        assert!(networks_of(Some(&Col::Text("not json".to_owned()))).is_empty());
    }

    #[test]
    fn every_signal_kind_reads_back_from_its_stored_details() {
        let key_id = KeyId::parse("AbCdEfGh01234567").expect("test id");
        let kinds = [
            SignalKind::NewNetwork {
                network: net("2001:db8:1::/48"),
            },
            SignalKind::Volume {
                hour: Timestamp(3_600),
                count: 5_000,
                baseline: 12.5,
            },
            SignalKind::AfterDormancy {
                last_used: Timestamp(77),
            },
            SignalKind::WrongSecretBurst {
                attempts: 10,
                since: Timestamp(60),
            },
            SignalKind::RotationDue,
        ];
        for kind in kinds {
            let signal = Signal {
                key_id,
                at: Timestamp(7_200),
                kind,
            };
            let mut details = signal.to_json();
            if let Json::Object(fields) = &mut details {
                for common in ["key_id", "at", "kind"] {
                    fields.remove(common);
                }
            }
            let stored = StoredSignal {
                seq: 1,
                key_id,
                at: signal.at,
                kind: kind.code().to_owned(),
                details,
            };
            assert_eq!(stored.signal(), Some(signal), "{}", kind.code());
            let mut expected = signal.to_json();
            expected["seq"] = 1.into();
            assert_eq!(stored.to_json(), expected);
        }
        let unknown = StoredSignal {
            seq: 2,
            key_id,
            at: Timestamp(1),
            kind: "from_the_future".to_owned(),
            details: Json::Object(Map::new()),
        };
        assert_eq!(unknown.signal(), None);
    }
}
