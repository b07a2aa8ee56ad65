//! Rate limits: `Quota`, `RateLimiter` and its `Verdict`, and `LocalLimits` (what a
//! `Checker` counts the policy's `[[limits]]` in).
//!
//! Decisions made here:
//! - A setting the core refuses is a `ConfigurationError` with the core's code
//!   (`bad_rate`, `bad_window`, `bad_burst`, `bad_subjects`); an integer out of the
//!   setting's type (negative, too large) is that same error, since it is out of the
//!   core's range too. A non-integer (`bool` included) is a `TypeError`.
//! - `burst` defaults to `rate`, as a policy's `[[limits]]` does.
//! - Time is an argument (`now_us`, microseconds of a monotonic clock the host reads):
//!   `RateLimiter` is the core's, for hosts that limit something other than a checker's
//!   requests; `LocalLimits` reads the system's monotonic clock itself.
//! - `check` and `refund` keep the GIL: a few atomic operations, less than a handoff.
//! - A subject is `str` (its UTF-8 bytes) or bytes-like.

use crate::errors;
use crate::input;
use portcullis::limit::{LimitError, Limits, LocalLimits, Quota, RateLimiter, Verdict};
use portcullis_store::{Degrade, FleetConfig, FleetLimits};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};
use std::sync::Arc;

/// The `ConfigurationError` of a setting the core refuses.
fn limit_error(py: Python<'_>, e: LimitError) -> PyErr {
    errors::configuration(py, &e.to_string(), e.code())
}

/// An `int` setting that must fit `T`; out of it, the core's error `refused`.
fn setting<T: TryFrom<i128>>(
    py: Python<'_>,
    v: &Bound<'_, PyAny>,
    what: &str,
    refused: LimitError,
) -> PyResult<T> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int, not {}",
            input::type_name(v)
        )));
    }
    v.extract::<i128>()
        .ok()
        .and_then(|i| T::try_from(i).ok())
        .ok_or_else(|| limit_error(py, refused))
}

/// A count argument (`n`, `limit`): an int of 0 to 2**32-1.
fn count(v: &Bound<'_, PyAny>, what: &str) -> PyResult<u32> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int, not {}",
            input::type_name(v)
        )));
    }
    v.extract::<u32>().map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!("{what} must be 0 to 2**32-1"))
    })
}

/// A time argument in microseconds: an int of 0 to 2**64-1.
fn micros(v: &Bound<'_, PyAny>) -> PyResult<u64> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "now_us must be int, not {}",
            input::type_name(v)
        )));
    }
    v.extract::<u64>()
        .map_err(|_| pyo3::exceptions::PyValueError::new_err("now_us must be 0 to 2**64-1"))
}

/// A rate: `rate` requests per `window` seconds, at most `burst` at once. Immutable.
#[pyclass(frozen, eq, hash, module = "portcullis._portcullis", name = "Quota")]
#[derive(PartialEq, Eq, Hash)]
pub struct PyQuota {
    inner: Quota,
}

#[pymethods]
impl PyQuota {
    /// `rate` requests per `window` seconds (1 to 86,400), at most `burst` at once
    /// (default: `rate`).
    #[new]
    #[pyo3(signature = (rate, window, burst=None))]
    fn new(
        py: Python<'_>,
        rate: &Bound<'_, PyAny>,
        window: &Bound<'_, PyAny>,
        burst: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let rate: u32 = setting(py, rate, "rate", LimitError::Rate)?;
        let window: u32 = setting(py, window, "window", LimitError::Window)?;
        let burst: u32 = match burst.filter(|b| !b.is_none()) {
            Some(b) => setting(py, b, "burst", LimitError::Burst)?,
            None => rate,
        };
        let inner = Quota::new(rate, window, burst).map_err(|e| limit_error(py, e))?;
        Ok(PyQuota { inner })
    }

    /// Requests per window.
    #[getter]
    fn rate(&self) -> u32 {
        self.inner.rate()
    }
    /// The window, in seconds.
    #[getter]
    fn window(&self) -> u32 {
        self.inner.window()
    }
    /// Requests allowed at once.
    #[getter]
    fn burst(&self) -> u32 {
        self.inner.burst()
    }
    /// Microseconds between two requests at the steady rate.
    #[getter]
    fn interval_us(&self) -> u64 {
        self.inner.interval_us()
    }

    fn __repr__(&self) -> String {
        format!(
            "Quota(rate={}, window={}, burst={})",
            self.inner.rate(),
            self.inner.window(),
            self.inner.burst()
        )
    }
}

/// What a limiter said about one request.
#[pyclass(frozen, eq, module = "portcullis._portcullis", name = "Verdict")]
#[derive(PartialEq, Eq)]
pub struct PyVerdict {
    inner: Verdict,
}

