//! `portcullis_policy`: a loaded, validated policy (catalog, routes, transport, lifecycle).

use crate::checker::write_owned;
use crate::ffi::{
    Failure, borrow, bytes, free_handle, guard, guard_value, into_handle, out_ptr, read, text,
};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::Policy;
use core_lib::policy::MAX_POLICY_LEN;
use db_store::files::{self, Accept, FileError};
use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A validated policy. Immutable after loading: safe to use from any number of threads at
/// once. Free with `portcullis_policy_free` (after or before the checkers made from it:
/// checkers keep their own copy).
#[allow(non_camel_case_types)]
pub struct portcullis_policy {
    pub(crate) policy: Policy,
}

fn load(text: &str) -> Result<Policy, Failure> {
    Policy::from_toml(text).map_err(|e| Failure::new(R::PORTCULLIS_POLICY_INVALID, e.to_string()))
}

/// Loads a policy from TOML text (`len` bytes at `toml`, UTF-8). On success writes a new
/// policy to `*policy_out`. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_LENGTH`, `PORTCULLIS_POLICY_INVALID` (every problem, with line
/// and column, is in `portcullis_last_error`).
///
/// # Safety
/// `toml` is readable for `len` bytes; `policy_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_new_from_toml(
    toml: *const c_char,
    len: usize,
    policy_out: *mut *mut portcullis_policy,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(policy_out)?;
        // SAFETY: readable for `len` bytes (contract).
        let policy = load(unsafe { text(toml, len) }?)?;
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_policy { policy })) };
        Ok(())
    })
}

/// Loads a policy from a TOML file; `path` is `path_len` bytes (no NUL needed). The file
/// must be a regular file or a pipe, and is read up to its limit of 4 MiB (4194304 bytes,
/// the core's `MAX_POLICY_LEN`), never further. Errors as for
/// `portcullis_policy_new_from_toml` (a larger file is `PORTCULLIS_POLICY_INVALID`, as the same
/// text would be), plus `PORTCULLIS_IO` when the file cannot be read or is of another kind
/// — a directory, or a device such as `/dev/zero`, refused before anything is read (the
/// detail names the OS error or the kind).
///
/// # Safety
/// `path` is readable for `path_len` bytes; `policy_out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_new_from_file(
    path: *const c_char,
    path_len: usize,
    policy_out: *mut *mut portcullis_policy,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(policy_out)?;
        // SAFETY: readable for `path_len` bytes (contract).
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(unsafe {
            bytes(path, path_len)
        }?));
        let content = read_policy_file(path)?;
        let toml = std::str::from_utf8(&content).map_err(|_| {
            Failure::new(
                R::PORTCULLIS_INVALID_UTF8,
                format!("{}: not UTF-8", path.display()),
            )
        })?;
        let policy = load(toml)?;
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { out.write(into_handle(portcullis_policy { policy })) };
        Ok(())
    })
}

/// Reads a policy file (a regular file or a pipe) up to [`MAX_POLICY_LEN`] bytes, by the
/// store crate's shared rules.
fn read_policy_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let shown = path.display();
    files::read(path, Accept::RegularOrPipe, MAX_POLICY_LEN).map_err(|e| match e {
        FileError::Io(e) => Failure::new(R::PORTCULLIS_IO, format!("{shown}: {e}")),
        FileError::NotAccepted(what) => Failure::new(
            R::PORTCULLIS_IO,
            format!("{shown}: not a regular file or a pipe (it is {what})"),
        ),
        FileError::TooLarge(limit) => Failure::new(
            R::PORTCULLIS_POLICY_INVALID,
            format!("{shown}: policy is larger than {limit} bytes"),
        ),
    })
}

/// The realm named in `WWW-Authenticate`, borrowed from the policy. Absent for NULL.
///
/// # Safety
/// `policy` is NULL or a live policy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_realm(
    policy: *const portcullis_policy,
) -> portcullis_str {
    // SAFETY: forwarded contract.
    unsafe {
        read(policy, portcullis_str::NONE, |p| {
            portcullis_str::of(p.policy.realm())
        })
    }
}

/// How many scopes the policy's catalog declares (0 for NULL).
///
/// # Safety
/// `policy` is NULL or a live policy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_scopes_len(policy: *const portcullis_policy) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(policy, 0, |p| p.policy.catalog().scopes().len()) }
}

