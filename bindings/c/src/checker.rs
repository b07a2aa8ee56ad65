//! `portcullis_checker`: policy + peppers → decisions, in one call or in two phases.

use crate::decision::portcullis_decision;
use crate::ffi::{
    Failure, FfiResult, borrow, borrow_mut, bytes, free_handle, guard, hot_guard, into_handle,
    optional_bytes, optional_text, out_ptr, take_handle, text,
};
use crate::peppers::portcullis_peppers;
use crate::policy::portcullis_policy;
use crate::record::{id_str, id_text, portcullis_record};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::store::portcullis_store;
use crate::text::{owned_string, portcullis_str};
use crate::usage::client_addr;
use core_lib::{
    Checker, KeyId, KeyRecord, LookupError, Outcome, Pending, Prepared, Principal, Request,
    ScopeSet, StoredHash, Timestamp,
};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// Turns requests into decisions under one policy and one pepper set; also parses,
/// verifies, hashes, issues and rotates keys. Immutable: share one checker between any
/// number of threads (every function taking a `const portcullis_checker *` is
/// thread-safe). Decisions and pending checks keep it alive, so it may be freed before
/// them.
#[allow(non_camel_case_types)]
pub struct portcullis_checker {
    pub(crate) inner: Arc<Checker>,
}

/// The parts of an HTTP request a decision depends on. Strings are (pointer, length)
/// pairs, read during the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_request {
    /// The HTTP method as sent (`GET`; case-sensitive). Required, UTF-8.
    pub method: *const c_char,
    /// Length of `method` in bytes.
    pub method_len: usize,
    /// The raw path as received on the request line, before your router decodes or
    /// normalises it, without the query string. Required, UTF-8. Ambiguous paths (`..`,
    /// `%2F`, `//`, …) are refused: 400, reason `ambiguous_path`.
    pub path: *const c_char,
    /// Length of `path` in bytes.
    pub path_len: usize,
    /// The raw `Authorization` header value (any bytes), or NULL when the request has none.
    pub authorization: *const c_char,
    /// Length of `authorization` in bytes.
    pub authorization_len: usize,
    /// The raw query string without `?` (any bytes), or NULL when there is none.
    pub query: *const c_char,
    /// Length of `query` in bytes.
    pub query_len: usize,
    /// Whether the request arrived over HTTPS (as your TLS terminator reports it). The zero
    /// value, false, is refused (400 `insecure_transport`) when the policy requires HTTPS,
    /// so a forgotten field fails loudly.
    pub https: bool,
    /// The client's IP address as text, without a port (`203.0.113.5`, `2001:db8::1`;
    /// UTF-8), for the usage recorder's new-network rule
    /// (`portcullis_checker_new_with_usage`); NULL when unknown, which the zero value of a
    /// zero-initialised request means. Pass the peer address, or the client address your
    /// trusted proxy reports. Not an IP address: `PORTCULLIS_INVALID_ARGUMENT`.
    pub client: *const c_char,
    /// Length of `client` in bytes.
    pub client_len: usize,
}

/// The fields of a parsed key, each NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_parsed_key {
    /// The kind (`sk`).
    pub kind: [c_char; 9],
    /// The environment (`live`).
    pub env: [c_char; 9],
    /// The key id (16 base62 characters): the lookup key, safe to log.
    pub id: [c_char; 17],
    /// A form safe to log and show: `sk_live_<id>_…` (UTF-8).
    pub display: [c_char; 48],
}

/// The host's record lookup for `portcullis_checker_check`. Called at most once per
/// check, on the calling thread, with the key id to fetch (16 characters,
/// NUL-terminated, valid during the call). To answer, write a record you own to
/// `*record_out` (the library takes it over and frees it; use `portcullis_record_clone`
/// for cached records) or leave it NULL for "no such key", and return `PORTCULLIS_OK`.
/// Return any other code (e.g. `PORTCULLIS_LOOKUP_FAILED`) when your database fails: the
/// check then answers 503 `lookup_failed` (fail closed); a record written anyway is freed.
/// The callback may call into the library (e.g. `portcullis_record_new_from_json`,
/// `portcullis_store_get`) but must not throw C++ exceptions or `longjmp` out.
#[allow(non_camel_case_types)]
pub type portcullis_lookup_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        key_id: *const c_char,
        key_id_len: usize,
        record_out: *mut *mut portcullis_record,
    ) -> u32,
