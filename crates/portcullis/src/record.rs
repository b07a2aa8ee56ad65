//! The stored form of a key: everything but the secret.

use crate::format::{DisplayKey, KeyId, MAX_LABEL_LEN, is_valid_label};
use crate::hash::{HashError, StoredHash};
use crate::scope::{Catalog, Grant};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, OnceLock};

mod profile;
mod state;
mod wire;

pub(crate) use profile::{Profile, Scheme};
pub use state::KeyState;

/// Free-form host data attached to a record.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A key record, as the host stores it (serde: JSON, a database row, …).
///
/// Holds no secret: only the digest of the key under a pepper. Fields are read through
/// accessors and changed through methods, so the compiled scopes that portcullis caches
/// never go stale.
///
/// The layout is compact because stores hold millions of these (the serialised form is
/// `record/wire.rs`, unchanged): the hash is kept decoded (32 bytes inline, not its
/// 58-character text); owner, scopes, kind, environment and hash scheme live in one shared
/// profile that [`crate::MemoryStore`] interns (keys of one organisation with the same
/// permissions share it, and its compiled grant); expiry and revocation are plain integers
/// with presence bits; and what few keys have (not-before, predecessor, metadata) is boxed
/// only when present.
#[derive(Clone, PartialEq)]
pub struct KeyRecord {
    id: KeyId,
    name: Box<str>,
    profile: Arc<Profile>,
    digest: [u8; 32],
    times: Times,
    extras: Option<Box<Extras>>,
}

/// The fields most keys leave empty.
#[derive(Clone, Default, PartialEq)]
struct Extras {
    not_before: Option<Timestamp>,
    rotated_from: Option<KeyId>,
    metadata: Metadata,
}

impl Extras {
    /// `None` when every field is empty, so most records pay one null pointer.
    fn boxed(self) -> Option<Box<Extras>> {
        let empty =
            self.not_before.is_none() && self.rotated_from.is_none() && self.metadata.is_empty();
        (!empty).then(|| Box::new(self))
    }
}

/// The times every check reads: creation always, expiry and revocation when their bit is
/// set.
#[derive(Clone, Copy, Default)]
struct Times {
    created_at: u64,
    expires_at: u64,
    revoked_at: u64,
    present: u8,
}

const EXPIRES_AT: u8 = 2;
const REVOKED_AT: u8 = 4;
/// Marks the copy a [`crate::MemoryStore`] keeps of a record it has replicated
/// (`lookup/hot.rs`); a mark of the store, not part of the record: never compared or
/// serialised, and cleared when a store takes the record in.
const REPLICATED: u8 = 8;

impl PartialEq for Times {
    fn eq(&self, other: &Self) -> bool {
        self.created_at == other.created_at
            && self.expires_at == other.expires_at
            && self.revoked_at == other.revoked_at
            && self.present & !REPLICATED == other.present & !REPLICATED
    }
}

impl Eq for Times {}

impl Times {
    fn get(&self, bit: u8, value: u64) -> Option<Timestamp> {
        (self.present & bit != 0).then_some(Timestamp(value))
    }

    fn slot(&mut self, bit: u8) -> &mut u64 {
        match bit {
            EXPIRES_AT => &mut self.expires_at,
            _ => &mut self.revoked_at,
        }
    }

    fn set(&mut self, bit: u8, value: Option<Timestamp>) {
        match value {
            Some(t) => {
                *self.slot(bit) = t.0;
                self.present |= bit;
            }
            None => {
                *self.slot(bit) = 0;
                self.present &= !bit;
            }
        }
    }
}

/// Why a record is unusable as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// `kind` or `env` is not a valid label.
    #[error("record {field} {value:?} is not a valid label")]
    BadLabel {
        /// `kind` or `env`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// The hash string does not decode.
    #[error("record hash: {0}")]
    Hash(#[from] HashError),
    /// The JSON form does not parse.
    #[error("record JSON: {0}")]
    Json(String),
}

impl RecordError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            RecordError::BadLabel { .. } => &crate::codes::RECORD_BAD_LABEL,
            RecordError::Hash(_) => &crate::codes::RECORD_BAD_HASH,
            RecordError::Json(_) => &crate::codes::RECORD_BAD_JSON,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// The parts of a new record that issuance does not decide.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeySpec {
    /// A name for people (`Production Integration`).
    pub name: String,
    /// The owning organisation or user.
    pub owner: String,
    /// Granted scopes: names or patterns (`claims:*`).
    pub scopes: Vec<String>,
    /// Lifetime in seconds from creation, at least 1; `None` never expires. `Some(0)` is
    /// refused at issue time ([`crate::IssueError::ZeroTtl`]): the key would be expired
    /// when issued.
    pub ttl: Option<u64>,
    /// Not valid before this time; `None` is valid from creation.
    pub not_before: Option<Timestamp>,
    /// Free-form host data.
    pub metadata: Metadata,
}

