//! # portcullis-store
//!
//! Storage for portcullis: key records, their lifecycle audit and the OAuth state
//! (clients, codes, refresh tokens, revoked families, the access-token epoch) in one
//! schema on SQLite or PostgreSQL, a cached [`portcullis::KeyLookup`] in front of it, and
//! a change feed that carries every write to every process sharing the database. The core
//! decides; this crate persists and propagates.
//!
//! ```no_run
//! use portcullis_store::Store;
//! let store = Store::open("postgresql://app:secret@127.0.0.1:5432/portcullis")?;
//! // or Store::open("sqlite:/var/lib/app/keys.sqlite3")?
//! // checker.check(&request, &store, now): answered from the cache, fresh within 1 s.
//! # Ok::<(), portcullis_store::Error>(())
//! ```
//!
//! Decisions:
//! - **PostgreSQL client: the `postgres` crate** (synchronous, from the rust-postgres
//!   project). The store is embedded in hosts that run no async runtime — the C binding,
//!   the Python module, the CLI — and a blocking client serves them without imposing
//!   one (it drives a private single-threaded runtime inside). It supports
//!   `LISTEN`/`NOTIFY` (`Client::notifications`), prepared statements, connect and
//!   statement timeouts, and is the most used PostgreSQL client in Rust. TLS is not
//!   enabled in this version (`NoTls`): use a loopback or socket connection, or a local
//!   TLS proxy.
//! - **SQLite: `rusqlite`**, as the CLI, with its schema (migration 1 is the CLI's), so the
//!   CLI's store can move here.
//! - **Fail closed:** see [`Store`]'s module notes (`store.rs`): past the staleness bound
//!   the cache does not answer; when the database cannot answer either, a lookup is an
//!   error and the checker's decision is 503 `lookup_failed`.
//! - **Errors** carry a stable [`Error::code`], a message without secrets (a URL is shown
//!   without its password) and a hint.
//! - **Bounds:** URLs up to [`MAX_URL_LEN`] bytes; stored JSON values up to [`MAX_JSON`]
//!   bytes; each query reads a fixed maximum of rows (audit ≤ 1,000, revoked families
//!   loaded at open ≤ [`MAX_FAMILIES`], changes 1,000 per page); unknown ids remembered
//!   ≤ [`CacheConfig::max_absent`].
//!
//! - **An append-only audit** of every lifecycle change (created, revoked, rotated,
//!   rehashed, pepper rotated) names who made it, as the host says ([`Options::actor`],
//!   [`Store::acting_as`]), and never holds a secret; [`Store::audit_log`] reads it
//!   newest first (see the `audit` module's notes).
//!
//! - **Usage** drained from a [`portcullis::usage::UsageRecorder`] is saved in batches
//!   ([`Store::drain_usage`], every few seconds, never a write per request), additively so
//!   a fleet shares one database, and read back as "last used", counts per hour and
//!   signals ([`Store::key_usage`], [`Store::last_used_all`], [`Store::usage_signals`]);
//!   see the `usage` module's notes.
//!
//! - **Access tokens fail closed too:** a verifier given to [`Store::attach`] follows the
//!   store's freshness, so past the bound its tokens are refused (503 `lookup_failed`).
//!
//! - **Rate limits across a fleet:** [`FleetLimits`] counts the policy's `[[limits]]` in
//!   Redis, leased in small batches with one atomic script call and spent locally; when
//!   Redis is down a process spends what it holds, then answers 503
//!   `limiter_unavailable` (see the `fleet_limits` module's notes).
//!
//! - **Bounded retention:** the feed prunes the change sequence, expired authorization
//!   codes and old revoked families in small batches (see [`Options::keep_changes`] and
//!   [`Store::prune`]); a process that missed pruned changes resynchronises.
//!
//! Not yet here: connection pooling (one connection per store for misses and writes) and
//! TLS to PostgreSQL.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audit;
mod cache;
mod db;
mod error;
mod feed;
pub mod files;
pub mod fleet_limits;
mod schema;
mod store;
pub mod tls;
mod url;
mod usage;

pub use audit::{Actor, ActorError, AuditFilter, MAX_ACTOR_LEN, MAX_AUDIT_PAGE};
pub use cache::CacheConfig;
pub use error::{Error, ErrorKind};
pub use fleet_limits::{Degrade, FleetConfig, FleetLimits, FleetStats};
pub use schema::{APPLICATION_ID, LATEST as SCHEMA_VERSION, PRODUCT};
pub use store::{
    ActingAs, AuditEntry, AuditLock, CHANNEL, CorruptKey, FeedStatus, MAX_FAMILIES, MAX_JSON,
    MAX_LIST, Options, Pruned, Store, StoredKey,
};
pub use url::{MAX_URL_LEN, PgTarget, Target};
pub use usage::{
    MAX_SIGNAL_PAGE, MAX_USAGE_HOURS, SignalFilter, StoredSignal, UnsavedUsage, UsageHistory,
};
