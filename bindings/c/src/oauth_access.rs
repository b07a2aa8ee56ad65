//! OAuth access tokens: `portcullis_access_keys` (the signing keys),
//! `portcullis_access_verifier` (keys + revocations, shared with checkers and servers),
//! `portcullis_access_claims` (what a token carries) and a checker that accepts them.

use crate::checker::portcullis_checker;
use crate::ffi::{
    Failure, FfiResult, array, borrow, borrow_mut, bytes, free_handle, guard, guard_value,
    into_handle, out_ptr, read, text,
};
use crate::peppers::portcullis_peppers;
use crate::policy::portcullis_policy;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::oauth::{AccessClaims, AccessKeyError, AccessKeys, AccessVerifier};
use core_lib::scope::CatalogMismatch;
use core_lib::{Catalog, Checker, KeyId, ScopeSet, Timestamp};
use std::ffi::c_char;
use std::sync::Arc;

/// The HMAC keys that sign access tokens (secrets of at least 32 bytes, each under a key
/// id of 1-32 characters `[A-Za-z0-9-]`); the primary one signs, all of them verify.
/// Secrets are zeroized when the set is freed and never printed. Not thread-safe while
/// being changed (`_add`, `_set_primary`, `_remove`); reading it from several threads at
/// once is safe. Verifiers keep their own copy.
#[allow(non_camel_case_types)]
pub struct portcullis_access_keys {
    inner: AccessKeys,
}

/// Verifies access tokens with no storage lookup, and holds the revocation set (revoked
/// grant families, a revocation epoch) that servers push into and checkers consult.
/// Thread-safe: every function may be called from any number of threads at once. Servers
/// and checkers made with it share it (and keep it alive), so a family revoked through
/// any of them is refused by all.
#[allow(non_camel_case_types)]
pub struct portcullis_access_verifier {
    pub(crate) inner: Arc<AccessVerifier>,
    pub(crate) catalog: Catalog,
}

/// The claims of an access token (subject, client, scopes, times, token id, family).
/// Immutable: safe to read from several threads at once. Strings it returns borrow from
/// it and stay valid until `portcullis_access_claims_free`.
#[allow(non_camel_case_types)]
pub struct portcullis_access_claims {
    inner: AccessClaims,
    catalog: Catalog,
    token_id: [u8; 17],
    family: [u8; 17],
}

/// The fields of claims to sign (`portcullis_access_claims_new`). Strings are read during
/// the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_access_claims_fields {
    /// The resource owner (UTF-8, 1-255 bytes when signed).
    pub subject: portcullis_str,
    /// The client the token was issued to (UTF-8).
    pub client_id: portcullis_str,
    /// Scope names of the policy's catalog, taken exactly (implications are not
    /// expanded: list every scope the token carries). May be NULL when `scopes_len` is 0.
    pub scopes: *const portcullis_str,
    /// Number of entries in `scopes`.
    pub scopes_len: usize,
    /// Issue time (Unix seconds).
    pub issued_at: u64,
    /// Expiry (Unix seconds; the token is invalid from this second on).
    pub expires_at: u64,
    /// The token id: 16 base62 characters.
    pub token_id: portcullis_str,
    /// The grant family: 16 base62 characters.
    pub family: portcullis_str,
}

fn key_failure(e: AccessKeyError) -> Failure {
    Failure::new(R::from(&e), e.to_string())
}

/// Parses a 16-character key id (token id or family).
///
/// # Safety
/// `s` is readable for its length.
pub(crate) unsafe fn family_id(s: portcullis_str) -> FfiResult<KeyId> {
    // SAFETY: forwarded contract.
    let t = unsafe { text(s.data, s.len) }?;
    KeyId::parse(t).map_err(|e| Failure::new(R::from(e), format!("id: {e}")))
}

/// Starts a key set whose primary (and only) key is `secret` (`secret_len` bytes, at
/// least 32) under `id`. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_ACCESS_KEY_BAD_ID`,
/// `PORTCULLIS_ACCESS_KEY_TOO_SHORT`.
///
/// # Safety
/// `id` and `secret` are readable for their lengths; `keys_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_new(
    id: *const c_char,
    id_len: usize,
    secret: *const u8,
    secret_len: usize,
    keys_out: *mut *mut portcullis_access_keys,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(keys_out)?;
        // SAFETY: readable (contract).
        let (id, secret) = unsafe { (text(id, id_len)?, bytes(secret.cast(), secret_len)?) };
        let inner = AccessKeys::new(id, secret).map_err(key_failure)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_access_keys { inner })) };
        Ok(())
    })
}

