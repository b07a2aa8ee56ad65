//! The policy: catalog, routes, transport rules, accepted key kinds and environments, and
//! lifecycle rules — loaded from TOML once, immutable after, safe to share between threads.
//!
//! ```toml
//! [service]
//! realm = "claimport"            # WWW-Authenticate realm
//! kinds = ["sk"]                 # accepted key kinds
//! environments = ["live", "test"]
//! deployment_env = "live"        # keys of other environments are refused here
//! unknown_routes = "deny"        # or "authenticated"
//!
//! [transport]
//! require_https = true           # default
//! allow_query_key = false        # default: ?api_key= is refused
//! query_param = "api_key"
//!
//! [lifecycle]
//! max_age_days = 90              # 0 = no maximum; past it: `rotation_due` warning
//! enforce_max_age = false        # true: refuse keys past the maximum age
//! expiring_soon_days = 7
//! accept_legacy_sha256 = false  # true only while migrating keys imported with sha256$ hashes
//!
//! [paths]                        # how request paths are matched (see `crate::path`)
//! case_sensitive = true          # default, as RFC 3986 paths are; false: ASCII letters fold
//! params = "refuse"              # default: 400 for `;` path parameters; "ignore": drop them
//!
//! [oauth]                        # the OAuth engine (`Policy::oauth`); defaults: OAuthConfig::default
//! code_ttl = 600                 # seconds, at most 600
//! access_ttl = 3600              # seconds
//! refresh_idle_ttl = 2592000     # seconds (30 days)
//! refresh_max_ttl = 7776000      # seconds (90 days)
//! refresh_grace = 0              # seconds
//! allow_plain_pkce = false
//! require_pkce_for_confidential = true
//! allow_body_credentials = false # true: client_secret_post (RFC 6749 §2.3.1) besides Basic
//! # default_scope = "claims:read"  # granted when an authorization request has no scope
//!
//! [[scopes]]
//! name = "claims:write"
//! description = "Write Claims"
//! implies = ["claims:read"]
//!
//! [[routes]]
//! method = "GET"
//! path = "/v1/claims/{id}"
//! require = "claims:read"        # or: access = "public" / "authenticated"
//! # class = "bulk"               # optional route class for [[limits]] (default: by method)
//!
//! [[limits]]                     # rate limits, applied after authentication (see `limit`)
//! name = "per_key"
//! per = "key"                    # or "owner": all keys of an organisation together
//! rate = 100                     # requests per window
//! window = 1                     # seconds
//! burst = 100                    # default: rate
//! # routes = "write"             # only requests of this class ("read", "write" or a route's)
//! # tiers = ["free"]             # only keys whose metadata.tier is listed
//! ```
//!
//! Routes: `method` is an upper-case HTTP method or `*` (any method); `path` a template of
//! literal segments, `{name}` (one segment) and a last `{*name}` (the rest). A request is
//! decided by the most specific template among the routes of its method, of `GET` (for
//! `HEAD`) and of `*` — the path first, then the method; at equal specificity the
//! request's own method beats `GET`, which beats `*` (see [`RouteTable`]). The host passes the
//! raw path as received, without the query string; ambiguous paths (`..`, `%2F`, `//`, …)
//! are refused with 400 before matching (see [`crate::PathRules`]).
//!
//! Loading reports every problem with its line and column ([`PolicyError`]), and keeps
//! warnings on the policy ([`Policy::warnings`]): routes of which a more specific route of
//! another method (`*`, or `GET` for `HEAD`) decides some requests, with other access.

mod file;
mod limits;
mod openapi;
mod routes;
mod segment;
mod template;

pub use crate::path::{PathParams, PathRules};
pub use file::{MAX_POLICY_LEN, PolicyError, PolicyIssue};
pub use limits::{MAX_CLASSES, MAX_LIMITS};
pub use openapi::{MAX_ALTERNATIVES, MAX_OPENAPI_LEN, OpenApiError};
pub use routes::{Access, Override, Route, RouteError, RouteTable};

use crate::format::KeyFormat;
use crate::scope::Catalog;

/// What happens to a request no route matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownRoutes {
    /// Refused with 403 after authentication (the default).
    Deny,
    /// Allowed for any valid key.
    Authenticated,
}

/// Transport rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transport {
    /// Refuse credentials over plain HTTP (default: true).
    pub require_https: bool,
    /// Accept a key in the query string (default: false).
    pub allow_query_key: bool,
    /// The query parameter name (default: `api_key`).
    pub query_param: String,
}

