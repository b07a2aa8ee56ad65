//! The key format `{kind}_{env}_{id}_{secret}{check}` and its total, zero-copy parser.
//!
//! This layout is a public contract: changing any length or rule here needs a version bump.
//!
//! | part     | length        | alphabet             | meaning                                   |
//! |----------|---------------|----------------------|-------------------------------------------|
//! | `kind`   | 1–8           | `[a-z][a-z0-9]*`     | token kind chosen by the host (`sk`, `rk`)|
//! | `env`    | 1–8           | `[a-z][a-z0-9]*`     | environment (`live`, `test`)              |
//! | `id`     | [`ID_LEN`]    | base62               | random, non-secret lookup key and handle  |
//! | `secret` | [`SECRET_LEN`]| base62               | ≥ 160 bits from the OS CSPRNG             |
//! | `check`  | [`CHECK_LEN`] | base62, `0`-padded   | CRC32 of every byte before it             |
//!
//! The checksum lets scanners and the parser reject typos offline. It is a filter, never
//! authentication: anyone can compute it.
//!
//! The same contract for readers outside Rust — base62 digit order, the CRC-32 variant and
//! what it covers, the stored hash, how to recognise a leaked key — is `docs/key-format.md`
//! in the repository; `tests/key_format_doc.rs` checks it against this module.

use crate::base62;
use crate::bytes::eq_public;
use std::fmt;
use zeroize::Zeroize;

/// Characters in a key id (base62; about 95 bits, so ids never collide in practice).
pub const ID_LEN: usize = 16;
/// Characters in a key secret (base62; 28 × log2(62) ≈ 166.7 bits).
pub const SECRET_LEN: usize = 28;
/// Characters in the checksum (base62 of a CRC32, left-padded with `0`).
pub const CHECK_LEN: usize = 6;
/// Longest kind or environment label.
pub const MAX_LABEL_LEN: usize = 8;
/// Characters after `{kind}_{env}_`: `{id}_{secret}{check}`.
const TAIL_LEN: usize = MAC_INPUT_LEN + CHECK_LEN;
/// Length of `{id}_{secret}`, the bytes the MAC covers.
pub(crate) const MAC_INPUT_LEN: usize = ID_LEN + 1 + SECRET_LEN;
/// What [`ParsedKey::mac_window`] hands the MAC: the whole tail, the MAC input followed by
/// the checksum, which covers the whole 16-byte lanes the MAC reads (checked in `mac`).
pub(crate) const MAC_WINDOW: usize = TAIL_LEN;
/// Longest `{kind}_{env}_`.
const MAX_HEAD_LEN: usize = 2 * (MAX_LABEL_LEN + 1);
/// Longest possible key.
pub const MAX_KEY_LEN: usize = MAX_HEAD_LEN + TAIL_LEN;

/// Why a presented string is not a key of this deployment.
///
/// Messages never contain the input, which may be a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum KeyError {
    /// Not of the form `{kind}_{env}_{id}_{secret}{check}`.
    #[error("not a key of the form kind_env_id_secret")]
    Shape,
    /// The kind prefix is well formed but not accepted here.
    #[error("key kind is not accepted")]
    UnknownKind,
    /// The environment is well formed but not accepted here.
    #[error("key environment is not accepted")]
    UnknownEnv,
    /// The part after `{kind}_{env}_` does not have the fixed length.
    #[error("key has the wrong length")]
    Length,
    /// A character outside base62 where base62 is required (0-based byte position).
    #[error("key has an invalid character at position {position}")]
    Character {
        /// Byte offset of the first bad character.
        position: usize,
    },
    /// The checksum does not match: a typo or a look-alike.
    #[error("key checksum does not match")]
    Checksum,
}

impl KeyError {
    /// A stable machine-readable name (`shape`, `unknown_kind`, …).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }

    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            KeyError::Shape => &crate::codes::KEY_SHAPE,
            KeyError::UnknownKind => &crate::codes::KEY_UNKNOWN_KIND,
            KeyError::UnknownEnv => &crate::codes::KEY_UNKNOWN_ENV,
            KeyError::Length => &crate::codes::KEY_LENGTH,
            KeyError::Character { .. } => &crate::codes::KEY_CHARACTER,
            KeyError::Checksum => &crate::codes::KEY_CHECKSUM,
        }
    }
}

