//! The command's store: [`portcullis_store::Store`] on the embedded SQLite file of the store
//! directory (the default) or on the database `--database URL` names (`sqlite:PATH`,
//! `postgresql://…`), with the command's error codes, hints and exit codes.
//!
//! - The schema, its migrations and the identity checks are the store crate's; its
//!   migration 1 is this command's former schema, so an existing store is upgraded in
//!   place by the first command that changes it.
//! - A SQLite file is looked at before the store crate opens it, because the command's
//!   promises about its file are stricter than a library's: only `init` creates a
//!   database (a missing one is `store_missing`, a zero-length one or one without any
//!   schema `store_corrupt`: its keys are gone, and a new empty store would make every key
//!   fail as unknown with no error for the operator), and commands that only read
//!   (`keys list`, `keys show`, `check`) never upgrade an older schema (`store_outdated`).
//! - On PostgreSQL the database is the operator's: every command opens it as the store
//!   crate does (an empty database gets the schema; a foreign or newer one is refused).
//! - One record that cannot be decoded does not hide the others: [`Store::list`] returns
//!   it as a [`CorruptRow`] beside the good records, and [`Store::revoke`] works on it (its
//!   `revoked_at` column). A lookup of it fails closed (503) until it is revoked; then it
//!   finds no key (401).

use crate::error::CliError;
use portcullis::{Checker, KeyId, KeyLookup, KeyRecord, LookupError, Rotation, Timestamp};
use portcullis_store::{
    Actor, AuditEntry, AuditFilter, AuditLock, ErrorKind, Options, StoredKey, Target,
};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use portcullis_store::{APPLICATION_ID, SCHEMA_VERSION};

/// How long a command waits for another process's write lock unless told otherwise.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// What a command does with the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `init`: the database may be created.
    Create,
    /// A command that changes the store (and may upgrade its schema).
    Write,
    /// A command that only reads: an older SQLite schema is `store_outdated`.
    Read,
}

/// An open store.
pub struct Store {
    inner: portcullis_store::Store,
    shown: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.shown)
            .finish()
    }
}

impl Store {
    /// Opens the store at a database URL (`sqlite:PATH` or `postgresql://…`) for
    /// `access`; `busy` is how long a statement waits for another process's lock.
    pub fn open(url: &str, access: Access, busy: Duration) -> Result<Store, CliError> {
        Store::open_as(url, access, busy, Actor::UNKNOWN)
    }

    /// [`Store::open`], its changes audited as made by `actor`.
    pub fn open_as(
        url: &str,
        access: Access,
        busy: Duration,
        actor: Actor,
    ) -> Result<Store, CliError> {
        let target = Target::parse(url).map_err(|e| from_store(&e, "the --database URL"))?;
        let shown = target.describe();
        let mut options = Options {
            create: access == Access::Create,
            statement_timeout: busy,
            // A command is over in moments: no second connection, and its own writes
            // reach its cache at once.
            feed: false,
            actor,
            ..Options::default()
        };
        match &target {
            Target::Sqlite(path) if access != Access::Create => precheck(path, access)?,
            Target::Sqlite(_) => {}
            // A statement timeout of 0 would fail every statement on PostgreSQL.
            Target::Postgres(_) => options.statement_timeout = busy.max(Duration::from_secs(1)),
        }
        let inner =
            portcullis_store::Store::open_with(url, options).map_err(|e| from_store(&e, &shown))?;
        Ok(Store { inner, shown })
    }

    /// Opens the store for a long-running server (`portcullis serve`): its change feed runs,
    /// so other processes' writes and revocations reach its cache within the staleness
    /// bound. Returns the store crate's store, which the server shares between threads.
    pub fn open_serving(
        url: &str,
        busy: Duration,
        actor: Actor,
    ) -> Result<(portcullis_store::Store, String), CliError> {
        let target = Target::parse(url).map_err(|e| from_store(&e, "the --database URL"))?;
        let shown = target.describe();
        let mut options = Options {
            create: false,
            statement_timeout: busy,
            actor,
            ..Options::default()
        };
        match &target {
            Target::Sqlite(path) => precheck(path, Access::Write)?,
            Target::Postgres(_) => options.statement_timeout = busy.max(Duration::from_secs(1)),
        }
        let inner =
            portcullis_store::Store::open_with(url, options).map_err(|e| from_store(&e, &shown))?;
        Ok((inner, shown))
    }

