//! The schema, its migrations and the identity checks, on both backends.
//!
//! Decisions:
//! - **Key records are stored as the core's JSON** ([`portcullis::KeyRecord::to_json`],
//!   which holds the salted hash, never the secret) plus indexed copies of the columns
//!   people filter by and of `revoked_at`. The core owns the record's shape: a field it
//!   adds needs no migration here, and one decoder (the core's) reads every row. The
//!   `revoked_at` column lets a row whose JSON is damaged still be revoked.
//! - **Migration `n` brings the version from `n-1` to `n`** and the two backends keep the
//!   same numbering. SQLite's migration 1 is the CLI's schema verbatim and its identity is
//!   the CLI's (`PRAGMA application_id` "PCLS", `PRAGMA user_version`), so an existing CLI
//!   store opens here and is upgraded in place. PostgreSQL keeps the identity in a table,
//!   `portcullis_schema (product, version)`.
//! - **A database with other tables and no portcullis identity is foreign** and is never
//!   altered; a version above [`LATEST`] is refused before anything is written.
//! - **The audit is append-only in the schema too** (migration 3): triggers refuse an
//!   `UPDATE`, `DELETE` (and on PostgreSQL `TRUNCATE`) of `key_audit`, so not even a
//!   mistaken statement of this crate can rewrite it; dropping the table stays possible to
//!   the database's owner, as it must.
//! - **Usage is stored in its own tables** (migration 4): `key_usage` (one row per key:
//!   first and last use, networks as a JSON array), `key_usage_hours` (one row per key and
//!   hour, a column per count, so that many processes add to one row) and
//!   `usage_signals` (append, pruned by age). See `usage.rs`.
//! - **Migrations run under a lock** (SQLite's write lock, a PostgreSQL advisory
//!   transaction lock) and re-read the version under it, so processes starting together
//!   migrate once.

use crate::db::sqlite_wal;
use crate::error::{self, Error, ErrorKind};
use crate::url::Target;

/// `PRAGMA application_id` of a portcullis SQLite database ("PCLS", as the CLI's store).
pub const APPLICATION_ID: i64 = 0x5043_4C53;

/// The product name in PostgreSQL's `portcullis_schema` table.
pub const PRODUCT: &str = "portcullis";

/// The advisory lock key migrations (and change appends, see `store.rs`) take.
pub(crate) const MIGRATION_LOCK: i64 = 0x5043_4C53_0000_0001;

/// The schema version this build writes.
pub const LATEST: i64 = SQLITE.len() as i64;

