//! Self-contained access tokens: `at.{kid}.{payload}.{mac}`, verified with no storage
//! lookup.
//!
//! - `kid`: the id of the signing key, 1–32 characters of `[A-Za-z0-9-]`; several keys
//!   may be live at once ([`AccessKeys`]), one of them signs new tokens.
//! - `payload`: base64url (no padding) of a binary record: version `1`, issued-at and
//!   expiry (u64 big-endian seconds), the catalog fingerprint (u64), the token id and the
//!   grant family (16 base62 characters each), the granted scope set as a bitmap (a length
//!   byte, then that many bytes, scope `8i+j` in bit `j` of byte `i`), then the subject
//!   and the client id (a length byte, then UTF-8, 1–255 bytes each). Nothing may follow.
//! - `mac`: base64url of HMAC-SHA256 under the key over `at.{kid}.{payload}`, compared in
//!   constant time.
//!
//! The claims are readable by whoever holds the token (it is signed, not encrypted): they
//! hold no secret. A token minted under another scope catalog is refused, since scope
//! numbers would not mean the same. `.` never occurs in an API key, so the prefix `at.`
//! tells the checker which verifier to use.

use crate::format::{ID_LEN, KeyId};
use crate::pepper::HmacSha256;
use crate::random::{RandomError, RandomSource, fill_base62};
use crate::scope::{Catalog, CatalogMismatch, MAX_SCOPES, ScopeSet};
use crate::secret::SecretString;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The prefix of every access token.
pub const PREFIX: &str = "at.";
/// The longest access token accepted (longer input is refused before any decoding).
pub const MAX_TOKEN_LEN: usize = 2048;
const VERSION: u8 = 1;
const MAC_B64_LEN: usize = 43;
const MAX_KID_LEN: usize = 32;

/// Whether a presented credential is meant as an access token (has the `at.` prefix).
#[inline]
pub fn is_access_token(token: &[u8]) -> bool {
    token.starts_with(PREFIX.as_bytes())
}

/// Why an access token is not valid. Hosts log it; clients only see `invalid_token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TokenError {
    /// Not of the access-token shape (prefix, parts, base64, payload layout, length).
    #[error("malformed access token")]
    Malformed,
    /// The key id is not one of the live signing keys.
    #[error("access token signed under an unknown key")]
    UnknownKey,
    /// The MAC does not match.
    #[error("access token signature mismatch")]
    BadSignature,
    /// Minted under a different scope catalog.
    #[error("access token from another scope catalog")]
    WrongCatalog,
    /// Past its expiry (a token is expired at exactly its `exp`).
    #[error("access token expired")]
    Expired,
    /// Issued in the future (beyond the verifier's clock-skew allowance).
    #[error("access token not valid yet")]
    NotYetValid,
    /// Its grant family was revoked, or it predates the revocation epoch.
    #[error("access token revoked")]
    Revoked,
    /// Presented to [`crate::Checker::prepare`], which has no time to check expiry
    /// against: use [`crate::Checker::prepare_at`].
    #[error("access token needs the time: use prepare_at")]
    TimeRequired,
    /// The revocations are not known to be current: the feed that keeps them (see
    /// [`Revocations::follow`]) is behind its staleness bound, so a revocation made
    /// elsewhere may be missing. Fail closed: the checker answers 503 `lookup_failed`.
    #[error("access-token revocations are stale (their feed is behind)")]
    RevocationsStale,
}

impl TokenError {
    /// A stable machine-readable name (`access_token_expired`, …).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }

    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            TokenError::Malformed => &crate::codes::ACCESS_TOKEN_MALFORMED,
            TokenError::UnknownKey => &crate::codes::ACCESS_TOKEN_UNKNOWN_KEY,
            TokenError::BadSignature => &crate::codes::ACCESS_TOKEN_BAD_SIGNATURE,
            TokenError::WrongCatalog => &crate::codes::ACCESS_TOKEN_WRONG_CATALOG,
            TokenError::Expired => &crate::codes::ACCESS_TOKEN_EXPIRED,
            TokenError::NotYetValid => &crate::codes::ACCESS_TOKEN_NOT_YET_VALID,
            TokenError::Revoked => &crate::codes::ACCESS_TOKEN_REVOKED,
            TokenError::TimeRequired => &crate::codes::ACCESS_TOKEN_TIME_REQUIRED,
            TokenError::RevocationsStale => &crate::codes::ACCESS_TOKEN_REVOCATIONS_STALE,
        }
    }
}

