//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2): `rt.` + 43 base62 (256 bits), stored
//! only as their SHA-256, rotated on every use. The rotated token stays in the store,
//! marked, so that its reuse is recognised and revokes the whole grant family.
//!
//! Decisions:
//! - Rotation on every use; a rotated token used again is reuse and revokes the family.
//! - Grace (`OAuthConfig::refresh_grace`, default 0: none): within that many seconds of
//!   its rotation, a rotated token may be redeemed **once** more (a client that lost the
//!   response retries). That second redemption sets `rotated_at` to [`GRACE_SPENT`]; any
//!   further use — inside the window or after it — is reuse and revokes the family.
//! - Both redemptions are compare-and-swaps on `rotated_at` (`RefreshStore::rotate`), so
//!   of two concurrent attempts one wins and the other is reuse.

use crate::format::KeyId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "rt";

/// The `rotated_at` of a rotated token whose one grace redemption is spent: the Unix
/// epoch, a time no window reaches, so any further use is reuse.
pub const GRACE_SPENT: Timestamp = Timestamp(0);

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
    /// When it was rotated (used); `None` while it is the family's current token;
    /// [`GRACE_SPENT`] once it was redeemed again within the grace window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
}