/// Adds a key (verifies tokens; signs once made primary). Errors as for
/// `portcullis_access_keys_new`, plus `PORTCULLIS_ACCESS_KEY_DUPLICATE`.
///
/// # Safety
/// `keys` is live and not used by another thread; `id`, `secret` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_add(
    keys: *mut portcullis_access_keys,
    id: *const c_char,
    id_len: usize,
    secret: *const u8,
    secret_len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live, exclusive, readable (contract).
        let (keys, id, secret) = unsafe {
            (
                borrow_mut(keys)?,
                text(id, id_len)?,
                bytes(secret.cast(), secret_len)?,
            )
        };
        keys.inner.add(id, secret).map_err(key_failure)
    })
}

/// Makes the key `id` the one that signs. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_ACCESS_KEY_UNKNOWN`.
///
/// # Safety
/// `keys` is live and not used by another thread; `id` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_set_primary(
    keys: *mut portcullis_access_keys,
    id: *const c_char,
    id_len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live, exclusive, readable (contract).
        let (keys, id) = unsafe { (borrow_mut(keys)?, text(id, id_len)?) };
        keys.inner.set_primary(id).map_err(key_failure)
    })
}

/// Removes a key that is not the primary (its tokens stop verifying). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_ACCESS_KEY_UNKNOWN`
/// (no such key, or it is the primary).
///
/// # Safety
/// `keys` is live and not used by another thread; `id` readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_remove(
    keys: *mut portcullis_access_keys,
    id: *const c_char,
    id_len: usize,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live, exclusive, readable (contract).
        let (keys, id) = unsafe { (borrow_mut(keys)?, text(id, id_len)?) };
        keys.inner.remove(id).map_err(key_failure)
    })
}

/// The primary key id, borrowed from the set (valid until it is changed or freed);
/// absent for NULL.
///
/// # Safety
/// `keys` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_primary_id(
    keys: *const portcullis_access_keys,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(keys, portcullis_str::NONE, |k| {
            portcullis_str::of(k.inner.primary_id())
        })
    }
}

/// Signs `claims` with the primary key for the catalog of `policy`, writing the token
/// (`at.{kid}.{payload}.{mac}`, library-owned, NUL-terminated: free with
/// `portcullis_string_free`, which zeroizes it) to `*token_out` and its length to
/// `*len_out` (may be NULL). The OAuth server signs its own tokens; this is for tests,
/// conformance vectors and migrations. Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `keys`, `claims`, `policy` live; `token_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_sign(
    keys: *const portcullis_access_keys,
    claims: *const portcullis_access_claims,
    policy: *const portcullis_policy,
    token_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(token_out)?;
        // SAFETY: live (contract).
        let (keys, claims, policy) = unsafe { (borrow(keys)?, borrow(claims)?, borrow(policy)?) };
        let token = keys.inner.sign(&claims.inner, policy.policy.catalog());
        // SAFETY: forwarded contract.
        unsafe { crate::checker::write_owned(out, len_out, token.expose().to_owned()) }
    })
}

/// Frees a key set (secrets zeroized). NULL is a no-op.
///
/// # Safety
/// `keys` is NULL or a key set not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_keys_free(keys: *mut portcullis_access_keys) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(keys) }
}

/// Makes a verifier from a copy of `keys`, for the scope catalog of `policy` (use the
/// policy of the checker and server it will serve), with an empty revocation set and 60
/// seconds of clock skew. Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `keys`, `policy` live; `verifier_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_new(
    keys: *const portcullis_access_keys,
    policy: *const portcullis_policy,
    verifier_out: *mut *mut portcullis_access_verifier,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { new_verifier(keys, policy, None, verifier_out) }
}

/// As `portcullis_access_verifier_new`, with `max_skew` seconds of tolerated clock skew
/// (tokens issued up to that far in the future are accepted; default 60). Errors:
/// `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `keys`, `policy` live; `verifier_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_new_with_skew(
    keys: *const portcullis_access_keys,
    policy: *const portcullis_policy,
    max_skew: u64,
    verifier_out: *mut *mut portcullis_access_verifier,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { new_verifier(keys, policy, Some(max_skew), verifier_out) }
}

