//! OAuth 2.0 authorization-code flow with PKCE (RFC 6749, RFC 7636, RFC 9700), the engine
//! behind an `/oauth/authorize` and an `/oauth/token` endpoint, plus the access tokens they
//! mint, checked by [`crate::Checker`] in the same path as API keys.
//!
//! Secure by default: exact redirect-URI matching (loopback port exception for native
//! clients only), PKCE S256 required for every client (plain only when enabled), PKCE
//! downgrade refused, single-use codes whose reuse revokes the grant family, refresh
//! tokens rotated on every use whose reuse revokes the family, access tokens valid one
//! hour, HTTP Basic client authentication (body credentials only when enabled).
//!
//! Token formats (all `b64token`s, none confusable with an API key, whose characters are
//! base62 and `_` only):
//!
//! | token         | form                                   | stored as               |
//! |---------------|----------------------------------------|-------------------------|
//! | access token  | `at.{kid}.{payload}.{mac}`             | nothing (self-contained)|
//! | refresh token | `rt.{43 base62}`                       | SHA-256 hash            |
//! | code          | `ac.{43 base62}`                       | SHA-256 hash            |
//! | client secret | `cs.{43 base62}`                       | SHA-256 hash            |
//!
//! Refresh tokens, codes and client secrets carry 256 bits of randomness (43 base62
//! characters), so an unsalted SHA-256 is a sufficient one-way store: a database dump
//! yields no usable token. Time is always an input; the module does no I/O.

pub mod access;
pub mod authorize;
pub mod client;
pub mod code;
pub mod config;
pub mod error;
pub mod introspect;
pub mod params;
pub mod pkce;
pub mod redirect;
pub mod refresh;
pub mod server;
pub mod store;
pub mod token;

mod opaque;

pub use access::{
    AccessClaims, AccessKeyError, AccessKeys, AccessVerifier, Revocations, TokenError,
};
pub use authorize::{AuthorizationRequest, AuthorizeOutcome};
pub use client::{Client, ClientAuthError, ClientError, ClientType};
pub use code::CodeRecord;
pub use config::OAuthConfig;
pub use error::{OAuthError, OAuthErrorCode};
pub use opaque::TokenHash;
pub use params::{ParamError, Params};
pub use pkce::{ChallengeMethod, PkceChallenge};
pub use redirect::RedirectError;
pub use refresh::RefreshRecord;
pub use server::{OAuthServer, Stores};
pub use store::{ClientStore, CodeStore, Consumed, MemoryOAuthStore, RefreshStore, Rotated};
pub use token::TokenResponse;
