//! The knobs of the OAuth engine, with secure defaults.

/// Lifetimes and switches. `Default` is the secure profile (RFC 9700, OAuth 2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthConfig {
    /// Authorization-code lifetime in seconds (default 600; capped at 600, RFC 6749 §4.1.2).
    pub code_ttl: u64,
    /// Access-token lifetime in seconds (default 3600: one hour).
    pub access_ttl: u64,
    /// A refresh token unused for this many seconds expires (default 30 days).
    pub refresh_idle_ttl: u64,
    /// A grant family lives at most this long, however often it is refreshed (default 90 days).
    pub refresh_max_ttl: u64,
    /// Seconds after rotation during which the previous refresh token may be redeemed
    /// once more without revoking the family — once: a further use, inside the window or
    /// after it, is reuse and revokes the family (default 0: no grace; concurrent
    /// refreshes of a client then look like reuse).
    pub refresh_grace: u64,
    /// Accept `code_challenge_method=plain` (default false: S256 only).
    pub allow_plain_pkce: bool,
    /// Require PKCE from confidential clients too (default true; public clients always).
    pub require_pkce_for_confidential: bool,
    /// Accept `client_id`/`client_secret` in the request body (default false: HTTP Basic).
    pub allow_body_credentials: bool,
    /// Scopes granted when the authorization request has no `scope` (default none: the
    /// request is refused with `invalid_scope`, RFC 6749 §3.3).
    pub default_scope: Option<String>,
    /// The authorization server's issuer identifier (default none). When set, every
    /// authorization response carries it as `iss` (RFC 9207: a client talking to several
    /// servers can tell which one answered, defeating mix-up attacks), and
    /// [`OAuthServer::metadata`](super::OAuthServer::metadata) publishes it (RFC 8414).
    pub issuer: Option<super::metadata::Issuer>,
}

/// The longest code lifetime accepted (10 minutes).
pub const MAX_CODE_TTL: u64 = 600;

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            code_ttl: MAX_CODE_TTL,
            access_ttl: 3600,
            refresh_idle_ttl: 30 * crate::time::DAY,
            refresh_max_ttl: 90 * crate::time::DAY,
            refresh_grace: 0,
            allow_plain_pkce: false,
            require_pkce_for_confidential: true,
            allow_body_credentials: false,
            default_scope: None,
            issuer: None,
        }
    }
}

impl OAuthConfig {
    /// The code lifetime actually used: `code_ttl` capped at ten minutes.
    pub fn effective_code_ttl(&self) -> u64 {
        self.code_ttl.min(MAX_CODE_TTL)
    }
}
