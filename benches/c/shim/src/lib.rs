//! # The Rust baseline of the C harness (bench only)
//!
//! `benches/c/bench.c` times the C ABI check of the shipped `libportcullis.a` and, in the
//! same process and the same run, the Rust `Checker::check` through this small shared
//! library, so the "C check vs Rust check" ratio of `make bench` is not spoilt by the
//! machine drifting between two processes.
//!
//! Why a separate shared library that rebuilds the Rust objects instead of reaching into
//! the C handles: the C binding crate is built only as `staticlib`/`cdylib` (no rlib), so no
//! crate can use its handle types, and a second Rust static archive linked into the same
//! program would clash with the first one's copy of `std`. This `cdylib` carries its own
//! copy of the core and exports only `portcullis_bench_*` symbols. The C program hands it
//! the same policy file, the same pepper, every record of its store (as the JSON
//! `portcullis_record_to_json` writes) and the same request, so the Rust check runs on an
//! equivalent checker and store: same routes, same ids, same hashes, same 10k records.
//!
//! The timed loop is the criterion bench `check/allowed` over a few keys in turn: each
//! `Request` built once from the C request's bytes, then
//! `check(black_box(&request), &store, now).status()` under `black_box`, `iterations` times.

use portcullis::{Checker, KeyRecord, MemoryStore, Peppers, Policy, Request, Timestamp};
use std::ffi::c_char;
use std::hint::black_box;

/// What `portcullis_bench_rust_new` builds: a checker and a store, as a Rust host has them.
#[allow(non_camel_case_types)]
pub struct portcullis_bench_rust {
    checker: Checker,
    store: MemoryStore,
}

/// The request as the C header lays it out (`struct portcullis_request`, `#[repr(C)]`;
/// the field order and types must match `include/portcullis.h`).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct portcullis_bench_request {
    /// The HTTP method (UTF-8).
    pub method: *const c_char,
    /// Length of `method`.
    pub method_len: usize,
    /// The path (UTF-8).
    pub path: *const c_char,
    /// Length of `path`.
    pub path_len: usize,
    /// The `Authorization` header value, or NULL.
    pub authorization: *const c_char,
    /// Length of `authorization`.
    pub authorization_len: usize,
    /// The query string, or NULL.
    pub query: *const c_char,
    /// Length of `query`.
    pub query_len: usize,
    /// Whether the request came over HTTPS.
    pub https: bool,
    /// The client address, or NULL (the bench leaves it NULL; kept for the layout).
    pub client: *const c_char,
    /// Length of `client`.
    pub client_len: usize,
}

/// Result codes of the shim (its own, not `portcullis_result`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum portcullis_bench_result {
    /// Success.
    PORTCULLIS_BENCH_OK = 0,
    /// A required pointer was NULL.
    PORTCULLIS_BENCH_NULL = 1,
    /// A text argument was not UTF-8.
    PORTCULLIS_BENCH_UTF8 = 2,
    /// The policy file could not be read.
    PORTCULLIS_BENCH_IO = 3,
    /// The policy did not load.
    PORTCULLIS_BENCH_POLICY = 4,
    /// The pepper was refused (too short, bad id).
    PORTCULLIS_BENCH_PEPPER = 5,
    /// The record JSON did not parse.
    PORTCULLIS_BENCH_RECORD = 6,
    /// The store refused the record (duplicate id).
    PORTCULLIS_BENCH_STORE = 7,
}

use portcullis_bench_result as R;

/// Borrows `len` bytes at `ptr` (NULL gives `None`; an empty slice needs no pointer).
///
/// # Safety
/// A non-NULL `ptr` is readable for `len` bytes that stay unchanged for `'a`.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and readable for `len` bytes for 'a (caller's contract).
    Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Borrows UTF-8 text at `ptr`.
///
/// # Safety
/// As for [`bytes`].
unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, R> {
    // SAFETY: forwarded contract.
    let raw = unsafe { bytes(ptr, len) }.ok_or(R::PORTCULLIS_BENCH_NULL)?;
    std::str::from_utf8(raw).map_err(|_| R::PORTCULLIS_BENCH_UTF8)
}

/// Builds a checker from the policy file at `policy_path` and one pepper, and an empty
/// store, into `*out` (free it with `portcullis_bench_rust_free`).
///
/// # Safety
/// `policy_path`, `pepper_id` and `pepper` are readable for their lengths; `out` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_bench_rust_new(
    policy_path: *const c_char,
    policy_path_len: usize,
    pepper_id: *const c_char,
    pepper_id_len: usize,
    pepper: *const u8,
    pepper_len: usize,
    out: *mut *mut portcullis_bench_rust,
) -> portcullis_bench_result {
    // SAFETY: readable for their lengths (contract).
    let args = unsafe {
        (
            text(policy_path, policy_path_len),
            text(pepper_id, pepper_id_len),
            bytes(pepper.cast(), pepper_len),
        )
    };
    let built = match args {
        (Ok(path), Ok(id), Some(secret)) => build(path, id, secret),
        (Err(e), _, _) | (_, Err(e), _) => Err(e),
        (_, _, None) => Err(R::PORTCULLIS_BENCH_NULL),
    };
    match (built, out.is_null()) {
        (_, true) => R::PORTCULLIS_BENCH_NULL,
        (Err(e), false) => e,
        (Ok(made), false) => {
            // SAFETY: non-NULL and writable (contract).
            unsafe { out.write(Box::into_raw(Box::new(made))) };
            R::PORTCULLIS_BENCH_OK
        }
    }
}

