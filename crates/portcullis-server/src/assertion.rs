//! The signed assertion by which the host tells the server who is signed in, and the
//! secret files (`STORE/host-secret`, `STORE/oauth-key`) the server keys it and its access
//! tokens with.
//!
//! Login belongs to the host: it already has sessions, passwords, SSO. When a user is
//! signed in, the host sets a cookie `portcullis_user` on the site both share (or a trusted
//! proxy sends the header `X-Portcullis-User`) holding
//!
//! ```text
//! v1.<base64url(user)>.<expiry, Unix seconds>.<base64url(HMAC-SHA256(secret, "v1.<base64url(user)>.<expiry>"))>
//! ```
//!
//! base64url without padding; the secret is the 32 bytes whose hex is the host-secret file.
//! In Python: `mac = hmac.new(bytes.fromhex(open(f).read().strip()), msg.encode(), "sha256")`.
//!
//! Decisions:
//! - **HMAC, not a signature:** host and server are run by the same team and share a file,
//!   as they share the database; an HMAC is one line in every language.
//! - **Checked in this order:** length (at most [`MAX_ASSERTION_LEN`]), shape, version,
//!   MAC (constant time), expiry, user. A forged assertion is `bad_signature` whatever it
//!   claims; only an authentic one can be `expired`.
//! - **Short lived:** the host re-mints it with its session (minutes); the server keeps no
//!   state and cannot log a user out, so a long expiry is a long-lived bearer credential.
//! - **The user** is 1-255 bytes of UTF-8 without control characters: the `sub` of the
//!   tokens granted.
//! - **Secret files** hold 64 hex digits and a newline, mode 0600; one is created when
//!   missing (create-new, so two servers starting at once cannot both write one). Every
//!   server of a fleet, and the host, must read the same files.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use portcullis::RandomSource;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The longest assertion read, in bytes; longer ones are refused unread.
pub const MAX_ASSERTION_LEN: usize = 1024;
/// The longest user name an assertion carries, in bytes (the tokens' `sub`).
pub const MAX_USER_LEN: usize = 255;
/// The bytes of a secret the server creates.
pub const SECRET_LEN: usize = 32;
/// The largest secret file read.
const MAX_SECRET_FILE: u64 = 4096;
/// The assertion's version tag.
const VERSION: &str = "v1";

/// Why an assertion is refused. The text never contains the assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// Longer than [`MAX_ASSERTION_LEN`].
    #[error("the assertion is longer than 1024 bytes")]
    TooLong,
    /// Not four dot-separated parts of the right characters.
    #[error("the assertion is malformed")]
    Malformed,
    /// A version other than `v1`.
    #[error("the assertion's version is not v1")]
    Version,
    /// The MAC does not match: forged, or made with another secret.
    #[error("the assertion's signature does not match")]
    BadSignature,
    /// Its expiry has passed.
    #[error("the assertion has expired")]
    Expired,
    /// The user is empty, too long, not UTF-8 or has control characters.
    #[error("the assertion's user must be 1-255 bytes of UTF-8 without control characters")]
    BadUser,
}

impl AssertionError {
    /// A stable machine-readable name (logs and metrics).
    pub const fn code(&self) -> &'static str {
        match self {
            AssertionError::TooLong => "assertion_too_long",
            AssertionError::Malformed => "assertion_malformed",
            AssertionError::Version => "assertion_version",
            AssertionError::BadSignature => "assertion_bad_signature",
            AssertionError::Expired => "assertion_expired",
            AssertionError::BadUser => "assertion_bad_user",
        }
    }
}

/// Why a secret file cannot be used. Names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Reading or creating it failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Readable or writable by group or others.
    #[error("{path} is accessible by group or others (mode {mode:04o}): run chmod 600")]
    Insecure {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not hex of at least 32 bytes, or larger than 4 KiB.
    #[error("{path} must hold at least 64 hex digits (32 bytes) and nothing else")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A secret shared by the host and every server: it keys the assertions and the consent
/// page's CSRF tokens (or, read from `oauth-key`, the access tokens). `Debug` never shows
/// it.
#[derive(Clone)]
pub struct HostSecret {
    bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for HostSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostSecret([REDACTED])")
    }
}

