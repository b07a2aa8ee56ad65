//! Credential extraction per RFC 6750: the Authorization header or the query string.

use crate::ffi::{guard, optional_bytes, out_ptr, text};
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::Source;
use std::ffi::c_char;

/// Where a credential was found (`portcullis_credential.source`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum portcullis_source {
    /// The credential came from the `Authorization` header.
    PORTCULLIS_SOURCE_HEADER = 1,
    /// The credential came from the query string.
    PORTCULLIS_SOURCE_QUERY = 2,
}

/// A bearer token found in a request: borrowed from the request's bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_credential {
    /// The token (a secret: do not log it); points into the `authorization` or `query`
    /// bytes passed in, valid as long as they are.
    pub token: portcullis_str,
    /// Where it was found.
    pub source: portcullis_source,
}

/// Finds the bearer credential of a request per RFC 6750 (header grammar, query
/// parameter `param`, accepted in the query only when `allow_query`). `authorization`
/// and `query` may be NULL (absent). On success fills `*credential_out`. Errors:
/// `PORTCULLIS_NULL_PARAMETER` (param, credential_out), `PORTCULLIS_INVALID_UTF8` (param),
/// `PORTCULLIS_INVALID_LENGTH`, and `PORTCULLIS_CREDENTIAL_MISSING`, `_WRONG_SCHEME`,
/// `_MALFORMED_HEADER`, `_BOTH_PRESENT`, `_QUERY_REFUSED`, `_MALFORMED_QUERY`.
///
/// # Safety
/// Every non-NULL pointer readable for its length; `credential_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_extract_credential(
    authorization: *const c_char,
    authorization_len: usize,
    query: *const c_char,
    query_len: usize,
    param: *const c_char,
    param_len: usize,
    allow_query: bool,
    credential_out: *mut portcullis_credential,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(credential_out)?;
        // SAFETY: readable (contract).
        let (auth, query, param) = unsafe {
            (
                optional_bytes(authorization, authorization_len)?,
                optional_bytes(query, query_len)?,
                text(param, param_len)?,
            )
        };
        let c = core_lib::extract_credential(auth, query, param, allow_query).map_err(R::from)?;
        let credential = portcullis_credential {
            token: portcullis_str {
                data: c.token.as_ptr().cast(),
                len: c.token.len(),
            },
            source: match c.source {
                Source::Header => portcullis_source::PORTCULLIS_SOURCE_HEADER,
                Source::Query => portcullis_source::PORTCULLIS_SOURCE_QUERY,
            },
        };
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(credential) };
        Ok(())
    })
}
