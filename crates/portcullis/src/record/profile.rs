//! What many keys have in common — owner, scopes, kind, environment and hash scheme —
//! held once and shared by their records.
//!
//! A store of a million keys typically holds a few thousand distinct profiles (one per
//! organisation and permission set), so [`crate::MemoryStore`] interns them and a record
//! pays one pointer for all five fields. The scopes the profile grants under a catalog are
//! compiled once per profile, not once per key.

use super::Label;
use crate::hash::{HashError, StoredHash};
use crate::scope::{Catalog, Grant};
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// How a record's digest was made.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    /// HMAC-SHA256 under the named pepper.
    Hmac(Box<str>),
    /// Plain SHA-256 of the whole key (legacy imports).
    Sha256,
    /// A hash string that does not decode, kept as given so that a record read without
    /// validation (serde directly) round-trips unchanged and is refused as
    /// `corrupt_record` when checked.
    Corrupt(Box<str>, HashError),
}

impl Scheme {
    /// Splits a hash string into its scheme and digest (zero when it does not decode).
    pub(crate) fn decode(text: &str) -> (Scheme, [u8; 32]) {
        match StoredHash::parse(text) {
            // The parsed pepper id is moved, not copied again.
            Ok(StoredHash::Hmac { pepper_id, digest }) => {
                (Scheme::Hmac(pepper_id.into_boxed_str()), digest)
            }
            Ok(StoredHash::Sha256 { digest }) => (Scheme::Sha256, digest),
            Err(error) => (Scheme::Corrupt(text.into(), error), [0; 32]),
        }
    }

    /// The scheme and digest of a decoded hash.
    pub(crate) fn of(hash: &StoredHash) -> (Scheme, [u8; 32]) {
        match hash {
            StoredHash::Hmac { pepper_id, digest } => {
                (Scheme::Hmac(pepper_id.as_str().into()), *digest)
            }
            StoredHash::Sha256 { digest } => (Scheme::Sha256, *digest),
        }
    }

    /// The decoded hash with this scheme and digest.
    pub(crate) fn with_digest(&self, digest: [u8; 32]) -> Result<StoredHash, HashError> {
        match self {
            Scheme::Hmac(pepper_id) => Ok(StoredHash::Hmac {
                pepper_id: pepper_id.to_string(),
                digest,
            }),
            Scheme::Sha256 => Ok(StoredHash::Sha256 { digest }),
            Scheme::Corrupt(_, error) => Err(*error),
        }
    }

    /// The scheme's tag, for Debug output (`?` for a corrupt hash, which may hold anything).
    pub(crate) fn tag(&self) -> &'static str {
        match self {
            Scheme::Hmac(_) => "hmac-sha256",
            Scheme::Sha256 => "sha256",
            Scheme::Corrupt(..) => "?",
        }
    }
}

/// The shared part of a record. Equality and hashing cover the fields, not the cache.
#[derive(Clone)]
pub(crate) struct Profile {
    pub(crate) owner: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) kind: Label,
    pub(crate) env: Label,
    pub(crate) scheme: Scheme,
    /// The grant under the first catalog it was asked for, with that catalog's id.
    grant: OnceLock<(u64, Grant)>,
}

impl Profile {
    /// A profile with an empty grant cache.
    pub(crate) fn new(
        owner: String,
        scopes: Vec<String>,
        kind: Label,
        env: Label,
        scheme: Scheme,
    ) -> Self {
        Profile {
            owner,
            scopes,
            kind,
            env,
            scheme,
            grant: OnceLock::new(),
        }
    }

    /// A copy with one change and an empty cache (the grant may no longer hold).
    pub(crate) fn changed(&self, change: impl FnOnce(&mut Profile)) -> Self {
        let mut next = Profile::new(
            self.owner.clone(),
            self.scopes.clone(),
            self.kind,
            self.env,
            self.scheme.clone(),
        );
        change(&mut next);
        next
    }

    /// The effective scopes under `catalog`: cached for the first catalog it is used with,
    /// computed afresh for any other.
    pub(crate) fn grant(&self, catalog: &Catalog) -> Grant {
        let cached = self
            .grant
            .get_or_init(|| (catalog.id(), catalog.grant(&self.scopes)));
        if cached.0 == catalog.id() {
            cached.1
        } else {
            catalog.grant(&self.scopes)
        }
    }
}

impl PartialEq for Profile {
    fn eq(&self, other: &Self) -> bool {
        self.owner == other.owner
            && self.scopes == other.scopes
            && self.kind == other.kind
            && self.env == other.env
            && self.scheme == other.scheme
    }
}

impl Eq for Profile {}

impl Hash for Profile {
    /// Owner and scopes only: they tell profiles apart; the rest is left to equality
    /// (hashing it doubled the cost of interning a record).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.owner.hash(state);
        self.scopes.hash(state);
    }
}
