//! OAuth access tokens: `AccessKeys` (signing keys), `AccessVerifier` (keys, catalog,
//! revocations), `AccessClaims`, `PkceChallenge`, and `oauth_token_hash`.
//!
//! The verifier is shared with a `Checker` (`access_tokens=`) and an `OAuthServer`; a
//! family revoked through any of them is refused by all at once.

use crate::errors;
use crate::input;
use crate::policy::PyPolicy;
use portcullis::oauth::{
    AccessClaims, AccessKeyError, AccessKeys, AccessVerifier, ChallengeMethod, PkceChallenge,
    TokenHash,
};
use portcullis::{Policy, Timestamp};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Arc, Mutex, MutexGuard};

/// The access-token signing keys (`secret` ≥ 32 bytes): one signs, all verify.
///
/// Rotation: `add` the new key, `set_primary` it, `remove` the old one an access-token
/// lifetime later. An `AccessVerifier` takes a snapshot: later changes here need a new
/// verifier. Secrets are kept only as keyed HMAC states, never shown.
#[pyclass(frozen, module = "portcullis._portcullis", name = "AccessKeys")]
pub struct PyAccessKeys {
    inner: Mutex<KeySet>,
}

/// The core key set and its key ids in insertion order (the core does not list them).
struct KeySet {
    keys: AccessKeys,
    ids: Vec<String>,
}

impl PyAccessKeys {
    fn lock(&self) -> MutexGuard<'_, KeySet> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key_error(py: Python<'_>, e: &AccessKeyError) -> PyErr {
    errors::configuration(py, &e.to_string(), e.code())
}

#[pymethods]
impl PyAccessKeys {
    /// A key set whose primary (and only) key is `secret` under `kid` (1–32 characters
    /// of `[A-Za-z0-9-]`). `secret`: any bytes-like object (`bytes`, `bytearray`,
    /// `memoryview`, `array`); the copy taken of it is wiped once keyed.
    #[new]
    fn new(py: Python<'_>, kid: &str, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let secret = input::secret(secret, "secret")?;
        let keys = AccessKeys::new(kid, secret.expose()).map_err(|e| key_error(py, &e))?;
        let ids = vec![kid.to_owned()];
        Ok(PyAccessKeys {
            inner: Mutex::new(KeySet { keys, ids }),
        })
    }

    /// Adds a verification key (`secret` as in the constructor).
    fn add(&self, py: Python<'_>, kid: &str, secret: &Bound<'_, PyAny>) -> PyResult<()> {
        let secret = input::secret(secret, "secret")?;
        let mut set = self.lock();
        set.keys
            .add(kid, secret.expose())
            .map_err(|e| key_error(py, &e))?;
        set.ids.push(kid.to_owned());
        Ok(())
    }

    /// Makes `kid` the signing key.
    fn set_primary(&self, py: Python<'_>, kid: &str) -> PyResult<()> {
        self.lock()
            .keys
            .set_primary(kid)
            .map_err(|e| key_error(py, &e))
    }

    /// Removes a key (not the primary one: `unknown_access_key`).
    fn remove(&self, py: Python<'_>, kid: &str) -> PyResult<()> {
        let mut set = self.lock();
        set.keys.remove(kid).map_err(|e| key_error(py, &e))?;
        set.ids.retain(|i| i != kid);
        Ok(())
    }

    /// The signing key's id.
    #[getter]
    fn primary_id(&self) -> String {
        self.lock().keys.primary_id().to_owned()
    }

    /// Every key id, in the order added.
    #[getter]
    fn ids(&self) -> Vec<String> {
        self.lock().ids.clone()
    }

    fn __repr__(&self) -> String {
        let set = self.lock();
        format!(
            "AccessKeys(ids={}, primary_id={}, secrets=[REDACTED])",
            crate::py_list(&set.ids),
            crate::py_str(set.keys.primary_id())
        )
    }
}

/// What an access token says (readable by whoever holds the token: signed, not
/// encrypted). Build one to sign test tokens with `AccessVerifier.sign`.
#[pyclass(
    frozen,
    eq,
    get_all,
    module = "portcullis._portcullis",
    name = "AccessClaims"
)]
#[derive(Clone, PartialEq)]
pub struct PyAccessClaims {
    /// The resource owner the token acts for.
    subject: String,
    /// The client it was issued to.
    client_id: String,
    /// The granted scopes, implications expanded, in catalog order.
    scopes: Vec<String>,
    /// Issue time (int seconds).
    issued_at: u64,
    /// Expiry (int seconds): invalid from this second on.
    expires_at: u64,
    /// The token id (`jti`), 16 base62 characters.
    token_id: String,
    /// The grant family, 16 base62 characters.
    family: String,
}

