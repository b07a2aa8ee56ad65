//! Usage: when each key was first and last used, its uses per hour (allowed, and denied by
//! reason), and signals of unusual activity — counted in memory on the hot path, drained by
//! the host in batches.
//!
//! ```
//! use portcullis::usage::{UsageConfig, UsageRecorder};
//! use std::sync::Arc;
//! # use portcullis::{Checker, Peppers, Policy};
//! # let policy = Policy::from_toml("[service]\nrealm = \"api\"\n")?;
//! let recorder = Arc::new(UsageRecorder::new(UsageConfig::default())?);
//! let checker = Checker::new(policy, Peppers::new("p1", &[7u8; 32])?).with_usage(recorder.clone());
//! // … checker.check(&request.client(addr), &store, now) on every request …
//! // Every few seconds, on another thread:
//! let batch = recorder.drain(portcullis::Timestamp::now());
//! for signal in &batch.signals { /* alert */ }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is recorded
//! A decision is recorded against its key once the key's record was found: allowed, and
//! the denials [`Denial`] names (a wrong secret, a revoked or expired key, a missing
//! scope, …). Decisions with no record behind them — an unknown key id, a malformed key,
//! a failed lookup — are not: ids that no key has would otherwise fill the table.
//! First and last use count *authenticated* uses only (allowed, or refused for scope):
//! wrong-secret guesses are counted, but they do not make a key "used". OAuth access
//! tokens are not recorded (their refresh-token family is their unit, not a key) A
//! checker records what `check` and `finish` decide; `finish_corrupt` has no time to
//! record at, and `verify` no route: record those yourself with [`UsageRecorder::record`].
//!
//! # Bounds
//! - At most [`UsageConfig::max_keys`] keys (≤ [`MAX_TRACKED_KEYS`]), in a table allocated
//!   when the recorder is made: a power of two of slots above 4/3 of `max_keys`, each
//!   about 360 bytes plus 16 per core (recording threads count allowed uses on lines of
//!   their own) — 6 MB for the default 10,000 keys on two cores; [`UsageStats::bytes`]
//!   says. When the table is
//!   seven-eighths full, a drain evicts the least recently active keys down to three
//!   quarters; a use of a new key that finds no room is counted in
//!   [`UsageBatch::dropped`].
//! - Recording takes no lock and allocates nothing. [`UsageRecorder::drain`] takes a
//!   lock of its own (one drain at a time) and allocates its batch.
//! - A key keeps [`HOURS_KEPT`] hour buckets: drain at least every few hours (every few
//!   seconds is the intended rhythm), or counts older than that are reported under a
//!   newer hour. A count made while a drain runs may be reported by the next drain.
//!
//! # Unusual activity
//! Each rule raises a [`Signal`] the host drains; the two decided while recording also
//! put a warning on the decision ([`Warning::NewNetwork`], [`Warning::AfterDormancy`]).
//! A drain reports at most one signal of each kind per key, the latest (drain every few
//! seconds and little is merged); every use that raised one carries its warning.
//! - **New network** ([`SignalKind::NewNetwork`]): an authenticated use from a client
//!   network (IPv4 /24, IPv6 /48; see [`Network`]) the key was not seen from, once the key
//!   has been in use for [`UsageConfig::learning`] seconds. During learning networks are
//!   learnt silently; a key remembers its [`NETWORKS_PER_KEY`] most recently learnt. Needs
//!   the client address on the request ([`crate::Request::client`]).
//! - **Volume** ([`SignalKind::Volume`]): evaluated as counts are drained — an hour's
//!   uses reaching [`UsageConfig::volume_factor`] × the key's trailing hourly baseline
//!   and at least [`UsageConfig::volume_min_count`], once the key has
//!   [`UsageConfig::baseline_hours`] hours of history; once per hour.
//! - **After dormancy** ([`SignalKind::AfterDormancy`]): an authenticated use
//!   [`UsageConfig::dormancy`] seconds or more after the previous one.
//! - **Wrong-secret burst** ([`SignalKind::WrongSecretBurst`]): [`UsageConfig::burst_threshold`]
//!   wrong secrets against one key id within [`UsageConfig::burst_window`] seconds (the
//!   id is public: someone who read it in a log is guessing); once per window.
//! - **Rotation due** ([`SignalKind::RotationDue`]): a use of a key past the policy's
//!   maximum age (the decision's `rotation_due` warning, or a `max_age_exceeded`
//!   refusal); at most once a day per key.
//!
//! A recorder knows what it has seen since it was made: after a restart, first use,
//! last use and networks start afresh unless the host restores them from what it stored
//! ([`UsageRecorder::restore`]).

