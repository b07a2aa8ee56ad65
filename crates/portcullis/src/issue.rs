//! Issuing and rotating keys. The plaintext exists once, in the returned [`IssuedKey`].
//!
//! Decisions made here:
//! - A lifetime (`ttl`) of zero is refused ([`IssueError::ZeroTtl`]): such a key would be
//!   expired the moment it is issued. "Never expires" is spelled `None`, never `0`.
//! - Rotation goes through the same spec checks as issuing: a scope the catalog no longer
//!   knows, or a kind or environment the policy no longer accepts, is refused with the
//!   same typed error instead of being copied to the successor.
//! - The successor inherits the predecessor's constraints in time: its `not_before`, its
//!   lifetime length and a revocation scheduled for the future (a rotation must not be a
//!   way around a revocation that is already decided).

use crate::checker::Checker;
use crate::format::{ID_LEN, KeyId, SECRET_LEN, assemble, is_valid_label};
use crate::hash::StoredHash;
use crate::random::{OsRandom, RandomError, RandomSource, fill_base62};
use crate::record::{KeyRecord, KeySpec, KeyState};
use crate::secret::SecretString;
use crate::time::Timestamp;
use zeroize::Zeroizing;

/// Longest key name or owner, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A freshly issued key: show `key` to the user once, store `record`.
#[derive(Debug)]
pub struct IssuedKey {
    /// The plaintext key (`sk_live_…`). Redacted in `Debug`; zeroized on drop.
    pub key: SecretString,
    /// The record to store. It holds only the hash.
    pub record: KeyRecord,
}

/// A rotation: the successor key and the predecessor's updated record.
#[derive(Debug)]
pub struct Rotation {
    /// The new key (same name, owner, scopes, kind, environment and metadata).
    pub successor: IssuedKey,
    /// The old record, now expiring at the end of the grace period. Store it.
    pub predecessor: KeyRecord,
}

