//! The OAuth stores: `MemoryOAuthStore` (the core's in-memory store), `Store` (the
//! database store, shared by every process that opens it) and a host store — any Python
//! object with the methods of `portcullis.OAuthStore` — adapted to the core's
//! `ClientStore`, `CodeStore` and `RefreshStore` contracts.
//!
//! Endpoints run with the GIL released (so a database store's queries never hold it); a
//! host store's methods are called with it re-acquired. Records cross as dicts (the JSON of the core's serde types), hashes as
//! 32 `bytes`, families as 16-character `str`, times as int seconds. Any exception from
//! a host method (or a return value of the wrong shape) becomes the core's
//! `LookupError`, so the endpoint answers `server_error` as it does for any store
//! failure; the exception is logged to the `portcullis.oauth` logger (keep secrets out
//! of your exception messages). A `BaseException` that is not an `Exception`
//! (`KeyboardInterrupt`, `SystemExit`) is not swallowed: the endpoint finishes as for any
//! failure, then the call raises it.

use crate::errors;
use crate::input;
use crate::oauth_client::{PyClient, client_of};
use portcullis::oauth::{
    Client, ClientStore, CodeRecord, CodeStore, Consumed, MemoryOAuthStore, RefreshRecord,
    RefreshStore, Rotated, Stores, TokenHash,
};
use portcullis::{KeyId, LookupError, Timestamp};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use std::sync::Arc;

/// An in-memory implementation of every OAuth store contract (clients, codes, refresh
/// tokens, revoked families) behind one mutex: for tests, examples and single-process
/// servers. Safe to share between threads.
#[pyclass(frozen, module = "portcullis._portcullis", name = "MemoryOAuthStore")]
#[derive(Default)]
pub struct PyMemoryOAuthStore {
    pub(crate) inner: Arc<MemoryOAuthStore>,
}

#[pymethods]
impl PyMemoryOAuthStore {
    /// An empty store.
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) a client (`Client`, its dict or JSON).
    fn add_client(&self, client: &Bound<'_, PyAny>) -> PyResult<()> {
        let client = client_of(client)?;
        self.inner.add_client(Client::clone(&client));
        Ok(())
    }

    /// The client with this id, or `None`.
    fn client(&self, client_id: &str) -> Option<PyClient> {
        // The memory store never fails.
        self.inner
            .client(client_id)
            .ok()
            .flatten()
            .map(|inner| PyClient { inner })
    }

    /// Whether a grant family is revoked (refresh tokens).
    fn is_family_revoked(&self, py: Python<'_>, family: &str) -> PyResult<bool> {
        let family = input::key_id(py, family)?;
        Ok(self.inner.is_family_revoked(&family).unwrap_or(true))
    }

    /// Drops used and expired codes (call now and then).
    #[pyo3(signature = (now=None))]
    fn purge_codes(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.purge_codes(input::timestamp(now, "now")?);
        Ok(())
    }

    fn __repr__(&self) -> String {
        // The core's Debug shows counts only: `MemoryOAuthStore { clients: 1, … }`.
        format!("{:?}", self.inner)
            .replacen(" { ", "(", 1)
            .replace(": ", "=")
            .replace(" }", ")")
    }
}

/// The methods a host store must have, per endpoint.
pub(crate) const CLIENT_METHODS: &[&str] = &["client"];
/// What `approve` needs.
pub(crate) const CODE_METHODS: &[&str] = &["put_code"];
/// What the token, revocation and introspection endpoints need.
pub(crate) const ALL_METHODS: &[&str] = &[
    "client",
    "put_code",
    "code",
    "consume_code",
    "put_refresh",
    "refresh",
    "rotate",
    "revoke_family",
    "is_family_revoked",
];

/// A store argument, owned so an endpoint can run without the GIL.
pub(crate) enum OwnedStore {
    /// The core's in-memory store.
    Memory(Arc<MemoryOAuthStore>),
    /// The database store (`portcullis.Store`).
    Database(Arc<portcullis_store::Store>),
    /// A Python object implementing the store protocol.
    Host(HostStore),
}

