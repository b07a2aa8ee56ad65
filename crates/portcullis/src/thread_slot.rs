//! A number each thread draws once, so that per-thread copies and counters can be picked
//! without a lock (hot records, usage counts).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The calling thread's slot, drawn once per thread in turn.
#[inline]
pub(crate) fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|s| *s)
}

/// How many slots per-thread structures keep: the machine's parallelism, 2 to 16.
pub(crate) fn slot_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    cores.clamp(2, 16)
}