/// Shared body of the verifier constructors (`None`: the core's default skew).
///
/// # Safety
/// As for `portcullis_access_verifier_new`.
unsafe fn new_verifier(
    keys: *const portcullis_access_keys,
    policy: *const portcullis_policy,
    max_skew: Option<u64>,
    verifier_out: *mut *mut portcullis_access_verifier,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(verifier_out)?;
        // SAFETY: live (contract).
        let (keys, policy) = unsafe { (borrow(keys)?, borrow(policy)?) };
        let catalog = policy.policy.catalog().clone();
        let mut verifier = AccessVerifier::new(keys.inner.clone(), &catalog);
        if let Some(skew) = max_skew {
            verifier.max_skew = skew;
        }
        let inner = Arc::new(verifier);
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_access_verifier { inner, catalog })) };
        Ok(())
    })
}

/// Runs `f` on a verifier and a family id.
///
/// # Safety
/// `v` live; `family` readable for `len` bytes.
unsafe fn with_family(
    v: *const portcullis_access_verifier,
    family: *const c_char,
    len: usize,
    f: impl FnOnce(&AccessVerifier, KeyId),
) -> portcullis_result {
    guard(|| {
        // SAFETY: forwarded contract.
        let (v, id) = unsafe { (borrow(v)?, family_id(portcullis_str { data: family, len })?) };
        f(&v.inner, id);
        Ok(())
    })
}

/// Revokes a grant family (16 characters): its access tokens are refused from now on by
/// every checker and server sharing this verifier. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_KEY_LENGTH` / `PORTCULLIS_KEY_CHARACTER` (not a
/// family id).
///
/// # Safety
/// `verifier` live; `family` readable for `family_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_revoke_family(
    verifier: *const portcullis_access_verifier,
    family: *const c_char,
    family_len: usize,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_family(verifier, family, family_len, |v, id| {
            v.revocations().revoke_family(id)
        })
    }
}

/// Forgets a revoked family (to prune the set once its tokens have expired). Errors as
/// for `portcullis_access_verifier_revoke_family`.
///
/// # Safety
/// `verifier` live; `family` readable for `family_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_forget_family(
    verifier: *const portcullis_access_verifier,
    family: *const c_char,
    family_len: usize,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_family(verifier, family, family_len, |v, id| {
            v.revocations().forget_family(&id)
        })
    }
}

/// Whether a family is revoked (false for NULL or a malformed id).
///
/// # Safety
/// `verifier` NULL or live; `family` NULL or readable for `family_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_is_family_revoked(
    verifier: *const portcullis_access_verifier,
    family: *const c_char,
    family_len: usize,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live / readable (contract).
        let v = unsafe { borrow(verifier) }.ok()?;
        // SAFETY: as above.
        let id = unsafe {
            family_id(portcullis_str {
                data: family,
                len: family_len,
            })
        }
        .ok()?;
        Some(v.inner.revocations().is_family_revoked(&id))
    })
}

/// How many families are revoked (0 for NULL).
///
/// # Safety
/// `verifier` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_family_count(
    verifier: *const portcullis_access_verifier,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(verifier, 0, |v| v.inner.revocations().family_count()) }
}

/// Refuses every access token issued before `epoch` (Unix seconds). The epoch only moves
/// forward: a smaller value than the current one is ignored. Errors:
/// `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `verifier` live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_set_epoch(
    verifier: *const portcullis_access_verifier,
    epoch: u64,
) -> portcullis_result {
    guard(|| {
        // SAFETY: live (contract).
        let v = unsafe { borrow(verifier) }?;
        v.inner.revocations().set_epoch(Timestamp(epoch));
        Ok(())
    })
}

/// The revocation epoch (0: none; 0 for NULL).
///
/// # Safety
/// `verifier` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_epoch(
    verifier: *const portcullis_access_verifier,
) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { read(verifier, 0, |v| v.inner.revocations().epoch().0) }
}

