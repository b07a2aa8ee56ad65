//! Times shown to people are aware UTC `datetime`s; wire-level times are int seconds.

use portcullis::Timestamp;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyTzInfo};

/// A timestamp as an aware UTC datetime.
pub(crate) fn to_datetime(py: Python<'_>, t: Timestamp) -> PyResult<Py<PyAny>> {
    let utc = PyTzInfo::utc(py)?.to_owned();
    // f64 is exact for every second up to 2**53: far past the year 9999 datetime limit.
    let dt = PyDateTime::from_timestamp(py, t.secs() as f64, Some(&utc))?;
    Ok(dt.into_any().unbind())
}
