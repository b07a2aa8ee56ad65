//! Core errors → the Python exceptions of `portcullis.errors`.
//!
//! The exception classes are plain Python (so they carry structured fields and subclass
//! `ValueError` where the input was bad); the native code instantiates them by name.

use portcullis::format::KeyError;
use portcullis::policy::PolicyError;
use portcullis::scope::ExprError;
use portcullis::{ExtractError, IssueError, PepperError, RecordError, StoreError};
use pyo3::call::PyCallArgs;
use pyo3::prelude::*;

/// The pure-Python module that defines the exception classes.
const ERRORS_MODULE: &str = "portcullis.errors";

/// Instantiates `portcullis.errors.<class>(*args)` as a `PyErr`.
pub(crate) fn raise<'py, A: PyCallArgs<'py>>(py: Python<'py>, class: &str, args: A) -> PyErr {
    let made = py
        .import(ERRORS_MODULE)
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args));
    match made {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

/// `MalformedKeyError(message, code, position)`.
pub(crate) fn malformed_key(py: Python<'_>, e: KeyError) -> PyErr {
    let position = match e {
        KeyError::Character { position } => Some(position),
        _ => None,
    };
    raise(py, "MalformedKeyError", (e.to_string(), e.code(), position))
}

/// `CredentialError(message, code)`.
pub(crate) fn credential(py: Python<'_>, e: ExtractError) -> PyErr {
    raise(py, "CredentialError", (e.to_string(), e.code()))
}

/// `PolicyError(message, [(line, column, field, message), …])`.
pub(crate) fn policy(py: Python<'_>, e: &PolicyError) -> PyErr {
    let issues: Vec<(usize, usize, String, String)> = e
        .issues
        .iter()
        .map(|i| (i.line, i.column, i.field.clone(), i.message.clone()))
        .collect();
    raise(py, "PolicyError", (e.to_string(), issues))
}

/// `ConfigurationError(message, code)` for a refused pepper.
pub(crate) fn pepper(py: Python<'_>, e: &PepperError) -> PyErr {
    let code = match e {
        PepperError::BadId(_) => "bad_pepper_id",
        PepperError::TooShort { .. } => "pepper_too_short",
        PepperError::Duplicate(_) => "duplicate_pepper",
        PepperError::Unknown(_) => "unknown_pepper",
    };
    configuration(py, &e.to_string(), code)
}

/// `ConfigurationError(message, code)`.
pub(crate) fn configuration(py: Python<'_>, message: &str, code: &str) -> PyErr {
    raise(
        py,
        "ConfigurationError",
        (message.to_owned(), code.to_owned()),
    )
}

/// `IssueError(message, code)`.
pub(crate) fn issue(py: Python<'_>, e: &IssueError) -> PyErr {
    let code = match e {
        IssueError::UnknownScope(_) => "unknown_scope",
        IssueError::Kind(_) => "unknown_kind",
        IssueError::Env(_) => "unknown_env",
        IssueError::Field(_) => "bad_field",
        IssueError::ZeroTtl => "bad_ttl",
        IssueError::Inactive(_) => "inactive",
        IssueError::Random(_) => "random",
    };
    raise(py, "IssueError", (e.to_string(), code))
}

/// `RecordError(message, code)`.
pub(crate) fn record(py: Python<'_>, e: &RecordError) -> PyErr {
    let code = match e {
        RecordError::BadLabel { .. } => "bad_label",
        RecordError::Hash(_) => "bad_hash",
        RecordError::Json(_) => "bad_json",
    };
    record_msg(py, &e.to_string(), code)
}

/// `RecordError(message, code)` from a message.
pub(crate) fn record_msg(py: Python<'_>, message: &str, code: &str) -> PyErr {
    raise(py, "RecordError", (message.to_owned(), code.to_owned()))
}

/// `RequirementError(message, code, position)`.
pub(crate) fn requirement(py: Python<'_>, e: &ExprError) -> PyErr {
    use portcullis::scope::ExprErrorKind as K;
    let code = match e.kind {
        K::Empty => "empty",
        K::TooLong => "too_long",
        K::TooDeep => "too_deep",
        K::TooManyTerms => "too_many_terms",
        K::UnknownScope(_) => "unknown_scope",
        K::Wildcard(_) => "wildcard",
        K::Unexpected(_) => "unexpected",
        K::UnexpectedEnd => "unexpected_end",
    };
    raise(py, "RequirementError", (e.to_string(), code, e.position))
}

/// `StoreError(message, code, key_id)`.
pub(crate) fn store(py: Python<'_>, e: &StoreError) -> PyErr {
    let (code, id) = match e {
        StoreError::Duplicate(id) => ("duplicate", id),
        StoreError::NotFound(id) => ("not_found", id),
        StoreError::IdChanged(id) => ("id_changed", id),
    };
    raise(py, "StoreError", (e.to_string(), code, id.to_string()))
}
