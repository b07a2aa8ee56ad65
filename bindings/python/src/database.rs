//! `Store`: a database store (`portcullis-store`, SQLite or PostgreSQL) shared by every
//! process that opens it, cached in this one and kept current by its change feed.
//!
//! Decisions made here:
//! - **Every call that may touch the database releases the GIL**: opening, writes,
//!   `get`, and `Checker.check(lookup=store)` (a cache hit is cheap, but a miss or a
//!   stale feed reads the database, and which one happens is only known inside).
//! - **Errors are `DatabaseError`** with the store's stable `code` (`store_unreachable`,
//!   `duplicate_key`, `key_not_found`, `key_inactive`, …, the core table's `database`
//!   family) and its `hint`; the message never holds the URL's password.
//! - **It is also an OAuth store**: every `OAuthServer` endpoint takes it as `store=`
//!   (clients, codes, refresh families in the database; family revocations reach every
//!   process's attached verifier through the feed).
//! - An id that is not a key id names no key: `get` returns `None`, `revoke` and `rotate`
//!   raise `DatabaseError` `key_not_found`, as for any absent id.

use crate::checker::PyChecker;
use crate::input;
use crate::keys::PyRotation;
use crate::oauth::PyAccessVerifier;
use crate::oauth_client::client_of;
use crate::record::{PyKeyRecord, record_of};
use portcullis::KeyId;
use portcullis_store::{Options, Store, StoredKey};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// `DatabaseError(message, code, hint)`.
pub(crate) fn database_error(py: Python<'_>, e: &portcullis_store::Error) -> PyErr {
    crate::errors::raise(
        py,
        "DatabaseError",
        (
            e.message().to_owned(),
            e.code(),
            e.hint().unwrap_or_default(),
        ),
    )
}

fn not_found(py: Python<'_>) -> PyErr {
    crate::errors::raise(
        py,
        "DatabaseError",
        (
            "no key with that id (it is not a key id)",
            "key_not_found",
            "list the keys to find the right id",
        ),
    )
}

/// Key records, their audit and the OAuth state in one database (`sqlite:PATH` or
/// `postgresql://…`), shared by every process that opens it. Open one per process with
/// `Store.open` and pass it as `lookup=` to `Checker.check`: lookups are answered from
/// this process's cache while the change feed is fresh (within `staleness` seconds,
/// default 1), and read the database otherwise; when neither can answer, the decision is
/// a 503 `lookup_failed`, never an allow from stale state.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Store")]
pub struct PyStore {
    pub(crate) inner: Arc<Store>,
}

#[pymethods]
impl PyStore {
    /// Opens the store at `url`: connects, checks the database is portcullis's and not
    /// newer than this module, migrates it, and starts the change feed (a thread and one
    /// more connection). `staleness`: seconds (or `timedelta`) the cache may answer on its
    /// own since the feed last caught up (default 1). Raises `DatabaseError`.
    #[staticmethod]
    #[pyo3(signature = (url, *, staleness=None))]
    fn open(py: Python<'_>, url: &str, staleness: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut options = Options::default();
        if let Some(s) = staleness.filter(|s| !s.is_none()) {
            options.staleness = Duration::from_secs_f64(staleness_secs(s)?);
        }
        let url = url.to_owned();
        let store = py
            .detach(move || Store::open_with(&url, options))
            .map_err(|e| database_error(py, &e))?;
        Ok(PyStore {
            inner: Arc::new(store),
        })
    }

    /// Stores a new record (`KeyRecord`, dict or JSON), from `Checker.issue`; every process
    /// sees it. Raises `DatabaseError` (`duplicate_key` if the id exists).
    fn insert(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let record = record_of(record)?;
        let store = self.inner.clone();
        py.detach(move || store.insert_key(&record, portcullis::Timestamp::now()))
            .map_err(|e| database_error(py, &e))
    }

    /// The record with this id read from the database (not the cache), or `None` (also for
    /// any text that is not a key id).
    fn get(&self, py: Python<'_>, key_id: &str) -> PyResult<Option<PyKeyRecord>> {
        let Ok(id) = KeyId::parse(key_id) else {
            return Ok(None);
        };
        let store = self.inner.clone();
        let found = py
            .detach(move || store.key(&id))
            .map_err(|e| database_error(py, &e))?;
        Ok(found.map(PyKeyRecord::new))
    }

