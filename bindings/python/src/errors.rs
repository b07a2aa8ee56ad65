//! Core errors → the Python exceptions of `portcullis.errors`.
//!
//! The exception classes are plain Python (so they carry structured fields and subclass
//! `ValueError` where the input was bad); the native code instantiates them by name. Every
//! `code` is the core error's own (`portcullis::codes`): no code is spelled here.

use portcullis::KeyError;
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
    configuration(py, &e.to_string(), e.code())
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
    raise(py, "IssueError", (e.to_string(), e.code()))
}

/// `RecordError(message, code)`.
pub(crate) fn record(py: Python<'_>, e: &RecordError) -> PyErr {
    record_msg(py, &e.to_string(), e.code())
}

/// `RecordError(message, code)` from a message.
pub(crate) fn record_msg(py: Python<'_>, message: &str, code: &str) -> PyErr {
    raise(py, "RecordError", (message.to_owned(), code.to_owned()))
}

/// `RequirementError(message, code, position)`.
pub(crate) fn requirement(py: Python<'_>, e: &ExprError) -> PyErr {
    raise(
        py,
        "RequirementError",
        (e.to_string(), e.code(), e.position),
    )
}

/// `StoreError(message, code, key_id)`.
pub(crate) fn store(py: Python<'_>, e: &StoreError) -> PyErr {
    let id = match e {
        StoreError::Duplicate(id) | StoreError::NotFound(id) | StoreError::IdChanged(id) => id,
    };
    raise(py, "StoreError", (e.to_string(), e.code(), id.to_string()))
}
