//! `UsageRecorder` and what its drain gives (`UsageBatch`, `KeyUsage`, `HourCounts`,
//! `Signal`, `UsageStats`), and the client address a request may carry.
//!
//! Decisions made here:
//! - Every setting defaults to the core's (`UsageConfig::default()`): `None` means "the
//!   core's default", so no default is spelled twice. A setting the core refuses is a
//!   `ConfigurationError` with the core's code; an integer out of the setting's type is
//!   that same error (it is out of the core's range too).
//! - `record` takes a decision's reason code: one the core records nothing for
//!   (`unknown_key`, …) records nothing; a string that is no reason code at all is a
//!   `ValueError` (a typo must not silently count nothing).
//! - A drain runs detached (it walks the whole table and allocates the batch); `record`
//!   stays attached (a few atomic operations, less than a GIL handoff).
//! - The batch keeps the core's values and converts them when read; `to_json()` is the
//!   core's `UsageBatch::to_json`, so stored batches and the vectors are one format.
//! - A client address is `str` or an `ipaddress.IPv4Address`/`IPv6Address`; anything
//!   else that is not `None` is refused, never ignored.

use crate::errors;
use crate::input;
use crate::time::to_datetime;
use portcullis::Timestamp;
use portcullis::usage::{
    Denial, HourCounts, KeyUsage, Network, Signal, SignalKind, UsageBatch, UsageConfig,
    UsageConfigError, UsageRecorder, UsageStats, Use,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString, PyType};
use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Counts uses per key (first and last use, counts per hour, client networks) and raises
/// unusual-activity signals; thread-safe and lock-free when recording. Attach it to a
/// `Checker` (`usage=`) and drain it every few seconds.
#[pyclass(frozen, module = "portcullis._portcullis", name = "UsageRecorder")]
pub struct PyUsageRecorder {
    pub(crate) inner: Arc<UsageRecorder>,
}

/// The `ConfigurationError` of a setting the core refuses.
fn config_error(py: Python<'_>, e: UsageConfigError) -> PyErr {
    errors::configuration(py, &e.to_string(), e.code())
}

/// An `int` setting (not `bool`, not `float`), or `None` when it does not fit an `i128`.
fn int_setting(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<i128>> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int, not {}",
            input::type_name(v)
        )));
    }
    Ok(v.extract::<i128>().ok())
}

/// A count setting the core range-checks: out of its type, it is the core's error.
fn ranged<T: TryFrom<i128> + Default>(
    py: Python<'_>,
    v: &Bound<'_, PyAny>,
    what: &str,
    refused: UsageConfigError,
) -> PyResult<T> {
    int_setting(v, what)?
        .and_then(|i| T::try_from(i).ok())
        .ok_or_else(|| config_error(py, refused))
}

/// The settings given, over the core's defaults.
#[allow(clippy::too_many_arguments)]
fn config_of<'py>(
    py: Python<'py>,
    max_keys: Option<&Bound<'py, PyAny>>,
    learning: Option<&Bound<'py, PyAny>>,
    dormancy: Option<&Bound<'py, PyAny>>,
    burst_threshold: Option<&Bound<'py, PyAny>>,
    burst_window: Option<&Bound<'py, PyAny>>,
    volume_factor: Option<&Bound<'py, PyAny>>,
    volume_min_count: Option<&Bound<'py, PyAny>>,
    baseline_hours: Option<&Bound<'py, PyAny>>,
) -> PyResult<UsageConfig> {
    let mut c = UsageConfig::default();
    if let Some(v) = given(max_keys) {
        c.max_keys = ranged(py, v, "max_keys", UsageConfigError::MaxKeys)?;
    }
    if let Some(v) = given(learning) {
        c.learning = input::seconds(v, "learning")?;
    }
    if let Some(v) = given(dormancy) {
        c.dormancy = input::seconds(v, "dormancy")?;
    }
    if let Some(v) = given(burst_threshold) {
        let i = int_setting(v, "burst_threshold")?;
        if i.is_some_and(|i| i > i128::from(u32::MAX)) || i.is_none() {
            let e = UsageConfigError::BurstThreshold;
            return Err(errors::configuration(
                py,
                "burst_threshold must be 1 to 4,294,967,295",
                e.code(),
            ));
        }
        // Negative: 0, which the core refuses with its own message.
        c.burst_threshold = i.and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
    }
    if let Some(v) = given(burst_window) {
        c.burst_window = input::seconds(v, "burst_window")?;
    }
    if let Some(v) = given(volume_factor) {
        if v.is_instance_of::<PyBool>()
            || !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
        {
            return Err(PyTypeError::new_err(format!(
                "volume_factor must be float or int, not {}",
                input::type_name(v)
            )));
        }
        // An int too large for a float is infinite: the core refuses it.
        c.volume_factor = v.extract::<f64>().unwrap_or(f64::INFINITY);
    }
    if let Some(v) = given(volume_min_count) {
        c.volume_min_count = int_setting(v, "volume_min_count")?
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| {
                PyValueError::new_err("volume_min_count must be between 0 and 2**64-1")
            })?;
    }
    if let Some(v) = given(baseline_hours) {
        c.baseline_hours = ranged(py, v, "baseline_hours", UsageConfigError::BaselineHours)?;
    }
    c.validate().map_err(|e| config_error(py, e))?;
    Ok(c)
}

