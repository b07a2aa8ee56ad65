//! `Decision` and `Verification`: data, never exceptions.

use crate::policy::PyRequirement;
use crate::record::PyKeyRecord;
use crate::shared::SharedChecker;
use portcullis::{Decision, Outcome, Reason, Verification};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

/// The answer to a request: allowed or denied, with everything a response needs.
///
/// Clients never learn why a token was invalid: send `status`, `www_authenticate` (and
/// `error`); log `reason`.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Decision")]
pub struct PyDecision {
    outcome: Outcome,
    checker: CheckerRef,
}

/// How a decision holds the checker whose policy it reads (route, scope names, realm).
#[derive(Clone)]
pub(crate) enum CheckerRef {
    /// The checker itself: one write to its shared reference count per decision.
    Own(Arc<SharedChecker>),
    /// The decisions of one `check_many` batch share a handle of their own, written only
    /// by the thread that made the batch, so that two threads deciding batches through
    /// one checker do not bounce its count's cache line (benches/OPTIMISATIONS.md).
    Batch(Arc<BatchChecker>),
}

/// A batch's handle on its checker (see [`CheckerRef::Batch`]). Aligned so that its
/// reference count has a cache line to itself, whatever the allocator puts beside it
/// (another thread's handle, say).
#[repr(align(128))]
pub(crate) struct BatchChecker(pub(crate) Arc<SharedChecker>);

impl std::ops::Deref for CheckerRef {
    type Target = SharedChecker;
    fn deref(&self) -> &SharedChecker {
        match self {
            CheckerRef::Own(c) => c,
            CheckerRef::Batch(b) => &b.0,
        }
    }
}

impl PyDecision {
    pub(crate) fn new(outcome: Outcome, checker: CheckerRef) -> Self {
        PyDecision { outcome, checker }
    }

    /// Reads the outcome in place: a copy would write the count of the caller's record
    /// (shared with every thread checking that key) at each property read.
    fn view(&self) -> Decision<'_, &Outcome> {
        Decision::new(&self.outcome, self.checker.policy())
    }
}

/// The key-format error code behind a `malformed_key` reason (`checksum`, `length`, …), or
/// the path error code behind an `ambiguous_path` reason (`dot_segment`, …).
fn detail(reason: Reason) -> Option<&'static str> {
    reason.detail()
}