/// Whether `label` is a valid kind or environment: 1–8 chars, `[a-z][a-z0-9]*`.
pub fn is_valid_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// A key id: [`ID_LEN`] base62 characters, stored inline (`Copy`, no allocation).
///
/// Not secret: safe to log, to index a database by and to show in a dashboard.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; ID_LEN]);

impl KeyId {
    /// Parses an id from its text form.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let b = text.as_bytes();
        if b.len() != ID_LEN {
            return Err(KeyError::Length);
        }
        if let Some(position) = b.iter().position(|&c| !base62::is_base62(c)) {
            return Err(KeyError::Character { position });
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(b);
        Ok(KeyId(id))
    }

    pub(crate) fn from_valid(bytes: &[u8]) -> Self {
        let mut id = [b'0'; ID_LEN];
        id.copy_from_slice(&bytes[..ID_LEN]);
        KeyId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Every constructor admits only ASCII base62, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The id as bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        KeyId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which kinds and environments a deployment accepts; parses presented keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFormat {
    kinds: Vec<String>,
    envs: Vec<String>,
    /// Every accepted `{kind}_{env}_`, for the fast path of [`KeyFormat::parse`].
    prefixes: Vec<Prefix>,
    /// A fresh CRC-32 state with the CPU's implementation already chosen (cloning it skips
    /// the feature detection `crc32fast::hash` repeats on every call).
    crc: Crc,
}

/// A fresh CRC-32 state; compares equal to any other (it holds no data).
#[derive(Clone, Debug)]
struct Crc(crc32fast::Hasher);

impl Default for Crc {
    fn default() -> Self {
        Crc(crc32fast::Hasher::new())
    }
}

impl PartialEq for Crc {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Crc {}

impl Crc {
    #[inline]
    fn of(&self, bytes: &[u8]) -> u32 {
        let mut h = self.0.clone();
        h.update(bytes);
        h.finalize()
    }
}

/// An accepted `{kind}_{env}_` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Prefix {
    text: Vec<u8>,
    kind_len: usize,
    env_len: usize,
}

/// Why a [`KeyFormat`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A label is not 1–8 characters of `[a-z][a-z0-9]*`.
    #[error("invalid {what} label {label:?}: use 1-8 characters [a-z][a-z0-9]*")]
    BadLabel {
        /// `kind` or `environment`.
        what: &'static str,
        /// The rejected label.
        label: String,
    },
    /// No kinds or no environments were given.
    #[error("at least one {0} is required")]
    Empty(&'static str),
}

impl FormatError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            FormatError::BadLabel { .. } => &crate::codes::FORMAT_BAD_LABEL,
            FormatError::Empty(_) => &crate::codes::FORMAT_EMPTY,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

impl KeyFormat {
    /// A format accepting the given kinds (e.g. `["sk"]`) and environments (`["live", "test"]`).
    pub fn new<K, E>(kinds: K, envs: E) -> Result<Self, FormatError>
    where
        K: IntoIterator,
        K::Item: Into<String>,
        E: IntoIterator,
        E::Item: Into<String>,
    {
        let kinds = check_labels("kind", kinds)?;
        let envs = check_labels("environment", envs)?;
        let prefixes = kinds
            .iter()
            .flat_map(|k| {
                envs.iter().map(move |e| Prefix {
                    text: format!("{k}_{e}_").into_bytes(),
                    kind_len: k.len(),
                    env_len: e.len(),
                })
            })
            .collect();
        Ok(KeyFormat {
            kinds,
            envs,
            prefixes,
            crc: Crc::default(),
        })
    }

    /// The accepted kinds.
    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    /// The accepted environments.
    pub fn envs(&self) -> &[String] {
        &self.envs
    }

    /// Parses a presented key. Total: any input gives a key or a typed error, in O(1) for
    /// inputs longer than [`MAX_KEY_LEN`] and O(len) otherwise; never panics, never copies.
    pub fn parse<'a>(&self, input: &'a [u8]) -> Result<ParsedKey<'a>, KeyError> {
        if input.len() > MAX_KEY_LEN {
            return Err(KeyError::Length);
        }
        let prefix = |p: &&Prefix| {
            input
                .get(..p.text.len())
                .is_some_and(|h| eq_public(h, &p.text))
        };
        let (kind_len, env_len) = match self.prefixes.iter().find(prefix) {
            Some(p) => (p.kind_len, p.env_len),
            None => self.labels(input)?,
        };
        let tail_start = kind_len + env_len + 2;
        let (head, tail) = input.split_at_checked(tail_start).ok_or(KeyError::Length)?;
        let tail: &[u8; TAIL_LEN] = tail.try_into().map_err(|_| KeyError::Length)?;
        check_tail(tail, tail_start)?;
        let body_len = input.len() - CHECK_LEN;
        let expected = self.crc.of(&input[..body_len]);
        if base62::decode_checked_digits(&input[body_len..]) != u64::from(expected) {
            return Err(KeyError::Checksum);
        }
        Ok(ParsedKey {
            head,
            tail,
            kind_len: kind_len as u8,
            env_len: env_len as u8,
            id: KeyId::from_valid(tail),
        })
    }

