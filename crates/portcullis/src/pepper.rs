//! Server-side peppers: named HMAC keys, several live at once so they can rotate.

use crate::format::{MAC_INPUT_LEN, MAC_WINDOW, ParsedKey};
use crate::mac::PreparedHmac;
use std::fmt;

pub(crate) type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Shortest accepted pepper, in bytes (256 bits).
pub const MIN_PEPPER_LEN: usize = 32;
/// Longest pepper id.
pub const MAX_PEPPER_ID_LEN: usize = 32;

/// Why a pepper was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PepperError {
    /// The id is not 1–32 characters of `[A-Za-z0-9_-]`.
    #[error("invalid pepper id {0:?}: use 1-32 characters [A-Za-z0-9_-]")]
    BadId(String),
    /// The secret is shorter than [`MIN_PEPPER_LEN`] bytes.
    #[error("pepper {id:?} is {len} bytes; at least {MIN_PEPPER_LEN} are required")]
    TooShort {
        /// The pepper's id.
        id: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Two peppers share an id.
    #[error("pepper id {0:?} is used twice")]
    Duplicate(String),
    /// `set_primary` named an id that is not in the set.
    #[error("no pepper with id {0:?}")]
    Unknown(String),
}

impl PepperError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            PepperError::BadId(_) => &crate::codes::PEPPER_BAD_ID,
            PepperError::TooShort { .. } => &crate::codes::PEPPER_TOO_SHORT,
            PepperError::Duplicate(_) => &crate::codes::PEPPER_DUPLICATE,
            PepperError::Unknown(_) => &crate::codes::PEPPER_UNKNOWN,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// Whether `id` is a valid pepper id.
pub fn is_valid_pepper_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PEPPER_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Clone)]
struct Pepper {
    id: String,
    /// The key's HMAC states, prepared once: each MAC of a key's `{id}_{secret}` costs
    /// two SHA-256 compressions.
    mac: PreparedHmac,
}

/// A set of named peppers; new records use the primary, old records name theirs.
///
/// Keep peppers outside the database (a secrets manager, a file readable only by the
/// service). Immutable once built and safe to share between threads. Cloning copies the
/// prepared HMAC states (zeroized on drop), never exposing the secrets; adding a pepper
/// never leaves an unwiped copy of the others' states in freed memory.
#[derive(Clone)]
pub struct Peppers {
    peppers: Vec<Pepper>,
    primary: usize,
}

impl Peppers {
    /// A set whose primary (and only) pepper is `secret` under `id`.
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, PepperError> {
        Ok(Peppers {
            peppers: vec![make(id, secret)?],
            primary: 0,
        })
    }

    /// Adds an older pepper that existing records may still name.
    pub fn add(&mut self, id: &str, secret: &[u8]) -> Result<(), PepperError> {
        if self.index(id).is_some() {
            return Err(PepperError::Duplicate(id.to_owned()));
        }
        let pepper = make(id, secret)?;
        if self.peppers.len() == self.peppers.capacity() {
            // A reallocation would move the HMAC states and free the old buffer unwiped:
            // copy them instead, and drop the old buffer's peppers in place (which wipes them).
            let mut grown = Vec::with_capacity(2 * self.peppers.len() + 1);
            grown.extend(self.peppers.iter().cloned());
            self.peppers = grown;
        }
        self.peppers.push(pepper);
        Ok(())
    }

    /// Makes the pepper `id` the one new records use.
    pub fn set_primary(&mut self, id: &str) -> Result<(), PepperError> {
        self.primary = self
            .index(id)
            .ok_or_else(|| PepperError::Unknown(id.to_owned()))?;
        Ok(())
    }

    /// The primary pepper's id.
    pub fn primary_id(&self) -> &str {
        &self.peppers[self.primary].id
    }

    /// Every pepper id, primary first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        let primary = self.primary;
        std::iter::once(self.primary_id()).chain(
            self.peppers
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i != primary)
                .map(|(_, p)| p.id.as_str()),
        )
    }

    pub(crate) fn index(&self, id: &str) -> Option<usize> {
        self.peppers
            .iter()
            .position(|p| crate::bytes::eq_public(p.id.as_bytes(), id.as_bytes()))
    }

    pub(crate) fn primary_index(&self) -> usize {
        self.primary
    }

    /// HMAC-SHA256 of a key's `{id}_{secret}` under the pepper at `index`.
    pub(crate) fn mac(&self, index: usize, key: &ParsedKey<'_>) -> [u8; 32] {
        self.peppers[index]
            .mac
            .mac_window::<MAC_INPUT_LEN, MAC_WINDOW>(key.mac_window())
    }
}

fn make(id: &str, secret: &[u8]) -> Result<Pepper, PepperError> {
    if !is_valid_pepper_id(id) {
        return Err(PepperError::BadId(id.to_owned()));
    }
    if secret.len() < MIN_PEPPER_LEN {
        return Err(PepperError::TooShort {
            id: id.to_owned(),
            len: secret.len(),
        });
    }
    let mac = PreparedHmac::new(secret);
    Ok(Pepper {
        id: id.to_owned(),
        mac,
    })
}

impl fmt::Debug for Peppers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peppers")
            .field(
                "ids",
                &self
                    .peppers
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("primary", &self.primary_id())
            .finish_non_exhaustive()
    }
}