/// Verifies an access token (`token_len` bytes, any bytes) at `now`: MAC, key, catalog,
/// revocations, expiry (exactly `expires_at` is expired), issue time (60 s skew). On
/// success writes its claims to `*claims_out` (free them). Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_LENGTH`, and the reason the token is
/// refused: `PORTCULLIS_ACCESS_TOKEN_MALFORMED`, `_UNKNOWN_KEY`, `_BAD_SIGNATURE`,
/// `_WRONG_CATALOG`, `_REVOKED`, `_EXPIRED`, `_NOT_YET_VALID`.
///
/// # Safety
/// `verifier` live; `token` readable for `token_len` bytes; `claims_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_verify(
    verifier: *const portcullis_access_verifier,
    token: *const c_char,
    token_len: usize,
    now: u64,
    claims_out: *mut *mut portcullis_access_claims,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe {
        read_token(verifier, token, token_len, claims_out, |v, t| {
            v.verify(t, Timestamp(now))
        })
    }
}

/// Decodes an access token whose MAC, key and catalog are valid, ignoring time and
/// revocations (for introspection tools and logs). Errors as for
/// `portcullis_access_verifier_verify`, without the time and revocation ones.
///
/// # Safety
/// As for `portcullis_access_verifier_verify`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_decode(
    verifier: *const portcullis_access_verifier,
    token: *const c_char,
    token_len: usize,
    claims_out: *mut *mut portcullis_access_claims,
) -> portcullis_result {
    // SAFETY: forwarded contract.
    unsafe { read_token(verifier, token, token_len, claims_out, |v, t| v.decode(t)) }
}

/// Shared body of verify and decode.
///
/// # Safety
/// As for `portcullis_access_verifier_verify`.
unsafe fn read_token(
    verifier: *const portcullis_access_verifier,
    token: *const c_char,
    token_len: usize,
    claims_out: *mut *mut portcullis_access_claims,
    f: impl FnOnce(&AccessVerifier, &[u8]) -> Result<AccessClaims, core_lib::oauth::TokenError>,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(claims_out)?;
        // SAFETY: live / readable (contract).
        let (v, token) = unsafe { (borrow(verifier)?, bytes(token, token_len)?) };
        let claims = f(&v.inner, token).map_err(|e| Failure::new(R::from(e), e.to_string()))?;
        let handle = portcullis_access_claims::new(claims, v.catalog.clone());
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Frees a verifier handle. NULL is a no-op. Servers and checkers made with it keep the
/// verifier (and its revocations) alive.
///
/// # Safety
/// `verifier` is NULL or a verifier not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_verifier_free(
    verifier: *mut portcullis_access_verifier,
) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(verifier) }
}

/// Makes a checker (as `portcullis_checker_new`) whose checks also accept
/// `Bearer at.…` access tokens, verified by `verifier` (shared: revocations pushed into
/// it apply at once). API keys work as before. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the verifier was made for another scope catalog).
///
/// # Safety
/// `policy`, `peppers`, `verifier` live; `checker_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_checker_new_with_access_tokens(
    policy: *const portcullis_policy,
    peppers: *const portcullis_peppers,
    verifier: *const portcullis_access_verifier,
    checker_out: *mut *mut portcullis_checker,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(checker_out)?;
        // SAFETY: live (contract).
        let (policy, peppers, v) =
            unsafe { (borrow(policy)?, borrow(peppers)?, borrow(verifier)?) };
        let checker = Checker::new(policy.policy.clone(), peppers.build()?)
            .with_access_tokens(v.inner.clone())
            .map_err(catalog_mismatch)?;
        let handle = portcullis_checker {
            inner: Arc::new(checker),
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// The core's refusal of a verifier made for another catalog than the policy's, as a C
/// result: `PORTCULLIS_INVALID_ARGUMENT` with the core's message.
pub(crate) fn catalog_mismatch(e: CatalogMismatch) -> Failure {
    Failure::new(R::PORTCULLIS_INVALID_ARGUMENT, e.to_string())
}

impl portcullis_access_claims {
    fn new(inner: AccessClaims, catalog: Catalog) -> Self {
        portcullis_access_claims {
            token_id: crate::record::id_text(inner.token_id),
            family: crate::record::id_text(inner.family),
            inner,
            catalog,
        }
    }
}

/// Builds claims (for `portcullis_access_keys_sign`) from `fields`, scope names resolved
/// exactly in the catalog of `policy`. Errors: `PORTCULLIS_NULL_PARAMETER`,
/// `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_KEY_LENGTH` /
/// `PORTCULLIS_KEY_CHARACTER` (token id or family is not 16 base62 characters),
/// `PORTCULLIS_ISSUE_UNKNOWN_SCOPE` (a name the catalog does not declare).
///
/// # Safety
/// `policy` live; `fields` readable with readable strings; `claims_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_new(
    policy: *const portcullis_policy,
    fields: *const portcullis_access_claims_fields,
    claims_out: *mut *mut portcullis_access_claims,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(claims_out)?;
        // SAFETY: live / readable (contract).
        let (policy, f) = unsafe { (borrow(policy)?, borrow(fields)?) };
        let catalog = policy.policy.catalog();
        // SAFETY: readable (contract).
        let inner = unsafe { claims_of(f, catalog) }?;
        let handle = portcullis_access_claims::new(inner, catalog.clone());
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(handle)) };
        Ok(())
    })
}

