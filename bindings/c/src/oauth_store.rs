//! `portcullis_oauth_store`: where the OAuth endpoints keep clients, codes and refresh
//! tokens — the library's in-memory store, a database store (`portcullis_store`, shared
//! by every process that opens it), or the host's database behind callbacks.

use crate::ffi::{Failure, FfiResult, borrow, bytes, free_handle, guard, into_handle, out_ptr};
use crate::oauth_client::{parse_client, portcullis_oauth_client};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::store::{Backend, db_failure, portcullis_store};
use core_lib::oauth::{
    Client, ClientStore, CodeRecord, CodeStore, Consumed, MemoryOAuthStore, RefreshRecord,
    RefreshStore, Rotated, Stores, TokenHash,
};
use core_lib::{KeyId, LookupError, Timestamp};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// Where a callback hands a record back: call `portcullis_oauth_answer_set_record` on it
/// (at most once; a second call replaces the first). Valid only during the callback.
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_answer {
    json: Option<Vec<u8>>,
}

/// The host's store, as callbacks over its database. Every callback gets `user_data`
/// first and returns `PORTCULLIS_OK` (0) on success; any other value means "my database
/// failed", which the endpoint turns into `server_error` (never a crash). Pointers passed
/// to a callback are valid during the call only. Hashes are 32-byte SHA-256 digests of
/// the opaque token (store them as the key); families are 16 base62 characters; records
/// are JSON text (keep it as is). Callbacks run on the thread calling the endpoint: if
/// the store is used from several threads, they must be thread-safe. They may call
/// `portcullis_oauth_answer_set_record` but must not unwind or `longjmp` out.
///
/// Atomicity (RFC 9700): `consume_code` must mark the code used and return its record in
/// one atomic step (keep used codes until they expire, so that reuse is recognised);
/// `rotate` must be a compare-and-swap on the old token's `rotated_at` plus the insert of
/// the successor, in one transaction. The token endpoint reads a code with `code` and
/// checks client, redirect URI and PKCE verifier before calling `consume_code`, so a
/// request failing them leaves the code redeemable.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_callbacks {
    /// Passed to every callback as is.
    pub user_data: *mut c_void,
    /// Finds a client by id (`id_len` bytes, UTF-8): set its JSON (as
    /// `portcullis_oauth_client_to_json` writes it) on `answer`, or set nothing for "no
    /// such client". A client with another id counts as a failure.
    pub client: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            id_len: usize,
            answer: *mut portcullis_oauth_answer,
        ) -> u32,
    >,
    /// Stores a new code's record (`json`, `json_len` bytes) under `hash` (32 bytes).
    pub put_code: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            hash: *const u8,
            json: *const c_char,
            json_len: usize,
        ) -> u32,
    >,
    /// Atomically marks the code `hash` used and hands back its record: set the JSON on
    /// `answer` and `*already_used` to whether it was used before this call (it starts
    /// false); set nothing for an unknown code.
    pub consume_code: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            hash: *const u8,
            answer: *mut portcullis_oauth_answer,
            already_used: *mut bool,
        ) -> u32,
    >,
    /// Stores a new refresh token's record under `hash`.
    pub put_refresh: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            hash: *const u8,
            json: *const c_char,
            json_len: usize,
        ) -> u32,
    >,
    /// Finds a refresh token's record by `hash` (rotated ones included): set its JSON on
    /// `answer`, or nothing when unknown. The JSON must carry the record's current
    /// `"rotated_at"` (Unix seconds; absent while never rotated) as `rotate` last set it:
    /// keep it as a column and merge it into the stored JSON.
    pub refresh: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            hash: *const u8,
            answer: *mut portcullis_oauth_answer,
        ) -> u32,
    >,
    /// Atomically: if the record of `old_hash` exists and its `rotated_at` equals the
    /// expected value (absent when `has_expected` is false, else `expected`), set its
    /// `rotated_at` to `rotated_at` (a plain compare-and-swap: the value is the engine's
    /// choice; 0 marks a token whose one grace redemption is spent) and store the
    /// successor record (`json`) under `new_hash`; otherwise change nothing and set
    /// `*conflict` to true (it starts false).
    pub rotate: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            old_hash: *const u8,
            has_expected: bool,
            expected: u64,
            rotated_at: u64,
            new_hash: *const u8,
            json: *const c_char,
            json_len: usize,
            conflict: *mut bool,
        ) -> u32,
    >,
    /// Revokes a grant family (`family`, 16 characters): none of its refresh tokens may
    /// work again.
    pub revoke_family: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            family: *const c_char,
            family_len: usize,
            now: u64,
        ) -> u32,
    >,
    /// Sets `*revoked` (it starts false) to whether a family is revoked.
    pub is_family_revoked: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            family: *const c_char,
            family_len: usize,
            revoked: *mut bool,
        ) -> u32,
    >,
    /// Finds a code's record by `hash` (used ones included) without changing anything:
    /// set its JSON on `answer`, or nothing when unknown.
    pub code: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            hash: *const u8,
            answer: *mut portcullis_oauth_answer,
        ) -> u32,
    >,
}

