//! Where records come from: a trait the host implements, and an in-memory store.
//!
//! Decisions made here ([`MemoryStore`]):
//! - Reads take no lock and allocate nothing; writes are serialised by one lock.
//! - The store's memory is bounded by the records it holds, whatever the order of writes.
//!   A removal does not remove the set's entry: it replaces it with a *vacancy* (the id and
//!   nothing else a read can see), so removing and re-inserting an id replaces one entry.
//!   Removing entries from the lock-free set leaves a tombstone per removal, and one id
//!   removed and re-inserted over and over lined its tombstones up on one probe sequence,
//!   starting table copies faster than they finished: the set grew without bound.
//! - Vacancies are purged (real removals) when they outnumber half the records, so they
//!   cost at most about half as much as the records themselves, and a purge is amortised
//!   over at least as many removals as it removes.
//! - A vacancy is a record under a per-store sentinel profile (so that an entry stays one
//!   pointer, which the memory budget per key counts), revoked, with no scopes and an
//!   unmatchable hash; only this module sees it, through `Stored::live`.
//! - A record several threads hold at once is replicated, a copy per thread slot, so that
//!   threads checking one key do not all write its reference count (`lookup/hot.rs`).

mod hot;

use crate::format::KeyId;
use crate::record::KeyRecord;
use crate::record::Profile;
use crate::time::Timestamp;
use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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
    /// An update replaced the record with one of another id (a store keeps every record
    /// under its own id; change ids by inserting the new record and removing the old).
    #[error("the update of record {0} changed its id")]
    IdChanged(KeyId),
}

impl StoreError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            StoreError::Duplicate(_) => &crate::codes::STORE_DUPLICATE,
            StoreError::NotFound(_) => &crate::codes::STORE_NOT_FOUND,
            StoreError::IdChanged(_) => &crate::codes::STORE_ID_CHANGED,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// A concurrent in-memory store of records keyed by id.
///
/// Reads take no lock (a lock-free hash set, `papaya`, of shared records found by their
/// id); writes from any thread are safe, are applied one at a time, and become visible to
/// later reads at once. Records are immutable once stored: changes replace the record.
/// Share it between threads by reference or in an `Arc`.
///
/// Records share equal profiles (owner, scopes, kind, environment and hash scheme,
/// interned on every write), so a million keys of a few thousand organisations and
/// permission sets hold each of those once, and compile each permission set once.
/// Profiles no record uses any more are dropped from the intern table as writes go on,
/// so a long-lived store whose owners and permission sets change does not grow with its
/// history; and its memory stays bounded by the records it holds whatever the order of
/// writes (removing and re-inserting the same id over and over included).
pub struct MemoryStore {
    records: papaya::HashSet<Stored, foldhash::fast::RandomState>,
    /// The profile that marks a vacancy (see the module's decisions).
    vacant: Arc<Profile>,
    /// Records stored (vacancies not counted); changed only under the writer lock.
    live: AtomicUsize,
    /// Taken by every write, so that read-modify-write changes are atomic; it holds the
    /// intern table and the vacancy count, which only writes use.
    writer: Mutex<Writes>,
    /// Copies of the records many threads check at once (`lookup/hot.rs`); boxed: a
    /// store's handle stays small, and only a replicated record's lookup reads it.
    hot: Box<hot::Hot>,
}

/// What only writes use, behind the writer lock.
#[derive(Default)]
struct Writes {
    profiles: Profiles,
    /// Vacancies in the set.
    vacancies: usize,
}

impl Writes {
    /// No purge below this many vacancies: a few cost little.
    const PURGE_FROM: usize = 64;
}

