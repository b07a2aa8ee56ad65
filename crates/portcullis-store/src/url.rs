//! Database URLs: `sqlite:PATH` (also `sqlite://PATH`) and `postgresql://…` (also
//! `postgres://…`, libpq's URI form, parsed by the client crate). A URL's password never
//! appears in an error, a `Debug` or a `Display`: they show [`Target::describe`].

use crate::error::{Error, ErrorKind};
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
    Postgres(Box<postgres::Config>),
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
            // The client's parse errors may quote the URL: not shown.
            let config = postgres::Config::from_str(url).map_err(|_| {
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
            return Ok(Target::Postgres(Box::new(config)));
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
            Target::Postgres(config) => {
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
