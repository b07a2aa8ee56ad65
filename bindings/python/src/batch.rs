//! Batches: `Checker.check_many` decides many requests with the GIL released once per
//! batch instead of once per request, so Python threads run the core work in parallel.
//!
//! Why a batch: one check is a few hundred nanoseconds of Rust work, less than a GIL
//! handoff between threads, so `Checker.check` keeps the GIL (see `checker.rs`). A batch
//! converts every request while attached (tuples are copied into two buffers per batch;
//! `Request` objects are immutable and read in place), decides them all detached, then
//! builds the `Decision` objects attached again. Only the conversions and the result
//! objects are serialised by the GIL; everything per request is kept small there (no
//! allocation or reference count per tuple, error texts formatted only on error).

use crate::input;
use crate::lookup::Fetched;
use crate::shared::OwnedRequest;
use portcullis::{Checker, KeyLookup, Outcome, Pending, Prepared, Request, SecretBytes, Timestamp};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString, PyTuple};

/// A run of bytes in one of a batch's buffers.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// Where a batch's request parts are copied while the GIL is held: one buffer for
/// methods and paths, one for headers and query strings (they may hold keys: wiped when
/// the batch is dropped, and before a reallocation frees a smaller copy). Two buffers
/// per batch instead of allocations or reference counts per request.
#[derive(Default)]
struct Buffers {
    text: String,
    secret: Vec<u8>,
}

impl Buffers {
    fn with_capacity(requests: usize) -> Self {
        Buffers {
            text: String::with_capacity(requests * 24),
            secret: Vec::with_capacity(requests * 80),
        }
    }

    fn push_text(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(text);
        Span {
            start,
            end: self.text.len(),
        }
    }

    fn push_secret(&mut self, bytes: &[u8]) -> Span {
        let start = self.secret.len();
        if self.secret.capacity() - start < bytes.len() {
            // Grow by hand so the old copy is wiped, not just freed.
            let mut bigger =
                Vec::with_capacity((2 * self.secret.capacity()).max(start + bytes.len()));
            bigger.extend_from_slice(&self.secret);
            drop(SecretBytes::new(std::mem::replace(
                &mut self.secret,
                bigger,
            )));
        }
        self.secret.extend_from_slice(bytes);
        Span {
            start,
            end: self.secret.len(),
        }
    }

    fn text(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or_default()
    }

    fn secret(&self, span: Span) -> &[u8] {
        self.secret.get(span.start..span.end).unwrap_or_default()
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        drop(SecretBytes::new(std::mem::take(&mut self.secret)));
    }
}

/// The parts of one request, as `Checker.check` takes them, in a batch's buffers.
#[derive(Clone, Copy)]
struct Parts {
    method: Span,
    path: Span,
    authorization: Option<Span>,
    query: Option<Span>,
    https: bool,
}

/// A request for `Checker.check_many`: the parts `Checker.check` takes. Immutable; the
/// header and query are copies wiped when the object is freed, and shown redacted.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Request")]
pub struct PyRequest {
    inner: OwnedRequest,
}

#[pymethods]
impl PyRequest {
    /// A request: `authorization` is the `Authorization` header value and `query` the
    /// raw query string (`str` or `bytes`, or `None`); `https` says whether it came over
    /// TLS; `client` is the client's address (`str` or an `ipaddress` address), for a
    /// checker's usage recorder.
    #[new]
    #[pyo3(signature = (method, path, *, authorization=None, query=None, https=false, client=None))]
    fn new(
        method: &Bound<'_, PyAny>,
        path: &Bound<'_, PyAny>,
        authorization: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        https: bool,
        client: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let secret = |v, what| -> PyResult<Option<SecretBytes>> {
            Ok(opt_text(v, arg(what))?.map(|b| SecretBytes::new(b.to_vec())))
        };
        let inner = OwnedRequest {
            method: text_str(method, arg("method"))?.to_owned(),
            path: text_str(path, arg("path"))?.to_owned(),
            authorization: secret(authorization, "authorization")?,
            query: secret(query, "query")?,
            https,
            client: crate::usage::client_of(client, &arg("client"))?,
        };
        Ok(PyRequest { inner })
    }

    /// The HTTP method.
    #[getter]
    fn method(&self) -> &str {
        &self.inner.method
    }
    /// The request path.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    /// The `Authorization` header value, as bytes (may hold a key: do not log).
    #[getter]
    fn authorization<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        secret_bytes(py, &self.inner.authorization)
    }
    /// The query string, as bytes (may hold a key: do not log).
    #[getter]
    fn query<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        secret_bytes(py, &self.inner.query)
    }
    /// Whether the request came over TLS.
    #[getter]
    fn https(&self) -> bool {
        self.inner.https
    }
    /// The client's address, if given (normalised: `"2001:db8::1"`).
    #[getter]
    fn client(&self) -> Option<String> {
        self.inner.client.map(|a| a.to_string())
    }

    fn __repr__(&self) -> String {
        let redacted = |t: &Option<SecretBytes>| if t.is_some() { "[REDACTED]" } else { "None" };
        format!(
            "Request(method={}, path={}, authorization={}, query={}, https={}{})",
            crate::py_str(&self.inner.method),
            crate::py_str(&self.inner.path),
            redacted(&self.inner.authorization),
            redacted(&self.inner.query),
            if self.inner.https { "True" } else { "False" },
            // Shown only when given, so the usual repr stays short.
            self.inner
                .client
                .map(|a| format!(", client={}", crate::py_str(&a.to_string())))
                .unwrap_or_default()
        )
    }
}