mod network;
mod table;
mod volume;

pub use network::Network;

use crate::decision::{Reason, Warning, Warnings};
use crate::format::KeyId;
use crate::thread_slot::slot_count;
use crate::time::{DAY, Timestamp};
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use table::{SIG_BURST, SIG_DORMANT, SIG_NEW_NETWORK, SIG_ROTATION, Table};

/// The most keys one recorder tracks.
pub const MAX_TRACKED_KEYS: usize = 1 << 20;
/// Hour buckets each key keeps between drains.
pub const HOURS_KEPT: usize = 4;
/// Client networks each key remembers.
pub const NETWORKS_PER_KEY: usize = 8;

const HOUR: u64 = 3_600;

/// Why a use was denied, as usage counts it (several reasons share [`Denial::Other`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Denial {
    /// `wrong_secret`.
    WrongSecret,
    /// `revoked`.
    Revoked,
    /// `expired`.
    Expired,
    /// `not_yet_valid`.
    NotYetValid,
    /// `max_age_exceeded`.
    MaxAgeExceeded,
    /// `insufficient_scope`.
    InsufficientScope,
    /// `unknown_route`.
    UnknownRoute,
    /// A record that cannot be used: `corrupt_record`, `unknown_pepper`,
    /// `legacy_hash_refused` (counted as `other`).
    Other,
}

impl Denial {
    /// How many there are.
    pub const COUNT: usize = 8;
    /// Every denial, in counting order.
    pub const ALL: [Denial; Denial::COUNT] = [
        Denial::WrongSecret,
        Denial::Revoked,
        Denial::Expired,
        Denial::NotYetValid,
        Denial::MaxAgeExceeded,
        Denial::InsufficientScope,
        Denial::UnknownRoute,
        Denial::Other,
    ];

    /// The stable name (`wrong_secret`, …, `other`).
    pub const fn code(self) -> &'static str {
        match self {
            Denial::WrongSecret => "wrong_secret",
            Denial::Revoked => "revoked",
            Denial::Expired => "expired",
            Denial::NotYetValid => "not_yet_valid",
            Denial::MaxAgeExceeded => "max_age_exceeded",
            Denial::InsufficientScope => "insufficient_scope",
            Denial::UnknownRoute => "unknown_route",
            Denial::Other => "other",
        }
    }
}

/// One recordable use of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Use {
    /// The key was valid and allowed.
    Allowed,
    /// The key's record was found and the request denied.
    Denied(Denial),
}

impl Use {
    /// The use a decision's reason records, if it records one (see the module docs).
    pub const fn of(reason: Reason) -> Option<Use> {
        Some(match reason {
            Reason::Allowed => Use::Allowed,
            Reason::WrongSecret => Use::Denied(Denial::WrongSecret),
            Reason::Revoked => Use::Denied(Denial::Revoked),
            Reason::Expired => Use::Denied(Denial::Expired),
            Reason::NotYetValid => Use::Denied(Denial::NotYetValid),
            Reason::MaxAgeExceeded => Use::Denied(Denial::MaxAgeExceeded),
            Reason::InsufficientScope => Use::Denied(Denial::InsufficientScope),
            Reason::UnknownRoute => Use::Denied(Denial::UnknownRoute),
            Reason::CorruptRecord | Reason::UnknownPepper | Reason::LegacyHashRefused => {
                Use::Denied(Denial::Other)
            }
            _ => return None,
        })
    }

    /// The use of a reason code (`allowed`, `wrong_secret`, `corrupt_record`, …), for
    /// bindings and vectors; `None` for a reason that records nothing.
    pub fn from_code(code: &str) -> Option<Use> {
        if code == "allowed" {
            return Some(Use::Allowed);
        }
        if let Some(d) = Denial::ALL
            .into_iter()
            .find(|d| d.code() == code && code != "other")
        {
            return Some(Use::Denied(d));
        }
        matches!(
            code,
            "corrupt_record" | "unknown_pepper" | "legacy_hash_refused"
        )
        .then_some(Use::Denied(Denial::Other))
    }

