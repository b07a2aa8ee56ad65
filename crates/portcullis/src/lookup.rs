//! Where records come from: a trait the host implements, and an in-memory store.

use crate::format::KeyId;
use crate::record::KeyRecord;
use crate::time::Timestamp;
use std::sync::Arc;

/// The host's lookup failed (database down, timeout). The request is refused with 503:
/// portcullis fails closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key lookup failed: {message}")]
pub struct LookupError {
    /// What failed, for the host's logs. Must not contain secrets.
    pub message: String,
}

impl LookupError {
    /// A lookup error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        LookupError {
            message: message.into(),
        }
    }
}

/// Finds the record of a key id. Implement it over your database, or use [`MemoryStore`].
///
/// Return `Ok(None)` for an unknown id; portcullis then does the same work as for a wrong
/// secret, so the two cannot be told apart by timing.
pub trait KeyLookup {
    /// The record with this id, if any.
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError>;
}

impl<F> KeyLookup for F
where
    F: Fn(&KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError>,
{
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        self(id)
    }
}

/// Why a store write was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A record with this id already exists.
    #[error("a record with id {0} already exists")]
    Duplicate(KeyId),
    /// No record has this id.
    #[error("no record with id {0}")]
    NotFound(KeyId),
}

/// A concurrent in-memory store of records keyed by id.
///
/// Reads take no lock (a lock-free hash map, `papaya`); writes from any thread are safe and
/// become visible to later reads at once. Records are immutable once stored: changes
/// replace the record. Share it between threads by reference or in an `Arc`.
pub struct MemoryStore {
    map: papaya::HashMap<KeyId, Arc<KeyRecord>, foldhash::fast::RandomState>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            map: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
        }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a new record; an existing id is an error.
    pub fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let id = record.id();
        match self.map.pin().try_insert(id, Arc::new(record)) {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Duplicate(id)),
        }
    }

    /// Adds or replaces a record.
    pub fn put(&self, record: KeyRecord) {
        self.map.pin().insert(record.id(), Arc::new(record));
    }

    /// The record with this id.
    pub fn get(&self, id: &KeyId) -> Option<Arc<KeyRecord>> {
        self.map.pin().get(id).cloned()
    }

    /// Removes a record, returning it.
    pub fn remove(&self, id: &KeyId) -> Option<Arc<KeyRecord>> {
        self.map.pin().remove(id).cloned()
    }

    /// Revokes a record from `at` on; effective for every later check.
    pub fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<(), StoreError> {
        self.update(id, |r| r.revoke(at))
    }

    /// Applies a change to a record atomically (retried if another writer raced it).
    pub fn update(&self, id: &KeyId, change: impl Fn(&mut KeyRecord)) -> Result<(), StoreError> {
        let map = self.map.pin();
        let result = map.update(*id, |old| {
            let mut next = KeyRecord::clone(old);
            change(&mut next);
            Arc::new(next)
        });
        result.map(|_| ()).ok_or(StoreError::NotFound(*id))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A snapshot of every record (in no particular order).
    pub fn records(&self) -> Vec<Arc<KeyRecord>> {
        self.map.pin().values().cloned().collect()
    }
}

impl KeyLookup for MemoryStore {
    #[inline]
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        Ok(self.get(id))
    }
}
