//! The embedded key store: one SQLite database of key records.
//!
//! - Records are keyed by key id. Each row holds the record's JSON (the core's
//!   [`KeyRecord::to_json`], which contains the salted hash and never the secret) plus
//!   indexed copies of the fields people filter and sort by.
//! - The schema is versioned with `PRAGMA user_version` and upgraded by [`MIGRATIONS`] in
//!   one transaction; `PRAGMA application_id` marks the file as a portcullis store so a
//!   foreign database is refused rather than altered.
//! - WAL mode and a busy timeout let several processes read and write the same store at
//!   once; every change runs in a `BEGIN IMMEDIATE` transaction (read, modify, write under
//!   the write lock), so concurrent revocations and rotations never lose an update.
//! - [`Store`] implements the core's [`KeyLookup`], so a checker reads records straight
//!   from the database; a lookup failure becomes a fail-closed 503 decision.
//! - Only `init` creates a database ([`Store::create`]). A zero-length database, or one
//!   without any schema, is `store_corrupt` for every other command: its keys are gone,
//!   and turning it into a new empty store would make every key fail as unknown with no
//!   error for the operator.
//! - Commands that only read open the database read-only ([`Store::open_read_only`]): they
//!   never create, upgrade or otherwise write it (nor switch its journal mode).
//! - One record that cannot be decoded does not hide the others: [`Store::list`] returns
//!   it as a [`CorruptRow`] beside the good records, and [`Store::revoke`] works on it by
//!   setting the row's `revoked_at` column (its JSON cannot be rewritten). A lookup of a
//!   corrupt row fails closed (503) until it is revoked; then it finds no key (401), so a
//!   revoked key stays refused.

