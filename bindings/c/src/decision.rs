//! `portcullis_decision`: the answer to a request, read through accessors.

use crate::ffi::{Failure, borrow, free_handle, guard, guard_value, into_handle, out_ptr, read};
use crate::record::{id_str, id_text, portcullis_record};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::{copy_out, portcullis_str};
use core_lib::{Checker, Decision, Outcome, ScopeSet};
use std::ffi::c_char;
use std::sync::Arc;

/// A decision: allowed or denied, HTTP status, RFC 6750 error code, `WWW-Authenticate`
/// value, internal reason, principal (key id, owner, granted scopes), missing scopes,
/// warnings. Immutable: safe to read from several threads at once. Strings it returns
/// borrow from it (or from its checker, which it keeps alive) and stay valid until
/// `portcullis_decision_free`.
#[allow(non_camel_case_types)]
pub struct portcullis_decision {
    checker: Arc<Checker>,
    outcome: Outcome,
    key_id: Option<[u8; 17]>,
}

impl portcullis_decision {
    /// Wraps an outcome reached by `checker`.
    pub(crate) fn new(checker: Arc<Checker>, outcome: Outcome) -> Self {
        let key_id = outcome.principal.as_ref().map(|p| id_text(p.record.id()));
        portcullis_decision {
            checker,
            outcome,
            key_id,
        }
    }

    /// Decides anew into this handle: keeps the outcome of `decision`, and the checker
    /// reference when it is the same checker.
    #[inline]
    pub(crate) fn refill(&mut self, checker: &Arc<Checker>, decision: Decision<'_>) {
        if !Arc::ptr_eq(&self.checker, checker) {
            self.checker = checker.clone();
        }
        self.outcome = decision.into_outcome();
        self.key_id = self
            .outcome
            .principal
            .as_ref()
            .map(|p| id_text(p.record.id()));
    }

    /// Moves a decision to a C handle.
    pub(crate) fn handle(checker: &Arc<Checker>, decision: Decision<'_>) -> *mut Self {
        into_handle(Self::new(checker.clone(), decision.into_outcome()))
    }

    fn names(&self, set: &ScopeSet, index: usize) -> portcullis_str {
        portcullis_str::of_opt(self.checker.policy().catalog().names(set).nth(index))
    }

    fn granted(&self) -> ScopeSet {
        self.outcome
            .principal
            .as_ref()
            .map_or(ScopeSet::EMPTY, |p| p.granted)
    }
}

/// Whether the request may proceed (status 200). False for NULL.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_allowed(decision: *const portcullis_decision) -> bool {
    // SAFETY: forwarded contract.
    unsafe { read(decision, false, |d| d.outcome.reason.status() == 200) }
}

/// The HTTP status: 200, 400, 401, 403, 429 over a rate limit (reason `rate_limited`),
/// or 503 when the lookup failed or the rate limiter could not tell (reason
/// `limiter_unavailable`). 0 for NULL.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_status(decision: *const portcullis_decision) -> u16 {
    // SAFETY: forwarded contract.
    unsafe { read(decision, 0, |d| d.outcome.reason.status()) }
}

/// The RFC 6750 error code for the client (`invalid_request`, `invalid_token`,
/// `insufficient_scope`), or absent. Static text.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_error(
    decision: *const portcullis_decision,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            portcullis_str::of_opt(d.outcome.reason.error().map(|e| e.as_str()))
        })
    }
}

/// The internal reason, for logs only (`allowed`, `public`, `unknown_key`,
/// `wrong_secret`, `revoked`, `expired`, `malformed_key`, `missing_credential`,
/// `ambiguous_path`, `rate_limited`, `limiter_unavailable`, …).
/// Never show it to the client. Static text; absent for NULL.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_reason(
    decision: *const portcullis_decision,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            portcullis_str::of(d.outcome.reason.code())
        })
    }
}

/// For reason `malformed_key`, why the key did not parse (`shape`, `unknown_kind`,
/// `unknown_env`, `length`, `character`, `checksum`); for reason `ambiguous_path`, why
/// the path was refused (`dot_segment`, `encoded_separator`, `empty_segment`,
/// `path_params`, `bad_escape`, `invalid_byte`, `not_absolute`); absent otherwise.
/// Static text.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_detail(
    decision: *const portcullis_decision,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            portcullis_str::of_opt(d.outcome.reason.detail())
        })
    }
}