>;

/// A check waiting for its record (two-phase API). Owns a zeroized-on-free copy of the
/// presented key and keeps its checker alive. Finish it exactly once (that frees it), or
/// free it. It is always finished by the checker that prepared it, so a policy reload
/// between the phases (a new checker) does not apply to it: the decision is the preparing
/// checker's. Not for use by two threads at once; may move between threads.
#[allow(non_camel_case_types)]
pub struct portcullis_pending {
    checker: Arc<Checker>,
    pending: Pending,
    id: [u8; 17],
}

/// Decodes a request. Always inlined: on the check hot path a call here (and to `text`)
/// cost more than the decoding itself.
///
/// # Safety
/// The request's pointers are readable for their lengths.
#[inline(always)]
unsafe fn request<'a>(r: &portcullis_request) -> FfiResult<Request<'a>> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok(Request {
            method: text(r.method, r.method_len)?,
            path: text(r.path, r.path_len)?,
            authorization: optional_bytes(r.authorization, r.authorization_len)?,
            query: optional_bytes(r.query, r.query_len)?,
            https: r.https,
            client: client_addr(r.client, r.client_len)?,
        })
    }
}

/// Makes a checker from a policy and a pepper set (both copied: free them when you like).
/// Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `policy` and `peppers` are live; `checker_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_new(
    policy: *const portcullis_policy,
    peppers: *const portcullis_peppers,
    checker_out: *mut *mut portcullis_checker,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(checker_out)?;
        // SAFETY: live (contract).
        let (policy, peppers) = unsafe { (borrow(policy)?, borrow(peppers)?) };
        let checker = Checker::new(policy.policy.clone(), peppers.build()?);
        let handle = portcullis_checker {
            inner: Arc::new(checker),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Decides a request in one call, fetching the record through `lookup(user_data, …)`.
/// The decision (also for denials: that is data, not an error) goes to `*decision_out`.
/// Errors: `PORTCULLIS_NULL_PARAMETER` (checker, request, its method or path, lookup,
/// decision_out), `PORTCULLIS_INVALID_UTF8` (method, path or client),
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_INVALID_ARGUMENT` (a client that is not an IP
/// address).
///
/// # Safety
/// `checker`, `request` live; `lookup` behaves as documented; `decision_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_check(
    checker: *const portcullis_checker,
    request: *const portcullis_request,
    lookup: portcullis_lookup_callback,
    user_data: *mut c_void,
    now: u64,
    decision_out: *mut *mut portcullis_decision,
) -> portcullis_result {
    hot_guard(|| {
        let out = out_ptr(decision_out)?;
        // SAFETY: live / readable (contract).
        let (checker, request) = unsafe { (borrow(checker)?, self::request(borrow(request)?)?) };
        let callback = lookup.ok_or_else(|| Failure::from(R::PORTCULLIS_NULL_PARAMETER))?;
        let fetch = |id: &KeyId| call_lookup(callback, user_data, id);
        let decision = checker.inner.check(&request, &fetch, Timestamp(now));
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(portcullis_decision::handle(&checker.inner, decision)) };
        Ok(())
    })
}

