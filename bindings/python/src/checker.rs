//! `Checker`: decisions (one call or two phases), verification, parsing, issuance and
//! rotation. Every hot call copies its inputs, then releases the GIL for the core work.

use crate::database::PyStore;
use crate::decision::{BatchChecker, CheckerRef, PyDecision, PyVerification};
use crate::errors;
use crate::input;
use crate::keys::{PyIssuedKey, PyParsedKey, PyRotation};
use crate::limits::AnyLimits;
use crate::oauth::PyAccessVerifier;
use crate::peppers::PyPeppers;
use crate::policy::PyPolicy;
use crate::record::record_of;
use crate::shared::{OwnedRequest, SharedChecker};
use crate::store::PyMemoryStore;
use crate::usage::PyUsageRecorder;
use portcullis::{
    Checker, KeySpec, LookupError, Outcome, Pending, Prepared, SecretBytes, Timestamp,
};
use pyo3::exceptions::{PyBaseException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Arc, Mutex};

/// Turns requests into decisions under one policy and one pepper set. Immutable; share
/// one instance between all threads.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Checker")]
pub struct PyChecker {
    inner: Arc<SharedChecker>,
    /// The policy as given (the checker holds an equal copy), for the `policy` getter.
    policy: Arc<portcullis::Policy>,
    /// The attached limits, as given (the checker holds them as a `dyn Limits`, which
    /// cannot be handed back as a Python object).
    limits: Option<AnyLimits>,
}

/// A request waiting for its record (two-phase checks): fetch `key_id`, then call
/// `Checker.finish` (once) with the checker that prepared it. It holds a copy of the
/// presented key, wiped when it is finished or freed.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Pending")]
pub struct PyPending {
    key_id: String,
    checker: Arc<SharedChecker>,
    inner: Mutex<Option<Pending>>,
}

/// Runs `work` with the GIL released when `long`, attached otherwise.
fn run<T: Send>(py: Python<'_>, long: bool, work: impl FnOnce() -> T + Send) -> T {
    if long { py.detach(work) } else { work() }
}

/// Why the check, verify and two-phase calls keep the GIL for ordinary requests: each
/// is a few hundred nanoseconds of Rust work, and with two threads each release hands the
/// GIL over and the reacquire waits for it (benches/OPTIMISATIONS.md). Longer calls
/// (issuing, rotating, policy loading, the OAuth endpoints) still release it. On a free-threaded
/// CPython (the module declares `gil_used = false`) attached threads run in parallel
/// anyway.
///
/// Phase one's result, owned (no borrow of the checker).
enum Phase {
    Done(Outcome),
    Lookup(Pending),
}

/// Phase one, detached: the early outcome, or the pending lookup. `now` decides access
/// tokens (API keys do not need it in phase one).
fn prepare(checker: &Checker, request: &OwnedRequest, now: Timestamp) -> Phase {
    match checker.prepare_at(&request.view(), now) {
        Prepared::Done(d) => Phase::Done(d.into_outcome()),
        Prepared::Lookup(p) => Phase::Lookup(p),
    }
}

impl PyChecker {
    /// The checker, shared (for a database store's rotation).
    pub(crate) fn shared(&self) -> Arc<SharedChecker> {
        self.inner.clone()
    }

    fn decision(&self, outcome: Outcome) -> PyDecision {
        PyDecision::new(outcome, CheckerRef::Own(self.inner.clone()))
    }

    /// One call with a Python lookup: prepare without the GIL, call the lookup with it,
    /// finish without it. What the lookup raises or returns is a decision (see
    /// `lookup.rs`); only a `KeyboardInterrupt`-like exception propagates.
    fn check_callable(
        &self,
        py: Python<'_>,
        request: OwnedRequest,
        lookup: &Bound<'_, PyAny>,
        now: Timestamp,
    ) -> PyResult<Outcome> {
        let pending = match run(py, request.is_large(), || {
            prepare(&self.inner, &request, now)
        }) {
            Phase::Done(outcome) => return Ok(outcome),
            Phase::Lookup(pending) => pending,
        };
        let fetched = crate::lookup::fetch(lookup, pending.key_id().as_str())?;
        Ok(fetched.finish(&self.inner, pending, now))
    }
}