/// The callback functions, all present.
struct Host {
    user_data: *mut c_void,
    client: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        usize,
        *mut portcullis_oauth_answer,
    ) -> u32,
    put_code: unsafe extern "C" fn(*mut c_void, *const u8, *const c_char, usize) -> u32,
    consume_code: unsafe extern "C" fn(
        *mut c_void,
        *const u8,
        *mut portcullis_oauth_answer,
        *mut bool,
    ) -> u32,
    put_refresh: unsafe extern "C" fn(*mut c_void, *const u8, *const c_char, usize) -> u32,
    refresh: unsafe extern "C" fn(*mut c_void, *const u8, *mut portcullis_oauth_answer) -> u32,
    #[allow(clippy::type_complexity)]
    rotate: unsafe extern "C" fn(
        *mut c_void,
        *const u8,
        bool,
        u64,
        u64,
        *const u8,
        *const c_char,
        usize,
        *mut bool,
    ) -> u32,
    revoke_family: unsafe extern "C" fn(*mut c_void, *const c_char, usize, u64) -> u32,
    is_family_revoked: unsafe extern "C" fn(*mut c_void, *const c_char, usize, *mut bool) -> u32,
    code: unsafe extern "C" fn(*mut c_void, *const u8, *mut portcullis_oauth_answer) -> u32,
}

// SAFETY: the host promises (documented on `portcullis_oauth_callbacks` and
// `portcullis_oauth_store_new_callbacks`) that its callbacks and `user_data` may be used
// from every thread that calls an endpoint with this store.
unsafe impl Send for Host {}
// SAFETY: as above; the library never touches `user_data` itself.
unsafe impl Sync for Host {}

/// An OAuth store: in memory, over a database store, or the host's callbacks.
/// Thread-safe as far as its callbacks are (the other two always are).
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_store {
    kind: Kind,
}

enum Kind {
    Memory(MemoryOAuthStore),
    Database(Arc<db_store::Store>),
    Host(Host),
}

impl portcullis_oauth_store {
    /// The store as the endpoints take it.
    pub(crate) fn stores(&self) -> Stores<'_> {
        match &self.kind {
            Kind::Memory(m) => Stores::all(m),
            Kind::Database(d) => Stores::all(&**d),
            Kind::Host(h) => Stores::all(h),
        }
    }
}

/// Creates an empty in-memory store (one lock; for tests, examples and single-process
/// servers) in `*store_out`. Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `store_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_store_new_memory(
    store_out: *mut *mut portcullis_oauth_store,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(store_out)?;
        let kind = Kind::Memory(MemoryOAuthStore::new());
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_oauth_store { kind })) };
        Ok(())
    })
}

