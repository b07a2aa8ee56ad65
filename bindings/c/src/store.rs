//! `portcullis_store`: the library's concurrent in-memory record store, or a database
//! store (`portcullis-store`: SQLite or PostgreSQL, cached, kept current by its change
//! feed) behind the same handle.
//!
//! Decisions:
//! - **One handle type for both**, so every call that takes a store (the checks, insert,
//!   get, revoke, rotate) works with either; the two calls a database has no meaning for
//!   (`put`, `remove`: its keys are revoked, never replaced or deleted) answer
//!   `PORTCULLIS_INVALID_ARGUMENT`.
//! - **Database errors** are the core table's `database` rows (`PORTCULLIS_DATABASE_*`,
//!   240-251), also for a duplicate, missing or inactive key, so a host can tell a
//!   database answer from a memory store's; `portcullis_last_error` starts with the
//!   stable code (`store_unreachable: …`) and ends with the hint. A URL is never shown
//!   with its password.
//! - **The actor is an argument of each write** (`portcullis_store_insert_as`,
//!   `_revoke_as`, `_rotate_as`), not state set on the handle: one store is shared by
//!   every thread of a server acting for many users, and a setter would race between
//!   them; an argument also needs no handle to free. The calls without `_as` record no
//!   actor.

use crate::checker::portcullis_checker;
use crate::ffi::{
    Failure, FfiResult, borrow, free_handle, guard, into_handle, out_ptr, read, text,
};
use crate::issue::portcullis_issued_key;
use crate::record::portcullis_record;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use core_lib::codes::HasCode;
use core_lib::{KeyId, KeyLookup, KeyRecord, LookupError, MemoryStore, StoreError, Timestamp};
use db_store::{Actor, Options, Store};
use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

/// A store of key records by id: in memory (`portcullis_store_new`) or a database shared
/// by every process that opens it (`portcullis_store_new_from_url`). Every operation is
/// safe from any number of threads at once.
#[allow(non_camel_case_types)]
pub struct portcullis_store {
    pub(crate) inner: Backend,
}

/// What a `portcullis_store` holds.
pub(crate) enum Backend {
    /// The core's lock-free in-memory store.
    Memory(MemoryStore),
    /// A database, cached in this process; shared with the OAuth stores made from it.
    Database(Arc<Store>),
}

impl KeyLookup for Backend {
    #[inline]
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        match self {
            Backend::Memory(m) => m.lookup(id),
            Backend::Database(d) => d.lookup(id),
        }
    }
}

/// A database store's error: its code (`PORTCULLIS_DATABASE_*`), and its message and
/// hint in the detail.
pub(crate) fn db_failure(e: db_store::Error) -> Failure {
    let detail = match e.hint() {
        Some(hint) => format!("{}: {} (hint: {hint})", e.code(), e.message()),
        None => format!("{}: {}", e.code(), e.message()),
    };
    Failure::new(R::from(&e), detail)
}

/// The answer of the calls a database store does not have.
fn not_for_database(call: &str) -> Failure {
    Failure::new(
        R::PORTCULLIS_INVALID_ARGUMENT,
        format!(
            "{call} is for memory stores: a database store's keys are revoked, never replaced or deleted"
        ),
    )
}

/// Parses a key id argument (16 base62 characters).
///
/// # Safety
/// `id` is readable for `len` bytes.
pub(crate) unsafe fn key_id(id: *const c_char, len: usize) -> FfiResult<KeyId> {
    // SAFETY: forwarded contract.
    let text = unsafe { text(id, len) }?;
    KeyId::parse(text).map_err(|e| Failure::new(R::from(e), format!("key id: {e}")))
}

/// Parses an actor argument (who acts, for the audit): `PORTCULLIS_INVALID_ARGUMENT`
/// when empty, too long or holding a control character.
///
/// # Safety
/// `actor` is readable for `len` bytes.
pub(crate) unsafe fn actor(actor: *const c_char, len: usize) -> FfiResult<Actor> {
    // SAFETY: forwarded contract.
    let text = unsafe { text(actor, len) }?;
    // The detail never repeats the name: it may be anything the host passed.
    Actor::new(text).map_err(|e| Failure::new(R::of(e.row()), format!("actor: {e}")))
}

