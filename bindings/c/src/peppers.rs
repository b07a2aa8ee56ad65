//! `portcullis_peppers`: the server-side HMAC keys, built up before making a checker.

use crate::ffi::{
    Failure, FfiResult, borrow_mut, bytes, free_handle, guard, into_handle, out_ptr, text,
};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use core_lib::Peppers;
use std::ffi::c_char;
use zeroize::Zeroizing;

/// A set of named peppers (HMAC keys, at least 32 bytes each); the primary one hashes new
/// keys, the others verify records that still name them. The secrets are copied in,
/// zeroized when the set is freed, and never printed. Not thread-safe while being changed
/// (`_add`, `_set_primary`); reading it (`portcullis_checker_new`) from several threads at
/// once is safe. A checker keeps its own copy, so the set may be freed right after.
#[allow(non_camel_case_types)]
pub struct portcullis_peppers {
    entries: Vec<(String, Zeroizing<Vec<u8>>)>,
    primary: usize,
}

impl portcullis_peppers {
    /// Builds the core pepper set (validating every entry).
    pub(crate) fn build(&self) -> FfiResult<Peppers> {
        let mut iter = self.entries.iter();
        let (id, secret) = iter
            .next()
            .ok_or_else(|| Failure::from(R::PORTCULLIS_INVALID_ARGUMENT))?;
        let mut peppers = Peppers::new(id, secret).map_err(pepper_failure)?;
        for (id, secret) in iter {
            peppers.add(id, secret).map_err(pepper_failure)?;
        }
        let primary = &self.entries[self.primary.min(self.entries.len() - 1)].0;
        peppers.set_primary(primary).map_err(pepper_failure)?;
        Ok(peppers)
    }
}

fn pepper_failure(e: core_lib::PepperError) -> Failure {
    Failure::new(R::from(&e), e.to_string())
}

/// Starts a pepper set whose primary (and only) pepper is `secret` (`secret_len` bytes,
/// at least 32) under `id` (1-32 characters `[A-Za-z0-9_-]`). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`,
/// `PORTCULLIS_PEPPER_BAD_ID`, `PORTCULLIS_PEPPER_TOO_SHORT`.
///
/// # Safety
/// `id` and `secret` are readable for their lengths; `peppers_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_peppers_new(
    id: *const c_char,
    id_len: usize,
    secret: *const u8,
    secret_len: usize,
    peppers_out: *mut *mut portcullis_peppers,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(peppers_out)?;
        // SAFETY: readable for the given lengths (contract).
        let (id, secret) = unsafe { (text(id, id_len)?, bytes(secret.cast(), secret_len)?) };
        let set = portcullis_peppers {
            entries: vec![(id.to_owned(), Zeroizing::new(secret.to_vec()))],
            primary: 0,
        };
        set.build()?;
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { out.write(into_handle(set)) };
        Ok(())
    })
}

/// Adds an older pepper that existing records may still name. Errors as for
/// `portcullis_peppers_new`, plus `PORTCULLIS_PEPPER_DUPLICATE`. On error the set is
/// unchanged.
///
/// # Safety
/// `peppers` is a live set not used by another thread; `id`, `secret` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_peppers_add(
    peppers: *mut portcullis_peppers,
    id: *const c_char,
    id_len: usize,
    secret: *const u8,
    secret_len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live and exclusively ours for the call; inputs readable (contract).
        let (set, id, secret) = unsafe {
            (
                borrow_mut(peppers)?,
                text(id, id_len)?,
                bytes(secret.cast(), secret_len)?,
            )
        };
        set.entries
            .push((id.to_owned(), Zeroizing::new(secret.to_vec())));
        if let Err(e) = set.build() {
            set.entries.pop();
            return Err(e);
        }
        Ok(())
    })
}

/// Makes the pepper `id` the primary one (new keys are hashed with it; records under the
/// others get a `needs_rehash` warning). Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_PEPPER_UNKNOWN`.
///
/// # Safety
/// `peppers` is a live set not used by another thread; `id` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_peppers_set_primary(
    peppers: *mut portcullis_peppers,
    id: *const c_char,
    id_len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live and exclusively ours for the call; `id` readable (contract).
        let (set, id) = unsafe { (borrow_mut(peppers)?, text(id, id_len)?) };
        let index = set
            .entries
            .iter()
            .position(|(i, _)| i == id)
            .ok_or_else(|| {
                Failure::new(
                    R::PORTCULLIS_PEPPER_UNKNOWN,
                    format!("no pepper with id {id:?}"),
                )
            })?;
        set.primary = index;
        Ok(())
    })
}

/// Frees a pepper set, zeroizing its secrets. NULL is a no-op.
///
/// # Safety
/// `peppers` is NULL or a set not yet freed, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_peppers_free(peppers: *mut portcullis_peppers) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(peppers) }
}