    /// The database, without a password (`sqlite:PATH`, `postgresql://USER@HOST:PORT/DB`).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The store crate's store (its cache, feed and OAuth state).
    pub fn inner(&self) -> &portcullis_store::Store {
        &self.inner
    }

    fn err(&self, e: &portcullis_store::Error) -> CliError {
        from_store(e, &self.shown)
    }

    /// Stores a new record (an existing id is `duplicate_key`).
    pub fn insert(&self, record: &KeyRecord, now: Timestamp) -> Result<(), CliError> {
        self.inner.insert_key(record, now).map_err(|e| self.err(&e))
    }

    /// The record with this id; a row that cannot be decoded is a `corrupt_record` error.
    pub fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, CliError> {
        match self.inner.key_row(id).map_err(|e| self.err(&e))? {
            None => Ok(None),
            Some(StoredKey::Record(record)) => Ok(Some(record)),
            Some(StoredKey::Corrupt(c)) => Err(self.corrupt(&c)),
        }
    }

    /// Every row, oldest first: the records, and the rows that cannot be decoded.
    pub fn list(&self) -> Result<Vec<Row>, CliError> {
        let rows = self.inner.list_keys().map_err(|e| self.err(&e))?;
        Ok(rows.into_iter().map(Row::from).collect())
    }

    /// How many records use each pepper (`None`: legacy SHA-256 records).
    pub fn pepper_usage(&self) -> Result<Vec<(Option<String>, u64)>, CliError> {
        self.inner.pepper_usage().map_err(|e| self.err(&e))
    }

    /// Revokes a key from `now` on, atomically. Returns the row as revoked and whether it
    /// already was (the earlier revocation time is kept).
    pub fn revoke(&self, id: &KeyId, now: Timestamp) -> Result<(Row, bool), CliError> {
        let already = self.inner.revoke_key(id, now).map_err(|e| self.err(&e))?;
        let row = self
            .inner
            .key_row(id)
            .map_err(|e| self.err(&e))?
            .ok_or_else(|| not_found(id))?;
        Ok((Row::from(row), already))
    }

    /// Rotates a key atomically: its successor, and the predecessor's life shortened to
    /// the grace period, in one transaction.
    pub fn rotate(
        &self,
        id: &KeyId,
        checker: &Checker,
        grace: u64,
        now: Timestamp,
    ) -> Result<Rotation, CliError> {
        self.inner
            .rotate_key(id, checker, grace, now)
            .map_err(|e| match e.kind() {
                ErrorKind::Corrupt => self.err(&e).hint(corrupt_hint(id.as_str())),
                _ => self.err(&e),
            })
    }

    /// Moves a record to the primary pepper once its key has been presented (see
    /// `Checker::rehash`). Returns whether it changed.
    pub fn rehash(
        &self,
        id: &KeyId,
        key: &[u8],
        checker: &Checker,
        now: Timestamp,
    ) -> Result<bool, CliError> {
        self.inner
            .rehash_key(id, key, checker, now)
            .map_err(|e| self.err(&e))
    }

    /// Runs `f` while holding the store's write lock (serialises pepper-file changes
    /// between processes).
    pub fn with_write_lock<T>(
        &self,
        f: impl FnOnce() -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        self.inner
            .with_write_lock(|| f().map_err(LockError::Command))
            .map_err(|e| match e {
                LockError::Command(e) => e,
                LockError::Store(e) => self.err(&e),
            })
    }