impl KeySpec {
    /// A spec with a name, an owner and scopes; no expiry.
    pub fn new<I, S>(name: &str, owner: &str, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        KeySpec {
            name: name.to_owned(),
            owner: owner.to_owned(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            ..KeySpec::default()
        }
    }

    /// The same spec with a lifetime in seconds (at least 1: see [`KeySpec::ttl`]).
    pub fn with_ttl(mut self, secs: u64) -> Self {
        self.ttl = Some(secs);
        self
    }
}

impl KeyRecord {
    pub(crate) fn assemble(
        id: KeyId,
        kind: &str,
        env: &str,
        spec: &KeySpec,
        hash: &StoredHash,
        now: Timestamp,
        rotated_from: Option<KeyId>,
    ) -> Self {
        let (scheme, digest) = Scheme::of(hash);
        let profile = Profile::new(
            spec.owner.clone(),
            spec.scopes.clone(),
            Label::new(kind),
            Label::new(env),
            scheme,
        );
        let mut record = KeyRecord {
            id,
            name: spec.name.as_str().into(),
            profile: Arc::new(profile),
            digest,
            times: Times {
                created_at: now.0,
                ..Times::default()
            },
            extras: Extras {
                not_before: spec.not_before,
                rotated_from,
                metadata: spec.metadata.clone(),
            }
            .boxed(),
        };
        record.times.set(EXPIRES_AT, spec.ttl.map(|t| now.plus(t)));
        record
    }

    /// Builds a record for a key imported from an older system, with its existing hash
    /// string (`sha256$…` for plain SHA-256 of the whole key, or `hmac-sha256$…`).
    pub fn import(
        id: KeyId,
        kind: &str,
        env: &str,
        spec: &KeySpec,
        hash: &str,
        created_at: Timestamp,
    ) -> Result<Self, RecordError> {
        let stored = StoredHash::parse(hash)?;
        check_label("kind", kind)?;
        check_label("env", env)?;
        Ok(Self::assemble(
            id, kind, env, spec, &stored, created_at, None,
        ))
    }

