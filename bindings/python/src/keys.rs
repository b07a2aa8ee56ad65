//! What key operations return: parsed keys, issued keys (the plaintext, once) and
//! rotations.

use crate::record::PyKeyRecord;
use portcullis::ParsedKey;
use pyo3::prelude::*;

/// A parsed key (the secret stays out of it).
#[pyclass(frozen, get_all, module = "portcullis._portcullis", name = "ParsedKey")]
pub struct PyParsedKey {
    /// The kind (`sk`).
    kind: String,
    /// The environment (`live`).
    env: String,
    /// The key id, to look the record up.
    key_id: String,
    /// A form safe to log: `sk_live_<id>_…`.
    display: String,
}

/// A freshly issued key: show `key` to the user once, store `record`.
#[pyclass(frozen, get_all, module = "portcullis._portcullis", name = "IssuedKey")]
pub struct PyIssuedKey {
    /// The plaintext key (`sk_live_…`). Show it once; never store or log it.
    key: String,
    /// The record to store (holds only the hash).
    record: PyKeyRecord,
}

/// A rotation: the successor key, and the predecessor's record now expiring at the end
/// of the grace period (store both).
#[pyclass(frozen, get_all, module = "portcullis._portcullis", name = "Rotation")]
pub struct PyRotation {
    /// The new key.
    successor: Py<PyIssuedKey>,
    /// The old record with its new expiry.
    predecessor: PyKeyRecord,
}

impl PyParsedKey {
    pub(crate) fn from_core(parsed: &ParsedKey<'_>) -> Self {
        PyParsedKey {
            kind: parsed.kind().to_owned(),
            env: parsed.env().to_owned(),
            key_id: parsed.id().to_string(),
            display: parsed.display().to_string(),
        }
    }
}

impl PyIssuedKey {
    /// Copies the plaintext out of the core's zeroizing string: from here on it is a Python
    /// `str`, which cannot be wiped; show it once and drop it.
    pub(crate) fn from_core(issued: portcullis::IssuedKey) -> Self {
        PyIssuedKey {
            key: issued.key.expose().to_owned(),
            record: PyKeyRecord::new(issued.record),
        }
    }
}

impl PyRotation {
    pub(crate) fn from_core(py: Python<'_>, rotation: portcullis::Rotation) -> PyResult<Self> {
        Ok(PyRotation {
            successor: Py::new(py, PyIssuedKey::from_core(rotation.successor))?,
            predecessor: PyKeyRecord::new(rotation.predecessor),
        })
    }
}

#[pymethods]
impl PyParsedKey {
    fn __repr__(&self) -> String {
        format!("ParsedKey({})", crate::py_str(&self.display))
    }
}

#[pymethods]
impl PyIssuedKey {
    fn __repr__(&self) -> String {
        format!(
            "IssuedKey(key='[REDACTED]', record={})",
            self.record.__repr__()
        )
    }
}

#[pymethods]
impl PyRotation {
    fn __repr__(&self) -> String {
        format!(
            "Rotation(successor=IssuedKey(...), predecessor={})",
            self.predecessor.__repr__()
        )
    }
}
