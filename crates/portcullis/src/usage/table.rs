//! The recorder's table: a fixed array of key slots found by open addressing, every field
//! an atomic, allocated once.
//!
//! Decisions:
//! - **A slot is claimed by compare-and-swap on its id's first word** (`BUSY` while the
//!   rest is written, the id's first word once published), so a record takes no lock. Two
//!   threads that first meet one key at the same instant may claim two slots; the drain
//!   merges them by id.
//! - **Allowed uses are counted per thread slot** (one counter array per slot, see
//!   `thread_slot`): two cores checking one key write lines of their own. Denials are rare
//!   and share one counter per reason.
//! - **Four hour buckets per key**, each tagged with its hour: a record adds to the bucket
//!   of its hour, the drain swaps the counts out. A bucket is reused four hours later, so
//!   counts not drained by then are reported under the newer hour ([`super`] asks hosts to
//!   drain every few seconds).
//! - **Writes that would repeat are skipped**: the last use, the dirty flag and the
//!   rotation day are read first and written only when they change, so a hot key's slot
//!   stays shared in every core's cache.

use super::network::Network;
use super::{Denial, HOURS_KEPT, NETWORKS_PER_KEY};
use crate::format::{ID_LEN, KeyId};
use crate::thread_slot::thread_slot;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

const EMPTY: u64 = 0;
/// A slot being claimed or evicted. Base62 text never makes these words.
const BUSY: u64 = u64::MAX;
const TOMB: u64 = u64::MAX - 1;
/// Slots tried before a key counts as dropped.
const PROBE: usize = 32;
/// Signal bits raised on the hot path.
pub(super) const SIG_NEW_NETWORK: u32 = 1;
pub(super) const SIG_DORMANT: u32 = 2;
pub(super) const SIG_BURST: u32 = 4;
pub(super) const SIG_ROTATION: u32 = 8;

/// One key's state (counts live in the table's arrays). The fields an allowed use reads
/// come first and fill the slot's first cache line, so a use touches that line only.
#[derive(Default)]
#[repr(C, align(64))]
pub(super) struct Slot {
    id0: AtomicU64,
    id1: AtomicU64,
    /// First and last authenticated use (seconds; 0: none).
    pub(super) first: AtomicU64,
    pub(super) last: AtomicU64,
    /// Each bucket's hour + 1 (0: unused; hours fit 32 bits for 490,000 years).
    hours: [AtomicU32; HOURS_KEPT],
    /// Counts not drained yet.
    dirty: AtomicBool,
    /// The first network learnt (the usual one), then the others; packed, 0: free.
    nets: [AtomicU64; NETWORKS_PER_KEY],
    net_next: AtomicU32,
    /// Raised signals not drained yet, with their data.
    pub(super) pending: AtomicU32,
    pub(super) new_net: AtomicU64,
    pub(super) new_net_at: AtomicU64,
    pub(super) dormant_last: AtomicU64,
    pub(super) dormant_at: AtomicU64,
    pub(super) burst_start: AtomicU64,
    pub(super) burst_count: AtomicU32,
    pub(super) burst_since: AtomicU64,
    pub(super) burst_at: AtomicU64,
    pub(super) rotation_day: AtomicU64,
    pub(super) rotation_at: AtomicU64,
}

/// The table.
pub(super) struct Table {
    slots: Box<[Slot]>,
    mask: usize,
    /// `allowed[(stripe * slots + slot) * HOURS_KEPT + bucket]`.
    allowed: Box<[AtomicU32]>,
    /// Stripes - 1 (a power of two: a `%` here cost a division per use).
    stripe_mask: usize,
    /// `denied[(slot * HOURS_KEPT + bucket) * Denial::COUNT + denial]`.
    denied: Box<[AtomicU32]>,
    live: AtomicUsize,
    max_keys: usize,
}

/// A key's counts for one hour, swapped out of the table.
pub(super) struct Swapped {
    pub(super) hour: u64,
    pub(super) allowed: u64,
    pub(super) denied: [u64; Denial::COUNT],
}

impl Table {
    pub(super) fn new(max_keys: usize, stripes: usize) -> Self {
        let stripes = stripes.next_power_of_two();
        let len = (max_keys + max_keys / 3).max(16).next_power_of_two();
        let atomics = |n: usize| (0..n).map(|_| AtomicU32::new(0)).collect();
        Table {
            slots: (0..len).map(|_| Slot::default()).collect(),
            mask: len - 1,
            allowed: atomics(stripes * len * HOURS_KEPT),
            stripe_mask: stripes - 1,
            denied: atomics(len * HOURS_KEPT * Denial::COUNT),
            live: AtomicUsize::new(0),
            max_keys,
        }
    }