/// A copy of a request's secret part as Python bytes, if it has one.
fn secret_bytes<'py>(py: Python<'py>, part: &Option<SecretBytes>) -> Option<Bound<'py, PyBytes>> {
    part.as_ref().map(|b| PyBytes::new(py, b.expose()))
}

/// The name of a part in error messages: `authorization` for a `Request` argument,
/// `requests[3].authorization` for an element of a batch. Formatted only on error.
#[derive(Clone, Copy)]
struct Field {
    index: Option<usize>,
    name: &'static str,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "requests[{i}].{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// A part of a `Request` built by its constructor.
const fn arg(name: &'static str) -> Field {
    Field { index: None, name }
}

/// A `str` part (method, path), borrowed while the GIL is held.
fn text_str<'a>(value: &'a Bound<'_, PyAny>, what: Field) -> PyResult<&'a str> {
    let s = value.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be str, not {}",
            input::type_name(value)
        ))
    })?;
    // Lone surrogates (from `surrogateescape`) cannot be UTF-8: refuse clearly.
    s.to_str()
        .map_err(|_| PyValueError::new_err(format!("{what} is not valid Unicode")))
}

/// An optional `str`/`bytes` part (header, query), borrowed while the GIL is held.
fn opt_text<'a>(value: Option<&'a Bound<'_, PyAny>>, what: Field) -> PyResult<Option<&'a [u8]>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if value.is_instance_of::<PyString>() {
        return text_str(value, what).map(|s| Some(s.as_bytes()));
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be str or bytes, not {}",
        input::type_name(value)
    )))
}

/// A `bool` part (`https`); ints are refused, as `Checker.check` refuses them.
fn flag(value: &Bound<'_, PyAny>, what: Field) -> PyResult<bool> {
    value.cast::<PyBool>().map(|b| b.is_true()).map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be bool, not {}",
            input::type_name(value)
        ))
    })
}

/// One element of a batch: a tuple's parts copied into the batch's buffers, or a
/// `Request` (immutable) read in place.
enum Entry {
    Parts(Parts),
    Object(Py<PyRequest>),
}

/// A converted batch: its elements and the buffers their parts were copied into.
struct Batch {
    entries: Vec<Entry>,
    buffers: Buffers,
}

/// An element as a core request.
fn view<'a>(buffers: &'a Buffers, entry: &'a Entry) -> Request<'a> {
    match entry {
        Entry::Object(r) => r.get().inner.view(),
        Entry::Parts(p) => Request {
            method: buffers.text(p.method),
            path: buffers.text(p.path),
            authorization: p.authorization.map(|s| buffers.secret(s)),
            query: p.query.map(|s| buffers.secret(s)),
            https: p.https,
            // A tuple has no client: a `Request` carries one.
            client: None,
        },
    }
}

impl Batch {
    /// `decide` applied to every request, in order, with the GIL released. The buffers
    /// are wiped before the GIL is taken back (a byte loop: no need to hold it); the
    /// `Request` objects are released after, attached.
    fn run<T: Send>(self, py: Python<'_>, decide: impl Fn(Request<'_>) -> T + Sync) -> Vec<T> {
        let Batch { entries, buffers } = self;
        py.detach(|| {
            let out = entries.iter().map(|e| decide(view(&buffers, e))).collect();
            drop(buffers);
            out
        })
    }

    /// Adds element `index` of the Python batch.
    fn push(&mut self, item: &Bound<'_, PyAny>, index: usize) -> PyResult<()> {
        let entry = if let Ok(tuple) = item.cast::<PyTuple>() {
            Entry::Parts(self.parts(tuple, index)?)
        } else if let Ok(request) = item.cast::<PyRequest>() {
            Entry::Object(request.clone().unbind())
        } else {
            return Err(PyTypeError::new_err(format!(
                "requests[{index}] must be {ELEMENT}, not {}",
                input::type_name(item)
            )));
        };
        self.entries.push(entry);
        Ok(())
    }

    /// A tuple's parts, copied into the buffers.
    fn parts(&mut self, tuple: &Bound<'_, PyTuple>, index: usize) -> PyResult<Parts> {
        let field = |name| Field {
            index: Some(index),
            name,
        };
        let (method, path, rest) = match tuple.as_slice() {
            [method, path, rest @ ..] if rest.len() <= 3 => (method, path, rest),
            items => {
                return Err(PyTypeError::new_err(format!(
                    "requests[{index}] has {} items; expected 2 to 5: (method, path[, authorization[, query[, https]]])",
                    items.len()
                )));
            }
        };
        let method = self.buffers.push_text(text_str(method, field("method"))?);
        let path = self.buffers.push_text(text_str(path, field("path"))?);
        let mut secret = |i: usize, name| -> PyResult<Option<Span>> {
            let bytes = opt_text(rest.get(i), field(name))?;
            Ok(bytes.map(|b| self.buffers.push_secret(b)))
        };
        let authorization = secret(0, "authorization")?;
        let query = secret(1, "query")?;
        let https = match rest.get(2) {
            Some(v) => flag(v, field("https"))?,
            None => false,
        };
        Ok(Parts {
            method,
            path,
            authorization,
            query,
            https,
        })
    }
}

