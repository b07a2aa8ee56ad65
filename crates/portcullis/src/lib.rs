//! # portcullis
//!
//! An embeddable auth-policy engine for API backends: issue API keys that are shown once
//! and stored hashed, parse them by prefix, verify them in constant time, check their
//! scopes against the route being called, and run their lifecycle — with every answer a
//! [`Decision`] carrying the HTTP status and a ready `WWW-Authenticate` value.
//!
//! ```
//! use portcullis::{Checker, KeySpec, MemoryStore, Peppers, Policy, Request, Timestamp};
//!
//! let policy = Policy::from_toml(r#"
//!     [service]
//!     realm = "claimport"
//!     [[scopes]]
//!     name = "claims:read"
//!     description = "Read Claims"
//!     [[routes]]
//!     method = "GET"
//!     path = "/v1/claims/{id}"
//!     require = "claims:read"
//! "#)?;
//! let checker = Checker::new(policy, Peppers::new("p1", &[7u8; 32])?);
//! let store = MemoryStore::new();
//! let now = Timestamp(1_800_000_000);
//!
//! let issued = checker.issue(&KeySpec::new("Production Integration", "org_42", ["claims:read"]), now)?;
//! let header = format!("Bearer {}", issued.key.expose()); // show the key once
//! store.insert(issued.record)?;
//!
//! let request = Request::new("GET", "/v1/claims/42").authorization(&header).https(true);
//! let decision = checker.check(&request, &store, now);
//! assert!(decision.allowed());
//! assert_eq!(decision.owner(), Some("org_42"));
//!
//! let denied = checker.check(&Request::new("GET", "/v1/claims/42").https(true), &store, now);
//! assert_eq!(denied.status(), 401);
//! assert_eq!(denied.www_authenticate().map(|w| w.to_string()).as_deref(), Some(r#"Bearer realm="claimport""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces: [`Policy`] (TOML: catalog, routes, transport, lifecycle), [`Peppers`]
//! (server-side HMAC keys), [`Checker`] (decisions, issuance, rotation), [`KeyRecord`]
//! (what you store), [`KeyLookup`] / [`MemoryStore`] (where records come from).
//! Time is always an input ([`Timestamp`]); the crate does no I/O and has no globals.
//!
//! # The API's shape
//!
//! Modules are private; what a user needs is re-exported here, by name. Six namespaces
//! stay public because each is a sub-API of its own:
//! - [`oauth`]: the OAuth 2.0 authorization server (endpoints, clients, stores, access
//!   tokens, PKCE), about fifty items a key-only user never meets.
//! - [`scope`]: the scope catalog, requirement expressions and scope sets, with their
//!   limits and errors; [`Catalog`], [`Requirement`] and [`ScopeSet`] are also here.
//! - [`policy`]: the policy's parts (routes, transport, lifecycle); [`Policy`] and its
//!   errors are also here.
//! - [`codes`]: the one table of stable error codes every binding reports.
//! - [`limit`]: rate limits in one process (GCRA over a lock-free table of subjects).
//! - [`usage`]: the usage recorder (counts per key and hour, unusual-activity signals)
//!   a checker feeds ([`Checker::with_usage`]).
//!
//! [`limits`] gathers every size bound. [`for_bindings`] holds what only this
//! repository's bindings and command use: it is not part of the stable API.
//! docs/naming.md maps each name here to its C and Python name.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod base62;
mod bounded;
mod bytes;
mod checker;
pub mod codes;
mod decision;
mod extract;
pub mod for_bindings;
mod format;
mod hash;
mod issue;
pub mod limit;
mod lookup;
mod mac;
pub mod oauth;
mod path;
mod pepper;
pub mod policy;
mod random;
mod record;
mod request;
pub mod scope;
mod secret;
mod thread_slot;
mod time;
pub mod usage;

pub use checker::{Checker, Pending, Prepared, Verification};
pub use decision::{
    Decision, ErrorCode, LimitState, Outcome, Principal, Reason, Warning, Warnings, WwwAuthenticate,
};
pub use extract::{
    Credential, ExtractError, Source, extract_credential, parse_authorization_header,
};
pub use format::{
    DisplayKey, FormatError, KeyError, KeyFormat, KeyId, ParsedKey, PresentedKey, is_valid_label,
};
pub use hash::{HashCheck, HashError, StoredHash};
pub use issue::{IssueError, IssuedKey, Rotation};
pub use lookup::{KeyLookup, LookupError, MemoryStore, StoreError};
pub use path::{PathError, PathParams, PathRules};
pub use pepper::{PepperError, Peppers, is_valid_pepper_id};
pub use policy::{OpenApiError, Policy, PolicyError, PolicyIssue};
#[cfg(feature = "test-rng")]
pub use random::SeededRandom;
pub use random::{OsRandom, RandomError, RandomSource};
pub use record::{KeyRecord, KeySpec, KeyState, Metadata, RecordError};
pub use request::Request;
pub use scope::{Catalog, CatalogMismatch, Requirement, ScopeSet};
pub use secret::{SecretBytes, SecretString};
pub use time::{DAY, Timestamp};

/// Every size bound the engine enforces, in one place.
pub mod limits {
    pub use crate::format::{CHECK_LEN, ID_LEN, MAX_KEY_LEN, MAX_LABEL_LEN, SECRET_LEN};
    pub use crate::issue::MAX_NAME_LEN;
    pub use crate::pepper::{MAX_PEPPER_ID_LEN, MIN_PEPPER_LEN};
    pub use crate::policy::MAX_POLICY_LEN;
    pub use crate::scope::{
        MAX_EXPR_DEPTH, MAX_EXPR_LEN, MAX_EXPR_TERMS, MAX_SCOPE_LEN, MAX_SCOPES,
    };
}

/// The README's Rust quick start, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
