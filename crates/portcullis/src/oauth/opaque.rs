//! Opaque tokens (codes, refresh tokens, client secrets): `{prefix}.{43 base62}`, 256 bits
//! of randomness, stored only as their SHA-256.

use crate::random::{RandomError, RandomSource, fill_base62};
use crate::secret::SecretString;
use sha2::{Digest, Sha256};

/// Base62 characters after the prefix (43 × log2(62) ≈ 256 bits).
pub(crate) const BODY_LEN: usize = 43;

/// The SHA-256 of an opaque token: what stores keep.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

impl TokenHash {
    /// The hash a store keeps for an opaque token text — a refresh token (`rt.`), an
    /// authorization code (`ac.`) or a client secret (`cs.`) — if it has that shape
    /// (prefix, `.`, 43 base62 characters); `None` for anything else. For hosts and
    /// bindings that look tokens up by hash (and for the conformance vectors).
    pub fn of_token(token: &str) -> Option<TokenHash> {
        ["rt", "ac", "cs"]
            .into_iter()
            .find_map(|prefix| parse(prefix, token))
    }
}

/// A fresh token with `prefix` (`"rt"`), and its hash.
pub(crate) fn mint(
    prefix: &str,
    rng: &dyn RandomSource,
) -> Result<(SecretString, TokenHash), RandomError> {
    let mut body = zeroize::Zeroizing::new([0u8; BODY_LEN]);
    fill_base62(rng, &mut body[..])?;
    let mut text = String::with_capacity(prefix.len() + 1 + BODY_LEN);
    text.push_str(prefix);
    text.push('.');
    text.extend(body.iter().map(|&b| char::from(b)));
    let hash = hash_text(&text);
    Ok((SecretString::new(text), hash))
}

/// The hash of a presented token, if it has the shape of a `prefix` token; `None` for
/// anything else (so garbage never reaches a store).
pub(crate) fn parse(prefix: &str, presented: &str) -> Option<TokenHash> {
    let body = presented.strip_prefix(prefix)?.strip_prefix('.')?;
    let well_formed = body.len() == BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| hash_text(presented))
}

fn hash_text(text: &str) -> TokenHash {
    TokenHash(Sha256::digest(text.as_bytes()).into())
}

/// Constant-time comparison of two hashes.
pub(crate) fn hashes_equal(a: &TokenHash, b: &TokenHash) -> bool {
    crate::hash::ct_eq(&a.0, &b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_token_hashes_only_opaque_token_shapes() {
        let body = "A".repeat(BODY_LEN);
        for prefix in ["rt", "ac", "cs"] {
            let token = format!("{prefix}.{body}");
            assert_eq!(TokenHash::of_token(&token), Some(hash_text(&token)));
        }
        assert_eq!(TokenHash::of_token(&format!("xx.{body}")), None);
        assert_eq!(TokenHash::of_token(&format!("rt.{}", &body[1..])), None);
        assert_eq!(TokenHash::of_token(&format!("rt.{}-", &body[1..])), None);
        assert_eq!(TokenHash::of_token("at.k1.x.y"), None);
    }
}
