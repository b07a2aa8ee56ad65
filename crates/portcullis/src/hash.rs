//! Stored key hashes: one self-describing string per record.
//!
//! Two schemes:
//! - `hmac-sha256$<pepper-id>$<digest>`: HMAC-SHA256 under the named pepper of the key's
//!   `{id}_{secret}` bytes. Every key portcullis issues uses it.
//! - `sha256$<digest>`: plain SHA-256 of the whole key text, for keys imported from an
//!   older system that stored unpeppered hashes. They verify, and are flagged for rehash.
//!
//! `<digest>` is the 32-byte digest in unpadded base64url (43 characters). Digests are
//! compared in constant time on fixed-length arrays, never with `==`.

use crate::format::ParsedKey;
use crate::pepper::{Peppers, is_valid_pepper_id};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;
use std::fmt;

const HMAC_TAG: &str = "hmac-sha256$";
const SHA_TAG: &str = "sha256$";
const DIGEST_B64_LEN: usize = 43;

/// A digest stored in a record, decoded.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredHash {
    /// HMAC-SHA256 under the named pepper.
    Hmac {
        /// The pepper id the record names.
        pepper_id: String,
        /// The 32-byte MAC.
        digest: [u8; 32],
    },
    /// Plain SHA-256 of the whole key (legacy imports).
    Sha256 {
        /// The 32-byte digest.
        digest: [u8; 32],
    },
}

/// Why a stored hash string could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HashError {
    /// The scheme tag is neither `hmac-sha256$` nor `sha256$`.
    #[error("unknown hash scheme")]
    UnknownScheme,
    /// The pepper id is missing or malformed.
    #[error("malformed pepper id in hash")]
    BadPepperId,
    /// The digest is not 43 characters of unpadded base64url encoding 32 bytes.
    #[error("malformed digest in hash")]
    BadDigest,
}

impl HashError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            HashError::UnknownScheme => &crate::codes::HASH_UNKNOWN_SCHEME,
            HashError::BadPepperId => &crate::codes::HASH_BAD_PEPPER_ID,
            HashError::BadDigest => &crate::codes::HASH_BAD_DIGEST,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// How a presented key compares with a record's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashCheck {
    /// The secret matches. `needs_rehash` is set when the record uses a non-primary pepper
    /// or the legacy scheme: call [`crate::Checker::rehash`] with the presented key and
    /// store the updated record.
    Match {
        /// The record should be rehashed under the primary pepper.
        needs_rehash: bool,
    },
    /// The secret does not match.
    Mismatch,
    /// The record names a pepper this deployment does not have.
    UnknownPepper,
}

impl StoredHash {
    /// Decodes a hash string.
    pub fn parse(text: &str) -> Result<Self, HashError> {
        if let Some(rest) = text.strip_prefix(HMAC_TAG) {
            let (pepper_id, digest) = rest.split_once('$').ok_or(HashError::BadPepperId)?;
            if !is_valid_pepper_id(pepper_id) {
                return Err(HashError::BadPepperId);
            }
            Ok(StoredHash::Hmac {
                pepper_id: pepper_id.to_owned(),
                digest: decode_digest(digest)?,
            })
        } else if let Some(digest) = text.strip_prefix(SHA_TAG) {
            Ok(StoredHash::Sha256 {
                digest: decode_digest(digest)?,
            })
        } else {
            Err(HashError::UnknownScheme)
        }
    }

    /// The hash of a key under the primary pepper.
    pub fn compute(peppers: &Peppers, key: &ParsedKey<'_>) -> Self {
        let index = peppers.primary_index();
        StoredHash::Hmac {
            pepper_id: peppers.primary_id().to_owned(),
            digest: peppers.mac(index, key),
        }
    }

    /// The legacy plain SHA-256 hash of a whole key text, for importing keys whose old
    /// system stored that.
    pub fn legacy_sha256(key_text: &str) -> Self {
        StoredHash::Sha256 {
            digest: sha2::Sha256::digest(key_text.as_bytes()).into(),
        }
    }

    /// Checks a presented key against this hash. Computes exactly one MAC or digest and
    /// compares in constant time.
    pub fn check(&self, peppers: &Peppers, key: &ParsedKey<'_>) -> HashCheck {
        match self {
            StoredHash::Hmac { pepper_id, digest } => {
                check_digest(Some(pepper_id), digest, peppers, key)
            }
            StoredHash::Sha256 { digest } => check_digest(None, digest, peppers, key),
        }
    }

