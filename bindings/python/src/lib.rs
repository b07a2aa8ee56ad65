//! `portcullis._portcullis`: the native half of the Python package `portcullis`.
//!
//! A thin translation of the core crate: every rule lives in `portcullis`; this crate
//! converts arguments (copying them), releases the GIL for the core work, and converts
//! results and errors. Exceptions are the pure-Python classes of `portcullis.errors`.
//!
//! Thread safety: the module declares itself safe without the GIL. `Policy`, `Checker`,
//! `KeyRecord`, `Decision` and friends are immutable; `MemoryStore` is the core's
//! concurrent store, `Store` the database store (`portcullis-store`, internally synchronised); `Peppers` and `Pending` lock internally. OAuth: `AccessVerifier`,
//! `OAuthServer`, `Client` and `OAuthConfig` are immutable (revocations are lock-free
//! sets); `AccessKeys` and `MemoryOAuthStore` lock internally. `UsageRecorder` records
//! lock-free and drains under a lock of its own; its batches are immutable, and so are
//! what a `Store` reads back (`UsageHistory`, `StoredSignal`, `AuditEntry`).
//! `Quota` and `Verdict` are immutable; `RateLimiter` and `LocalLimits` count lock-free.

mod batch;
mod checker;
mod codes;
mod database;
mod decision;
mod errors;
mod extract;
mod input;
mod keys;
mod limits;
mod lookup;
mod oauth;
mod oauth_client;
mod oauth_server;
mod oauth_store;
mod peppers;
mod policy;
mod record;
mod shared;
mod store;
mod store_usage;
mod time;
mod usage;

use pyo3::prelude::*;

/// The native module.
#[pymodule(gil_used = false)]
fn _portcullis(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", portcullis::VERSION)?;
    m.add_class::<policy::PyPolicy>()?;
    m.add_class::<policy::PyRequirement>()?;
    m.add_class::<policy::PyEvaluation>()?;
    m.add_class::<policy::PyGrant>()?;
    m.add_class::<peppers::PyPeppers>()?;
    m.add_class::<checker::PyChecker>()?;
    m.add_class::<checker::PyPending>()?;
    m.add_class::<batch::PyRequest>()?;
    m.add_class::<keys::PyParsedKey>()?;
    m.add_class::<keys::PyIssuedKey>()?;
    m.add_class::<keys::PyRotation>()?;
    m.add_class::<decision::PyDecision>()?;
    m.add_class::<decision::PyVerification>()?;
    m.add_class::<record::PyKeyRecord>()?;
    m.add_class::<store::PyMemoryStore>()?;
    m.add_class::<database::PyStore>()?;
    m.add_class::<extract::PyCredential>()?;
    m.add_function(wrap_pyfunction!(extract::extract_credential, m)?)?;
    m.add_function(wrap_pyfunction!(extract::legacy_sha256_hash, m)?)?;
    m.add_class::<oauth::PyAccessKeys>()?;
    m.add_class::<oauth::PyAccessClaims>()?;
    m.add_class::<oauth::PyAccessVerifier>()?;
    m.add_class::<oauth::PyPkceChallenge>()?;
    m.add_function(wrap_pyfunction!(oauth::oauth_token_hash, m)?)?;
    m.add_class::<oauth_client::PyClient>()?;
    m.add_class::<oauth_store::PyMemoryOAuthStore>()?;
    m.add_class::<oauth_server::PyOAuthConfig>()?;
    m.add_class::<oauth_server::PyOAuthServer>()?;
    m.add_class::<oauth_server::PyAuthorizeOutcome>()?;
    m.add_class::<oauth_server::PyTokenResponse>()?;
    m.add_class::<usage::PyUsageRecorder>()?;
    m.add_class::<usage::PyUsageStats>()?;
    m.add_class::<usage::PyUsageBatch>()?;
    m.add_class::<usage::PyKeyUsage>()?;
    m.add_class::<usage::PyHourCounts>()?;
    m.add_class::<usage::PySignal>()?;
    m.add_class::<store_usage::PyUsageHistory>()?;
    m.add_class::<store_usage::PyStoredSignal>()?;
    m.add_class::<store_usage::PyAuditEntry>()?;
    m.add_class::<limits::PyQuota>()?;
    m.add_class::<limits::PyVerdict>()?;
    m.add_class::<limits::PyRateLimiter>()?;
    m.add_class::<limits::PyLocalLimits>()?;
    m.add_class::<limits::PyFleetLimits>()?;
    m.add_function(wrap_pyfunction!(codes::_enumerations, m)?)?;
    Ok(())
}

/// A Python-style repr of a string (`'text'`), for `__repr__` methods.
pub(crate) fn py_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Python-style repr of an optional string (`'text'` or `None`).
pub(crate) fn py_opt(text: Option<&str>) -> String {
    text.map_or_else(|| "None".to_owned(), py_str)
}

/// A Python-style repr of a list of strings.
pub(crate) fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| py_str(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}
