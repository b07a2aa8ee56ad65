//! Who did it: the actor recorded with every audit entry, and the filter that reads the
//! audit back.
//!
//! Decisions:
//! - **The host names the actor** (a user's email, a service's name): the store cannot
//!   know who is behind a call. A store handle has a default ([`crate::Options::actor`],
//!   e.g. the CLI's `--actor`); a server acting for many users in one process names the
//!   actor per call with [`crate::Store::acting_as`]. No actor is recorded as the empty
//!   string, which is also what entries written before the `actor` column hold: unknown.
//! - **An [`Actor`] is a validated value, `Copy` and without allocation** (an inline
//!   buffer of [`MAX_ACTOR_LEN`] bytes), so [`crate::Options`] stays `Copy` and naming
//!   the actor per call costs a copy, not an allocation. It is trimmed, then refused when
//!   empty, longer than [`MAX_ACTOR_LEN`] bytes or holding a control character (a
//!   terminal escape or a forged line in a printed log).
//! - **The audit never holds a secret:** entries hold key ids, pepper ids, action names
//!   and the actor, never a key, a hash or pepper bytes; the pepper entry is written from
//!   a [`portcullis::Peppers`] set by reading its id only.
//! - **Append-only:** no code path updates or deletes audit rows (pruning leaves them),
//!   and the schema's triggers refuse an `UPDATE` or `DELETE` of them on both backends.
//! - **Read newest first**, at most [`MAX_AUDIT_PAGE`] entries a call, paged by sequence
//!   number ([`AuditFilter::before`]).

use portcullis::KeyId;
use portcullis::codes::{self, Code, HasCode};
use std::fmt;

/// The longest actor, in bytes (UTF-8).
pub const MAX_ACTOR_LEN: usize = 256;

/// Most entries one [`crate::Store::audit_log`] call returns.
pub const MAX_AUDIT_PAGE: usize = 1_000;

/// Who made a change, as the host names it: non-empty, at most [`MAX_ACTOR_LEN`] bytes,
/// no control characters. [`Actor::UNKNOWN`] (the default) records no one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Actor {
    len: u16,
    bytes: [u8; MAX_ACTOR_LEN],
}

// The length fits the field.
const _: () = assert!(MAX_ACTOR_LEN <= u16::MAX as usize);

impl Actor {
    /// No actor named (recorded as the empty string, as entries older than the column).
    pub const UNKNOWN: Actor = Actor {
        len: 0,
        bytes: [0; MAX_ACTOR_LEN],
    };

    /// Validates `name` (trimmed of surrounding whitespace first).
    pub fn new(name: &str) -> Result<Actor, ActorError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ActorError::Empty);
        }
        if name.len() > MAX_ACTOR_LEN {
            return Err(ActorError::TooLong { len: name.len() });
        }
        if name.chars().any(char::is_control) {
            return Err(ActorError::ControlCharacter);
        }
        let mut bytes = [0; MAX_ACTOR_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Actor {
            // At most MAX_ACTOR_LEN (checked above), which fits (checked at compile time).
            len: name.len() as u16,
            bytes,
        })
    }

    /// The name ("" for [`Actor::UNKNOWN`]).
    pub fn as_str(&self) -> &str {
        // Copied from a `&str` whole: always UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether no actor is named.
    pub fn is_unknown(&self) -> bool {
        self.len == 0
    }
}

impl Default for Actor {
    fn default() -> Self {
        Actor::UNKNOWN
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Actor({:?})", self.as_str())
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Actor {
    type Err = ActorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Actor::new(s)
    }
}

/// Why a name cannot be an [`Actor`]. Its code is the bindings' `invalid_argument`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActorError {
    /// Empty, or only whitespace.
    Empty,
    /// Longer than [`MAX_ACTOR_LEN`] bytes (after trimming).
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// It holds a control character (C0, DEL, C1).
    ControlCharacter,
}

impl ActorError {
    /// The stable machine-readable code (`invalid_argument`).
    pub fn code(&self) -> &'static str {
        self.row().code()
    }
}

impl HasCode for ActorError {
    fn row(&self) -> &'static Code {
        &codes::INVALID_ARGUMENT
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name itself is not repeated: it may be anything the host passed.
        match self {
            ActorError::Empty => f.write_str("the actor is empty"),
            ActorError::TooLong { len } => write!(
                f,
                "the actor is {len} bytes long, more than {MAX_ACTOR_LEN}"
            ),
            ActorError::ControlCharacter => f.write_str("the actor holds a control character"),
        }
    }
}

impl std::error::Error for ActorError {}

/// Which audit entries [`crate::Store::audit_log`] reads: newest first, at most `limit`
/// (capped at [`MAX_AUDIT_PAGE`]), between the exclusive sequence bounds.
///
/// To page back through the whole log, pass the smallest `seq` of a page as the next
/// page's `before`. To read what was appended since `seq` n, set `after: Some(n)` and page
/// with `before` in the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this key's entries (`None`: every entry, the non-key ones too).
    pub key: Option<KeyId>,
    /// Only entries with a sequence number below this.
    pub before: Option<i64>,
    /// Only entries with a sequence number above this.
    pub after: Option<i64>,
    /// At most this many entries (default 100; capped at [`MAX_AUDIT_PAGE`]).
    pub limit: usize,
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            key: None,
            before: None,
            after: None,
            limit: 100,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_is_trimmed_and_refused_when_empty_too_long_or_with_control_characters() {
        assert_eq!(
            Actor::new("  alice@example.com ").map(|a| a.to_string()),
            Ok("alice@example.com".to_owned())
        );
        assert_eq!(Actor::new(" \t "), Err(ActorError::Empty));
        assert_eq!(Actor::new(""), Err(ActorError::Empty));
        let long = "é".repeat(MAX_ACTOR_LEN / 2 + 1);
        assert_eq!(
            Actor::new(&long),
            Err(ActorError::TooLong { len: long.len() })
        );
        let max = "a".repeat(MAX_ACTOR_LEN);
        assert_eq!(
            Actor::new(&max).map(|a| a.as_str().len()),
            Ok(MAX_ACTOR_LEN)
        );
        for bad in ["a\nb", "a\u{1b}[31m", "a\u{7f}", "a\u{9b}b"] {
            assert_eq!(
                Actor::new(bad),
                Err(ActorError::ControlCharacter),
                "{bad:?}"
            );
        }
        assert_eq!(
            Actor::new("生产 ✓").map(|a| a.to_string()),
            Ok("生产 ✓".to_owned())
        );
        assert!(Actor::UNKNOWN.is_unknown() && Actor::default().as_str().is_empty());
        assert_eq!(ActorError::Empty.code(), "invalid_argument");
    }

    #[test]
    fn an_error_never_repeats_the_name() {
        let e = Actor::new(&format!("secret-{}\n", "x".repeat(300))).expect_err("long");
        assert!(!e.to_string().contains("secret"));
    }
}
