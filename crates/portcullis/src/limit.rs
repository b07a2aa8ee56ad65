//! Rate limits in one process: the generic cell rate algorithm (GCRA) over a fixed
//! lock-free table of subjects, one atomic word each.
//!
//! ```
//! use portcullis::limit::{Quota, RateLimiter};
//! let quota = Quota::new(100, 1, 20)?;          // 100 per second, 20 at once
//! let limiter = RateLimiter::new(10_000)?;
//! let now_us = 5_000_000;                        // a monotonic clock, in microseconds
//! let verdict = limiter.check(&quota, 0, b"key:Ab3dE5", now_us);
//! assert!(verdict.allowed && verdict.remaining == 19);
//! # Ok::<(), portcullis::limit::LimitError>(())
//! ```
//!
//! Decisions:
//! - **GCRA** keeps one "theoretical arrival time" (TAT) per subject: a request at `now`
//!   is allowed when `max(tat, now) + interval - now <= burst × interval`, and then moves
//!   the TAT on by one interval. It is exact, needs no background refill, and a subject
//!   whose TAT has passed is indistinguishable from a new one — which is what lets a slot
//!   be reused without losing anything.
//! - **One word per subject:** 20 bits of the subject's fingerprint and 44 bits of its TAT
//!   in microseconds (modulo 2⁴⁴, about 203 days), updated by compare-and-swap. A TAT is
//!   read relative to `now`: one further ahead than any quota allows is from a former
//!   lap, that is, in the past.
//! - **Bounded:** a table of `max_subjects` (up to [`MAX_SUBJECTS`]), allocated once. A
//!   new subject takes an empty slot or one whose TAT has passed, within a probe window
//!   of 16; when every slot there is busy the request is refused as limited (fail
//!   closed) and counted ([`RateLimiter::saturated`]).
//! - **Fingerprints can collide** (20 bits within a window of 16 slots: about one
//!   subject pair in 65,000 at full load); two subjects that do share one limit each
//!   other more, never less.
//! - **Time is an input** (microseconds of a monotonic clock the host reads): the core
//!   reads no clock, and tests drive it.

mod credits;
mod table;

pub use credits::{Credits, Refill, Spent};

use crate::format::KeyId;
use crate::time::Timestamp;
use std::fmt;

/// The most subjects one limiter holds.
pub const MAX_SUBJECTS: usize = 1 << 24;
/// The longest window: one day.
pub const MAX_WINDOW_SECS: u32 = 86_400;

const MICROS: u64 = 1_000_000;

/// A rate: `rate` requests per `window` seconds, at most `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    rate: u32,
    window: u32,
    burst: u32,
    /// Microseconds between two requests at the steady rate.
    interval: u64,
    /// `2^64 / interval`, rounded up: whole intervals are counted by a multiply, as a
    /// 64-bit division per check costs more (benches/OPTIMISATIONS.md).
    magic: u64,
}

impl Quota {
    /// `rate` requests per `window` seconds (1 to [`MAX_WINDOW_SECS`]), with at most
    /// `burst` (≥ 1) at once.
    ///
    /// # Errors
    /// [`LimitError::Rate`] for a rate of 0 or one faster than a request per
    /// microsecond, [`LimitError::Window`], [`LimitError::Burst`].
    pub fn new(rate: u32, window: u32, burst: u32) -> Result<Self, LimitError> {
        if window == 0 || window > MAX_WINDOW_SECS {
            return Err(LimitError::Window);
        }
        let window_us = u64::from(window) * MICROS;
        if rate == 0 || u64::from(rate) > window_us {
            return Err(LimitError::Rate);
        }
        let interval = window_us / u64::from(rate);
        if burst == 0 || interval.saturating_mul(u64::from(burst)) > table::MAX_HORIZON {
            return Err(LimitError::Burst);
        }
        Ok(Quota {
            rate,
            window,
            burst,
            interval,
            magic: (u64::MAX / interval).saturating_add(1),
        })
    }

    /// Requests per window.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The window, in seconds.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Requests allowed at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Microseconds between two requests at the steady rate.
    pub fn interval_us(&self) -> u64 {
        self.interval
    }

    /// Whole intervals in `us` (`us / interval`, exact).
    #[inline]
    fn intervals_in(&self, us: u64) -> u64 {
        if self.interval == 1 {
            return us;
        }
        let q = ((u128::from(us) * u128::from(self.magic)) >> 64) as u64;
        // The estimate is off by at most one either way: correct it.
        if q.wrapping_mul(self.interval) > us {
            q - 1
        } else if (q + 1).saturating_mul(self.interval) <= us {
            q + 1
        } else {
            q
        }
    }

    /// How far ahead of `now` a TAT may be: `burst` intervals.
    fn horizon(&self) -> u64 {
        self.interval.saturating_mul(u64::from(self.burst))
    }
}