/// Runs the host's callback for one key id.
fn call_lookup(
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        usize,
        *mut *mut portcullis_record,
    ) -> u32,
    user_data: *mut c_void,
    id: &KeyId,
) -> Result<Option<Arc<KeyRecord>>, LookupError> {
    let id = id_text(*id);
    let mut out: *mut portcullis_record = std::ptr::null_mut();
    // SAFETY: the host promised a callback of this signature; the id buffer lives for the
    // call and `out` is a valid place for it to write a record pointer.
    let code = unsafe { callback(user_data, id.as_ptr().cast(), 16, &mut out) };
    // SAFETY: a non-NULL `out` is a record handle the host hands over (callback contract).
    let record = unsafe { take_handle(out) }.map(|r| r.inner);
    if code == R::PORTCULLIS_OK as u32 {
        Ok(record)
    } else {
        let name = crate::result::portcullis_result::from_u32(code)
            .map_or("an unknown code", |r| r.texts().1.to_str().unwrap_or(""));
        Err(LookupError::new(format!(
            "lookup callback returned {code} ({name})"
        )))
    }
}

/// Decides a request in one call, with records from a `portcullis_store`. Errors as for
/// `portcullis_checker_check` (the store replaces the callback).
///
/// # Safety
/// `checker`, `request`, `store` live; `decision_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_check_store(
    checker: *const portcullis_checker,
    request: *const portcullis_request,
    store: *const portcullis_store,
    now: u64,
    decision_out: *mut *mut portcullis_decision,
) -> portcullis_result {
    hot_guard(|| {
        let out = out_ptr(decision_out)?;
        // SAFETY: live / readable (contract).
        let (checker, request, store) = unsafe {
            (
                borrow(checker)?,
                self::request(borrow(request)?)?,
                borrow(store)?,
            )
        };
        let decision = checker.inner.check(&request, &store.inner, Timestamp(now));
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(portcullis_decision::handle(&checker.inner, decision)) };
        Ok(())
    })
}

/// Decides a request like `portcullis_checker_check_store`, writing the decision into
/// `decision`, a handle from an earlier check, instead of allocating a new one: the way to
/// check on a hot path (one handle per thread, freed once at the end). The handle's
/// previous contents are replaced, so strings read from it before this call are no longer
/// valid; it must not be read by another thread during the call. On error `decision` is
/// left unchanged. Errors as for `portcullis_checker_check_store`.
///
/// # Safety
/// `checker`, `request`, `store` live; `decision` a live decision not used by another
/// thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_check_store_into(
    checker: *const portcullis_checker,
    request: *const portcullis_request,
    store: *const portcullis_store,
    now: u64,
    decision: *mut portcullis_decision,
) -> portcullis_result {
    hot_guard(|| {
        // SAFETY: live / readable, and the decision exclusively ours (contract).
        let (checker, request, store, target) = unsafe {
            (
                borrow(checker)?,
                self::request(borrow(request)?)?,
                borrow(store)?,
                borrow_mut(decision)?,
            )
        };
        let decision = checker.inner.check(&request, &store.inner, Timestamp(now));
        target.refill(&checker.inner, decision);
        Ok(())
    })
}

/// Phase one of a two-phase check: everything that needs no record. On success exactly
/// one of `*decision_out` (decided already: public route, missing or malformed
/// credential, …) and `*pending_out` (fetch the record of `portcullis_pending_key_id`,
/// then `portcullis_pending_finish`) is non-NULL; the other is set to NULL. An OAuth
/// access token (`Bearer at.…`, with `portcullis_checker_new_with_access_tokens`) cannot be
/// decided without the time: this call refuses it (401, reason
/// `access_token_time_required`); use `portcullis_checker_prepare_at`.
/// Errors as for `portcullis_checker_check`.
///
/// # Safety
/// `checker`, `request` live; both out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_prepare(
    checker: *const portcullis_checker,
    request: *const portcullis_request,
    decision_out: *mut *mut portcullis_decision,
    pending_out: *mut *mut portcullis_pending,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { prepare_body(checker, request, None, decision_out, pending_out) }
}

/// Phase one given the time `now`: as `portcullis_checker_prepare`, but OAuth access
/// tokens are decided here (they need no record: `*decision_out` is set). Errors as for
/// `portcullis_checker_check`.
///
/// # Safety
/// `checker`, `request` live; both out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_prepare_at(
    checker: *const portcullis_checker,
    request: *const portcullis_request,
    now: u64,
    decision_out: *mut *mut portcullis_decision,
    pending_out: *mut *mut portcullis_pending,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        prepare_body(
            checker,
            request,
            Some(Timestamp(now)),
            decision_out,
            pending_out,
        )
    }
}