    /// Slots allocated (a power of two above the key bound).
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Bytes allocated for the table.
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
            + std::mem::size_of_val(&*self.allowed)
            + std::mem::size_of_val(&*self.denied)
    }

    pub(super) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub(super) fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    /// The slot of `id`, claiming one if `claim` and the key is new; `None` when the key
    /// is new and there is no room (or `claim` is false).
    #[inline]
    pub(super) fn find(&self, id: &KeyId, claim: bool) -> Option<usize> {
        let w = words(id);
        let mut i = hash(w) & self.mask;
        let mut free = None;
        for _ in 0..PROBE {
            let s = &self.slots[i];
            let w0 = settled(s);
            if w0 == w[0] && s.id1.load(Ordering::Relaxed) == w[1] {
                return Some(i);
            }
            if w0 == EMPTY {
                free = free.or(Some(i));
                break;
            }
            if w0 == TOMB {
                free = free.or(Some(i));
            }
            i = (i + 1) & self.mask;
        }
        if claim {
            self.claim(id, w, free?)
        } else {
            None
        }
    }

    /// Claims slot `i` (free when probed) for `id`.
    #[cold]
    fn claim(&self, id: &KeyId, w: [u64; 2], i: usize) -> Option<usize> {
        if self.live() >= self.max_keys {
            return None;
        }
        let s = &self.slots[i];
        let was = s.id0.load(Ordering::Relaxed);
        if !matches!(was, EMPTY | TOMB)
            || s.id0
                .compare_exchange(was, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            // Taken meanwhile, perhaps by this very key: look once more, without claiming.
            return self.find(id, false);
        }
        s.id1.store(w[1], Ordering::Relaxed);
        s.id0.store(w[0], Ordering::Release);
        self.live.fetch_add(1, Ordering::Relaxed);
        Some(i)
    }

    /// The id held by slot `i`, if it holds one.
    pub(super) fn id(&self, i: usize) -> Option<KeyId> {
        let s = &self.slots[i];
        let w0 = s.id0.load(Ordering::Acquire);
        if matches!(w0, EMPTY | BUSY | TOMB) {
            return None;
        }
        let mut bytes = [0u8; ID_LEN];
        bytes[..8].copy_from_slice(&w0.to_le_bytes());
        bytes[8..].copy_from_slice(&s.id1.load(Ordering::Relaxed).to_le_bytes());
        KeyId::parse(std::str::from_utf8(&bytes).ok()?).ok()
    }

    /// Adds one use to slot `i` at hour `hour`.
    #[inline]
    pub(super) fn count(&self, s: &Slot, i: usize, hour: u64, denial: Option<Denial>) {
        let b = (hour % HOURS_KEPT as u64) as usize;
        let tag = (hour + 1) as u32;
        if s.hours[b].load(Ordering::Relaxed) < tag {
            s.hours[b].fetch_max(tag, Ordering::Relaxed);
        }
        let counter = match denial {
            None => {
                let stripe = thread_slot() & self.stripe_mask;
                &self.allowed[(stripe * self.slots.len() + i) * HOURS_KEPT + b]
            }
            Some(d) => &self.denied[(i * HOURS_KEPT + b) * Denial::COUNT + d as usize],
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // After the count: a drain that clears the flag before this store sees the count.
        if !s.dirty.load(Ordering::SeqCst) {
            s.dirty.store(true, Ordering::SeqCst);
        }
    }

    /// Marks slot `i` as having something to drain (a raised signal).
    pub(super) fn touch(&self, i: usize) {
        if !self.slots[i].dirty.load(Ordering::SeqCst) {
            self.slots[i].dirty.store(true, Ordering::SeqCst);
        }
    }

    /// Takes slot `i`'s dirty flag.
    pub(super) fn take_dirty(&self, i: usize) -> bool {
        let s = &self.slots[i];
        s.dirty.load(Ordering::SeqCst) && s.dirty.swap(false, Ordering::SeqCst)
    }

    /// Swaps out slot `i`'s counts, bucket by bucket (buckets with none are left out).
    pub(super) fn swap_counts(&self, i: usize, out: &mut Vec<Swapped>) {
        let s = &self.slots[i];
        for b in 0..HOURS_KEPT {
            let tag = s.hours[b].load(Ordering::Relaxed);
            if tag == 0 {
                continue;
            }
            let tag = u64::from(tag);
            let take = |c: &AtomicU32| match c.load(Ordering::Relaxed) {
                0 => 0,
                _ => u64::from(c.swap(0, Ordering::Relaxed)),
            };
            let allowed = (0..=self.stripe_mask)
                .map(|st| take(&self.allowed[(st * self.slots.len() + i) * HOURS_KEPT + b]))
                .sum();
            let mut denied = [0u64; Denial::COUNT];
            for (d, n) in denied.iter_mut().enumerate() {
                *n = take(&self.denied[(i * HOURS_KEPT + b) * Denial::COUNT + d]);
            }
            if allowed > 0 || denied.iter().any(|&n| n > 0) {
                out.push(Swapped {
                    hour: tag - 1,
                    allowed,
                    denied,
                });
            }
        }
    }

    /// Whether `net` is among slot `i`'s networks.
    #[inline]
    pub(super) fn knows(&self, i: usize, net: Network) -> bool {
        let bits = net.bits();
        self.slots[i]
            .nets
            .iter()
            .any(|n| n.load(Ordering::Relaxed) == bits)
    }

    /// Adds `net` to slot `i`'s networks, replacing the oldest when all are taken.
    pub(super) fn learn(&self, i: usize, net: Network) {
        let s = &self.slots[i];
        let at = s.net_next.fetch_add(1, Ordering::Relaxed) as usize % NETWORKS_PER_KEY;
        s.nets[at].store(net.bits(), Ordering::Relaxed);
    }

    /// Slot `i`'s networks.
    pub(super) fn networks(&self, i: usize) -> Vec<Network> {
        let mut nets: Vec<Network> = self.slots[i]
            .nets
            .iter()
            .filter_map(|n| Network::from_bits(n.load(Ordering::Relaxed)))
            .collect();
        nets.sort_unstable();
        nets.dedup();
        nets
    }

    /// The last time slot `i` saw anything (0: never).
    pub(super) fn activity(&self, i: usize) -> u64 {
        let s = &self.slots[i];
        let hour = s.hours.iter().map(|h| h.load(Ordering::Relaxed)).max();
        let hour_end = u64::from(hour.unwrap_or(0)).saturating_mul(3600);
        [
            s.last.load(Ordering::Relaxed),
            s.burst_start.load(Ordering::Relaxed),
            hour_end,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Frees slot `i` if it still holds `id` and has nothing to drain. A use recorded at
    /// the very moment of eviction may be lost: only keys idle for a long time, or the
    /// least recently used when the table is full, are evicted.
    pub(super) fn evict(&self, i: usize, id: &KeyId) -> bool {
        let s = &self.slots[i];
        let w = words(id);
        if s.dirty.load(Ordering::SeqCst)
            || s.id0
                .compare_exchange(w[0], BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let mut scratch = Vec::new();
        self.swap_counts(i, &mut scratch);
        for a in [
            &s.first,
            &s.last,
            &s.new_net,
            &s.new_net_at,
            &s.dormant_last,
        ]
        .into_iter()
        .chain([&s.dormant_at, &s.burst_start, &s.burst_since, &s.burst_at])
        .chain([&s.rotation_day, &s.rotation_at])
        .chain(&s.nets)
        {
            a.store(0, Ordering::Relaxed);
        }
        for a in s
            .hours
            .iter()
            .chain([&s.net_next, &s.pending, &s.burst_count])
        {
            a.store(0, Ordering::Relaxed);
        }
        s.dirty.store(false, Ordering::SeqCst);
        s.id0.store(TOMB, Ordering::Release);
        self.live.fetch_sub(1, Ordering::Relaxed);
        true
    }
}

/// The slot's first id word once no claim or eviction is under way (or `BUSY` if one
/// lasts: the caller then treats the slot as another key's).
#[inline]
fn settled(s: &Slot) -> u64 {
    let mut w0 = s.id0.load(Ordering::Acquire);
    let mut spins = 0;
    while w0 == BUSY && spins < 64 {
        std::hint::spin_loop();
        spins += 1;
        w0 = s.id0.load(Ordering::Acquire);
    }
    w0
}

#[inline]
fn words(id: &KeyId) -> [u64; 2] {
    let b = id.as_bytes();
    let mut w = [[0u8; 8]; 2];
    w[0].copy_from_slice(&b[..8]);
    w[1].copy_from_slice(&b[8..]);
    [u64::from_le_bytes(w[0]), u64::from_le_bytes(w[1])]
}

/// Ids are random base62 chosen by the issuer, so a multiply spreads them well enough.
#[inline]
fn hash(w: [u64; 2]) -> usize {
    let h = (w[0] ^ w[1].rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as usize
}