/// Key lifecycle rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    /// Maximum key age in seconds (default 90 days), if any.
    pub max_age: Option<u64>,
    /// Refuse keys past the maximum age (default: only warn).
    pub enforce_max_age: bool,
    /// Warn this many seconds before expiry (default 7 days).
    pub expiring_soon: u64,
    /// Accept records holding a plain SHA-256 (`sha256$…`, keys imported from an older
    /// system). Off by default: whoever can write the database could otherwise mint a
    /// working key without knowing the pepper. Turn it on only while migrating imported
    /// keys (each use reports `needs_rehash`; [`crate::Checker::rehash`] moves them).
    pub accept_legacy_sha256: bool,
}

/// A loaded, validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) realm: String,
    pub(crate) format: KeyFormat,
    pub(crate) deployment_env: String,
    pub(crate) transport: Transport,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) catalog: Catalog,
    pub(crate) routes: RouteTable,
    pub(crate) unknown_routes: UnknownRoutes,
    pub(crate) oauth: crate::oauth::OAuthConfig,
    /// Whether the text has an `[oauth]` section (OpenAPI then lists the OAuth scheme).
    pub(crate) oauth_declared: bool,
    pub(crate) warnings: Vec<PolicyIssue>,
    /// `[[limits]]`, in file order.
    pub(crate) limits: Vec<crate::limit::Limit>,
    /// Each route's class, when it names one (by route number).
    pub(crate) route_classes: Vec<Option<u8>>,
    /// Class names by id: `read`, `write`, then the routes' own.
    pub(crate) class_names: Vec<String>,
}

impl Policy {
    /// Loads a policy from TOML text, reporting every problem with its location.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        file::load(text)
    }

    /// The same policy for a deployment of another environment (e.g. a staging server
    /// that accepts only `test` keys). `None` when the environment is not accepted.
    pub fn for_environment(&self, env: &str) -> Option<Policy> {
        self.format.envs().iter().any(|e| e == env).then(|| Policy {
            deployment_env: env.to_owned(),
            ..self.clone()
        })
    }

    /// The OAuth engine's settings from the `[oauth]` section (every setting it leaves
    /// out keeps [`crate::oauth::OAuthConfig::default`], the secure profile). Pass it to
    /// [`crate::oauth::OAuthServer::new`].
    pub fn oauth(&self) -> &crate::oauth::OAuthConfig {
        &self.oauth
    }

    /// The realm of `WWW-Authenticate`.
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// Accepted kinds and environments.
    pub fn format(&self) -> &KeyFormat {
        &self.format
    }
    /// The environment this deployment accepts.
    pub fn deployment_env(&self) -> &str {
        &self.deployment_env
    }
    /// Transport rules.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
    /// Lifecycle rules.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }
    /// The compiled scope catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }
    /// The rule for unmatched routes.
    pub fn unknown_routes(&self) -> UnknownRoutes {
        self.unknown_routes
    }
    /// How request paths are matched (`[paths]`).
    pub fn paths(&self) -> PathRules {
        self.routes.rules()
    }
    /// What deserves a look in a policy that loaded, with locations (`policy check` shows
    /// them): routes of which a more specific route of another method decides some
    /// requests with other access.
    pub fn warnings(&self) -> &[PolicyIssue] {
        &self.warnings
    }
    /// The rate limits (`[[limits]]`), in file order.
    pub fn limits(&self) -> &[crate::limit::Limit] {
        &self.limits
    }
    /// The class of a request for `method` matched to route number `route` (if any):
    /// the route's `class`, else `read` for `GET`, `HEAD` and `OPTIONS`, `write` otherwise.
    pub fn request_class(&self, route: Option<usize>, method: &str) -> &str {
        let id = self.class_id(route, method);
        self.class_names
            .get(usize::from(id))
            .map_or("", String::as_str)
    }
    pub(crate) fn class_id(&self, route: Option<usize>, method: &str) -> u8 {
        let named = route.and_then(|r| self.route_classes.get(r).copied().flatten());
        named.unwrap_or(match method {
            "GET" | "HEAD" | "OPTIONS" => limits::READ,
            _ => limits::WRITE,
        })
    }
    /// Method and template of route number `index`.
    pub fn route_info(&self, index: usize) -> Option<(&str, &str)> {
        self.routes
            .get(index)
            .map(|r| (r.method.as_str(), r.path.as_str()))
    }
}