/// What an element must be, for error messages.
const ELEMENT: &str = "a Request or a tuple (method, path[, authorization[, query[, https]]])";

/// Every element of `requests` (any iterable but `str`/`bytes`), converted in order.
fn batch(requests: &Bound<'_, PyAny>) -> PyResult<Batch> {
    if requests.is_instance_of::<PyString>() || requests.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "requests must be a sequence of requests, not a single {}",
            input::type_name(requests)
        )));
    }
    let iter = requests.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "requests must be a sequence of requests, not {}",
            input::type_name(requests)
        ))
    })?;
    let n = requests.len().unwrap_or(0);
    let mut out = Batch {
        entries: Vec::with_capacity(n),
        buffers: Buffers::with_capacity(n),
    };
    for (index, item) in iter.enumerate() {
        out.push(&item?, index)?;
    }
    Ok(out)
}

/// Decides every request of `requests` against `store` (a `MemoryStore` or a database
/// `Store`), with the GIL released once for the whole batch. Outcomes come back in
/// request order.
pub(crate) fn check_store(
    py: Python<'_>,
    checker: &Checker,
    requests: &Bound<'_, PyAny>,
    store: &(impl KeyLookup + Sync),
    now: Timestamp,
) -> PyResult<Vec<Outcome>> {
    let batch = batch(requests)?;
    if batch.entries.is_empty() {
        return Ok(Vec::new());
    }
    Ok(batch.run(py, |r| checker.check(&r, store, now).into_outcome()))
}

/// A request of a batch with a host lookup, between phases.
enum Step {
    /// Decided without a record.
    Done(Outcome),
    /// Waiting for its record.
    Lookup(Pending),
    /// The lookup answered (a record, none, a failure or a corrupt record): decided next
    /// (`None` once taken).
    Finish(Pending, Option<Fetched>),
}

/// Decides every request of `requests` with a Python lookup callable: phase one for the
/// whole batch detached, the lookups attached (they are Python code), in order, then
/// phase two for the whole batch detached: two releases per batch, not two per request.
/// What the lookup raises or returns is that request's decision, as in `check` (see
/// `lookup.rs`); a `KeyboardInterrupt`-like exception propagates, with a note naming the
/// element.
pub(crate) fn check_callable(
    py: Python<'_>,
    checker: &Checker,
    requests: &Bound<'_, PyAny>,
    lookup: &Bound<'_, PyAny>,
    now: Timestamp,
) -> PyResult<Vec<Outcome>> {
    let batch = batch(requests)?;
    if batch.entries.is_empty() {
        return Ok(Vec::new());
    }
    // The pendings stay where they are in `steps` and are finished as clones: the vector
    // then drops them in place, which wipes their keys (moving them out would leave the
    // keys in the freed buffer).
    let mut steps = batch.run(py, |r| match checker.prepare_at(&r, now) {
        Prepared::Done(d) => Step::Done(d.into_outcome()),
        Prepared::Lookup(p) => Step::Lookup(p),
    });
    for (index, step) in steps.iter_mut().enumerate() {
        if let Step::Lookup(pending) = step {
            let next = fetch(py, pending, lookup, index)?;
            *step = next; // drops the waiting step in place
        }
    }
    Ok(py.detach(move || {
        let outcomes = steps
            .iter_mut()
            .map(|step| match step {
                Step::Done(outcome) => outcome.clone(),
                Step::Finish(p, fetched) => match fetched.take() {
                    Some(fetched) => fetched.finish(checker, p.clone(), now),
                    None => checker.finish(p.clone(), None, now).into_outcome(),
                },
                // `fetch` replaced every lookup; deciding it as unfetched stays closed.
                Step::Lookup(p) => checker.finish(p.clone(), None, now).into_outcome(),
            })
            .collect();
        drop(steps);
        outcomes
    }))
}

/// Calls the lookup for a request waiting for its record (attached): the next step.
fn fetch(
    py: Python<'_>,
    pending: &Pending,
    lookup: &Bound<'_, PyAny>,
    index: usize,
) -> PyResult<Step> {
    match crate::lookup::fetch(lookup, pending.key_id().as_str()) {
        Ok(fetched) => Ok(Step::Finish(pending.clone(), Some(fetched))),
        Err(e) => {
            // Python 3.11+: the traceback names the element (older versions: no note).
            let note = format!("raised by the lookup for requests[{index}]");
            let _ = e.value(py).call_method1("add_note", (note,));
            Err(e)
        }
    }
}