/// Creates an OAuth store over a database store (`portcullis_store_new_from_url`) in
/// `*store_out`: clients, codes and refresh families live in that database, shared by
/// every process that opens it, and a family revoked here reaches every process's
/// attached verifier (`portcullis_store_attach`) through the change feed. The OAuth store
/// holds its own share of the database store: free the two in any order. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a memory store: use
/// `portcullis_oauth_store_new_memory`).
///
/// # Safety
/// `store` live; `store_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_store_new_from_store(
    store: *const portcullis_store,
    store_out: *mut *mut portcullis_oauth_store,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(store_out)?;
        // SAFETY: live (contract).
        let store = unsafe { borrow(store) }?;
        let Backend::Database(d) = &store.inner else {
            return Err(Failure::new(
                R::PORTCULLIS_INVALID_ARGUMENT,
                "a memory store holds no OAuth state: use portcullis_oauth_store_new_memory",
            ));
        };
        let kind = Kind::Database(d.clone());
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_oauth_store { kind })) };
        Ok(())
    })
}

/// Creates a store backed by the host's callbacks (copied; `user_data` is kept as is and
/// must outlive the store). Errors: `PORTCULLIS_NULL_PARAMETER` (`callbacks`, any
/// function pointer, `store_out`).
///
/// # Safety
/// `callbacks` readable, its functions behave as documented on
/// `portcullis_oauth_callbacks`; `store_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_store_new_callbacks(
    callbacks: *const portcullis_oauth_callbacks,
    store_out: *mut *mut portcullis_oauth_store,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(store_out)?;
        // SAFETY: readable (contract).
        let c = unsafe { borrow(callbacks) }?;
        let null = || Failure::new(R::PORTCULLIS_NULL_PARAMETER, "a store callback is NULL");
        let host = Host {
            user_data: c.user_data,
            client: c.client.ok_or_else(null)?,
            put_code: c.put_code.ok_or_else(null)?,
            consume_code: c.consume_code.ok_or_else(null)?,
            put_refresh: c.put_refresh.ok_or_else(null)?,
            refresh: c.refresh.ok_or_else(null)?,
            rotate: c.rotate.ok_or_else(null)?,
            revoke_family: c.revoke_family.ok_or_else(null)?,
            is_family_revoked: c.is_family_revoked.ok_or_else(null)?,
            code: c.code.ok_or_else(null)?,
        };
        let kind = Kind::Host(host);
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_oauth_store { kind })) };
        Ok(())
    })
}

/// Registers (or replaces) a copy of `client` in an in-memory store, or in the database
/// of a store from `portcullis_oauth_store_new_from_store` (every process sees it).
/// Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a callback store:
/// register clients in your database), `PORTCULLIS_DATABASE_*`.
///
/// # Safety
/// `store`, `client` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_store_add_client(
    store: *const portcullis_oauth_store,
    client: *const portcullis_oauth_client,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let (store, client) = unsafe { (borrow(store)?, borrow(client)?) };
        if let Kind::Database(d) = &store.kind {
            return d.put_client(&client.inner).map_err(db_failure);
        }
        memory(store)?.add_client(client.inner.clone());
        Ok(())
    })
}

/// Drops expired codes from an in-memory store (call now and then). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_ARGUMENT` (a callback or database
/// store).
///
/// # Safety
/// `store` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_store_purge_codes(
    store: *const portcullis_oauth_store,
    now: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        memory(unsafe { borrow(store) }?)?.purge_codes(Timestamp(now));
        Ok(())
    })
}

fn memory(store: &portcullis_oauth_store) -> FfiResult<&MemoryOAuthStore> {
    match &store.kind {
        Kind::Memory(m) => Ok(m),
        Kind::Database(_) | Kind::Host(_) => Err(Failure::new(
            R::PORTCULLIS_INVALID_ARGUMENT,
            "only an in-memory OAuth store holds clients itself",
        )),
    }
}