/// The declared scope at `index`, in catalog order: writes its name (`claims:read`) to
/// `*name_out` and its description for people (`Read Claims`) to `*description_out`, both
/// borrowed from the policy, and returns true; false (nothing written) when out of range
/// or an argument is NULL. For listing permissions in a key-creation dialog.
///
/// # Safety
/// `policy` is NULL or live; the out-pointers NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_scope(
    policy: *const portcullis_policy,
    index: usize,
    name_out: *mut portcullis_str,
    description_out: *mut portcullis_str,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live / writable (contract).
        let (p, name, description) = unsafe {
            (
                borrow(policy).ok()?,
                name_out.as_mut()?,
                description_out.as_mut()?,
            )
        };
        let info = p.policy.catalog().scopes().get(index)?;
        *name = portcullis_str::of(&info.name);
        *description = portcullis_str::of(&info.description);
        Some(true)
    })
}

/// One note about a policy that loaded (`portcullis_policy_warning`); strings are borrowed
/// from the policy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_policy_issue {
    /// 1-based line in the policy text (0 when unknown).
    pub line: usize,
    /// 1-based column, in characters (0 when unknown).
    pub column: usize,
    /// The field, like `routes[2]` (empty when unknown).
    pub field: portcullis_str,
    /// What deserves a look, for people.
    pub message: portcullis_str,
}

/// How many warnings the loader left on the policy (0 for NULL): routes of which a more
/// specific route of another method (`*`, or `GET` for `HEAD`) decides some requests with
/// other access. A policy with warnings loads and works; they are for its author.
///
/// # Safety
/// `policy` is NULL or a live policy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_warnings_len(policy: *const portcullis_policy) -> usize {
    // SAFETY: forwarded contract.
    unsafe { read(policy, 0, |p| p.policy.warnings().len()) }
}

/// The warning at `index`, in file order: writes it to `*warning_out` (strings borrowed
/// from the policy) and returns true; false (nothing written) when out of range or an
/// argument is NULL.
///
/// # Safety
/// `policy` is NULL or live; `warning_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_warning(
    policy: *const portcullis_policy,
    index: usize,
    warning_out: *mut portcullis_policy_issue,
) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or live / writable (contract).
        let (p, out) = unsafe { (borrow(policy).ok()?, warning_out.as_mut()?) };
        let w = p.policy.warnings().get(index)?;
        *out = portcullis_policy_issue {
            line: w.line,
            column: w.column,
            field: portcullis_str::of(&w.field),
            message: portcullis_str::of(&w.message),
        };
        Some(true)
    })
}

/// Frees a policy. NULL is a no-op.
///
/// # Safety
/// `policy` is NULL or a policy not yet freed, not in use by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_free(policy: *mut portcullis_policy) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(policy) }
}

/// Writes the policy's OpenAPI 3.1 document (pretty JSON) to `*json_out` (library-owned,
/// free with `portcullis_string_free`) and its length to `*len_out` (may be NULL): the
/// security schemes (`apiKey`, the bearer API key; `apiKeyQuery` when the policy accepts
/// query keys; `oauth2`, authorization code with the catalog's scopes, when the policy has
/// an `[oauth]` section) and one operation per route whose `security` lists every set of
/// scopes that passes, implications expanded (public routes: an empty list). The same
/// policy always gives the same bytes. Thread-safe. Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `policy` live; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_openapi(
    policy: *const portcullis_policy,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live (contract).
        let p = unsafe { borrow(policy) }?;
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { write_owned(out, len_out, p.policy.openapi()) }
    })
}

/// Merges the policy's security into an OpenAPI 3.x JSON document (`len` bytes of UTF-8
/// at `document`, at most 4 MiB) and writes the result as `portcullis_policy_openapi`
/// does: the schemes are added (replacing any of the same name) and `security` is set on
/// every operation a policy route decides; other operations are kept, routes the document
/// lacks are not added, object keys come out sorted. Thread-safe. Errors:
/// `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`, `PORTCULLIS_INVALID_LENGTH`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the document is too large, not JSON, or not an OpenAPI
/// 3.x object: `portcullis_last_error` says which, with the code `too_large`, `bad_json`
/// or `bad_document` of the family `openapi`).
///
/// # Safety
/// `policy` live; `document` readable for `len` bytes; `json_out` writable; `len_out`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_policy_openapi_merged(
    policy: *const portcullis_policy,
    document: *const c_char,
    len: usize,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live; readable for `len` bytes (contract).
        let (p, document) = unsafe { (borrow(policy)?, text(document, len)?) };
        let merged = p
            .policy
            .openapi_merged(document)
            .map_err(|e| Failure::new(R::of(e.row()), format!("{}: {e}", e.code())))?;
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { write_owned(out, len_out, merged) }
    })
}
