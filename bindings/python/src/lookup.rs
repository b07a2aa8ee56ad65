//! A host's lookup callable (`key_id -> record | None`), translated into what the core
//! decides on. The decisions are the core's (`Checker::finish`, `finish_failed`,
//! `finish_corrupt`); this module only sorts what the callable did into one of them.
//!
//! Decisions made here:
//! - `None` is an unknown key; a `KeyRecord`, its dict or its JSON text is the record.
//! - `KeyLookupError` is the core's `LookupError` with the exception's text: 503
//!   `lookup_failed`, `str(error)` as the decision's `lookup_error`.
//! - Any other `Exception` is a failed lookup too (fail closed: 503 `lookup_failed`,
//!   never a 500 out of `check`). Its text may hold anything (a connection string, a
//!   row), so `lookup_error` names only its type; the exception itself is logged with
//!   its traceback at ERROR to the `portcullis.lookup` logger.
//! - A return value that makes no record (another type, JSON that does not parse, a bad
//!   label or hash string) is a corrupt record: 401 `corrupt_record`, as the core decides
//!   for a record whose hash does not decode; why is logged the same way.
//! - A `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`)
//!   propagates out of the call: nothing is decided for that request.

use crate::record::record_of;
use portcullis::{Checker, KeyRecord, LookupError, Outcome, Pending, Timestamp};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;

/// The logger that receives the exceptions a lookup raised or caused.
const LOGGER: &str = "portcullis.lookup";

/// What a host's lookup gave for one key id.
pub(crate) enum Fetched {
    /// The record, or `None` for an unknown key.
    Found(Option<Arc<KeyRecord>>),
    /// The lookup failed: a 503.
    Failed(LookupError),
    /// The lookup returned something that is not a usable record: a 401.
    Corrupt,
}

impl Fetched {
    /// The core's decision for `pending` (no GIL needed).
    pub(crate) fn finish(self, checker: &Checker, pending: Pending, now: Timestamp) -> Outcome {
        match self {
            Fetched::Found(record) => checker.finish(pending, record, now).into_outcome(),
            Fetched::Failed(error) => checker.finish_failed(pending, error).into_outcome(),
            Fetched::Corrupt => checker.finish_corrupt(pending).into_outcome(),
        }
    }
}

/// Calls `lookup(key_id)` and sorts the result (see the module docs). `Err` only for a
/// `BaseException` that is not an `Exception`.
pub(crate) fn fetch(lookup: &Bound<'_, PyAny>, key_id: &str) -> PyResult<Fetched> {
    match lookup.call1((key_id,)) {
        Ok(found) => returned(&found, key_id),
        Err(e) => raised(lookup.py(), e, key_id),
    }
}

/// What the lookup raised, sorted (also for an async lookup, whose exception arrives
/// when it is awaited). `Err` only for a `BaseException` that is not an `Exception`.
pub(crate) fn raised(py: Python<'_>, e: PyErr, key_id: &str) -> PyResult<Fetched> {
    if is_lookup_error(py, &e) {
        let message = e
            .value(py)
            .str()
            .map_or_else(|_| "key lookup failed".to_owned(), |s| s.to_string());
        return Ok(Fetched::Failed(LookupError::new(message)));
    }
    let e = only_exceptions(py, e)?;
    log(py, "key lookup for %s raised", &[key_id], Some(&e));
    Ok(Fetched::Failed(LookupError::new(format!(
        "the lookup raised {}",
        type_name(py, &e)
    ))))
}

/// What the lookup returned, sorted (for an async lookup: what its awaitable gave).
pub(crate) fn returned(found: &Bound<'_, PyAny>, key_id: &str) -> PyResult<Fetched> {
    let py = found.py();
    if found.is_none() {
        return Ok(Fetched::Found(None));
    }
    match record_of(found) {
        Ok(record) => Ok(Fetched::Found(Some(record))),
        Err(e) => {
            let e = only_exceptions(py, e)?;
            // The code only, no text: a record's parse error may quote a field, and a
            // misfiled plaintext key is exactly what makes a record corrupt.
            let why = e
                .value(py)
                .getattr("code")
                .and_then(|c| c.extract::<String>())
                .unwrap_or_else(|_| type_name(py, &e));
            log(
                py,
                "key lookup for %s returned no usable record (%s)",
                &[key_id, &why],
                None,
            );
            Ok(Fetched::Corrupt)
        }
    }
}

/// Whether `e` is a `portcullis.errors.KeyLookupError`.
fn is_lookup_error(py: Python<'_>, e: &PyErr) -> bool {
    py.import("portcullis.errors")
        .and_then(|m| m.getattr("KeyLookupError"))
        .is_ok_and(|class| e.value(py).is_instance(&class).unwrap_or(false))
}

/// `e` if it is an `Exception`; a `KeyboardInterrupt`-like one is handed back as `Err`.
fn only_exceptions(py: Python<'_>, e: PyErr) -> PyResult<PyErr> {
    if e.is_instance_of::<PyException>(py) {
        Ok(e)
    } else {
        Err(e)
    }
}

/// The exception's type as `module.QualName` (builtins without the module).
fn type_name(py: Python<'_>, e: &PyErr) -> String {
    let ty = e.get_type(py);
    let name = ty
        .qualname()
        .map_or_else(|_| "an exception".to_owned(), |n| n.to_string());
    match ty.module().map(|m| m.to_string()) {
        Ok(module) if module != "builtins" => format!("{module}.{name}"),
        _ => name,
    }
}

/// Logs `message % args` at ERROR, with the traceback of `e` if given (best effort:
/// logging must not change the decision).
fn log(py: Python<'_>, message: &str, args: &[&str], e: Option<&PyErr>) {
    let logged = py.import("logging").and_then(|logging| {
        let logger = logging.call_method1("getLogger", (LOGGER,))?;
        let kwargs = PyDict::new(py);
        if let Some(e) = e {
            kwargs.set_item("exc_info", e.value(py))?;
        }
        let call: Vec<&str> = std::iter::once(message)
            .chain(args.iter().copied())
            .collect();
        let call = PyTuple::new(py, call)?;
        logger.call_method("error", call, Some(&kwargs))
    });
    drop(logged);
}