/// A setting that was given (`None` is "the core's default").
fn given<'a, 'py>(v: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    v.filter(|v| !v.is_none())
}

/// A key id argument.
fn key_id_of(py: Python<'_>, key_id: &str) -> PyResult<portcullis::KeyId> {
    input::key_id(py, key_id)
}

/// Optional time argument (`None` stays `None`).
fn opt_time(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Timestamp>> {
    match v {
        Some(v) if !v.is_none() => input::required_timestamp(v, what).map(Some),
        _ => Ok(None),
    }
}

/// A network argument: `"203.0.113.0/24"` or an `ipaddress.IPv4Network`/`IPv6Network`
/// of prefix length 24 (IPv4) or 48 (IPv6).
fn network_of(v: &Bound<'_, PyAny>) -> PyResult<Network> {
    let py = v.py();
    let text = if v.is_instance_of::<PyString>() {
        v.extract::<String>()?
    } else if v.is_instance(IPV4_NETWORK.import(py, "ipaddress", "IPv4Network")?)?
        || v.is_instance(IPV6_NETWORK.import(py, "ipaddress", "IPv6Network")?)?
    {
        v.str()?.to_str()?.to_owned()
    } else {
        return Err(PyTypeError::new_err(format!(
            "networks must hold str or ipaddress networks, not {}",
            input::type_name(v)
        )));
    };
    Network::parse(&text).ok_or_else(|| {
        PyValueError::new_err(format!(
            "{} is not an IPv4 /24 or IPv6 /48 network",
            crate::py_str(&text)
        ))
    })
}

#[pymethods]
impl PyUsageRecorder {
    /// A recorder with its table allocated for `max_keys` keys. Every setting left out
    /// (or `None`) is the core's default: `max_keys` 10,000 (at most 1,048,576),
    /// `learning` 7 days, `dormancy` 30 days, `burst_threshold` 10 wrong secrets within
    /// `burst_window` 600 s, `volume_factor` 10 times the trailing baseline of
    /// `baseline_hours` 24 hours and at least `volume_min_count` 1,000 uses. Durations
    /// are int seconds or `timedelta`.
    #[new]
    #[pyo3(signature = (*, max_keys=None, learning=None, dormancy=None, burst_threshold=None, burst_window=None, volume_factor=None, volume_min_count=None, baseline_hours=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        max_keys: Option<&Bound<'_, PyAny>>,
        learning: Option<&Bound<'_, PyAny>>,
        dormancy: Option<&Bound<'_, PyAny>>,
        burst_threshold: Option<&Bound<'_, PyAny>>,
        burst_window: Option<&Bound<'_, PyAny>>,
        volume_factor: Option<&Bound<'_, PyAny>>,
        volume_min_count: Option<&Bound<'_, PyAny>>,
        baseline_hours: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let config = config_of(
            py,
            max_keys,
            learning,
            dormancy,
            burst_threshold,
            burst_window,
            volume_factor,
            volume_min_count,
            baseline_hours,
        )?;
        // The table is allocated here: up to a few hundred megabytes, so detached.
        let recorder = py
            .detach(|| UsageRecorder::new(config))
            .map_err(|e| config_error(py, e))?;
        Ok(PyUsageRecorder {
            inner: Arc::new(recorder),
        })
    }

    /// Records one use of `key_id` at `at`: `use` is a decision's reason (`allowed`,
    /// `wrong_secret`, …; one the recorder does not count, such as `unknown_key`,
    /// records nothing), `client` the client's address, `warnings` the decision's
    /// warnings (`rotation_due` raises a signal). Returns the warnings the use raised
    /// (`new_network`, `after_dormancy`). A checker with this recorder records its
    /// decisions itself: call this for decisions made otherwise (`Checker.verify`).
    #[pyo3(signature = (key_id, r#use, *, at, client=None, warnings=None))]
    #[pyo3(text_signature = "(self, key_id, use, *, at, client=None, warnings=())")]
    fn record(
        &self,
        py: Python<'_>,
        key_id: &str,
        r#use: &str,
        at: &Bound<'_, PyAny>,
        client: Option<&Bound<'_, PyAny>>,
        warnings: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<&'static str>> {
        let id = key_id_of(py, key_id)?;
        let at = input::required_timestamp(at, "at")?;
        let client = client_of(client, &"client")?;
        let mut given = portcullis::Warnings::default();
        if let Some(w) = warnings.filter(|w| !w.is_none()) {
            for code in input::strings(w, "warnings")? {
                let warning = crate::codes::warning_of(&code).ok_or_else(|| {
                    PyValueError::new_err(format!("{} is not a warning code", crate::py_str(&code)))
                })?;
                given.insert(warning);
            }
        }
        let Some(used) = Use::from_code(r#use) else {
            if crate::codes::is_reason(r#use) {
                return Ok(Vec::new());
            }
            return Err(PyValueError::new_err(format!(
                "use must be a decision reason code (allowed, wrong_secret, …), not {}",
                crate::py_str(r#use)
            )));
        };
        let raised = self.inner.record(&id, used, given, client, at);
        Ok(raised.iter().map(|w| w.code()).collect())
    }

    /// Takes every count and signal recorded since the previous drain (the GIL is
    /// released meanwhile; one drain runs at a time, recording goes on). `now` (default
    /// the current time) stamps volume alarms and orders evictions.
    #[pyo3(signature = (now=None))]
    fn drain(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<PyUsageBatch> {
        let now = input::timestamp(now, "now")?;
        let recorder = self.inner.clone();
        let batch = py.detach(move || recorder.drain(now));
        Ok(PyUsageBatch {
            inner: Arc::new(batch),
        })
    }

    /// Gives a key back what a previous recorder knew of it (from your store): first
    /// and last use and networks (`"203.0.113.0/24"`, `"2001:db8:1::/48"`, or
    /// `ipaddress` networks of those lengths; at most 8 are kept), so that learning,
    /// dormancy and new networks carry across a restart. `False` when the table has no
    /// room for the key.
    #[pyo3(signature = (key_id, *, first_used=None, last_used=None, networks=None))]
    #[pyo3(text_signature = "(self, key_id, *, first_used=None, last_used=None, networks=())")]
    fn restore(
        &self,
        py: Python<'_>,
        key_id: &str,
        first_used: Option<&Bound<'_, PyAny>>,
        last_used: Option<&Bound<'_, PyAny>>,
        networks: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let id = key_id_of(py, key_id)?;
        let first = opt_time(first_used, "first_used")?;
        let last = opt_time(last_used, "last_used")?;
        let mut nets = Vec::new();
        if let Some(n) = networks.filter(|n| !n.is_none()) {
            if n.is_instance_of::<PyString>() || n.is_instance_of::<PyBytes>() {
                return Err(PyTypeError::new_err(
                    "networks must be a list of networks, not a single str",
                ));
            }
            for item in n.try_iter()? {
                nets.push(network_of(&item?)?);
            }
        }
        Ok(self.inner.restore(&id, first, last, &nets))
    }

    /// Counters about the recorder itself.
    fn stats(&self) -> PyUsageStats {
        PyUsageStats {
            inner: self.inner.stats(),
        }
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "UsageRecorder(max_keys={}, learning={}, dormancy={}, burst_threshold={}, burst_window={}, volume_factor={:?}, volume_min_count={}, baseline_hours={})",
            c.max_keys,
            c.learning,
            c.dormancy,
            c.burst_threshold,
            c.burst_window,
            c.volume_factor,
            c.volume_min_count,
            c.baseline_hours
        )
    }
}

/// Counters about a recorder (`UsageRecorder.stats()`).
#[pyclass(frozen, module = "portcullis._portcullis", name = "UsageStats")]
pub struct PyUsageStats {
    inner: UsageStats,
}

#[pymethods]
impl PyUsageStats {
    /// Keys tracked now.
    #[getter]
    fn keys(&self) -> usize {
        self.inner.keys
    }
    /// The most keys the recorder tracks (`max_keys`).
    #[getter]
    fn max_keys(&self) -> usize {
        self.inner.max_keys
    }
    /// Uses not recorded since the recorder was made (a new key and no room).
    #[getter]
    fn dropped(&self) -> u64 {
        self.inner.dropped
    }
    /// Keys evicted since the recorder was made.
    #[getter]
    fn evicted(&self) -> u64 {
        self.inner.evicted
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "UsageStats(keys={}, max_keys={}, dropped={}, evicted={})",
            s.keys, s.max_keys, s.dropped, s.evicted
        )
    }
}

