//! Client registrations and client authentication (RFC 6749 §2, §2.3.1).

use super::error::{OAuthError, OAuthErrorCode};
use super::opaque::{self, TokenHash};
use super::params::{Params, decode};
use super::redirect::{RedirectError, validate_registration};
use crate::random::{RandomError, RandomSource};
use crate::secret::SecretString;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// Public clients cannot keep a secret (SPAs, native apps); confidential clients can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// No secret; PKCE always required.
    Public,
    /// Authenticates with a secret.
    Confidential,
}

/// A registered client, as the host stores it. Holds only the SHA-256 of its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client id (public).
    pub id: String,
    /// Public or confidential.
    pub client_type: ClientType,
    /// A native app (RFC 8252): may use custom schemes and loopback redirects with any port.
    #[serde(default)]
    pub native: bool,
    /// The registered redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Scopes the client may be granted (names or patterns of the catalog).
    pub allowed_scopes: Vec<String>,
    /// Grant types the client may use (default: `authorization_code`, `refresh_token`).
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// `sha256$` + base64url of the secret's SHA-256 (confidential clients only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
}

/// Why a client registration is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The client id is empty, longer than 255 bytes or contains `:` or control characters.
    #[error("client id must be 1-255 printable characters without ':'")]
    BadId,
    /// A redirect URI is not acceptable.
    #[error("redirect URI {index}: {error}")]
    Redirect {
        /// Its position in the list.
        index: usize,
        /// Why.
        error: RedirectError,
    },
    /// No redirect URI is registered.
    #[error("at least one redirect URI is required")]
    NoRedirect,
    /// A confidential client without a secret, or a public client with one.
    #[error("confidential clients need a secret, public clients must not have one")]
    Secret,
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl ClientError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            ClientError::BadId => &crate::codes::CLIENT_BAD_ID,
            ClientError::Redirect { .. } => &crate::codes::CLIENT_BAD_REDIRECT_URI,
            ClientError::NoRedirect => &crate::codes::CLIENT_NO_REDIRECT_URI,
            ClientError::Secret => &crate::codes::CLIENT_SECRET,
            ClientError::Random(_) => &crate::codes::CLIENT_RANDOM,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
}

fn hash_string(hash: &TokenHash) -> String {
    format!("sha256${}", URL_SAFE_NO_PAD.encode(hash.0))
}

impl Client {
    /// A public client (no secret).
    pub fn public(
        id: &str,
        native: bool,
        redirect_uris: &[&str],
        allowed_scopes: &[&str],
    ) -> Result<Self, ClientError> {
        let client = Client {
            id: id.to_owned(),
            client_type: ClientType::Public,
            native,
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            allowed_scopes: allowed_scopes.iter().map(|s| (*s).to_owned()).collect(),
            grant_types: default_grant_types(),
            secret_hash: None,
        };
        client.validate()?;
        Ok(client)
    }

    /// A confidential client with a fresh secret (`cs.` + 43 base62), shown once.
    pub fn confidential(
        id: &str,
        redirect_uris: &[&str],
        allowed_scopes: &[&str],
        rng: &dyn RandomSource,
    ) -> Result<(Self, SecretString), ClientError> {
        let (secret, hash) = opaque::mint("cs", rng)?;
        let client = Client {
            id: id.to_owned(),
            client_type: ClientType::Confidential,
            native: false,
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            allowed_scopes: allowed_scopes.iter().map(|s| (*s).to_owned()).collect(),
            grant_types: default_grant_types(),
            secret_hash: Some(hash_string(&hash)),
        };
        client.validate()?;
        Ok((client, secret))
    }

    /// Checks the registration rules (id, redirect URIs, secret vs type).
    pub fn validate(&self) -> Result<(), ClientError> {
        let id_ok = (1..=255).contains(&self.id.len())
            && !self.id.contains(':')
            && !self.id.chars().any(char::is_control);
        if !id_ok {
            return Err(ClientError::BadId);
        }
        if self.redirect_uris.is_empty() {
            return Err(ClientError::NoRedirect);
        }
        for (index, uri) in self.redirect_uris.iter().enumerate() {
            validate_registration(uri, self.native)
                .map_err(|error| ClientError::Redirect { index, error })?;
        }
        let has_secret = self.secret_hash.is_some();
        if has_secret != (self.client_type == ClientType::Confidential) {
            return Err(ClientError::Secret);
        }
        Ok(())
    }

    /// Whether the client may use a grant type (`authorization_code`, `refresh_token`).
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether `secret` is this client's secret (constant-time on the hashes).
    pub fn check_secret(&self, secret: &str) -> bool {
        let Some(stored) = self.secret_hash.as_deref() else {
            return false;
        };
        let Some(hash) = opaque::parse("cs", secret) else {
            return false;
        };
        let mut digest = [0u8; 32];
        let decoded = stored
            .strip_prefix("sha256$")
            .map(|d| URL_SAFE_NO_PAD.decode_slice(d, &mut digest));
        matches!(decoded, Some(Ok(32))) && opaque::hashes_equal(&hash, &TokenHash(digest))
    }
}