/// Shared body of the two phase-one calls.
///
/// # Safety
/// As for `portcullis_checker_prepare`.
unsafe fn prepare_body(
    checker: *const portcullis_checker,
    request: *const portcullis_request,
    now: Option<Timestamp>,
    decision_out: *mut *mut portcullis_decision,
    pending_out: *mut *mut portcullis_pending,
) -> portcullis_result {
    guard(|| {
        let (dout, pout) = (out_ptr(decision_out)?, out_ptr(pending_out)?);
        // SAFETY: live / readable (contract).
        let (checker, request) = unsafe { (borrow(checker)?, self::request(borrow(request)?)?) };
        let prepared = match now {
            Some(now) => checker.inner.prepare_at(&request, now),
            None => checker.inner.prepare(&request),
        };
        let (d, p) = match prepared {
            Prepared::Done(decision) => (
                portcullis_decision::handle(&checker.inner, decision),
                std::ptr::null_mut(),
            ),
            Prepared::Lookup(pending) => (
                std::ptr::null_mut(),
                into_handle(portcullis_pending {
                    checker: checker.inner.clone(),
                    id: id_text(pending.key_id()),
                    pending,
                }),
            ),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe {
            dout.write(d);
            pout.write(p);
        }
        Ok(())
    })
}

/// The key id to fetch (16 characters, NUL-terminated), borrowed from the pending check;
/// absent for NULL.
///
/// # Safety
/// `pending` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_pending_key_id(
    pending: *const portcullis_pending,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe { crate::ffi::read(pending, portcullis_str::NONE, |p| id_str(&p.id)) }
}

/// Phase two: the decision, given the record you fetched (NULL when no record has that
/// id). Always takes ownership of `pending` and `record` (both freed by this call, also on
/// error). Errors: `PORTCULLIS_NULL_PARAMETER` (pending, decision_out).
///
/// # Safety
/// `pending` is a live pending check; `record` NULL or a live record handle, neither used
/// afterwards; `decision_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_pending_finish(
    pending: *mut portcullis_pending,
    record: *mut portcullis_record,
    now: u64,
    decision_out: *mut *mut portcullis_decision,
) -> portcullis_result {
    // SAFETY: both handed over (contract).
    let (pending, record) = unsafe { (take_handle(pending), take_handle(record)) };
    guard(move || {
        let out = out_ptr(decision_out)?;
        let p = pending.ok_or_else(|| Failure::from(R::PORTCULLIS_NULL_PARAMETER))?;
        let record = record.map(|r| r.inner);
        // A clone is finished and the handle dropped in place, which wipes its key: moving
        // the pending out would leave the key in the freed handle.
        let decision = p.checker.finish(p.pending.clone(), record, Timestamp(now));
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(portcullis_decision::handle(&p.checker, decision)) };
        Ok(())
    })
}

/// Phase two when your lookup failed: a 503 `lookup_failed` decision (fail closed).
/// `message` (`message_len` bytes, UTF-8, no secrets; NULL for none) is kept for your
/// logs. Always takes ownership of `pending`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`.
///
/// # Safety
/// `pending` is a live pending check, not used afterwards; `message` NULL or readable;
/// `decision_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_pending_finish_failed(
    pending: *mut portcullis_pending,
    message: *const c_char,
    message_len: usize,
    decision_out: *mut *mut portcullis_decision,
) -> portcullis_result {
    // SAFETY: handed over (contract).
    let pending = unsafe { take_handle(pending) };
    guard(move || {
        let out = out_ptr(decision_out)?;
        let p = pending.ok_or_else(|| Failure::from(R::PORTCULLIS_NULL_PARAMETER))?;
        // SAFETY: NULL or readable (contract).
        let message = unsafe { optional_text(message, message_len) }?.unwrap_or("lookup failed");
        let decision = p
            .checker
            .finish_failed(p.pending.clone(), LookupError::new(message)); // as in `_finish`
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(portcullis_decision::handle(&p.checker, decision)) };
        Ok(())
    })
}