use crate::error::CliError;
use portcullis::KeyState;
use portcullis::{Checker, KeyId, KeyLookup, KeyRecord, LookupError, Rotation, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `PRAGMA application_id` of a portcullis store ("PCLS").
pub const APPLICATION_ID: i64 = 0x5043_4C53;

/// How long a command waits for another process's write lock before giving up, unless
/// told otherwise ([`Store::set_busy_timeout`]).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// Schema migrations; migration `n` (1-based) brings `user_version` from `n-1` to `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: key records.
    "CREATE TABLE keys (
        id           TEXT PRIMARY KEY NOT NULL,
        name         TEXT NOT NULL,
        owner        TEXT NOT NULL,
        env          TEXT NOT NULL,
        pepper_id    TEXT,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        revoked_at   INTEGER,
        rotated_from TEXT,
        record       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX keys_by_owner ON keys (owner);
    CREATE INDEX keys_by_created ON keys (created_at, id);",
];

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Creates (or opens) the database at `path` and brings its schema up to date.
    pub fn create(path: &Path) -> Result<Self, CliError> {
        Self::open_with(path, OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens an existing store to change it (upgrading an older schema); a missing file is
    /// an error that says to run `init`, a zero-length one is `store_corrupt`.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        check_file(path)?;
        Self::open_with(path, OpenFlags::empty())
    }

    /// Opens an existing store to read it. The file is never written: no schema is
    /// created or upgraded (a store without one is `store_corrupt`, an older one
    /// `store_outdated`), and the journal mode is left as it is.
    pub fn open_read_only(path: &Path) -> Result<Self, CliError> {
        check_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let err = |e: rusqlite::Error| sql_error(path, &e);
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let (app_id, version, tables) = schema_state(&conn).map_err(err)?;
        check_identity(path, app_id, version, tables)?;
        refuse_schemaless(path, app_id, version, tables)?;
        if version < Self::latest_version() {
            return Err(CliError::store(
                "store_outdated",
                format!(
                    "store schema version {version} of {} is older than this portcullis writes ({})",
                    path.display(),
                    Self::latest_version()
                ),
            )
            .hint("run a command that changes the store (`portcullis pepper rotate` or `keys revoke`, `create`, `rotate`) to upgrade it"));
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    /// Opens read-write; `extra` is empty or CREATE (only `init` creates a database, so
    /// only then may the file hold no schema yet).
    fn open_with(path: &Path, extra: OpenFlags) -> Result<Self, CliError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, &e))?;
        if !extra.contains(OpenFlags::SQLITE_OPEN_CREATE) {
            // Checked before anything is written (the journal mode included).
            let (app_id, version, tables) = schema_state(&conn).map_err(|e| sql_error(path, &e))?;
            refuse_schemaless(path, app_id, version, tables)?;
        }
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure().map_err(|e| sql_error(path, &e))?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets how long to wait for another process's lock before failing with `store_busy`.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), CliError> {
        self.conn
            .busy_timeout(timeout)
            .map_err(|e| sql_error(&self.path, &e))
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // Returns the resulting mode; a file system without WAL support keeps the rollback
        // journal, which is slower under contention but just as safe.
        let _mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    /// The schema version this build writes.
    pub fn latest_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// Brings the schema up to date. A current store is only read (no write lock, so
    /// `check` and `list` never wait for one); otherwise the upgrade runs under the write
    /// lock and re-reads the version first, so two processes never migrate twice.
    fn migrate(&mut self) -> Result<(), CliError> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| sql_error(&path, &e);
        let (app_id, version, tables) = schema_state(&self.conn).map_err(err)?;
        check_identity(&path, app_id, version, tables)?;
        if app_id == APPLICATION_ID && version == Self::latest_version() {
            return Ok(());
        }
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate).map_err(err)?;
        let (app_id, version, tables) = schema_state(&tx).map_err(err)?;
        check_identity(&path, app_id, version, tables)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(err)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Stores a new record (an existing id is an error).
    pub fn insert(&mut self, record: &KeyRecord) -> Result<(), CliError> {
        let path = self.path.clone();
        self.write(|tx| insert_row(tx, &path, record))
    }

    /// The record with this id; a row that cannot be decoded is a `corrupt_record` error.
    pub fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, CliError> {
        match self.get_row(id)? {
            None => Ok(None),
            Some(Row::Record(record)) => Ok(Some(record)),
            Some(Row::Corrupt(row)) => Err(row.error(&self.path)),
        }
    }

    /// The row with this id, decoded or not.
    pub fn get_row(&self, id: &KeyId) -> Result<Option<Row>, CliError> {
        let row: Option<(String, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT record, revoked_at FROM keys WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| sql_error(&self.path, &e))?;
        Ok(row.map(|(json, revoked_at)| Row::decode(id.as_str(), &json, revoked_at)))
    }

    /// Every row, oldest first: the records, and the rows that cannot be decoded.
    pub fn list(&self) -> Result<Vec<Row>, CliError> {
        let err = |e: rusqlite::Error| sql_error(&self.path, &e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, record, revoked_at FROM keys ORDER BY created_at, id")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json, revoked_at) = row.map_err(err)?;
            out.push(Row::decode(&id, &json, revoked_at));
        }
        Ok(out)
    }

    /// How many records use each pepper (`None`: legacy SHA-256 records).
    pub fn pepper_usage(&self) -> Result<Vec<(Option<String>, u64)>, CliError> {
        let err = |e: rusqlite::Error| sql_error(&self.path, &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT pepper_id, count(*) FROM keys GROUP BY pepper_id ORDER BY pepper_id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Revokes a key from `now` on, atomically. Returns what was revoked and whether it
    /// already was (the earlier revocation time is kept). A corrupt row is revoked by its
    /// `revoked_at` column.
    pub fn revoke(&mut self, id: &KeyId, now: Timestamp) -> Result<(Row, bool), CliError> {
        let path = self.path.clone();
        self.write(|tx| match read_row(tx, &path, id)? {
            Row::Record(mut record) => {
                let already = record.state(now) == KeyState::Revoked;
                record.revoke(now);
                update_row(tx, &path, &record)?;
                Ok((Row::Record(record), already))
            }
            Row::Corrupt(mut row) => {
                let already = row.revoked_at.is_some_and(|t| t <= now);
                if !already {
                    tx.execute(
                        "UPDATE keys SET revoked_at = ?2 WHERE id = ?1",
                        rusqlite::params![id.as_str(), secs(now)],
                    )
                    .map_err(|e| sql_error(&path, &e))?;
                    row.revoked_at = Some(now);
                }
                Ok((Row::Corrupt(row), already))
            }
        })
    }

    /// Rotates a key atomically: issues its successor and shortens the predecessor's life
    /// to the grace period, in one transaction.
    pub fn rotate(
        &mut self,
        id: &KeyId,
        checker: &Checker,
        grace: u64,
        now: Timestamp,
    ) -> Result<Rotation, CliError> {
        let path = self.path.clone();
        self.write(|tx| {
            let old = read_row(tx, &path, id)?.into_record(&path)?;
            let rotation = checker.rotate(&old, grace, now).map_err(|e| {
                CliError::input("key_inactive", e.to_string())
                    .hint("create a new key with `portcullis keys create` instead")
            })?;
            update_row(tx, &path, &rotation.predecessor)?;
            insert_row(tx, &path, &rotation.successor.record)?;
            Ok(rotation)
        })
    }

    /// Moves a record to the primary pepper, atomically, once its key has been presented
    /// (see `Checker::rehash`, which verifies the key first). Returns whether it changed.
    pub fn rehash(
        &mut self,
        id: &KeyId,
        key: &[u8],
        checker: &Checker,
        now: Timestamp,
    ) -> Result<bool, CliError> {
        let path = self.path.clone();
        self.write(|tx| {
            let mut record = read_row(tx, &path, id)?.into_record(&path)?;
            match checker.rehash(key, &mut record, now) {
                Ok(true) => update_row(tx, &path, &record).map(|()| true),
                Ok(false) | Err(_) => Ok(false),
            }
        })
    }

    /// Runs `f` while holding the store's write lock (used to serialise pepper-file
    /// changes between processes).
    pub fn with_write_lock<T>(
        &mut self,
        f: impl FnOnce() -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        self.write(|_| f())
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits only if it succeeds.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| sql_error(&path, &e);
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate).map_err(err)?;
        let value = f(&tx)?;
        tx.commit().map_err(err)?;
        Ok(value)
    }
}