/// What one `UsageRecorder.drain` took out: keys with counts, signals, dropped uses.
#[pyclass(frozen, module = "portcullis._portcullis", name = "UsageBatch")]
pub struct PyUsageBatch {
    pub(crate) inner: Arc<UsageBatch>,
}

#[pymethods]
impl PyUsageBatch {
    /// Keys with counts since the previous drain, by id.
    #[getter]
    fn keys(&self) -> Vec<PyKeyUsage> {
        self.inner
            .keys
            .iter()
            .map(|k| PyKeyUsage { inner: k.clone() })
            .collect()
    }
    /// Signals raised since the previous drain, by time, then key, then kind.
    #[getter]
    fn signals(&self) -> Vec<PySignal> {
        self.inner
            .signals
            .iter()
            .map(|s| PySignal { inner: *s })
            .collect()
    }
    /// Uses not recorded since the previous drain (a new key and no room).
    #[getter]
    fn dropped(&self) -> u64 {
        self.inner.dropped
    }
    /// The batch as a dict of plain values (times as int seconds, zero denial counts
    /// left out): the form the conformance vectors, the C binding and the store use.
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = self.inner.to_json().to_string();
        py.import("json")?.call_method1("loads", (text,))
    }

    fn __repr__(&self) -> String {
        format!(
            "UsageBatch(keys={}, signals={}, dropped={})",
            self.inner.keys.len(),
            self.inner.signals.len(),
            self.inner.dropped
        )
    }
}

