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
//! - Usage (`drain_usage`, `save_usage`, `restore_usage`, `last_used`, `key_usage`,
//!   `usage_signals`) and the audit (`audit_log`, the writes' `actor=`): the classes and
//!   the rules they follow are in `store_usage.rs`.

use crate::checker::PyChecker;
use crate::input;
use crate::keys::PyRotation;
use crate::oauth::PyAccessVerifier;
use crate::oauth_client::client_of;
use crate::record::{PyKeyRecord, record_of};
use crate::store_usage::{
    PyAuditEntry, PyStoredSignal, PyUsageHistory, actor_of, batch_of, key_filter, limit_of, seq_of,
    unsaved,
};
use crate::usage::{PyUsageBatch, PyUsageRecorder};
use portcullis::{KeyId, Timestamp};
use portcullis_store::{AuditFilter, Options, SignalFilter, Store, StoredKey};
use pyo3::prelude::*;
use pyo3::types::PyDict;
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
    /// own since the feed last caught up (default 1). `actor`: who this handle's writes
    /// are audited as unless a write names another (`actor=`); default none. Raises
    /// `DatabaseError`; a bad actor `ConfigurationError` (`invalid_argument`).
    #[staticmethod]
    #[pyo3(signature = (url, *, staleness=None, actor=None))]
    fn open(
        py: Python<'_>,
        url: &str,
        staleness: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut options = Options::default();
        if let Some(s) = staleness.filter(|s| !s.is_none()) {
            options.staleness = Duration::from_secs_f64(staleness_secs(s)?);
        }
        if let Some(actor) = actor_of(py, actor)? {
            options.actor = actor;
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
    /// sees it. Audited as `actor` (default: the store's). Raises `DatabaseError`
    /// (`duplicate_key` if the id exists).
    #[pyo3(signature = (record, *, actor=None))]
    fn insert(
        &self,
        py: Python<'_>,
        record: &Bound<'_, PyAny>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let record = record_of(record)?;
        let actor = actor_of(py, actor)?.unwrap_or(*self.inner.actor());
        let store = self.inner.clone();
        py.detach(move || store.acting_as(actor).insert_key(&record, Timestamp::now()))
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
    /// was revoked (the earlier time is kept). Audited as `actor` (default: the store's).
    /// Raises `DatabaseError` (`key_not_found`).
    #[pyo3(signature = (key_id, at=None, *, actor=None))]
    fn revoke(
        &self,
        py: Python<'_>,
        key_id: &str,
        at: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let at = input::timestamp(at, "at")?;
        let actor = actor_of(py, actor)?.unwrap_or(*self.inner.actor());
        let id = KeyId::parse(key_id).map_err(|_| not_found(py))?;
        let store = self.inner.clone();
        py.detach(move || store.acting_as(actor).revoke_key(&id, at))
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
    /// `Rotation` (its successor's key is shown once). Audited as `actor` (default: the
    /// store's). Raises `DatabaseError` (`key_not_found`, `key_inactive` for a revoked or
    /// expired key).
    #[pyo3(signature = (key_id, checker, grace, now=None, *, actor=None))]
    fn rotate(
        &self,
        py: Python<'_>,
        key_id: &str,
        checker: &PyChecker,
        grace: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
        actor: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRotation> {
        let grace = input::seconds(grace, "grace")?;
        let now = input::timestamp(now, "now")?;
        let actor = actor_of(py, actor)?.unwrap_or(*self.inner.actor());
        let id = KeyId::parse(key_id).map_err(|_| not_found(py))?;
        let (store, checker) = (self.inner.clone(), checker.shared());
        let rotation = py
            .detach(move || store.acting_as(actor).rotate_key(&id, &checker, grace, now))
            .map_err(|e| database_error(py, &e))?;
        PyRotation::from_core(py, rotation)
    }

    /// The audit log, newest first: every lifecycle change (`created`, `revoked`,
    /// `rotated`, `rehashed`, `pepper_rotated`) or one key's (`key`), between the
    /// exclusive sequence bounds `before` and `after`, at most `limit` (capped at 1,000).
    /// Page back with the smallest `seq` of a page as the next `before`. Raises
    /// `DatabaseError`.
    #[pyo3(signature = (*, key=None, before=None, after=None, limit=None))]
    #[pyo3(text_signature = "(self, *, key=None, before=None, after=None, limit=50)")]
    fn audit_log(
        &self,
        py: Python<'_>,
        key: Option<&str>,
        before: Option<&Bound<'_, PyAny>>,
        after: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyAuditEntry>> {
        let Ok(key) = key_filter(key) else {
            return Ok(Vec::new());
        };
        let filter = AuditFilter {
            key,
            before: seq_of(before, "before")?,
            after: seq_of(after, "after")?,
            limit: limit.map(limit_of).transpose()?.unwrap_or(50),
        };
        let store = self.inner.clone();
        let entries = py
            .detach(move || store.audit_log(&filter))
            .map_err(|e| database_error(py, &e))?;
        Ok(entries.into_iter().map(PyAuditEntry::new).collect())
    }

    /// Who this handle's writes are audited as when a write names no `actor` (`None`:
    /// no one).
    #[getter]
    fn actor(&self) -> Option<String> {
        let actor = self.inner.actor();
        (!actor.is_unknown()).then(|| actor.to_string())
    }

    /// Drains `recorder` (`UsageRecorder.drain` at `now`, default the current time) and
    /// saves the batch in one transaction; returns the batch, for its signals. Call it
    /// every few seconds from one thread, and once before the process exits; never per
    /// request. When the save fails it raises `DatabaseError` with the drained batch as
    /// `.batch` (the recorder no longer holds it): keep it and `save_usage` it later.
    #[pyo3(signature = (recorder, now=None))]
    fn drain_usage(
        &self,
        py: Python<'_>,
        recorder: &PyUsageRecorder,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyUsageBatch> {
        let now = input::timestamp(now, "now")?;
        let (store, recorder) = (self.inner.clone(), recorder.inner.clone());
        let batch = py
            .detach(move || store.drain_usage(&recorder, now))
            .map_err(|e| unsaved(py, e))?;
        Ok(PyUsageBatch {
            inner: Arc::new(batch),
        })
    }

    /// Saves a drained batch in one transaction: adds its counts to each key's hours,
    /// keeps the earliest first use and the latest last use, merges the networks and
    /// appends the signals. Additive: a batch saved twice counts twice, and any number of
    /// processes may save into one database. Raises `DatabaseError`.
    fn save_usage(&self, py: Python<'_>, batch: &PyUsageBatch) -> PyResult<()> {
        let (store, batch) = (self.inner.clone(), batch_of(batch));
        py.detach(move || store.save_usage(&batch))
            .map_err(|e| database_error(py, &e))
    }

    /// Gives a new recorder (after a restart) the stored first and last use and networks
    /// of the most recently used keys (at most three quarters of its `max_keys`), or of
    /// the keys named in `key_ids` (at most 100,000), so that learning, dormancy and known
    /// networks carry over. Returns how many keys it restored. Raises `DatabaseError`.
    #[pyo3(signature = (recorder, key_ids=None))]
    fn restore_usage(
        &self,
        py: Python<'_>,
        recorder: &PyUsageRecorder,
        key_ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let ids: Option<Vec<KeyId>> = match key_ids.filter(|k| !k.is_none()) {
            None => None,
            // Text that is no key id names no key: nothing to restore for it.
            Some(k) => Some(
                input::strings(k, "key_ids")?
                    .iter()
                    .filter_map(|t| KeyId::parse(t).ok())
                    .collect(),
            ),
        };
        let (store, recorder) = (self.inner.clone(), recorder.inner.clone());
        py.detach(move || match ids {
            None => store.restore_usage(&recorder),
            Some(ids) => store.restore_key_usage(&recorder, &ids),
        })
        .map_err(|e| database_error(py, &e))
    }

    /// Every key's last authenticated use on record, by key id (keys never used are
    /// absent; at most 100,000, the most recent): the "last used" of a key listing.
    /// Raises `DatabaseError`.
    fn last_used<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.inner.clone();
        let used = py
            .detach(move || store.last_used_all())
            .map_err(|e| database_error(py, &e))?;
        let out = PyDict::new(py);
        for (id, at) in used {
            out.set_item(id.as_str(), crate::time::to_datetime(py, at)?)?;
        }
        Ok(out)
    }

    /// A key's stored usage: first and last use, networks, its counts per hour from
    /// `since` on (default: all kept, the store's 90-day window; oldest first, at most
    /// 8,784 hours) and its signals raised from `since` on (newest first, at most 1,000).
    /// A key never used, or text that is not a key id, has an empty history. Raises
    /// `DatabaseError`.
    #[pyo3(signature = (key_id, since=None))]
    fn key_usage(
        &self,
        py: Python<'_>,
        key_id: &str,
        since: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyUsageHistory> {
        let since = match since.filter(|s| !s.is_none()) {
            Some(s) => input::required_timestamp(s, "since")?,
            None => Timestamp(0),
        };
        let Ok(id) = KeyId::parse(key_id) else {
            return Ok(PyUsageHistory::empty(key_id));
        };
        let store = self.inner.clone();
        let history = py
            .detach(move || store.key_usage(&id, since))
            .map_err(|e| database_error(py, &e))?;
        Ok(PyUsageHistory::new(history))
    }

    /// Saved signals, newest first: every key's or one key's (`key`), raised at or after
    /// `since`, with a sequence number below `before` and above `after`, at most `limit`
    /// (capped at 1,000). Page back with the smallest `seq` of a page as the next
    /// `before`. Raises `DatabaseError`.
    #[pyo3(signature = (*, key=None, since=None, before=None, after=None, limit=None))]
    #[pyo3(text_signature = "(self, *, key=None, since=None, before=None, after=None, limit=100)")]
    fn usage_signals(
        &self,
        py: Python<'_>,
        key: Option<&str>,
        since: Option<&Bound<'_, PyAny>>,
        before: Option<&Bound<'_, PyAny>>,
        after: Option<&Bound<'_, PyAny>>,
        limit: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyStoredSignal>> {
        let Ok(key) = key_filter(key) else {
            return Ok(Vec::new());
        };
        let since = match since.filter(|s| !s.is_none()) {
            Some(s) => Some(input::required_timestamp(s, "since")?),
            None => None,
        };
        let filter = SignalFilter {
            key,
            since,
            before: seq_of(before, "before")?,
            after: seq_of(after, "after")?,
            limit: limit.map(limit_of).transpose()?.unwrap_or(100),
        };
        let store = self.inner.clone();
        let signals = py
            .detach(move || store.usage_signals(&filter))
            .map_err(|e| database_error(py, &e))?;
        Ok(signals.into_iter().map(PyStoredSignal::new).collect())
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