    /// The self-describing string form.
    pub fn encode(&self) -> String {
        match self {
            StoredHash::Hmac { pepper_id, digest } => {
                format!("{HMAC_TAG}{pepper_id}${}", URL_SAFE_NO_PAD.encode(digest))
            }
            StoredHash::Sha256 { digest } => format!("{SHA_TAG}{}", URL_SAFE_NO_PAD.encode(digest)),
        }
    }

    /// The pepper id, for HMAC hashes.
    pub fn pepper_id(&self) -> Option<&str> {
        match self {
            StoredHash::Hmac { pepper_id, .. } => Some(pepper_id),
            StoredHash::Sha256 { .. } => None,
        }
    }
}

/// Checks a presented key against a digest made under `pepper_id` (HMAC) or, with `None`,
/// by plain SHA-256 of the whole key. Computes exactly one MAC or digest and compares in
/// constant time.
pub(crate) fn check_digest(
    pepper_id: Option<&str>,
    digest: &[u8; 32],
    peppers: &Peppers,
    key: &ParsedKey<'_>,
) -> HashCheck {
    let Some(pepper_id) = pepper_id else {
        let computed = key.legacy_sha256();
        return if ct_eq(&computed, digest) {
            HashCheck::Match { needs_rehash: true }
        } else {
            HashCheck::Mismatch
        };
    };
    let Some(index) = peppers.index(pepper_id) else {
        burn(peppers, key);
        return HashCheck::UnknownPepper;
    };
    let mac = peppers.mac(index, key);
    if ct_eq(&mac, digest) {
        HashCheck::Match {
            needs_rehash: index != peppers.primary_index(),
        }
    } else {
        HashCheck::Mismatch
    }
}

/// Does the work of one MAC and one comparison whose result is thrown away, so that a
/// request for an unknown key id costs what a wrong secret costs.
pub(crate) fn burn(peppers: &Peppers, key: &ParsedKey<'_>) {
    let mac = peppers.mac(peppers.primary_index(), key);
    std::hint::black_box(ct_eq(&mac, &[0u8; 32]));
}

/// Constant-time equality of two 32-byte digests (word-wise, no early exit).
#[inline]
pub(crate) fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    constant_time_eq::constant_time_eq_32(a, b)
}

fn decode_digest(text: &str) -> Result<[u8; 32], HashError> {
    if text.len() != DIGEST_B64_LEN {
        return Err(HashError::BadDigest);
    }
    let mut out = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(text, &mut out) {
        Ok(32) => Ok(out),
        _ => Err(HashError::BadDigest),
    }
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredHash::Hmac { pepper_id, .. } => write!(f, "StoredHash::Hmac({pepper_id}, ..)"),
            StoredHash::Sha256 { .. } => f.write_str("StoredHash::Sha256(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_malformed_hash_strings() {
        assert_eq!(StoredHash::parse("md5$abc"), Err(HashError::UnknownScheme));
        assert_eq!(
            StoredHash::parse("hmac-sha256$abc"),
            Err(HashError::BadPepperId)
        );
        assert_eq!(
            StoredHash::parse("hmac-sha256$a b$x"),
            Err(HashError::BadPepperId)
        );
        assert_eq!(StoredHash::parse("sha256$short"), Err(HashError::BadDigest));
        let padded = format!("sha256${}=", "A".repeat(42));
        assert_eq!(StoredHash::parse(&padded), Err(HashError::BadDigest));
        let nonascii = format!("sha256${}é", "A".repeat(41));
        assert_eq!(StoredHash::parse(&nonascii), Err(HashError::BadDigest));
    }

    #[test]
    fn encode_parse_round_trip() {
        let h = StoredHash::Hmac {
            pepper_id: "p-1".into(),
            digest: [7; 32],
        };
        assert_eq!(StoredHash::parse(&h.encode()), Ok(h));
        let s = StoredHash::Sha256 { digest: [9; 32] };
        assert_eq!(StoredHash::parse(&s.encode()), Ok(s));
    }

    #[test]
    fn debug_hides_digest() {
        let h = StoredHash::Hmac {
            pepper_id: "p1".into(),
            digest: [0xAB; 32],
        };
        assert!(!format!("{h:?}").contains("q6urq"));
        assert_eq!(format!("{h:?}"), "StoredHash::Hmac(p1, ..)");
    }
}