/// Frees a pending check without finishing it. NULL is a no-op.
///
/// # Safety
/// `pending` is NULL or a pending check not yet freed or finished.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_pending_free(pending: *mut portcullis_pending) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(pending) }
}

/// Verifies a presented key (`key_len` bytes) against a record, with no route or
/// transport rules: parse, deployment environment (as `portcullis_checker_check`: a key of
/// another environment is `wrong_environment`), secret (constant time), lifecycle at
/// `now`. The result is a decision: status 200 and reason `allowed` with the key id, owner
/// and effective scopes when valid; otherwise status 401 with the reason (`wrong_secret`,
/// `revoked`, `wrong_environment`, `malformed_key` with its detail, …). Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_LENGTH`.
///
/// # Safety
/// `checker`, `record` live; `key` readable for `key_len` bytes; `decision_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_verify(
    checker: *const portcullis_checker,
    key: *const c_char,
    key_len: usize,
    record: *const portcullis_record,
    now: u64,
    decision_out: *mut *mut portcullis_decision,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(decision_out)?;
        // SAFETY: live / readable (contract).
        let (checker, key, record) =
            unsafe { (borrow(checker)?, bytes(key, key_len)?, borrow(record)?) };
        let v = checker.inner.verify(key, &record.inner, Timestamp(now));
        let principal = v.is_valid().then(|| Principal {
            record: record.inner.clone(),
            granted: v.granted,
        });
        let outcome = Outcome {
            reason: v.reason,
            principal,
            route: None,
            missing: ScopeSet::EMPTY,
            required: ScopeSet::EMPTY,
            warnings: v.warnings,
            lookup_error: None,
            limit: None,
            credits: None,
        };
        let handle = into_handle(portcullis_decision::new(checker.inner.clone(), outcome));
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Copies a label into a fixed, NUL-terminated field.
fn fill<const N: usize>(field: &mut [c_char; N], text: &str) {
    for (dst, src) in field.iter_mut().zip(text.bytes().take(N - 1)) {
        *dst = src as c_char;
    }
}

/// Parses a presented key with the policy's kinds and environments, offline (checksum
/// included). On success fills `*key_out`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_KEY_SHAPE`, `PORTCULLIS_KEY_UNKNOWN_KIND`,
/// `PORTCULLIS_KEY_UNKNOWN_ENV`, `PORTCULLIS_KEY_LENGTH`, `PORTCULLIS_KEY_CHARACTER` (the
/// detail names the position), `PORTCULLIS_KEY_CHECKSUM`. Any bytes may be passed.
///
/// # Safety
/// `checker` live; `key` readable for `key_len` bytes; `key_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_parse(
    checker: *const portcullis_checker,
    key: *const c_char,
    key_len: usize,
    key_out: *mut portcullis_parsed_key,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(key_out)?;
        // SAFETY: live / readable (contract).
        let (checker, key) = unsafe { (borrow(checker)?, bytes(key, key_len)?) };
        let parsed = checker
            .inner
            .parse(key)
            .map_err(|e| Failure::new(R::from(e), e.to_string()))?;
        let mut result = portcullis_parsed_key {
            kind: [0; 9],
            env: [0; 9],
            id: [0; 17],
            display: [0; 48],
        };
        fill(&mut result.kind, parsed.kind());
        fill(&mut result.env, parsed.env());
        fill(&mut result.id, parsed.id().as_str());
        fill(&mut result.display, &parsed.display().to_string());
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(result) };
        Ok(())
    })
}

