//! Hot records: one key checked from many threads at once.
//!
//! A lookup hands out an `Arc<KeyRecord>`, and each clone and drop writes the record's
//! reference count: two cores checking one key take turns owning that cache line, and
//! the pair scaled to about 1.2× one core. Decisions:
//! - **A record found shared at lookup is replicated.** The store keeps one copy per
//!   *slot* (a number each thread draws once), and a thread clones its slot's copy: two
//!   threads checking one key write counts on lines of their own. Detecting it costs one
//!   relaxed load of the count the lookup is about to write anyway ("held elsewhere right
//!   now": another thread's check, or a decision the host keeps).
//! - **Replicas, not a record lent for the length of a check:** a decision keeps its
//!   caller's record after the check (Rust `Principal::record`, C
//!   `portcullis_decision_record`, Python `Decision.record`, and the decision handles
//!   both bindings reuse), so every path would have needed another API. Replicas keep
//!   every API, and the bindings and the database store's cache (a [`super::MemoryStore`])
//!   gain with no change of their own.
//! - **Bounded:** at most [`MAX_HOT`] records are replicated per store, each in
//!   [`Hot::slots`] copies (the machine's parallelism, 2 to 16), sharing the record's
//!   profile: under a megabyte at the bound on a 4-core machine. A record stays
//!   replicated until it is written (revoked, updated, replaced or removed), which drops
//!   its copies; the next contended lookup replicates the new record.
//! - Replication takes the store's writer lock with `try_lock`: a read never waits, and
//!   a lookup that finds the lock taken just clones the shared record this time.

use crate::format::KeyId;
use crate::record::KeyRecord;
use crate::thread_slot::{slot_count, thread_slot};
use std::sync::Arc;

/// Most records one store replicates.
pub(super) const MAX_HOT: usize = 1_024;

/// The replicated records of one store.
pub(super) struct Hot {
    copies: papaya::HashMap<KeyId, Box<[Arc<KeyRecord>]>, foldhash::fast::RandomState>,
    /// Copies per record.
    slots: usize,
}

impl Hot {
    pub(super) fn new() -> Self {
        Hot {
            copies: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            slots: slot_count(),
        }
    }

    /// The calling thread's copy of `id`'s record, if it is replicated.
    #[inline]
    pub(super) fn get(&self, id: &KeyId) -> Option<Arc<KeyRecord>> {
        let copies = self.copies.pin();
        let all = copies.get(id)?;
        all.get(thread_slot() % all.len()).map(Arc::clone)
    }

    /// Whether no more records may be replicated.
    pub(super) fn is_full(&self) -> bool {
        self.copies.len() >= MAX_HOT
    }

    /// Keeps a copy of `record` per slot (the caller holds the store's writer lock).
    pub(super) fn replicate(&self, record: &KeyRecord) {
        let copies = (0..self.slots)
            .map(|_| {
                let mut copy = record.clone();
                copy.mark_replicated(false);
                Arc::new(copy)
            })
            .collect();
        self.copies.pin().insert(record.id(), copies);
    }

    /// Drops the copies of `id` (its record was written; the caller holds the writer lock).
    pub(super) fn forget(&self, id: &KeyId) {
        if !self.copies.is_empty() {
            self.copies.pin().remove(id);
        }
    }

    /// Records replicated.
    pub(super) fn len(&self) -> usize {
        self.copies.len()
    }
}
