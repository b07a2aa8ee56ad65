//! One SQL dialect over two backends: statements are written once with `$1`-style
//! parameters (SQLite reads `$1` as a parameter named `$1`, bound by that name, so the
//! text is never rewritten), values cross as [`Value`] and come back as [`Col`], or are
//! read in place as [`ColRef`] (a single-row read). Connections, transactions and the
//! schema's migrations live here.

use crate::error::{self, Error, ErrorKind};
use crate::schema;
use crate::tls::{self, Tls};
use crate::url::Target;
use std::path::Path;
use std::time::Duration;

/// A parameter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Blob(&'a [u8]),
}

/// A column read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Col {
    Null,
    Int(i64),
    Text(String),
    /// Bytes (a `BYTEA`/`BLOB`, or SQLite text that is not UTF-8): never read as text.
    Blob,
}

impl From<ColRef<'_>> for Col {
    fn from(c: ColRef<'_>) -> Col {
        match c {
            ColRef::Null => Col::Null,
            ColRef::Int(i) => Col::Int(i),
            ColRef::Text(t) => Col::Text(t.to_owned()),
            ColRef::Blob => Col::Blob,
        }
    }
}

/// A row's first `width` columns, copied out (read as [`RowRef::col`] reads them).
fn owned_row(row: &dyn RowRef, width: usize) -> Result<Vec<Col>, Error> {
    (0..width).map(|i| row.col(i).map(Col::from)).collect()
}

impl Col {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Col::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Col::Text(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn into_text(self) -> Option<String> {
        match self {
            Col::Text(s) => Some(s),
            _ => None,
        }
    }
}

pub(crate) type Rows = Vec<Vec<Col>>;

/// A column read in place, borrowed from the row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ColRef<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    /// Bytes (a `BYTEA`/`BLOB`, or SQLite text that is not UTF-8).
    Blob,
}

impl ColRef<'_> {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            ColRef::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// One row of a result, read in place.
pub(crate) trait RowRef {
    /// Column `i` (from 0).
    fn col(&self, i: usize) -> Result<ColRef<'_>, Error>;
}

/// What a transaction can do, on either backend.
pub(crate) trait Exec {
    /// Runs a statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, Error>;
    /// Runs a query; at most `limit` rows are read (a bound on every read).
    fn query(&mut self, sql: &str, params: &[Value<'_>], limit: usize) -> Result<Rows, Error>;
    /// Runs a query and gives its first row, if any, to `read` without copying it;
    /// whether there was one.
    fn query_first(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        read: &mut dyn FnMut(&dyn RowRef) -> Result<(), Error>,
    ) -> Result<bool, Error>;
    /// Whether this is PostgreSQL (for the two statements that differ).
    fn is_postgres(&self) -> bool;
}

/// SQLite's names of the parameters `$1`..`$16`.
const SQLITE_NAMES: [&str; 16] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16",
];

/// The statement from the connection's cache, its parameters bound by name (rusqlite
/// keeps each statement's name → index map).
fn sqlite_bound<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    params: &[Value<'_>],
) -> Result<rusqlite::CachedStatement<'c>, Error> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| error::sqlite("prepare", &e))?;
    for (i, p) in params.iter().enumerate() {
        // `$n` is usually the n-th parameter: checking that costs no allocation, unlike
        // `parameter_index` (a C string per call); out of order, the lookup finds it.
        let index = SQLITE_NAMES
            .get(i)
            .and_then(|&name| match stmt.parameter_name(i + 1) {
                Some(at) if at == name => Some(i + 1),
                _ => stmt.parameter_index(name).ok().flatten(),
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Database,
                    format!("bind: no parameter ${} in the statement", i + 1),
                )
            })?;
        stmt.raw_bind_parameter(index, to_sql(p))
            .map_err(|e| error::sqlite("bind", &e))?;
    }
    Ok(stmt)
}