#[pymethods]
impl PyVerdict {
    /// Whether the request may proceed (and was counted).
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.allowed
    }
    /// Requests that could still be made at once after this one.
    #[getter]
    fn remaining(&self) -> u32 {
        self.inner.remaining
    }
    /// Microseconds until the subject is back to its full burst.
    #[getter]
    fn reset_us(&self) -> u64 {
        self.inner.reset_us
    }
    /// On a refusal, microseconds until one request would be allowed (0 when allowed).
    #[getter]
    fn retry_after_us(&self) -> u64 {
        self.inner.retry_after_us
    }

    fn __bool__(&self) -> bool {
        self.inner.allowed
    }

    fn __repr__(&self) -> String {
        format!(
            "Verdict(allowed={}, remaining={}, reset_us={}, retry_after_us={})",
            if self.inner.allowed { "True" } else { "False" },
            self.inner.remaining,
            self.inner.reset_us,
            self.inner.retry_after_us
        )
    }
}

/// Subjects' limits in this process (GCRA, one word per subject, lock-free, its memory
/// allocated once); time is an argument. Thread-safe: share one instance.
#[pyclass(frozen, module = "portcullis._portcullis", name = "RateLimiter")]
pub struct PyRateLimiter {
    inner: RateLimiter,
}

/// The arguments `check` and `refund` share: the subject's bytes, the time, the limit's
/// number (default 0) and the count (default 1).
fn counted(
    subject: &Bound<'_, PyAny>,
    now_us: &Bound<'_, PyAny>,
    limit: Option<&Bound<'_, PyAny>>,
    n: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<u8>, u64, u32, u32)> {
    Ok((
        input::bytes_of(subject, "subject")?,
        micros(now_us)?,
        limit.map_or(Ok(0), |l| count(l, "limit"))?,
        n.map_or(Ok(1), |n| count(n, "n"))?,
    ))
}

#[pymethods]
impl PyRateLimiter {
    /// A limiter for up to `max_subjects` subjects at once (1 to 16,777,216; 8 bytes a
    /// slot, allocated now).
    #[new]
    fn new(py: Python<'_>, max_subjects: &Bound<'_, PyAny>) -> PyResult<Self> {
        let max: usize = setting(py, max_subjects, "max_subjects", LimitError::Subjects)?;
        // Up to 128 MiB zeroed: detached.
        let inner = py
            .detach(|| RateLimiter::new(max))
            .map_err(|e| limit_error(py, e))?;
        Ok(PyRateLimiter { inner })
    }

    /// Counts `n` requests of `subject` under `quota` at `now_us` if all are allowed
    /// (`n = 0` only reads). `limit` numbers the limit: the same subject under two
    /// limits is counted apart.
    #[pyo3(signature = (quota, subject, *, now_us, limit=None, n=None))]
    #[pyo3(text_signature = "(self, quota, subject, *, now_us, limit=0, n=1)")]
    fn check(
        &self,
        quota: &PyQuota,
        subject: &Bound<'_, PyAny>,
        now_us: &Bound<'_, PyAny>,
        limit: Option<&Bound<'_, PyAny>>,
        n: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyVerdict> {
        let (subject, now, limit, n) = counted(subject, now_us, limit, n)?;
        let inner = self.inner.check_n(&quota.inner, limit, &subject, n, now);
        Ok(PyVerdict { inner })
    }

    /// Gives back `n` requests counted for `subject` (one a later limit refused).
    #[pyo3(signature = (quota, subject, *, now_us, limit=None, n=None))]
    #[pyo3(text_signature = "(self, quota, subject, *, now_us, limit=0, n=1)")]
    fn refund(
        &self,
        quota: &PyQuota,
        subject: &Bound<'_, PyAny>,
        now_us: &Bound<'_, PyAny>,
        limit: Option<&Bound<'_, PyAny>>,
        n: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (subject, now, limit, n) = counted(subject, now_us, limit, n)?;
        self.inner.refund(&quota.inner, limit, &subject, n, now);
        Ok(())
    }

    /// Requests refused because no slot was free for a new subject.
    #[getter]
    fn saturated(&self) -> u64 {
        self.inner.saturated()
    }

    fn __repr__(&self) -> String {
        format!("RateLimiter(saturated={})", self.inner.saturated())
    }
}

/// Where a `Checker` counts the policy's rate limits in this process, on the system's
/// monotonic clock. Thread-safe; one instance may serve several checkers of one policy.
#[pyclass(frozen, module = "portcullis._portcullis", name = "LocalLimits")]
pub struct PyLocalLimits {
    pub(crate) inner: Arc<LocalLimits>,
}

#[pymethods]
impl PyLocalLimits {
    /// Limits for up to `max_subjects` keys and owners at once (1 to 16,777,216).
    #[new]
    fn new(py: Python<'_>, max_subjects: &Bound<'_, PyAny>) -> PyResult<Self> {
        let max: usize = setting(py, max_subjects, "max_subjects", LimitError::Subjects)?;
        let inner = py
            .detach(|| LocalLimits::new(max))
            .map_err(|e| limit_error(py, e))?;
        Ok(PyLocalLimits {
            inner: Arc::new(inner),
        })
    }

