//! Credits: a key's allowance of uses, refilled (or not) at the start of each UTC day or
//! month, and the table in which one process counts them.

use crate::format::KeyId;
use crate::record::KeyRecord;
use crate::time::{DAY, Timestamp};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// When a key's credits come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refill {
    /// Never: `amount` uses in the key's life.
    Never,
    /// To `amount` at 00:00 UTC every day.
    Daily,
    /// To `amount` at 00:00 UTC on the first of every month.
    Monthly,
}

impl Refill {
    /// `never`, `daily` or `monthly`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refill::Never => "never",
            Refill::Daily => "daily",
            Refill::Monthly => "monthly",
        }
    }
}

/// A key's credits, from its record's metadata:
/// `"credits": {"amount": 1000, "refill": "monthly"}` (`refill` optional, default
/// `never`). Each allowed request spends one; at none left the answer is 429
/// `credits_exhausted` until the refill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Credits {
    amount: u32,
    refill: Refill,
}

impl Credits {
    /// `amount` uses per period of `refill`.
    pub const fn new(amount: u32, refill: Refill) -> Self {
        Credits { amount, refill }
    }

    /// The uses per period.
    pub const fn amount(&self) -> u32 {
        self.amount
    }

    /// When they come back.
    pub const fn refill(&self) -> Refill {
        self.refill
    }

    /// The credits of `record` (`None`: it has none, so nothing limits its uses). An
    /// entry that does not read as credits (`amount` missing or not a whole number up to
    /// 2³² − 1, an unknown `refill`) gives no credit at all: it fails closed.
    pub fn of(record: &KeyRecord) -> Option<Credits> {
        let entry = record.metadata().get("credits")?;
        let amount = entry
            .get("amount")
            .and_then(serde_json::Value::as_u64)
            .and_then(|a| u32::try_from(a).ok());
        let refill = match entry.get("refill").map(|r| r.as_str()) {
            None => Some(Refill::Never),
            Some(Some("never")) => Some(Refill::Never),
            Some(Some("daily")) => Some(Refill::Daily),
            Some(Some("monthly")) => Some(Refill::Monthly),
            Some(_) => None,
        };
        Some(match (amount, refill) {
            (Some(amount), Some(refill)) => Credits { amount, refill },
            _ => Credits::new(0, Refill::Never),
        })
    }

