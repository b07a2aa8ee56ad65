//! The limiter's table: one word per slot, `fingerprint << 44 | tat mod 2⁴⁴`.

use super::{Quota, Verdict};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

const TAT_BITS: u32 = 44;
const TAT_MASK: u64 = (1 << TAT_BITS) - 1;
/// Slots tried for a subject.
const WINDOW: usize = 16;
/// A TAT this far ahead of now or more belongs to no quota (see [`Quota::new`]): its slot
/// is from a former lap of the clock, free.
pub(super) const MAX_HORIZON: u64 = 1 << 42;

pub(super) struct Table {
    slots: Box<[AtomicU64]>,
    mask: usize,
    hasher: foldhash::fast::RandomState,
    saturated: AtomicU64,
}

/// A subject's hash: its slot index (low bits) and fingerprint (high 20 bits, never 0).
#[derive(Clone, Copy)]
pub(super) struct Print(u64);

impl Print {
    fn tag(self) -> u64 {
        ((self.0 >> TAT_BITS) | 1) << TAT_BITS
    }
}

impl Table {
    pub(super) fn new(max_subjects: usize) -> Self {
        let len = (max_subjects + max_subjects / 3)
            .max(WINDOW)
            .next_power_of_two();
        Table {
            slots: (0..len).map(|_| AtomicU64::new(0)).collect(),
            mask: len - 1,
            hasher: foldhash::fast::RandomState::default(),
            saturated: AtomicU64::new(0),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn saturated(&self) -> u64 {
        self.saturated.load(Ordering::Relaxed)
    }

    /// The subject's hash (seeded per limiter: subjects cannot be chosen to collide).
    #[inline]
    pub(super) fn fingerprint(&self, limit: u32, subject: &[u8]) -> Print {
        let mut h = self.hasher.build_hasher();
        h.write_u32(limit);
        h.write(subject);
        Print(h.finish())
    }

    /// GCRA: counts `n` requests if they fit.
    #[inline]
    pub(super) fn update(&self, print: Print, quota: &Quota, n: u32, now: u64) -> Verdict {
        let cost = quota.interval.saturating_mul(u64::from(n));
        let horizon = quota.horizon();
        loop {
            let Some((i, word)) = self.find(print, now) else {
                self.saturated.fetch_add(1, Ordering::Relaxed);
                return refused(quota.interval, quota.interval);
            };
            let ahead = if word & !TAT_MASK == print.tag() {
                ahead_of(word, now, horizon)
            } else {
                0 // a free slot
            };
            let after = ahead.saturating_add(cost);
            if after > horizon || n == 0 {
                return Verdict {
                    allowed: n == 0,
                    remaining: remaining(quota, horizon, ahead),
                    reset_us: ahead,
                    retry_after_us: if n == 0 { 0 } else { after - horizon },
                };
            }
            let new = print.tag() | (now.wrapping_add(after) & TAT_MASK);
            if self.slots[i]
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Verdict {
                    allowed: true,
                    remaining: remaining(quota, horizon, after),
                    reset_us: after,
                    retry_after_us: 0,
                };
            }
        }
    }

    /// Moves the subject's TAT back by `n` intervals (not before now).
    pub(super) fn refund(&self, print: Print, quota: &Quota, n: u32, now: u64) {
        let cost = quota.interval.saturating_mul(u64::from(n));
        let horizon = quota.horizon();
        loop {
            let Some((i, word)) = self.find(print, now) else {
                return;
            };
            if word & !TAT_MASK != print.tag() {
                return; // a free slot: nothing was counted
            }
            let ahead = ahead_of(word, now, horizon).saturating_sub(cost);
            let new = print.tag() | (now.wrapping_add(ahead) & TAT_MASK);
            if self.slots[i]
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// The subject's slot and word, or a free slot for it (its word then holds another
    /// subject's passed TAT, or 0); `None` when neither is in the window.
    #[inline]
    fn find(&self, print: Print, now: u64) -> Option<(usize, u64)> {
        let tag = print.tag();
        let start = print.0 as usize & self.mask;
        let mut free = None;
        for k in 0..WINDOW {
            let i = (start + k) & self.mask;
            let word = self.slots[i].load(Ordering::Acquire);
            if word & !TAT_MASK == tag {
                return Some((i, word));
            }
            if free.is_none() && is_free(word, now) {
                free = Some((i, word));
                if word == 0 {
                    break; // nothing was ever stored past an empty slot
                }
            }
        }
        // A free slot may hold another subject's passed TAT: the CAS replaces that word.
        free
    }
}

/// How far ahead of `now` the word's TAT is, for a subject whose TAT can be at most
/// `horizon` ahead; a passed TAT, or one from a former lap, is 0 ahead.
#[inline]
fn ahead_of(word: u64, now: u64, horizon: u64) -> u64 {
    let delta = (word.wrapping_sub(now)) & TAT_MASK;
    if word == 0 || delta > horizon {
        0
    } else {
        delta
    }
}

/// Whether a slot may be given to a new subject: empty, or its TAT has passed (or is from
/// a former lap: further ahead than any quota allows).
#[inline]
fn is_free(word: u64, now: u64) -> bool {
    let delta = (word.wrapping_sub(now)) & TAT_MASK;
    word == 0 || delta == 0 || delta >= MAX_HORIZON
}

fn remaining(quota: &Quota, horizon: u64, ahead: u64) -> u32 {
    u32::try_from(quota.intervals_in(horizon.saturating_sub(ahead))).unwrap_or(u32::MAX)
}

fn refused(reset: u64, retry: u64) -> Verdict {
    Verdict {
        allowed: false,
        remaining: 0,
        reset_us: reset,
        retry_after_us: retry,
    }
}