    /// Requests refused because no slot was free for a new subject.
    #[getter]
    fn saturated(&self) -> u64 {
        self.inner.limiter().saturated()
    }

    fn __repr__(&self) -> String {
        format!("LocalLimits(saturated={})", self.saturated())
    }
}

/// Where a `Checker` counts the policy's rate limits across a fleet: leases from Redis
/// (`redis://127.0.0.1:PORT`, this machine only, or `redis+unix://PATH`). Each process
/// spends small batches of tokens it took atomically; when Redis is unreachable or slower
/// than `budget` it spends what it holds, then answers 503 `limiter_unavailable` — never
/// an unlimited allow — unless `degrade_processes` is set (each process then counts its
/// share of the limit alone). Thread-safe; reconnects by itself.
#[pyclass(frozen, module = "portcullis._portcullis", name = "FleetLimits")]
pub struct PyFleetLimits {
    pub(crate) inner: Arc<FleetLimits>,
}

#[pymethods]
impl PyFleetLimits {
    /// Connects to Redis at `url`. `lease`: tokens per Redis call (default 10);
    /// `budget`: seconds a Redis call may take (default 0.005); `max_subjects`: leases
    /// held at once (default 10,000); `degrade_processes`: while Redis is down, count
    /// `limit / degrade_processes` here instead of answering 503.
    #[new]
    #[pyo3(signature = (url, *, lease=None, budget=None, max_subjects=None, degrade_processes=None))]
    fn new(
        py: Python<'_>,
        url: &str,
        lease: Option<u32>,
        budget: Option<f64>,
        max_subjects: Option<usize>,
        degrade_processes: Option<u32>,
    ) -> PyResult<Self> {
        let mut config = FleetConfig::default();
        if let Some(lease) = lease {
            config.lease = lease;
        }
        if let Some(budget) = budget {
            if !(budget.is_finite() && budget > 0.0 && budget <= 60.0) {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "budget must be a number of seconds above 0 and at most 60",
                ));
            }
            config.budget = std::time::Duration::from_secs_f64(budget);
        }
        if let Some(max) = max_subjects {
            config.max_subjects = max;
        }
        if let Some(processes) = degrade_processes {
            config.degrade = Degrade::Local { processes };
        }
        let inner = py
            .detach(|| FleetLimits::open(url, config))
            .map_err(|e| crate::database::database_error(py, &e))?;
        Ok(PyFleetLimits {
            inner: Arc::new(inner),
        })
    }

    /// Whether Redis answered the last call.
    #[getter]
    fn is_up(&self) -> bool {
        self.inner.is_up()
    }

    /// Redis calls made so far.
    #[getter]
    fn round_trips(&self) -> u64 {
        self.inner.stats().round_trips
    }

    fn __repr__(&self) -> String {
        format!(
            "FleetLimits(is_up={}, round_trips={})",
            if self.is_up() { "True" } else { "False" },
            self.round_trips()
        )
    }
}

/// The limits a checker counts in: this process's or the fleet's.
#[derive(Clone)]
pub(crate) enum AnyLimits {
    Local(Arc<LocalLimits>),
    Fleet(Arc<FleetLimits>),
}

impl AnyLimits {
    /// A `LocalLimits` or a `FleetLimits`.
    pub(crate) fn extract(limits: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(local) = limits.cast::<PyLocalLimits>() {
            return Ok(AnyLimits::Local(local.get().inner.clone()));
        }
        if let Ok(fleet) = limits.cast::<PyFleetLimits>() {
            return Ok(AnyLimits::Fleet(fleet.get().inner.clone()));
        }
        Err(pyo3::exceptions::PyTypeError::new_err(
            "limits must be a LocalLimits or a FleetLimits",
        ))
    }

    /// What the core checker holds.
    pub(crate) fn shared(&self) -> Arc<dyn Limits> {
        match self {
            AnyLimits::Local(l) => l.clone(),
            AnyLimits::Fleet(f) => f.clone(),
        }
    }

    /// The Python object for these limits (the same table: it counts on).
    pub(crate) fn to_object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            AnyLimits::Local(l) => Py::new(py, PyLocalLimits { inner: l.clone() })?.into_any(),
            AnyLimits::Fleet(f) => Py::new(py, PyFleetLimits { inner: f.clone() })?.into_any(),
        })
    }
}