impl HostSecret {
    /// A secret of these bytes (at least 32), or `None`.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= SECRET_LEN).then(|| HostSecret {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// A fresh random secret of [`SECRET_LEN`] bytes.
    pub fn generate() -> Result<Self, SecretFileError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        portcullis::OsRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SecretFileError::Random)?;
        Ok(HostSecret { bytes })
    }

    /// The secret's bytes (to key access tokens with `AccessKeys::new`).
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// Reads a secret file: private to its owner, at most 4 KiB, hex of at least 32 bytes.
    pub fn load(path: &Path) -> Result<Self, SecretFileError> {
        let io = |source| SecretFileError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        check_private(path, &file.metadata().map_err(io)?)?;
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_SECRET_FILE + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        let malformed = || SecretFileError::Malformed {
            path: path.to_owned(),
        };
        if text.len() as u64 > MAX_SECRET_FILE {
            return Err(malformed());
        }
        let bytes = Zeroizing::new(from_hex(text.trim()).ok_or_else(malformed)?);
        HostSecret::from_bytes(&bytes).ok_or_else(malformed)
    }

    /// Reads a secret file, creating it (mode 0600, a fresh secret) when missing. Returns
    /// the secret and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SecretFileError> {
        match HostSecret::load(path) {
            Err(SecretFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other.map(|s| (s, false)),
        }
        let secret = HostSecret::generate()?;
        let io = |source| SecretFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                let text = Zeroizing::new(format!("{}\n", to_hex(secret.expose())));
                file.write_all(text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok((secret, true))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                HostSecret::load(path).map(|s| (s, false))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Mints an assertion that `user` is signed in until `expires_at` (Unix seconds).
    pub fn assert_user(&self, user: &str, expires_at: u64) -> Result<String, AssertionError> {
        self.sign_names(VERSION, &[user], expires_at)
    }

    /// Verifies an assertion at `now` (Unix seconds) and returns the signed-in user.
    pub fn verify(&self, assertion: &[u8], now: u64) -> Result<String, AssertionError> {
        let [user] = self.verify_names(VERSION, assertion, now)?;
        Ok(user)
    }

    /// Mints `<version>.<base64url(name)>….<expiry>.<base64url(MAC)>`, the MAC over all
    /// that precedes it; each name 1-255 bytes of UTF-8 without control characters.
    pub fn sign_names(
        &self,
        version: &str,
        names: &[&str],
        expires_at: u64,
    ) -> Result<String, AssertionError> {
        let mut signed = version.to_owned();
        for name in names {
            if !valid_user(name.as_bytes()) {
                return Err(AssertionError::BadUser);
            }
            signed.push('.');
            signed.push_str(&URL_SAFE_NO_PAD.encode(name.as_bytes()));
        }
        signed.push_str(&format!(".{expires_at}"));
        let mac = URL_SAFE_NO_PAD.encode(self.mac(&[signed.as_bytes()]));
        let assertion = format!("{signed}.{mac}");
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(AssertionError::TooLong);
        }
        Ok(assertion)
    }

    /// Verifies an assertion of `version` with `N` names at `now`, and returns the names.
    /// Checked in this order: length, shape, version, MAC (constant time), expiry, names.
    pub fn verify_names<const N: usize>(
        &self,
        version: &str,
        assertion: &[u8],
        now: u64,
    ) -> Result<[String; N], AssertionError> {
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(AssertionError::TooLong);
        }
        let text = std::str::from_utf8(assertion).map_err(|_| AssertionError::Malformed)?;
        let parts: Vec<&str> = text.split('.').collect();
        let [tag, names @ .., expiry, mac] = parts.as_slice() else {
            return Err(AssertionError::Malformed);
        };
        if names.len() != N {
            return Err(AssertionError::Malformed);
        }
        if *tag != version {
            return Err(AssertionError::Version);
        }
        let digits = !expiry.is_empty() && expiry.len() <= 20;
        if !digits || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AssertionError::Malformed);
        }
        let expires_at: u64 = expiry.parse().map_err(|_| AssertionError::Malformed)?;
        let given = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| AssertionError::Malformed)?;
        let given: [u8; 32] = given.try_into().map_err(|_| AssertionError::Malformed)?;
        let signed = &text[..text.len() - mac.len() - 1];
        if !constant_time_eq::constant_time_eq_32(&self.mac(&[signed.as_bytes()]), &given) {
            return Err(AssertionError::BadSignature);
        }
        if now >= expires_at {
            return Err(AssertionError::Expired);
        }
        let mut out: [String; N] = std::array::from_fn(|_| String::new());
        for (slot, name) in out.iter_mut().zip(names) {
            let bytes = URL_SAFE_NO_PAD
                .decode(name)
                .map_err(|_| AssertionError::BadUser)?;
            if !valid_user(&bytes) {
                return Err(AssertionError::BadUser);
            }
            *slot = String::from_utf8(bytes).map_err(|_| AssertionError::BadUser)?;
        }
        Ok(out)
    }

    /// A token binding `fields` under `purpose` until `expires_at`:
    /// `<expiry>.<base64url(MAC)>` (the CSRF tokens of the consent and key pages).
    pub fn token(&self, purpose: &[u8], fields: &[&[u8]], expires_at: u64) -> String {
        let expires = expires_at.to_string();
        format!(
            "{expires}.{}",
            URL_SAFE_NO_PAD.encode(self.token_mac(purpose, fields, &expires))
        )
    }

    /// Whether `token` is [`HostSecret::token`]'s for these `fields` and not expired at
    /// `now` (compared in constant time).
    pub fn token_matches(&self, purpose: &[u8], fields: &[&[u8]], token: &[u8], now: u64) -> bool {
        let Ok(token) = std::str::from_utf8(token) else {
            return false;
        };
        let Some((expires, mac)) = token.split_once('.') else {
            return false;
        };
        let Ok(expires_at) = expires.parse::<u64>() else {
            return false;
        };
        let Ok(given) = URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        let Ok(given) = <[u8; 32]>::try_from(given.as_slice()) else {
            return false;
        };
        let expected = self.token_mac(purpose, fields, expires);
        constant_time_eq::constant_time_eq_32(&expected, &given) && now < expires_at
    }

    fn token_mac(&self, purpose: &[u8], fields: &[&[u8]], expires: &str) -> [u8; 32] {
        let mut parts = Vec::with_capacity(fields.len() + 2);
        parts.push(purpose);
        parts.extend_from_slice(fields);
        parts.push(expires.as_bytes());
        self.mac(&parts)
    }

    /// HMAC-SHA256 of the parts, each preceded by its length (so no two part lists collide).
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.bytes) else {
            // HMAC takes keys of any length; unreachable, and an all-zero MAC matches nothing
            // computed.
            return [0; 32];
        };
        if let [only] = parts {
            mac.update(only);
        } else {
            for part in parts {
                mac.update(&(part.len() as u64).to_be_bytes());
                mac.update(part);
            }
        }
        mac.finalize().into_bytes().into()
    }
}