#[pymethods]
impl PyDecision {
    /// Whether the request may proceed (status 200).
    #[getter]
    fn allowed(&self) -> bool {
        self.view().allowed()
    }
    /// The HTTP status: 200, 400, 401, 403, 429 over a rate limit, or 503 when the
    /// lookup failed or the limiter cannot tell.
    #[getter]
    fn status(&self) -> u16 {
        self.view().status()
    }
    /// The RFC 6750 error code (`invalid_token`, …), if the response carries one.
    #[getter]
    fn error(&self) -> Option<&'static str> {
        self.view().error().map(|e| e.as_str())
    }
    /// The internal reason, for logs and metrics (`wrong_secret`, `revoked`, …).
    #[getter]
    fn reason(&self) -> &'static str {
        self.outcome.reason.code()
    }
    /// For `malformed_key`, the key error code (`checksum`, `length`, …); for
    /// `ambiguous_path`, the path error code (`dot_segment`, `encoded_separator`, …).
    #[getter]
    fn detail(&self) -> Option<&'static str> {
        detail(self.outcome.reason)
    }
    /// The `error_description` text sent to the client, if any.
    #[getter]
    fn description(&self) -> Option<&'static str> {
        self.outcome.reason.description()
    }
    /// The `WWW-Authenticate` header value for a 400, 401 or 403.
    #[getter]
    fn www_authenticate(&self) -> Option<String> {
        self.view().www_authenticate().map(|w| w.to_string())
    }
    /// The caller's key id, when the key was verified (also on a 403).
    #[getter]
    fn key_id(&self) -> Option<String> {
        self.view().key_id().map(|id| id.to_string())
    }
    /// The caller's owner, when the key was verified.
    #[getter]
    fn owner(&self) -> Option<String> {
        self.view().owner().map(str::to_owned)
    }
    /// The caller's effective scopes, in catalog order.
    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.view().scopes().map(str::to_owned).collect()
    }
    /// Scopes missing on a 403, in catalog order.
    #[getter]
    fn missing(&self) -> Vec<String> {
        self.view().missing().map(str::to_owned).collect()
    }
    /// On a 403, every scope of the route's closest alternative.
    #[getter]
    fn required(&self) -> Vec<String> {
        self.view().required().map(str::to_owned).collect()
    }
    /// Warning codes (`rotation_due`, `expiring_soon`, `credential_in_query`, …).
    #[getter]
    fn warnings(&self) -> Vec<&'static str> {
        self.outcome.warnings.iter().map(|w| w.code()).collect()
    }
    /// The matched route as `(method, path template)`, if any.
    #[getter]
    fn route(&self) -> Option<(String, String)> {
        self.view()
            .route()
            .map(|(m, p)| (m.to_owned(), p.to_owned()))
    }
    /// The caller's record, when the key was verified.
    #[getter]
    fn record(&self) -> Option<PyKeyRecord> {
        self.outcome.principal.as_ref().map(|p| PyKeyRecord {
            inner: p.record.clone(),
        })
    }
    /// This decision with a further requirement, such as scopes a view declares (from
    /// `Policy.requirement` of this decision's policy): a verified caller whose scopes do
    /// not meet it gets the 403 `insufficient_scope` decision, worded as for a policy
    /// route; any other decision comes back unchanged (a public route's too: declare no
    /// scopes on one). `ValueError` for a requirement of another policy's catalog.
    fn require(&self, requirement: &PyRequirement) -> PyResult<PyDecision> {
        let catalog = self.checker.policy().catalog();
        if requirement.catalog_id() != catalog.id() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "the requirement was built from another policy's catalog",
            ));
        }
        let decided = self.view().require(requirement.inner());
        Ok(PyDecision::new(
            decided.into_outcome(),
            self.checker.clone(),
        ))
    }

    /// The host's lookup error message, on `lookup_failed` (503).
    #[getter]
    fn lookup_error(&self) -> Option<String> {
        self.outcome
            .lookup_error
            .as_ref()
            .map(|e| e.message.clone())
    }

    /// On a 429 (`rate_limited`, or `credits_exhausted` with a refill) or a 503 for an
    /// unavailable limiter, the seconds to send in `Retry-After` (rounded up, at least
    /// 1); `None` otherwise.
    #[getter]
    fn retry_after(&self) -> Option<u64> {
        self.view().retry_after()
    }

    /// The key's credits left after this request (its record's `metadata.credits`), when
    /// it has credits and they were counted; `None` otherwise.
    #[getter]
    fn credits_remaining(&self) -> Option<u32> {
        self.view().credits_remaining()
    }

    /// The `RateLimit-Policy` field (draft-ietf-httpapi-ratelimit-headers-10) of the
    /// limit reported, `"per_key";q=100;w=1`, on allowed and limited answers alike;
    /// `None` when no limit applied.
    #[getter]
    fn rate_limit_policy(&self) -> Option<String> {
        self.view().rate_limit_policy()
    }

    /// The `RateLimit` field of the limit reported, `"per_key";r=42;t=1` (`r`: requests
    /// left at once, `t`: seconds until the full burst is back); `None` when no limit
    /// applied.
    #[getter]
    fn rate_limit(&self) -> Option<String> {
        self.view().rate_limit()
    }

    /// The response header fields this decision calls for, as `(name, value)` pairs in
    /// this order: `WWW-Authenticate` (400, 401, 403), `Retry-After` (429, and a 503 for
    /// an unavailable limiter), `RateLimit-Policy` and `RateLimit` (whenever a limit
    /// applied, allowed answers included).
    #[getter]
    fn headers(&self) -> Vec<(&'static str, String)> {
        let view = self.view();
        let mut out = Vec::new();
        if let Some(w) = view.www_authenticate() {
            out.push(("WWW-Authenticate", w.to_string()));
        }
        if let Some(s) = view.retry_after() {
            out.push(("Retry-After", s.to_string()));
        }
        if let Some(p) = view.rate_limit_policy() {
            out.push(("RateLimit-Policy", p));
        }
        if let Some(r) = view.rate_limit() {
            out.push(("RateLimit", r));
        }
        out
    }

    /// The decision as a dict of plain values (for structured logs and JSON): one key per
    /// property, with the property's value, except `record` (left out: read it from the
    /// decision); `route` as a list or `None`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("allowed", self.allowed())?;
        d.set_item("status", self.status())?;
        d.set_item("error", self.error())?;
        d.set_item("reason", self.reason())?;
        d.set_item("detail", self.detail())?;
        d.set_item("description", self.description())?;
        d.set_item("www_authenticate", self.www_authenticate())?;
        d.set_item("key_id", self.key_id())?;
        d.set_item("owner", self.owner())?;
        d.set_item("scopes", self.scopes())?;
        d.set_item("missing", self.missing())?;
        d.set_item("required", self.required())?;
        d.set_item("warnings", self.warnings())?;
        d.set_item("route", self.route().map(|(m, p)| vec![m, p]))?;
        d.set_item("lookup_error", self.lookup_error())?;
        d.set_item("retry_after", self.retry_after())?;
        d.set_item("rate_limit_policy", self.rate_limit_policy())?;
        d.set_item("rate_limit", self.rate_limit())?;
        d.set_item("credits_remaining", self.credits_remaining())?;
        d.set_item("headers", self.headers())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(allowed={}, status={}, reason={}, key_id={})",
            if self.allowed() { "True" } else { "False" },
            self.status(),
            crate::py_str(self.reason()),
            crate::py_opt(self.key_id().as_deref())
        )
    }
}

/// The result of `Checker.verify`: a key checked against a record, without a route.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Verification")]
pub struct PyVerification {
    inner: Verification,
    checker: Arc<SharedChecker>,
}

impl PyVerification {
    pub(crate) fn new(inner: Verification, checker: Arc<SharedChecker>) -> Self {
        PyVerification { inner, checker }
    }
}

#[pymethods]
impl PyVerification {
    /// Whether the key is valid now.
    #[getter]
    fn valid(&self) -> bool {
        self.inner.is_valid()
    }
    /// `allowed`, or why not (`wrong_secret`, `expired`, `malformed_key`, …).
    #[getter]
    fn reason(&self) -> &'static str {
        self.inner.reason.code()
    }
    /// For `malformed_key`, the key error code.
    #[getter]
    fn detail(&self) -> Option<&'static str> {
        detail(self.inner.reason)
    }
    /// Warning codes.
    #[getter]
    fn warnings(&self) -> Vec<&'static str> {
        self.inner.warnings.iter().map(|w| w.code()).collect()
    }
    /// The key's effective scopes (empty unless valid).
    #[getter]
    fn scopes(&self) -> Vec<String> {
        let catalog = self.checker.policy().catalog();
        catalog
            .names(&self.inner.granted)
            .map(str::to_owned)
            .collect()
    }

    fn __bool__(&self) -> bool {
        self.valid()
    }

    fn __repr__(&self) -> String {
        format!(
            "Verification(valid={}, reason={})",
            if self.valid() { "True" } else { "False" },
            crate::py_str(self.reason())
        )
    }
}