    /// Whether the key itself was valid (allowed, or refused for scope only): such uses
    /// make the key "used" and teach its networks.
    pub const fn authenticated(self) -> bool {
        matches!(
            self,
            Use::Allowed | Use::Denied(Denial::InsufficientScope | Denial::UnknownRoute)
        )
    }
}

/// The recorder's settings. Durations are in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageConfig {
    /// Keys tracked at once, 1 to [`MAX_TRACKED_KEYS`] (default 10,000).
    pub max_keys: usize,
    /// How long after its first use a key's networks are learnt without a signal
    /// (default 7 days).
    pub learning: u64,
    /// The idle time after which a use is [`SignalKind::AfterDormancy`] (default 30 days).
    pub dormancy: u64,
    /// Wrong secrets within [`UsageConfig::burst_window`] that make a burst, ≥ 1
    /// (default 10).
    pub burst_threshold: u32,
    /// The burst window (default 600 s).
    pub burst_window: u64,
    /// How many times its baseline an hour's count must reach, ≥ 1 and finite
    /// (default 10).
    pub volume_factor: f64,
    /// The fewest uses in an hour that can be a volume alarm (default 1,000).
    pub volume_min_count: u64,
    /// Hours the baseline averages over, and the history a key needs before the volume
    /// rule applies, 1 to 8,760 (default 24).
    pub baseline_hours: u32,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            max_keys: 10_000,
            learning: 7 * DAY,
            dormancy: 30 * DAY,
            burst_threshold: 10,
            burst_window: 600,
            volume_factor: 10.0,
            volume_min_count: 1_000,
            baseline_hours: 24,
        }
    }
}

/// A [`UsageConfig`] setting out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UsageConfigError {
    /// `max_keys` is 0 or above [`MAX_TRACKED_KEYS`].
    MaxKeys,
    /// `burst_threshold` is 0.
    BurstThreshold,
    /// `volume_factor` is below 1 or not finite.
    VolumeFactor,
    /// `baseline_hours` is 0 or above 8,760.
    BaselineHours,
}

impl UsageConfigError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            UsageConfigError::MaxKeys => &crate::codes::USAGE_BAD_MAX_KEYS,
            UsageConfigError::BurstThreshold => &crate::codes::USAGE_BAD_BURST_THRESHOLD,
            UsageConfigError::VolumeFactor => &crate::codes::USAGE_BAD_VOLUME_FACTOR,
            UsageConfigError::BaselineHours => &crate::codes::USAGE_BAD_BASELINE_HOURS,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

impl std::fmt::Display for UsageConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.row().message())
    }
}

impl std::error::Error for UsageConfigError {}

impl UsageConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), UsageConfigError> {
        if self.max_keys == 0 || self.max_keys > MAX_TRACKED_KEYS {
            return Err(UsageConfigError::MaxKeys);
        }
        if self.burst_threshold == 0 {
            return Err(UsageConfigError::BurstThreshold);
        }
        if !(self.volume_factor.is_finite() && self.volume_factor >= 1.0) {
            return Err(UsageConfigError::VolumeFactor);
        }
        if self.baseline_hours == 0 || self.baseline_hours > 8_760 {
            return Err(UsageConfigError::BaselineHours);
        }
        Ok(())
    }
}

/// One key's uses in one hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourCounts {
    /// The hour's first second.
    pub hour: Timestamp,
    /// Allowed uses.
    pub allowed: u64,
    /// Denied uses, indexed by [`Denial`] (`denied[Denial::Revoked as usize]`).
    pub denied: [u64; Denial::COUNT],
}

impl HourCounts {
    /// Denied uses for one reason.
    pub fn denied(&self, denial: Denial) -> u64 {
        self.denied[denial as usize]
    }

    /// Every use, allowed or denied.
    pub fn total(&self) -> u64 {
        self.allowed + self.denied.iter().sum::<u64>()
    }

    /// Adds another count of the same hour.
    pub fn add(&mut self, other: &HourCounts) {
        self.allowed += other.allowed;
        for (a, b) in self.denied.iter_mut().zip(other.denied) {
            *a += b;
        }
    }
}