/// The intern table of a [`MemoryStore`]: one shared copy of each profile in use.
///
/// A profile the table alone holds (no stored record, and no record a reader still has,
/// refers to it) is dead. Dead profiles are swept out when the table has doubled since
/// the last sweep (and holds at least [`Profiles::SWEEP_FROM`]), so a write costs O(1)
/// amortized and the table holds at most about twice the profiles in use. Counting
/// references cannot race here: a profile that only the table holds can gain a holder
/// only through the table, and the table is only used under the writer lock.
#[derive(Default)]
struct Profiles {
    set: HashSet<Arc<Profile>, foldhash::fast::RandomState>,
    /// The table's size after the last sweep.
    swept: usize,
}

impl Profiles {
    /// No sweep below this size: a small table costs little, and sweeping it on every
    /// few writes would cost more.
    const SWEEP_FROM: usize = 64;

    /// Shares the record's profile with an equal one already held (or holds it).
    fn intern(&mut self, record: &mut KeyRecord) {
        match self.set.get(&**record.profile()) {
            Some(shared) => record.share(Arc::clone(shared)),
            None => {
                self.set.insert(Arc::clone(record.profile()));
                self.sweep_if_grown();
            }
        }
    }

    fn sweep_if_grown(&mut self) {
        if self.set.len() >= Self::SWEEP_FROM.max(2 * self.swept) {
            self.set.retain(|p| Arc::strong_count(p) > 1);
            self.swept = self.set.len();
        }
    }
}

/// A stored record, found in the set by its id. The set holds the record itself rather
/// than an id → record map: the id is in the record, and an entry is one pointer. It may
/// be a vacancy (a removed id): read it through `Stored::live`.
#[derive(Clone)]
struct Stored(Arc<KeyRecord>);

impl Stored {
    /// The record, unless this entry is a vacancy of the store whose sentinel is `vacant`.
    #[inline]
    fn live(&self, vacant: &Arc<Profile>) -> Option<&Arc<KeyRecord>> {
        (!Arc::ptr_eq(self.0.profile(), vacant)).then_some(&self.0)
    }
}

/// The sentinel profile of a new store's vacancies and a vacancy for `id` under it:
/// revoked since the epoch, no owner, kind, environment or scopes, and a plain SHA-256
/// digest of zeros, which no key hashes to.
fn vacancy(id: KeyId, vacant: Option<&Arc<Profile>>) -> KeyRecord {
    let spec = crate::record::KeySpec::new("", "", std::iter::empty::<String>());
    let hash = crate::hash::StoredHash::Sha256 { digest: [0; 32] };
    let mut record = KeyRecord::assemble(id, "", "", &spec, &hash, Timestamp(0), None);
    record.revoke(Timestamp(0));
    if let Some(vacant) = vacant {
        record.share(Arc::clone(vacant));
    }
    record
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for Stored {}

impl Hash for Stored {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly as `KeyId` does: lookups hash a borrowed `KeyId`.
        self.0.id_ref().hash(state);
    }
}

impl Borrow<KeyId> for Stored {
    fn borrow(&self) -> &KeyId {
        self.0.id_ref()
    }
}

/// The pinned set a write works on.
type Records<'a> =
    papaya::HashSetRef<'a, Stored, foldhash::fast::RandomState, papaya::LocalGuard<'a>>;