/// For reason `lookup_failed`, the lookup's error message (for logs); absent otherwise.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_lookup_error(
    decision: *const portcullis_decision,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            portcullis_str::of_opt(d.outcome.lookup_error.as_ref().map(|e| e.message.as_str()))
        })
    }
}

/// Copies the `WWW-Authenticate` header value for a 400, 401 or 403 into `buf`
/// (`Bearer realm="…", error="…", …`), with the required-length protocol: `*len_out`
/// receives the length without the NUL; the value and a NUL are written when
/// `cap > *len_out`, otherwise `PORTCULLIS_BUFFER_TOO_SMALL` (ask with `buf = NULL,
/// cap = 0`). For decisions without the header (200, 503) the value is empty (length 0).
/// Errors: `PORTCULLIS_NULL_PARAMETER` (decision or len_out), `PORTCULLIS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `decision` is live; `buf` NULL or writable for `cap` bytes; `len_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_www_authenticate(
    decision: *const portcullis_decision,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        out_ptr(len_out)?;
        // SAFETY: live (contract).
        let d = unsafe { borrow(decision) }?;
        let value = Decision::new(&d.outcome, d.checker.policy())
            .www_authenticate()
            .map(|w| w.to_string())
            .unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&value, buf, cap, len_out) }
    })
}

/// On a refusal for a rate limit (429 `rate_limited`) or an unavailable limiter (503
/// `limiter_unavailable`), whether there is a `Retry-After` value and, if so, writes its
/// seconds (rounded up, at least 1) to `*secs_out`. False (nothing written) for every
/// other decision and for NULL arguments, as the other optional values of a decision
/// (`portcullis_decision_route`).
///
/// # Safety
/// `decision` is NULL or live; `secs_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_retry_after(
    decision: *const portcullis_decision,
    secs_out: *mut u64,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live / writable (contract).
        let (d, out) = unsafe { (borrow(decision).ok()?, secs_out.as_mut()?) };
        *out = Decision::new(&d.outcome, d.checker.policy()).retry_after()?;
        Some(true)
    })
}

/// Whether the decision reports the key's credits left (a key whose record carries
/// `"credits"` metadata, on a checker with limits, when they were counted: after an
/// allowed request, or 0 on a 429 `credits_exhausted`) and, if so, writes them to
/// `*remaining_out`. False (nothing written) for every other decision and for NULL
/// arguments, as `portcullis_decision_retry_after`.
///
/// # Safety
/// `decision` is NULL or live; `remaining_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_credits_remaining(
    decision: *const portcullis_decision,
    remaining_out: *mut u32,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live / writable (contract).
        let (d, out) = unsafe { (borrow(decision).ok()?, remaining_out.as_mut()?) };
        *out = Decision::new(&d.outcome, d.checker.policy()).credits_remaining()?;
        Some(true)
    })
}

/// Copies the `RateLimit-Policy` header field value of the limit the decision reports
/// (draft-ietf-httpapi-ratelimit-headers-10: `"per_key";q=100;w=1`) into `buf`, with the
/// required-length protocol of `portcullis_decision_www_authenticate`. A checker with
/// limits (`portcullis_checker_new_with_limits`) reports the limit that refused, or on an
/// allowed request the one closest to its end, on allowed and limited answers alike; the
/// value is empty (length 0) when no limit applied. Errors: `PORTCULLIS_NULL_PARAMETER`
/// (decision or len_out), `PORTCULLIS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `decision` is live; `buf` NULL or writable for `cap` bytes; `len_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_rate_limit_policy(
    decision: *const portcullis_decision,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { copy_field(decision, buf, cap, len_out, |d| d.rate_limit_policy()) }
}

/// Copies the `RateLimit` header field value of the limit the decision reports
/// (`"per_key";r=42;t=1`: `r` requests left at once, `t` seconds until the full burst
/// is back) into `buf`, as `portcullis_decision_rate_limit_policy` does; empty when no
/// limit applied. Errors as for `portcullis_decision_rate_limit_policy`.
///
/// # Safety
/// `decision` is live; `buf` NULL or writable for `cap` bytes; `len_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_rate_limit(
    decision: *const portcullis_decision,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { copy_field(decision, buf, cap, len_out, |d| d.rate_limit()) }
}

