//! A number each thread draws once, so that per-thread copies and counters can be picked
//! without a lock (hot records, usage counts).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The calling thread's slot, drawn once per thread in turn.
#[inline]
pub(crate) fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        // Const-initialised: no lazy-init state to check on every call.
        static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SLOT.with(|s| match s.get() {
        usize::MAX => {
            let slot = NEXT.fetch_add(1, Ordering::Relaxed) % (usize::MAX - 1);
            s.set(slot);
            slot
        }
        slot => slot,
    })
}

/// How many slots per-thread structures keep: the machine's parallelism, 2 to 16.
pub(crate) fn slot_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    cores.clamp(2, 16)
}