impl PyAccessClaims {
    fn from_core(policy: &Policy, c: &AccessClaims) -> Self {
        PyAccessClaims {
            subject: c.subject.clone(),
            client_id: c.client_id.clone(),
            scopes: policy
                .catalog()
                .names(&c.scopes)
                .map(str::to_owned)
                .collect(),
            issued_at: c.issued_at.0,
            expires_at: c.expires_at.0,
            token_id: c.token_id.to_string(),
            family: c.family.to_string(),
        }
    }

    fn to_core(&self, py: Python<'_>, policy: &Policy) -> PyResult<AccessClaims> {
        Ok(AccessClaims {
            subject: self.subject.clone(),
            client_id: self.client_id.clone(),
            scopes: policy.catalog().grant(&self.scopes).set,
            issued_at: Timestamp(self.issued_at),
            expires_at: Timestamp(self.expires_at),
            token_id: input::key_id(py, &self.token_id)?,
            family: input::key_id(py, &self.family)?,
        })
    }
}

#[pymethods]
impl PyAccessClaims {
    /// Claims to sign (`token_id` and `family`: 16 base62 characters each).
    #[new]
    #[pyo3(signature = (*, subject, client_id, scopes, issued_at, expires_at, token_id, family))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        subject: String,
        client_id: String,
        scopes: &Bound<'_, PyAny>,
        issued_at: u64,
        expires_at: u64,
        token_id: String,
        family: String,
    ) -> PyResult<Self> {
        Ok(PyAccessClaims {
            subject,
            client_id,
            scopes: input::strings(scopes, "scopes")?,
            issued_at,
            expires_at,
            token_id,
            family,
        })
    }

    /// The claims as a dict (the shape of the conformance vectors).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = pyo3::types::PyDict::new(py);
        d.set_item("subject", &self.subject)?;
        d.set_item("client_id", &self.client_id)?;
        d.set_item("scopes", &self.scopes)?;
        d.set_item("issued_at", self.issued_at)?;
        d.set_item("expires_at", self.expires_at)?;
        d.set_item("token_id", &self.token_id)?;
        d.set_item("family", &self.family)?;
        Ok(d.into_any().unbind())
    }

    fn __repr__(&self) -> String {
        format!(
            "AccessClaims(subject={}, client_id={}, scopes={}, issued_at={}, expires_at={}, token_id={}, family={})",
            crate::py_str(&self.subject),
            crate::py_str(&self.client_id),
            crate::py_list(&self.scopes),
            self.issued_at,
            self.expires_at,
            crate::py_str(&self.token_id),
            crate::py_str(&self.family),
        )
    }
}

/// Verifies access tokens (`at.…`) with no storage lookup: the keys, the policy's scope
/// catalog, and a revocation set (revoked grant families, a revocation epoch) that the
/// host pushes. Lock-free; share one instance between a `Checker` (`access_tokens=`)
/// and an `OAuthServer`.
#[pyclass(frozen, module = "portcullis._portcullis", name = "AccessVerifier")]
pub struct PyAccessVerifier {
    pub(crate) inner: Arc<AccessVerifier>,
    pub(crate) policy: Arc<Policy>,
}

fn token_error(py: Python<'_>, e: portcullis::oauth::TokenError) -> PyErr {
    errors::raise(py, "AccessTokenError", (e.to_string(), e.code()))
}

#[pymethods]
impl PyAccessVerifier {
    /// A verifier for tokens under (a snapshot of) `keys` and `policy`'s catalog.
    /// `max_skew`: seconds a token's issue time may lie in the future (default 60).
    #[new]
    #[pyo3(signature = (policy, keys, *, max_skew=60))]
    fn new(policy: &PyPolicy, keys: &PyAccessKeys, max_skew: u64) -> Self {
        let mut verifier = AccessVerifier::new(keys.lock().keys.clone(), policy.inner.catalog());
        verifier.max_skew = max_skew;
        PyAccessVerifier {
            inner: Arc::new(verifier),
            policy: policy.inner.clone(),
        }
    }

