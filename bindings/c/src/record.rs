//! `portcullis_record`: a stored key record (no secret, only the hash), as JSON and fields.

use crate::ffi::{
    Failure, borrow, borrow_mut, free_handle, guard, guard_value, into_handle, out_ptr, read, text,
};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::{owned_string, portcullis_str};
use core_lib::KeyState;
use core_lib::{KeyId, KeyRecord, Timestamp};
use std::ffi::c_char;
use std::sync::Arc;

/// A key record: id, name, owner, kind, env, scopes, hash, times, metadata. Holds no
/// secret. Reading it from several threads at once is safe; changing it
/// (`portcullis_record_revoke`, `_set_expires_at`) needs exclusive access, and does not
/// affect copies already handed to a store or made with `portcullis_record_clone`.
#[allow(non_camel_case_types)]
pub struct portcullis_record {
    pub(crate) inner: Arc<KeyRecord>,
    id: [u8; 17],
    rotated_from: Option<[u8; 17]>,
    /// The core's display form (kind, env and id never change on a record).
    display: Box<str>,
}

/// A key id as NUL-terminated text.
pub(crate) fn id_text(id: KeyId) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[..16].copy_from_slice(id.as_bytes());
    out
}

/// Borrows the text of an id buffer made by [`id_text`].
pub(crate) fn id_str(buf: &[u8; 17]) -> portcullis_str {
    portcullis_str {
        data: buf.as_ptr().cast(),
        len: 16,
    }
}

impl portcullis_record {
    /// Wraps a shared record.
    pub(crate) fn new(inner: Arc<KeyRecord>) -> Self {
        portcullis_record {
            id: id_text(inner.id()),
            rotated_from: inner.rotated_from().map(id_text),
            display: inner.display().to_string().into(),
            inner,
        }
    }
}

/// Parses a record from its JSON form (as `portcullis_record_to_json` writes it, or as
/// stored in your database). Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_RECORD_BAD_JSON`, `PORTCULLIS_RECORD_BAD_LABEL`,
/// `PORTCULLIS_RECORD_BAD_HASH`.
///
/// # Safety
/// `json` is readable for `len` bytes; `record_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_new_from_json(
    json: *const c_char,
    len: usize,
    record_out: *mut *mut portcullis_record,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(record_out)?;
        // SAFETY: readable for `len` bytes (contract).
        let json = unsafe { text(json, len) }?;
        let record =
            KeyRecord::from_json(json).map_err(|e| Failure::new(R::from(&e), e.to_string()))?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_record::new(Arc::new(record)))) };
        Ok(())
    })
}

/// Writes the record's JSON form to `*json_out` (NUL-terminated, library-owned: free it
/// with `portcullis_string_free`) and its length to `*len_out` (may be NULL).
///
/// # Safety
/// `record` is a live record; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_to_json(
    record: *const portcullis_record,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live (contract).
        let record = unsafe { borrow(record) }?;
        let (ptr, len) = owned_string(record.inner.to_json())?;
        // SAFETY: non-NULL and writable; `len_out` NULL or writable (contract).
        unsafe {
            out.write(ptr);
            if let Some(l) = len_out.as_mut() {
                *l = len;
            }
        }
        Ok(())
    })
}

/// A new handle to the same record (cheap: the record is shared, copied only when one of
/// the handles is changed). Use it to hand a cached record to a lookup callback.
///
/// # Safety
/// `record` is a live record; `record_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_clone(
    record: *const portcullis_record,
    record_out: *mut *mut portcullis_record,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(record_out)?;
        // SAFETY: live (contract).
        let record = unsafe { borrow(record) }?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_record::new(record.inner.clone()))) };
        Ok(())
    })
}

/// Revokes the key from `at` (Unix seconds) on; an earlier revocation time is kept.
/// Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `record` is a live record not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_revoke(
    record: *mut portcullis_record,
    at: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live and exclusive (contract).
        let record = unsafe { borrow_mut(record) }?;
        Arc::make_mut(&mut record.inner).revoke(Timestamp(at));
        Ok(())
    })
}

/// Sets the expiry to `at` (Unix seconds) when `has_expiry`, or clears it.
/// Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `record` is a live record not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_set_expires_at(
    record: *mut portcullis_record,
    has_expiry: bool,
    at: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live and exclusive (contract).
        let record = unsafe { borrow_mut(record) }?;
        Arc::make_mut(&mut record.inner).set_expires_at(has_expiry.then_some(Timestamp(at)));
        Ok(())
    })
}

/// The key id (16 characters, NUL-terminated), borrowed from the record; absent for NULL.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_id(record: *const portcullis_record) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe { read(record, portcullis_str::NONE, |r| id_str(&r.id)) }
}

/// The key's name, borrowed from the record; absent for NULL.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_name(
    record: *const portcullis_record,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            portcullis_str::of(r.inner.name())
        })
    }
}

/// The key's owner, borrowed from the record; absent for NULL.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_owner(
    record: *const portcullis_record,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            portcullis_str::of(r.inner.owner())
        })
    }
}

/// The key's kind (`sk`), borrowed from the record; absent for NULL.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_kind(
    record: *const portcullis_record,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            portcullis_str::of(r.inner.kind())
        })
    }
}

/// The key's environment (`live`), borrowed from the record; absent for NULL.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_env(record: *const portcullis_record) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            portcullis_str::of(r.inner.env())
        })
    }
}

/// The id of the key this one replaced (NUL-terminated), or absent.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_rotated_from(
    record: *const portcullis_record,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            r.rotated_from.as_ref().map_or(portcullis_str::NONE, id_str)
        })
    }
}

