//! The in-process cache of key records.
//!
//! Decisions:
//! - **Known records live in a [`MemoryStore`]**: the core's lock-free set, whose reads
//!   take no lock and allocate nothing, and which shares equal profiles between records.
//!   A cached check costs what a `MemoryStore` check costs, plus one monotonic clock read.
//! - **Unknown ids are remembered for [`CacheConfig::absent_ttl`]** in a lock-free map of
//!   at most [`CacheConfig::max_absent`] ids, so a flood of well-formed unknown keys costs
//!   one query per id per TTL, not one per request. When the map is full, expired ids
//!   are dropped; if it is still full, it is emptied (then those ids cost a query again):
//!   memory stays bounded whatever is presented.
//! - **A change from the feed invalidates** (the next lookup reads the row again); it
//!   never writes a record that it did not read from the database.
//! - **A read-through result is cached only if no change was applied while it was read**
//!   (a generation counter, compared under the cache's write lock): otherwise a record
//!   read before a revocation could be cached after the revocation's invalidation.

use portcullis::{KeyId, KeyRecord, MemoryStore};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Limits of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long an unknown id is answered from memory (default 5 s; a key created
    /// meanwhile is announced by the feed, which drops the entry at once).
    pub absent_ttl: Duration,
    /// At most this many unknown ids are remembered (default 65,536; ~40 bytes each).
    pub max_absent: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            absent_ttl: Duration::from_secs(5),
            max_absent: 65_536,
        }
    }
}

pub(crate) struct Cache {
    records: MemoryStore,
    /// Unknown ids and when (clock nanos) that answer expires.
    absent: papaya::HashMap<KeyId, u64, foldhash::fast::RandomState>,
    config: CacheConfig,
    /// Bumped by every invalidation, under `writes`.
    generation: AtomicU64,
    /// Serialises invalidations and read-through fills (never taken by a cached hit).
    writes: Mutex<()>,
}

/// What the cache knows about an id.
pub(crate) enum Cached {
    Known(Arc<KeyRecord>),
    Absent,
    Miss,
}

impl Cache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Cache {
            records: MemoryStore::new(),
            absent: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            config,
            generation: AtomicU64::new(0),
            writes: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own: a panic elsewhere leaves nothing half-done.
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached answer at clock `now` (nanos); no allocation, no shared lock.
    #[inline]
    pub(crate) fn get(&self, id: &KeyId, now: u64) -> Cached {
        if let Some(record) = self.records.get(id) {
            return Cached::Known(record);
        }
        match self.absent.pin().get(id) {
            Some(&until) if now < until => Cached::Absent,
            _ => Cached::Miss,
        }
    }

    /// The generation to pass to [`Cache::fill`] (read before the database is).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches what the database answered, unless a change was applied since `generation`.
    /// Returns the record as shared by the cache.
    pub(crate) fn fill(
        &self,
        generation: u64,
        id: &KeyId,
        found: Option<KeyRecord>,
        now: u64,
    ) -> Option<Arc<KeyRecord>> {
        let _writes = self.lock();
        let current = self.generation.load(Ordering::Acquire) == generation;
        match found {
            Some(record) if current => {
                // Read again while stale (the feed down): the cached copy, if equal, stays.
                if let Some(cached) = self.records.get(id).filter(|c| **c == record) {
                    return Some(cached);
                }
                if !self.absent.is_empty() {
                    self.absent.pin().remove(id);
                }
                self.records.put(record);
                self.records.get(id)
            }
            Some(record) => Some(Arc::new(record)),
            None => {
                if current {
                    self.records.remove(id);
                    self.remember_absent(id, now);
                }
                None
            }
        }
    }

    fn remember_absent(&self, id: &KeyId, now: u64) {
        let absent = self.absent.pin();
        if absent.len() >= self.config.max_absent {
            absent.retain(|_, &until| until > now);
            if absent.len() >= self.config.max_absent {
                absent.clear();
            }
        }
        let ttl = u64::try_from(self.config.absent_ttl.as_nanos()).unwrap_or(u64::MAX);
        absent.insert(*id, now.saturating_add(ttl));
    }

    /// Forgets what is known about `id` (a change to it was published).
    pub(crate) fn invalidate(&self, id: &KeyId) {
        let _writes = self.lock();
        self.records.remove(id);
        self.absent.pin().remove(id);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets everything (a change of a kind this build does not know).
    pub(crate) fn invalidate_all(&self) {
        let _writes = self.lock();
        for record in self.records.records() {
            self.records.remove(&record.id());
        }
        self.absent.pin().clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Known records and remembered unknown ids.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.records.len(), self.absent.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ids_are_bounded() {
        let cache = Cache::new(CacheConfig {
            absent_ttl: Duration::from_secs(60),
            max_absent: 100,
        });
        for i in 0..1_000u32 {
            let id = KeyId::parse(&format!("U{i:0>15}")).expect("id");
            let g = cache.generation();
            assert!(cache.fill(g, &id, None, 1).is_none());
            assert!(cache.sizes().1 <= 100, "{:?}", cache.sizes());
        }
    }

    fn record(name: &str) -> KeyRecord {
        KeyRecord::from_json(&format!(
            r#"{{"id":"AAAAAAAAAAAAAAAA","name":"{name}","owner":"o","kind":"sk","env":"live","scopes":["a"],"hash":"sha256$VJKbJOumODcxJIOhOGun1W3siJmUM0IkQxnMq20WNUY","created_at":1}}"#
        ))
        .expect("a record")
    }

    #[test]
    fn a_read_equal_to_the_cached_record_keeps_it_and_a_changed_one_replaces_it() {
        let cache = Cache::new(CacheConfig::default());
        let id = KeyId::parse("AAAAAAAAAAAAAAAA").expect("id");
        let first = cache.fill(cache.generation(), &id, Some(record("a")), 1);
        let again = cache.fill(cache.generation(), &id, Some(record("a")), 2);
        assert!(Arc::ptr_eq(
            &first.expect("cached"),
            &again.expect("cached")
        ));
        let changed = cache.fill(cache.generation(), &id, Some(record("b")), 3);
        assert_eq!(changed.expect("cached").name(), "b");
        let Cached::Known(now) = cache.get(&id, 4) else {
            panic!("not cached");
        };
        assert_eq!(now.name(), "b");
    }

    #[test]
    fn a_fill_after_an_invalidation_is_not_cached() {
        let cache = Cache::new(CacheConfig::default());
        let id = KeyId::parse("AAAAAAAAAAAAAAAA").expect("id");
        let g = cache.generation();
        cache.invalidate(&id);
        assert!(cache.fill(g, &id, None, 1).is_none());
        assert!(matches!(cache.get(&id, 2), Cached::Miss));
        let g = cache.generation();
        cache.fill(g, &id, None, 1);
        assert!(matches!(cache.get(&id, 2), Cached::Absent));
        let ttl = u64::try_from(CacheConfig::default().absent_ttl.as_nanos()).expect("ttl");
        assert!(matches!(cache.get(&id, 1 + ttl), Cached::Miss), "expired");
    }
}
