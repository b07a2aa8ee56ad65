//! Route matching: method + path template → access rule, through a segment trie per
//! method (`policy/template.rs`).
//!
//! Templates: `/v1/claims/{id}` (one segment), `/files/{*path}` (the
//! rest). Methods match exactly (HTTP methods are case-sensitive); a `HEAD` request falls
//! back to the `GET` route of the same path when no `HEAD` route is declared; a route with
//! method `*` matches any method that has no route of its own for that path. Pass the path
//! your router dispatches on, without the query string.

use super::template::{InsertError, Trie};
use crate::format::same;
use crate::scope::Requirement;

/// What a route needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no credential is needed or checked.
    Public,
    /// A valid key meeting the requirement ([`Requirement::authenticated`] needs no scope).
    Requires(Requirement),
}

/// One declared route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The method (`GET`) or `*`.
    pub method: String,
    /// The path template.
    pub path: String,
    /// What it needs.
    pub access: Access,
}

/// Why a route could not be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The method is not `*` or an upper-case token.
    #[error("invalid method {0:?}: use an upper-case HTTP method or *")]
    BadMethod(String),
    /// The template is invalid or has the shape of another route's for the same method.
    #[error("path template {path:?}: {message}")]
    BadPath {
        /// The template.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A compiled route table. Immutable after building; safe to share between threads.
#[derive(Clone, Default)]
pub struct RouteTable {
    /// One radix tree per method; a short list searched linearly is faster than hashing
    /// the method for the handful of methods an API has.
    by_method: Vec<(String, Trie)>,
    any_method: Trie,
    routes: Vec<Route>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("routes", &self.routes)
            .finish()
    }
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route; duplicates and conflicting templates are errors.
    pub fn add(&mut self, route: Route) -> Result<(), RouteError> {
        if !is_valid_method(&route.method) {
            return Err(RouteError::BadMethod(route.method));
        }
        if !route.path.starts_with('/') {
            return Err(RouteError::BadPath {
                path: route.path,
                message: "must start with '/'".into(),
            });
        }
        let index = self.routes.len();
        let router = if route.method == "*" {
            &mut self.any_method
        } else {
            let slot = match self.by_method.iter().position(|(m, _)| *m == route.method) {
                Some(i) => i,
                None => {
                    self.by_method.push((route.method.clone(), Trie::default()));
                    self.by_method.len() - 1
                }
            };
            &mut self.by_method[slot].1
        };
        if let Err(e) = router.insert(&route.path, index) {
            let message = match e {
                InsertError::Invalid(message) => message,
                InsertError::Conflict(other) => format!(
                    "conflicts with {:?} (same method, same shape)",
                    self.routes.get(other).map_or("", |r| r.path.as_str())
                ),
            };
            return Err(RouteError::BadPath {
                path: route.path,
                message,
            });
        }
        self.routes.push(route);
        Ok(())
    }

    /// The number of the route matching a request, if any. No allocation.
    #[inline]
    pub fn find(&self, method: &str, path: &str) -> Option<usize> {
        let router = |m: &str| {
            self.by_method
                .iter()
                .find(|(name, _)| same(name.as_bytes(), m.as_bytes()))
                .map(|(_, r)| r)
        };
        let exact = |m: &str| router(m).and_then(|r| r.find(path));
        exact(method)
            .or_else(|| if method == "HEAD" { exact("GET") } else { None })
            .or_else(|| self.any_method.find(path))
    }

    /// The route with number `index`.
    pub fn get(&self, index: usize) -> Option<&Route> {
        self.routes.get(index)
    }

    /// Every route, in declaration order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

fn is_valid_method(m: &str) -> bool {
    m == "*"
        || (!m.is_empty()
            && m.len() <= 32
            && m.bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            access: Access::Public,
        }
    }

    #[test]
    fn matching_rules() {
        let mut t = RouteTable::new();
        t.add(route("GET", "/v1/claims/{id}")).expect("ok");
        t.add(route("POST", "/v1/claims")).expect("ok");
        t.add(route("*", "/health")).expect("ok");
        assert_eq!(t.find("GET", "/v1/claims/42"), Some(0));
        assert_eq!(t.find("HEAD", "/v1/claims/42"), Some(0));
        assert_eq!(t.find("get", "/v1/claims/42"), None);
        assert_eq!(t.find("GET", "/v1/claims/42/"), None);
        assert_eq!(t.find("GET", "/v1/claims"), None);
        assert_eq!(t.find("POST", "/v1/claims"), Some(1));
        assert_eq!(t.find("DELETE", "/health"), Some(2));
    }

    #[test]
    fn conflicts_and_bad_input() {
        let mut t = RouteTable::new();
        t.add(route("GET", "/a/{id}")).expect("ok");
        assert!(matches!(
            t.add(route("GET", "/a/{id}")),
            Err(RouteError::BadPath { .. })
        ));
        assert!(matches!(
            t.add(route("GET", "/a/{other}")),
            Err(RouteError::BadPath { .. })
        ));
        assert!(matches!(
            t.add(route("get", "/b")),
            Err(RouteError::BadMethod(_))
        ));
        assert!(matches!(
            t.add(route("GET", "b")),
            Err(RouteError::BadPath { .. })
        ));
        assert!(matches!(
            t.add(route("GET", "/c/{")),
            Err(RouteError::BadPath { .. })
        ));
        assert!(t.add(route("PUT", "/a/{id}")).is_ok());
    }
}