    /// [`Store::with_write_lock`] for work the audit records: `f` appends its entries
    /// through the lock (as the store's actor); they commit only if `f` succeeds.
    pub fn with_write_lock_audited<T>(
        &self,
        f: impl FnOnce(&mut AuditLock<'_>) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        self.inner
            .with_write_lock_audited(|lock| f(lock).map_err(LockError::Command))
            .map_err(|e| match e {
                LockError::Command(e) => e,
                LockError::Store(e) => self.err(&e),
            })
    }

    /// The audit log, newest first (see [`portcullis_store::Store::audit_log`]).
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CliError> {
        self.inner.audit_log(filter).map_err(|e| self.err(&e))
    }

    fn corrupt(&self, c: &portcullis_store::CorruptKey) -> CliError {
        CorruptRow::from(c.clone()).error(&self.shown)
    }
}

/// What fails under the write lock: the command's work, or taking the lock.
enum LockError {
    Command(CliError),
    Store(portcullis_store::Error),
}

impl From<portcullis_store::Error> for LockError {
    fn from(e: portcullis_store::Error) -> Self {
        LockError::Store(e)
    }
}

impl KeyLookup for Store {
    #[inline]
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        self.inner.lookup(id)
    }
}

/// One row of the store: a record, or a row whose record cannot be decoded.
#[derive(Debug)]
pub enum Row {
    /// A decoded record.
    Record(KeyRecord),
    /// A row whose record JSON is damaged.
    Corrupt(CorruptRow),
}

impl From<StoredKey> for Row {
    fn from(row: StoredKey) -> Row {
        match row {
            StoredKey::Record(r) => Row::Record(r),
            StoredKey::Corrupt(c) => Row::Corrupt(CorruptRow::from(c)),
        }
    }
}

/// A row whose record cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRow {
    /// The row's key id (as stored; it may not be a valid id).
    pub id: String,
    /// Why the record cannot be decoded (never its content).
    pub why: String,
    /// The row's `revoked_at` column: set by `keys revoke` (or before the damage).
    pub revoked_at: Option<Timestamp>,
}

impl From<portcullis_store::CorruptKey> for CorruptRow {
    fn from(c: portcullis_store::CorruptKey) -> Self {
        CorruptRow {
            id: c.id,
            why: c.error.message().to_owned(),
            revoked_at: c.revoked_at,
        }
    }
}

impl CorruptRow {
    /// The message of the `corrupt_record` code.
    pub fn message(&self, database: &str) -> String {
        format!("{} (store {database})", self.why)
    }

    /// The `corrupt_record` error (exit 4), with the fix.
    pub fn error(&self, database: &str) -> CliError {
        CliError::store("corrupt_record", self.message(database)).hint(corrupt_hint(&self.id))
    }
}

/// How to fix a corrupt record.
pub fn corrupt_hint(id: &str) -> String {
    format!(
        "restore the store from a backup, or revoke the key with `portcullis keys revoke {id}` \
         (it is then refused as an unknown key) and create a new one for its owner"
    )
}

/// The error for an id the store does not hold.
pub fn not_found(id: &KeyId) -> CliError {
    CliError::input(
        "key_not_found",
        format!("no key with id {id} in this store"),
    )
    .hint("list the keys with `portcullis keys list`")
}

/// The command's error for a store error: its code and exit code, the command's hint
/// where the command says it better (flags, subcommands), the store crate's otherwise.
pub fn from_store(e: &portcullis_store::Error, shown: &str) -> CliError {
    let message = e.message().to_owned();
    let own = |code: &'static str| {
        let error = CliError::store(code, message.clone());
        match e.hint() {
            Some(hint) => error.hint(hint),
            None => error,
        }
    };
    let sqlite = shown.starts_with("sqlite:");
    match e.kind() {
        ErrorKind::Foreign => CliError::store("store_foreign", message).hint(
            "point --store at a portcullis store directory (or --database at a portcullis database), or run `portcullis init` in an empty one",
        ),
        ErrorKind::TooNew => CliError::store("store_too_new", message)
            .hint("upgrade portcullis to the version that last wrote this store"),
        ErrorKind::Busy => CliError::store(
            "store_busy",
            format!("{shown} stayed locked by another process longer than the busy timeout"),
        )
        .hint("retry when the other portcullis command has finished, or wait longer with --busy-timeout"),
        ErrorKind::Unreachable if sqlite => CliError::store(
            "store_unwritable",
            format!("cannot open {shown} for writing: {message}"),
        )
        .hint("check the permissions of the store directory and its files"),
        ErrorKind::NotFound => CliError::input("key_not_found", message)
            .hint("list the keys with `portcullis keys list`"),
        ErrorKind::Inactive => CliError::input("key_inactive", message)
            .hint("create a new key with `portcullis keys create` instead"),
        ErrorKind::Duplicate => CliError::input("duplicate_key", message),
        ErrorKind::Corrupt | ErrorKind::TooLarge => CliError::store(
            "corrupt_record",
            format!("{message} (store {shown})"),
        )
        .hint("restore the store from a backup, or revoke the key with `portcullis keys revoke ID` and create a new one for its owner"),
        ErrorKind::Database => CliError::store("store_error", format!("store {shown}: {message}"))
            .hint("check the database (the server's log, or the store directory); restore it from a backup if it is damaged"),
        // store_bad_url, store_unreachable, store_auth_failed: the store crate's words.
        _ => own(e.code()),
    }
}