/// What an access token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// The resource owner (user or organisation) the token acts for.
    pub subject: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The granted scopes, implications expanded.
    pub scopes: ScopeSet,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Expiry: the token is invalid from this second on.
    pub expires_at: Timestamp,
    /// The token's own id (`jti`), 16 base62 characters.
    pub token_id: KeyId,
    /// The grant family (one authorization, all its refreshes), 16 base62 characters.
    pub family: KeyId,
}

/// An error building the key set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessKeyError {
    /// The key id is empty, too long or has characters outside `[A-Za-z0-9-]`.
    #[error("access-token key id must be 1-32 characters of [A-Za-z0-9-]")]
    BadKeyId,
    /// The secret is shorter than 32 bytes.
    #[error("access-token key secret must be at least 32 bytes")]
    TooShort,
    /// A key with this id is already present.
    #[error("duplicate access-token key id")]
    Duplicate,
    /// No key has this id.
    #[error("no access-token key has this id")]
    Unknown,
}

impl AccessKeyError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            AccessKeyError::BadKeyId => &crate::codes::ACCESS_KEY_BAD_ID,
            AccessKeyError::TooShort => &crate::codes::ACCESS_KEY_TOO_SHORT,
            AccessKeyError::Duplicate => &crate::codes::ACCESS_KEY_DUPLICATE,
            AccessKeyError::Unknown => &crate::codes::ACCESS_KEY_UNKNOWN,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// The live signing keys: one signs, all verify (rotation: add the new key, make it
/// primary, drop the old one an hour later).
#[derive(Clone)]
pub struct AccessKeys {
    /// Key ids and their keyed HMAC states (the secret itself is not kept; the states are
    /// zeroized on drop).
    keys: Vec<(String, HmacSha256)>,
    primary: usize,
}

impl fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("AccessKeys")
            .field("ids", &ids)
            .field("primary", &ids.get(self.primary))
            .finish()
    }
}

fn valid_kid(id: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl AccessKeys {
    /// A key set with one (primary) key.
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, AccessKeyError> {
        let mut keys = AccessKeys {
            keys: Vec::new(),
            primary: 0,
        };
        keys.add(id, secret)?;
        Ok(keys)
    }

    /// Adds a verification key.
    pub fn add(&mut self, id: &str, secret: &[u8]) -> Result<(), AccessKeyError> {
        if !valid_kid(id) {
            return Err(AccessKeyError::BadKeyId);
        }
        if secret.len() < 32 {
            return Err(AccessKeyError::TooShort);
        }
        if self.index(id).is_some() {
            return Err(AccessKeyError::Duplicate);
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| AccessKeyError::TooShort)?;
        if self.keys.len() == self.keys.capacity() {
            // A reallocation would move the HMAC states and free the old buffer unwiped.
            self.rebuild(2 * self.keys.len() + 1, usize::MAX);
        }
        self.keys.push((id.to_owned(), mac));
        Ok(())
    }

    /// Copies the keys except the one at `skip` into a new vector of `capacity`, and drops
    /// the old vector's keys in place (which wipes their states): moving them would leave
    /// copies in freed memory.
    fn rebuild(&mut self, capacity: usize, skip: usize) {
        let mut kept = Vec::with_capacity(capacity);
        kept.extend(
            self.keys
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, key)| key.clone()),
        );
        self.keys = kept;
    }

    /// Makes `id` the signing key.
    pub fn set_primary(&mut self, id: &str) -> Result<(), AccessKeyError> {
        self.primary = self.index(id).ok_or(AccessKeyError::Unknown)?;
        Ok(())
    }

    /// Removes a key (not the primary one).
    pub fn remove(&mut self, id: &str) -> Result<(), AccessKeyError> {
        let i = self.index(id).ok_or(AccessKeyError::Unknown)?;
        if i == self.primary {
            return Err(AccessKeyError::Unknown);
        }
        self.rebuild(self.keys.len(), i); // not `Vec::remove`, whose shift leaves a copy
        if i < self.primary {
            self.primary -= 1;
        }
        Ok(())
    }

    /// The signing key's id.
    pub fn primary_id(&self) -> &str {
        self.keys
            .get(self.primary)
            .map_or("", |(id, _)| id.as_str())
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.keys.iter().position(|(k, _)| k == id)
    }

    /// The MAC of `signed` under key `index` (an index from [`AccessKeys::index`]; an
    /// out-of-range index gives a MAC no token carries).
    fn mac(&self, index: usize, signed: &[u8]) -> [u8; 32] {
        let Some((_, keyed)) = self.keys.get(index) else {
            return [0u8; 32];
        };
        let mut mac = keyed.clone();
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }

    /// Signs `claims` into a token under the primary key, for `catalog`.
    pub fn sign(&self, claims: &AccessClaims, catalog: &Catalog) -> SecretString {
        let mut text = format!("{PREFIX}{}.", self.primary_id());
        URL_SAFE_NO_PAD.encode_string(encode_payload(claims, catalog.id()), &mut text);
        let mac = self.mac(self.primary, text.as_bytes());
        text.push('.');
        URL_SAFE_NO_PAD.encode_string(mac, &mut text);
        SecretString::new(text)
    }
}