/// Frees a store (an in-memory one with everything in it; a callback store does not touch
/// `user_data`). NULL is a no-op.
///
/// # Safety
/// `store` is NULL or a store not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_store_free(store: *mut portcullis_oauth_store) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(store) }
}

/// Hands a record back from a store callback: a copy of `json` (`len` bytes, UTF-8) is
/// taken. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`. The JSON is parsed after the callback returns; if it is
/// invalid, the endpoint answers `server_error`.
///
/// # Safety
/// `answer` is the pointer the callback received, during the callback; `json` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_answer_set_record(
    answer: *mut portcullis_oauth_answer,
    json: *const c_char,
    len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live and exclusive during the callback; readable (contract).
        let (answer, json) = unsafe { (crate::ffi::borrow_mut(answer)?, bytes(json, len)?) };
        std::str::from_utf8(json).map_err(|_| Failure::from(R::PORTCULLIS_INVALID_UTF8))?;
        answer.json = Some(json.to_vec());
        Ok(())
    })
}

/// A failed host callback.
fn failed(what: &str, code: u32) -> LookupError {
    let name = R::from_u32(code).map_or("an unknown code", |r| r.texts().1.to_str().unwrap_or(""));
    LookupError::new(format!("{what} callback returned {code} ({name})"))
}

/// Parses a record a callback handed back.
fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &[u8]) -> Result<T, LookupError> {
    serde_json::from_slice(json).map_err(|e| LookupError::new(format!("{what} record JSON: {e}")))
}

fn to_json<T: serde::Serialize>(record: &T) -> Result<String, LookupError> {
    serde_json::to_string(record).map_err(|e| LookupError::new(format!("record JSON: {e}")))
}

impl Host {
    /// Runs a callback that may answer a record; `Ok(None)` when it set none.
    fn ask(
        &self,
        what: &str,
        call: impl FnOnce(*mut portcullis_oauth_answer) -> u32,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        let mut answer = portcullis_oauth_answer { json: None };
        match call(&mut answer) {
            0 => Ok(answer.json),
            code => Err(failed(what, code)),
        }
    }
}

fn done(what: &str, code: u32) -> Result<(), LookupError> {
    if code == 0 {
        Ok(())
    } else {
        Err(failed(what, code))
    }
}

impl ClientStore for Host {
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, LookupError> {
        // SAFETY: the callback's contract; `id` and `answer` live for the call.
        let json = self.ask("client", |a| unsafe {
            (self.client)(self.user_data, id.as_ptr().cast(), id.len(), a)
        })?;
        let Some(json) = json else { return Ok(None) };
        let text =
            std::str::from_utf8(&json).map_err(|_| LookupError::new("client JSON is not UTF-8"))?;
        let client =
            parse_client(text).map_err(|f| LookupError::new(f.detail.unwrap_or_default()))?;
        if client.id != id {
            return Err(LookupError::new(
                "the client callback answered another client",
            ));
        }
        Ok(Some(Arc::new(client)))
    }
}

impl CodeStore for Host {
    fn put_code(&self, hash: TokenHash, record: CodeRecord) -> Result<(), LookupError> {
        let json = to_json(&record)?;
        // SAFETY: the callback's contract; the buffers live for the call.
        let code = unsafe {
            (self.put_code)(
                self.user_data,
                hash.0.as_ptr(),
                json.as_ptr().cast(),
                json.len(),
            )
        };
        done("put_code", code)
    }

    fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, LookupError> {
        // SAFETY: the callback's contract; the buffers live for the call.
        let json = self.ask("code", |a| unsafe {
            (self.code)(self.user_data, hash.0.as_ptr(), a)
        })?;
        json.map(|j| parse("code", &j)).transpose()
    }

