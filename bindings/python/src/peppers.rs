//! `Peppers`: the server-side HMAC keys. Secrets are held zeroized in Rust memory and
//! never shown by `repr`.

use crate::errors;
use crate::input;
use portcullis::{Peppers, SecretBytes};
use pyo3::prelude::*;
use std::sync::Mutex;

/// A set of named peppers (`secret` ≥ 32 bytes); new records use the primary.
///
/// Built once at start-up; a `Checker` takes a snapshot, so later changes here do not
/// affect checkers already made. Safe to share (internally locked).
#[pyclass(frozen, module = "portcullis._portcullis", name = "Peppers")]
pub struct PyPeppers {
    state: Mutex<State>,
}

struct State {
    /// `(id, secret)` in insertion order.
    entries: Vec<(String, SecretBytes)>,
    primary: String,
}

impl PyPeppers {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The core pepper set (rebuilt from the stored secrets; validated when added).
    pub(crate) fn build(&self, py: Python<'_>) -> PyResult<Peppers> {
        let state = self.lock();
        build(&state).map_err(|e| errors::pepper(py, &e))
    }
}

fn build(state: &State) -> Result<Peppers, portcullis::PepperError> {
    let mut entries = state.entries.iter();
    let Some((id, secret)) = entries.next() else {
        return Err(portcullis::PepperError::Unknown(String::new()));
    };
    let mut peppers = Peppers::new(id, secret.expose())?;
    for (id, secret) in entries {
        peppers.add(id, secret.expose())?;
    }
    peppers.set_primary(&state.primary)?;
    Ok(peppers)
}

#[pymethods]
impl PyPeppers {
    /// A set whose primary (and only) pepper is `secret` under `id`. `secret`: any
    /// bytes-like object (`bytes`, `bytearray`, `memoryview`, `array`), copied into
    /// memory wiped when the set is freed.
    #[new]
    fn new(py: Python<'_>, id: &str, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let state = State {
            entries: vec![(id.to_owned(), input::secret(secret, "secret")?)],
            primary: id.to_owned(),
        };
        build(&state).map_err(|e| errors::pepper(py, &e))?;
        Ok(PyPeppers {
            state: Mutex::new(state),
        })
    }

    /// Adds an older pepper that existing records may still name (`secret` as in the
    /// constructor).
    fn add(&self, py: Python<'_>, id: &str, secret: &Bound<'_, PyAny>) -> PyResult<()> {
        let secret = input::secret(secret, "secret")?;
        let mut state = self.lock();
        state.entries.push((id.to_owned(), secret));
        if let Err(e) = build(&state) {
            state.entries.pop();
            return Err(errors::pepper(py, &e));
        }
        Ok(())
    }

    /// Makes the pepper `id` the one new records use.
    fn set_primary(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let mut state = self.lock();
        if !state.entries.iter().any(|(i, _)| i == id) {
            return Err(errors::pepper(
                py,
                &portcullis::PepperError::Unknown(id.to_owned()),
            ));
        }
        state.primary = id.to_owned();
        Ok(())
    }

    /// The primary pepper's id.
    #[getter]
    fn primary_id(&self) -> String {
        self.lock().primary.clone()
    }

    /// Every pepper id, primary first.
    #[getter]
    fn ids(&self) -> Vec<String> {
        let state = self.lock();
        let mut ids = vec![state.primary.clone()];
        ids.extend(
            state
                .entries
                .iter()
                .map(|(i, _)| i.clone())
                .filter(|i| *i != state.primary),
        );
        ids
    }

    fn __repr__(&self) -> String {
        format!(
            "Peppers(ids={}, secrets=[REDACTED])",
            crate::py_list(&self.ids())
        )
    }
}
