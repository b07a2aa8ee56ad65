//! Python arguments → owned Rust values (copied before the GIL is released).

use crate::errors;
use portcullis::KeyId;
use portcullis::{KeyError, SecretBytes, Timestamp};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDateTime, PyDelta, PyFloat, PyInt, PyMemoryView, PyString};

/// Text that may arrive as `str` or `bytes` (header values, query strings, keys), as bytes.
pub(crate) fn bytes_of(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(s) = value.cast::<PyString>() {
        // Lone surrogates (from `surrogateescape`) cannot be UTF-8: refuse clearly.
        let text = s
            .to_str()
            .map_err(|_| PyValueError::new_err(format!("{what} is not valid Unicode")))?;
        Ok(text.as_bytes().to_vec())
    } else if let Ok(b) = value.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must be str or bytes, not {}",
            type_name(value)
        )))
    }
}

/// Optional `str`/`bytes`.
pub(crate) fn opt_bytes(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Vec<u8>>> {
    match value {
        Some(v) if !v.is_none() => bytes_of(v, what).map(Some),
        _ => Ok(None),
    }
}

/// The name of a value's type, for error messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// A point in time: `int` or `float` seconds since the epoch, an aware `datetime`, or
/// `None` (now).
pub(crate) fn timestamp(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Timestamp> {
    match value {
        None => Ok(Timestamp::now()),
        Some(v) if v.is_none() => Ok(Timestamp::now()),
        Some(v) => required_timestamp(v, what),
    }
}

/// A point in time that must be given. The one rule for every time argument:
/// - `int` seconds since the epoch (not `bool`);
/// - `float` seconds (`time.time()`), floored to the whole second: the core counts whole
///   seconds, and flooring never moves a time past an expiry it has not reached;
/// - a timezone-aware `datetime` (floored the same way); a naive one is a `ValueError`
///   naming the argument, since its zone is a guess;
/// - before 1970, NaN or infinite: a `ValueError` naming the argument.
pub(crate) fn required_timestamp(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Timestamp> {
    if let Ok(dt) = v.cast::<PyDateTime>() {
        if dt.getattr("tzinfo")?.is_none() {
            return Err(PyValueError::new_err(format!(
                "{what} must be a timezone-aware datetime (naive datetimes are ambiguous)"
            )));
        }
        let secs: f64 = dt.call_method0("timestamp")?.extract()?;
        return float_secs(secs, what).map(Timestamp);
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return float_secs(f.value(), what).map(Timestamp);
    }
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int or float seconds since the epoch or an aware datetime, not {}",
            type_name(v)
        )));
    }
    non_negative(v, what).map(Timestamp)
}

/// Float seconds since the epoch, floored; before 1970, NaN or infinite is refused.
fn float_secs(secs: f64, what: &str) -> PyResult<u64> {
    if secs.is_nan() || secs.is_infinite() {
        return Err(PyValueError::new_err(format!(
            "{what} must be a finite time"
        )));
    }
    if secs < 0.0 {
        return Err(PyValueError::new_err(format!("{what} is before 1970")));
    }
    if secs >= 1.8e19 {
        return Err(PyValueError::new_err(format!(
            "{what} is too far in the future"
        )));
    }
    // In range: the cast truncates, which for a non-negative value is the floor.
    Ok(secs.floor() as u64)
}

/// A duration: `int` seconds or a `timedelta`.
pub(crate) fn seconds(v: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if let Ok(delta) = v.cast::<PyDelta>() {
        let secs: f64 = delta.call_method0("total_seconds")?.extract()?;
        if !(0.0..1.8e19).contains(&secs) {
            return Err(PyValueError::new_err(format!(
                "{what} must not be negative"
            )));
        }
        return Ok(secs.floor() as u64);
    }
    non_negative(v, what)
}

/// A non-negative `int` (not `bool`, not `float`): a duration, or a time already typed.
fn non_negative(v: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if v.is_instance_of::<pyo3::types::PyBool>() || !v.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int seconds or a timedelta, not {}",
            type_name(v)
        )));
    }
    v.extract::<u64>()
        .map_err(|_| PyValueError::new_err(format!("{what} must be between 0 and 2**64-1")))
}

/// A key id (16 base62 characters).
pub(crate) fn key_id(py: Python<'_>, text: &str) -> PyResult<KeyId> {
    KeyId::parse(text).map_err(|e: KeyError| errors::malformed_key(py, e))
}

/// A sequence of `str` (a lone `str` is refused: it would be read as its characters).
pub(crate) fn strings(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of str, not a single {}",
            type_name(v)
        )));
    }
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let item = item?;
        let s = item.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!("{what} must hold str, not {}", type_name(&item)))
        })?;
        out.push(s.to_str()?.to_owned());
    }
    Ok(out)
}

/// A secret given as any bytes-like object (`bytes`, `bytearray`, `memoryview`, an
/// `array.array`, …: the buffer protocol), copied once into memory that is wiped on drop.
/// A buffer of wider items (`array('I')`) is read as its bytes; `str` is refused (its
/// encoding would be a guess).
pub(crate) fn secret(v: &Bound<'_, PyAny>, what: &str) -> PyResult<SecretBytes> {
    let py = v.py();
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(SecretBytes::new(b.as_bytes().to_vec()));
    }
    let refused = || {
        PyTypeError::new_err(format!(
            "{what} must be a bytes-like object (bytes, bytearray, memoryview, array), not {}",
            type_name(v)
        ))
    };
    if v.is_instance_of::<PyString>() {
        return Err(refused());
    }
    let buffer = match PyBuffer::<u8>::get(v) {
        Ok(buffer) => buffer,
        // Items wider than a byte: the same memory seen as unsigned bytes.
        Err(_) => PyMemoryView::from(v)
            .and_then(|view| view.call_method1("cast", ("B",)))
            .and_then(|bytes| PyBuffer::<u8>::get(&bytes))
            .map_err(|_| refused())?,
    };
    // `to_vec` allocates exactly the buffer's length, so the copy never moves (a move
    // would leave an unwiped copy behind).
    Ok(SecretBytes::new(buffer.to_vec(py)?))
}
