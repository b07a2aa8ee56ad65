//! # libportcullis: the C API of portcullis
//!
//! A thin translation of the `portcullis` crate to C, modelled on rustls-ffi. The header,
//! `include/portcullis.h`, is generated from this crate by cbindgen
//! (`bindings/c/cbindgen.toml`); a test fails when the committed header is stale.
//!
//! Conventions (also stated at the top of the header):
//! - every symbol and type is prefixed `portcullis_`; objects are opaque handles made by
//!   `_new`/`_from_*`/… and released by their `_free`, for which NULL is a no-op;
//! - fallible calls return `portcullis_result` (stable numbers) and write their
//!   out-parameters only on success; `portcullis_result_message` gives a static text for
//!   every code and `portcullis_last_error` the detail of the last failure on the thread;
//! - strings go in as (pointer, length); text must be UTF-8 (else
//!   `PORTCULLIS_INVALID_UTF8`), request bytes may be anything; strings come out as a
//!   borrowed `portcullis_str`, into caller buffers with the required-length protocol, or
//!   as library-owned `char *` released by `portcullis_string_free`;
//! - every exported function catches panics (`PORTCULLIS_PANIC`) and checks every pointer
//!   for NULL; lengths over `PTRDIFF_MAX` are refused (`PORTCULLIS_INVALID_LENGTH`);
//! - thread-safety is documented per type and checked at compile time below.
//!
//! The library is built as `libportcullis.a` and `libportcullis.so` (the lib target is
//! named `portcullis`; the core crate, also named `portcullis`, is imported as
//! `core_lib`). Time is always an input (`now`, Unix seconds).
//!
//! Every exported function is `unsafe extern "C"`; its `# Safety` section states the
//! pointer contract, which the header repeats in the function's documentation.

// The C binding is the only unsafe code in the project: each block must say why it holds.
#![deny(clippy::undocumented_unsafe_blocks)]

mod checker;
mod decision;
mod extract;
mod ffi;
mod issue;
mod limits;
mod oauth_access;
mod oauth_client;
mod oauth_metadata;
mod oauth_pkce;
mod oauth_server;
mod oauth_store;
mod peppers;
mod policy;
mod record;
mod result;
mod scopes;
mod store;
mod store_usage;
mod text;
mod usage;

pub use checker::*;
pub use decision::*;
pub use extract::*;
pub use issue::*;
pub use limits::*;
pub use oauth_access::*;
pub use oauth_client::*;
pub use oauth_metadata::*;
pub use oauth_pkce::*;
pub use oauth_server::*;
pub use oauth_store::*;
pub use peppers::*;
pub use policy::*;
pub use record::*;
pub use result::*;
pub use scopes::*;
pub use store::*;
pub use store_usage::*;
pub use text::*;
pub use usage::*;

/// The header promises these types may be shared between threads; prove it.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<portcullis_policy>();
    shareable::<portcullis_peppers>();
    shareable::<portcullis_checker>();
    shareable::<portcullis_store>();
    shareable::<portcullis_record>();
    shareable::<portcullis_decision>();
    shareable::<portcullis_issued_key>();
    shareable::<portcullis_evaluation>();
    shareable::<portcullis_access_verifier>();
    shareable::<portcullis_access_claims>();
    shareable::<portcullis_access_keys>();
    shareable::<portcullis_oauth_client>();
    shareable::<portcullis_oauth_server>();
    shareable::<portcullis_authorization>();
    shareable::<portcullis_token_response>();
    shareable::<portcullis_oauth_store>();
    shareable::<portcullis_usage_recorder>();
    shareable::<portcullis_rate_limiter>();
    shareable::<portcullis_limits>();
    const fn movable<T: Send>() {}
    movable::<portcullis_pending>();
};
