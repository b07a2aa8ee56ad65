//! `KeyRecord`: what the host stores (no secret), immutable on the Python side.
//!
//! Changes (`revoked`, `with_scopes`, …) return a new record, so a record shared between
//! threads or held by a `MemoryStore` never changes under a reader.

use crate::errors;
use crate::input;
use crate::time::to_datetime;
use portcullis::KeyState;
use portcullis::{KeyRecord, RecordError, StoredHash, Timestamp};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::sync::Arc;

/// A key record (the JSON form is the storage contract; see `to_dict`/`to_json`).
#[pyclass(frozen, eq, module = "portcullis._portcullis", name = "KeyRecord")]
#[derive(Clone, PartialEq)]
pub struct PyKeyRecord {
    pub(crate) inner: Arc<KeyRecord>,
}

impl PyKeyRecord {
    pub(crate) fn new(record: KeyRecord) -> Self {
        PyKeyRecord {
            inner: Arc::new(record),
        }
    }

    fn changed(&self, change: impl FnOnce(&mut KeyRecord)) -> Self {
        let mut next = KeyRecord::clone(&self.inner);
        change(&mut next);
        PyKeyRecord::new(next)
    }
}

/// A record from a `KeyRecord`, a dict (JSON form) or a JSON string.
pub(crate) fn record_of(value: &Bound<'_, PyAny>) -> PyResult<Arc<KeyRecord>> {
    let py = value.py();
    if let Ok(r) = value.cast::<PyKeyRecord>() {
        return Ok(r.get().inner.clone());
    }
    if let Ok(s) = value.cast::<PyString>() {
        let text = s.to_str()?;
        return KeyRecord::from_json(text)
            .map(Arc::new)
            .map_err(|e| errors::record(py, &e));
    }
    if value.is_instance_of::<PyDict>() {
        let text: String = py
            .import("json")?
            .call_method1("dumps", (value,))
            .map_err(|e| {
                errors::record_msg(py, &format!("record dict is not JSON: {e}"), "bad_json")
            })?
            .extract()?;
        return KeyRecord::from_json(&text)
            .map(Arc::new)
            .map_err(|e| errors::record(py, &e));
    }
    Err(PyTypeError::new_err(format!(
        "a record must be a KeyRecord, dict or JSON str, not {}",
        input::type_name(value)
    )))
}

fn opt_dt(py: Python<'_>, t: Option<Timestamp>) -> PyResult<Option<Py<PyAny>>> {
    t.map(|t| to_datetime(py, t)).transpose()
}

