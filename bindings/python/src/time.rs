//! Times shown to people are aware UTC `datetime`s; wire-level times are int seconds.

use crate::errors;
use portcullis::Timestamp;
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyTzInfo};

/// Largest timestamp a `datetime` can show (9999-12-31T23:59:59Z).
const MAX_DATETIME_SECS: u64 = 253_402_300_799;

/// A timestamp as an aware UTC datetime. A time past the year 9999 (possible in a record
/// built from JSON) is a `RecordError` (code `time_out_of_range`); `to_dict()` still shows
/// it as an int.
pub(crate) fn to_datetime(py: Python<'_>, t: Timestamp) -> PyResult<Py<PyAny>> {
    if t.secs() > MAX_DATETIME_SECS {
        return Err(errors::record_msg(
            py,
            &format!("time {} is past the year 9999", t.secs()),
            "time_out_of_range",
        ));
    }
    let utc = PyTzInfo::utc(py)?.to_owned();
    // Exact: every second up to the year 9999 is far below 2**53.
    let dt = PyDateTime::from_timestamp(py, t.secs() as f64, Some(&utc))?;
    Ok(dt.into_any().unbind())
}
