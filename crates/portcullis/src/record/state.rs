//! A key's lifecycle state at a given time: the one place that decides it.
//!
//! Decisions written down here:
//! - Every bound is a closed start: revoked from `revoked_at` on, expired from `expires_at`
//!   on, valid from `not_before` on (so a key is not yet valid strictly before it).
//! - When several apply, revocation wins over not-yet-valid, which wins over expiry: the
//!   order the checker refuses in, so a status shown beside a decision never contradicts it.
//! - The policy's maximum age is not a state: it depends on the policy, not the record, and
//!   the checker applies it after this.

use std::fmt;

/// Where a key stands at a given time ([`crate::KeyRecord::state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Usable: not revoked, not expired, valid from its not-before time.
    Active,
    /// Revoked at or before the time.
    Revoked,
    /// Expired at or before the time.
    Expired,
    /// Its not-before time is still to come.
    NotYetValid,
}

impl KeyState {
    /// A stable machine-readable name: `active`, `revoked`, `expired`, `not_yet_valid`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Expired => "expired",
            KeyState::NotYetValid => "not_yet_valid",
        }
    }

    /// Whether the key is usable at the time.
    pub const fn is_active(&self) -> bool {
        matches!(self, KeyState::Active)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
