//! The OAuth engine: configuration, scope catalog and access-token keys in one immutable
//! value shared by the authorize, token, revocation and introspection endpoints.

use super::access::AccessVerifier;
use super::config::OAuthConfig;
use super::error::OAuthError;
use super::store::{ClientStore, CodeStore, RefreshStore};
use crate::scope::{Catalog, CatalogMismatch, ScopeSet};
use std::sync::Arc;

/// The stores an endpoint needs. [`super::MemoryOAuthStore`] implements all three:
/// `Stores::all(&store)`.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    /// Registered clients.
    pub clients: &'a dyn ClientStore,
    /// Authorization codes.
    pub codes: &'a dyn CodeStore,
    /// Refresh tokens and families.
    pub refresh: &'a dyn RefreshStore,
}

impl<'a> Stores<'a> {
    /// One value implementing every contract.
    pub fn all<S: ClientStore + CodeStore + RefreshStore>(store: &'a S) -> Self {
        Stores {
            clients: store,
            codes: store,
            refresh: store,
        }
    }
}

impl std::fmt::Debug for Stores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

/// The OAuth 2.0 authorization server engine. Immutable; share it between threads.
///
/// It signs access tokens with the keys of the [`AccessVerifier`] it is given, and pushes
/// revoked families into that verifier's revocation set, so a [`crate::Checker`] holding
/// the same `Arc` refuses their access tokens at once.
#[derive(Debug)]
pub struct OAuthServer {
    pub(crate) config: OAuthConfig,
    pub(crate) catalog: Catalog,
    pub(crate) verifier: Arc<AccessVerifier>,
    pub(crate) realm: String,
}

impl OAuthServer {
    /// An engine for `catalog` (use the policy's: `policy.catalog().clone()`), signing
    /// with `verifier`'s keys.
    ///
    /// # Errors
    /// [`CatalogMismatch`] when `verifier` was built for another catalog: the tokens it
    /// signs would name other scopes than the ones granted.
    pub fn new(
        config: OAuthConfig,
        catalog: Catalog,
        verifier: Arc<AccessVerifier>,
        realm: &str,
    ) -> Result<Self, CatalogMismatch> {
        verifier.same_catalog(&catalog)?;
        Ok(OAuthServer {
            config,
            catalog,
            verifier,
            realm: realm.to_owned(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// The scope catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The access-token verifier (keys and revocations).
    pub fn verifier(&self) -> &Arc<AccessVerifier> {
        &self.verifier
    }

    /// Parses a `scope` parameter (RFC 6749 §3.3: scope-tokens separated by single
    /// spaces) into the set it names, implications expanded. Unknown scopes, bad
    /// characters and empty tokens are `invalid_scope`.
    pub fn parse_scope(&self, text: &str) -> Result<ScopeSet, OAuthError> {
        let mut set = ScopeSet::EMPTY;
        for token in text.split(' ') {
            if !is_scope_token(token) {
                return Err(OAuthError::scope("The scope parameter is malformed"));
            }
            let expanded = self
                .catalog
                .expand(token)
                .ok_or(OAuthError::scope("The requested scope is unknown"))?;
            set = set.union(expanded);
        }
        Ok(set)
    }

    /// What a client may be granted.
    pub(crate) fn allowed(&self, allowed_scopes: &[String]) -> ScopeSet {
        self.catalog.grant(allowed_scopes).set
    }

    /// The scope set of a canonical scope string from a store (unknown names dropped).
    pub(crate) fn stored_scope(&self, text: &str) -> ScopeSet {
        let names: Vec<&str> = text.split(' ').filter(|s| !s.is_empty()).collect();
        self.catalog.grant(&names).set
    }
}

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The scopes in both sets.
pub(crate) fn intersect(a: ScopeSet, b: ScopeSet) -> ScopeSet {
    a.difference(a.difference(b))
}
