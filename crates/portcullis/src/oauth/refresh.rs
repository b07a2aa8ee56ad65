//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2): `rt.` + 43 base62 (256 bits), stored
//! only as their SHA-256, rotated on every use. The rotated token stays in the store,
//! marked, so that its reuse is recognised and revokes the whole grant family.

use crate::format::KeyId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "rt";

/// What the store keeps for a refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The resource owner.
    pub subject: String,
    /// The scope of the grant, canonical; a refresh may only narrow it.
    pub scope: String,
    /// The grant family.
    pub family: KeyId,
    /// When the family started (the first code exchange).
    pub family_started_at: Timestamp,
    /// When this token was issued.
    pub issued_at: Timestamp,
    /// When it was rotated (used); `None` while it is the family's current token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
}