/// Writes the record hash of a key under the primary pepper
/// (`hmac-sha256$<pepper>$<digest>`) to `*hash_out` (library-owned, NUL-terminated: free
/// with `portcullis_string_free`) and its length to `*len_out` (may be NULL). For
/// importing keys made elsewhere. Errors: as for `portcullis_checker_parse`.
///
/// # Safety
/// `checker` live; `key` readable for `key_len` bytes; `hash_out` writable; `len_out`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_hash_key(
    checker: *const portcullis_checker,
    key: *const c_char,
    key_len: usize,
    hash_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(hash_out)?;
        // SAFETY: live / readable (contract).
        let (checker, key) = unsafe { (borrow(checker)?, bytes(key, key_len)?) };
        let hash = checker
            .inner
            .hash_key(key)
            .map_err(|e| Failure::new(R::from(e), e.to_string()))?;
        // SAFETY: forwarded contract.
        unsafe { write_owned(out, len_out, hash) }
    })
}

/// Writes the legacy plain SHA-256 hash string (`sha256$<digest>`) of a whole key text,
/// for importing keys whose old system stored unpeppered SHA-256 (such records verify and
/// get a `needs_rehash` warning). Output as for `portcullis_checker_hash_key`. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`.
///
/// # Safety
/// `key` readable for `key_len` bytes; `hash_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_legacy_sha256_hash(
    key: *const c_char,
    key_len: usize,
    hash_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(hash_out)?;
        // SAFETY: readable (contract).
        let key = unsafe { text(key, key_len) }?;
        // SAFETY: forwarded contract.
        unsafe { write_owned(out, len_out, StoredHash::legacy_sha256(key).encode()) }
    })
}

/// Writes a library-owned string and, if wanted, its length.
///
/// # Safety
/// `out` writable; `len_out` NULL or writable.
pub(crate) unsafe fn write_owned(
    out: crate::ffi::OutPtr<*mut c_char>,
    len_out: *mut usize,
    text: String,
) -> FfiResult<()> {
    let (ptr, len) = owned_string(text)?;
    // SAFETY: forwarded contract.
    unsafe {
        out.write(ptr);
        if let Some(l) = len_out.as_mut() {
            *l = len;
        }
    }
    Ok(())
}

/// Frees a checker. NULL is a no-op. Decisions and pending checks made by it stay valid.
///
/// # Safety
/// `checker` is NULL or a checker not yet freed, no longer used by any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_free(checker: *mut portcullis_checker) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(checker) }
}

/// The pending handle's copy of the presented key, observed through the allocator: while
/// armed, every heap block freed by any thread is scanned for the key's secret.
#[cfg(test)]
mod wipe_tests {
    use super::*;
    use crate::decision::portcullis_decision_free;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

    struct Scanning;

    const MAX_NEEDLE: usize = 64;
    static ARMED: AtomicBool = AtomicBool::new(false);
    static FOUND: AtomicBool = AtomicBool::new(false);
    static NEEDLE: [AtomicU8; MAX_NEEDLE] = [const { AtomicU8::new(0) }; MAX_NEEDLE];
    static NEEDLE_LEN: AtomicUsize = AtomicUsize::new(0);
    static SCAN: Mutex<()> = Mutex::new(());

    /// Lock-free and allocation-free, so that no freed block is ever skipped.
    fn scan(block: &[u8]) {
        let len = NEEDLE_LEN.load(Ordering::SeqCst);
        if len == 0 || block.len() < len {
            return;
        }
        let mut needle = [0u8; MAX_NEEDLE];
        for (b, a) in needle.iter_mut().zip(&NEEDLE[..len]) {
            *b = a.load(Ordering::Relaxed);
        }
        if block.windows(len).any(|w| w == &needle[..len]) {
            FOUND.store(true, Ordering::SeqCst);
        }
    }

    // SAFETY: forwards every call to the system allocator unchanged; before a block is
    // freed it only reads the block's own `layout.size()` bytes, which are still allocated.
    unsafe impl GlobalAlloc for Scanning {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if ARMED.load(Ordering::SeqCst) {
                // SAFETY: `ptr` is a live block of `layout.size()` bytes until freed below.
                scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
            }
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if ARMED.load(Ordering::SeqCst) {
                // SAFETY: as in `dealloc`; realloc may free the old block.
                scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
            }
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Scanning = Scanning;

