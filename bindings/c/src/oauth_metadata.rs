//! `portcullis_oauth_server_metadata`: the RFC 8414 authorization-server metadata document
//! of an engine, and the issuer check behind `portcullis_oauth_config.issuer`.

use crate::checker::write_owned;
use crate::ffi::{Failure, FfiResult, borrow, guard, optional_text, out_ptr};
use crate::oauth_server::{portcullis_oauth_config, portcullis_oauth_server};
use crate::policy::portcullis_policy;
use crate::result::portcullis_result;
use crate::result::portcullis_result as R;
use crate::text::portcullis_str;
use core_lib::oauth::{Endpoints, Issuer, MetadataError};
use std::ffi::c_char;

/// Where the host serves the OAuth endpoints: absolute UTF-8 URLs (`https`, or `http` for a
/// loopback host), read during the call only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct portcullis_oauth_endpoints {
    /// The authorization endpoint (required).
    pub authorization: portcullis_str,
    /// The token endpoint (required).
    pub token: portcullis_str,
    /// The revocation endpoint (RFC 7009), or NULL when not served.
    pub revocation: portcullis_str,
    /// The introspection endpoint (RFC 7662), or NULL when not served.
    pub introspection: portcullis_str,
}

fn invalid(e: MetadataError) -> Failure {
    Failure::new(R::PORTCULLIS_INVALID_ARGUMENT, e.to_string())
}

/// Validates `portcullis_oauth_config.issuer`.
pub(crate) fn issuer(text: &str) -> FfiResult<Issuer> {
    Issuer::new(text).map_err(invalid)
}

/// Writes the policy's `[oauth]` settings (secure defaults where it is silent) to
/// `*config_out`, so a host can change fields, typically set `issuer`, before
/// `portcullis_oauth_server_new` (a NULL config there takes the same settings without an
/// issuer). `default_scope` borrows from `policy`: keep the policy alive until the server
/// is made. Thread-safe. Errors: `PORTCULLIS_NULL_PARAMETER`.
///
/// # Safety
/// `policy` live; `config_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_config_from_policy(
    policy: *const portcullis_policy,
    config_out: *mut portcullis_oauth_config,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(config_out)?;
        // SAFETY: live (contract).
        let c = unsafe { borrow(policy)? }.policy.oauth();
        let mut config = crate::oauth_server::portcullis_oauth_config_default();
        config.code_ttl = c.code_ttl;
        config.access_ttl = c.access_ttl;
        config.refresh_idle_ttl = c.refresh_idle_ttl;
        config.refresh_max_ttl = c.refresh_max_ttl;
        config.refresh_grace = c.refresh_grace;
        config.allow_plain_pkce = c.allow_plain_pkce;
        config.require_pkce_for_confidential = c.require_pkce_for_confidential;
        config.allow_body_credentials = c.allow_body_credentials;
        config.default_scope = c
            .default_scope
            .as_deref()
            .map_or(portcullis_str::NONE, portcullis_str::of);
        // SAFETY: non-NULL and writable (contract).
        unsafe { out.write(config) };
        Ok(())
    })
}

/// Writes the server's authorization-server metadata (RFC 8414 §2) as a JSON document to
/// `*json_out` (library-owned, free with `portcullis_string_free`) and its length to
/// `*len_out` (may be NULL). Serve it at `GET /.well-known/oauth-authorization-server`
/// with `Content-Type: application/json`, without authentication. It is built from the
/// server's configuration: `token_endpoint_auth_methods_supported` lists
/// `client_secret_basic`, `client_secret_post` when `allow_body_credentials` is set, and
/// `none`; `code_challenge_methods_supported` is `S256` (plus `plain` when allowed);
/// `scopes_supported` is the policy's catalog; `authorization_response_iss_parameter_supported`
/// is true. Thread-safe. Errors: `PORTCULLIS_NULL_PARAMETER`, `PORTCULLIS_INVALID_UTF8`,
/// `PORTCULLIS_INVALID_ARGUMENT` (the configuration has no issuer, or an endpoint is not an
/// acceptable URL: `portcullis_last_error` says which).
///
/// # Safety
/// `server`, `endpoints` live; each endpoint string NULL (optional ones only) or
/// readable; `json_out` writable; `len_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portcullis_oauth_server_metadata(
    server: *const portcullis_oauth_server,
    endpoints: *const portcullis_oauth_endpoints,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
) -> portcullis_result {
    guard(|| {
        let out = out_ptr(json_out)?;
        // SAFETY: live / readable (contract).
        let (server, e) = unsafe { (borrow(server)?, borrow(endpoints)?) };
        // SAFETY: each string is NULL or readable (contract).
        let (authorization, token, revocation, introspection) = unsafe {
            (
                optional_text(e.authorization.data, e.authorization.len)?,
                optional_text(e.token.data, e.token.len)?,
                optional_text(e.revocation.data, e.revocation.len)?,
                optional_text(e.introspection.data, e.introspection.len)?,
            )
        };
        let (Some(authorization), Some(token)) = (authorization, token) else {
            return Err(R::PORTCULLIS_NULL_PARAMETER.into());
        };
        let document = server
            .inner
            .metadata(&Endpoints {
                authorization,
                token,
                revocation,
                introspection,
            })
            .map_err(invalid)?;
        // SAFETY: out is non-NULL and writable, len_out NULL or writable (contract).
        unsafe { write_owned(out, len_out, document) }
    })
}