/// Loads the policy and the pepper into a checker beside an empty store.
fn build(path: &str, pepper_id: &str, pepper: &[u8]) -> Result<portcullis_bench_rust, R> {
    let toml = std::fs::read_to_string(path).map_err(|_| R::PORTCULLIS_BENCH_IO)?;
    let policy = Policy::from_toml(&toml).map_err(|_| R::PORTCULLIS_BENCH_POLICY)?;
    let peppers = Peppers::new(pepper_id, pepper).map_err(|_| R::PORTCULLIS_BENCH_PEPPER)?;
    Ok(portcullis_bench_rust {
        checker: Checker::new(policy, peppers),
        store: MemoryStore::new(),
    })
}

/// Adds the record whose JSON form (`portcullis_record_to_json`) is `json` to the store.
///
/// # Safety
/// `bench` is NULL or from `portcullis_bench_rust_new`, not freed; `json` is readable for
/// `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_bench_rust_insert(
    bench: *const portcullis_bench_rust,
    json: *const c_char,
    len: usize,
) -> portcullis_bench_result {
    // SAFETY: NULL or live (contract).
    let Some(bench) = (unsafe { bench.as_ref() }) else {
        return R::PORTCULLIS_BENCH_NULL;
    };
    // SAFETY: readable for `len` bytes (contract).
    let json = match unsafe { text(json, len) } {
        Ok(json) => json,
        Err(e) => return e,
    };
    match KeyRecord::from_json(json) {
        Err(_) => R::PORTCULLIS_BENCH_RECORD,
        Ok(record) => match bench.store.insert(record) {
            Ok(()) => R::PORTCULLIS_BENCH_OK,
            Err(_) => R::PORTCULLIS_BENCH_STORE,
        },
    }
}

/// Runs the Rust check of the `count` requests at `requests` in turn, `iterations` checks
/// in all (each status through `black_box`), and returns the last status; 0 when an
/// argument is NULL, `count` is 0 or not a power of two, a method or path is not UTF-8, or
/// `iterations` is 0.
///
/// # Safety
/// `bench` is NULL or from `portcullis_bench_rust_new`, not freed; `requests` is NULL or
/// `count` requests whose pointers are readable for their lengths during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_bench_rust_check(
    bench: *const portcullis_bench_rust,
    requests: *const portcullis_bench_request,
    count: usize,
    now: u64,
    iterations: u64,
) -> u32 {
    if requests.is_null() || !count.is_power_of_two() {
        return 0;
    }
    // SAFETY: NULL or live (contract).
    let Some(bench) = (unsafe { bench.as_ref() }) else {
        return 0;
    };
    // SAFETY: non-NULL, `count` requests (contract).
    let raw = unsafe { std::slice::from_raw_parts(requests, count) };
    // SAFETY: each request's pointers are readable for their lengths (contract).
    let Some(converted) = raw
        .iter()
        .map(|r| unsafe { request(r) })
        .collect::<Option<Vec<_>>>()
    else {
        return 0;
    };
    let mask = count - 1;
    let mut status = 0;
    for i in 0..iterations {
        // `i & mask` < count: the index is in range (the C loop indexes the same way).
        let request = &converted[i as usize & mask];
        status = black_box(
            bench
                .checker
                .check(black_box(request), &bench.store, Timestamp(now))
                .status(),
        );
    }
    u32::from(status)
}

/// A `Request` borrowing the C request's bytes; `None` for a NULL or non-UTF-8 method or path.
///
/// # Safety
/// The request's pointers are readable for their lengths while the result is used.
unsafe fn request<'a>(r: &portcullis_bench_request) -> Option<Request<'a>> {
    // SAFETY: readable for their lengths (contract).
    unsafe {
        Some(Request {
            method: text(r.method, r.method_len).ok()?,
            path: text(r.path, r.path_len).ok()?,
            authorization: bytes(r.authorization, r.authorization_len),
            query: bytes(r.query, r.query_len),
            https: r.https,
            client: None,
        })
    }
}

/// Frees what `portcullis_bench_rust_new` made; NULL is a no-op.
///
/// # Safety
/// `bench` is NULL or from `portcullis_bench_rust_new`, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_bench_rust_free(bench: *mut portcullis_bench_rust) {
    if !bench.is_null() {
        // SAFETY: made by Box::into_raw in portcullis_bench_rust_new, freed once (contract).
        drop(unsafe { Box::from_raw(bench) });
    }
}