    /// Every decodable record, oldest first (at most 100,000), read from the database. A
    /// row whose record cannot be decoded is left out (a lookup of it answers 503 until it
    /// is revoked; the command's `keys list` shows it).
    fn records(&self, py: Python<'_>) -> PyResult<Vec<PyKeyRecord>> {
        let store = self.inner.clone();
        let rows = py
            .detach(move || store.list_keys())
            .map_err(|e| database_error(py, &e))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match row {
                StoredKey::Record(record) => Some(PyKeyRecord::new(record)),
                StoredKey::Corrupt(_) => None,
            })
            .collect())
    }

    /// Revokes a key from `at` on (default: now) in every process: at once in this one,
    /// within milliseconds in the others while the feed runs. Returns whether it already
    /// was revoked (the earlier time is kept). Raises `DatabaseError` (`key_not_found`).
    #[pyo3(signature = (key_id, at=None))]
    fn revoke(
        &self,
        py: Python<'_>,
        key_id: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let at = input::timestamp(at, "at")?;
        let id = KeyId::parse(key_id).map_err(|_| not_found(py))?;
        let store = self.inner.clone();
        py.detach(move || store.revoke_key(&id, at))
            .map_err(|e| database_error(py, &e))
    }

    /// Revokes every OAuth access token issued before `epoch` (int or float seconds, or an
    /// aware `datetime`) in every process sharing this database: the stored epoch is
    /// raised, never lowered, and the change feed carries it to every attached verifier.
    /// Raises `DatabaseError`.
    fn revoke_access_tokens_before(
        &self,
        py: Python<'_>,
        epoch: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let epoch = input::required_timestamp(epoch, "epoch")?;
        let store = self.inner.clone();
        py.detach(move || store.revoke_access_tokens_before(epoch))
            .map_err(|e| database_error(py, &e))
    }

    /// Rotates a key in one transaction (see `Checker.rotate`): stores the successor and the
    /// predecessor's shortened life (`grace`: seconds or `timedelta`), and returns the
    /// `Rotation` (its successor's key is shown once). Raises `DatabaseError`
    /// (`key_not_found`, `key_inactive` for a revoked or expired key).
    #[pyo3(signature = (key_id, checker, grace, now=None))]
    fn rotate(
        &self,
        py: Python<'_>,
        key_id: &str,
        checker: &PyChecker,
        grace: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRotation> {
        let grace = input::seconds(grace, "grace")?;
        let now = input::timestamp(now, "now")?;
        let id = KeyId::parse(key_id).map_err(|_| not_found(py))?;
        let (store, checker) = (self.inner.clone(), checker.shared());
        let rotation = py
            .detach(move || store.rotate_key(&id, &checker, grace, now))
            .map_err(|e| database_error(py, &e))?;
        PyRotation::from_core(py, rotation)
    }

    /// Pushes this store's OAuth revocations (refresh-token families, the access-token
    /// epoch), now and as the feed brings them from other processes, into `verifier` (the
    /// one given to `Checker(access_tokens=)`), and makes it fail closed like the cache:
    /// while the feed is behind the bound, its tokens get 503 `lookup_failed`. Raises
    /// `DatabaseError`.
    fn attach(&self, py: Python<'_>, verifier: &PyAccessVerifier) -> PyResult<()> {
        let (store, verifier) = (self.inner.clone(), verifier.inner.clone());
        py.detach(move || store.attach(verifier))
            .map_err(|e| database_error(py, &e))
    }

    /// Registers (or replaces) an OAuth client (`Client`, its dict or JSON) in the
    /// database, for every process's `OAuthServer` given this store as `store=`. Raises
    /// `DatabaseError`.
    fn add_client(&self, py: Python<'_>, client: &Bound<'_, PyAny>) -> PyResult<()> {
        let client = client_of(client)?;
        let store = self.inner.clone();
        py.detach(move || store.put_client(&client))
            .map_err(|e| database_error(py, &e))
    }

    /// Whether the cache may answer on its own now (the feed caught up within the bound).
    #[getter]
    fn fresh(&self) -> bool {
        self.inner.is_fresh()
    }

    /// Where the store lives, without a password (`sqlite:/var/lib/keys.sqlite3`,
    /// `postgresql://app@db:5432/portcullis`).
    #[getter]
    fn location(&self) -> String {
        self.inner.target().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Store({}, fresh={})",
            crate::py_str(&self.inner.target().to_string()),
            if self.inner.is_fresh() {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// Seconds from an int, a float or a `timedelta`; positive and finite.
fn staleness_secs(v: &Bound<'_, PyAny>) -> PyResult<f64> {
    let secs = match v.extract::<f64>() {
        Ok(s) => s,
        Err(_) => v
            .call_method0("total_seconds")
            .and_then(|s| s.extract::<f64>())
            .map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "staleness must be seconds or a timedelta, not {}",
                    input::type_name(v)
                ))
            })?,
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "staleness must be more than 0 and at most 86400 seconds",
        ));
    }
    Ok(secs)
}
