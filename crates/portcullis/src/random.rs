//! Sources of randomness for issuing keys.
//!
//! Production uses [`OsRandom`] (`ring::rand::SystemRandom`, the OS CSPRNG). A deterministic
//! `SeededRandom` exists only behind the `test-rng` feature, for tests and conformance
//! vectors; the trait is sealed so no other source can be plugged in.

use crate::base62::ALPHABET;
use ring::rand::SecureRandom;

mod sealed {
    pub trait Sealed {}
}

/// A source of uniformly random bytes. Sealed: implemented only by this crate's sources.
pub trait RandomSource: sealed::Sealed + Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// The random source failed (the OS CSPRNG was unavailable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// The operating system's CSPRNG, through `ring::rand::SystemRandom`.
#[derive(Debug)]
pub struct OsRandom(ring::rand::SystemRandom);

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl OsRandom {
    /// A handle to the OS CSPRNG.
    pub fn new() -> Self {
        OsRandom(ring::rand::SystemRandom::new())
    }
}

impl sealed::Sealed for OsRandom {}

impl RandomSource for OsRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(dest).map_err(|_| RandomError)
    }
}

/// A deterministic source for tests and conformance vectors: SHA-256 in counter mode over
/// a seed. **Not for production**; only built with the `test-rng` feature.
#[cfg(feature = "test-rng")]
#[derive(Debug)]
pub struct SeededRandom {
    seed: [u8; 32],
    counter: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "test-rng")]
impl SeededRandom {
    /// A source whose output is fully determined by `seed`.
    pub fn new(seed: &[u8]) -> Self {
        use sha2::Digest;
        let seed = sha2::Sha256::digest(seed).into();
        SeededRandom {
            seed,
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

#[cfg(feature = "test-rng")]
impl sealed::Sealed for SeededRandom {}

#[cfg(feature = "test-rng")]
impl RandomSource for SeededRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        use sha2::Digest;
        for chunk in dest.chunks_mut(32) {
            let n = self
                .counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut h = sha2::Sha256::new();
            h.update(self.seed);
            h.update(n.to_le_bytes());
            let block: [u8; 32] = h.finalize().into();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

/// Fills `out` with uniformly distributed base62 characters by rejection sampling
/// (bytes ≥ 248 are discarded, so every character has probability exactly 1/62).
pub(crate) fn fill_base62(rng: &dyn RandomSource, out: &mut [u8]) -> Result<(), RandomError> {
    let mut pool = zeroize::Zeroizing::new([0u8; 64]);
    let mut filled = 0;
    while filled < out.len() {
        rng.fill(&mut pool[..])?;
        for &b in pool.iter() {
            if b < 248 && filled < out.len() {
                out[filled] = ALPHABET[usize::from(b % 62)];
                filled += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_fill_is_base62_and_varies() {
        let rng = OsRandom::new();
        let mut a = [0u8; 28];
        let mut b = [0u8; 28];
        fill_base62(&rng, &mut a).expect("rng");
        fill_base62(&rng, &mut b).expect("rng");
        assert!(a.iter().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn seeded_is_deterministic() {
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        SeededRandom::new(b"x").fill(&mut a).expect("rng");
        SeededRandom::new(b"x").fill(&mut b).expect("rng");
        assert_eq!(a, b);
    }
}
