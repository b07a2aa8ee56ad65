//! Database URLs: `sqlite:PATH` (also `sqlite://PATH`) and `postgresql://…` (also
//! `postgres://…`, libpq's URI form, parsed by the client crate; `sslmode` and
//! `sslrootcert` are read here, see [`crate::tls`]). A URL's password never appears in an
//! error, a `Debug` or a `Display`: they show [`Target::describe`].

use crate::error::{Error, ErrorKind};
use crate::tls::{self, Tls};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Longest URL accepted (longer input is refused before parsing).
pub const MAX_URL_LEN: usize = 4096;

/// Where a store lives.
#[derive(Clone)]
pub enum Target {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgTarget>),
}

/// A PostgreSQL database and how to reach it.
#[derive(Clone)]
pub struct PgTarget {
    /// The client crate's settings (its `sslmode` set from [`PgTarget::tls`]).
    pub config: postgres::Config,
    /// How the connection uses TLS.
    pub tls: Tls,
    /// The `sslrootcert` file: the certificates the server's must chain to.
    pub root_cert: Option<PathBuf>,
}

impl PgTarget {
    fn parse(url: &str) -> Result<PgTarget, Error> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut mode, mut root_cert, mut rest) = (None, None, Vec::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = Some(Tls::parse(v)?),
                Some(("sslrootcert", v)) => root_cert = Some(tls::root_cert_path(v)?),
                _ => rest.push(pair),
            }
        }
        let plain = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        // The client's parse errors may quote the URL: not shown.
        let mut config = postgres::Config::from_str(&plain).map_err(|_| {
            Error::new(
                ErrorKind::BadUrl,
                "the PostgreSQL URL does not parse (check its percent-escapes, port and parameters)",
            )
        })?;
        if config.get_hosts().is_empty() {
            return Err(Error::new(
                ErrorKind::BadUrl,
                "the PostgreSQL URL names no host",
            ));
        }
        let tls = mode.unwrap_or_else(|| {
            if config.get_hosts().iter().all(is_local) {
                Tls::Disable
            } else {
                Tls::Require
            }
        });
        config.ssl_mode(tls.ssl_mode());
        Ok(PgTarget {
            config,
            tls,
            root_cert,
        })
    }
}

/// Whether a host is this machine (loopback or a Unix socket).
fn is_local(host: &postgres::config::Host) -> bool {
    match host {
        postgres::config::Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => true,
    }
}

impl Target {
    /// Parses a database URL.
    pub fn parse(url: &str) -> Result<Target, Error> {
        if url.len() > MAX_URL_LEN {
            return Err(Error::new(
                ErrorKind::BadUrl,
                format!("database URL is longer than {MAX_URL_LEN} bytes"),
            ));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::new(
                    ErrorKind::BadUrl,
                    "sqlite: URL without a file path",
                ));
            }
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgresql://") || url.starts_with("postgres://") {
            return PgTarget::parse(url).map(|t| Target::Postgres(Box::new(t)));
        }
        let scheme = url.split(':').next().unwrap_or("");
        let shown: String = scheme.chars().take(32).collect();
        Err(Error::new(
            ErrorKind::BadUrl,
            format!("unsupported database URL scheme {shown:?}"),
        ))
    }

    /// The URL without its password: `sqlite:PATH` or `postgresql://USER@HOST:PORT/DB`.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(path) => format!("sqlite:{}", path.display()),
            Target::Postgres(target) => {
                let config = &target.config;
                let host = match config.get_hosts().first() {
                    Some(postgres::config::Host::Tcp(h)) => h.clone(),
                    #[cfg(unix)]
                    Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
                    None => String::new(),
                };
                let port = config.get_ports().first().copied().unwrap_or(5432);
                format!(
                    "postgresql://{}@{host}:{port}/{}",
                    config.get_user().unwrap_or(""),
                    config.get_dbname().unwrap_or("")
                )
            }
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.describe())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        let t = Target::parse("postgresql://app:s3cr3tpw@127.0.0.1:5433/db").expect("parses");
        assert_eq!(t.describe(), "postgresql://app@127.0.0.1:5433/db");
        assert!(!format!("{t:?}").contains("s3cr3tpw"));
        let bad =
            Target::parse("postgresql://app:s3cr3tpw@127.0.0.1:notaport/db").expect_err("bad port");
        assert_eq!(bad.code(), "store_bad_url");
        assert!(!bad.message().contains("s3cr3tpw"));
    }

    fn tls_of(url: &str) -> (Tls, Option<PathBuf>) {
        match Target::parse(url) {
            Ok(Target::Postgres(t)) => (t.tls, t.root_cert),
            _ => panic!("{url} does not parse as PostgreSQL"),
        }
    }

    #[test]
    fn tls_is_off_for_this_machine_and_required_elsewhere_unless_the_url_says() {
        for local in [
            "postgresql://u@127.0.0.1/db",
            "postgresql://u@localhost:5433/db",
            "postgresql://u@[::1]/db",
            "postgresql://u@%2Ftmp%2Fpg/db",
        ] {
            assert_eq!(tls_of(local).0, Tls::Disable, "{local}");
        }
        assert_eq!(tls_of("postgresql://u@db.example.com/db").0, Tls::Require);
        assert_eq!(tls_of("postgresql://u@10.0.0.5/db").0, Tls::Require);
        assert_eq!(
            tls_of("postgresql://u@db.example.com/db?sslmode=disable").0,
            Tls::Disable
        );
        assert_eq!(
            tls_of("postgresql://u@127.0.0.1/db?sslmode=verify-full&sslrootcert=%2Fca.pem"),
            (Tls::Require, Some(PathBuf::from("/ca.pem")))
        );
        assert_eq!(
            tls_of("postgresql://u@127.0.0.1/db?connect_timeout=3&sslmode=prefer").0,
            Tls::Prefer
        );
        let e = Target::parse("postgresql://u:s3cr3tpw@h/db?sslmode=allow").expect_err("allow");
        assert_eq!(e.code(), "store_bad_url");
        assert!(!e.message().contains("s3cr3tpw"));
    }

    #[test]
    fn schemes() {
        assert!(
            matches!(Target::parse("sqlite:/tmp/x.db"), Ok(Target::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        assert!(
            matches!(Target::parse("sqlite:///tmp/x.db"), Ok(Target::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        for bad in ["sqlite:", "mysql://x", "", "postgres://"] {
            assert_eq!(
                Target::parse(bad).expect_err(bad).code(),
                "store_bad_url",
                "{bad}"
            );
        }
        let long = format!("sqlite:{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            Target::parse(&long).expect_err("long").code(),
            "store_bad_url"
        );
    }
}
