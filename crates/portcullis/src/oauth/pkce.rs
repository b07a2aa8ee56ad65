//! PKCE (RFC 7636): code challenges and verifiers.
//!
//! S256 is the default and the only method unless `plain` is enabled. Verifiers are
//! 43–128 characters of `[A-Za-z0-9-._~]` (§4.1); challenges have the same grammar
//! (§4.2: an S256 challenge is exactly 43 base64url characters). Comparison is constant
//! time on the SHA-256 of both sides, so it takes the same time whatever the length.

use super::error::OAuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A challenge method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChallengeMethod {
    /// `S256`: challenge = BASE64URL(SHA256(verifier)).
    S256,
    /// `plain`: challenge = verifier (only when enabled).
    Plain,
}

impl ChallengeMethod {
    /// The wire form.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ChallengeMethod::S256 => "S256",
            ChallengeMethod::Plain => "plain",
        }
    }
}

/// A validated code challenge, as bound to an authorization code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PkceChallenge {
    /// The method.
    pub method: ChallengeMethod,
    /// The challenge text.
    pub challenge: String,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `text` has the verifier grammar `43*128unreserved` (RFC 7636 §4.1).
pub fn is_valid_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len()) && text.bytes().all(is_unreserved)
}

impl PkceChallenge {
    /// Validates an authorization request's `code_challenge` and `code_challenge_method`.
    /// No method means `plain` (RFC 7636 §4.3), which is refused unless `allow_plain`.
    pub fn parse(
        challenge: &str,
        method: Option<&str>,
        allow_plain: bool,
    ) -> Result<Self, OAuthError> {
        let method = match method {
            Some("S256") => ChallengeMethod::S256,
            Some("plain") | None if allow_plain => ChallengeMethod::Plain,
            Some("plain") | None => {
                return Err(OAuthError::request("code_challenge_method must be S256"));
            }
            Some(_) => {
                return Err(OAuthError::request("unsupported code_challenge_method"));
            }
        };
        let ok = match method {
            ChallengeMethod::S256 => {
                challenge.len() == 43 && URL_SAFE_NO_PAD.decode(challenge).is_ok()
            }
            ChallengeMethod::Plain => is_valid_verifier(challenge),
        };
        if !ok {
            return Err(OAuthError::request("malformed code_challenge"));
        }
        Ok(PkceChallenge {
            method,
            challenge: challenge.to_owned(),
        })
    }

    /// The S256 challenge of a verifier (for clients and tests).
    pub fn s256(verifier: &str) -> Self {
        PkceChallenge {
            method: ChallengeMethod::S256,
            challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        }
    }

    /// Whether `verifier` answers this challenge (grammar checked, constant-time compare).
    pub fn verify(&self, verifier: &str) -> bool {
        if !is_valid_verifier(verifier) {
            return false;
        }
        let expected = match self.method {
            ChallengeMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            ChallengeMethod::Plain => verifier.to_owned(),
        };
        let a: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
        let b: [u8; 32] = Sha256::digest(self.challenge.as_bytes()).into();
        crate::hash::ct_eq(&a, &b)
    }
}