/// One key's usage since the previous drain.
#[pyclass(frozen, module = "portcullis._portcullis", name = "KeyUsage")]
pub struct PyKeyUsage {
    inner: KeyUsage,
}

#[pymethods]
impl PyKeyUsage {
    /// The key id.
    #[getter]
    fn key_id(&self) -> String {
        self.inner.key_id.to_string()
    }
    /// Its first authenticated use this recorder knows of (`None`: never, e.g. only
    /// wrong secrets).
    #[getter]
    fn first_used(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.inner
            .first_used
            .map(|t| to_datetime(py, t))
            .transpose()
    }
    /// Its last authenticated use.
    #[getter]
    fn last_used(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.inner.last_used.map(|t| to_datetime(py, t)).transpose()
    }
    /// Counts per hour since the previous drain, oldest first.
    #[getter]
    fn hours(&self) -> Vec<PyHourCounts> {
        self.inner
            .hours
            .iter()
            .map(|h| PyHourCounts { inner: *h })
            .collect()
    }
    /// The client networks it has been used from (`"203.0.113.0/24"`,
    /// `"2001:db8:1::/48"`; at most 8).
    #[getter]
    fn networks(&self) -> Vec<String> {
        self.inner.networks.iter().map(|n| n.to_string()).collect()
    }

    fn __repr__(&self) -> String {
        let total: u64 = self.inner.hours.iter().map(HourCounts::total).sum();
        format!(
            "KeyUsage(key_id={}, hours={}, total={})",
            crate::py_str(self.inner.key_id.as_str()),
            self.inner.hours.len(),
            total
        )
    }
}

/// One key's uses in one hour.
#[pyclass(frozen, module = "portcullis._portcullis", name = "HourCounts")]
pub struct PyHourCounts {
    pub(crate) inner: HourCounts,
}

#[pymethods]
impl PyHourCounts {
    /// The hour's first second.
    #[getter]
    fn hour(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_datetime(py, self.inner.hour)
    }
    /// Allowed uses.
    #[getter]
    fn allowed(&self) -> u64 {
        self.inner.allowed
    }
    /// Denied uses by reason (`wrong_secret`, `revoked`, …, `other`); reasons with no
    /// use are left out.
    #[getter]
    fn denied<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for denial in Denial::ALL {
            let n = self.inner.denied(denial);
            if n > 0 {
                d.set_item(denial.code(), n)?;
            }
        }
        Ok(d)
    }
    /// Every use, allowed or denied.
    #[getter]
    fn total(&self) -> u64 {
        self.inner.total()
    }

    fn __repr__(&self) -> String {
        format!(
            "HourCounts(hour={}, allowed={}, total={})",
            self.inner.hour.secs(),
            self.inner.allowed,
            self.inner.total()
        )
    }
}

