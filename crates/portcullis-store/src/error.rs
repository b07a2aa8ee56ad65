//! The store's typed errors: a stable [`Error::code`], a message that names what failed
//! (never a password, a key or a token) and a hint that says what to do.

use portcullis::codes::{self, Code, HasCode};
use std::fmt;

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<&'static str>,
}

/// The kinds of store error; each has a stable code ([`ErrorKind::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The database URL does not parse or names an unsupported scheme.
    BadUrl,
    /// The database server cannot be reached (refused, timed out, name not resolved).
    Unreachable,
    /// The server refused the credentials.
    AuthFailed,
    /// The database holds another product's tables.
    Foreign,
    /// The schema is newer than this build understands.
    TooNew,
    /// A stored row cannot be decoded (damaged JSON, an id that does not match its row).
    Corrupt,
    /// A stored value is longer than the limit a read accepts.
    TooLarge,
    /// A record with this id already exists.
    Duplicate,
    /// No record with this id.
    NotFound,
    /// The key is revoked or expired and cannot be rotated.
    Inactive,
    /// The connection was lost or the database failed a statement.
    Database,
    /// Another process held the database's write lock longer than the statement timeout
    /// (SQLite's busy timeout).
    Busy,
}

impl ErrorKind {
    /// The stable machine-readable code (`store_foreign`, …).
    pub const fn code(self) -> &'static str {
        self.row().code()
    }

    /// The row of the core's table of codes (family `database`).
    pub const fn row(self) -> &'static Code {
        match self {
            ErrorKind::BadUrl => &codes::DATABASE_STORE_BAD_URL,
            ErrorKind::Unreachable => &codes::DATABASE_STORE_UNREACHABLE,
            ErrorKind::AuthFailed => &codes::DATABASE_STORE_AUTH_FAILED,
            ErrorKind::Foreign => &codes::DATABASE_STORE_FOREIGN,
            ErrorKind::TooNew => &codes::DATABASE_STORE_TOO_NEW,
            ErrorKind::Corrupt => &codes::DATABASE_CORRUPT_RECORD,
            ErrorKind::TooLarge => &codes::DATABASE_STORE_VALUE_TOO_LARGE,
            ErrorKind::Duplicate => &codes::DATABASE_DUPLICATE_KEY,
            ErrorKind::NotFound => &codes::DATABASE_KEY_NOT_FOUND,
            ErrorKind::Inactive => &codes::DATABASE_KEY_INACTIVE,
            ErrorKind::Database => &codes::DATABASE_STORE_ERROR,
            ErrorKind::Busy => &codes::DATABASE_STORE_BUSY,
        }
    }

    /// Every kind (for tables and tests).
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::BadUrl,
        ErrorKind::Unreachable,
        ErrorKind::AuthFailed,
        ErrorKind::Foreign,
        ErrorKind::TooNew,
        ErrorKind::Corrupt,
        ErrorKind::TooLarge,
        ErrorKind::Duplicate,
        ErrorKind::NotFound,
        ErrorKind::Inactive,
        ErrorKind::Database,
        ErrorKind::Busy,
    ];
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: default_hint(kind),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// What failed (no secret: URLs are shown without their password).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        self.hint
    }
}

fn default_hint(kind: ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::BadUrl => {
            "use sqlite:PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or postgres://)"
        }
        ErrorKind::Unreachable => {
            "check that the database server runs and that HOST and PORT of the URL are right"
        }
        ErrorKind::AuthFailed => "check the user and password of the database URL",
        ErrorKind::Foreign => {
            "point the URL at an empty database or at one portcullis created; portcullis never alters another product's tables"
        }
        ErrorKind::TooNew => "upgrade portcullis to the version that last migrated this database",
        ErrorKind::Corrupt => {
            "restore the database from a backup, or revoke the key (it is then refused as unknown) and issue a new one"
        }
        ErrorKind::TooLarge => "the row was not written by portcullis; restore it from a backup",
        ErrorKind::Duplicate => {
            "issue the key again: ids are random, a collision means a copied record"
        }
        ErrorKind::NotFound => "list the keys to find the right id",
        ErrorKind::Inactive => "issue a new key instead",
        ErrorKind::Database => "check the database server's log; the operation had no effect",
        ErrorKind::Busy => {
            "retry when the other writer has finished, or allow a longer statement timeout"
        }
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl HasCode for Error {
    fn row(&self) -> &'static Code {
        self.kind.row()
    }
}

impl From<Error> for portcullis::LookupError {
    fn from(e: Error) -> Self {
        portcullis::LookupError::new(format!("{}: {}", e.code(), e.message))
    }
}

/// A SQLite error, with the database it concerns.
pub(crate) fn sqlite(what: &str, e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let kind = match e.sqlite_error_code() {
        Some(C::NotADatabase) => ErrorKind::Foreign,
        Some(C::ConstraintViolation) => ErrorKind::Duplicate,
        Some(C::DatabaseBusy | C::DatabaseLocked) => ErrorKind::Busy,
        Some(C::CannotOpen | C::PermissionDenied) => ErrorKind::Unreachable,
        _ => ErrorKind::Database,
    };
    Error::new(kind, format!("{what}: {e}"))
}

/// A PostgreSQL error. Its text never holds the connection's password (the client's
/// errors do not quote the configuration).
pub(crate) fn postgres(what: &str, e: &postgres::Error) -> Error {
    use postgres::error::SqlState;
    let kind = match e.code() {
        Some(c) if *c == SqlState::INVALID_PASSWORD => ErrorKind::AuthFailed,
        Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => ErrorKind::AuthFailed,
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => ErrorKind::Duplicate,
        Some(_) => ErrorKind::Database,
        None if e.is_closed() => ErrorKind::Database,
        None => ErrorKind::Unreachable,
    };
    Error::new(kind, format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_row_of_the_database_family_and_every_row_is_a_kind() {
        let rows: Vec<&Code> = ErrorKind::ALL.iter().map(|k| k.row()).collect();
        for (kind, row) in ErrorKind::ALL.iter().zip(&rows) {
            assert_eq!(row.family(), codes::Family::Database, "{kind:?}");
            assert_eq!(
                codes::find(codes::Family::Database, kind.code()),
                Some(*row)
            );
        }
        let table: Vec<&Code> = codes::TABLE
            .iter()
            .filter(|r| r.family() == codes::Family::Database)
            .collect();
        assert_eq!(table, rows, "the table's rows are the kinds', in order");
    }

    #[test]
    fn codes_are_unique_and_every_kind_has_a_hint() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()), "{} twice", kind.code());
            assert!(default_hint(kind).is_some());
        }
    }
}