fn to_sql<'a>(v: &Value<'a>) -> rusqlite::types::ToSqlOutput<'a> {
    use rusqlite::types::{ToSqlOutput, Value as V, ValueRef as R};
    match *v {
        Value::Int(i) => ToSqlOutput::Owned(V::Integer(i)),
        Value::OptInt(Some(i)) => ToSqlOutput::Owned(V::Integer(i)),
        Value::OptInt(None) | Value::OptText(None) => ToSqlOutput::Owned(V::Null),
        Value::Text(s) | Value::OptText(Some(s)) => ToSqlOutput::Borrowed(R::Text(s.as_bytes())),
        Value::Blob(b) => ToSqlOutput::Borrowed(R::Blob(b)),
    }
}

fn sqlite_exec(conn: &rusqlite::Connection, sql: &str, params: &[Value<'_>]) -> Result<u64, Error> {
    let mut stmt = sqlite_bound(conn, sql, params)?;
    stmt.raw_execute()
        .map(|n| n as u64)
        .map_err(|e| error::sqlite("statement", &e))
}

fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value<'_>],
    limit: usize,
) -> Result<Rows, Error> {
    let mut stmt = sqlite_bound(conn, sql, params)?;
    let width = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next().map_err(|e| error::sqlite("query", &e))? else {
            break;
        };
        out.push(owned_row(row, width)?);
    }
    Ok(out)
}

impl RowRef for rusqlite::Row<'_> {
    fn col(&self, i: usize) -> Result<ColRef<'_>, Error> {
        use rusqlite::types::ValueRef as R;
        Ok(
            match self.get_ref(i).map_err(|e| error::sqlite("column", &e))? {
                R::Null => ColRef::Null,
                R::Integer(i) => ColRef::Int(i),
                R::Real(f) => ColRef::Int(f as i64),
                // Text that is not UTF-8 is read as bytes: not text to whoever expects it.
                R::Text(t) => std::str::from_utf8(t).map_or(ColRef::Blob, ColRef::Text),
                R::Blob(_) => ColRef::Blob,
            },
        )
    }
}

fn sqlite_query_first(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value<'_>],
    read: &mut dyn FnMut(&dyn RowRef) -> Result<(), Error>,
) -> Result<bool, Error> {
    let mut stmt = sqlite_bound(conn, sql, params)?;
    let mut rows = stmt.raw_query();
    match rows.next().map_err(|e| error::sqlite("query", &e))? {
        Some(row) => read(row).map(|()| true),
        None => Ok(false),
    }
}

impl RowRef for postgres::Row {
    fn col(&self, i: usize) -> Result<ColRef<'_>, Error> {
        use postgres::types::Type;
        let bad = |e: postgres::Error| error::postgres("column", &e);
        let Some(column) = self.columns().get(i) else {
            return Err(Error::new(ErrorKind::Database, format!("no column {i}")));
        };
        Ok(match *column.type_() {
            Type::INT8 => self
                .try_get::<_, Option<i64>>(i)
                .map_err(bad)?
                .map_or(ColRef::Null, ColRef::Int),
            Type::INT4 => self
                .try_get::<_, Option<i32>>(i)
                .map_err(bad)?
                .map_or(ColRef::Null, |v| ColRef::Int(v.into())),
            Type::BOOL => self
                .try_get::<_, Option<bool>>(i)
                .map_err(bad)?
                .map_or(ColRef::Null, |v| ColRef::Int(v.into())),
            Type::BYTEA => self
                .try_get::<_, Option<&[u8]>>(i)
                .map_err(bad)?
                .map_or(ColRef::Null, |_| ColRef::Blob),
            _ => self
                .try_get::<_, Option<&str>>(i)
                .map_err(bad)?
                .map_or(ColRef::Null, ColRef::Text),
        })
    }
}

fn pg_params<'a>(params: &'a [Value<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn postgres::types::ToSql + Sync) {
            match p {
                Value::Int(i) => i,
                Value::OptInt(i) => i,
                Value::Text(s) => s,
                Value::OptText(s) => s,
                Value::Blob(b) => b,
            }
        })
        .collect()
}

fn pg_rows(rows: Vec<postgres::Row>, limit: usize) -> Result<Rows, Error> {
    rows.iter()
        .take(limit)
        .map(|row| owned_row(row, row.len()))
        .collect()
}

type Statements = std::collections::HashMap<String, postgres::Statement>;