    /// The slow path for inputs with no accepted prefix: which error it is.
    fn labels(&self, input: &[u8]) -> Result<(usize, usize), KeyError> {
        let kind_len = label_len(input).ok_or(KeyError::Shape)?;
        let rest = &input[kind_len + 1..];
        let env_len = label_len(rest).ok_or(KeyError::Shape)?;
        let kind = &input[..kind_len];
        let env = &rest[..env_len];
        if !self.kinds.iter().any(|k| eq_public(k.as_bytes(), kind)) {
            return Err(KeyError::UnknownKind);
        }
        if !self.envs.iter().any(|e| eq_public(e.as_bytes(), env)) {
            return Err(KeyError::UnknownEnv);
        }
        Ok((kind_len, env_len))
    }
}

fn check_labels<I>(what: &'static str, labels: I) -> Result<Vec<String>, FormatError>
where
    I: IntoIterator,
    I::Item: Into<String>,
{
    let labels: Vec<String> = labels.into_iter().map(Into::into).collect();
    if labels.is_empty() {
        return Err(FormatError::Empty(what));
    }
    if let Some(bad) = labels.iter().find(|l| !is_valid_label(l)) {
        return Err(FormatError::BadLabel {
            what,
            label: bad.clone(),
        });
    }
    Ok(labels)
}

/// Length of the label at the start of `bytes` that is followed by `_`, if it is valid.
fn label_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.first()?;
    if !first.is_ascii_lowercase() {
        return None;
    }
    let window = &bytes[..bytes.len().min(MAX_LABEL_LEN + 1)];
    let len = window.iter().position(|&b| b == b'_')?;
    window[..len]
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .then_some(len)
}

/// Checks `{id}_{secret}{check}`: base62 everywhere except the `_` after the id.
///
/// The fast path is two branch-free OR-reductions over fixed-size arrays, which the
/// compiler vectorises; only a failing key takes the slow path that finds the first bad
/// byte for the error.
#[inline]
fn check_tail(tail: &[u8], offset: usize) -> Result<(), KeyError> {
    let (id, rest) = tail.split_at(ID_LEN.min(tail.len()));
    let fixed = (<&[u8; ID_LEN]>::try_from(id), rest.split_first());
    if let (Ok(id), Some((&b'_', secret))) = fixed
        && let Ok(secret) = <&[u8; SECRET_LEN + CHECK_LEN]>::try_from(secret)
        && all_base62(id) & all_base62(secret)
    {
        return Ok(());
    }
    for (i, &b) in tail.iter().enumerate() {
        if i == ID_LEN && b != b'_' {
            return Err(KeyError::Shape);
        }
        if i != ID_LEN && !base62::is_base62(b) {
            return Err(KeyError::Character {
                position: offset + i,
            });
        }
    }
    Ok(())
}

#[inline]
fn all_base62<const N: usize>(bytes: &[u8; N]) -> bool {
    bytes
        .iter()
        .fold(0u8, |bad, &b| bad | u8::from(!base62::is_base62(b)))
        == 0
}

/// A syntactically valid key with a correct checksum, borrowed from the input.
///
/// Holds the secret: `Debug` shows only the safe display form.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    /// `{kind}_{env}_`; ASCII (checked by the parser).
    head: &'a [u8],
    /// `{id}_{secret}{check}`, whose fixed length the type carries.
    tail: &'a [u8; TAIL_LEN],
    kind_len: u8,
    env_len: u8,
    id: KeyId,
}