#[pymethods]
impl PyChecker {
    /// A checker for `policy` with `peppers` (a snapshot of both is taken).
    /// `access_tokens`: an `AccessVerifier`, so that `check` also accepts OAuth access
    /// tokens (`Bearer at.…`) in the same path as API keys. `usage`: a `UsageRecorder`
    /// that records every decision made against a key's record. `limits`: a
    /// `LocalLimits` or a `FleetLimits` that counts the policy's rate limits
    /// (`[[limits]]`) and keys' credits; without it they are not applied.
    #[new]
    #[pyo3(signature = (policy, peppers, *, access_tokens=None, usage=None, limits=None))]
    fn new(
        py: Python<'_>,
        policy: &PyPolicy,
        peppers: &PyPeppers,
        access_tokens: Option<&PyAccessVerifier>,
        usage: Option<&PyUsageRecorder>,
        limits: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let parts = Parts {
            peppers: peppers.build(py)?,
            access_tokens: access_tokens.map(|v| v.inner.clone()),
            usage: usage.map(|r| r.inner.clone()),
            limits: limits.map(AnyLimits::extract).transpose()?,
        };
        assemble(py, policy.inner.clone(), parts)
    }

    /// A new checker with the same policy, peppers, usage recorder and limits that also
    /// accepts OAuth access tokens verified by `verifier` (this one is unchanged).
    fn with_access_tokens(&self, py: Python<'_>, verifier: &PyAccessVerifier) -> PyResult<Self> {
        let mut parts = self.parts();
        parts.access_tokens = Some(verifier.inner.clone());
        assemble(py, self.policy.clone(), parts)
    }

    /// A new checker with the same policy, peppers, access-token verifier and limits
    /// that also records its decisions in `recorder` (this one is unchanged).
    fn with_usage(&self, py: Python<'_>, recorder: &PyUsageRecorder) -> PyResult<Self> {
        let mut parts = self.parts();
        parts.usage = Some(recorder.inner.clone());
        assemble(py, self.policy.clone(), parts)
    }

    /// A new checker with the same policy, peppers, access-token verifier and usage
    /// recorder that counts the policy's rate limits in `limits` (this one is unchanged).
    fn with_limits(&self, py: Python<'_>, limits: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut parts = self.parts();
        parts.limits = Some(AnyLimits::extract(limits)?);
        assemble(py, self.policy.clone(), parts)
    }

    /// The attached limits, if any (the same table: they count on).
    #[getter]
    fn limits(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.limits.as_ref().map(|l| l.to_object(py)).transpose()
    }

    /// The attached usage recorder, if any.
    #[getter]
    fn usage(&self) -> Option<PyUsageRecorder> {
        self.inner
            .usage()
            .map(|r| PyUsageRecorder { inner: r.clone() })
    }

    /// The attached access-token verifier, if any.
    #[getter]
    fn access_tokens(&self, py: Python<'_>) -> PyResult<Option<Py<PyAccessVerifier>>> {
        self.inner
            .access_tokens()
            .map(|v| {
                Py::new(
                    py,
                    PyAccessVerifier {
                        inner: v.clone(),
                        policy: self.policy.clone(),
                    },
                )
            })
            .transpose()
    }

    /// The policy.
    #[getter]
    fn policy(&self) -> PyPolicy {
        PyPolicy {
            inner: self.policy.clone(),
        }
    }

