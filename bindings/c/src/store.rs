//! `portcullis_store`: the library's concurrent in-memory record store.

use crate::ffi::{
    Failure, FfiResult, borrow, free_handle, guard, into_handle, out_ptr, read, text,
};
use crate::record::portcullis_record;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use core_lib::{KeyId, KeyRecord, MemoryStore, StoreError, Timestamp};
use std::ffi::c_char;

/// An in-memory store of key records by id. Every operation is safe from any number of
/// threads at once (reads take no lock; writes are atomic and visible to later reads).
#[allow(non_camel_case_types)]
pub struct portcullis_store {
    pub(crate) inner: MemoryStore,
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
                inner: MemoryStore::new(),
            }))
        };
        Ok(())
    })
}

/// Adds a copy of `record` (the caller keeps its handle). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_STORE_DUPLICATE` (an id already present).
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
        store
            .inner
            .insert(KeyRecord::clone(&record.inner))
            .map_err(store_failure)
    })
}

/// Adds or replaces (same id) a copy of `record`. Errors: `PORTCULLIS_NULL_PARAMETER`.
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
        store.inner.put(KeyRecord::clone(&record.inner));
        Ok(())
    })
}

/// Writes a new handle to the record with this id to `*record_out` (free it). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_KEY_LENGTH` /
/// `PORTCULLIS_KEY_CHARACTER` (not a key id), `PORTCULLIS_STORE_NOT_FOUND`.
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
        let record = store
            .inner
            .get(&id)
            .ok_or_else(|| store_failure(StoreError::NotFound(id)))?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_record::new(record))) };
        Ok(())
    })
}

/// Removes the record with this id. Errors as for `portcullis_store_get`.
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
        store
            .inner
            .remove(&id)
            .map(drop)
            .ok_or_else(|| store_failure(StoreError::NotFound(id)))
    })
}

/// Revokes the key with this id from `at` (Unix seconds) on; every later check sees it.
/// Errors as for `portcullis_store_get`.
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
        store
            .inner
            .revoke(&id, Timestamp(at))
            .map_err(store_failure)
    })
}

/// The number of records (0 for NULL).
///
/// # Safety
/// `store` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_len(store: *const portcullis_store) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(store, 0, |s| s.inner.len()) }
}

/// Frees a store and its records. NULL is a no-op.
///
/// # Safety
/// `store` is NULL or a store not yet freed and no longer in use by any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_store_free(store: *mut portcullis_store) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(store) }
}
