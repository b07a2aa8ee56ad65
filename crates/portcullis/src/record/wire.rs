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

/// Reads the exact layout [`KeyRecord::to_json`] writes (fields in its order, no
/// whitespace, no escapes, no metadata) without serde, for the database store's cache
/// misses. Anything else is `None` and takes serde's path, whose answers (and errors) are
/// the reference: where this returns a record, serde returns the same one.
pub(super) fn canonical(text: &str) -> Option<KeyRecord> {
    let mut c = Cursor(text);
    c.eat("{\"id\":")?;
    let id = KeyId::parse(c.string()?).ok()?;
    c.eat(",\"name\":")?;
    let name = c.string()?.to_owned();
    c.eat(",\"owner\":")?;
    let owner = c.string()?.to_owned();
    c.eat(",\"kind\":")?;
    let kind = Label::checked(c.string()?)?;
    c.eat(",\"env\":")?;
    let env = Label::checked(c.string()?)?;
    c.eat(",\"scopes\":[")?;
    let scopes = c.strings()?;
    c.eat(",\"hash\":")?;
    let hash = Cow::Borrowed(c.string()?);
    c.eat(",\"created_at\":")?;
    let created_at = c.time()?;
    let not_before = c.optional(",\"not_before\":", Cursor::time)?;
    let expires_at = c.optional(",\"expires_at\":", Cursor::time)?;
    let revoked_at = c.optional(",\"revoked_at\":", Cursor::time)?;
    let rotated_from = c.optional(",\"rotated_from\":", |c| KeyId::parse(c.string()?).ok())?;
    (c.0 == "}").then_some(())?;
    Some(KeyRecord::from(RecordWire {
        id,
        name,
        owner,
        kind,
        env,
        scopes,
        hash,
        created_at,
        not_before,
        expires_at,
        revoked_at,
        rotated_from,
        metadata: Metadata::new(),
    }))
}

/// The unread rest of a canonical record.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn eat(&mut self, literal: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(literal)?;
        Some(())
    }

    /// A string without escapes or control characters (JSON allows neither raw).
    fn string(&mut self) -> Option<&'a str> {
        let rest = self.0.strip_prefix('"')?;
        let end = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        (rest.as_bytes()[end] == b'"').then_some(())?;
        self.0 = &rest[end + 1..];
        Some(&rest[..end])
    }

    /// The rest of a non-empty array of strings, after its `[`.
    fn strings(&mut self) -> Option<Vec<String>> {
        let mut all = Vec::new();
        if self.eat("]").is_some() {
            return Some(all);
        }
        loop {
            all.push(self.string()?.to_owned());
            if self.eat("]").is_some() {
                return Some(all);
            }
            self.eat(",")?;
        }
    }

    /// A JSON number that is a `u64` written as serde writes it (no sign, no leading zero,
    /// no fraction or exponent).
    fn time(&mut self) -> Option<Timestamp> {
        let digits = self.0.bytes().take_while(u8::is_ascii_digit).count();
        let (number, rest) = self.0.split_at(digits);
        if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
            return None;
        }
        if rest.starts_with(['.', 'e', 'E']) {
            return None;
        }
        self.0 = rest;
        number.parse().ok().map(Timestamp)
    }

    /// A field that may be absent: `Some(None)` when it is, `None` when it is malformed.
    fn optional<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.eat(name).is_none() {
            return Some(None);
        }
        read(self).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "hmac-sha256$p1$VJKbJOumODcxJIOhOGun1W3siJmUM0IkQxnMq20WNUY";

    /// Records in the layouts `to_json` writes: every optional field, both schemes, a
    /// corrupt hash, odd names, escapes and metadata (the last two are serde's).
    fn samples() -> Vec<String> {
        let base = format!(
            r#""id":"1MEBtNEy0CkF5LHa","owner":"org_0","kind":"sk","env":"live","hash":"{HASH}","created_at":1800000000"#
        );
        let extra = [
            r#""name":"bench","scopes":["claims:read"]"#,
            r#""name":"","scopes":[]"#,
            r#""name":"Prod – ünïcode ☃","scopes":["a","b:c","orders:read"]"#,
            r#""name":"q\"uote\\ \n","scopes":["a"]"#,
            r#""name":"n","scopes":["a"],"not_before":0,"expires_at":1800003600,"revoked_at":18446744073709551615,"rotated_from":"AAAAAAAAAAAAAAAA""#,
            r#""name":"n","scopes":["a"],"expires_at":1"#,
            r#""name":"n","scopes":["a"],"metadata":{"team":"x"}"#,
        ];
        let mut all: Vec<String> = extra.iter().map(|e| format!("{{{base},{e}}}")).collect();
        all.push(all[0].replace(HASH, "sha256$VJKbJOumODcxJIOhOGun1W3siJmUM0IkQxnMq20WNUY"));
        all.push(all[0].replace(HASH, "hmac-sha256$p1$not-base64"));
        all.iter()
            .map(|text| {
                let record: KeyRecord = serde_json::from_str(text).expect("a sample");
                record.to_json()
            })
            .collect()
    }

    /// Where the fast path answers, serde answers the same record.
    fn agrees(text: &str) -> bool {
        let Some(fast) = canonical(text) else {
            return false;
        };
        let slow: KeyRecord = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("fast path read {text:?}, serde refused it: {e}"));
        assert!(fast == slow, "fast path differs from serde on {text:?}");
        true
    }

    #[test]
    fn the_layout_to_json_writes_is_read_without_serde() {
        let samples = samples();
        let read = samples.iter().filter(|s| agrees(s)).count();
        // All but the escaped name and the metadata.
        assert_eq!(read, samples.len() - 2, "{samples:#?}");
        let fast = canonical(&samples[0]).expect("read");
        assert!(fast.validate().is_ok());
        assert_eq!(fast.to_json(), samples[0]);
    }

    #[test]
    fn every_one_byte_edit_is_read_as_serde_reads_it_or_left_to_serde() {
        const EDITS: &[u8] = b"\"\\01 9a,}]{[:-.eE\n\x01";
        let mut fast = 0;
        for sample in samples() {
            let bytes = sample.as_bytes();
            for at in 0..=bytes.len() {
                let mut variants =
                    vec![[&bytes[..at], &bytes[(at + 1).min(bytes.len())..]].concat()];
                for &b in EDITS {
                    variants.push([&bytes[..at], &[b], &bytes[at..]].concat());
                    if at < bytes.len() {
                        variants.push([&bytes[..at], &[b], &bytes[at + 1..]].concat());
                    }
                }
                for v in variants {
                    if let Ok(text) = std::str::from_utf8(&v) {
                        fast += usize::from(agrees(text));
                    }
                }
            }
        }
        assert!(fast > 1_000, "only {fast} edits were read by the fast path");
    }
}