fn store_failure(e: StoreError) -> Failure {
    Failure::new(R::from(&e), e.to_string())
}

/// Creates an empty store in `*store_out`.
///
/// # Safety
/// `store_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_new(
    store_out: *mut *mut portcullis_store,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(store_out)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe {
            out.write(into_handle(portcullis_store {
                inner: Backend::Memory(MemoryStore::new()),
            }))
        };
        Ok(())
    })
}

/// Opens the database store at `url` (`sqlite:PATH`, a file created if missing, or
/// `postgresql://USER:PASSWORD@HOST:PORT/DATABASE`) into `*store_out`: connects, checks
/// the database is portcullis's and not newer than this library, migrates it, and starts
/// the change feed (one thread and one more connection) that carries every other
/// process's writes into this store's cache. `staleness_ms`: how long the cache may
/// answer on its own since the feed last caught up (0: the default, 1,000 ms); past it,
/// lookups read the database, and when that fails too the check answers 503
/// `lookup_failed`, never an allow from stale state. Blocks for the connection (at most
/// 2 s to connect). Share one store between all threads; free it to stop its feed.
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_DATABASE_STORE_BAD_URL`, `PORTCULLIS_DATABASE_STORE_UNREACHABLE`,
/// `PORTCULLIS_DATABASE_STORE_AUTH_FAILED`, `PORTCULLIS_DATABASE_STORE_FOREIGN` (another
/// product's tables, or not a database), `PORTCULLIS_DATABASE_STORE_TOO_NEW`,
/// `PORTCULLIS_DATABASE_STORE_ERROR`, `PORTCULLIS_DATABASE_STORE_BUSY`;
/// `portcullis_last_error` gives the stable code, what failed (the URL without its
/// password) and a hint.
///
/// # Safety
/// `url` readable for `url_len` bytes; `store_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_new_from_url(
    url: *const c_char,
    url_len: usize,
    staleness_ms: u64,
    store_out: *mut *mut portcullis_store,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(store_out)?;
        // SAFETY: readable (contract).
        let url = unsafe { text(url, url_len) }?;
        let mut options = Options::default();
        if staleness_ms > 0 {
            options.staleness = Duration::from_millis(staleness_ms);
        }
        let store = Store::open_with(url, options).map_err(db_failure)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe {
            out.write(into_handle(portcullis_store {
                inner: Backend::Database(Arc::new(store)),
            }))
        };
        Ok(())
    })
}

/// Adds a copy of `record` (the caller keeps its handle); a database store writes it and
/// its audit entry in one transaction, and every process sees it. The audit records no
/// actor (`portcullis_store_insert_as` names one). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_STORE_DUPLICATE` (an id already present;
/// a database store: `PORTCULLIS_DATABASE_DUPLICATE_KEY`), a database store's
/// `PORTCULLIS_DATABASE_*` errors (nothing was written).
///
/// # Safety
/// `store` and `record` are live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_insert(
    store: *const portcullis_store,
    record: *const portcullis_record,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let (store, record) = unsafe { (borrow(store)?, borrow(record)?) };
        insert(store, record, None)
    })
}

/// `portcullis_store_insert`, with the audit entry recorded as done by `actor` (who acts,
/// as the host names them: a user's email, a service's name; trimmed, 1 to 256 bytes of
/// UTF-8 without control characters). A memory store keeps no audit: the actor is
/// checked, then unused. Errors as for `portcullis_store_insert`, and
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_INVALID_ARGUMENT`
/// (not an actor; nothing was written).
///
/// # Safety
/// `store` and `record` are live; `actor` readable for `actor_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_insert_as(
    store: *const portcullis_store,
    actor: *const c_char,
    actor_len: usize,
    record: *const portcullis_record,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (store, actor, record) = unsafe {
            (
                borrow(store)?,
                self::actor(actor, actor_len)?,
                borrow(record)?,
            )
        };
        insert(store, record, Some(&actor))
    })
}