/// A random 16-character base62 id (token ids, grant families).
pub(crate) fn random_id(rng: &dyn RandomSource) -> Result<KeyId, RandomError> {
    let mut id = [0u8; ID_LEN];
    fill_base62(rng, &mut id)?;
    Ok(KeyId::from_valid(&id))
}

fn encode_payload(c: &AccessClaims, catalog_id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + c.subject.len() + c.client_id.len());
    out.push(VERSION);
    out.extend_from_slice(&c.issued_at.0.to_be_bytes());
    out.extend_from_slice(&c.expires_at.0.to_be_bytes());
    out.extend_from_slice(&catalog_id.to_be_bytes());
    out.extend_from_slice(c.token_id.as_bytes());
    out.extend_from_slice(c.family.as_bytes());
    let bitmap = scope_bitmap(&c.scopes);
    out.push(bitmap.len() as u8);
    out.extend_from_slice(&bitmap);
    push_text(&mut out, &c.subject);
    push_text(&mut out, &c.client_id);
    out
}

/// Strings longer than 255 bytes are cut at a character boundary (issuance validates
/// lengths first, so this never happens for tokens the engine mints).
fn push_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&text.as_bytes()[..end]);
}

fn scope_bitmap(set: &ScopeSet) -> Vec<u8> {
    let mut bytes = vec![0u8; MAX_SCOPES / 8];
    for i in set.iter() {
        bytes[i / 8] |= 1 << (i % 8);
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// A cursor over the payload bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        if self.0.len() < n {
            return Err(TokenError::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64, TokenError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }
    fn id(&mut self) -> Result<KeyId, TokenError> {
        let bytes = self.take(ID_LEN)?;
        let text = std::str::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
        KeyId::parse(text).map_err(|_| TokenError::Malformed)
    }
    fn text(&mut self) -> Result<String, TokenError> {
        let n = usize::from(self.u8()?);
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(TokenError::Malformed),
        }
    }
}

fn decode_payload(bytes: &[u8]) -> Result<(AccessClaims, u64), TokenError> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return Err(TokenError::Malformed);
    }
    let issued_at = Timestamp(r.u64()?);
    let expires_at = Timestamp(r.u64()?);
    let catalog_id = r.u64()?;
    let token_id = r.id()?;
    let family = r.id()?;
    let n = usize::from(r.u8()?);
    if n > MAX_SCOPES / 8 {
        return Err(TokenError::Malformed);
    }
    let mut scopes = ScopeSet::EMPTY;
    for (i, byte) in r.take(n)?.iter().enumerate() {
        (0..8)
            .filter(|j| byte & (1 << j) != 0)
            .for_each(|j| scopes.insert(i * 8 + j));
    }
    let subject = r.text()?;
    let client_id = r.text()?;
    if !r.0.is_empty() {
        return Err(TokenError::Malformed);
    }
    let claims = AccessClaims {
        subject,
        client_id,
        scopes,
        issued_at,
        expires_at,
        token_id,
        family,
    };
    Ok((claims, catalog_id))
}

/// The parts of a token text.
struct Parts<'a> {
    /// `at.{kid}.{payload}`: what the MAC covers.
    signed: &'a [u8],
    kid: &'a str,
    payload: &'a [u8],
    mac: &'a [u8],
}