/// SQLite migrations; index `n-1` brings the version to `n`.
const SQLITE: &[&str] = &[
    // 1: key records (the CLI's schema, verbatim).
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
    // 2: the audit, OAuth state and the change sequence.
    "CREATE TABLE key_audit (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        key_id TEXT NOT NULL,
        action TEXT NOT NULL,
        at     INTEGER NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;
    CREATE INDEX key_audit_by_key ON key_audit (key_id, seq);
    CREATE TABLE oauth_clients (
        id     TEXT PRIMARY KEY NOT NULL,
        client TEXT NOT NULL
    ) STRICT;
    CREATE TABLE oauth_codes (
        hash       BLOB PRIMARY KEY NOT NULL,
        record     TEXT NOT NULL,
        used       INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE oauth_refresh (
        hash       BLOB PRIMARY KEY NOT NULL,
        family     TEXT NOT NULL,
        record     TEXT NOT NULL,
        rotated_at INTEGER
    ) STRICT;
    CREATE INDEX oauth_refresh_by_family ON oauth_refresh (family);
    CREATE TABLE oauth_revoked_families (
        family     TEXT PRIMARY KEY NOT NULL,
        revoked_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX oauth_revoked_by_time ON oauth_revoked_families (revoked_at);
    CREATE TABLE access_epoch (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        epoch INTEGER NOT NULL
    ) STRICT;
    INSERT INTO access_epoch (id, epoch) VALUES (1, 0);
    CREATE TABLE changes (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        at      INTEGER NOT NULL
    ) STRICT;",
    // 3: who made each audited change (old rows: '' = unknown), entries that concern no
    // key (key_id '': a pepper rotation), and the audit made append-only.
    "ALTER TABLE key_audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
    CREATE TRIGGER key_audit_no_update BEFORE UPDATE ON key_audit
    BEGIN SELECT RAISE(ABORT, 'key_audit is append-only'); END;
    CREATE TRIGGER key_audit_no_delete BEFORE DELETE ON key_audit
    BEGIN SELECT RAISE(ABORT, 'key_audit is append-only'); END;",
    // 4: usage (see `usage.rs`): per key first/last use and networks, counts per key per
    // hour (allowed and each denial), and the unusual-activity signals drained.
    "CREATE TABLE key_usage (
        key_id     TEXT PRIMARY KEY NOT NULL,
        first_used INTEGER,
        last_used  INTEGER,
        networks   TEXT NOT NULL
    ) STRICT;
    CREATE INDEX key_usage_by_last ON key_usage (last_used);
    CREATE TABLE key_usage_hours (
        key_id             TEXT NOT NULL,
        hour               INTEGER NOT NULL,
        allowed            INTEGER NOT NULL,
        wrong_secret       INTEGER NOT NULL,
        revoked            INTEGER NOT NULL,
        expired            INTEGER NOT NULL,
        not_yet_valid      INTEGER NOT NULL,
        max_age_exceeded   INTEGER NOT NULL,
        insufficient_scope INTEGER NOT NULL,
        unknown_route      INTEGER NOT NULL,
        other              INTEGER NOT NULL,
        PRIMARY KEY (key_id, hour)
    ) STRICT;
    CREATE INDEX key_usage_hours_by_hour ON key_usage_hours (hour);
    CREATE TABLE usage_signals (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        key_id  TEXT NOT NULL,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        details TEXT NOT NULL
    ) STRICT;
    CREATE INDEX usage_signals_by_key ON usage_signals (key_id, seq);
    CREATE INDEX usage_signals_by_at ON usage_signals (at);",
];

/// PostgreSQL migrations, numbered as [`SQLITE`]'s.
const POSTGRES: &[&str] = &[
    "CREATE TABLE keys (
        id           TEXT PRIMARY KEY NOT NULL,
        name         TEXT NOT NULL,
        owner        TEXT NOT NULL,
        env          TEXT NOT NULL,
        pepper_id    TEXT,
        created_at   BIGINT NOT NULL,
        expires_at   BIGINT,
        revoked_at   BIGINT,
        rotated_from TEXT,
        record       TEXT NOT NULL
    );
    CREATE INDEX keys_by_owner ON keys (owner);
    CREATE INDEX keys_by_created ON keys (created_at, id);",
    "CREATE TABLE key_audit (
        seq    BIGSERIAL PRIMARY KEY,
        key_id TEXT NOT NULL,
        action TEXT NOT NULL,
        at     BIGINT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX key_audit_by_key ON key_audit (key_id, seq);
    CREATE TABLE oauth_clients (
        id     TEXT PRIMARY KEY NOT NULL,
        client TEXT NOT NULL
    );
    CREATE TABLE oauth_codes (
        hash       BYTEA PRIMARY KEY NOT NULL,
        record     TEXT NOT NULL,
        used       BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE oauth_refresh (
        hash       BYTEA PRIMARY KEY NOT NULL,
        family     TEXT NOT NULL,
        record     TEXT NOT NULL,
        rotated_at BIGINT
    );
    CREATE INDEX oauth_refresh_by_family ON oauth_refresh (family);
    CREATE TABLE oauth_revoked_families (
        family     TEXT PRIMARY KEY NOT NULL,
        revoked_at BIGINT NOT NULL
    );
    CREATE INDEX oauth_revoked_by_time ON oauth_revoked_families (revoked_at);
    CREATE TABLE access_epoch (
        id    BIGINT PRIMARY KEY CHECK (id = 1),
        epoch BIGINT NOT NULL
    );
    INSERT INTO access_epoch (id, epoch) VALUES (1, 0);
    CREATE TABLE changes (
        seq     BIGSERIAL PRIMARY KEY,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        at      BIGINT NOT NULL
    );",
    "ALTER TABLE key_audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
    CREATE FUNCTION portcullis_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'key_audit is append-only'; END $$;
    CREATE TRIGGER key_audit_append_only BEFORE UPDATE OR DELETE ON key_audit
        FOR EACH ROW EXECUTE FUNCTION portcullis_audit_append_only();
    CREATE TRIGGER key_audit_no_truncate BEFORE TRUNCATE ON key_audit
        FOR EACH STATEMENT EXECUTE FUNCTION portcullis_audit_append_only();",
    "CREATE TABLE key_usage (
        key_id     TEXT PRIMARY KEY NOT NULL,
        first_used BIGINT,
        last_used  BIGINT,
        networks   TEXT NOT NULL
    );
    CREATE INDEX key_usage_by_last ON key_usage (last_used);
    CREATE TABLE key_usage_hours (
        key_id             TEXT NOT NULL,
        hour               BIGINT NOT NULL,
        allowed            BIGINT NOT NULL,
        wrong_secret       BIGINT NOT NULL,
        revoked            BIGINT NOT NULL,
        expired            BIGINT NOT NULL,
        not_yet_valid      BIGINT NOT NULL,
        max_age_exceeded   BIGINT NOT NULL,
        insufficient_scope BIGINT NOT NULL,
        unknown_route      BIGINT NOT NULL,
        other              BIGINT NOT NULL,
        PRIMARY KEY (key_id, hour)
    );
    CREATE INDEX key_usage_hours_by_hour ON key_usage_hours (hour);
    CREATE TABLE usage_signals (
        seq     BIGSERIAL PRIMARY KEY,
        key_id  TEXT NOT NULL,
        at      BIGINT NOT NULL,
        kind    TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX usage_signals_by_key ON usage_signals (key_id, seq);
    CREATE INDEX usage_signals_by_at ON usage_signals (at);",
];

const _: () = assert!(SQLITE.len() == POSTGRES.len(), "one numbering");

fn too_new(target: &Target, version: i64) -> Error {
    Error::new(
        ErrorKind::TooNew,
        format!(
            "{target}: schema version {version} is newer than this portcullis understands ({LATEST})"
        ),
    )
}

fn foreign(target: &Target, what: &str) -> Error {
    Error::new(
        ErrorKind::Foreign,
        format!("{target}: {what}, not a portcullis store"),
    )
}

/// (application_id, user_version, objects in the schema).
/// The identity, version and table count, read in one statement so that they come from
/// one snapshot (three reads could straddle another process's migration and see its
/// tables without its identity).
fn sqlite_state(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id()),
                (SELECT user_version FROM pragma_user_version()),
                (SELECT count(*) FROM sqlite_schema)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

fn sqlite_identity(target: &Target, state: (i64, i64, i64)) -> Result<(), Error> {
    let (app_id, version, tables) = state;
    let is_foreign = if app_id == 0 {
        version != 0 || tables != 0
    } else {
        app_id != APPLICATION_ID
    };
    if is_foreign {
        return Err(foreign(target, "a SQLite database of another application"));
    }
    if !(0..=LATEST).contains(&version) {
        return Err(too_new(target, version));
    }
    Ok(())
}

/// How long opening a SQLite database waits for another process that is opening it too.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Brings a SQLite database to the latest schema. Processes that open one new database at
/// once meet SQLite's locks where its busy handler does not wait (switching the journal to
/// WAL takes an exclusive lock and answers "locked" at once): such an answer is retried,
/// for at most [`OPEN_WAIT`].
pub(crate) fn migrate_sqlite(
    conn: &mut rusqlite::Connection,
    target: &Target,
) -> Result<(), Error> {
    let start = std::time::Instant::now();
    loop {
        match migrate_sqlite_once(conn, target) {
            Err(e) if e.kind() == ErrorKind::Busy && start.elapsed() < OPEN_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

fn migrate_sqlite_once(conn: &mut rusqlite::Connection, target: &Target) -> Result<(), Error> {
    let what = target.describe();
    let err = |e: rusqlite::Error| error::sqlite(&what, &e);
    // Checked before anything is written (the journal mode included).
    sqlite_identity(target, sqlite_state(conn).map_err(err)?)?;
    sqlite_wal(conn, &what)?;
    let state = sqlite_state(conn).map_err(err)?;
    if state.0 == APPLICATION_ID && state.1 == LATEST {
        return Ok(());
    }
    let tx =
        rusqlite::Transaction::new(conn, rusqlite::TransactionBehavior::Immediate).map_err(err)?;
    let (app_id, version, tables) = sqlite_state(&tx).map_err(err)?;
    sqlite_identity(target, (app_id, version, tables))?;
    for (i, sql) in SQLITE.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(err)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(err)?;
    tx.commit().map_err(err)
}

pub(crate) fn migrate_postgres(
    client: &mut postgres::Client,
    target: &Target,
) -> Result<(), Error> {
    let err = |e: postgres::Error| error::postgres(&target.describe(), &e);
    let mut tx = client.transaction().map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(err)?;
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY table_name LIMIT 1000",
            &[],
        )
        .map_err(err)?
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let version = if tables.iter().any(|t| t == "portcullis_schema") {
        let rows = tx
            .query(
                "SELECT product, version FROM portcullis_schema LIMIT 2",
                &[],
            )
            .map_err(|_| foreign(target, "its portcullis_schema table has another shape"))?;
        let [row] = rows.as_slice() else {
            return Err(foreign(
                target,
                "its portcullis_schema table is not one row",
            ));
        };
        let product: String = row.try_get(0).map_err(err)?;
        let version: i64 = row.try_get(1).map_err(err)?;
        if product != PRODUCT {
            return Err(foreign(target, "a database of another product"));
        }
        if !(0..=LATEST).contains(&version) {
            return Err(too_new(target, version));
        }
        version
    } else if !tables.is_empty() {
        return Err(foreign(
            target,
            "a database with other tables and no portcullis_schema",
        ));
    } else {
        tx.batch_execute(
            "CREATE TABLE portcullis_schema (product TEXT NOT NULL, version BIGINT NOT NULL);",
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO portcullis_schema (product, version) VALUES ($1, 0)",
            &[&PRODUCT],
        )
        .map_err(err)?;
        0
    };
    for (i, sql) in POSTGRES.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(err)?;
        tx.execute(
            "UPDATE portcullis_schema SET version = $1",
            &[&(i as i64 + 1)],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}