/// The body of `portcullis_store_insert` and `_insert_as`.
fn insert(
    store: &portcullis_store,
    record: &portcullis_record,
    actor: Option<&Actor>,
) -> FfiResult<()> {
    match &store.inner {
        Backend::Memory(m) => m
            .insert(KeyRecord::clone(&record.inner))
            .map_err(store_failure),
        Backend::Database(d) => {
            let now = Timestamp::now();
            match actor {
                Some(a) => d.acting_as(*a).insert_key(&record.inner, now),
                None => d.insert_key(&record.inner, now),
            }
            .map_err(db_failure)
        }
    }
}

/// Adds or replaces (same id) a copy of `record`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (a database store: use insert, revoke and rotate).
///
/// # Safety
/// `store` and `record` are live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_put(
    store: *const portcullis_store,
    record: *const portcullis_record,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let (store, record) = unsafe { (borrow(store)?, borrow(record)?) };
        match &store.inner {
            Backend::Memory(m) => {
                m.put(KeyRecord::clone(&record.inner));
                Ok(())
            }
            Backend::Database(_) => Err(not_for_database("portcullis_store_put")),
        }
    })
}

/// Writes a new handle to the record with this id to `*record_out` (free it). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_KEY_LENGTH` /
/// `PORTCULLIS_KEY_CHARACTER` (not a key id), `PORTCULLIS_STORE_NOT_FOUND` (a database
/// store, which reads the database and not its cache: `PORTCULLIS_DATABASE_KEY_NOT_FOUND`,
/// or its other `PORTCULLIS_DATABASE_*` errors).
///
/// # Safety
/// `store` is live; `id` readable for `id_len` bytes; `record_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_get(
    store: *const portcullis_store,
    id: *const c_char,
    id_len: usize,
    record_out: *mut *mut portcullis_record,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(record_out)?;
        // SAFETY: live / readable (contract).
        let (store, id) = unsafe { (borrow(store)?, key_id(id, id_len)?) };
        let found = match &store.inner {
            Backend::Memory(m) => m.get(&id),
            Backend::Database(d) => Some(
                d.key(&id)
                    .map_err(db_failure)?
                    .map(Arc::new)
                    .ok_or_else(|| {
                        Failure::new(
                            R::PORTCULLIS_DATABASE_KEY_NOT_FOUND,
                            format!("key_not_found: no key with id {id} in the database"),
                        )
                    })?,
            ),
        };
        let record = found.ok_or_else(|| store_failure(StoreError::NotFound(id)))?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_record::new(record))) };
        Ok(())
    })
}

/// Removes the record with this id. Errors as for `portcullis_store_get`;
/// `PORTCULLIS_INVALID_ARGUMENT` for a database store (revoke its keys instead).
///
/// # Safety
/// `store` is live; `id` readable for `id_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_remove(
    store: *const portcullis_store,
    id: *const c_char,
    id_len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (store, id) = unsafe { (borrow(store)?, key_id(id, id_len)?) };
        match &store.inner {
            Backend::Memory(m) => m
                .remove(&id)
                .map(drop)
                .ok_or_else(|| store_failure(StoreError::NotFound(id))),
            Backend::Database(_) => Err(not_for_database("portcullis_store_remove")),
        }
    })
}

/// Revokes the key with this id from `at` (Unix seconds) on; every later check sees it
/// (a database store: in this process at once, in the others when the change feed
/// brings it, within milliseconds while it runs; revoking again keeps the earlier time).
/// The audit records no actor (`portcullis_store_revoke_as` names one). Errors as for
/// `portcullis_store_get`.
///
/// # Safety
/// `store` is live; `id` readable for `id_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_revoke(
    store: *const portcullis_store,
    id: *const c_char,
    id_len: usize,
    at: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (store, id) = unsafe { (borrow(store)?, key_id(id, id_len)?) };
        revoke(store, &id, Timestamp(at), None)
    })
}

