//! What a database `Store` gives back of usage and of its audit (`UsageHistory`,
//! `StoredSignal`, `AuditEntry`), and the arguments those calls and the writes take (the
//! actor, the filters). The `Store` methods themselves are in `database.rs`.
//!
//! Decisions made here:
//! - **The actor is a keyword of each write** (`insert`, `revoke`, `rotate` take
//!   `actor=`), over the store's default (`Store.open(actor=)`): the Rust
//!   `Store::acting_as` view exists so a call can name its actor without an allocation; in
//!   Python a keyword does that without a second class whose methods would have to mirror
//!   the store's. A bad actor (empty, over 256 bytes, a control character) is a
//!   `ConfigurationError` (a `ValueError`) with the store's code, `invalid_argument`.
//! - **A failed `drain_usage` raises `DatabaseError` carrying the drained batch** as
//!   `.batch` (the store's `UnsavedUsage`): the recorder no longer holds it, and saving is
//!   additive, so `save_usage(error.batch)` later counts it exactly once.
//! - **Text that is not a key id names no key**, as for `Store.get`: `key_usage` returns
//!   an empty history, `key=` filters match nothing. No error repeats the text.
//! - Times out are aware UTC `datetime`s; "no actor" and "no key" are `None`, not `""`.

use crate::database::database_error;
use crate::input;
use crate::time::to_datetime;
use crate::usage::{PyHourCounts, PyUsageBatch};
use portcullis::usage::{HourCounts, Network, UsageBatch};
use portcullis::{KeyId, Timestamp};
use portcullis_store::{Actor, AuditEntry, StoredSignal, UnsavedUsage, UsageHistory};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::sync::Arc;

/// An actor argument: `None` (the default), or a name the store accepts.
pub(crate) fn actor_of(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Actor>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let s = v.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("actor must be str, not {}", input::type_name(v)))
    })?;
    Actor::new(s.to_str()?)
        .map(Some)
        .map_err(|e| crate::errors::configuration(py, &e.to_string(), e.code()))
}

/// A key filter: `None`, a key id, or text that is no key id (`Err(())`: matches nothing).
pub(crate) fn key_filter(v: Option<&str>) -> Result<Option<KeyId>, ()> {
    match v {
        None => Ok(None),
        Some(text) => KeyId::parse(text).map(Some).map_err(|_| ()),
    }
}

/// A page size: a non-negative `int` (the store caps it at 1,000).
pub(crate) fn limit_of(v: &Bound<'_, PyAny>) -> PyResult<usize> {
    if v.is_instance_of::<pyo3::types::PyBool>() || !v.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "limit must be int, not {}",
            input::type_name(v)
        )));
    }
    let n: i128 = v
        .extract()
        .map_err(|_| PyValueError::new_err("limit is too large"))?;
    if n < 0 {
        return Err(PyValueError::new_err("limit must not be negative"));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// A sequence-number bound (`before`, `after`): `None` or an `int`.
pub(crate) fn seq_of(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<i64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<pyo3::types::PyBool>() || !v.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int (a seq), not {}",
            input::type_name(v)
        )));
    }
    v.extract::<i64>()
        .map(Some)
        .map_err(|_| PyValueError::new_err(format!("{what} is out of range")))
}

/// The `DatabaseError` of a failed drain, with the batch the recorder gave up as `.batch`.
pub(crate) fn unsaved(py: Python<'_>, e: UnsavedUsage) -> PyErr {
    let err = database_error(py, &e.error);
    let batch = PyUsageBatch {
        inner: Arc::new(e.batch),
    };
    match Py::new(py, batch).and_then(|b| err.value(py).setattr("batch", b)) {
        Ok(()) => err,
        Err(failed) => failed,
    }
}

/// The batch a `UsageBatch` argument holds.
pub(crate) fn batch_of(batch: &PyUsageBatch) -> Arc<UsageBatch> {
    batch.inner.clone()
}

/// JSON from the core as Python values.
fn json_value<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .call_method1("loads", (value.to_string(),))
}

/// A key's stored usage (`Store.key_usage`): first and last use, networks, counts per
/// hour and signals.
#[pyclass(frozen, module = "portcullis._portcullis", name = "UsageHistory")]
pub struct PyUsageHistory {
    key_id: String,
    first_used: Option<Timestamp>,
    last_used: Option<Timestamp>,
    networks: Vec<Network>,
    hours: Vec<HourCounts>,
    signals: Vec<Arc<StoredSignal>>,
}

impl PyUsageHistory {
    pub(crate) fn new(h: UsageHistory) -> Self {
        PyUsageHistory {
            key_id: h.key_id.to_string(),
            first_used: h.first_used,
            last_used: h.last_used,
            networks: h.networks,
            hours: h.hours,
            signals: h.signals.into_iter().map(Arc::new).collect(),
        }
    }

    /// The history of text that names no key: empty.
    pub(crate) fn empty(key_id: &str) -> Self {
        PyUsageHistory {
            key_id: key_id.to_owned(),
            first_used: None,
            last_used: None,
            networks: Vec::new(),
            hours: Vec::new(),
            signals: Vec::new(),
        }
    }
}