    /// The number of the period `now` falls in (days or months since 1970; 0 for
    /// [`Refill::Never`]).
    pub fn period(&self, now: Timestamp) -> u32 {
        let days = now.secs() / DAY;
        let n = match self.refill {
            Refill::Never => 0,
            Refill::Daily => days,
            Refill::Monthly => {
                let (year, month) = year_month(days);
                year.saturating_sub(1970) * 12 + month - 1
            }
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// When the period of `now` began (`None` for [`Refill::Never`]: the key's life).
    pub fn period_start(&self, now: Timestamp) -> Option<Timestamp> {
        let days = now.secs() / DAY;
        match self.refill {
            Refill::Never => None,
            Refill::Daily => Some(Timestamp(days * DAY)),
            Refill::Monthly => {
                let (year, month) = year_month(days);
                Some(Timestamp(days_from_civil(year, month) * DAY))
            }
        }
    }

    /// When the period of `now` ends and the credits come back (`None`: never).
    pub fn next_refill(&self, now: Timestamp) -> Option<Timestamp> {
        let days = now.secs() / DAY;
        match self.refill {
            Refill::Never => None,
            Refill::Daily => Some(Timestamp((days + 1) * DAY)),
            Refill::Monthly => {
                let (year, month) = year_month(days);
                let (y, m) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Some(Timestamp(days_from_civil(y, m) * DAY))
            }
        }
    }
}

/// The year and month (1-12) of a day counted from 1970-01-01 (H. Hinnant's civil
/// calendar algorithms).
fn year_month(days: u64) -> (u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month)
}

/// The day (from 1970-01-01) of the first of `month` in `year`.
fn days_from_civil(year: u64, month: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What spending a credit came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spent {
    /// One credit spent; this many are left in the period.
    Spent {
        /// Credits left.
        remaining: u32,
    },
    /// None left: 429 `credits_exhausted` until the refill.
    Exhausted,
    /// The counter cannot tell (a full table, a fleet's store unreachable): 503.
    Unavailable {
        /// Microseconds after which to try again.
        retry_after_us: u64,
    },
}

const FP_SHIFT: u32 = 46;
const KIND_SHIFT: u32 = 44;
const PERIOD_SHIFT: u32 = 32;
const PERIOD_MASK: u64 = 0xfff;
const WINDOW: usize = 16;

/// Credits spent per key in this process: one word per key, `fingerprint (18 bits) |
/// refill (2) | period mod 4096 (12) | used (32)`, updated by compare-and-swap. A key of
/// a refilling kind whose period has passed frees its slot.
pub(super) struct CreditTable {
    slots: Box<[AtomicU64]>,
    mask: usize,
    hasher: foldhash::fast::RandomState,
}

impl CreditTable {
    pub(super) fn new(max_keys: usize) -> Self {
        let len = (max_keys + max_keys / 3).max(WINDOW).next_power_of_two();
        CreditTable {
            slots: (0..len).map(|_| AtomicU64::new(0)).collect(),
            mask: len - 1,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Spends one of `credits` for `key` at `now`.
    pub(super) fn spend(&self, key: &KeyId, credits: &Credits, now: Timestamp) -> Spent {
        self.update(key, credits, now, |used| {
            (used < credits.amount).then_some(used + 1)
        })
        .map_or(
            Spent::Unavailable {
                retry_after_us: 1_000_000,
            },
            |(before, after)| match after {
                Some(after) if after > before => Spent::Spent {
                    remaining: credits.amount - after,
                },
                _ => Spent::Exhausted,
            },
        )
    }

    /// Gives one back (a later limit refused the request).
    pub(super) fn unspend(&self, key: &KeyId, credits: &Credits, now: Timestamp) {
        let _ = self.update(key, credits, now, |used| Some(used.saturating_sub(1)));
    }

    /// Makes the period's use at least `used` (after a restart: what was spent before).
    pub(super) fn restore(
        &self,
        key: &KeyId,
        credits: &Credits,
        used: u32,
        now: Timestamp,
    ) -> bool {
        self.update(key, credits, now, |current| Some(current.max(used)))
            .is_some()
    }

    /// Applies `f` to the period's use of `key`; the use before and after (`None` after:
    /// `f` refused), or `None` when no slot was found or free.
    fn update(
        &self,
        key: &KeyId,
        credits: &Credits,
        now: Timestamp,
        f: impl Fn(u32) -> Option<u32>,
    ) -> Option<(u32, Option<u32>)> {
        let mut h = self.hasher.build_hasher();
        h.write(key.as_bytes());
        let hash = h.finish();
        let kind = kind_bits(credits.refill);
        let period = u64::from(credits.period(now)) & PERIOD_MASK;
        let tag = (((hash >> FP_SHIFT) | 1) << FP_SHIFT) | (kind << KIND_SHIFT);
        let head = tag | (period << PERIOD_SHIFT);
        loop {
            let (i, word) = self.find(hash, tag, now)?;
            let used = if word & !0xffff_ffff == head {
                word as u32
            } else {
                0 // a new period, another kind of credits, or a free slot
            };
            let Some(after) = f(used) else {
                return Some((used, None));
            };
            let new = head | u64::from(after);
            if self.slots[i]
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Some((used, Some(after)));
            }
        }
    }

    /// The key's slot (its fingerprint and refill kind), or a free one.
    fn find(&self, hash: u64, tag: u64, now: Timestamp) -> Option<(usize, u64)> {
        let ident = !((1u64 << KIND_SHIFT) - 1);
        let start = hash as usize & self.mask;
        let mut free = None;
        for k in 0..WINDOW {
            let i = (start + k) & self.mask;
            let word = self.slots[i].load(Ordering::Acquire);
            if word & ident == tag & ident {
                return Some((i, word));
            }
            if free.is_none() && is_free(word, now) {
                free = Some((i, word));
                if word == 0 {
                    break;
                }
            }
        }
        free
    }
}

fn kind_bits(refill: Refill) -> u64 {
    match refill {
        Refill::Never => 1,
        Refill::Daily => 2,
        Refill::Monthly => 3,
    }
}

/// Empty, or a refilling key's word of a past period (its use is void now).
fn is_free(word: u64, now: Timestamp) -> bool {
    let refill = match (word >> KIND_SHIFT) & 3 {
        0 => return true,
        2 => Refill::Daily,
        3 => Refill::Monthly,
        _ => return false,
    };
    let current = u64::from(Credits::new(0, refill).period(now)) & PERIOD_MASK;
    (word >> PERIOD_SHIFT) & PERIOD_MASK != current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_periods() {
        // 2027-01-15 08:00 UTC.
        let now = Timestamp(1_800_000_000);
        let monthly = Credits::new(5, Refill::Monthly);
        assert_eq!(monthly.next_refill(now), Some(Timestamp(1_801_440_000))); // 2027-02-01
        assert_eq!(monthly.period(now), 57 * 12);
        let dec = Timestamp(1_796_083_200); // 2026-12-01 00:00 UTC
        assert_eq!(monthly.next_refill(dec), Some(Timestamp(1_798_761_600))); // 2027-01-01
        assert_eq!(monthly.period(dec), 56 * 12 + 11);
        let leap = Timestamp(951_782_400); // 2000-02-29 00:00 UTC
        assert_eq!(monthly.next_refill(leap), Some(Timestamp(951_868_800))); // 2000-03-01
        assert_eq!(monthly.period_start(now), Some(Timestamp(1_798_761_600))); // 2027-01-01
        assert_eq!(monthly.period_start(leap), Some(Timestamp(949_363_200))); // 2000-02-01
        let daily = Credits::new(5, Refill::Daily);
        assert_eq!(daily.next_refill(now), Some(Timestamp(1_800_057_600)));
        assert_eq!(daily.period_start(now), Some(Timestamp(1_799_971_200)));
        assert_eq!(Credits::new(5, Refill::Never).next_refill(now), None);
    }
}