fn split(token: &[u8]) -> Result<Parts<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN || !is_access_token(token) {
        return Err(TokenError::Malformed);
    }
    let dot = token
        .iter()
        .rposition(|&b| b == b'.')
        .ok_or(TokenError::Malformed)?;
    let (signed, mac) = (&token[..dot], &token[dot + 1..]);
    // The last dot may be the prefix's own (`at.xyz`): then there is no signed part.
    let rest = signed.get(PREFIX.len()..).ok_or(TokenError::Malformed)?;
    let kid_end = rest
        .iter()
        .position(|&b| b == b'.')
        .ok_or(TokenError::Malformed)?;
    let kid = std::str::from_utf8(&rest[..kid_end]).map_err(|_| TokenError::Malformed)?;
    if !valid_kid(kid) || mac.len() != MAC_B64_LEN {
        return Err(TokenError::Malformed);
    }
    Ok(Parts {
        signed,
        kid,
        payload: &rest[kid_end + 1..],
        mac,
    })
}

/// Revocations the host pushes to every verifier: revoked grant families, and an epoch
/// before which every token counts as revoked. Lock-free reads; safe to share.
///
/// [`crate::oauth::OAuthServer`] pushes the families it revokes into its own verifier's
/// set; a host running several instances also records them in its
/// [`crate::oauth::RefreshStore`] and pushes them to every instance. A family can be
/// forgotten once its last access token has expired (the access-token lifetime after
/// its revocation), which keeps the set small.
pub struct Revocations {
    families: papaya::HashSet<KeyId, foldhash::fast::RandomState>,
    epoch: AtomicU64,
    feed: OnceLock<Arc<dyn RevocationFeed>>,
}

/// What keeps a [`Revocations`] set current from elsewhere (a shared database's change
/// feed): it says whether the set is known to hold every revocation made up to now.
pub trait RevocationFeed: Send + Sync {
    /// Whether every revocation made elsewhere has reached the set, within the feed's
    /// staleness bound. Called on every access-token verification: keep it a few loads.
    fn is_current(&self) -> bool;
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            families: papaya::HashSet::with_hasher(foldhash::fast::RandomState::default()),
            epoch: AtomicU64::new(0),
            feed: OnceLock::new(),
        }
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocations")
            .field("families", &self.families.len())
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish()
    }
}

impl Revocations {
    /// No revocation.
    pub fn new() -> Self {
        Self::default()
    }
    /// Revokes every access token of a grant family.
    pub fn revoke_family(&self, family: KeyId) {
        self.families.pin().insert(family);
    }
    /// Forgets a revoked family (once all its access tokens have expired).
    pub fn forget_family(&self, family: &KeyId) {
        self.families.pin().remove(family);
    }
    /// Number of revoked families held.
    pub fn family_count(&self) -> usize {
        self.families.len()
    }
    /// Whether a family is revoked.
    pub fn is_family_revoked(&self, family: &KeyId) -> bool {
        self.families.pin().contains(family)
    }
    /// Revokes every token issued before `epoch` (raises the epoch; never lowers it).
    pub fn set_epoch(&self, epoch: Timestamp) {
        self.epoch.fetch_max(epoch.0, Ordering::Relaxed);
    }
    /// The revocation epoch.
    pub fn epoch(&self) -> Timestamp {
        Timestamp(self.epoch.load(Ordering::Relaxed))
    }
    /// Follows `feed`: from now on, while the feed is not current, verification fails
    /// closed with [`TokenError::RevocationsStale`]. A set follows at most one feed;
    /// returns `false` (and changes nothing) when it already follows one.
    pub fn follow(&self, feed: Arc<dyn RevocationFeed>) -> bool {
        self.feed.set(feed).is_ok()
    }
    /// Whether the set is known to be current: always without a feed; with one, as the
    /// feed says.
    pub fn is_current(&self) -> bool {
        self.feed.get().is_none_or(|feed| feed.is_current())
    }
    fn is_revoked(&self, claims: &AccessClaims) -> bool {
        claims.issued_at.0 < self.epoch.load(Ordering::Relaxed)
            || self.is_family_revoked(&claims.family)
    }
}