#[pymethods]
impl PyUsageHistory {
    /// The key id asked for.
    #[getter]
    fn key_id(&self) -> String {
        self.key_id.clone()
    }
    /// Its first authenticated use on record (`None`: never used).
    #[getter]
    fn first_used(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.first_used.map(|t| to_datetime(py, t)).transpose()
    }
    /// Its last authenticated use on record.
    #[getter]
    fn last_used(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.last_used.map(|t| to_datetime(py, t)).transpose()
    }
    /// The client networks it has been used from (at most 8).
    #[getter]
    fn networks(&self) -> Vec<String> {
        self.networks.iter().map(ToString::to_string).collect()
    }
    /// Its counts per hour since the time asked for, oldest first; hours without use are
    /// absent.
    #[getter]
    fn hours(&self) -> Vec<PyHourCounts> {
        self.hours
            .iter()
            .map(|h| PyHourCounts { inner: *h })
            .collect()
    }
    /// Its signals since the time asked for, newest first.
    #[getter]
    fn signals(&self) -> Vec<PyStoredSignal> {
        self.signals
            .iter()
            .map(|s| PyStoredSignal { inner: s.clone() })
            .collect()
    }

    fn __repr__(&self) -> String {
        let total: u64 = self.hours.iter().map(HourCounts::total).sum();
        format!(
            "UsageHistory(key_id={}, last_used={}, hours={}, total={}, signals={})",
            crate::py_str(&self.key_id),
            self.last_used
                .map_or_else(|| "None".to_owned(), |t| t.secs().to_string()),
            self.hours.len(),
            total,
            self.signals.len()
        )
    }
}

/// A saved unusual-activity signal (`Store.usage_signals`, `UsageHistory.signals`).
#[pyclass(frozen, module = "portcullis._portcullis", name = "StoredSignal")]
pub struct PyStoredSignal {
    inner: Arc<StoredSignal>,
}

impl PyStoredSignal {
    pub(crate) fn new(inner: StoredSignal) -> Self {
        PyStoredSignal {
            inner: Arc::new(inner),
        }
    }
}

#[pymethods]
impl PyStoredSignal {
    /// Its place among saved signals (increasing): page back with the smallest as
    /// `before`.
    #[getter]
    fn seq(&self) -> i64 {
        self.inner.seq
    }
    /// The key id.
    #[getter]
    fn key_id(&self) -> String {
        self.inner.key_id.to_string()
    }
    /// When it was raised.
    #[getter]
    fn at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_datetime(py, self.inner.at)
    }
    /// Its kind (`new_network`, `volume`, `after_dormancy`, `wrong_secret_burst`,
    /// `rotation_due`; a newer build may have saved another).
    #[getter]
    fn kind(&self) -> String {
        self.inner.kind.clone()
    }
    /// The kind's fields as saved (`{"network": "198.51.100.0/24"}`, `{}` for
    /// `rotation_due`; times as int seconds).
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_value(py, &self.inner.details)
    }
    /// `{"seq", "key_id", "at", "kind", …the kind's fields}`: `Signal.to_json()` with
    /// the sequence number.
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_value(py, &self.inner.to_json())
    }

    fn __repr__(&self) -> String {
        format!(
            "StoredSignal(seq={}, key_id={}, at={}, kind={})",
            self.inner.seq,
            crate::py_str(self.inner.key_id.as_str()),
            self.inner.at.secs(),
            crate::py_str(&self.inner.kind)
        )
    }
}

/// One entry of the audit log (`Store.audit_log`): a lifecycle change, who made it and
/// when. It never holds a secret.
#[pyclass(frozen, module = "portcullis._portcullis", name = "AuditEntry")]
pub struct PyAuditEntry {
    inner: AuditEntry,
}

impl PyAuditEntry {
    pub(crate) fn new(inner: AuditEntry) -> Self {
        PyAuditEntry { inner }
    }
}

/// `None` for the store's "" (no key, no actor).
fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[pymethods]
impl PyAuditEntry {
    /// Its place in the log (increasing): page back with the smallest as `before`.
    #[getter]
    fn seq(&self) -> i64 {
        self.inner.seq
    }
    /// The key (`None` for an entry about no key: `pepper_rotated`).
    #[getter]
    fn key_id(&self) -> Option<String> {
        non_empty(&self.inner.key_id)
    }
    /// `created`, `revoked`, `rotated`, `rehashed` or `pepper_rotated`.
    #[getter]
    fn action(&self) -> String {
        self.inner.action.clone()
    }
    /// Who made the change, as the host named it (`None`: no one was named, or the entry
    /// predates actors).
    #[getter]
    fn actor(&self) -> Option<String> {
        non_empty(&self.inner.actor)
    }
    /// When (the time the write was given).
    #[getter]
    fn at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_datetime(py, self.inner.at)
    }
    /// Details: `rotated`, the successor's id; `created` by a rotation, the
    /// predecessor's; `pepper_rotated`, the new primary pepper's id; otherwise `""`.
    #[getter]
    fn detail(&self) -> String {
        self.inner.detail.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "AuditEntry(seq={}, key_id={}, action={}, actor={}, at={})",
            self.inner.seq,
            crate::py_opt(non_empty(&self.inner.key_id).as_deref()),
            crate::py_str(&self.inner.action),
            crate::py_opt(non_empty(&self.inner.actor).as_deref()),
            self.inner.at.secs()
        )
    }
}