/// An unusual-activity event: `kind` says what happened, and the fields of that kind
/// are set (the others are `None`).
#[pyclass(frozen, module = "portcullis._portcullis", name = "Signal")]
pub struct PySignal {
    inner: Signal,
}

#[pymethods]
impl PySignal {
    /// The key id.
    #[getter]
    fn key_id(&self) -> String {
        self.inner.key_id.to_string()
    }
    /// When it was raised (a use's time; a volume alarm's: the drain's).
    #[getter]
    fn at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_datetime(py, self.inner.at)
    }
    /// `new_network`, `volume`, `after_dormancy`, `wrong_secret_burst` or
    /// `rotation_due`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.code()
    }
    /// `new_network`: the network (`"198.51.100.0/24"`).
    #[getter]
    fn network(&self) -> Option<String> {
        match self.inner.kind {
            SignalKind::NewNetwork { network } => Some(network.to_string()),
            _ => None,
        }
    }
    /// `volume`: the hour whose count fired.
    #[getter]
    fn hour(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.kind {
            SignalKind::Volume { hour, .. } => to_datetime(py, hour).map(Some),
            _ => Ok(None),
        }
    }
    /// `volume`: the hour's uses when the rule fired.
    #[getter]
    fn count(&self) -> Option<u64> {
        match self.inner.kind {
            SignalKind::Volume { count, .. } => Some(count),
            _ => None,
        }
    }
    /// `volume`: the baseline (uses per hour) it exceeded.
    #[getter]
    fn baseline(&self) -> Option<f64> {
        match self.inner.kind {
            SignalKind::Volume { baseline, .. } => Some(baseline),
            _ => None,
        }
    }
    /// `after_dormancy`: the use before this one.
    #[getter]
    fn last_used(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.kind {
            SignalKind::AfterDormancy { last_used } => to_datetime(py, last_used).map(Some),
            _ => Ok(None),
        }
    }
    /// `wrong_secret_burst`: wrong secrets in the window so far.
    #[getter]
    fn attempts(&self) -> Option<u32> {
        match self.inner.kind {
            SignalKind::WrongSecretBurst { attempts, .. } => Some(attempts),
            _ => None,
        }
    }
    /// `wrong_secret_burst`: the window's start.
    #[getter]
    fn since(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.kind {
            SignalKind::WrongSecretBurst { since, .. } => to_datetime(py, since).map(Some),
            _ => Ok(None),
        }
    }
    /// This signal as its entry of `UsageBatch.to_json()`.
    fn to_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = self.inner.to_json().to_string();
        py.import("json")?.call_method1("loads", (text,))
    }

    fn __repr__(&self) -> String {
        format!(
            "Signal(key_id={}, at={}, kind={})",
            crate::py_str(self.inner.key_id.as_str()),
            self.inner.at.secs(),
            crate::py_str(self.inner.kind.code())
        )
    }
}

static IPV4_ADDRESS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IPV6_ADDRESS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IPV4_NETWORK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IPV6_NETWORK: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A client address argument: `None`, a `str` (`"203.0.113.5"`, `"2001:db8::1"`) or an
/// `ipaddress.IPv4Address`/`IPv6Address`. A string that is no address is a `ValueError`
/// naming `what`; another type a `TypeError`.
pub(crate) fn client_of(
    value: Option<&Bound<'_, PyAny>>,
    what: &dyn Display,
) -> PyResult<Option<IpAddr>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = v.cast::<PyString>() {
        let text = s.to_str().unwrap_or_default();
        return text.parse::<IpAddr>().map(Some).map_err(|_| {
            // Shown only when short: an address is at most 45 characters.
            let shown = if text.len() <= 64 {
                crate::py_str(text)
            } else {
                "a long string".to_owned()
            };
            PyValueError::new_err(format!(
                "{what} must be an IPv4 or IPv6 address, not {shown}"
            ))
        });
    }
    let py = v.py();
    let v4 = v.is_instance(IPV4_ADDRESS.import(py, "ipaddress", "IPv4Address")?)?;
    if v4 || v.is_instance(IPV6_ADDRESS.import(py, "ipaddress", "IPv6Address")?)? {
        let packed = v.getattr("packed")?;
        let bytes = packed.cast::<PyBytes>()?.as_bytes();
        if let Ok(o) = <[u8; 4]>::try_from(bytes) {
            return Ok(Some(IpAddr::V4(Ipv4Addr::from(o))));
        }
        if let Ok(o) = <[u8; 16]>::try_from(bytes) {
            return Ok(Some(IpAddr::V6(Ipv6Addr::from(o))));
        }
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be str or an ipaddress address, not {}",
        input::type_name(v)
    )))
}