/// Verifies access tokens: the live keys, the scope catalog, and the revocation set.
///
/// Attach one to a [`crate::Checker`] with [`crate::Checker::with_access_tokens`]; keep an
/// `Arc` to push revocations ([`AccessVerifier::revocations`]).
#[derive(Debug)]
pub struct AccessVerifier {
    keys: AccessKeys,
    catalog_id: u64,
    revocations: Revocations,
    /// Seconds a token's issue time may lie in the future (clock skew between servers).
    pub max_skew: u64,
}

impl AccessVerifier {
    /// A verifier for tokens under `keys` and `catalog`, with an empty revocation set and
    /// a clock-skew allowance of 60 seconds.
    pub fn new(keys: AccessKeys, catalog: &Catalog) -> Self {
        AccessVerifier {
            keys,
            catalog_id: catalog.id(),
            revocations: Revocations::new(),
            max_skew: 60,
        }
    }

    /// `Ok` when this verifier was built for `catalog` (the one rule that a verifier and
    /// the policy or engine it serves share one catalog).
    pub fn same_catalog(&self, catalog: &Catalog) -> Result<(), CatalogMismatch> {
        if self.catalog_id == catalog.id() {
            Ok(())
        } else {
            Err(CatalogMismatch)
        }
    }

    /// The keys.
    pub fn keys(&self) -> &AccessKeys {
        &self.keys
    }

    /// The revocation set (push revoked families and epochs here).
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Checks a token's shape, key, MAC and catalog; not time or revocation.
    pub fn decode(&self, token: &[u8]) -> Result<AccessClaims, TokenError> {
        let Parts {
            signed,
            kid,
            payload,
            mac,
        } = split(token)?;
        let index = self.keys.index(kid).ok_or(TokenError::UnknownKey)?;
        let mut presented = [0u8; 33];
        match URL_SAFE_NO_PAD.decode_slice(mac, &mut presented) {
            Ok(32) => {}
            _ => return Err(TokenError::Malformed),
        }
        let mut given = [0u8; 32];
        given.copy_from_slice(&presented[..32]);
        if !crate::hash::ct_eq(&self.keys.mac(index, signed), &given) {
            return Err(TokenError::BadSignature);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let (claims, catalog_id) = decode_payload(&bytes)?;
        if catalog_id != self.catalog_id {
            return Err(TokenError::WrongCatalog);
        }
        Ok(claims)
    }

    /// Fully verifies a token at `now`: shape, key, MAC, catalog, revocation, time.
    pub fn verify(&self, token: &[u8], now: Timestamp) -> Result<AccessClaims, TokenError> {
        let claims = self.decode(token)?;
        self.check_live(&claims, now)?;
        Ok(claims)
    }

    /// The checks [`Self::verify`] adds to [`Self::decode`]: revocation and time.
    pub(crate) fn check_live(
        &self,
        claims: &AccessClaims,
        now: Timestamp,
    ) -> Result<(), TokenError> {
        if self.revocations.is_revoked(claims) {
            return Err(TokenError::Revoked);
        }
        if !self.revocations.is_current() {
            return Err(TokenError::RevocationsStale);
        }
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        if claims.issued_at > now.plus(self.max_skew) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

/// The principal of a decision made on an access token, as a record view (so every
/// binding shows it like a key's): kind `at`, id = the token id, owner = the subject,
/// name = the client id, scopes = the granted scopes, created/expires = the token's
/// times, metadata `{"oauth_family": family}`. Its hash is a
/// placeholder no key can match; it is never stored.
pub(crate) fn principal_record(
    claims: &AccessClaims,
    policy: &crate::policy::Policy,
) -> crate::record::KeyRecord {
    let catalog = policy.catalog();
    let mut spec = crate::record::KeySpec::new(
        &claims.client_id,
        &claims.subject,
        catalog.names(&claims.scopes),
    );
    spec.ttl = Some(claims.expires_at.since(claims.issued_at));
    spec.metadata
        .insert("oauth_family".to_owned(), claims.family.as_str().into());
    let placeholder = crate::hash::StoredHash::Sha256 { digest: [0u8; 32] };
    crate::record::KeyRecord::assemble(
        claims.token_id,
        "at",
        policy.deployment_env(),
        &spec,
        &placeholder,
        claims.issued_at,
        None,
    )
}
