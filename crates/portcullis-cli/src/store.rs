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

use crate::error::CliError;
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

    /// Opens an existing store; a missing file is an error that says to run `init`.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        if !path.exists() {
            return Err(CliError::store(
                "store_missing",
                format!("no store database at {}", path.display()),
            )
            .hint("run `portcullis init` first, or point --store (or PORTCULLIS_STORE) at an existing store directory"));
        }
        Self::open_with(path, OpenFlags::empty())
    }

    fn open_with(path: &Path, extra: OpenFlags) -> Result<Self, CliError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, &e))?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure().map_err(|e| sql_error(path, &e))?;
        store.migrate()?;
        Ok(store)
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

    /// The record with this id.
    pub fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, CliError> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT record FROM keys WHERE id = ?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
            .map_err(|e| sql_error(&self.path, &e))?;
        json.map(|j| decode(&self.path, id.as_str(), &j))
            .transpose()
    }

    /// Every record, oldest first.
    pub fn list(&self) -> Result<Vec<KeyRecord>, CliError> {
        let err = |e: rusqlite::Error| sql_error(&self.path, &e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, record FROM keys ORDER BY created_at, id")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        let mut records = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(err)?;
            records.push(decode(&self.path, &id, &json)?);
        }
        Ok(records)
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

    /// Revokes a key from `now` on, atomically. Returns the record and whether it was
    /// already revoked (the earlier revocation time is kept).
    pub fn revoke(&mut self, id: &KeyId, now: Timestamp) -> Result<(KeyRecord, bool), CliError> {
        let path = self.path.clone();
        self.write(|tx| {
            let mut record = read_row(tx, &path, id)?;
            let already = record.revoked_at().is_some_and(|t| t <= now);
            record.revoke(now);
            update_row(tx, &path, &record)?;
            Ok((record, already))
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
            let old = read_row(tx, &path, id)?;
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
            let mut record = read_row(tx, &path, id)?;
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
        self.get(id)
            .map(|r| r.map(Arc::new))
            .map_err(|e| LookupError::new(e.message))
    }
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

fn read_row(tx: &Transaction<'_>, path: &Path, id: &KeyId) -> Result<KeyRecord, CliError> {
    let json: Option<String> = tx
        .query_row(
            "SELECT record FROM keys WHERE id = ?1",
            [id.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| sql_error(path, &e))?;
    match json {
        Some(j) => decode(path, id.as_str(), &j),
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

fn decode(path: &Path, id: &str, json: &str) -> Result<KeyRecord, CliError> {
    let corrupt = |why: String| {
        CliError::store(
            "store_corrupt",
            format!("record {id} in {} is corrupt: {why}", path.display()),
        )
        .hint("restore the store from a backup, or revoke and re-create the key")
    };
    let record = KeyRecord::from_json(json).map_err(|e| corrupt(e.to_string()))?;
    if record.id().as_str() != id {
        return Err(corrupt("its id does not match its row".to_owned()));
    }
    Ok(record)
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