impl KeyLookup for Store {
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        match self.get_row(id) {
            Ok(None) => Ok(None),
            Ok(Some(Row::Record(record))) => Ok(Some(Arc::new(record))),
            // Revoked by its column: no key answers to it any more.
            Ok(Some(Row::Corrupt(row))) if row.revoked_at.is_some() => Ok(None),
            Ok(Some(Row::Corrupt(row))) => Err(LookupError::new(row.error(&self.path).message)),
            Err(e) => Err(LookupError::new(e.message)),
        }
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

impl Row {
    fn decode(id: &str, json: &str, revoked_at: Option<i64>) -> Row {
        let corrupt = |why: String| {
            Row::Corrupt(CorruptRow {
                id: id.to_owned(),
                why,
                revoked_at: revoked_at.map(|t| Timestamp(u64::try_from(t).unwrap_or(0))),
            })
        };
        match KeyRecord::from_json(json) {
            Ok(record) if record.id().as_str() == id => Row::Record(record),
            Ok(_) => corrupt("its id does not match its row".to_owned()),
            Err(e) => corrupt(e.to_string()),
        }
    }

    /// The record, or the row's `corrupt_record` error.
    pub fn into_record(self, path: &Path) -> Result<KeyRecord, CliError> {
        match self {
            Row::Record(record) => Ok(record),
            Row::Corrupt(row) => Err(row.error(path)),
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

impl CorruptRow {
    /// The message of the `corrupt_record` code.
    pub fn message(&self, path: &Path) -> String {
        format!(
            "record {} in {} is corrupt: {}",
            self.id,
            path.display(),
            self.why
        )
    }

    /// The `corrupt_record` error (exit 4), with the fix.
    pub fn error(&self, path: &Path) -> CliError {
        CliError::store("corrupt_record", self.message(path)).hint(corrupt_hint(&self.id))
    }
}

/// How to fix a corrupt record.
pub fn corrupt_hint(id: &str) -> String {
    format!(
        "restore the store from a backup, or revoke the key with `portcullis keys revoke {id}` \
         (it is then refused as an unknown key) and create a new one for its owner"
    )
}

fn schema_state(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    let app_id = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    Ok((app_id, version, tables))
}

fn check_identity(path: &Path, app_id: i64, version: i64, tables: i64) -> Result<(), CliError> {
    let foreign = if app_id == 0 {
        version != 0 || tables != 0
    } else {
        app_id != APPLICATION_ID
    };
    if foreign {
        return Err(CliError::store(
            "store_foreign",
            format!("{} is a SQLite database, but not a portcullis store", path.display()),
        )
        .hint("point --store at a portcullis store directory, or run `portcullis init` in an empty one"));
    }
    if version > Store::latest_version() || version < 0 {
        return Err(CliError::store(
            "store_too_new",
            format!(
                "store schema version {version} is newer than this portcullis understands ({})",
                Store::latest_version()
            ),
        )
        .hint("upgrade portcullis to the version that last wrote this store"));
    }
    Ok(())
}

fn insert_row(tx: &Transaction<'_>, path: &Path, record: &KeyRecord) -> Result<(), CliError> {
    let result = tx.execute(
        "INSERT INTO keys (id, name, owner, env, pepper_id, created_at, expires_at,
                           revoked_at, rotated_from, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![
            record.id().as_str(),
            record.name(),
            record.owner(),
            record.env(),
            pepper_of(record),
            secs(record.created_at()),
            record.expires_at().map(secs),
            record.revoked_at().map(secs),
            record.rotated_from().map(|r| r.as_str().to_owned()),
            record.to_json(),
        ],
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_constraint(&e) => Err(CliError::input(
            "duplicate_key",
            format!("a key with id {} already exists", record.id()),
        )),
        Err(e) => Err(sql_error(path, &e)),
    }
}

fn update_row(tx: &Transaction<'_>, path: &Path, record: &KeyRecord) -> Result<(), CliError> {
    tx.execute(
        "UPDATE keys SET name = ?2, owner = ?3, pepper_id = ?4, expires_at = ?5,
                         revoked_at = ?6, record = ?7
         WHERE id = ?1",
        rusqlite::params![
            record.id().as_str(),
            record.name(),
            record.owner(),
            pepper_of(record),
            record.expires_at().map(secs),
            record.revoked_at().map(secs),
            record.to_json(),
        ],
    )
    .map(|_| ())
    .map_err(|e| sql_error(path, &e))
}

fn read_row(tx: &Transaction<'_>, path: &Path, id: &KeyId) -> Result<Row, CliError> {
    let row: Option<(String, Option<i64>)> = tx
        .query_row(
            "SELECT record, revoked_at FROM keys WHERE id = ?1",
            [id.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| sql_error(path, &e))?;
    match row {
        Some((json, revoked_at)) => Ok(Row::decode(id.as_str(), &json, revoked_at)),
        None => Err(not_found(id)),
    }
}

/// The error for an id the store does not hold.
pub fn not_found(id: &KeyId) -> CliError {
    CliError::input(
        "key_not_found",
        format!("no key with id {id} in this store"),
    )
    .hint("list the keys with `portcullis keys list`")
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

/// A database of an initialised store without any schema lost its keys: `store_corrupt`,
/// never a new empty store.
fn refuse_schemaless(path: &Path, app_id: i64, version: i64, tables: i64) -> Result<(), CliError> {
    if app_id == 0 && version == 0 && tables == 0 {
        return Err(emptied(path, "holds no portcullis schema"));
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

fn pepper_of(record: &KeyRecord) -> Option<String> {
    record
        .stored_hash()
        .ok()
        .and_then(|h| h.pepper_id().map(str::to_owned))
}

fn secs(t: Timestamp) -> i64 {
    i64::try_from(t.secs()).unwrap_or(i64::MAX)
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// Translates a SQLite error into a message that says what to do.
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
            format!("cannot open {shown} for writing: {e}"),
        )
        .hint("check the permissions of the store directory and its files"),
        _ => CliError::store("store_error", format!("store {shown}: {e}"))
            .hint("check the store directory; restore it from a backup if it is damaged"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_foreign_databases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.sqlite3");
        drop(Store::create(&path).expect("create"));
        let again = Store::open(&path).expect("reopen");
        let version: i64 = again
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, Store::latest_version());
        let mode: String = again
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");

        let other = dir.path().join("other.sqlite3");
        let conn = Connection::open(&other).expect("open");
        conn.execute_batch("CREATE TABLE t (x)").expect("table");
        drop(conn);
        assert_eq!(
            Store::open(&other).expect_err("foreign").code,
            "store_foreign"
        );
    }

    #[test]
    fn read_only_opens_never_upgrade_or_create_a_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.sqlite3");
        let store = Store::create(&path).expect("create");
        store
            .conn
            .pragma_update(None, "user_version", 0)
            .expect("downgrade");
        drop(store);
        assert_eq!(
            Store::open_read_only(&path).expect_err("older").code,
            "store_outdated"
        );
        let version: i64 = Connection::open(&path)
            .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .expect("version");
        assert_eq!(version, 0, "left as it was");

        let empty = dir.path().join("empty.sqlite3");
        std::fs::write(&empty, b"").expect("empty");
        assert_eq!(
            Store::open_read_only(&empty).expect_err("empty").code,
            "store_corrupt"
        );
        assert_eq!(std::fs::metadata(&empty).expect("meta").len(), 0);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.sqlite3");
        let store = Store::create(&path).expect("create");
        store
            .conn
            .pragma_update(None, "user_version", 99)
            .expect("bump");
        drop(store);
        assert_eq!(
            Store::open(&path).expect_err("too new").code,
            "store_too_new"
        );
    }
}