/// `portcullis_store_revoke`, with the audit entry recorded as done by `actor` (as for
/// `portcullis_store_insert_as`). Errors as for `portcullis_store_revoke` and
/// `PORTCULLIS_INVALID_ARGUMENT` (not an actor; nothing was written).
///
/// # Safety
/// `store` is live; `actor` readable for `actor_len` bytes, `id` for `id_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_revoke_as(
    store: *const portcullis_store,
    actor: *const c_char,
    actor_len: usize,
    id: *const c_char,
    id_len: usize,
    at: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live / readable (contract).
        let (store, actor, id) = unsafe {
            (
                borrow(store)?,
                self::actor(actor, actor_len)?,
                key_id(id, id_len)?,
            )
        };
        revoke(store, &id, Timestamp(at), Some(&actor))
    })
}

/// The body of `portcullis_store_revoke` and `_revoke_as`.
fn revoke(
    store: &portcullis_store,
    id: &KeyId,
    at: Timestamp,
    actor: Option<&Actor>,
) -> FfiResult<()> {
    match &store.inner {
        Backend::Memory(m) => m.revoke(id, at).map_err(store_failure),
        Backend::Database(d) => match actor {
            Some(a) => d.acting_as(*a).revoke_key(id, at),
            None => d.revoke_key(id, at),
        }
        .map(drop)
        .map_err(db_failure),
    }
}

/// Rotates the key with this id at `now`, as `portcullis_checker_rotate`, and stores the
/// result: the successor is added and the predecessor's record replaced (a database
/// store: in one transaction, with their audit entries, which record no actor:
/// `portcullis_store_rotate_as` names one). Writes the successor (its plaintext, shown
/// once) to `*successor_out`. Errors as for `portcullis_store_get` and
/// `portcullis_checker_rotate` (`PORTCULLIS_ISSUE_INACTIVE`: revoked or expired; a
/// database store: `PORTCULLIS_DATABASE_KEY_INACTIVE`).
///
/// # Safety
/// `store`, `checker` live; `id` readable for `id_len` bytes; `successor_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_rotate(
    store: *const portcullis_store,
    checker: *const portcullis_checker,
    id: *const c_char,
    id_len: usize,
    grace_secs: u64,
    now: u64,
    successor_out: *mut *mut portcullis_issued_key,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(successor_out)?;
        // SAFETY: live / readable (contract).
        let (store, checker, id) =
            unsafe { (borrow(store)?, borrow(checker)?, key_id(id, id_len)?) };
        let successor = rotate(store, checker, &id, grace_secs, Timestamp(now), None)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(successor)) };
        Ok(())
    })
}

/// `portcullis_store_rotate`, with both audit entries (the predecessor's `rotated`, the
/// successor's `created`) recorded as done by `actor` (as for
/// `portcullis_store_insert_as`). Errors as for `portcullis_store_rotate` and
/// `PORTCULLIS_INVALID_ARGUMENT` (not an actor; nothing was written).
///
/// # Safety
/// `store`, `checker` live; `actor` readable for `actor_len` bytes, `id` for `id_len`
/// bytes; `successor_out` writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn portcullis_store_rotate_as(
    store: *const portcullis_store,
    actor: *const c_char,
    actor_len: usize,
    checker: *const portcullis_checker,
    id: *const c_char,
    id_len: usize,
    grace_secs: u64,
    now: u64,
    successor_out: *mut *mut portcullis_issued_key,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(successor_out)?;
        // SAFETY: live / readable (contract).
        let (store, actor, checker, id) = unsafe {
            (
                borrow(store)?,
                self::actor(actor, actor_len)?,
                borrow(checker)?,
                key_id(id, id_len)?,
            )
        };
        let successor = rotate(
            store,
            checker,
            &id,
            grace_secs,
            Timestamp(now),
            Some(&actor),
        )?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(successor)) };
        Ok(())
    })
}

