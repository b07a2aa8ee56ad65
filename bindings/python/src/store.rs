//! `MemoryStore`: the core's concurrent in-memory store (lock-free reads).

use crate::errors;
use crate::input;
use crate::record::{PyKeyRecord, record_of};
use portcullis::MemoryStore;
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

    /// The record with this id, or `None`.
    fn get(&self, py: Python<'_>, key_id: &str) -> PyResult<Option<PyKeyRecord>> {
        let id = input::key_id(py, key_id)?;
        Ok(self.inner.get(&id).map(|inner| PyKeyRecord { inner }))
    }

    /// Removes a record and returns it (`None` if absent).
    fn remove(&self, py: Python<'_>, key_id: &str) -> PyResult<Option<PyKeyRecord>> {
        let id = input::key_id(py, key_id)?;
        Ok(self.inner.remove(&id).map(|inner| PyKeyRecord { inner }))
    }

    /// Revokes a record from `at` on (default: now); raises `StoreError` if absent.
    #[pyo3(signature = (key_id, at=None))]
    fn revoke(&self, py: Python<'_>, key_id: &str, at: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let id = input::key_id(py, key_id)?;
        let at = input::timestamp(at, "at")?;
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
        portcullis::KeyId::parse(key_id).is_ok_and(|id| self.inner.get(&id).is_some())
    }

    fn __repr__(&self) -> String {
        format!("MemoryStore(len={})", self.inner.len())
    }
}

/// The core store takes records by value: unwrap the `Arc`, or copy when it is shared.
fn owned(record: Arc<portcullis::KeyRecord>) -> portcullis::KeyRecord {
    Arc::try_unwrap(record).unwrap_or_else(|shared| portcullis::KeyRecord::clone(&shared))
}