/// How many scope strings the record grants (0 for NULL).
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_scopes_len(record: *const portcullis_record) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(record, 0, |r| r.inner.scopes().len()) }
}

/// The granted scope string at `index` (as stored: names or patterns), or absent when out
/// of range.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_scope(
    record: *const portcullis_record,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            portcullis_str::of_opt(r.inner.scopes().get(index).map(String::as_str))
        })
    }
}

/// When the key was created (Unix seconds; 0 for NULL).
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_created_at(record: *const portcullis_record) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { read(record, 0, |r| r.inner.created_at().0) }
}

/// Reads an optional time; writes `*at_out` and returns true only when present.
///
/// # Safety
/// `record` is NULL or live; `at_out` NULL or writable.
unsafe fn optional_time(
    record: *const portcullis_record,
    at_out: *mut u64,
    get: impl FnOnce(&KeyRecord) -> Option<Timestamp>,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live record, NULL or writable out (caller's contract).
        let (r, out) = unsafe { (borrow(record).ok()?, at_out.as_mut()?) };
        *out = get(&r.inner)?.0;
        Some(true)
    })
}

/// Whether the key has an expiry; if so writes it (Unix seconds) to `*at_out`.
/// False (nothing written) for NULL arguments.
///
/// # Safety
/// `record` is NULL or live; `at_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_expires_at(
    record: *const portcullis_record,
    at_out: *mut u64,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe { optional_time(record, at_out, KeyRecord::expires_at) }
}

/// Whether the key is revoked; if so writes the revocation time to `*at_out`.
/// False (nothing written) for NULL arguments.
///
/// # Safety
/// `record` is NULL or live; `at_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_revoked_at(
    record: *const portcullis_record,
    at_out: *mut u64,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe { optional_time(record, at_out, KeyRecord::revoked_at) }
}

/// Whether the key has a not-before time; if so writes it to `*at_out`.
/// False (nothing written) for NULL arguments.
///
/// # Safety
/// `record` is NULL or live; `at_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_not_before(
    record: *const portcullis_record,
    at_out: *mut u64,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe { optional_time(record, at_out, KeyRecord::not_before) }
}

/// A key's state at a time (`portcullis_record_state`), as the checker decides it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum portcullis_key_state {
    /// Usable: not revoked, not expired, valid from its not-before time.
    PORTCULLIS_KEY_ACTIVE = 0,
    /// Revoked at or before the time.
    PORTCULLIS_KEY_REVOKED = 1,
    /// Expired at or before the time.
    PORTCULLIS_KEY_EXPIRED = 2,
    /// Its not-before time is still to come.
    PORTCULLIS_KEY_NOT_YET_VALID = 3,
}

impl From<KeyState> for portcullis_key_state {
    fn from(state: KeyState) -> Self {
        match state {
            KeyState::Active => portcullis_key_state::PORTCULLIS_KEY_ACTIVE,
            KeyState::Revoked => portcullis_key_state::PORTCULLIS_KEY_REVOKED,
            KeyState::Expired => portcullis_key_state::PORTCULLIS_KEY_EXPIRED,
            KeyState::NotYetValid => portcullis_key_state::PORTCULLIS_KEY_NOT_YET_VALID,
        }
    }
}

impl From<portcullis_key_state> for KeyState {
    fn from(state: portcullis_key_state) -> Self {
        match state {
            portcullis_key_state::PORTCULLIS_KEY_ACTIVE => KeyState::Active,
            portcullis_key_state::PORTCULLIS_KEY_REVOKED => KeyState::Revoked,
            portcullis_key_state::PORTCULLIS_KEY_EXPIRED => KeyState::Expired,
            portcullis_key_state::PORTCULLIS_KEY_NOT_YET_VALID => KeyState::NotYetValid,
        }
    }
}

/// The key's state at `now` (Unix seconds): revoked from its revocation time on, not yet
/// valid before its not-before time, expired from its expiry on, else active (the
/// checker refuses on the same rule). `PORTCULLIS_KEY_REVOKED` for NULL (fail closed).
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_state(
    record: *const portcullis_record,
    now: u64,
) -> portcullis_key_state {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_key_state::PORTCULLIS_KEY_REVOKED, |r| {
            portcullis_key_state::from(r.inner.state(Timestamp(now)))
        })
    }
}

/// The stable name of a state: `active`, `revoked`, `expired`, `not_yet_valid` (static
/// text; absent for a value outside the enum).
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_key_state_name(state: u32) -> portcullis_str {
    let state = [
        portcullis_key_state::PORTCULLIS_KEY_ACTIVE,
        portcullis_key_state::PORTCULLIS_KEY_REVOKED,
        portcullis_key_state::PORTCULLIS_KEY_EXPIRED,
        portcullis_key_state::PORTCULLIS_KEY_NOT_YET_VALID,
    ]
    .into_iter()
    .find(|s| *s as u32 == state);
    portcullis_str::of_opt(state.map(|s| KeyState::from(s).as_str()))
}

/// The key's display form, safe to log: `sk_live_<id>_…` (UTF-8: it ends with U+2026).
/// Borrowed from the record: valid until it is freed. Absent for NULL.
///
/// # Safety
/// `record` is NULL or a live record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_display(
    record: *const portcullis_record,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(record, portcullis_str::NONE, |r| {
            portcullis_str::of(&r.display)
        })
    }
}

/// Frees a record handle. NULL is a no-op.
///
/// # Safety
/// `record` is NULL or a record not yet freed (and not handed over to the library).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_record_free(record: *mut portcullis_record) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(record) }
}