    /// Fully verifies a token at `now` (default: the current time): shape, key, MAC,
    /// catalog, revocation, time. Raises `AccessTokenError` (`code`:
    /// `access_token_expired`, …).
    #[pyo3(signature = (token, now=None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyAccessClaims> {
        let token = portcullis::SecretBytes::new(input::bytes_of(token, "token")?);
        let now = input::timestamp(now, "now")?;
        let verifier: &AccessVerifier = &self.inner;
        let claims = py
            .detach(move || verifier.verify(token.expose(), now))
            .map_err(|e| token_error(py, e))?;
        Ok(PyAccessClaims::from_core(&self.policy, &claims))
    }

    /// Checks a token's shape, key, MAC and catalog only (not time, not revocation).
    fn decode(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<PyAccessClaims> {
        let token = portcullis::SecretBytes::new(input::bytes_of(token, "token")?);
        let claims = self
            .inner
            .decode(token.expose())
            .map_err(|e| token_error(py, e))?;
        Ok(PyAccessClaims::from_core(&self.policy, &claims))
    }

    /// Signs `claims` under the primary key (the server does this itself; for tests,
    /// vectors and tools). The token is a bearer secret: do not log it.
    fn sign(&self, py: Python<'_>, claims: &PyAccessClaims) -> PyResult<String> {
        let core = claims.to_core(py, &self.policy)?;
        let token = self.inner.keys().sign(&core, self.policy.catalog());
        Ok(token.expose().to_owned())
    }

    /// Revokes every access token of a grant family (16 base62 characters).
    fn revoke_family(&self, py: Python<'_>, family: &str) -> PyResult<()> {
        self.inner
            .revocations()
            .revoke_family(input::key_id(py, family)?);
        Ok(())
    }

    /// Forgets a revoked family (once its last access token has expired).
    fn forget_family(&self, py: Python<'_>, family: &str) -> PyResult<()> {
        self.inner
            .revocations()
            .forget_family(&input::key_id(py, family)?);
        Ok(())
    }

    /// Whether a family is revoked.
    fn is_family_revoked(&self, py: Python<'_>, family: &str) -> PyResult<bool> {
        Ok(self
            .inner
            .revocations()
            .is_family_revoked(&input::key_id(py, family)?))
    }

    /// How many revoked families are held.
    #[getter]
    fn family_count(&self) -> usize {
        self.inner.revocations().family_count()
    }

    /// Revokes every token issued before `epoch` (raises the epoch; never lowers it).
    fn set_epoch(&self, epoch: &Bound<'_, PyAny>) -> PyResult<()> {
        let epoch = input::required_timestamp(epoch, "epoch")?;
        self.inner.revocations().set_epoch(epoch);
        Ok(())
    }

    /// The revocation epoch (int seconds; 0 = none).
    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.revocations().epoch().0
    }

    /// Seconds a token's issue time may lie in the future.
    #[getter]
    fn max_skew(&self) -> u64 {
        self.inner.max_skew
    }

    /// The signing key's id.
    #[getter]
    fn primary_id(&self) -> String {
        self.inner.keys().primary_id().to_owned()
    }

    fn __repr__(&self) -> String {
        format!(
            "AccessVerifier(primary_id={}, revoked_families={}, epoch={})",
            crate::py_str(self.inner.keys().primary_id()),
            self.inner.revocations().family_count(),
            self.inner.revocations().epoch().0
        )
    }
}

/// A PKCE code challenge (RFC 7636): `method` is `"S256"` or `"plain"`.
#[pyclass(frozen, eq, module = "portcullis._portcullis", name = "PkceChallenge")]
#[derive(Clone, PartialEq)]
pub struct PyPkceChallenge {
    inner: PkceChallenge,
}

#[pymethods]
impl PyPkceChallenge {
    /// A challenge as bound to a code (no grammar check: see `verify`).
    #[new]
    fn new(method: &str, challenge: String) -> PyResult<Self> {
        let method = match method {
            "S256" => ChallengeMethod::S256,
            "plain" => ChallengeMethod::Plain,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "method must be 'S256' or 'plain', not {}",
                    crate::py_str(other)
                )));
            }
        };
        Ok(PyPkceChallenge {
            inner: PkceChallenge { method, challenge },
        })
    }

    /// The S256 challenge of a verifier (for clients and tests).
    #[staticmethod]
    fn s256(verifier: &str) -> Self {
        PyPkceChallenge {
            inner: PkceChallenge::s256(verifier),
        }
    }

    /// Whether `verifier` answers this challenge (grammar checked, constant-time).
    fn verify(&self, verifier: &str) -> bool {
        self.inner.verify(verifier)
    }

    /// `"S256"` or `"plain"`.
    #[getter]
    fn method(&self) -> &'static str {
        self.inner.method.as_str()
    }

    /// The challenge text.
    #[getter]
    fn challenge(&self) -> &str {
        &self.inner.challenge
    }

    fn __repr__(&self) -> String {
        format!(
            "PkceChallenge(method={}, challenge={})",
            crate::py_str(self.inner.method.as_str()),
            crate::py_str(&self.inner.challenge)
        )
    }
}

/// The SHA-256 a store keeps for an opaque token (`rt.…` refresh token, `ac.…` code,
/// `cs.…` client secret), as 32 bytes; `None` if the text has no such shape.
#[pyfunction]
pub fn oauth_token_hash<'py>(py: Python<'py>, token: &str) -> Option<Bound<'py, PyBytes>> {
    TokenHash::of_token(token).map(|h| PyBytes::new(py, &h.0))
}
