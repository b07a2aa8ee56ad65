//! Lower-level helpers: credential extraction (RFC 6750) and legacy hashes.

use crate::errors;
use crate::input;
use portcullis::StoredHash;
use portcullis::extract_credential as core_extract_credential;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A bearer credential found in a request.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Credential")]
pub struct PyCredential {
    token: Vec<u8>,
    source: &'static str,
}

#[pymethods]
impl PyCredential {
    /// The token bytes (a secret: do not log).
    #[getter]
    fn token<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.token)
    }
    /// `"header"` or `"query"`.
    #[getter]
    fn source(&self) -> &'static str {
        self.source
    }
    fn __repr__(&self) -> String {
        format!(
            "Credential(source={}, token=[REDACTED; {} bytes])",
            crate::py_str(self.source),
            self.token.len()
        )
    }
}

/// Finds the bearer credential of a request (the first step of every check); raises
/// `CredentialError` with the extraction error code.
#[pyfunction]
#[pyo3(signature = (authorization, query, *, param="api_key", allow_query=false))]
pub(crate) fn extract_credential(
    py: Python<'_>,
    authorization: Option<&Bound<'_, PyAny>>,
    query: Option<&Bound<'_, PyAny>>,
    param: &str,
    allow_query: bool,
) -> PyResult<PyCredential> {
    let authorization = input::opt_bytes(authorization, "authorization")?;
    let query = input::opt_bytes(query, "query")?;
    let c = core_extract_credential(
        authorization.as_deref(),
        query.as_deref(),
        param,
        allow_query,
    )
    .map_err(|e| errors::credential(py, e))?;
    Ok(PyCredential {
        token: c.token.to_vec(),
        source: crate::codes::source(c.source),
    })
}

/// The legacy `sha256$…` hash string of a whole key text, for importing keys from an
/// older system that stored plain SHA-256 digests.
#[pyfunction]
pub(crate) fn legacy_sha256_hash(key: &str) -> String {
    StoredHash::legacy_sha256(key).encode()
}
