//! `MemoryStore`: the core's concurrent in-memory store (lock-free reads).
//!
//! Decisions made here:
//! - An id is looked up as the text it is: one that is not a key id (wrong length or
//!   characters, say from a URL) names no stored record. `get` and `remove` return
//!   `None` for it, `in` is `False`, and `revoke` raises `StoreError` `not_found`, as for
//!   any absent id, never `MalformedKeyError`.
//! - A `StoreError` for such an id does not repeat it (`key_id` is empty): the text may
//!   be anything, even a whole key pasted where its id belonged.

use crate::errors;
use crate::input;
use crate::record::{PyKeyRecord, record_of};
use portcullis::{KeyId, MemoryStore};
use pyo3::prelude::*;
use std::sync::Arc;

/// A concurrent in-memory store of key records, keyed by id. Safe to share between
/// threads; `Checker.check(..., lookup=store)` reads it without the GIL.
#[pyclass(frozen, module = "portcullis._portcullis", name = "MemoryStore")]
#[derive(Default)]
pub struct PyMemoryStore {
    pub(crate) inner: Arc<MemoryStore>,
}

#[pymethods]
impl PyMemoryStore {
    /// An empty store.
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Adds a new record (`KeyRecord`, dict or JSON); raises `StoreError` if the id exists.
    fn insert(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let record = record_of(record)?;
        self.inner
            .insert(owned(record))
            .map_err(|e| errors::store(py, &e))
    }

    /// Adds or replaces a record.
    fn put(&self, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let record = record_of(record)?;
        self.inner.put(owned(record));
        Ok(())
    }

    /// The record with this id, or `None` (also for any text that is not a key id).
    fn get(&self, key_id: &str) -> Option<PyKeyRecord> {
        let id = KeyId::parse(key_id).ok()?;
        self.inner.get(&id).map(|inner| PyKeyRecord { inner })
    }

    /// Removes a record and returns it (`None` if absent, also for any text that is not
    /// a key id).
    fn remove(&self, key_id: &str) -> Option<PyKeyRecord> {
        let id = KeyId::parse(key_id).ok()?;
        self.inner.remove(&id).map(|inner| PyKeyRecord { inner })
    }

    /// Revokes a record from `at` on (default: now); raises `StoreError` (`not_found`) if
    /// absent, also for any text that is not a key id (then with an empty `key_id`).
    #[pyo3(signature = (key_id, at=None))]
    fn revoke(&self, py: Python<'_>, key_id: &str, at: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let at = input::timestamp(at, "at")?;
        let Ok(id) = KeyId::parse(key_id) else {
            return Err(errors::raise(
                py,
                "StoreError",
                (
                    "no record with that id (it is not a key id)",
                    "not_found",
                    "",
                ),
            ));
        };
        self.inner
            .revoke(&id, at)
            .map_err(|e| errors::store(py, &e))
    }

    /// A snapshot of every record (in no particular order).
    fn records(&self) -> Vec<PyKeyRecord> {
        self.inner
            .records()
            .into_iter()
            .map(|inner| PyKeyRecord { inner })
            .collect()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, key_id: &str) -> bool {
        KeyId::parse(key_id).is_ok_and(|id| self.inner.get(&id).is_some())
    }

    fn __repr__(&self) -> String {
        format!("MemoryStore(len={})", self.inner.len())
    }
}

/// The core store takes records by value: unwrap the `Arc`, or copy when it is shared.
fn owned(record: Arc<portcullis::KeyRecord>) -> portcullis::KeyRecord {
    Arc::try_unwrap(record).unwrap_or_else(|shared| portcullis::KeyRecord::clone(&shared))
}
