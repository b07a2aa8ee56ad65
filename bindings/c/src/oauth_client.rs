//! `portcullis_oauth_client`: an OAuth client registration (public or confidential),
//! made here or loaded from the host's JSON.

use crate::checker::write_owned;
use crate::ffi::{
    Failure, FfiResult, array, borrow, free_handle, guard, into_handle, out_ptr, read, text,
};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::OsRandom;
use core_lib::oauth::{Client, ClientError, ClientType};
use std::ffi::c_char;

/// A client registration: id, type, exact redirect URIs, allowed scopes, grant types and
/// (confidential clients) the SHA-256 of the secret — never the secret. Immutable: safe
/// to read from several threads at once. Strings it returns borrow from it.
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_client {
    pub(crate) inner: Client,
}

fn client_failure(e: ClientError) -> Failure {
    Failure::new(R::from(&e), e.to_string())
}

/// Decodes an array of strings.
///
/// # Safety
/// `p` is NULL (only with `n == 0`) or points to `n` readable strings.
unsafe fn texts<'a>(p: *const portcullis_str, n: usize) -> FfiResult<Vec<&'a str>> {
    // SAFETY: forwarded contract.
    unsafe { array(p, n) }?
        .iter()
        // SAFETY: as above.
        .map(|s| unsafe { text(s.data, s.len) })
        .collect()
}

/// Registers a public client (no secret; PKCE always required). `native`: a native app
/// (RFC 8252), which may use custom schemes and loopback redirects on any port. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`,
/// `PORTCULLIS_CLIENT_BAD_ID`, `PORTCULLIS_CLIENT_BAD_REDIRECT_URI` (the detail names the URI's
/// index and the problem), `PORTCULLIS_CLIENT_NO_REDIRECT_URI`.
///
/// # Safety
/// `id` readable for `id_len` bytes; the arrays readable for their counts (NULL allowed
/// with a count of 0); `client_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_new_public(
    id: *const c_char,
    id_len: usize,
    native: bool,
    redirect_uris: *const portcullis_str,
    redirect_uris_len: usize,
    allowed_scopes: *const portcullis_str,
    allowed_scopes_len: usize,
    client_out: *mut *mut portcullis_oauth_client,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(client_out)?;
        // SAFETY: readable (contract).
        let (id, uris, scopes) = unsafe {
            (
                text(id, id_len)?,
                texts(redirect_uris, redirect_uris_len)?,
                texts(allowed_scopes, allowed_scopes_len)?,
            )
        };
        let inner = Client::public(id, native, &uris, &scopes).map_err(client_failure)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_oauth_client { inner })) };
        Ok(())
    })
}

/// Registers a confidential client with a fresh secret (`cs.` + 43 base62, from the OS
/// random source). The secret goes to `*secret_out` (library-owned, NUL-terminated,
/// `*secret_len_out` bytes if that is not NULL): show it once, then free it with
/// `portcullis_string_free` (which zeroizes it); the client keeps only its hash. Errors
/// as for `portcullis_oauth_client_new_public`, plus `PORTCULLIS_ISSUE_RANDOM`.
///
/// # Safety
/// As for `portcullis_oauth_client_new_public`; `secret_out` writable; `secret_len_out` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_new_confidential(
    id: *const c_char,
    id_len: usize,
    redirect_uris: *const portcullis_str,
    redirect_uris_len: usize,
    allowed_scopes: *const portcullis_str,
    allowed_scopes_len: usize,
    client_out: *mut *mut portcullis_oauth_client,
    secret_out: *mut *mut c_char,
    secret_len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let (out, secret_ptr) = (out_ptr(client_out)?, out_ptr(secret_out)?);
        // SAFETY: readable (contract).
        let (id, uris, scopes) = unsafe {
            (
                text(id, id_len)?,
                texts(redirect_uris, redirect_uris_len)?,
                texts(allowed_scopes, allowed_scopes_len)?,
            )
        };
        let (inner, secret) =
            Client::confidential(id, &uris, &scopes, &OsRandom::new()).map_err(client_failure)?;
        // SAFETY: forwarded contract (both out-pointers checked non-NULL above).
        unsafe {
            write_owned(secret_ptr, secret_len_out, secret.expose().to_owned())?;
            out.write(into_handle(portcullis_oauth_client { inner }));
        }
        Ok(())
    })
}

/// Parses a client registration from the JSON `portcullis_oauth_client_to_json` writes
/// (fields `id`, `client_type` = `"public"`/`"confidential"`, `native`, `redirect_uris`,
/// `allowed_scopes`, `grant_types`, `secret_hash`) and checks it. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_CLIENT_BAD_JSON`, and
/// the registration errors of `portcullis_oauth_client_new_public` plus
/// `PORTCULLIS_CLIENT_SECRET`.
///
/// # Safety
/// `json` readable for `len` bytes; `client_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_new_from_json(
    json: *const c_char,
    len: usize,
    client_out: *mut *mut portcullis_oauth_client,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(client_out)?;
        // SAFETY: readable (contract).
        let inner = parse_client(unsafe { text(json, len) }?)?;
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_oauth_client { inner })) };
        Ok(())
    })
}

/// Parses and validates client JSON.
pub(crate) fn parse_client(json: &str) -> FfiResult<Client> {
    let client: Client = serde_json::from_str(json)
        .map_err(|e| Failure::new(R::PORTCULLIS_CLIENT_BAD_JSON, format!("client JSON: {e}")))?;
    client.validate().map_err(client_failure)?;
    Ok(client)
}

/// Writes the client as JSON (library-owned, NUL-terminated: free with
/// `portcullis_string_free`) to `*json_out`, its length to `*len_out` (may be NULL).
/// Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `client` live; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_to_json(
    client: *const portcullis_oauth_client,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live (contract).
        let client = unsafe { borrow(client) }?;
        let json = serde_json::to_string(&client.inner)
            .map_err(|e| Failure::new(R::PORTCULLIS_CLIENT_BAD_JSON, e.to_string()))?;
        // SAFETY: forwarded contract.
        unsafe { write_owned(out, len_out, json) }
    })
}

/// The client id; absent for NULL.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_id(
    client: *const portcullis_oauth_client,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(client, portcullis_str::NONE, |c| {
            portcullis_str::of(&c.inner.id)
        })
    }
}

/// Whether the client is confidential (authenticates with a secret); false for NULL.
///
/// # Safety
/// `client` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_is_confidential(
    client: *const portcullis_oauth_client,
) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        read(client, false, |c| {
            c.inner.client_type == ClientType::Confidential
        })
    }
}

/// Frees a client. NULL is a no-op.
///
/// # Safety
/// `client` is NULL or a client not yet freed, no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_client_free(client: *mut portcullis_oauth_client) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(client) }
}
