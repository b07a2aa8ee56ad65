//! `Client`: an OAuth client registration (holds only the SHA-256 of its secret).

use crate::errors;
use crate::input;
use portcullis::oauth::{Client, ClientError};
use portcullis::{OsRandom, codes};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::sync::Arc;

/// A registered client, as the host stores it (`to_json`/`from_json` is the storage
/// contract). Immutable.
#[pyclass(frozen, eq, module = "portcullis._portcullis", name = "Client")]
#[derive(Clone, PartialEq)]
pub struct PyClient {
    pub(crate) inner: Arc<Client>,
}

/// `ClientError(message, code, index)`.
fn client_error(py: Python<'_>, e: &ClientError) -> PyErr {
    let index = match e {
        ClientError::Redirect { index, .. } => Some(*index),
        _ => None,
    };
    errors::raise(py, "ClientError", (e.to_string(), e.code(), index))
}

fn json_error(py: Python<'_>, e: &serde_json::Error) -> PyErr {
    errors::raise(
        py,
        "ClientError",
        (
            format!("client JSON is invalid: {e}"),
            codes::CLIENT_BAD_JSON.code(),
        ),
    )
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A client from a `Client`, its dict or its JSON text, validated.
pub(crate) fn client_of(value: &Bound<'_, PyAny>) -> PyResult<Arc<Client>> {
    let py = value.py();
    if let Ok(c) = value.cast::<PyClient>() {
        return Ok(c.get().inner.clone());
    }
    let text: String = if let Ok(s) = value.cast::<PyString>() {
        s.to_str()?.to_owned()
    } else if value.is_instance_of::<PyDict>() {
        py.import("json")?
            .call_method1("dumps", (value,))
            .map_err(|_| {
                errors::raise(
                    py,
                    "ClientError",
                    ("client dict is not JSON", codes::CLIENT_BAD_JSON.code()),
                )
            })?
            .extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "a client must be a Client, dict or JSON str, not {}",
            input::type_name(value)
        )));
    };
    let client: Client = serde_json::from_str(&text).map_err(|e| json_error(py, &e))?;
    client.validate().map_err(|e| client_error(py, &e))?;
    Ok(Arc::new(client))
}

#[pymethods]
impl PyClient {
    /// A public client (no secret; PKCE always required). `native`: an app (RFC 8252)
    /// that may use custom schemes and loopback redirects with any port.
    #[staticmethod]
    #[pyo3(signature = (client_id, redirect_uris, allowed_scopes, *, native=false))]
    fn public(
        py: Python<'_>,
        client_id: &str,
        redirect_uris: &Bound<'_, PyAny>,
        allowed_scopes: &Bound<'_, PyAny>,
        native: bool,
    ) -> PyResult<Self> {
        let uris = input::strings(redirect_uris, "redirect_uris")?;
        let scopes = input::strings(allowed_scopes, "allowed_scopes")?;
        let client = Client::public(client_id, native, &str_refs(&uris), &str_refs(&scopes))
            .map_err(|e| client_error(py, &e))?;
        Ok(PyClient {
            inner: Arc::new(client),
        })
    }

    /// A confidential client and its fresh secret (`cs.…`), as `(client, secret)`. The
    /// secret is shown once: hand it to the client's developer; only its hash is kept.
    #[staticmethod]
    fn confidential(
        py: Python<'_>,
        client_id: &str,
        redirect_uris: &Bound<'_, PyAny>,
        allowed_scopes: &Bound<'_, PyAny>,
    ) -> PyResult<(Self, String)> {
        let uris = input::strings(redirect_uris, "redirect_uris")?;
        let scopes = input::strings(allowed_scopes, "allowed_scopes")?;
        let (client, secret) = Client::confidential(
            client_id,
            &str_refs(&uris),
            &str_refs(&scopes),
            &OsRandom::new(),
        )
        .map_err(|e| client_error(py, &e))?;
        let client = PyClient {
            inner: Arc::new(client),
        };
        Ok((client, secret.expose().to_owned()))
    }

    /// A client from its JSON text (validated); raises `ClientError`.
    #[staticmethod]
    fn from_json(value: &Bound<'_, PyString>) -> PyResult<Self> {
        Ok(PyClient {
            inner: client_of(value.as_any())?,
        })
    }

    /// A client from its dict form (validated); raises `ClientError`.
    #[staticmethod]
    fn from_dict(value: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(PyClient {
            inner: client_of(value.as_any())?,
        })
    }

    /// The JSON form (what to store; holds the secret's hash, never the secret).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.inner)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    }

    /// The dict form.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = self.to_json()?;
        Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
    }

    /// Whether `secret` is this client's secret (constant time on the hashes).
    fn check_secret(&self, secret: &str) -> bool {
        self.inner.check_secret(secret)
    }

    /// Whether the client may use a grant type.
    fn allows_grant(&self, grant_type: &str) -> bool {
        self.inner.allows_grant(grant_type)
    }

    /// The client id.
    #[getter]
    fn client_id(&self) -> &str {
        &self.inner.id
    }

    /// `"public"` or `"confidential"`.
    #[getter]
    fn client_type(&self) -> &'static str {
        crate::codes::client_type(self.inner.client_type)
    }

    /// A native app (RFC 8252).
    #[getter]
    fn native(&self) -> bool {
        self.inner.native
    }

    /// The registered redirect URIs (matched exactly).
    #[getter]
    fn redirect_uris(&self) -> Vec<String> {
        self.inner.redirect_uris.clone()
    }

    /// Scopes the client may be granted.
    #[getter]
    fn allowed_scopes(&self) -> Vec<String> {
        self.inner.allowed_scopes.clone()
    }

    /// Grant types the client may use.
    #[getter]
    fn grant_types(&self) -> Vec<String> {
        self.inner.grant_types.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Client(client_id={}, client_type={}, redirect_uris={}, allowed_scopes={})",
            crate::py_str(&self.inner.id),
            crate::py_str(self.client_type()),
            crate::py_list(&self.inner.redirect_uris),
            crate::py_list(&self.inner.allowed_scopes),
        )
    }
}
