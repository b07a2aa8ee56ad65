//! The serialised form of a [`KeyRecord`]: the stable JSON (or row) shape hosts store,
//! separate from the compact in-memory layout.

use super::{EXPIRES_AT, Extras, KeyRecord, Label, Metadata, Profile, REVOKED_AT, Scheme, Times};
use crate::format::KeyId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

/// What a record reads from: every field by name, unknown fields refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordWire<'a> {
    #[serde(deserialize_with = "key_id")]
    id: KeyId,
    name: String,
    owner: String,
    kind: Label,
    env: Label,
    scopes: Vec<String>,
    /// Borrowed from the input when it has no escapes: only its pepper id is kept.
    #[serde(borrow)]
    hash: Cow<'a, str>,
    created_at: Timestamp,
    #[serde(default)]
    not_before: Option<Timestamp>,
    #[serde(default)]
    expires_at: Option<Timestamp>,
    #[serde(default)]
    revoked_at: Option<Timestamp>,
    #[serde(default)]
    rotated_from: Option<KeyId>,
    #[serde(default)]
    metadata: Metadata,
}

/// `KeyId`'s own reading (the same errors), without its copy of the string.
fn key_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<KeyId, D::Error> {
    super::with_str(d, KeyId::parse)
}

/// What a record writes: the same fields, borrowed; absent options and empty metadata
/// are left out.
#[derive(Serialize)]
struct RecordWireRef<'a> {
    id: KeyId,
    name: &'a str,
    owner: &'a str,
    kind: Label,
    env: Label,
    scopes: &'a [String],
    hash: String,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_from: Option<KeyId>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
}

impl From<RecordWire<'_>> for KeyRecord {
    fn from(w: RecordWire<'_>) -> Self {
        let mut times = Times {
            created_at: w.created_at.0,
            ..Times::default()
        };
        times.set(EXPIRES_AT, w.expires_at);
        times.set(REVOKED_AT, w.revoked_at);
        let (scheme, digest) = Scheme::decode(&w.hash);
        KeyRecord {
            id: w.id,
            name: w.name.into_boxed_str(),
            profile: Arc::new(Profile::new(w.owner, w.scopes, w.kind, w.env, scheme)),
            digest,
            times,
            extras: Extras {
                not_before: w.not_before,
                rotated_from: w.rotated_from,
                metadata: w.metadata,
            }
            .boxed(),
        }
    }
}

impl Serialize for KeyRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RecordWireRef {
            id: self.id,
            name: &self.name,
            owner: self.owner(),
            kind: self.profile.kind,
            env: self.profile.env,
            scopes: self.scopes(),
            hash: self.hash(),
            created_at: self.created_at(),
            not_before: self.not_before(),
            expires_at: self.expires_at(),
            revoked_at: self.revoked_at(),
            rotated_from: self.rotated_from(),
            metadata: self.metadata(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for KeyRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RecordWire::deserialize(d).map(KeyRecord::from)
    }
}