impl OwnedStore {
    /// A `MemoryOAuthStore`, a `Store`, or an object with every method in `needed`.
    pub(crate) fn of(value: &Bound<'_, PyAny>, needed: &[&str]) -> PyResult<Self> {
        if let Ok(m) = value.cast::<PyMemoryOAuthStore>() {
            return Ok(OwnedStore::Memory(m.get().inner.clone()));
        }
        if let Ok(d) = value.cast::<crate::database::PyStore>() {
            return Ok(OwnedStore::Database(d.get().inner.clone()));
        }
        for name in needed {
            let ok = value
                .getattr(*name)
                .map(|m| m.is_callable())
                .unwrap_or(false);
            if !ok {
                return Err(PyTypeError::new_err(format!(
                    "store must be a MemoryOAuthStore, a Store or implement OAuthStore ({} has no method {name}())",
                    input::type_name(value)
                )));
            }
        }
        Ok(OwnedStore::Host(HostStore {
            obj: value.clone().unbind(),
            interrupt: std::sync::Mutex::new(None),
        }))
    }

    /// Raises the first `KeyboardInterrupt`-like exception a host method raised during
    /// the call, if any (see the module docs).
    pub(crate) fn reraise(&self) -> PyResult<()> {
        match self {
            OwnedStore::Memory(_) | OwnedStore::Database(_) => Ok(()),
            OwnedStore::Host(h) => match h.interrupt.lock().map(|mut g| g.take()) {
                Ok(Some(e)) => Err(e),
                _ => Ok(()),
            },
        }
    }

    /// The three contracts.
    pub(crate) fn stores(&self) -> Stores<'_> {
        match self {
            OwnedStore::Memory(m) => Stores::all(&**m),
            OwnedStore::Database(d) => Stores::all(&**d),
            OwnedStore::Host(h) => Stores::all(h),
        }
    }
}

/// A Python object serving the store contracts.
pub(crate) struct HostStore {
    obj: Py<PyAny>,
    /// The first exception that must not be swallowed, raised after the endpoint returns.
    interrupt: std::sync::Mutex<Option<PyErr>>,
}

/// Logs a failed host call to the `portcullis.oauth` logger at ERROR (a store failure
/// fails the request: it is an error, not a warning) and turns it into a `LookupError`
/// (whose text names the method only).
fn failed(py: Python<'_>, method: &str, err: &PyErr) -> LookupError {
    let logged = py.import("logging").and_then(|logging| {
        let logger = logging.call_method1("getLogger", ("portcullis.oauth",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", err.value(py))?;
        logger.call_method(
            "error",
            ("OAuth store method %s() failed", method),
            Some(&kwargs),
        )
    });
    drop(logged); // Logging is best effort: the failure is reported by the response.
    LookupError::new(format!("OAuth store method {method}() failed"))
}

/// A record's JSON text as a dict.
fn to_dict(py: Python<'_>, json: serde_json::Result<String>) -> PyResult<Bound<'_, PyAny>> {
    let text = json.map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The JSON text of a record given as a dict or JSON text.
fn json_of(value: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let text: String = if let Ok(s) = value.cast::<PyString>() {
        s.to_str()?.to_owned()
    } else if value.is_instance_of::<PyDict>() {
        value
            .py()
            .import("json")?
            .call_method1("dumps", (value,))?
            .extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a dict or JSON str, not {}",
            input::type_name(value)
        )));
    };
    Ok(text)
}

fn bad(what: &str, e: &serde_json::Error) -> PyErr {
    PyValueError::new_err(format!("bad {what}: {e}"))
}

fn hash_bytes<'py>(py: Python<'py>, hash: &TokenHash) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &hash.0)
}

fn time_arg(t: Option<Timestamp>) -> Option<u64> {
    t.map(|t| t.0)
}

impl HostStore {
    /// Calls `method(*args)` with the GIL, converting the result with `convert`; every
    /// failure is a logged `LookupError`.
    fn call<T>(
        &self,
        method: &str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
        convert: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
    ) -> Result<T, LookupError> {
        Python::attach(|py| {
            let result = args(py).and_then(|args| {
                let value = self.obj.bind(py).call_method1(method, args)?;
                convert(&value)
            });
            result.map_err(|e| {
                let error = failed(py, method, &e);
                if !e.is_instance_of::<pyo3::exceptions::PyException>(py)
                    && let Ok(mut slot) = self.interrupt.lock()
                {
                    slot.get_or_insert(e);
                }
                error
            })
        })
    }
}

fn bool_of(value: &Bound<'_, PyAny>, what: &str) -> PyResult<bool> {
    if value.is_instance_of::<pyo3::types::PyBool>() {
        value.extract()
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must return bool, not {}",
            input::type_name(value)
        )))
    }
}

