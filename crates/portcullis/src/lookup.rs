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
///
/// Stored records share equal owners and scope lists (interned on every write), so a
/// million keys of a few thousand organisations and permission sets hold each of those
/// strings once. The intern tables keep every distinct owner and scope list ever stored
/// (they are small beside the records; a store that outlives many owners can be rebuilt).
pub struct MemoryStore {
    map: papaya::HashMap<KeyId, Arc<KeyRecord>, foldhash::fast::RandomState>,
    owners: papaya::HashSet<Arc<String>, foldhash::fast::RandomState>,
    scope_lists: papaya::HashSet<Arc<Vec<String>>, foldhash::fast::RandomState>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            map: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            owners: papaya::HashSet::with_hasher(foldhash::fast::RandomState::default()),
            scope_lists: papaya::HashSet::with_hasher(foldhash::fast::RandomState::default()),
        }
    }
}

/// The canonical shared copy of `value` in `set` (inserted if new).
fn intern<T>(set: &papaya::HashSet<Arc<T>, foldhash::fast::RandomState>, value: &Arc<T>) -> Arc<T>
where
    T: std::hash::Hash + Eq,
{
    let set = set.pin();
    if let Some(shared) = set.get(&**value) {
        return Arc::clone(shared);
    }
    set.insert(Arc::clone(value));
    // Another writer may have interned an equal value first: use whichever is in the set.
    set.get(&**value)
        .map_or_else(|| Arc::clone(value), Arc::clone)
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

    /// Shares the record's owner and scope list with equal ones already stored.
    fn interned(&self, mut record: KeyRecord) -> KeyRecord {
        let owner = intern(&self.owners, record.shared_owner());
        let scopes = intern(&self.scope_lists, record.shared_scopes());
        record.share(owner, scopes);
        record
    }

    /// Adds a new record; an existing id is an error.
    pub fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let id = record.id();
        match self
            .map
            .pin()
            .try_insert(id, Arc::new(self.interned(record)))
        {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Duplicate(id)),
        }
    }

    /// Adds or replaces a record.
    pub fn put(&self, record: KeyRecord) {
        self.map
            .pin()
            .insert(record.id(), Arc::new(self.interned(record)));
    }

    /// The record with this id.
    pub fn get(&self, id: &KeyId) -> Option<Arc<KeyRecord>> {
        self.map.pin().get(id).cloned()
    }

    /// Removes a record, returning it.
    ///
    /// To change a record, use [`MemoryStore::put`] or [`MemoryStore::update`], not a
    /// removal and a new insert of the same id: the map (`papaya` 0.2.5) leaves a
    /// tombstone per removal, and removing and re-inserting one id over and over made its
    /// table grow without bound in our measurement (about 180 KB per cycle at a million
    /// keys). Removing keys and inserting new ones (new ids) stays flat.
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
            Arc::new(self.interned(next))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::StoredHash;
    use crate::record::KeySpec;

    fn record(id: &str, owner: &str, scopes: &[&str]) -> KeyRecord {
        let spec = KeySpec::new("n", owner, scopes.iter().copied());
        let hash = StoredHash::Sha256 { digest: [1; 32] };
        let id = KeyId::parse(id).expect("id");
        KeyRecord::assemble(id, "sk", "live", &spec, &hash, Timestamp(5), None)
    }

    #[test]
    fn equal_owners_and_scope_lists_are_stored_once() {
        let store = MemoryStore::new();
        let a = record("AAAAAAAAAAAAAAAA", "org_1", &["claims:read"]);
        let b = record("BBBBBBBBBBBBBBBB", "org_1", &["claims:read"]);
        let c = record("CCCCCCCCCCCCCCCC", "org_2", &["claims:write"]);
        assert!(!Arc::ptr_eq(a.shared_owner(), b.shared_owner()));
        let (ida, idb, idc) = (a.id(), b.id(), c.id());
        store.insert(a).expect("a");
        store.put(b);
        store.insert(c).expect("c");
        let (a, b, c) = (store.get(&ida), store.get(&idb), store.get(&idc));
        let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
        assert!(Arc::ptr_eq(a.shared_owner(), b.shared_owner()));
        assert!(Arc::ptr_eq(a.shared_scopes(), b.shared_scopes()));
        assert!(!Arc::ptr_eq(a.shared_owner(), c.shared_owner()));
        assert_eq!(c.owner(), "org_2");
        assert_eq!(c.scopes(), ["claims:write"]);
        store.revoke(&idb, Timestamp(9)).expect("revoke");
        let b = store.get(&idb).expect("b");
        assert!(Arc::ptr_eq(a.shared_scopes(), b.shared_scopes()));
        assert_eq!(b.revoked_at(), Some(Timestamp(9)));
    }

    #[test]
    fn optional_times_and_metadata_round_trip_through_json() {
        let mut r = record("AAAAAAAAAAAAAAAA", "o", &["a"]);
        let plain = r.to_json();
        assert!(!plain.contains("expires_at") && !plain.contains("metadata"));
        r.set_expires_at(Some(Timestamp(0)));
        r.revoke(Timestamp(u64::MAX));
        let mut meta = crate::record::Metadata::new();
        meta.insert("team".into(), "core".into());
        r.set_metadata(meta);
        let back = KeyRecord::from_json(&r.to_json()).expect("parses");
        assert_eq!(back, r);
        assert_eq!(back.expires_at(), Some(Timestamp(0)));
        assert_eq!(back.revoked_at(), Some(Timestamp(u64::MAX)));
        assert_eq!(back.not_before(), None);
        assert_eq!(back.metadata()["team"], "core");
        r.set_expires_at(None);
        assert_eq!(r.expires_at(), None);
        assert!(!r.to_json().contains("expires_at"));
    }
}