    /// Parses the JSON form, checking labels and the hash string.
    pub fn from_json(text: &str) -> Result<Self, RecordError> {
        // A well-formed record is read in one pass (the layout `to_json` writes without
        // serde); anything else takes the paths below, whose errors are the reported ones.
        // Its labels were checked as they were read (`Label`), so only the hash is left.
        if let Some(record) = wire::canonical(text).or_else(|| serde_json::from_str(text).ok())
            && !matches!(record.profile.scheme, Scheme::Corrupt(..))
        {
            return Ok(record);
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RecordError::Json(e.to_string()))?;
        // Labels are checked first so that a bad one is reported as such, not as JSON.
        for field in ["kind", "env"] {
            if let Some(label) = value.get(field).and_then(serde_json::Value::as_str) {
                check_label(field, label)?;
            }
        }
        let record: KeyRecord =
            serde_json::from_value(value).map_err(|e| RecordError::Json(e.to_string()))?;
        record.validate()?;
        Ok(record)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks what serde cannot: label grammar and the hash string.
    pub fn validate(&self) -> Result<(), RecordError> {
        check_label("kind", self.profile.kind.as_str())?;
        check_label("env", self.profile.env.as_str())?;
        // The scheme alone says whether the hash decoded (no pepper-id copy, unlike
        // `stored_hash`).
        match &self.profile.scheme {
            Scheme::Corrupt(_, error) => Err(RecordError::Hash(*error)),
            _ => Ok(()),
        }
    }

    /// Whether the record has any metadata (a check without it skips tier and credits).
    #[inline]
    pub(crate) fn has_metadata(&self) -> bool {
        self.extras.as_ref().is_some_and(|e| !e.metadata.is_empty())
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }
    /// Whether a store has marked this copy as replicated (`lookup/hot.rs`).
    #[inline]
    pub(crate) fn is_replicated(&self) -> bool {
        self.times.present & REPLICATED != 0
    }
    /// Sets or clears the store's replication mark.
    pub(crate) fn mark_replicated(&mut self, on: bool) {
        if on {
            self.times.present |= REPLICATED;
        } else {
            self.times.present &= !REPLICATED;
        }
    }
    /// The key id, borrowed (what [`crate::MemoryStore`] finds records by).
    pub(crate) fn id_ref(&self) -> &KeyId {
        &self.id
    }
    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The owning organisation or user.
    pub fn owner(&self) -> &str {
        &self.profile.owner
    }
    /// The kind as bytes (hot-path comparisons skip the UTF-8 pass).
    pub(crate) fn kind_bytes(&self) -> &[u8] {
        self.profile.kind.as_bytes()
    }
    /// The environment as bytes.
    pub(crate) fn env_bytes(&self) -> &[u8] {
        self.profile.env.as_bytes()
    }
    /// The key kind (`sk`).
    pub fn kind(&self) -> &str {
        self.profile.kind.as_str()
    }
    /// The environment (`live`).
    pub fn env(&self) -> &str {
        self.profile.env.as_str()
    }
    /// Granted scopes as stored (names or patterns).
    pub fn scopes(&self) -> &[String] {
        &self.profile.scopes
    }
    /// The shared profile (what [`crate::MemoryStore`] interns).
    pub(crate) fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }
    /// Replaces the profile with an equal, shared one (interning).
    pub(crate) fn share(&mut self, profile: Arc<Profile>) {
        debug_assert!(profile == self.profile);
        self.profile = profile;
    }
    /// The hash scheme and the stored digest (zero for a corrupt hash string).
    pub(crate) fn scheme_and_digest(&self) -> (&Scheme, &[u8; 32]) {
        (&self.profile.scheme, &self.digest)
    }
    /// The self-describing hash string (`hmac-sha256$<pepper-id>$<digest>`), encoded from
    /// the decoded form the record keeps; a hash string that did not decode is returned as
    /// it was read.
    pub fn hash(&self) -> String {
        match (&self.profile.scheme, self.stored_hash()) {
            (Scheme::Corrupt(text, _), _) => text.to_string(),
            (_, Ok(hash)) => hash.encode(),
            (_, Err(_)) => String::new(),
        }
    }
    /// When the key was created.
    pub fn created_at(&self) -> Timestamp {
        Timestamp(self.times.created_at)
    }
    /// Not valid before this time.
    pub fn not_before(&self) -> Option<Timestamp> {
        self.extras.as_ref().and_then(|e| e.not_before)
    }
    /// Expiry time.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.times.get(EXPIRES_AT, self.times.expires_at)
    }
    /// Revocation time.
    pub fn revoked_at(&self) -> Option<Timestamp> {
        self.times.get(REVOKED_AT, self.times.revoked_at)
    }
    /// The key this one replaced.
    pub fn rotated_from(&self) -> Option<KeyId> {
        self.extras.as_ref().and_then(|e| e.rotated_from)
    }
    /// Host data.
    pub fn metadata(&self) -> &Metadata {
        static EMPTY: OnceLock<Metadata> = OnceLock::new();
        self.extras
            .as_ref()
            .map_or_else(|| EMPTY.get_or_init(Metadata::new), |e| &e.metadata)
    }

    /// The key's state at `now`: the one rule for a key's status, which the checker, the
    /// CLI and the bindings all use (see [`KeyState`] for the bounds and their order).
    #[inline]
    pub fn state(&self, now: Timestamp) -> KeyState {
        if self.revoked_at().is_some_and(|t| t <= now) {
            KeyState::Revoked
        } else if self.not_before().is_some_and(|t| now < t) {
            KeyState::NotYetValid
        } else if self.expires_at().is_some_and(|t| t <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }

    /// The form of the key safe to log and show: `sk_live_<id>_…` (the same builder as
    /// [`crate::ParsedKey::display`]).
    pub fn display(&self) -> DisplayKey<'_> {
        DisplayKey::new(self.kind(), self.env(), self.id)
    }

    /// Revokes the key from `at` on (keeps an earlier revocation time).
    pub fn revoke(&mut self, at: Timestamp) {
        let at = self.revoked_at().map_or(at, |r| r.min(at));
        self.times.set(REVOKED_AT, Some(at));
    }

