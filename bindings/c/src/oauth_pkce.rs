//! PKCE (RFC 7636) helpers: compute an S256 challenge, check a verifier.

use crate::ffi::{Failure, guard, out_ptr, text};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::copy_out;
use core_lib::oauth::{ChallengeMethod, PkceChallenge};
use std::ffi::c_char;

/// Copies the S256 challenge of `verifier` (BASE64URL(SHA-256(verifier)), 43 characters)
/// into `buf` with the required-length protocol (`*len_out` gets the length; the text and
/// a NUL are written when `cap > 43`). For clients and tests. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_BUFFER_TOO_SMALL`.
/// Thread-safe.
///
/// # Safety
/// `verifier` readable; `buf` NULL or writable for `cap` bytes; `len_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_pkce_s256(
    verifier: *const c_char,
    verifier_len: usize,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: readable (contract).
        let verifier = unsafe { text(verifier, verifier_len) }?;
        let challenge = PkceChallenge::s256(verifier).challenge;
        // SAFETY: forwarded contract.
        unsafe { copy_out(&challenge, buf, cap, len_out) }
    })
}

/// Sets `*matches_out` to whether `verifier` (43-128 unreserved characters, else no
/// match) answers `challenge` under `method` (`"S256"` or `"plain"`), compared in
/// constant time. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_ARGUMENT` (unknown method). Thread-safe.
///
/// # Safety
/// The strings are readable for their lengths; `matches_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_pkce_verify(
    method: *const c_char,
    method_len: usize,
    challenge: *const c_char,
    challenge_len: usize,
    verifier: *const c_char,
    verifier_len: usize,
    matches_out: *mut bool,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(matches_out)?;
        // SAFETY: readable (contract).
        let (method, challenge, verifier) = unsafe {
            (
                text(method, method_len)?,
                text(challenge, challenge_len)?,
                text(verifier, verifier_len)?,
            )
        };
        let method = match method {
            "S256" => ChallengeMethod::S256,
            "plain" => ChallengeMethod::Plain,
            _ => {
                return Err(Failure::new(
                    R::PORTCULLIS_INVALID_ARGUMENT,
                    "the PKCE method must be S256 or plain",
                ));
            }
        };
        let c = PkceChallenge {
            method,
            challenge: challenge.to_owned(),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(c.verify(verifier)) };
        Ok(())
    })
}
