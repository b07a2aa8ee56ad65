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

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod base62;
pub mod bounded;
mod bytes;
pub mod checker;
pub mod codes;
pub mod decision;
pub mod extract;
pub mod for_bindings;
pub mod format;
pub mod hash;
pub mod issue;
pub mod lookup;
mod mac;
pub mod oauth;
pub mod path;
pub mod pepper;
pub mod policy;
pub mod random;
pub mod record;
pub mod request;
pub mod scope;
pub mod secret;
pub mod time;

pub use checker::{Checker, Pending, Prepared, Verification};
pub use decision::{
    Decision, ErrorCode, Outcome, Principal, Reason, Warning, Warnings, WwwAuthenticate,
};
pub use extract::{Credential, ExtractError, Source};
pub use format::{DisplayKey, KeyError, KeyFormat, KeyId, ParsedKey};
pub use hash::{HashCheck, HashError, StoredHash};
pub use issue::{IssueError, IssuedKey, Rotation};
pub use lookup::{KeyLookup, LookupError, MemoryStore, StoreError};
pub use path::{PathError, PathParams, PathRules};
pub use pepper::{PepperError, Peppers};
pub use policy::{Policy, PolicyError, PolicyIssue};
#[cfg(feature = "test-rng")]
pub use random::SeededRandom;
pub use random::{OsRandom, RandomError, RandomSource};
pub use record::{KeyRecord, KeySpec, Metadata, RecordError};
pub use request::Request;
pub use scope::{Catalog, Requirement, ScopeSet};
pub use secret::{SecretBytes, SecretString};
pub use time::Timestamp;

/// The README's Rust quick start, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