fn none_result(value: &Bound<'_, PyAny>) -> PyResult<()> {
    let _ = value;
    Ok(())
}

impl ClientStore for HostStore {
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, LookupError> {
        self.call(
            "client",
            |py| PyTuple::new(py, [id]),
            |v| {
                if v.is_none() {
                    Ok(None)
                } else {
                    client_of(v).map(Some)
                }
            },
        )
    }
}

impl CodeStore for HostStore {
    fn put_code(&self, hash: TokenHash, record: CodeRecord) -> Result<(), LookupError> {
        self.call(
            "put_code",
            |py| {
                let args = (
                    hash_bytes(py, &hash),
                    to_dict(py, serde_json::to_string(&record))?,
                );
                args.into_pyobject(py)
            },
            none_result,
        )
    }

    fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, LookupError> {
        self.call(
            "code",
            |py| (hash_bytes(py, hash),).into_pyobject(py),
            |v| {
                if v.is_none() {
                    Ok(None)
                } else {
                    serde_json::from_str(&json_of(v, "code record")?)
                        .map(Some)
                        .map_err(|e| bad("code record", &e))
                }
            },
        )
    }

    fn consume_code(&self, hash: &TokenHash) -> Result<Consumed, LookupError> {
        self.call(
            "consume_code",
            |py| (hash_bytes(py, hash),).into_pyobject(py),
            |v| {
                if v.is_none() {
                    return Ok(Consumed::Unknown);
                }
                let (state, record): (String, Bound<'_, PyAny>) = v.extract().map_err(|_| {
                    PyTypeError::new_err(
                        "consume_code must return None or a (\"first\"|\"again\", record) tuple",
                    )
                })?;
                let record: CodeRecord = serde_json::from_str(&json_of(&record, "code record")?)
                    .map_err(|e| bad("code record", &e))?;
                match state.as_str() {
                    "first" => Ok(Consumed::First(record)),
                    "again" => Ok(Consumed::Again(record)),
                    _ => Err(PyValueError::new_err(
                        "consume_code state must be \"first\" or \"again\"",
                    )),
                }
            },
        )
    }
}

impl RefreshStore for HostStore {
    fn put_refresh(&self, hash: TokenHash, record: RefreshRecord) -> Result<(), LookupError> {
        self.call(
            "put_refresh",
            |py| {
                (
                    hash_bytes(py, &hash),
                    to_dict(py, serde_json::to_string(&record))?,
                )
                    .into_pyobject(py)
            },
            none_result,
        )
    }

    fn refresh(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, LookupError> {
        self.call(
            "refresh",
            |py| (hash_bytes(py, hash),).into_pyobject(py),
            |v| {
                if v.is_none() {
                    Ok(None)
                } else {
                    serde_json::from_str(&json_of(v, "refresh record")?)
                        .map(Some)
                        .map_err(|e| bad("refresh record", &e))
                }
            },
        )
    }

    fn rotate(
        &self,
        old: &TokenHash,
        expected: Option<Timestamp>,
        rotated_at: Timestamp,
        successor: (TokenHash, RefreshRecord),
    ) -> Result<Rotated, LookupError> {
        self.call(
            "rotate",
            |py| {
                (
                    hash_bytes(py, old),
                    time_arg(expected),
                    rotated_at.0,
                    hash_bytes(py, &successor.0),
                    to_dict(py, serde_json::to_string(&successor.1))?,
                )
                    .into_pyobject(py)
            },
            |v| {
                Ok(if bool_of(v, "rotate")? {
                    Rotated::Done
                } else {
                    Rotated::Conflict
                })
            },
        )
    }

    fn revoke_family(&self, family: &KeyId, now: Timestamp) -> Result<(), LookupError> {
        self.call(
            "revoke_family",
            |py| (family.as_str(), now.0).into_pyobject(py),
            none_result,
        )
    }

    fn is_family_revoked(&self, family: &KeyId) -> Result<bool, LookupError> {
        self.call(
            "is_family_revoked",
            |py| (family.as_str(),).into_pyobject(py),
            |v| bool_of(v, "is_family_revoked"),
        )
    }
}

/// `OAuthError(message, code, description)` for an engine error raised to Python.
pub(crate) fn oauth_error(py: Python<'_>, e: &portcullis::oauth::OAuthError) -> PyErr {
    errors::raise(
        py,
        "OAuthError",
        (e.to_string(), e.code.as_str(), e.description),
    )
}