/// Why a key could not be issued or rotated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// A scope or pattern the catalog does not know.
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
    /// The kind is not accepted by the policy.
    #[error("key kind {0:?} is not accepted by the policy")]
    Kind(String),
    /// The environment is not accepted by the policy.
    #[error("environment {0:?} is not accepted by the policy")]
    Env(String),
    /// Name or owner empty or longer than [`MAX_NAME_LEN`].
    #[error("{0} must be 1-{MAX_NAME_LEN} bytes")]
    Field(&'static str),
    /// A lifetime of zero seconds: the key would be expired when issued. Leave the
    /// lifetime out (`None`) for a key that never expires.
    #[error("ttl must be at least 1 second (leave it out for a key that never expires)")]
    ZeroTtl,
    /// Rotating a key that is revoked or expired would bring it back to life.
    #[error("key {0} is revoked or expired and cannot be rotated")]
    Inactive(KeyId),
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl IssueError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            IssueError::UnknownScope(_) => &crate::codes::ISSUE_UNKNOWN_SCOPE,
            IssueError::Kind(_) => &crate::codes::ISSUE_UNKNOWN_KIND,
            IssueError::Env(_) => &crate::codes::ISSUE_UNKNOWN_ENV,
            IssueError::Field(_) => &crate::codes::ISSUE_BAD_FIELD,
            IssueError::ZeroTtl => &crate::codes::ISSUE_BAD_TTL,
            IssueError::Inactive(_) => &crate::codes::ISSUE_INACTIVE,
            IssueError::Random(_) => &crate::codes::ISSUE_RANDOM,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

impl Checker {
    /// Issues a key of the policy's first kind for this deployment's environment, from
    /// the OS CSPRNG.
    pub fn issue(&self, spec: &KeySpec, now: Timestamp) -> Result<IssuedKey, IssueError> {
        let kind = self
            .policy()
            .format()
            .kinds()
            .first()
            .cloned()
            .unwrap_or_default();
        let env = self.policy().deployment_env().to_owned();
        self.issue_with(&kind, &env, spec, now, &OsRandom::new())
    }

    /// Issues a key of a given kind and environment from a given random source.
    pub fn issue_with(
        &self,
        kind: &str,
        env: &str,
        spec: &KeySpec,
        now: Timestamp,
        rng: &dyn RandomSource,
    ) -> Result<IssuedKey, IssueError> {
        self.check_spec(kind, env, spec)?;
        self.mint(kind, env, spec, now, rng, None)
    }

    /// Issues the successor of `old` and sets `old` to expire after `grace` seconds (or at
    /// its own earlier expiry). The successor keeps the predecessor's lifetime length when
    /// it had one, so rotation never turns an expiring key into a permanent one; it keeps
    /// its `not_before` (not valid before the predecessor was) and a revocation scheduled
    /// for the future (revoked at the same time). The predecessor's name, owner, scopes,
    /// kind and environment go through the same checks as [`Checker::issue_with`]: a scope
    /// the catalog no longer knows, or a kind or environment the policy no longer accepts,
    /// is refused with the same [`IssueError`].
    pub fn rotate(
        &self,
        old: &KeyRecord,
        grace: u64,
        now: Timestamp,
    ) -> Result<Rotation, IssueError> {
        self.rotate_with(old, grace, now, &OsRandom::new())
    }

    /// [`Checker::rotate`] with a given random source.
    pub fn rotate_with(
        &self,
        old: &KeyRecord,
        grace: u64,
        now: Timestamp,
        rng: &dyn RandomSource,
    ) -> Result<Rotation, IssueError> {
        // A key not yet valid may be rotated (its successor keeps the not-before time).
        if matches!(old.state(now), KeyState::Revoked | KeyState::Expired) {
            return Err(IssueError::Inactive(old.id()));
        }
        let spec = KeySpec {
            name: old.name().to_owned(),
            owner: old.owner().to_owned(),
            scopes: old.scopes().to_vec(),
            ttl: old.expires_at().map(|e| e.since(old.created_at())),
            not_before: old.not_before(),
            metadata: old.metadata().clone(),
        };
        self.check_spec(old.kind(), old.env(), &spec)?;
        let mut successor = self.mint(old.kind(), old.env(), &spec, now, rng, Some(old.id()))?;
        // Not dead, so any revocation is scheduled after `now`: the successor shares it.
        if let Some(at) = old.revoked_at() {
            successor.record.revoke(at);
        }
        let mut predecessor = old.clone();
        let end = now.plus(grace);
        predecessor.set_expires_at(Some(old.expires_at().map_or(end, |e| e.min(end))));
        Ok(Rotation {
            successor,
            predecessor,
        })
    }

    fn check_spec(&self, kind: &str, env: &str, spec: &KeySpec) -> Result<(), IssueError> {
        let format = self.policy().format();
        if !is_valid_label(kind) || !format.kinds().iter().any(|k| k == kind) {
            return Err(IssueError::Kind(kind.to_owned()));
        }
        if !is_valid_label(env) || !format.envs().iter().any(|e| e == env) {
            return Err(IssueError::Env(env.to_owned()));
        }
        for (field, value) in [("name", &spec.name), ("owner", &spec.owner)] {
            if value.is_empty() || value.len() > MAX_NAME_LEN {
                return Err(IssueError::Field(field));
            }
        }
        if spec.ttl == Some(0) {
            return Err(IssueError::ZeroTtl);
        }
        let catalog = self.policy().catalog();
        match spec.scopes.iter().find(|s| catalog.pattern(s).is_none()) {
            Some(unknown) => Err(IssueError::UnknownScope(unknown.clone())),
            None => Ok(()),
        }
    }

    fn mint(
        &self,
        kind: &str,
        env: &str,
        spec: &KeySpec,
        now: Timestamp,
        rng: &dyn RandomSource,
        rotated_from: Option<KeyId>,
    ) -> Result<IssuedKey, IssueError> {
        let mut id_chars = [0u8; ID_LEN];
        fill_base62(rng, &mut id_chars)?;
        let id = KeyId::from_valid(&id_chars);
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        fill_base62(rng, &mut secret[..])?;
        let key = SecretString::new(assemble(kind, env, &id, &secret[..]));
        let parsed = self
            .policy()
            .format()
            .parse(key.expose().as_bytes())
            .map_err(|_| IssueError::Kind(kind.to_owned()))?;
        let hash = StoredHash::compute(self.peppers(), &parsed);
        let record = KeyRecord::assemble(id, kind, env, spec, &hash, now, rotated_from);
        Ok(IssuedKey { key, record })
    }
}