    /// Whether any heap block freed while `f` ran contained `needle`.
    fn freed_blocks_contain(needle: &[u8], f: impl FnOnce()) -> bool {
        assert!(!needle.is_empty() && needle.len() <= MAX_NEEDLE);
        let _one_at_a_time = SCAN.lock().unwrap_or_else(|e| e.into_inner());
        for (a, &b) in NEEDLE.iter().zip(needle) {
            a.store(b, Ordering::Relaxed);
        }
        NEEDLE_LEN.store(needle.len(), Ordering::SeqCst);
        FOUND.store(false, Ordering::SeqCst);
        ARMED.store(true, Ordering::SeqCst);
        f();
        ARMED.store(false, Ordering::SeqCst);
        NEEDLE_LEN.store(0, Ordering::SeqCst);
        FOUND.load(Ordering::SeqCst)
    }

    const POLICY: &str = r#"
[service]
deployment_env = "live"
[[scopes]]
name = "claims:read"
[[routes]]
method = "GET"
path = "/v1/claims"
require = "claims:read"
"#;

    /// A checker, a key it issued (text) and the key's secret (its 28 characters before
    /// the 6-character checksum).
    fn world() -> (Arc<Checker>, String, Vec<u8>) {
        let policy = core_lib::Policy::from_toml(POLICY).expect("policy");
        let peppers = core_lib::Peppers::new("p1", &[42u8; 32]).expect("pepper");
        let checker = Arc::new(Checker::new(policy, peppers));
        let issued = checker
            .issue(
                &core_lib::KeySpec::new("k", "o", ["claims:read"]),
                Timestamp(1_800_000_000),
            )
            .expect("issue");
        let key = issued.key.expose().to_owned();
        let secret = key.as_bytes()[key.len() - 34..key.len() - 6].to_vec();
        (checker, key, secret)
    }

    /// A pending handle for `key`, as `portcullis_checker_prepare` makes it.
    fn pending_handle(checker: &Arc<Checker>, key: &str) -> *mut portcullis_pending {
        let header = format!("Bearer {key}");
        let request = Request::new("GET", "/v1/claims")
            .authorization(&header)
            .https(true);
        let Prepared::Lookup(pending) = checker.prepare(&request) else {
            panic!("a well-formed key needs a lookup");
        };
        into_handle(portcullis_pending {
            checker: Arc::clone(checker),
            id: id_text(pending.key_id()),
            pending,
        })
    }

    /// Regression (issue #15): `portcullis_pending_finish` and `_finish_failed` moved the
    /// presented key out of the handle and freed the handle with the key still in it.
    #[test]
    fn finishing_a_pending_handle_frees_no_copy_of_the_presented_key() {
        let (checker, key, secret) = world();
        for failed in [false, true] {
            let pending = pending_handle(&checker, &key);
            let leaked = freed_blocks_contain(&secret, || {
                let mut decision = std::ptr::null_mut();
                // SAFETY: a live handle, handed over; `decision` writable.
                let code = unsafe {
                    if failed {
                        portcullis_pending_finish_failed(
                            pending,
                            std::ptr::null(),
                            0,
                            &mut decision,
                        )
                    } else {
                        portcullis_pending_finish(
                            pending,
                            std::ptr::null_mut(),
                            1_800_000_000,
                            &mut decision,
                        )
                    }
                };
                assert_eq!(code, R::PORTCULLIS_OK);
                // SAFETY: made by the call above.
                unsafe { portcullis_decision_free(decision) };
            });
            assert!(!leaked, "finish (failed: {failed}) freed a copy of the key");
        }
        let pending = pending_handle(&checker, &key);
        // SAFETY: a live handle, handed over.
        let leaked = freed_blocks_contain(&secret, || unsafe { portcullis_pending_free(pending) });
        assert!(!leaked, "portcullis_pending_free freed a copy of the key");
    }
}