fn valid_user(user: &[u8]) -> bool {
    (1..=MAX_USER_LEN).contains(&user.len())
        && std::str::from_utf8(user).is_ok_and(|u| !u.chars().any(char::is_control))
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), SecretFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::Insecure {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), SecretFileError> {
    Ok(())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> HostSecret {
        HostSecret::from_bytes(&[byte; 32]).expect("32 bytes")
    }

    #[test]
    fn a_minted_assertion_verifies_until_it_expires() {
        let s = secret(1);
        let a = s.assert_user("user_7", 1000).expect("mint");
        assert!(a.starts_with("v1.dXNlcl83.1000."), "{a}");
        assert_eq!(s.verify(a.as_bytes(), 999), Ok("user_7".to_owned()));
        assert_eq!(s.verify(a.as_bytes(), 1000), Err(AssertionError::Expired));
    }

    #[test]
    fn the_documented_formula_is_what_verifies() {
        let s = secret(2);
        let signed = format!("v1.{}.2000", URL_SAFE_NO_PAD.encode("ann@example.com"));
        let mut mac = HmacSha256::new_from_slice(&[2u8; 32]).expect("key");
        mac.update(signed.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let a = format!("{signed}.{tag}");
        assert_eq!(s.verify(a.as_bytes(), 1), Ok("ann@example.com".to_owned()));
    }

    #[test]
    fn forged_and_tampered_assertions_are_refused() {
        let s = secret(1);
        let a = s.assert_user("user_7", 1000).expect("mint");
        let other = secret(9).assert_user("user_7", 1000).expect("mint");
        assert_eq!(
            s.verify(other.as_bytes(), 1),
            Err(AssertionError::BadSignature)
        );
        let admin = a.replace("dXNlcl83", &URL_SAFE_NO_PAD.encode("admin"));
        assert_eq!(
            s.verify(admin.as_bytes(), 1),
            Err(AssertionError::BadSignature)
        );
        let later = a.replace(".1000.", ".9999.");
        assert_eq!(
            s.verify(later.as_bytes(), 1),
            Err(AssertionError::BadSignature)
        );
        // A forged one is a bad signature even when it claims to be expired.
        assert_eq!(
            s.verify(later.as_bytes(), 100_000),
            Err(AssertionError::BadSignature)
        );
    }

    #[test]
    fn malformed_assertions_get_typed_errors() {
        let s = secret(1);
        let a = s.assert_user("u", 1000).expect("mint");
        let cases: [(&[u8], AssertionError); 8] = [
            (b"", AssertionError::Malformed),
            (b"v1.dQ.1000", AssertionError::Malformed),
            (b"v1.dQ.1000.x.y", AssertionError::Malformed),
            (b"v1.dQ.-1.AAAA", AssertionError::Malformed),
            (b"v1.dQ.1000.!!", AssertionError::Malformed),
            (b"v1.dQ.1000.AAAA", AssertionError::Malformed),
            (b"v2.dQ.1000.AAAA", AssertionError::Version),
            (&[0xff, b'.'], AssertionError::Malformed),
        ];
        for (input, error) in cases {
            assert_eq!(
                s.verify(input, 1),
                Err(error),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let long = format!("{a}{}", "A".repeat(MAX_ASSERTION_LEN));
        assert_eq!(s.verify(long.as_bytes(), 1), Err(AssertionError::TooLong));
    }

    #[test]
    fn users_are_bounded() {
        let s = secret(1);
        assert_eq!(s.assert_user("", 10), Err(AssertionError::BadUser));
        assert_eq!(s.assert_user("a\nb", 10), Err(AssertionError::BadUser));
        assert_eq!(
            s.assert_user(&"u".repeat(256), 10),
            Err(AssertionError::BadUser)
        );
        assert!(s.assert_user(&"u".repeat(255), 10).is_ok());
        // An authentic assertion of a control character is still refused.
        let signed = format!("v1.{}.10", URL_SAFE_NO_PAD.encode("a\u{7}"));
        let tag = URL_SAFE_NO_PAD.encode(s.mac(&[signed.as_bytes()]));
        let a = format!("{signed}.{tag}");
        assert_eq!(s.verify(a.as_bytes(), 1), Err(AssertionError::BadUser));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", secret(0xab));
        assert_eq!(shown, "HostSecret([REDACTED])");
        assert!(!shown.to_lowercase().contains("ab, "));
    }

    #[test]
    fn part_lists_do_not_collide() {
        let s = secret(1);
        assert_ne!(s.mac(&[b"ab", b"c"]), s.mac(&[b"a", b"bc"]));
    }

    #[test]
    fn secret_files_are_created_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("host-secret");
        let (created, new) = HostSecret::load_or_create(&path).expect("create");
        assert!(new);
        let (again, new) = HostSecret::load_or_create(&path).expect("load");
        assert!(!new);
        assert_eq!(created.expose(), again.expose());
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(&path).expect("meta");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(
                HostSecret::load(&path),
                Err(SecretFileError::Insecure { .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        std::fs::write(&path, "abcd\n").expect("write");
        assert!(matches!(
            HostSecret::load(&path),
            Err(SecretFileError::Malformed { .. })
        ));
        let error = HostSecret::load(&path).expect_err("short").to_string();
        assert!(!error.contains("abcd"), "{error}");
    }
}
