//! OAuth 2.0 authorization-code flow with PKCE (RFC 6749, RFC 7636, RFC 9700), the engine
//! behind an `/oauth/authorize` and an `/oauth/token` endpoint, plus the access tokens they
//! mint, checked by [`crate::Checker`] in the same path as API keys.
//!
//! Secure by default: exact redirect-URI matching (loopback port exception for native
//! clients only), PKCE S256 required for every client (plain only when enabled), PKCE
//! downgrade refused, single-use codes whose reuse revokes the grant family, refresh
//! tokens rotated on every use whose reuse revokes the family, access tokens valid one
//! hour, HTTP Basic client authentication (body credentials only when enabled).
//! [`OAuthServer::metadata`] builds the RFC 8414 discovery document from the same
//! configuration, and [`OAuthConfig::issuer`] adds RFC 9207 `iss` to authorization
//! responses (the decisions they encode open `oauth/metadata.rs` and `oauth/authorize.rs`).
//!
//! Settings live in [`OAuthConfig`]; a policy file carries them in its `[oauth]` section
//! ([`crate::Policy::oauth`]; what it leaves out keeps the secure defaults). ClaimPort's
//! policy allows body credentials and lets confidential clients omit PKCE, as its public
//! docs require.
//!
//! The token, revocation and introspection endpoints take the request as received
//! ([`EndpointRequest`]: `Authorization`, `Content-Type`, body bytes) through
//! [`OAuthServer::token_request`], [`OAuthServer::revoke_request`] and
//! [`OAuthServer::introspect_request`]; the body may be form-encoded or a JSON object of
//! strings (the rules open `oauth/body.rs`). [`OAuthServer::token`], `revoke` and `introspect`
//! remain for hosts that only take form bodies. Client authentication and the error
//! texts are decided in `oauth/token.rs`; every error body carries an RFC 6749 / 7009 code.
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
//!
//! ```
//! use portcullis::oauth::{
//!     AccessKeys, AccessVerifier, AuthorizeOutcome, Client, EndpointRequest, MemoryOAuthStore,
//!     OAuthConfig, OAuthServer, PkceChallenge, Stores,
//! };
//! use portcullis::{Checker, MemoryStore, OsRandom, Peppers, Policy, Request, Timestamp};
//! use std::sync::Arc;
//!
//! let policy = Policy::from_toml(r#"
//!     [service]
//!     realm = "claimport"
//!     [[scopes]]
//!     name = "claims:read"
//!     description = "Read Claims"
//!     [[routes]]
//!     method = "GET"
//!     path = "/v1/claims"
//!     require = "claims:read"
//! "#)?;
//! let verifier = Arc::new(AccessVerifier::new(AccessKeys::new("k1", &[7u8; 32])?, policy.catalog()));
//! let server = OAuthServer::new(OAuthConfig::default(), policy.catalog().clone(), verifier.clone(), "claimport")?;
//! let checker = Checker::new(policy, Peppers::new("p1", &[9u8; 32])?).with_access_tokens(verifier)?;
//! let (rng, now) = (OsRandom::new(), Timestamp(1_800_000_000));
//!
//! // Registration: the secret is shown once, only its hash is stored.
//! let store = MemoryOAuthStore::new();
//! let (client, secret) = Client::confidential("webapp", &["https://app.example/cb"], &["claims:read"], &rng)?;
//! store.add_client(client);
//!
//! // GET /oauth/authorize?… → consent → redirect with a code.
//! let verifier_text = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let challenge = PkceChallenge::s256(verifier_text).challenge;
//! let query = format!("response_type=code&client_id=webapp&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
//!     &scope=claims:read&state=s1&code_challenge={challenge}&code_challenge_method=S256");
//! let AuthorizeOutcome::Valid(request) = server.authorize(&query, &store) else { panic!() };
//! let location = server.approve(&request, "user_7", None, &store, &rng, now)?;
//! let code = location.split("code=").nth(1).and_then(|s| s.split('&').next()).unwrap_or("");
//!
//! // POST /oauth/token with HTTP Basic client authentication.
//! use base64::Engine;
//! let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD
//!     .encode(format!("webapp:{}", secret.expose())));
//! let body = format!("grant_type=authorization_code&code={code}\
//!     &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={verifier_text}");
//! let request = EndpointRequest {
//!     authorization: Some(basic.as_bytes()),
//!     content_type: Some(b"application/x-www-form-urlencoded"),
//!     body: body.as_bytes(),
//! };
//! let response = server.token_request(&request, Stores::all(&store), &rng, now);
//! assert_eq!(response.status, 200);
//! assert_eq!(response.header("Cache-Control"), Some("no-store"));
//! let json: serde_json::Value = serde_json::from_str(response.body())?;
//!
//! // The access token works as a Bearer token in the same check as API keys.
//! let header = format!("Bearer {}", json["access_token"].as_str().unwrap_or(""));
//! let api = Request::new("GET", "/v1/claims").authorization(&header).https(true);
//! let decision = checker.check(&api, &MemoryStore::new(), now);
//! assert!(decision.allowed());
//! assert_eq!(decision.owner(), Some("user_7"));
//! assert_eq!(checker.check(&api, &MemoryStore::new(), now.plus(3600)).status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Crate-private: what a user names is re-exported below, item by item.
pub(crate) mod access;
pub(crate) mod authorize;
pub(crate) mod body;
pub(crate) mod client;
pub(crate) mod code;
pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod introspect;
pub(crate) mod metadata;
pub(crate) mod params;
pub(crate) mod pkce;
pub(crate) mod redirect;
pub(crate) mod refresh;
pub(crate) mod server;
pub(crate) mod store;
pub(crate) mod token;

mod opaque;

pub use access::{
    AccessClaims, AccessKeyError, AccessKeys, AccessVerifier, MAX_TOKEN_LEN, RevocationFeed,
    Revocations, TokenError, is_access_token,
};
pub use authorize::{AuthorizationRequest, AuthorizeOutcome};
pub use body::{EndpointRequest, MAX_BODY_LEN};
pub use client::{Client, ClientAuthError, ClientError, ClientType};
pub use code::CodeRecord;
pub use config::{MAX_CODE_TTL, OAuthConfig};
pub use error::{OAuthError, OAuthErrorCode};
pub use metadata::{Endpoints, Issuer, MAX_URL_LEN, MetadataError};
pub use opaque::TokenHash;
pub use params::{MAX_PARAMS_LEN, ParamError, Params};
pub use pkce::{ChallengeMethod, PkceChallenge, is_valid_verifier};
pub use redirect::{RedirectError, matches as redirect_matches, validate_registration};
pub use refresh::{GRACE_SPENT, RefreshRecord};
pub use server::{OAuthServer, Stores};
pub use store::{ClientStore, CodeStore, Consumed, MemoryOAuthStore, RefreshStore, Rotated};
pub use token::TokenResponse;