/// What a limiter said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request may proceed (and was counted).
    pub allowed: bool,
    /// Requests that could still be made at once after this one.
    pub remaining: u32,
    /// Microseconds until the subject is back to its full burst.
    pub reset_us: u64,
    /// On a refusal, microseconds until one request would be allowed (0 when allowed).
    pub retry_after_us: u64,
}

/// A [`Quota`] or [`RateLimiter`] setting out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitError {
    /// The rate is 0 or faster than one request per microsecond.
    Rate,
    /// The window is 0 or longer than [`MAX_WINDOW_SECS`].
    Window,
    /// The burst is 0, or so large that a full burst takes more than 50 days to refill.
    Burst,
    /// `max_subjects` is 0 or above [`MAX_SUBJECTS`].
    Subjects,
}

impl LimitError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            LimitError::Rate => &crate::codes::LIMIT_BAD_RATE,
            LimitError::Window => &crate::codes::LIMIT_BAD_WINDOW,
            LimitError::Burst => &crate::codes::LIMIT_BAD_BURST,
            LimitError::Subjects => &crate::codes::LIMIT_BAD_SUBJECTS,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.row().message())
    }
}

impl std::error::Error for LimitError {}

/// Subjects' TATs; share it (`Arc`) between threads.
pub struct RateLimiter {
    table: table::Table,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("slots", &self.table.len())
            .field("saturated", &self.saturated())
            .finish()
    }
}

impl RateLimiter {
    /// A limiter for up to `max_subjects` subjects at once (its table is allocated now:
    /// 8 bytes per slot, a power of two above 4/3 of the bound).
    ///
    /// # Errors
    /// [`LimitError::Subjects`].
    pub fn new(max_subjects: usize) -> Result<Self, LimitError> {
        if max_subjects == 0 || max_subjects > MAX_SUBJECTS {
            return Err(LimitError::Subjects);
        }
        Ok(RateLimiter {
            table: table::Table::new(max_subjects),
        })
    }

    /// Counts one request of `subject` under `quota` (its limit numbered `limit`: the
    /// same subject under two limits has two TATs) at `now_us`, if it is allowed.
    #[inline]
    pub fn check(&self, quota: &Quota, limit: u32, subject: &[u8], now_us: u64) -> Verdict {
        self.check_n(quota, limit, subject, 1, now_us)
    }

    /// As [`RateLimiter::check`] for `n` requests at once (all or none; `n` above the
    /// burst is never allowed). `n = 0` only reads the subject's state (`allowed`).
    pub fn check_n(
        &self,
        quota: &Quota,
        limit: u32,
        subject: &[u8],
        n: u32,
        now_us: u64,
    ) -> Verdict {
        self.table
            .update(self.table.fingerprint(limit, subject), quota, n, now_us)
    }

    /// Gives back `n` requests counted for `subject` (a request refused by a later limit,
    /// so that its earlier limits do not count it).
    pub fn refund(&self, quota: &Quota, limit: u32, subject: &[u8], n: u32, now_us: u64) {
        self.table
            .refund(self.table.fingerprint(limit, subject), quota, n, now_us);
    }

    /// Requests refused because no slot was free for a new subject.
    pub fn saturated(&self) -> u64 {
        self.table.saturated()
    }
}

/// Whose requests a limit counts together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Per {
    /// Each key's own.
    Key,
    /// All keys of one owner (the organisation): more keys do not mean more quota.
    Owner,
}

impl Per {
    /// `key` or `owner`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Per::Key => "key",
            Per::Owner => "owner",
        }
    }
}

/// A named limit of the policy (`[[limits]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub(crate) name: String,
    pub(crate) per: Per,
    pub(crate) quota: Quota,
    /// The route class it applies to (`None`: every route).
    pub(crate) class: Option<String>,
    pub(crate) class_id: Option<u8>,
    /// The key tiers it applies to (empty: every key).
    pub(crate) tiers: Vec<String>,
}

impl Limit {
    /// Its name (`RateLimit-Policy` names it).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Whose requests it counts together.
    pub fn per(&self) -> Per {
        self.per
    }
    /// Its rate.
    pub fn quota(&self) -> &Quota {
        &self.quota
    }
    /// The route class it applies to, if not every route.
    pub fn class(&self) -> Option<&str> {
        self.class.as_deref()
    }
    /// The key tiers it applies to (empty: every key).
    pub fn tiers(&self) -> &[String] {
        &self.tiers
    }
}

/// What a [`Limits`] said about one request under one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Counted: the request may proceed.
    Allowed {
        /// Requests that could still be made at once.
        remaining: u32,
        /// Microseconds until the full burst is back.
        reset_us: u64,
    },
    /// Over the limit: 429.
    Limited {
        /// Microseconds until one request would be allowed.
        retry_after_us: u64,
        /// Microseconds until the full burst is back.
        reset_us: u64,
    },
    /// The limiter cannot tell (a fleet's shared store is unreachable and this process
    /// holds nothing of the limit): 503, never an unlimited allow.
    Unavailable {
        /// Microseconds after which to try again.
        retry_after_us: u64,
    },
}