impl<'a> ParsedKey<'a> {
    /// The kind (`sk`).
    pub fn kind(&self) -> &'a str {
        ascii(self.kind_bytes())
    }

    /// The environment (`live`).
    pub fn env(&self) -> &'a str {
        ascii(self.env_bytes())
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The kind as bytes (no UTF-8 pass, for hot-path comparisons).
    pub(crate) fn kind_bytes(&self) -> &'a [u8] {
        &self.head[..usize::from(self.kind_len)]
    }

    /// The environment as bytes (no UTF-8 pass, for hot-path comparisons).
    pub(crate) fn env_bytes(&self) -> &'a [u8] {
        let start = usize::from(self.kind_len) + 1;
        &self.head[start..start + usize::from(self.env_len)]
    }

    /// A form safe to log and display: `sk_live_<id>_…`.
    pub fn display(&self) -> DisplayKey<'a> {
        DisplayKey::new(self.kind(), self.env(), self.id)
    }

    /// What the MAC reads: its input `{id}_{secret}` (the checksum and labels are
    /// excluded; the record binds kind and environment) in the first [`MAC_INPUT_LEN`]
    /// bytes, then the checksum, which the MAC may read but does not count.
    pub(crate) fn mac_window(&self) -> &'a [u8; MAC_WINDOW] {
        self.tail
    }

    /// The plain SHA-256 of the whole key (the legacy record scheme).
    pub(crate) fn legacy_sha256(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::new()
            .chain_update(self.head)
            .chain_update(self.tail)
            .finalize()
            .into()
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParsedKey({})", self.display())
    }
}

/// Text of a slice the parser has checked to be ASCII.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

/// The loggable form of a key: `sk_live_<id>_…`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisplayKey<'a> {
    kind: &'a str,
    env: &'a str,
    id: KeyId,
}

impl<'a> DisplayKey<'a> {
    /// The display form of the key `kind`_`env`_`id`_… (a parsed key's or a record's).
    pub(crate) const fn new(kind: &'a str, env: &'a str, id: KeyId) -> Self {
        DisplayKey { kind, env, id }
    }
}

impl fmt::Display for DisplayKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}_…", self.kind, self.env, self.id)
    }
}

/// An owned copy of a parsed key, for the two-phase API. Stored inline (no allocation)
/// and zeroized on drop, since it holds the secret.
#[derive(Clone)]
pub struct PresentedKey {
    head: [u8; MAX_HEAD_LEN],
    tail: [u8; TAIL_LEN],
    kind_len: u8,
    env_len: u8,
    id: KeyId,
}

impl PresentedKey {
    pub(crate) fn from_parsed(key: &ParsedKey<'_>) -> Self {
        let mut head = [0u8; MAX_HEAD_LEN];
        head[..key.head.len()].copy_from_slice(key.head);
        PresentedKey {
            head,
            tail: *key.tail,
            kind_len: key.kind_len,
            env_len: key.env_len,
            id: key.id,
        }
    }

    /// Borrows this key as a [`ParsedKey`].
    pub fn as_parsed(&self) -> ParsedKey<'_> {
        let head_len = usize::from(self.kind_len) + usize::from(self.env_len) + 2;
        ParsedKey {
            head: &self.head[..head_len],
            tail: &self.tail,
            kind_len: self.kind_len,
            env_len: self.env_len,
            id: self.id,
        }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }
}

impl Drop for PresentedKey {
    fn drop(&mut self) {
        self.head.zeroize();
        self.tail.zeroize();
    }
}

impl fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey({})", self.as_parsed().display())
    }
}

/// Assembles `{kind}_{env}_{id}_{secret}{check}` from its parts (used by issuance).
pub(crate) fn assemble(kind: &str, env: &str, id: &KeyId, secret: &[u8]) -> String {
    let mut key = String::with_capacity(MAX_KEY_LEN);
    key.push_str(kind);
    key.push('_');
    key.push_str(env);
    key.push('_');
    key.push_str(id.as_str());
    key.push('_');
    key.extend(secret.iter().map(|&b| char::from(b)));
    let check = base62::encode_fixed::<CHECK_LEN>(u64::from(crc32fast::hash(key.as_bytes())));
    key.extend(check.iter().map(|&b| char::from(b)));
    key
}