/// A prepared statement from the connection's cache (prepared once per connection).
fn pg_statement<C: postgres::GenericClient>(
    client: &mut C,
    stmts: &mut Statements,
    sql: &str,
) -> Result<postgres::Statement, Error> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = client
        .prepare(sql)
        .map_err(|e| error::postgres("prepare", &e))?;
    stmts.insert(sql.to_owned(), s.clone());
    Ok(s)
}

struct PgExec<'a, C: postgres::GenericClient>(&'a mut C, &'a mut Statements);

impl<C: postgres::GenericClient> Exec for PgExec<'_, C> {
    fn exec(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, Error> {
        let stmt = pg_statement(self.0, self.1, sql)?;
        self.0
            .execute(&stmt, &pg_params(params))
            .map_err(|e| error::postgres("statement", &e))
    }
    fn query(&mut self, sql: &str, params: &[Value<'_>], limit: usize) -> Result<Rows, Error> {
        let stmt = pg_statement(self.0, self.1, sql)?;
        let rows = self
            .0
            .query(&stmt, &pg_params(params))
            .map_err(|e| error::postgres("query", &e))?;
        pg_rows(rows, limit)
    }
    fn query_first(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        read: &mut dyn FnMut(&dyn RowRef) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        let stmt = pg_statement(self.0, self.1, sql)?;
        let rows = self
            .0
            .query(&stmt, &pg_params(params))
            .map_err(|e| error::postgres("query", &e))?;
        match rows.first() {
            Some(row) => read(row).map(|()| true),
            None => Ok(false),
        }
    }
    fn is_postgres(&self) -> bool {
        true
    }
}

/// A SQLite connection, or a transaction on one (a `Transaction` derefs to its connection).
struct SqliteConn<'a>(&'a rusqlite::Connection);

impl Exec for SqliteConn<'_> {
    fn exec(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, Error> {
        sqlite_exec(self.0, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Value<'_>], limit: usize) -> Result<Rows, Error> {
        sqlite_query(self.0, sql, params, limit)
    }
    fn query_first(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        read: &mut dyn FnMut(&dyn RowRef) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        sqlite_query_first(self.0, sql, params, read)
    }
    fn is_postgres(&self) -> bool {
        false
    }
}

/// Connection settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Connecting gives up after this long.
    pub connect_timeout: Duration,
    /// Any statement gives up after this long (PostgreSQL `statement_timeout`; SQLite's
    /// busy timeout).
    pub statement_timeout: Duration,
}

/// An open connection.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>, Statements),
}

impl Conn {
    /// Connects (no schema work).
    pub(crate) fn connect(target: &Target, limits: Limits, create: bool) -> Result<Conn, Error> {
        match target {
            Target::Sqlite(path) => open_sqlite(path, limits, create).map(Conn::Sqlite),
            Target::Postgres(pg) => {
                let mut config = pg.config.clone();
                config.connect_timeout(limits.connect_timeout);
                // A server that stops answering is noticed within the statement bound.
                config.keepalives(true);
                #[cfg(target_os = "linux")]
                config.tcp_user_timeout(limits.statement_timeout);
                config.application_name("portcullis");
                let connected = match pg.tls {
                    Tls::Disable => config.connect(postgres::NoTls),
                    Tls::Prefer | Tls::Require => {
                        config.connect(tls::connector(pg.root_cert.as_deref())?)
                    }
                };
                let mut client = connected.map_err(|e| {
                    let what = format!("cannot connect to {}", target.describe());
                    let mut err = error::postgres(&what, &e);
                    if err.kind() == ErrorKind::Database {
                        err = Error::new(ErrorKind::Unreachable, err.message().to_owned());
                    }
                    if pg.tls != Tls::Disable && err.kind() == ErrorKind::Unreachable {
                        err = Error::new(err.kind(), format!("{} {}", err.message(), tls::HINT));
                    }
                    err
                })?;
                let ms = limits.statement_timeout.as_millis().max(1);
                client
                    .batch_execute(&format!("SET statement_timeout = {ms}"))
                    .map_err(|e| error::postgres("configure the session", &e))?;
                Ok(Conn::Postgres(Box::new(client), Statements::new()))
            }
        }
    }