/// One key's usage since the previous drain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUsage {
    /// The key.
    pub key_id: KeyId,
    /// Its first authenticated use this recorder knows of.
    pub first_used: Option<Timestamp>,
    /// Its last authenticated use.
    pub last_used: Option<Timestamp>,
    /// Counts per hour since the previous drain, oldest first.
    pub hours: Vec<HourCounts>,
    /// The networks it has been used from (at most [`NETWORKS_PER_KEY`], in order).
    pub networks: Vec<Network>,
}

/// What a signal reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SignalKind {
    /// An authenticated use from a network the key had not been used from, after its
    /// learning period.
    NewNetwork {
        /// The network.
        network: Network,
    },
    /// An hour's uses far above the key's trailing hourly baseline.
    Volume {
        /// The hour's first second.
        hour: Timestamp,
        /// Uses in that hour when the rule fired.
        count: u64,
        /// The baseline (uses per hour) it exceeded.
        baseline: f64,
    },
    /// An authenticated use after a long idle time.
    AfterDormancy {
        /// The use before it.
        last_used: Timestamp,
    },
    /// Many wrong secrets against one key id in a short time.
    WrongSecretBurst {
        /// Wrong secrets in the window so far.
        attempts: u32,
        /// The window's start.
        since: Timestamp,
    },
    /// A use of a key past the policy's maximum age.
    RotationDue,
}

impl SignalKind {
    /// The stable name (`new_network`, `volume`, `after_dormancy`, `wrong_secret_burst`,
    /// `rotation_due`).
    pub const fn code(&self) -> &'static str {
        match self {
            SignalKind::NewNetwork { .. } => "new_network",
            SignalKind::Volume { .. } => "volume",
            SignalKind::AfterDormancy { .. } => "after_dormancy",
            SignalKind::WrongSecretBurst { .. } => "wrong_secret_burst",
            SignalKind::RotationDue => "rotation_due",
        }
    }
}

/// An unusual-activity event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Signal {
    /// The key.
    pub key_id: KeyId,
    /// When it was raised (a use's time; a volume alarm's: the drain's).
    pub at: Timestamp,
    /// What happened.
    pub kind: SignalKind,
}

/// What one [`UsageRecorder::drain`] took out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageBatch {
    /// Keys with counts since the previous drain, by id.
    pub keys: Vec<KeyUsage>,
    /// Signals raised since the previous drain, by time, then key, then kind.
    pub signals: Vec<Signal>,
    /// Uses not recorded since the previous drain (a new key and no room).
    pub dropped: u64,
}

/// Counters about the recorder itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageStats {
    /// Keys tracked now.
    pub keys: usize,
    /// The bound ([`UsageConfig::max_keys`]).
    pub max_keys: usize,
    /// Uses not recorded since the recorder was made (no room).
    pub dropped: u64,
    /// Keys evicted since the recorder was made.
    pub evicted: u64,
    /// Bytes the recorder's table takes (allocated once, when it was made).
    pub bytes: usize,
}

/// Counts uses per key, lock-free and without allocating; share it (`Arc`) between the
/// checker ([`crate::Checker::with_usage`]) and the thread that drains it.
pub struct UsageRecorder {
    config: UsageConfig,
    table: Table,
    dropped: AtomicU64,
    dropped_total: AtomicU64,
    evicted: AtomicU64,
    drain: Mutex<volume::Volume>,
}