/// The SQLite file's state before the store crate opens it: missing, emptied, not a
/// database, without any schema, or (for a read) older than this build.
fn precheck(path: &Path, access: Access) -> Result<(), CliError> {
    check_file(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let err = |e: rusqlite::Error| sql_error(path, &e);
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(err)?;
    if app_id == 0 && version == 0 && tables == 0 {
        return Err(emptied(path, "holds no portcullis schema"));
    }
    if access == Access::Read && app_id == APPLICATION_ID && (0..SCHEMA_VERSION).contains(&version)
    {
        return Err(CliError::store(
            "store_outdated",
            format!(
                "store schema version {version} of {} is older than this portcullis writes ({SCHEMA_VERSION})",
                path.display(),
            ),
        )
        .hint("run a command that changes the store (`portcullis pepper rotate` or `keys revoke`, `create`, `rotate`) to upgrade it"));
    }
    Ok(())
}

/// Refuses a missing database (`store_missing`) and a zero-length one (`store_corrupt`)
/// before SQLite sees it: SQLite would take an empty file for a new database.
fn check_file(path: &Path) -> Result<(), CliError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::store(
                "store_missing",
                format!("no store database at {}", path.display()),
            )
            .hint("run `portcullis init` first, or point --store (or PORTCULLIS_STORE) at an existing store directory"));
        }
        Err(e) => return Err(CliError::io("database", path, &e)),
    };
    // A database in WAL mode keeps its first page in the main file, so an empty main file
    // with a non-empty write-ahead log is left to SQLite.
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    if meta.is_file() && meta.len() == 0 && wal_len == 0 {
        return Err(emptied(path, "is empty (0 bytes)"));
    }
    Ok(())
}

/// The error for a store database that lost its contents.
pub fn emptied(path: &Path, what: &str) -> CliError {
    CliError::store(
        "store_corrupt",
        format!(
            "the store database {} {what}: its keys are gone",
            path.display()
        ),
    )
    .hint("restore the database from a backup; keep the pepper file, the restored keys need it (`portcullis init` refuses to replace a store that has one)")
}

/// A SQLite error of the precheck, with what to do.
fn sql_error(path: &Path, e: &rusqlite::Error) -> CliError {
    use rusqlite::ErrorCode as C;
    let shown = path.display();
    match e.sqlite_error_code() {
        Some(C::NotADatabase | C::DatabaseCorrupt) => CliError::store(
            "store_corrupt",
            format!("{shown} is not a valid SQLite database (corrupt or not a store)"),
        )
        .hint("restore the store from a backup, or move it away and run `portcullis init`"),
        Some(C::DatabaseBusy | C::DatabaseLocked) => CliError::store(
            "store_busy",
            format!("{shown} stayed locked by another process longer than the busy timeout"),
        )
        .hint("retry when the other portcullis command has finished, or wait longer with --busy-timeout"),
        Some(C::ReadOnly | C::CannotOpen | C::PermissionDenied) => CliError::store(
            "store_unwritable",
            format!("cannot open {shown}: {e}"),
        )
        .hint("check the permissions of the store directory and its files"),
        _ => CliError::store("store_error", format!("store {shown}: {e}"))
            .hint("check the store directory; restore it from a backup if it is damaged"),
    }
}