    fn consume_code(&self, hash: &TokenHash) -> Result<Consumed, LookupError> {
        let mut used = false;
        // SAFETY: the callback's contract; the buffers live for the call.
        let json = self.ask("consume_code", |a| unsafe {
            (self.consume_code)(self.user_data, hash.0.as_ptr(), a, &mut used)
        })?;
        Ok(match json {
            None => Consumed::Unknown,
            Some(j) if used => Consumed::Again(parse("code", &j)?),
            Some(j) => Consumed::First(parse("code", &j)?),
        })
    }
}

impl RefreshStore for Host {
    fn put_refresh(&self, hash: TokenHash, record: RefreshRecord) -> Result<(), LookupError> {
        let json = to_json(&record)?;
        // SAFETY: the callback's contract; the buffers live for the call.
        let code = unsafe {
            (self.put_refresh)(
                self.user_data,
                hash.0.as_ptr(),
                json.as_ptr().cast(),
                json.len(),
            )
        };
        done("put_refresh", code)
    }

    fn refresh(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>, LookupError> {
        // SAFETY: the callback's contract; the buffers live for the call.
        let json = self.ask("refresh", |a| unsafe {
            (self.refresh)(self.user_data, hash.0.as_ptr(), a)
        })?;
        json.map(|j| parse("refresh", &j)).transpose()
    }

    fn rotate(
        &self,
        old: &TokenHash,
        expected: Option<Timestamp>,
        rotated_at: Timestamp,
        successor: (TokenHash, RefreshRecord),
    ) -> Result<Rotated, LookupError> {
        let json = to_json(&successor.1)?;
        let mut conflict = false;
        // SAFETY: the callback's contract; the buffers live for the call.
        let code = unsafe {
            (self.rotate)(
                self.user_data,
                old.0.as_ptr(),
                expected.is_some(),
                expected.map_or(0, |t| t.0),
                rotated_at.0,
                successor.0.0.as_ptr(),
                json.as_ptr().cast(),
                json.len(),
                &mut conflict,
            )
        };
        done("rotate", code)?;
        Ok(if conflict {
            Rotated::Conflict
        } else {
            Rotated::Done
        })
    }

    fn revoke_family(&self, family: &KeyId, now: Timestamp) -> Result<(), LookupError> {
        let id = family.as_bytes();
        // SAFETY: the callback's contract; the buffer lives for the call.
        let code =
            unsafe { (self.revoke_family)(self.user_data, id.as_ptr().cast(), id.len(), now.0) };
        done("revoke_family", code)
    }

    fn is_family_revoked(&self, family: &KeyId) -> Result<bool, LookupError> {
        let (id, mut revoked) = (family.as_bytes(), false);
        // SAFETY: the callback's contract; the buffers live for the call.
        let code = unsafe {
            (self.is_family_revoked)(self.user_data, id.as_ptr().cast(), id.len(), &mut revoked)
        };
        done("is_family_revoked", code)?;
        Ok(revoked)
    }
}

/// Writes the 32-byte hash a store keeps for an opaque token — a refresh token (`rt.`),
/// an authorization code (`ac.`) or a client secret (`cs.`), i.e. its SHA-256 — to
/// `hash_out` (32 bytes), for hosts that look tokens up by hash. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_ARGUMENT`
/// (not such a token: prefix, `.`, 43 base62 characters). Thread-safe.
///
/// # Safety
/// `token` readable for `token_len` bytes; `hash_out` writable for 32 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_token_hash(
    token: *const c_char,
    token_len: usize,
    hash_out: *mut u8,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(hash_out.cast::<[u8; 32]>())?;
        // SAFETY: readable (contract).
        let token = unsafe { crate::ffi::text(token, token_len) }?;
        let hash = TokenHash::of_token(token).ok_or_else(|| {
            Failure::new(R::PORTCULLIS_INVALID_ARGUMENT, "not an opaque OAuth token")
        })?;
        // SAFETY: non-NULL and writable for 32 bytes (contract).
        unsafe { out.write(hash.0) };
        Ok(())
    })
}