/// Where a checker's limits are counted ([`crate::Checker::with_limits`]): in this
/// process ([`LocalLimits`]) or across a fleet (`portcullis-store`'s Redis leases).
pub trait Limits: Send + Sync + fmt::Debug {
    /// Counts one request of `subject` (a key id or an owner) under limit number `index`
    /// of the policy.
    fn take(&self, index: u32, limit: &Limit, subject: &[u8]) -> Taken;
    /// Gives back one request counted by [`Limits::take`] (a later limit refused it).
    fn refund(&self, index: u32, limit: &Limit, subject: &[u8]);
    /// Spends one of `key`'s `credits` at `now` ([`Credits::of`] its record). A counter
    /// that keeps no credits answers [`Spent::Unavailable`] (the default): a key with
    /// credits is never allowed uncounted.
    fn spend(&self, key: &KeyId, credits: &Credits, now: Timestamp) -> Spent {
        let _ = (key, credits, now);
        Spent::Unavailable {
            retry_after_us: 1_000_000,
        }
    }
    /// Gives back one credit spent by [`Limits::spend`] (a later check refused the
    /// request).
    fn unspend(&self, key: &KeyId, credits: &Credits, now: Timestamp) {
        let _ = (key, credits, now);
    }
}

/// A monotonic clock in microseconds; the limiter's one time input.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Microseconds since a fixed, arbitrary origin; never decreasing.
    fn now_us(&self) -> u64;
}

/// The system's monotonic clock, counted from its creation. Read through the processor's
/// time-stamp counter when it is stable, calibrated against the OS clock (`quanta`), else
/// the OS clock, with `u64` arithmetic (`Instant::elapsed().as_micros()` divides a `u128`:
/// benches/OPTIMISATIONS.md).
pub struct MonotonicClock {
    clock: quanta::Clock,
    origin: u64,
}

impl fmt::Debug for MonotonicClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonotonicClock").finish_non_exhaustive()
    }
}

impl MonotonicClock {
    /// A clock starting now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        MonotonicClock { clock, origin }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now_us(&self) -> u64 {
        self.clock.delta_as_nanos(self.origin, self.clock.raw()) / 1_000
    }
}

/// Limits counted in this process: a [`RateLimiter`] read with a [`Clock`], and credits
/// spent per key. Credits are counted in memory: after a restart give each key back what
/// it spent in the current period ([`LocalLimits::restore_credits`]; the usage store
/// has the counts), or a restart refills them.
pub struct LocalLimits<C: Clock = MonotonicClock> {
    limiter: RateLimiter,
    credits: credits::CreditTable,
    clock: C,
}

impl<C: Clock> fmt::Debug for LocalLimits<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLimits")
            .field("limiter", &self.limiter)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl LocalLimits {
    /// Limits for up to `max_subjects` subjects (keys and owners) at once, on the
    /// system's monotonic clock.
    ///
    /// # Errors
    /// [`LimitError::Subjects`].
    pub fn new(max_subjects: usize) -> Result<Self, LimitError> {
        LocalLimits::with_clock(max_subjects, MonotonicClock::new())
    }
}

impl<C: Clock> LocalLimits<C> {
    /// Limits read with `clock` (tests drive a clock of their own).
    ///
    /// # Errors
    /// [`LimitError::Subjects`].
    pub fn with_clock(max_subjects: usize, clock: C) -> Result<Self, LimitError> {
        Ok(LocalLimits {
            limiter: RateLimiter::new(max_subjects)?,
            credits: credits::CreditTable::new(max_subjects),
            clock,
        })
    }

    /// Makes `key`'s use of its `credits` in the period of `now` at least `used` (what it
    /// spent before a restart). `false` when there is no room for the key.
    pub fn restore_credits(
        &self,
        key: &KeyId,
        credits: &Credits,
        used: u32,
        now: Timestamp,
    ) -> bool {
        self.credits.restore(key, credits, used, now)
    }

    /// The limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

impl<C: Clock> Limits for LocalLimits<C> {
    #[inline]
    fn take(&self, index: u32, limit: &Limit, subject: &[u8]) -> Taken {
        let v = self
            .limiter
            .check(&limit.quota, index, subject, self.clock.now_us());
        if v.allowed {
            Taken::Allowed {
                remaining: v.remaining,
                reset_us: v.reset_us,
            }
        } else {
            Taken::Limited {
                retry_after_us: v.retry_after_us,
                reset_us: v.reset_us,
            }
        }
    }

    fn refund(&self, index: u32, limit: &Limit, subject: &[u8]) {
        let now = self.clock.now_us();
        self.limiter.refund(&limit.quota, index, subject, 1, now);
    }

    fn spend(&self, key: &KeyId, credits: &Credits, now: Timestamp) -> Spent {
        self.credits.spend(key, credits, now)
    }

    fn unspend(&self, key: &KeyId, credits: &Credits, now: Timestamp) {
        self.credits.unspend(key, credits, now);
    }
}

#[cfg(test)]
mod tests;
