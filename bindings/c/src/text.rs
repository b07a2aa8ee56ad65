//! Strings across the boundary: the borrowed `portcullis_str`, caller buffers with the
//! required-length protocol, library-owned strings, the version and the last error.

use crate::ffi::{Failure, FfiResult, guard, last_error, out_ptr};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use std::ffi::{CString, c_char};
use zeroize::Zeroize;

/// A borrowed string: `len` bytes at `data`, UTF-8, not NUL-terminated (unless a function
/// says so). `data == NULL` (with `len == 0`) means "absent". Returned strings borrow from
/// the handle they came from and stay valid until that handle is freed or changed; as
/// inputs, they are read during the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_str {
    /// The first byte, or NULL when absent.
    pub data: *const c_char,
    /// The length in bytes.
    pub len: usize,
}

impl portcullis_str {
    /// The absent string.
    pub(crate) const NONE: portcullis_str = portcullis_str {
        data: std::ptr::null(),
        len: 0,
    };

    /// Borrows a Rust string.
    pub(crate) fn of(s: &str) -> Self {
        portcullis_str {
            data: s.as_ptr().cast(),
            len: s.len(),
        }
    }

    /// Borrows an optional Rust string.
    pub(crate) fn of_opt(s: Option<&str>) -> Self {
        s.map_or(Self::NONE, Self::of)
    }
}

/// Copies `text` into a caller buffer with the required-length protocol: `*len_out`
/// always receives the length (without the NUL); the text and a NUL are written only if
/// `cap > len`, else `PORTCULLIS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `buf` is NULL or writable for `cap` bytes; `len_out` is NULL or writable.
pub(crate) unsafe fn copy_out(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FfiResult<()> {
    let len_out = out_ptr(len_out)?;
    // SAFETY: `len_out` is non-NULL; writable by the caller's contract.
    unsafe { len_out.write(text.len()) };
    if buf.is_null() || cap <= text.len() {
        return Err(R::PORTCULLIS_BUFFER_TOO_SMALL.into());
    }
    // SAFETY: `buf` is non-NULL and writable for `cap > text.len()` bytes (contract), so
    // the text and its NUL fit; the regions cannot overlap (`text` is ours).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// Hands a string to C as a library-owned, NUL-terminated allocation. The text may be a
/// secret (a client secret, a redirect URL holding a code, an access token): it is copied
/// into a buffer of exactly `len + 1` bytes, so `CString` neither grows nor shrinks it (no
/// stray copy is left in freed memory), and the given `String` is zeroized.
pub(crate) fn owned_string(text: String) -> FfiResult<(*mut c_char, usize)> {
    let text = zeroize::Zeroizing::new(text);
    let len = text.len();
    let mut exact = Vec::with_capacity(len + 1);
    exact.extend_from_slice(text.as_bytes());
    let c = CString::new(exact).map_err(|e| {
        let mut bytes = e.into_vec();
        bytes.zeroize();
        Failure::new(R::PORTCULLIS_INVALID_ARGUMENT, "text contains a NUL byte")
    })?;
    Ok((c.into_raw(), len))
}

/// Frees a string the library returned as `char *` (record JSON, hashes). Its bytes are
/// overwritten with zeros first. NULL is a no-op. Thread-safe for distinct strings.
///
/// # Safety
/// `s` is NULL or a string this library returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: `s` came from `CString::into_raw` in `owned_string` (contract).
    let owned = unsafe { CString::from_raw(s) };
    let mut bytes = owned.into_bytes_with_nul();
    bytes.zeroize();
}

/// The library version (`"0.1.0"`), NUL-terminated, static. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn portcullis_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// Copies the detail of the last failed call on this calling thread (for example every
/// problem of an invalid policy, with line and column) into `buf`, with the
/// required-length protocol: `*len_out` receives the length without the NUL; the text and
/// a NUL are written when `cap > *len_out`, otherwise `PORTCULLIS_BUFFER_TOO_SMALL`
/// (pass `buf = NULL, cap = 0` to ask for the length). The detail never contains a secret.
/// Empty when no call has failed on this thread. `PORTCULLIS_BUFFER_TOO_SMALL` (from any
/// call) never replaces the stored detail, so the call can be repeated with a bigger
/// buffer. Returns `PORTCULLIS_NULL_PARAMETER` when `len_out` is NULL.
///
/// # Safety
/// `buf` is NULL or writable for `cap` bytes; `len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_last_error(
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> portcullis_result {
    let text = last_error();
    // SAFETY: forwarded contract.
    guard(|| unsafe { copy_out(&text, buf, cap, len_out) })
}