/// Decodes claim fields.
///
/// # Safety
/// The strings of `f` are readable.
unsafe fn claims_of(
    f: &portcullis_access_claims_fields,
    catalog: &Catalog,
) -> FfiResult<AccessClaims> {
    let mut scopes = ScopeSet::EMPTY;
    // SAFETY: forwarded contract.
    for s in unsafe { array(f.scopes, f.scopes_len) }? {
        // SAFETY: as above.
        let name = unsafe { text(s.data, s.len) }?;
        let index = catalog.lookup(name).ok_or_else(|| {
            Failure::new(
                R::PORTCULLIS_ISSUE_UNKNOWN_SCOPE,
                format!("unknown scope {name:?}"),
            )
        })?;
        scopes.insert(index);
    }
    // SAFETY: as above.
    unsafe {
        Ok(AccessClaims {
            subject: text(f.subject.data, f.subject.len)?.to_owned(),
            client_id: text(f.client_id.data, f.client_id.len)?.to_owned(),
            scopes,
            issued_at: Timestamp(f.issued_at),
            expires_at: Timestamp(f.expires_at),
            token_id: family_id(f.token_id)?,
            family: family_id(f.family)?,
        })
    }
}

/// The subject (resource owner); absent for NULL.
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_subject(
    claims: *const portcullis_access_claims,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(claims, portcullis_str::NONE, |c| {
            portcullis_str::of(&c.inner.subject)
        })
    }
}

/// The client id; absent for NULL.
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_client_id(
    claims: *const portcullis_access_claims,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(claims, portcullis_str::NONE, |c| {
            portcullis_str::of(&c.inner.client_id)
        })
    }
}

/// The token id (16 characters, NUL-terminated); absent for NULL.
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_token_id(
    claims: *const portcullis_access_claims,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(claims, portcullis_str::NONE, |c| {
            crate::record::id_str(&c.token_id)
        })
    }
}

/// The grant family (16 characters, NUL-terminated); absent for NULL.
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_family(
    claims: *const portcullis_access_claims,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(claims, portcullis_str::NONE, |c| {
            crate::record::id_str(&c.family)
        })
    }
}

/// The issue time (Unix seconds; 0 for NULL).
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_issued_at(
    claims: *const portcullis_access_claims,
) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { read(claims, 0, |c| c.inner.issued_at.0) }
}

/// The expiry (Unix seconds; 0 for NULL).
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_expires_at(
    claims: *const portcullis_access_claims,
) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { read(claims, 0, |c| c.inner.expires_at.0) }
}

/// How many scopes the token carries (0 for NULL).
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_scopes_len(
    claims: *const portcullis_access_claims,
) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(claims, 0, |c| c.inner.scopes.len()) }
}

/// The scope at `index`, in catalog order; absent when out of range or NULL.
///
/// # Safety
/// `claims` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_scope(
    claims: *const portcullis_access_claims,
    index: usize,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(claims, portcullis_str::NONE, |c| {
            portcullis_str::of_opt(c.catalog.names(&c.inner.scopes).nth(index))
        })
    }
}

/// Frees claims. NULL is a no-op.
///
/// # Safety
/// `claims` is NULL or claims not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_access_claims_free(claims: *mut portcullis_access_claims) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(claims) }
}