    /// Whether the connection is known to be broken (PostgreSQL only; SQLite files do
    /// not disconnect).
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Conn::Sqlite(_) => false,
            Conn::Postgres(c, _) => c.is_closed(),
        }
    }

    /// Runs `f` in a transaction that takes the write lock at once (SQLite `BEGIN
    /// IMMEDIATE`; PostgreSQL `READ COMMITTED`, rows locked by the statements); commits
    /// only if `f` succeeds.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self {
            Conn::Sqlite(conn) => {
                let tx = rusqlite::Transaction::new(conn, rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| error::sqlite("begin", &e))?;
                let value = f(&mut SqliteConn(&tx))?;
                tx.commit().map_err(|e| error::sqlite("commit", &e))?;
                Ok(value)
            }
            Conn::Postgres(client, stmts) => {
                let mut tx = client
                    .transaction()
                    .map_err(|e| error::postgres("begin", &e))?;
                let value = f(&mut PgExec(&mut tx, stmts))?;
                tx.commit().map_err(|e| error::postgres("commit", &e))?;
                Ok(value)
            }
        }
    }

    /// Runs `f` on the connection without a transaction: one statement, one round trip
    /// (the lookup's read-through).
    pub(crate) fn read<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Exec) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self {
            Conn::Sqlite(conn) => f(&mut SqliteConn(conn)),
            Conn::Postgres(client, stmts) => f(&mut PgExec(&mut **client, stmts)),
        }
    }

    /// A bare primary-key read of a key row's record, prepared once per connection, given
    /// to `f` in place (the benchmark's baseline for a cache miss).
    pub(crate) fn bare_record<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&str) -> T,
    ) -> Result<T, Error> {
        match self {
            Conn::Sqlite(conn) => {
                let mut stmt = conn
                    .prepare_cached("SELECT record, revoked_at FROM keys WHERE id = ?1")
                    .map_err(|e| error::sqlite("prepare", &e))?;
                stmt.query_row([id], |row| {
                    row.get_ref(0)?.as_str().map(f).map_err(Into::into)
                })
                .map_err(|e| error::sqlite("query", &e))
            }
            Conn::Postgres(client, stmts) => {
                let stmt = pg_statement(
                    &mut **client,
                    stmts,
                    "SELECT record, revoked_at FROM keys WHERE id = $1",
                )?;
                let row = client
                    .query_one(&stmt, &[&id])
                    .map_err(|e| error::postgres("query", &e))?;
                let record: &str = row.try_get(0).map_err(|e| error::postgres("column", &e))?;
                Ok(f(record))
            }
        }
    }

    /// The PostgreSQL client (the feed's `LISTEN`).
    pub(crate) fn postgres(&mut self) -> Option<&mut postgres::Client> {
        match self {
            Conn::Postgres(client, _) => Some(client),
            Conn::Sqlite(_) => None,
        }
    }

    /// Checks the database's identity and brings its schema up to date.
    pub(crate) fn migrate(&mut self, target: &Target) -> Result<(), Error> {
        match self {
            Conn::Sqlite(conn) => schema::migrate_sqlite(conn, target),
            Conn::Postgres(client, _) => schema::migrate_postgres(client, target),
        }
    }
}

fn open_sqlite(path: &Path, limits: Limits, create: bool) -> Result<rusqlite::Connection, Error> {
    use rusqlite::OpenFlags as F;
    let mut flags = F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= F::SQLITE_OPEN_CREATE;
    }
    let what = format!("sqlite:{}", path.display());
    let conn =
        rusqlite::Connection::open_with_flags(path, flags).map_err(|e| error::sqlite(&what, &e))?;
    conn.busy_timeout(limits.statement_timeout)
        .map_err(|e| error::sqlite(&what, &e))?;
    Ok(conn)
}

/// Switches a SQLite database to WAL (several processes read while one writes).
pub(crate) fn sqlite_wal(conn: &rusqlite::Connection, what: &str) -> Result<(), Error> {
    // Returns the resulting mode; a file system without WAL keeps the rollback journal.
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| error::sqlite(what, &e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| error::sqlite(what, &e))
}