/// How a client authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic (`Authorization: Basic …`).
    Basic,
    /// `client_id` and `client_secret` in the body (only when enabled).
    Body,
    /// `client_id` alone (public clients).
    None,
}

/// A client authentication failure: the error, and whether the client used the
/// `Authorization` header (then the response must carry `WWW-Authenticate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAuthError {
    /// The OAuth error.
    pub error: OAuthError,
    /// The client sent an `Authorization` header.
    pub used_header: bool,
}

/// The presented credentials: (client id, secret, method).
pub(crate) struct Presented {
    pub id: String,
    pub secret: Option<SecretString>,
    pub method: ClientAuthMethod,
}

const INVALID_CLIENT: OAuthError = OAuthError::new(
    OAuthErrorCode::InvalidClient,
    "Client authentication failed",
);

/// Parses `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Option<(String, SecretString)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = zeroize::Zeroizing::new(STANDARD.decode(rest.trim_start_matches(' ')).ok()?);
    let text = std::str::from_utf8(&raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let id = decode(id).ok()?;
    let secret = SecretString::new(decode(secret).ok()?);
    (!id.is_empty()).then_some((id, secret))
}

/// Reads the client's credentials from the header and body (one method only, §2.3).
pub(crate) fn presented(
    authorization: Option<&str>,
    body: &Params,
    allow_body: bool,
) -> Result<Presented, ClientAuthError> {
    let fail = |used_header, error| ClientAuthError { error, used_header };
    if let Some(header) = authorization {
        let (id, secret) = parse_basic(header).ok_or(fail(true, INVALID_CLIENT))?;
        if body.get("client_secret").is_some() {
            return Err(fail(
                true,
                OAuthError::request("Use one client authentication method"),
            ));
        }
        if body.get("client_id").is_some_and(|b| b != id) {
            return Err(fail(
                true,
                OAuthError::request("client_id differs from the credentials"),
            ));
        }
        return Ok(Presented {
            id,
            secret: Some(secret),
            method: ClientAuthMethod::Basic,
        });
    }
    let id = body.get("client_id").ok_or(fail(false, INVALID_CLIENT))?;
    match body.get("client_secret") {
        Some(_) if !allow_body => Err(fail(
            false,
            OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "Send client credentials with HTTP Basic authentication",
            ),
        )),
        Some(s) => Ok(Presented {
            id: id.to_owned(),
            secret: Some(SecretString::new(s.to_owned())),
            method: ClientAuthMethod::Body,
        }),
        None => Ok(Presented {
            id: id.to_owned(),
            secret: None,
            method: ClientAuthMethod::None,
        }),
    }
}

/// A confidential client named by `client_id` alone, when body credentials are enabled.
pub(crate) const SECRET_MISSING: &str =
    "This client must send its client_secret (HTTP Basic or client_secret in the body)";

/// A confidential client named by `client_id` alone, when only HTTP Basic is accepted.
pub(crate) const SECRET_MISSING_BASIC: &str =
    "This client must send its client_secret with HTTP Basic authentication";

/// A public client that sent a secret it was never given.
pub(crate) const PUBLIC_WITH_SECRET: &str =
    "This client is public: send client_id without a client_secret";

/// Checks presented credentials against the registration (`None`: unknown client).
///
/// A known client that used the wrong method is told which one to use (RFC 6749 §6: a
/// confidential client refreshing must authenticate); client ids are not secrets
/// (§2.2), so naming a client's type reveals nothing an attacker can use. An unknown
/// client and a wrong secret get the same `Client authentication failed`.
pub(crate) fn authenticate(
    presented: &Presented,
    client: Option<&Client>,
    allow_body: bool,
) -> Result<(), ClientAuthError> {
    let used_header = presented.method == ClientAuthMethod::Basic;
    let fail = |error| ClientAuthError { error, used_header };
    let Some(client) = client else {
        return Err(fail(INVALID_CLIENT));
    };
    let missing = if allow_body {
        SECRET_MISSING
    } else {
        SECRET_MISSING_BASIC
    };
    match (client.client_type, &presented.secret) {
        (ClientType::Confidential, Some(secret)) if client.check_secret(secret.expose()) => Ok(()),
        (ClientType::Public, None) => Ok(()),
        (ClientType::Confidential, None) => Err(fail(OAuthError::new(
            OAuthErrorCode::InvalidClient,
            missing,
        ))),
        (ClientType::Public, Some(_)) => Err(fail(OAuthError::new(
            OAuthErrorCode::InvalidClient,
            PUBLIC_WITH_SECRET,
        ))),
        (ClientType::Confidential, Some(_)) => Err(fail(INVALID_CLIENT)),
    }
}