#[pymethods]
impl PyKeyRecord {
    /// Parses the JSON form.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        KeyRecord::from_json(text)
            .map(PyKeyRecord::new)
            .map_err(|e| errors::record(py, &e))
    }

    /// Builds a record from its dict form (as `to_dict` returns it).
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyDict>) -> PyResult<Self> {
        record_of(data.as_any()).map(|inner| PyKeyRecord { inner })
    }

    /// The JSON form (a str).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The dict form: JSON types only, times as int seconds since the epoch.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.inner.to_json(),))
    }

    /// The key id (16 base62 characters; safe to log and show).
    #[getter]
    fn id(&self) -> String {
        self.inner.id().to_string()
    }
    /// The name given at creation.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }
    /// The owning organisation or user.
    #[getter]
    fn owner(&self) -> &str {
        self.inner.owner()
    }
    /// The key kind (`sk`).
    #[getter]
    fn kind(&self) -> &str {
        self.inner.kind()
    }
    /// The environment (`live`).
    #[getter]
    fn env(&self) -> &str {
        self.inner.env()
    }
    /// The granted scopes as stored (names or patterns).
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.inner.scopes().to_vec()
    }
    /// The self-describing hash string (not a secret, but keep it in your database).
    #[getter]
    fn hash(&self) -> String {
        self.inner.hash()
    }
    /// The display form, safe to log: `sk_live_<id>_…`.
    #[getter]
    fn display(&self) -> String {
        self.inner.display().to_string()
    }
    /// Creation time (aware UTC datetime).
    #[getter]
    fn created_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_datetime(py, self.inner.created_at())
    }
    /// Not valid before this time, if set.
    #[getter]
    fn not_before(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_dt(py, self.inner.not_before())
    }
    /// Expiry time, if any.
    #[getter]
    fn expires_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_dt(py, self.inner.expires_at())
    }
    /// Revocation time, if revoked.
    #[getter]
    fn revoked_at(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        opt_dt(py, self.inner.revoked_at())
    }
    /// The id of the key this one replaced, if it came from a rotation.
    #[getter]
    fn rotated_from(&self) -> Option<String> {
        self.inner.rotated_from().map(|id| id.to_string())
    }
    /// Host data (a dict of JSON values).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(self.inner.metadata())
            .map_err(|e| errors::record_msg(py, &e.to_string(), "bad_json"))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// Whether the key is revoked at `now` (default: the current time).
    #[pyo3(signature = (now=None))]
    fn is_revoked(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let now = input::timestamp(now, "now")?;
        Ok(self.inner.state(now) == KeyState::Revoked)
    }

    /// The key's state at `now` (default: the current time): `"active"`, `"revoked"`,
    /// `"expired"` or `"not_yet_valid"`, as the checker decides it.
    #[pyo3(signature = (now=None))]
    fn state(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<&'static str> {
        let now = input::timestamp(now, "now")?;
        Ok(self.inner.state(now).as_str())
    }

    /// A copy revoked from `at` on (default: now; an earlier revocation is kept).
    #[pyo3(signature = (at=None))]
    fn revoked(&self, at: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let at = input::timestamp(at, "at")?;
        Ok(self.changed(|r| r.revoke(at)))
    }

    /// A copy with another expiry (`None` clears it).
    fn with_expires_at(&self, at: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let at = match at {
            Some(v) if !v.is_none() => Some(input::required_timestamp(v, "at")?),
            _ => None,
        };
        Ok(self.changed(|r| r.set_expires_at(at)))
    }

    /// A copy with other granted scopes.
    fn with_scopes(&self, scopes: &Bound<'_, PyAny>) -> PyResult<Self> {
        let scopes = input::strings(scopes, "scopes")?;
        Ok(self.changed(|r| r.set_scopes(scopes)))
    }

    /// A copy with another name.
    fn with_name(&self, name: &str) -> Self {
        self.changed(|r| r.set_name(name))
    }

    /// A copy with other host data (a dict of JSON values).
    fn with_metadata(&self, metadata: &Bound<'_, PyDict>) -> PyResult<Self> {
        let map = metadata_of(metadata.py(), metadata)?;
        Ok(self.changed(|r| r.set_metadata(map)))
    }

    /// A copy with another hash string (e.g. `Checker.hash_key(key)` after a
    /// `needs_rehash` warning).
    fn with_hash(&self, py: Python<'_>, hash: &str) -> PyResult<Self> {
        let stored =
            StoredHash::parse(hash).map_err(|e| errors::record(py, &RecordError::Hash(e)))?;
        Ok(self.changed(|r| r.set_hash(&stored)))
    }

    pub(crate) fn __repr__(&self) -> String {
        format!(
            "KeyRecord(id={}, name={}, owner={}, scopes={}, hash='[REDACTED]')",
            crate::py_str(self.inner.id().as_str()),
            crate::py_str(self.inner.name()),
            crate::py_str(self.inner.owner()),
            crate::py_list(self.inner.scopes())
        )
    }
}

/// Host data from a dict of JSON values.
pub(crate) fn metadata_of(py: Python<'_>, m: &Bound<'_, PyDict>) -> PyResult<portcullis::Metadata> {
    let text: String = py
        .import("json")?
        .call_method1("dumps", (m,))
        .map_err(|e| errors::record_msg(py, &format!("metadata is not JSON: {e}"), "bad_json"))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| errors::record_msg(py, &e.to_string(), "bad_json"))
}