    /// Decides a request. `lookup` is a `MemoryStore`, a database `Store` (the GIL is
    /// released: a cache miss reads the database) or a callable `key_id -> record |
    /// None` (a `KeyRecord`, its dict or JSON); raise `KeyLookupError` from it when the
    /// database fails (the decision is then a 503 with your message as `lookup_error`).
    /// Any other `Exception` from the lookup is a 503 too, and a return value that makes
    /// no record a 401 `corrupt_record`; both are logged to the `portcullis.lookup`
    /// logger. A `KeyboardInterrupt` or `SystemExit` propagates. `now`: int seconds,
    /// aware datetime, or `None` for the current time. `https` defaults to `False`: pass
    /// what your TLS terminator reports. `client`: the client's address (`str` or an
    /// `ipaddress` address), for the usage recorder; a string that is no address raises
    /// `ValueError`.
    #[pyo3(signature = (method, path, *, lookup, authorization=None, query=None, https=false, now=None, client=None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        lookup: &Bound<'_, PyAny>,
        authorization: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        https: bool,
        now: Option<&Bound<'_, PyAny>>,
        client: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        let request = OwnedRequest::new(method, path, authorization, query, https, client)?;
        let now = input::timestamp(now, "now")?;
        if let Ok(store) = lookup.cast::<PyMemoryStore>() {
            // Borrowed, not cloned: an `Arc` clone per call is an atomic write to a
            // counter every thread shares, which serialises concurrent checks.
            let store: &portcullis::MemoryStore = &store.get().inner;
            let outcome = run(py, request.is_large(), || {
                self.inner.check(&request.view(), store, now).into_outcome()
            });
            return Ok(self.decision(outcome));
        }
        if let Ok(store) = lookup.cast::<PyStore>() {
            // Detached: a miss, or a stale feed, reads the database.
            let store: &portcullis_store::Store = &store.get().inner;
            let outcome =
                py.detach(|| self.inner.check(&request.view(), store, now).into_outcome());
            return Ok(self.decision(outcome));
        }
        if !lookup.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "lookup must be a MemoryStore, a Store or a callable, not {}",
                input::type_name(lookup)
            )));
        }
        self.check_callable(py, request, lookup, now)
            .map(|o| self.decision(o))
    }

    /// `check` for asyncio: returns a coroutine that gives the same `Decision` `check`
    /// gives for the same arguments. `lookup` may also be an async callable (`async def
    /// lookup(key_id)`, or any callable that returns an awaitable): it is awaited, so the
    /// event loop runs other requests while your database answers. What it raises or
    /// returns is sorted as in `check` (an exception is a 503 `lookup_failed`, a value that
    /// makes no record a 401 `corrupt_record`); a `CancelledError`, `KeyboardInterrupt` or
    /// `SystemExit` propagates. Built on `prepare`/`finish`: the request is read and `now`
    /// fixed when this is called (bad arguments raise here, not when awaited); a
    /// `MemoryStore` is decided at once; a database `Store` in a worker thread
    /// (`asyncio.to_thread`), since a cache miss reads the database.
    #[pyo3(signature = (method, path, *, lookup, authorization=None, query=None, https=false, now=None, client=None))]
    #[allow(clippy::too_many_arguments)]
    fn check_async<'py>(
        slf: &Bound<'py, Self>,
        method: &str,
        path: &str,
        lookup: &Bound<'py, PyAny>,
        authorization: Option<&Bound<'py, PyAny>>,
        query: Option<&Bound<'py, PyAny>>,
        https: bool,
        now: Option<&Bound<'py, PyAny>>,
        client: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let request = OwnedRequest::new(method, path, authorization, query, https, client)?;
        let now = input::timestamp(now, "now")?;
        let aio = py.import("portcullis._aio")?;
        if let Ok(store) = lookup.cast::<PyMemoryStore>() {
            let store: &portcullis::MemoryStore = &store.get().inner;
            let outcome = run(py, request.is_large(), || {
                this.inner.check(&request.view(), store, now).into_outcome()
            });
            return aio.call_method1("ready", (this.decision(outcome),));
        }
        if lookup.is_instance_of::<PyStore>() {
            return aio.call_method1(
                "in_thread",
                (
                    slf,
                    method,
                    path,
                    lookup,
                    authorization,
                    query,
                    https,
                    now.secs(),
                    request.client.map(|a| a.to_string()),
                ),
            );
        }
        if !lookup.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "lookup must be a MemoryStore, a Store or a callable, not {}",
                input::type_name(lookup)
            )));
        }
        match run(py, request.is_large(), || {
            prepare(&this.inner, &request, now)
        }) {
            Phase::Done(outcome) => aio.call_method1("ready", (this.decision(outcome),)),
            Phase::Lookup(pending) => {
                let pending = PyPending {
                    key_id: pending.key_id().to_string(),
                    checker: this.inner.clone(),
                    inner: Mutex::new(Some(pending)),
                };
                aio.call_method1("fetch", (slf, pending, lookup, now.secs()))
            }
        }
    }

    /// `check_async`'s phase two when the lookup returned (or its awaitable gave) `found`:
    /// sorted as `check` sorts a lookup's return value.
    fn _finish_returned(
        &self,
        py: Python<'_>,
        pending: &PyPending,
        found: &Bound<'_, PyAny>,
        now: u64,
    ) -> PyResult<PyDecision> {
        let fetched = crate::lookup::returned(found, &pending.key_id)?;
        let pending = self.take(py, pending)?;
        Ok(self.decision(fetched.finish(&self.inner, pending, Timestamp(now))))
    }

    /// `check_async`'s phase two when the lookup raised `error`: sorted as `check` sorts
    /// a lookup's exception (a `BaseException` that is not an `Exception` is raised again).
    fn _finish_raised(
        &self,
        py: Python<'_>,
        pending: &PyPending,
        error: &Bound<'_, PyBaseException>,
        now: u64,
    ) -> PyResult<PyDecision> {
        let fetched = crate::lookup::raised(
            py,
            PyErr::from_value(error.clone().into_any()),
            &pending.key_id,
        )?;
        let pending = self.take(py, pending)?;
        Ok(self.decision(fetched.finish(&self.inner, pending, Timestamp(now))))
    }

    /// Decides many requests at once: a list of `Decision`, in request order, equal to
    /// calling `check` on each. `requests`: an iterable of `Request` objects or tuples
    /// `(method, path[, authorization[, query[, https]]])` (the parts `check` takes;
    /// `https` defaults to `False`; named tuples too). `lookup` and `now` (one time for the
    /// whole batch) as in `check`. Batches of a few hundred requests amortise the GIL
    /// handoffs; a batch is not interruptible (Ctrl-C waits for it).
    ///
    /// The GIL is released once for the whole batch with a `MemoryStore` (so threads
    /// deciding batches run in parallel), and twice with a lookup callable: once to
    /// prepare every request, then the lookups run with the GIL, in order, then once to
    /// verify every request. A bad element raises `TypeError`/`ValueError` naming its
    /// index before anything is decided; denials are decisions, never exceptions, and so
    /// is what a lookup callable raises or returns, as in `check` (a `KeyboardInterrupt`
    /// or `SystemExit` from it stops the batch, with a note naming the element).
    #[pyo3(signature = (requests, *, lookup, now=None))]
    fn check_many<'py>(
        &self,
        py: Python<'py>,
        requests: &Bound<'py, PyAny>,
        lookup: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = input::timestamp(now, "now")?;
        let outcomes = if let Ok(store) = lookup.cast::<PyMemoryStore>() {
            crate::batch::check_store(py, &self.inner, requests, &*store.get().inner, now)?
        } else if let Ok(store) = lookup.cast::<PyStore>() {
            crate::batch::check_store(py, &self.inner, requests, &*store.get().inner, now)?
        } else if lookup.is_callable() {
            crate::batch::check_callable(py, &self.inner, requests, lookup, now)?
        } else {
            return Err(PyTypeError::new_err(format!(
                "lookup must be a MemoryStore, a Store or a callable, not {}",
                input::type_name(lookup)
            )));
        };
        let batch = Arc::new(BatchChecker(self.inner.clone()));
        let decision = |o| PyDecision::new(o, CheckerRef::Batch(batch.clone()));
        PyList::new(py, outcomes.into_iter().map(decision))
    }

    /// Phase one of a two-phase check: a `Decision` when no record is needed (access
    /// tokens are decided here, at `now`: default the current time), else a `Pending`
    /// whose `key_id` you fetch before calling `finish`.
    #[pyo3(signature = (method, path, *, authorization=None, query=None, https=false, now=None, client=None))]
    #[allow(clippy::too_many_arguments)]
    fn prepare(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        authorization: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        https: bool,
        now: Option<&Bound<'_, PyAny>>,
        client: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let request = OwnedRequest::new(method, path, authorization, query, https, client)?;
        let now = input::timestamp(now, "now")?;
        match run(py, request.is_large(), || {
            prepare(&self.inner, &request, now)
        }) {
            Phase::Done(outcome) => Ok(Py::new(py, self.decision(outcome))?.into_any()),
            Phase::Lookup(pending) => {
                let pending = PyPending {
                    key_id: pending.key_id().to_string(),
                    checker: self.inner.clone(),
                    inner: Mutex::new(Some(pending)),
                };
                Ok(Py::new(py, pending)?.into_any())
            }
        }
    }

    /// Phase two: the decision, given the fetched record (`None` if unknown).
    #[pyo3(signature = (pending, record, now=None))]
    fn finish(
        &self,
        py: Python<'_>,
        pending: &PyPending,
        record: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        let record = match record {
            Some(r) if !r.is_none() => Some(record_of(r)?),
            _ => None,
        };
        let now = input::timestamp(now, "now")?;
        let pending = self.take(py, pending)?;
        let outcome = self.inner.finish(pending, record, now).into_outcome();
        Ok(self.decision(outcome))
    }

    /// Phase two when your lookup failed: a 503 decision (fail closed).
    fn finish_failed(
        &self,
        py: Python<'_>,
        pending: &PyPending,
        message: &str,
    ) -> PyResult<PyDecision> {
        let pending = self.take(py, pending)?;
        let outcome = self
            .inner
            .finish_failed(pending, LookupError::new(message))
            .into_outcome();
        Ok(self.decision(outcome))
    }

    /// Verifies a presented key against a record: deployment environment (a key of another
    /// environment is `wrong_environment`, as in `check`), secret and lifecycle; no route
    /// rules.
    #[pyo3(signature = (key, record, now=None))]
    fn verify(
        &self,
        key: &Bound<'_, PyAny>,
        record: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyVerification> {
        let key = zeroizing(input::bytes_of(key, "key")?);
        let record = record_of(record)?;
        let now = input::timestamp(now, "now")?;
        let v = self.inner.verify(key.expose(), &record, now);
        Ok(PyVerification::new(v, self.inner.clone()))
    }

    /// Parses a key with this policy's kinds and environments; raises `MalformedKeyError`.
    fn parse(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyParsedKey> {
        let key = zeroizing(input::bytes_of(key, "key")?);
        let parsed = self
            .inner
            .parse(key.expose())
            .map_err(|e| errors::malformed_key(py, e))?;
        Ok(PyParsedKey::from_core(&parsed))
    }

    /// The record hash string of a key under the primary pepper (for re-hashing a record
    /// that got a `needs_rehash` warning: `record.with_hash(checker.hash_key(key))`).
    fn hash_key(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<String> {
        let key = zeroizing(input::bytes_of(key, "key")?);
        self.inner
            .hash_key(key.expose())
            .map_err(|e| errors::malformed_key(py, e))
    }

    /// Issues a key: the policy's first kind for this deployment's environment unless
    /// `kind`/`env` say otherwise. `ttl`: seconds or timedelta, at least 1 second (`None`
    /// never expires; zero raises `IssueError` with code `bad_ttl`); `not_before`/`now`:
    /// int seconds or aware datetime.
    #[pyo3(signature = (name, owner, scopes, *, ttl=None, not_before=None, metadata=None, kind=None, env=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn issue(
        &self,
        py: Python<'_>,
        name: &str,
        owner: &str,
        scopes: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        not_before: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyDict>>,
        kind: Option<&str>,
        env: Option<&str>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyIssuedKey> {
        let mut spec = KeySpec::new(name, owner, input::strings(scopes, "scopes")?);
        spec.ttl = match ttl {
            Some(t) if !t.is_none() => Some(input::seconds(t, "ttl")?),
            _ => None,
        };
        spec.not_before = match not_before {
            Some(t) if !t.is_none() => Some(input::required_timestamp(t, "not_before")?),
            _ => None,
        };
        if let Some(m) = metadata {
            spec.metadata = crate::record::metadata_of(py, m)?;
        }
        let now = input::timestamp(now, "now")?;
        let policy = self.inner.policy();
        let kind = kind.map_or_else(
            || policy.format().kinds().first().cloned().unwrap_or_default(),
            str::to_owned,
        );
        let env = env.map_or_else(|| policy.deployment_env().to_owned(), str::to_owned);
        let checker = self.inner.clone();
        let issued = py
            .detach(move || {
                checker.issue_with(&kind, &env, &spec, now, &portcullis::OsRandom::new())
            })
            .map_err(|e| errors::issue(py, &e))?;
        Ok(PyIssuedKey::from_core(issued))
    }

    /// Issues the successor of `record` and sets `record` to expire after `grace`
    /// (seconds or timedelta). Store both records of the returned `Rotation`. The
    /// successor keeps the lifetime length, `not_before` and a revocation scheduled for
    /// the future; a scope, kind or environment the policy no longer accepts raises
    /// `IssueError` as `issue` does.
    #[pyo3(signature = (record, grace, now=None))]
    fn rotate(
        &self,
        py: Python<'_>,
        record: &Bound<'_, PyAny>,
        grace: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRotation> {
        let record = record_of(record)?;
        let grace = input::seconds(grace, "grace")?;
        let now = input::timestamp(now, "now")?;
        let checker = self.inner.clone();
        let rotation = py
            .detach(move || checker.rotate(&record, grace, now))
            .map_err(|e| errors::issue(py, &e))?;
        PyRotation::from_core(py, rotation)
    }

    fn __repr__(&self) -> String {
        format!(
            "Checker(realm={}, peppers={}, access_tokens={})",
            crate::py_str(self.inner.policy().realm()),
            crate::py_list(&self.inner.peppers().ids().collect::<Vec<_>>()),
            if self.inner.access_tokens().is_some() {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// What a checker is made of besides its policy.
struct Parts {
    peppers: portcullis::Peppers,
    access_tokens: Option<Arc<portcullis::oauth::AccessVerifier>>,
    usage: Option<Arc<portcullis::usage::UsageRecorder>>,
    limits: Option<AnyLimits>,
}

/// The checker of `policy` with `parts`; one place, so that every `with_*` keeps the
/// others' parts.
fn assemble(py: Python<'_>, policy: Arc<portcullis::Policy>, parts: Parts) -> PyResult<PyChecker> {
    let mut checker = Checker::new(portcullis::Policy::clone(&policy), parts.peppers);
    if let Some(v) = parts.access_tokens {
        checker = checker
            .with_access_tokens(v)
            .map_err(|e| crate::oauth_server::catalog_mismatch(py, e))?;
    }
    if let Some(r) = parts.usage {
        checker = checker.with_usage(r);
    }
    if let Some(l) = &parts.limits {
        checker = checker.with_limits(l.shared());
    }
    Ok(PyChecker {
        inner: Arc::new(SharedChecker(checker)),
        policy,
        limits: parts.limits,
    })
}

impl PyChecker {
    /// This checker's parts, to build another.
    fn parts(&self) -> Parts {
        Parts {
            peppers: self.inner.peppers().clone(),
            access_tokens: self.inner.access_tokens().cloned(),
            usage: self.inner.usage().cloned(),
            limits: self.limits.clone(),
        }
    }

    /// Takes the core pending out of its Python wrapper (once, same checker only): a
    /// clone, with the original dropped where it lies, which wipes its copy of the key
    /// (moving it out would leave the key in the object's memory for Python to free).
    fn take(&self, py: Python<'_>, pending: &PyPending) -> PyResult<Pending> {
        if !Arc::ptr_eq(&pending.checker, &self.inner) {
            return Err(errors::configuration(
                py,
                "finish a Pending with the Checker that prepared it",
                "foreign_pending",
            ));
        }
        let mut slot = pending
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let taken = slot.clone().ok_or_else(|| {
            errors::configuration(py, "this Pending was already finished", "pending_used")
        })?;
        *slot = None;
        Ok(taken)
    }
}

/// Key bytes copied from Python are a secret: wipe them when done.
fn zeroizing(bytes: Vec<u8>) -> SecretBytes {
    SecretBytes::new(bytes)
}

#[pymethods]
impl PyPending {
    /// The key id to fetch from your database.
    #[getter]
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn __repr__(&self) -> String {
        format!("Pending(key_id={})", crate::py_str(&self.key_id))
    }
}
