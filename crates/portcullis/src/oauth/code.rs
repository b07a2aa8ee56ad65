//! Authorization codes (RFC 6749 §4.1.2): `ac.` + 43 base62 (256 bits), valid at most ten
//! minutes, single use, bound to the client, the redirect URI, the PKCE challenge, the
//! subject and the granted scope. Stored only as their SHA-256.

use super::pkce::PkceChallenge;
use crate::format::KeyId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The prefix of authorization codes.
pub const CODE_PREFIX: &str = "ac";

/// What the store keeps for an authorization code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI the code was delivered to.
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri` (then the token request
    /// must repeat it exactly, §4.1.3).
    pub redirect_uri_given: bool,
    /// The PKCE challenge, if the request had one.
    pub challenge: Option<PkceChallenge>,
    /// The resource owner who approved.
    pub subject: String,
    /// The granted scopes, canonical (catalog order, space-separated).
    pub scope: String,
    /// Whether the granted scope differs from the requested one (then the token
    /// response names it, RFC 6749 §5.1).
    #[serde(default)]
    pub scope_narrowed: bool,
    /// The grant family every token from this code will carry.
    pub family: KeyId,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Expiry (the code is invalid from this second on).
    pub expires_at: Timestamp,
}
