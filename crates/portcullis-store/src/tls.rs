//! TLS to PostgreSQL: the URL's `sslmode` and `sslrootcert` (libpq's names), rustls with
//! the `ring` provider (already the core's crypto), through `tokio-postgres-rustls`.
//!
//! Decisions:
//! - **Verified or not used.** Every TLS connection verifies the server's certificate and
//!   host name, against `sslrootcert` when given, else the system's roots. Unlike libpq,
//!   `require` verifies too, and `verify-ca` is `verify-full`: a store that trusts a
//!   man in the middle with every key and revocation is not a mode worth offering.
//! - **Secure by default off the machine.** Without `sslmode`, a loopback or Unix-socket
//!   host connects in plaintext (a local server, where TLS adds nothing) and any other host
//!   requires TLS; `sslmode=disable` is the explicit opt-out for a trusted network.
//! - `prefer` is libpq's: TLS (verified) when the server offers it, plaintext when it does
//!   not; a server that offers TLS with a certificate that does not verify is refused.

use crate::error::{Error, ErrorKind};
use crate::files::{self, Accept};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest `sslrootcert` file read.
pub const MAX_ROOT_CERT_FILE: usize = 1024 * 1024;

/// How a PostgreSQL connection uses TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plaintext: `sslmode=disable`, and the default for a loopback or Unix-socket host.
    Disable,
    /// TLS when the server offers it, its certificate verified; plaintext otherwise.
    Prefer,
    /// TLS with the server's certificate verified against the `sslrootcert` file, else the
    /// system's roots (`require`, `verify-ca`, `verify-full`, and the default for any other
    /// host).
    Require,
}

impl Tls {
    /// The mode an `sslmode` value names.
    pub(crate) fn parse(mode: &str) -> Result<Tls, Error> {
        match mode {
            "disable" => Ok(Tls::Disable),
            "prefer" => Ok(Tls::Prefer),
            "require" | "verify-ca" | "verify-full" => Ok(Tls::Require),
            other => {
                let shown: String = other.chars().take(32).collect();
                Err(Error::new(
                    ErrorKind::BadUrl,
                    format!(
                        "sslmode {shown:?} is not one of disable, prefer, require, verify-ca, verify-full"
                    ),
                ))
            }
        }
    }

    /// The client crate's mode (what it asks the server for).
    pub(crate) fn ssl_mode(&self) -> postgres::config::SslMode {
        match self {
            Tls::Disable => postgres::config::SslMode::Disable,
            Tls::Prefer => postgres::config::SslMode::Prefer,
            Tls::Require => postgres::config::SslMode::Require,
        }
    }
}

/// The connector of a verified TLS connection.
pub(crate) fn connector(
    root_cert: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, Error> {
    let roots = match root_cert {
        Some(path) => file_roots(path)?,
        None => system_roots()?,
    };
    // ring, the core's crypto: aws-lc-rs (rustls' default, with post-quantum key exchange)
    // needs a C and cmake toolchain at build time. Classical ECDHE is what it offers.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Database, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn bad_root(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::BadUrl,
        format!("sslrootcert {}: {why}", path.display()),
    )
}

/// The certificates of a PEM file.
fn file_roots(path: &Path) -> Result<rustls::RootCertStore, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = files::read(path, Accept::Regular, MAX_ROOT_CERT_FILE).map_err(|e| match e {
        files::FileError::Io(e) => bad_root(path, e),
        files::FileError::NotAccepted(kind) => bad_root(path, format!("is {kind}")),
        files::FileError::TooLarge(limit) => bad_root(path, format!("is over {limit} bytes")),
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad_root(path, format!("not PEM certificates ({e})")))?;
        roots
            .add(cert)
            .map_err(|e| bad_root(path, format!("a certificate is unusable ({e})")))?;
    }
    if roots.is_empty() {
        return Err(bad_root(path, "holds no certificate"));
    }
    Ok(roots)
}

/// The system's root certificates.
fn system_roots() -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(Error::new(
            ErrorKind::BadUrl,
            "TLS to PostgreSQL: no system root certificate found; name the server's CA with \
             sslrootcert=PATH in the URL",
        ));
    }
    Ok(roots)
}

/// The hint added to a failed connection's message when TLS is in use.
pub(crate) const HINT: &str = "(TLS: the server's certificate must verify against \
     sslrootcert or the system's roots, for the host name of the URL; sslmode=disable \
     turns TLS off on a trusted network)";

/// `sslrootcert`'s path, percent-decoded.
pub(crate) fn root_cert_path(value: &str) -> Result<PathBuf, Error> {
    let decoded = percent_decode(value).ok_or_else(|| {
        Error::new(
            ErrorKind::BadUrl,
            "sslrootcert is not a valid percent-encoded path",
        )
    })?;
    if decoded.is_empty() {
        return Err(Error::new(ErrorKind::BadUrl, "sslrootcert is empty"));
    }
    Ok(PathBuf::from(decoded))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_paths() {
        assert_eq!(Tls::parse("disable").ok(), Some(Tls::Disable));
        assert_eq!(Tls::parse("prefer").ok(), Some(Tls::Prefer));
        for m in ["require", "verify-ca", "verify-full"] {
            assert_eq!(Tls::parse(m).ok(), Some(Tls::Require), "{m}");
        }
        for bad in ["allow", "", "REQUIRE"] {
            assert_eq!(Tls::parse(bad).expect_err(bad).code(), "store_bad_url");
        }
        assert_eq!(
            root_cert_path("/etc/ssl/my%20ca.pem").ok(),
            Some(PathBuf::from("/etc/ssl/my ca.pem"))
        );
        for bad in ["%zz", "%4", ""] {
            assert!(root_cert_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let e = connector(Some(&path)).err().expect("refused");
        assert_eq!(e.code(), "store_bad_url");
        assert!(e.message().contains("no certificate"), "{}", e.message());
        let e = connector(Some(&dir.path().join("absent.pem")))
            .err()
            .expect("refused");
        assert_eq!(e.code(), "store_bad_url");
    }
}