impl Default for MemoryStore {
    fn default() -> Self {
        let sentinel = vacancy(KeyId::from_valid(&[b'0'; crate::format::ID_LEN]), None);
        MemoryStore {
            records: papaya::HashSet::with_hasher(foldhash::fast::RandomState::default()),
            vacant: Arc::clone(sentinel.profile()),
            live: AtomicUsize::new(0),
            writer: Mutex::new(Writes::default()),
            hot: Box::new(hot::Hot::new()),
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

    /// Runs one write with the writer lock held. A writer that panicked left the set
    /// consistent (each set operation is atomic; the counts are updated after it), so a
    /// poisoned lock is taken over.
    fn write<T>(&self, f: impl FnOnce(&Records<'_>, &mut Writes) -> T) -> T {
        let mut writes = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        f(&self.records.pin(), &mut writes)
    }

    /// The record of `id` in `records`, unless absent or vacant.
    fn live_in<'g>(&self, records: &'g Records<'_>, id: &KeyId) -> Option<&'g Arc<KeyRecord>> {
        records.get(id)?.live(&self.vacant)
    }

    /// Stores a record (new, or replacing a record or vacancy of its id) with its profile
    /// interned.
    fn store(&self, records: &Records<'_>, writes: &mut Writes, mut record: KeyRecord) {
        // `None`: a new id; `Some(false)`: a vacancy.
        let was_live = records
            .get(record.id_ref())
            .map(|s| s.live(&self.vacant).is_some());
        writes.profiles.intern(&mut record);
        record.mark_replicated(false);
        self.hot.forget(record.id_ref());
        records.insert(Stored(Arc::new(record)));
        if was_live == Some(false) {
            writes.vacancies -= 1;
        }
        if was_live != Some(true) {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds a new record; an existing id is an error.
    pub fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let id = record.id();
        self.write(|records, writes| {
            if self.live_in(records, &id).is_some() {
                return Err(StoreError::Duplicate(id));
            }
            self.store(records, writes, record);
            Ok(())
        })
    }

    /// Adds or replaces a record.
    pub fn put(&self, record: KeyRecord) {
        self.write(|records, writes| self.store(records, writes, record));
    }

    /// The record with this id. A record other threads hold at the same moment is
    /// replicated, so that threads checking one key do not write one shared count
    /// (`lookup/hot.rs`).
    #[inline]
    pub fn get(&self, id: &KeyId) -> Option<Arc<KeyRecord>> {
        let records = self.records.pin();
        let record = records.get(id)?.live(&self.vacant)?;
        if record.is_replicated() {
            if let Some(copy) = self.hot.get(id) {
                return Some(copy);
            }
        } else if Arc::strong_count(record) > 1 {
            self.replicate(id);
        }
        Some(Arc::clone(record))
    }

    /// Replicates the record of `id` unless the bound is reached or a write is under way.
    #[cold]
    fn replicate(&self, id: &KeyId) {
        if self.hot.is_full() {
            return;
        }
        let Ok(_writes) = self.writer.try_lock() else {
            return;
        };
        let records = self.records.pin();
        let Some(current) = self.live_in(&records, id) else {
            return;
        };
        if current.is_replicated() {
            return;
        }
        self.hot.replicate(current);
        let mut marked = KeyRecord::clone(current);
        marked.mark_replicated(true);
        records.insert(Stored(Arc::new(marked)));
    }

    /// How many records are replicated (`lookup/hot.rs`; at most 1,024).
    pub fn replicated(&self) -> usize {
        self.hot.len()
    }

    /// Removes a record, returning it. Any order of removals and inserts, the same id
    /// removed and re-inserted over and over included, keeps the store's memory bounded by
    /// the records it holds.
    pub fn remove(&self, id: &KeyId) -> Option<Arc<KeyRecord>> {
        self.write(|records, writes| {
            let removed = Arc::clone(self.live_in(records, id)?);
            records.insert(Stored(Arc::new(vacancy(*id, Some(&self.vacant)))));
            self.hot.forget(id);
            writes.vacancies += 1;
            let live = self.live.fetch_sub(1, Ordering::Relaxed) - 1;
            if writes.vacancies > (live / 2).max(Writes::PURGE_FROM) {
                // Real removals now: at most one per id per purge, each purge paid for by
                // as many removals as it removes.
                records.retain(|s| s.live(&self.vacant).is_some());
                writes.vacancies = 0;
            }
            Some(removed)
        })
    }

    /// Revokes a record from `at` on; effective for every later check.
    pub fn revoke(&self, id: &KeyId, at: Timestamp) -> Result<(), StoreError> {
        self.update(id, |r| r.revoke(at))
    }

    /// Applies a change to a record atomically (no other write comes between the read and
    /// the replacement).
    ///
    /// `change` runs while the store's writes wait: it may read the store but must not
    /// write to it (that would wait for itself).
    pub fn update(&self, id: &KeyId, change: impl Fn(&mut KeyRecord)) -> Result<(), StoreError> {
        self.write(|records, writes| {
            let old = self.live_in(records, id).ok_or(StoreError::NotFound(*id))?;
            let mut next = KeyRecord::clone(old);
            change(&mut next);
            if next.id() != *id {
                return Err(StoreError::IdChanged(*id));
            }
            self.store(records, writes, next);
            Ok(())
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every record (in no particular order).
    pub fn records(&self) -> Vec<Arc<KeyRecord>> {
        self.records
            .pin()
            .iter()
            .filter_map(|s| s.live(&self.vacant).map(Arc::clone))
            .collect()
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
    fn equal_profiles_are_stored_once() {
        let store = MemoryStore::new();
        let a = record("AAAAAAAAAAAAAAAA", "org_1", &["claims:read"]);
        let b = record("BBBBBBBBBBBBBBBB", "org_1", &["claims:read"]);
        let c = record("CCCCCCCCCCCCCCCC", "org_2", &["claims:write"]);
        assert!(!Arc::ptr_eq(a.profile(), b.profile()));
        let (ida, idb, idc) = (a.id(), b.id(), c.id());
        store.insert(a).expect("a");
        store.put(b);
        store.insert(c).expect("c");
        let (a, b, c) = (store.get(&ida), store.get(&idb), store.get(&idc));
        let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
        assert!(Arc::ptr_eq(a.profile(), b.profile()));
        assert!(!Arc::ptr_eq(a.profile(), c.profile()));
        assert_eq!(c.owner(), "org_2");
        assert_eq!(c.scopes(), ["claims:write"]);
        store.revoke(&idb, Timestamp(9)).expect("revoke");
        let b = store.get(&idb).expect("b");
        assert!(Arc::ptr_eq(a.profile(), b.profile()));
        assert_eq!(b.revoked_at(), Some(Timestamp(9)));
        store
            .update(&idb, |r| r.set_scopes(vec!["claims:write".into()]))
            .expect("update");
        let b = store.get(&idb).expect("b");
        assert!(!Arc::ptr_eq(a.profile(), b.profile()));
        assert_eq!(b.scopes(), ["claims:write"]);
    }

    #[test]
    fn a_record_held_elsewhere_is_replicated_per_thread_and_a_write_drops_the_copies() {
        let store = MemoryStore::new();
        let r = record("HOTHOTHOTHOTHOT0", "org_1", &["claims:read"]);
        let (id, json) = (r.id(), r.to_json());
        store.insert(r).expect("insert");
        let held = store.get(&id).expect("found");
        assert_eq!(store.replicated(), 0, "a lookup alone replicates nothing");
        let mine = store.get(&id).expect("found while held");
        assert_eq!(store.replicated(), 1);
        let again = store.get(&id).expect("found");
        assert!(!Arc::ptr_eq(&again, &held), "a copy, not the shared record");
        assert!(
            Arc::ptr_eq(&again, &store.get(&id).expect("found")),
            "one copy per thread"
        );
        assert!(*again == *held && again.to_json() == json && !again.is_replicated());
        let other = std::thread::scope(|s| s.spawn(|| store.get(&id).expect("found")).join());
        let other = other.expect("thread");
        assert!(!Arc::ptr_eq(&other, &again), "another thread, another copy");
        assert!(store.records().iter().all(|r| r.to_json() == json));
        store.revoke(&id, Timestamp(9)).expect("revoke");
        assert_eq!(store.replicated(), 0, "the write dropped the copies");
        let after = store.get(&id).expect("found");
        assert_eq!(
            after.revoked_at(),
            Some(Timestamp(9)),
            "no stale copy answers"
        );
        drop((held, mine, again, other));
        store.remove(&id);
        assert!(store.get(&id).is_none());
    }

    #[test]
    fn replicated_records_are_bounded() {
        let store = MemoryStore::new();
        let mut held = Vec::new();
        for i in 0..hot::MAX_HOT + 50 {
            let r = record(&format!("H{i:0>15}"), "org_1", &["a"]);
            let id = r.id();
            store.insert(r).expect("insert");
            held.push(store.get(&id).expect("found"));
            let copy = store.get(&id).expect("found while held");
            assert_eq!(copy.id(), id);
        }
        assert_eq!(store.replicated(), hot::MAX_HOT);
        assert_eq!(store.len(), hot::MAX_HOT + 50);
    }

    fn interned(store: &MemoryStore) -> usize {
        store.writer.lock().expect("lock").profiles.set.len()
    }

    #[test]
    fn profiles_no_record_uses_are_swept_and_live_ones_stay_shared() {
        let store = MemoryStore::new();
        let kept: Vec<KeyRecord> = (0..100)
            .map(|i| record(&format!("K{i:0>15}"), &format!("org_{i}"), &["a"]))
            .collect();
        for r in &kept {
            store.insert(r.clone()).expect("insert");
        }
        let churned = KeyId::parse("CHURNCHURNCHURN0").expect("id");
        store
            .insert(record("CHURNCHURNCHURN0", "o", &["a"]))
            .expect("insert");
        for i in 0..10_000 {
            let scope = format!("s{i}");
            store
                .update(&churned, |r| r.set_scopes(vec![scope.clone()]))
                .expect("update");
            let gone = format!("G{i:0>15}");
            store
                .insert(record(&gone, &format!("gone_{i}"), &["a"]))
                .expect("insert");
            store.remove(&KeyId::parse(&gone).expect("id"));
        }
        // 20,101 distinct profiles were stored; about 101 are in use. Records a reader or
        // the set's deferred reclamation still holds keep theirs alive until a later sweep.
        let held = interned(&store);
        assert!((101..1_000).contains(&held), "{held} profiles held");
        for (i, r) in kept.iter().enumerate() {
            let again = record(&format!("N{i:0>15}"), &format!("org_{i}"), &["a"]);
            let id = again.id();
            store.insert(again).expect("insert");
            let (old, new) = (
                store.get(&r.id()).expect("old"),
                store.get(&id).expect("new"),
            );
            assert!(
                Arc::ptr_eq(old.profile(), new.profile()),
                "org_{i} is shared"
            );
        }
    }

    #[test]
    fn writes_keep_every_record_under_its_own_id() {
        let store = MemoryStore::new();
        let a = record("AAAAAAAAAAAAAAAA", "o", &["a"]);
        let b = record("BBBBBBBBBBBBBBBB", "o", &["b"]);
        let (ida, idb) = (a.id(), b.id());
        store.insert(a.clone()).expect("a");
        assert_eq!(store.insert(a), Err(StoreError::Duplicate(ida)));
        assert_eq!(
            store.update(&idb, |r| r.revoke(Timestamp(1))),
            Err(StoreError::NotFound(idb))
        );
        let swapped = b.clone();
        assert_eq!(
            store.update(&ida, |r| *r = swapped.clone()),
            Err(StoreError::IdChanged(ida))
        );
        assert_eq!(store.get(&ida).expect("a").scopes(), ["a"]);
        let mut renamed = record("AAAAAAAAAAAAAAAA", "o", &["a"]);
        renamed.set_name("again");
        store.put(renamed);
        assert_eq!(store.len(), 1);
        assert_eq!(store.get(&ida).expect("a").name(), "again");
        assert_eq!(store.remove(&ida).map(|r| r.id()), Some(ida));
        assert_eq!(store.remove(&ida), None);
        assert!(store.is_empty() && store.get(&ida).is_none());
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