/// Copies a header field value of a decision (empty when `field` gives none) with the
/// required-length protocol.
///
/// # Safety
/// As for `portcullis_decision_rate_limit_policy`.
unsafe fn copy_field(
    decision: *const portcullis_decision,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
    field: impl FnOnce(&Decision<'_, &Outcome>) -> Option<String>,
) -> portcullis_result {
    guard(|| {
        out_ptr(len_out)?;
        // SAFETY: live (contract).
        let d = unsafe { borrow(decision) }?;
        let value = field(&Decision::new(&d.outcome, d.checker.policy())).unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&value, buf, cap, len_out) }
    })
}

/// The caller's key id (16 characters, NUL-terminated) when the key was verified (also
/// on a 403); absent otherwise.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_key_id(
    decision: *const portcullis_decision,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            d.key_id.as_ref().map_or(portcullis_str::NONE, id_str)
        })
    }
}

/// The caller's owner when the key was verified; absent otherwise.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_owner(
    decision: *const portcullis_decision,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            portcullis_str::of_opt(d.outcome.principal.as_ref().map(|p| p.record.owner()))
        })
    }
}

/// Writes a new handle to the caller's record (name, metadata, …) when the key was
/// verified. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_STORE_NOT_FOUND` (no
/// verified key in this decision).
///
/// # Safety
/// `decision` is live; `record_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_record(
    decision: *const portcullis_decision,
    record_out: *mut *mut portcullis_record,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(record_out)?;
        // SAFETY: live (contract).
        let d = unsafe { borrow(decision) }?;
        let p = d.outcome.principal.as_ref().ok_or_else(|| {
            Failure::new(
                R::PORTCULLIS_STORE_NOT_FOUND,
                "the decision has no verified key",
            )
        })?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_record::new(p.record.clone()))) };
        Ok(())
    })
}

/// The matched route's method and path template, borrowed from the checker's policy.
/// Returns false (nothing written) when no route matched or an argument is NULL.
///
/// # Safety
/// `decision` is NULL or live; the out-pointers NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_route(
    decision: *const portcullis_decision,
    method_out: *mut portcullis_str,
    path_out: *mut portcullis_str,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live / writable (contract).
        let (d, m, p) = unsafe {
            (
                borrow(decision).ok()?,
                method_out.as_mut()?,
                path_out.as_mut()?,
            )
        };
        let (method, path) = d
            .outcome
            .route
            .and_then(|i| d.checker.policy().route_info(i))?;
        *m = portcullis_str::of(method);
        *p = portcullis_str::of(path);
        Some(true)
    })
}

/// How many effective scopes the caller has (implications and wildcards expanded).
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_scopes_len(
    decision: *const portcullis_decision,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(decision, 0, |d| d.granted().len()) }
}

/// The effective scope at `index`, in catalog order; absent when out of range.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_scope(
    decision: *const portcullis_decision,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            d.names(&d.granted(), index)
        })
    }
}

/// How many scopes are missing (on a 403 for insufficient scope; else 0).
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_missing_len(
    decision: *const portcullis_decision,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(decision, 0, |d| d.outcome.missing.len()) }
}

/// The missing scope at `index`, in catalog order; absent when out of range.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_missing(
    decision: *const portcullis_decision,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            d.names(&d.outcome.missing, index)
        })
    }
}

/// On a 403, how many scopes the route's closest alternative requires (else 0).
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_required_len(
    decision: *const portcullis_decision,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(decision, 0, |d| d.outcome.required.len()) }
}

/// The required scope at `index`, in catalog order; absent when out of range.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_required(
    decision: *const portcullis_decision,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            d.names(&d.outcome.required, index)
        })
    }
}

/// How many warnings the decision carries.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_warnings_len(
    decision: *const portcullis_decision,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(decision, 0, |d| d.outcome.warnings.iter().count()) }
}

/// The warning at `index` (`rotation_due`, `expiring_soon`, `credential_in_query`,
/// `needs_rehash`, `unknown_scopes`), in a fixed order; static text; absent when out of
/// range.
///
/// # Safety
/// `decision` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_warning(
    decision: *const portcullis_decision,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(decision, portcullis_str::NONE, |d| {
            portcullis_str::of_opt(d.outcome.warnings.iter().nth(index).map(|w| w.code()))
        })
    }
}

/// Frees a decision. NULL is a no-op.
///
/// # Safety
/// `decision` is NULL or a decision not yet freed, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_decision_free(decision: *mut portcullis_decision) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(decision) }
}