    /// Sets or clears the expiry.
    pub fn set_expires_at(&mut self, at: Option<Timestamp>) {
        self.times.set(EXPIRES_AT, at);
    }

    /// Replaces the granted scopes.
    pub fn set_scopes(&mut self, scopes: Vec<String>) {
        self.profile = Arc::new(self.profile.changed(|p| p.scopes = scopes));
    }

    /// Renames the key.
    pub fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    /// Replaces the host data.
    pub fn set_metadata(&mut self, metadata: Metadata) {
        let mut extras = self.extras.take().map(|e| *e).unwrap_or_default();
        extras.metadata = metadata;
        self.extras = extras.boxed();
    }

    /// Replaces the hash (after a rehash under the primary pepper).
    pub fn set_hash(&mut self, hash: &StoredHash) {
        let (scheme, digest) = Scheme::of(hash);
        if scheme != self.profile.scheme {
            self.profile = Arc::new(self.profile.changed(|p| p.scheme = scheme));
        }
        self.digest = digest;
    }

    /// The decoded hash, or why the hash string the record was read with does not decode.
    pub fn stored_hash(&self) -> Result<StoredHash, HashError> {
        self.profile.scheme.with_digest(self.digest)
    }

    /// The effective scopes under `catalog`: compiled once per profile for the first
    /// catalog it is used with (keys sharing a profile share it), computed afresh for any
    /// other.
    pub fn grant(&self, catalog: &Catalog) -> Grant {
        self.profile.grant(catalog)
    }
}

fn check_label(field: &'static str, value: &str) -> Result<(), RecordError> {
    if is_valid_label(value) {
        Ok(())
    } else {
        Err(RecordError::BadLabel {
            field,
            value: value.to_owned(),
        })
    }
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a known scheme tag is shown: a corrupted hash field may hold anything, even
        // a plaintext key pasted into the wrong column.
        let scheme = self.profile.scheme.tag();
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("owner", &self.owner())
            .field("kind", &self.kind())
            .field("env", &self.env())
            .field("scopes", &self.scopes())
            .field("hash", &format_args!("{scheme}$[REDACTED]"))
            .field("created_at", &self.created_at())
            .field("not_before", &self.not_before())
            .field("expires_at", &self.expires_at())
            .field("revoked_at", &self.revoked_at())
            .field("rotated_from", &self.rotated_from())
            .field("metadata", self.metadata())
            .finish()
    }
}

/// A kind or environment label stored inline (they are at most
/// [`MAX_LABEL_LEN`](crate::format::MAX_LABEL_LEN) bytes): no heap allocation per record.
/// Serialised as a string; a string that is not a valid label is refused when read.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Label {
    len: u8,
    bytes: [u8; MAX_LABEL_LEN],
}

impl Label {
    /// Stores `text`, truncated to the maximum length (callers validate first).
    fn new(text: &str) -> Self {
        let mut bytes = [0u8; MAX_LABEL_LEN];
        let len = text.len().min(MAX_LABEL_LEN);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        Label {
            len: len as u8,
            bytes,
        }
    }

    /// Stores `text` if it is a valid label.
    fn checked(text: &str) -> Option<Self> {
        is_valid_label(text).then(|| Label::new(text))
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(MAX_LABEL_LEN)]
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_str(d, |text| {
            if is_valid_label(text) {
                Ok(Label::new(text))
            } else {
                Err(format!(
                    "{text:?} is not a valid label: use 1-8 characters [a-z][a-z0-9]*"
                ))
            }
        })
    }
}

/// Reads a string and converts it with `f`, without copying the string first (serde's
/// `Cow<str>` is always owned, an allocation per field); `f`'s error is a custom one.
pub(crate) fn with_str<'de, D, T, E, F>(d: D, f: F) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    E: fmt::Display,
    F: FnOnce(&str) -> Result<T, E>,
{
    struct StrVisitor<F>(F);

    impl<T, E, F> serde::de::Visitor<'_> for StrVisitor<F>
    where
        E: fmt::Display,
        F: FnOnce(&str) -> Result<T, E>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<Er: serde::de::Error>(self, text: &str) -> Result<T, Er> {
            (self.0)(text).map_err(Er::custom)
        }
    }

    d.deserialize_str(StrVisitor(f))
}