impl std::fmt::Debug for UsageRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageRecorder")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl UsageRecorder {
    /// A recorder with its table allocated for `config.max_keys` keys.
    ///
    /// # Errors
    /// A setting out of range.
    pub fn new(config: UsageConfig) -> Result<Self, UsageConfigError> {
        config.validate()?;
        Ok(UsageRecorder {
            table: Table::new(config.max_keys, slot_count()),
            config,
            dropped: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            drain: Mutex::new(volume::Volume::default()),
        })
    }

    /// The settings.
    pub fn config(&self) -> &UsageConfig {
        &self.config
    }

    /// Records one use of `key_id` at `now`, from `client` if known; `warnings` are the
    /// decision's (its `rotation_due` raises [`SignalKind::RotationDue`]). Returns the
    /// warnings the use raised ([`Warning::NewNetwork`], [`Warning::AfterDormancy`]).
    /// A checker with [`crate::Checker::with_usage`] calls this itself; call it when you
    /// decide by other means ([`crate::Checker::verify`]).
    #[inline]
    pub fn record(
        &self,
        key_id: &KeyId,
        used: Use,
        warnings: Warnings,
        client: Option<IpAddr>,
        now: Timestamp,
    ) -> Warnings {
        let Some(i) = self.table.find(key_id, true) else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
            return Warnings::default();
        };
        let now = now.secs().max(1);
        let denial = match used {
            Use::Allowed => None,
            Use::Denied(d) => Some(d),
        };
        let slot = self.table.slot(i);
        self.table.count(slot, i, now / HOUR, denial);
        let mut raised = Warnings::default();
        if used.authenticated() {
            raised = self.on_use(slot, i, client, now);
        }
        if denial == Some(Denial::WrongSecret) {
            self.on_wrong_secret(i, now);
        }
        if warnings.contains(Warning::RotationDue) || denial == Some(Denial::MaxAgeExceeded) {
            self.on_rotation_due(i, now);
        }
        raised
    }

    /// First and last use, dormancy and networks.
    #[inline]
    fn on_use(&self, slot: &table::Slot, i: usize, client: Option<IpAddr>, now: u64) -> Warnings {
        let mut raised = Warnings::default();
        let mut first = slot.first.load(Ordering::Relaxed);
        if first == 0 {
            first = match slot
                .first
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => now,
                Err(other) => other,
            };
        }
        let last = slot.last.load(Ordering::Relaxed);
        if now > last {
            let previous = slot.last.fetch_max(now, Ordering::Relaxed);
            if previous != 0 && now.saturating_sub(previous) >= self.config.dormancy {
                slot.dormant_last.store(previous, Ordering::Relaxed);
                slot.dormant_at.store(now, Ordering::Relaxed);
                self.raise(i, SIG_DORMANT);
                raised.insert(Warning::AfterDormancy);
            }
        }
        if let Some(addr) = client {
            let net = Network::of(addr);
            if !self.table.knows(i, net) {
                self.table.learn(i, net);
                if now.saturating_sub(first) >= self.config.learning {
                    slot.new_net.store(net.bits(), Ordering::Relaxed);
                    slot.new_net_at.store(now, Ordering::Relaxed);
                    self.raise(i, SIG_NEW_NETWORK);
                    raised.insert(Warning::NewNetwork);
                }
            }
        }
        raised
    }

    fn on_wrong_secret(&self, i: usize, now: u64) {
        let slot = self.table.slot(i);
        let start = slot.burst_start.load(Ordering::Relaxed);
        let count = if start == 0 || now.saturating_sub(start) >= self.config.burst_window {
            slot.burst_start.store(now, Ordering::Relaxed);
            slot.burst_count.store(1, Ordering::Relaxed);
            1
        } else {
            slot.burst_count.fetch_add(1, Ordering::Relaxed) + 1
        };
        if count == self.config.burst_threshold {
            let since = slot.burst_start.load(Ordering::Relaxed);
            slot.burst_since.store(since, Ordering::Relaxed);
            slot.burst_at.store(now, Ordering::Relaxed);
            self.raise(i, SIG_BURST);
        }
    }

    fn on_rotation_due(&self, i: usize, now: u64) {
        let slot = self.table.slot(i);
        let day = now / DAY + 1;
        if slot.rotation_day.load(Ordering::Relaxed) != day
            && slot.rotation_day.swap(day, Ordering::Relaxed) != day
        {
            slot.rotation_at.store(now, Ordering::Relaxed);
            self.raise(i, SIG_ROTATION);
        }
    }

    fn raise(&self, i: usize, bit: u32) {
        self.table.slot(i).pending.fetch_or(bit, Ordering::Release);
        self.table.touch(i);
    }

    /// Takes every count and signal recorded since the previous drain, and evaluates the
    /// volume rule on the counts. `now` stamps volume alarms and orders evictions. One
    /// drain runs at a time; recording goes on meanwhile.
    pub fn drain(&self, now: Timestamp) -> UsageBatch {
        let mut volume = self.drain.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = UsageBatch::default();
        let mut swapped = Vec::new();
        for i in 0..self.table.len() {
            if !self.table.take_dirty(i) {
                continue;
            }
            let Some(key_id) = self.table.id(i) else {
                continue;
            };
            self.take_signals(i, key_id, &mut batch.signals);
            swapped.clear();
            self.table.swap_counts(i, &mut swapped);
            if swapped.is_empty() {
                continue;
            }
            swapped.sort_by_key(|s| s.hour);
            let slot = self.table.slot(i);
            let hours = swapped
                .iter()
                .map(|s| HourCounts {
                    hour: Timestamp(s.hour * HOUR),
                    allowed: s.allowed,
                    denied: s.denied,
                })
                .collect();
            batch.keys.push(KeyUsage {
                key_id,
                first_used: stamp(slot.first.load(Ordering::Relaxed)),
                last_used: stamp(slot.last.load(Ordering::Relaxed)),
                hours,
                networks: self.table.networks(i),
            });
        }
        batch.keys = merge_duplicates(std::mem::take(&mut batch.keys));
        for usage in &batch.keys {
            for h in &usage.hours {
                let spike = volume.add(&self.config, usage.key_id, h.hour.0 / HOUR, h.total());
                if let Some(spike) = spike {
                    batch.signals.push(Signal {
                        key_id: usage.key_id,
                        at: now,
                        kind: SignalKind::Volume {
                            hour: Timestamp(spike.hour * HOUR),
                            count: spike.count,
                            baseline: spike.baseline,
                        },
                    });
                }
            }
        }
        batch
            .signals
            .sort_by(|a, b| (a.at, a.key_id, a.kind.code()).cmp(&(b.at, b.key_id, b.kind.code())));
        batch.dropped = self.dropped.swap(0, Ordering::Relaxed);
        self.evict_if_crowded(&mut volume);
        batch
    }

    fn take_signals(&self, i: usize, key_id: KeyId, out: &mut Vec<Signal>) {
        let slot = self.table.slot(i);
        let bits = slot.pending.swap(0, Ordering::Acquire);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut push = |at: u64, kind| {
            out.push(Signal {
                key_id,
                at: Timestamp(at),
                kind,
            })
        };
        if bits & SIG_NEW_NETWORK != 0
            && let Some(network) = Network::from_bits(load(&slot.new_net))
        {
            push(load(&slot.new_net_at), SignalKind::NewNetwork { network });
        }
        if bits & SIG_DORMANT != 0 {
            let last_used = Timestamp(load(&slot.dormant_last));
            push(
                load(&slot.dormant_at),
                SignalKind::AfterDormancy { last_used },
            );
        }
        if bits & SIG_BURST != 0 {
            let since = load(&slot.burst_since);
            let attempts = if load(&slot.burst_start) == since {
                slot.burst_count.load(Ordering::Relaxed)
            } else {
                self.config.burst_threshold
            };
            let since = Timestamp(since);
            push(
                load(&slot.burst_at),
                SignalKind::WrongSecretBurst { attempts, since },
            );
        }
        if bits & SIG_ROTATION != 0 {
            push(load(&slot.rotation_at), SignalKind::RotationDue);
        }
    }

    /// Past seven eighths of `max_keys`, evicts the least recently active keys with
    /// nothing left to drain, down to three quarters.
    fn evict_if_crowded(&self, volume: &mut volume::Volume) {
        let max = self.config.max_keys;
        if self.table.live() * 8 <= max * 7 {
            return;
        }
        let mut idle: Vec<(u64, usize, KeyId)> = (0..self.table.len())
            .filter_map(|i| Some((self.table.activity(i), i, self.table.id(i)?)))
            .collect();
        idle.sort_unstable();
        for (_, i, id) in idle {
            if self.table.live() * 4 <= max * 3 {
                break;
            }
            if self.table.evict(i, &id) {
                volume.forget(&id);
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Gives a key back what a previous recorder knew of it (from your store): first and
    /// last use and networks (at most [`NETWORKS_PER_KEY`] are kept), so that learning,
    /// dormancy and new networks carry across a restart. Earlier first and later last
    /// uses than the recorder's own win. `false` when there is no room for the key.
    pub fn restore(
        &self,
        key_id: &KeyId,
        first_used: Option<Timestamp>,
        last_used: Option<Timestamp>,
        networks: &[Network],
    ) -> bool {
        let Some(i) = self.table.find(key_id, true) else {
            return false;
        };
        let slot = self.table.slot(i);
        if let Some(first) = first_used.filter(|t| t.0 > 0) {
            let current = slot.first.load(Ordering::Relaxed);
            if current == 0 || first.0 < current {
                slot.first.store(first.0, Ordering::Relaxed);
            }
        }
        if let Some(last) = last_used {
            slot.last.fetch_max(last.0, Ordering::Relaxed);
        }
        for net in networks.iter().take(NETWORKS_PER_KEY) {
            if !self.table.knows(i, *net) {
                self.table.learn(i, *net);
            }
        }
        true
    }

    /// The counters about the recorder itself.
    pub fn stats(&self) -> UsageStats {
        UsageStats {
            keys: self.table.live(),
            max_keys: self.config.max_keys,
            dropped: self.dropped_total.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            bytes: self.table.bytes(),
        }
    }
}

fn stamp(secs: u64) -> Option<Timestamp> {
    (secs > 0).then_some(Timestamp(secs))
}

/// One entry per key (a key claimed twice at once has two slots).
fn merge_duplicates(mut keys: Vec<KeyUsage>) -> Vec<KeyUsage> {
    keys.sort_by_key(|k| k.key_id);
    let mut out: Vec<KeyUsage> = Vec::with_capacity(keys.len());
    for k in keys {
        match out.last_mut() {
            Some(prev) if prev.key_id == k.key_id => {
                prev.first_used = min_some(prev.first_used, k.first_used);
                prev.last_used = prev.last_used.max(k.last_used);
                for h in k.hours {
                    match prev.hours.iter_mut().find(|p| p.hour == h.hour) {
                        Some(p) => p.add(&h),
                        None => prev.hours.push(h),
                    }
                }
                prev.hours.sort_by_key(|h| h.hour);
                prev.networks.extend(k.networks);
                prev.networks.sort_unstable();
                prev.networks.dedup();
            }
            _ => out.push(k),
        }
    }
    out
}

fn min_some(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl UsageBatch {
    /// The batch as JSON, the form the conformance vectors, the C binding and the store
    /// use: `{"keys": [{"key_id", "first_used", "last_used", "hours": [{"hour",
    /// "allowed", "denied": {reason: count}}], "networks": ["203.0.113.0/24"]}],
    /// "signals": [{"key_id", "at", "kind", …}], "dropped"}`. Times are Unix seconds;
    /// zero denial counts are left out.
    pub fn to_json(&self) -> Value {
        json!({
            "keys": self.keys.iter().map(KeyUsage::to_json).collect::<Vec<_>>(),
            "signals": self.signals.iter().map(Signal::to_json).collect::<Vec<_>>(),
            "dropped": self.dropped,
        })
    }
}

impl KeyUsage {
    /// This key's entry of [`UsageBatch::to_json`].
    pub fn to_json(&self) -> Value {
        json!({
            "key_id": self.key_id.as_str(),
            "first_used": self.first_used.map(|t| t.0),
            "last_used": self.last_used.map(|t| t.0),
            "hours": self.hours.iter().map(HourCounts::to_json).collect::<Vec<_>>(),
            "networks": self.networks.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        })
    }
}

impl HourCounts {
    /// This hour's entry of [`UsageBatch::to_json`].
    pub fn to_json(&self) -> Value {
        let denied: Map<String, Value> = Denial::ALL
            .into_iter()
            .filter(|d| self.denied(*d) > 0)
            .map(|d| (d.code().to_owned(), json!(self.denied(d))))
            .collect();
        json!({"hour": self.hour.0, "allowed": self.allowed, "denied": denied})
    }
}

impl Signal {
    /// This signal's entry of [`UsageBatch::to_json`]: `key_id`, `at`, `kind` and the
    /// kind's fields (`network`; `hour`, `count`, `baseline`; `last_used`; `attempts`,
    /// `since`).
    pub fn to_json(&self) -> Value {
        let mut v =
            json!({"key_id": self.key_id.as_str(), "at": self.at.0, "kind": self.kind.code()});
        let extra = match self.kind {
            SignalKind::NewNetwork { network } => json!({"network": network.to_string()}),
            SignalKind::Volume {
                hour,
                count,
                baseline,
            } => {
                json!({"hour": hour.0, "count": count, "baseline": (baseline * 100.0).round() / 100.0})
            }
            SignalKind::AfterDormancy { last_used } => json!({"last_used": last_used.0}),
            SignalKind::WrongSecretBurst { attempts, since } => {
                json!({"attempts": attempts, "since": since.0})
            }
            SignalKind::RotationDue => json!({}),
        };
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    }
}

#[cfg(test)]
mod tests;