/// The body of `portcullis_store_rotate` and `_rotate_as`: the successor's handle.
fn rotate(
    store: &portcullis_store,
    checker: &portcullis_checker,
    id: &KeyId,
    grace_secs: u64,
    now: Timestamp,
    actor: Option<&Actor>,
) -> FfiResult<portcullis_issued_key> {
    let rotation = match &store.inner {
        Backend::Database(d) => match actor {
            Some(a) => d
                .acting_as(*a)
                .rotate_key(id, &checker.inner, grace_secs, now),
            None => d.rotate_key(id, &checker.inner, grace_secs, now),
        }
        .map_err(db_failure)?,
        Backend::Memory(m) => {
            let old = m
                .get(id)
                .ok_or_else(|| store_failure(StoreError::NotFound(*id)))?;
            let rotation = checker
                .inner
                .rotate(&old, grace_secs, now)
                .map_err(crate::issue::issue_failure)?;
            m.insert(KeyRecord::clone(&rotation.successor.record))
                .map_err(store_failure)?;
            m.put(KeyRecord::clone(&rotation.predecessor));
            rotation
        }
    };
    Ok(portcullis_issued_key::new(rotation.successor))
}

/// Makes the access-token verifier of `checker` (from
/// `portcullis_checker_new_with_access_tokens`) follow this database store: it receives
/// the OAuth revocations the store has seen (refresh-token families, the access-token
/// epoch) now and every one the change feed brings from other processes, and fails closed
/// like the cache: while the feed is behind the staleness bound, access tokens are
/// answered 503 `lookup_failed`. A verifier follows the first store it is attached to.
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a memory store, or a
/// checker without access tokens), the `PORTCULLIS_DATABASE_*` errors (reading the
/// revocations).
///
/// # Safety
/// `store` and `checker` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_attach(
    store: *const portcullis_store,
    checker: *const portcullis_checker,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let (store, checker) = unsafe { (borrow(store)?, borrow(checker)?) };
        let Backend::Database(d) = &store.inner else {
            return Err(Failure::new(
                R::PORTCULLIS_INVALID_ARGUMENT,
                "a memory store has no feed to attach a verifier to",
            ));
        };
        let verifier = checker.inner.access_tokens().ok_or_else(|| {
            Failure::new(
                R::PORTCULLIS_INVALID_ARGUMENT,
                "the checker has no access-token verifier (portcullis_checker_new_with_access_tokens)",
            )
        })?;
        d.attach(Arc::clone(verifier)).map_err(db_failure)
    })
}

/// Revokes, in every process sharing this database store, every OAuth access token
/// issued before `epoch` (Unix seconds): the stored epoch is raised, never lowered, and
/// the change feed carries it to every process's attached verifiers. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a memory store: raise the
/// epoch of its verifier instead), the `PORTCULLIS_DATABASE_*` errors.
///
/// # Safety
/// `store` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_revoke_access_tokens_before(
    store: *const portcullis_store,
    epoch: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let store = unsafe { borrow(store)? };
        let Backend::Database(d) = &store.inner else {
            return Err(Failure::new(
                R::PORTCULLIS_INVALID_ARGUMENT,
                "a memory store shares no epoch: raise its verifier's",
            ));
        };
        d.revoke_access_tokens_before(Timestamp(epoch))
            .map_err(db_failure)
    })
}

/// The number of records (0 for NULL); for a database store, the number of key rows
/// (revoked ones included, at most 100,000), read from the database; 0 when that fails.
///
/// # Safety
/// `store` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_len(store: *const portcullis_store) -> usize {
    // SAFETY: forwarded contract.
    unsafe {
        read(store, 0, |s| match &s.inner {
            Backend::Memory(m) => Some(m.len()),
            Backend::Database(d) => d.list_keys().ok().map(|keys| keys.len()),
        })
    }
}

/// Frees a store and its records (a database store: stops its feed and closes its
/// connections; the database keeps everything). NULL is a no-op.
///
/// # Safety
/// `store` is NULL or a store not yet freed and no longer in use by any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_free(store: *mut portcullis_store) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(store) }
}
