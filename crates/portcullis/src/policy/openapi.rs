//! OpenAPI 3.1 from the policy: the security schemes the API accepts and, per operation,
//! the security requirement its route enforces — so a document's Authorize button asks for
//! what the checker will demand.
//!
//! Decisions written down here:
//! - **One operation per route and method** under its template: `{*rest}` becomes `{rest}`
//!   (OpenAPI has no catch-all; its parameter says the value may hold `/`), and every
//!   `{name}` gets a required string path parameter so the document validates.
//! - **A `*` route** appears under each of OpenAPI's eight methods that the route decides
//!   at its own template (asked of the route table with a sample path, so a method's own
//!   route, or `GET` for `HEAD`, keeps its place). Methods OpenAPI 3.1 cannot name
//!   (`PURGE`, …) are left out; `HEAD` is not listed for a `GET` route (OpenAPI convention).
//! - **Schemes:** `apiKey` (`http` bearer: the key in `Authorization: Bearer`), `apiKeyQuery`
//!   (`apiKey` in the query) only when the policy accepts keys there, and `oauth2`
//!   (authorization code) only when the policy has an `[oauth]` section or an issuer;
//!   its scopes are the catalog, in catalog order, with their descriptions.
//! - **OAuth URLs:** `{issuer}/oauth/authorize` and `{issuer}/oauth/token` (the product's
//!   documented endpoints) when an issuer is configured, else the same paths relative to
//!   the API's server (OpenAPI 3.1 allows relative URLs); the token URL refreshes too.
//! - **Security:** one requirement object per alternative and scheme (schemes in one
//!   object would mean both credentials at once); an alternative lists the declared scopes
//!   a credential may hold to pass, implications expanded: `claims:read` becomes
//!   `claims:read`, `claims:write` or `full_access`. Only minimal sets are listed; a
//!   requirement that expands to more than [`MAX_ALTERNATIVES`] sets lists its terms as
//!   written instead. Authenticated routes get an empty scope list, public routes
//!   `security: []`. Wildcard grants (`claims:*`) are not scopes and are never listed.
//! - **`x-portcullis-access`** on each operation holds the requirement's canonical text
//!   (`public`, `authenticated`, `claims:read | full_access`) for people and tools.
//! - **Merging** ([`Policy::openapi_merged`]): our schemes are added (replacing ones of the
//!   same name); an operation of the document gets the security of the route that decides
//!   its requests (the route table is asked, with a sample value for each parameter, so a
//!   `{claimId}` matches `{id}` and a catch-all covers what it decides); operations no
//!   route decides are left as they are, and policy routes the document lacks are not
//!   added (the document says which operations exist; the policy only secures them).
//!   Paths are matched as written: a base path in `servers` is not prepended.
//! - Objects come out with sorted keys (serde_json's map), two-space indented: the same
//!   policy always gives the same bytes.

use super::{Access, Policy};
use crate::scope::{Catalog, Requirement, ScopeSet};
use serde_json::{Map, Value, json};

/// The largest document [`Policy::openapi_merged`] reads, in bytes (4 MiB).
pub const MAX_OPENAPI_LEN: usize = 4 << 20;

/// The most scope sets one operation's security lists before falling back to the
/// requirement's terms as written.
pub const MAX_ALTERNATIVES: usize = 64;

/// The OpenAPI version written.
const VERSION: &str = "3.1.0";

/// OpenAPI's methods, lower case as path items name them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A parameter value no literal segment is likely to be (percent-encoded braces).
const SAMPLE: &str = "%7Bparam%7D";

/// The scheme names.
const API_KEY: &str = "apiKey";
const API_KEY_QUERY: &str = "apiKeyQuery";
const OAUTH2: &str = "oauth2";

/// Why [`Policy::openapi_merged`] refused a document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// Longer than [`MAX_OPENAPI_LEN`].
    #[error("the OpenAPI document is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Not JSON.
    #[error("the OpenAPI document is not valid JSON (line {line}, column {column})")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// JSON, but not an OpenAPI 3.x object: what is wrong.
    #[error("not an OpenAPI 3.x document: {0}")]
    NotOpenApi(&'static str),
}

impl OpenApiError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            OpenApiError::TooLarge { .. } => &crate::codes::OPENAPI_TOO_LARGE,
            OpenApiError::Json { .. } => &crate::codes::OPENAPI_BAD_JSON,
            OpenApiError::NotOpenApi(_) => &crate::codes::OPENAPI_BAD_DOCUMENT,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

impl Policy {
    /// A complete OpenAPI 3.1 document (pretty JSON) of the policy's routes: `info` (the
    /// realm, version `1`), one operation per route and method with its path parameters,
    /// the security schemes and each operation's `security` (see the module docs of
    /// `policy::openapi` for every choice). The same policy always gives the same text.
    pub fn openapi(&self) -> String {
        let mut paths = Map::new();
        // Templates of one shape share the first one's path (OpenAPI forbids two paths
        // that differ only in parameter names).
        let mut keys: Map<String, Value> = Map::new();
        for (index, route) in self.routes.routes().iter().enumerate() {
            let key = openapi_path(&route.path);
            let key = match keys.entry(sample_path(&key)).or_insert(Value::String(key)) {
                Value::String(first) => first.clone(),
                _ => continue,
            };
            let item = paths.entry(key.clone()).or_insert_with(|| {
                let mut item = Map::new();
                let parameters = parameters(&route.path);
                if !parameters.is_empty() {
                    item.insert("parameters".into(), Value::Array(parameters));
                }
                Value::Object(item)
            });
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for method in METHODS {
                if self.deciding_route(method, &key) == Some(index) && decides(route, method) {
                    item.insert(method.into(), self.operation(&route.access));
                }
            }
        }
        let document = json!({
            "openapi": VERSION,
            "info": {
                "title": self.realm,
                "version": "1",
                "description": format!(
                    "The API of {}, secured as its portcullis policy says.",
                    self.realm
                ),
            },
            "paths": paths,
            "components": { "securitySchemes": self.security_schemes() },
        });
        pretty(&document)
    }

    /// Merges the policy's security into an existing OpenAPI 3.x JSON document (at most
    /// [`MAX_OPENAPI_LEN`] bytes): adds the security schemes (replacing any of the same
    /// name) and sets `security` on every operation a policy route decides; other
    /// operations, and everything else, are kept (object keys come out sorted). Routes the
    /// document lacks are not added.
    pub fn openapi_merged(&self, document: &str) -> Result<String, OpenApiError> {
        if document.len() > MAX_OPENAPI_LEN {
            return Err(OpenApiError::TooLarge {
                limit: MAX_OPENAPI_LEN,
            });
        }
        let mut value: Value = serde_json::from_str(document).map_err(|e| OpenApiError::Json {
            line: e.line(),
            column: e.column(),
        })?;
        let root = value.as_object_mut().ok_or(OpenApiError::NotOpenApi(
            "the document is not a JSON object",
        ))?;
        let is_3x = root
            .get("openapi")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("3."));
        if !is_3x {
            return Err(OpenApiError::NotOpenApi(
                "no `openapi` member with a 3.x version",
            ));
        }
        if let Some(paths) = root.get_mut("paths") {
            let paths = paths
                .as_object_mut()
                .ok_or(OpenApiError::NotOpenApi("`paths` is not an object"))?;
            for (path, item) in paths.iter_mut() {
                // A path item that is not an object (or a `$ref`) is not ours to judge.
                let Some(item) = item.as_object_mut() else {
                    continue;
                };
                for method in METHODS {
                    let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut)
                    else {
                        continue;
                    };
                    let route = self
                        .deciding_route(method, path)
                        .and_then(|i| self.routes.get(i));
                    if let Some(route) = route {
                        operation.insert("security".into(), self.security(&route.access));
                    }
                }
            }
        }
        let components = root
            .entry("components")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or(OpenApiError::NotOpenApi("`components` is not an object"))?;
        let schemes = components
            .entry("securitySchemes")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or(OpenApiError::NotOpenApi(
                "`components.securitySchemes` is not an object",
            ))?;
        if let Value::Object(ours) = self.security_schemes() {
            schemes.extend(ours);
        }
        Ok(pretty(&value))
    }

    /// The route deciding `method` (lower case) on an OpenAPI path, each `{…}` replaced by
    /// a sample value; `None` for a path the rules refuse or no route decides.
    fn deciding_route(&self, method: &str, path: &str) -> Option<usize> {
        let sample = sample_path(path);
        let upper = method.to_ascii_uppercase();
        self.routes.find(&upper, &sample).ok().flatten()
    }

    /// Whether OAuth access tokens are part of the API: an `[oauth]` section or an issuer.
    fn has_oauth(&self) -> bool {
        self.oauth_declared || self.oauth.issuer.is_some()
    }

    fn security_schemes(&self) -> Value {
        let kinds = self.format.kinds();
        let example = format!(
            "{}_{}_…",
            kinds.first().map_or("sk", String::as_str),
            self.deployment_env
        );
        let mut schemes = Map::new();
        schemes.insert(
            API_KEY.into(),
            json!({
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "API key",
                "description": format!(
                    "An API key ({example}; kinds {}, environments {}) sent as \
                     `Authorization: Bearer {example}`. Keys are created with the scopes \
                     listed under each operation.",
                    kinds.join(", "),
                    self.format.envs().join(", "),
                ),
            }),
        );
        if self.transport.allow_query_key {
            schemes.insert(
                API_KEY_QUERY.into(),
                json!({
                    "type": "apiKey",
                    "in": "query",
                    "name": self.transport.query_param,
                    "description": format!(
                        "The API key ({example}) in the query string: accepted, but the \
                         header keeps it out of logs."
                    ),
                }),
            );
        }
        if self.has_oauth() {
            let base = self
                .oauth
                .issuer
                .as_ref()
                .map_or("", |i| i.as_str().trim_end_matches('/'));
            let scopes: Map<String, Value> = self
                .catalog
                .scopes()
                .iter()
                .map(|s| (s.name.clone(), Value::String(s.description.clone())))
                .collect();
            let token = format!("{base}/oauth/token");
            schemes.insert(
                OAUTH2.into(),
                json!({
                    "type": "oauth2",
                    "description": format!(
                        "OAuth 2.0 authorization code (PKCE S256); access tokens expire \
                         after {} seconds, refresh tokens rotate.",
                        self.oauth.access_ttl
                    ),
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": format!("{base}/oauth/authorize"),
                            "tokenUrl": token,
                            "refreshUrl": token,
                            "scopes": scopes,
                        }
                    },
                }),
            );
        }
        Value::Object(schemes)
    }

    fn operation(&self, access: &Access) -> Value {
        let mut op = Map::new();
        op.insert("security".into(), self.security(access));
        op.insert(
            "x-portcullis-access".into(),
            Value::String(match access {
                Access::Public => "public".into(),
                Access::Requires(r) if r.terms().iter().all(ScopeSet::is_empty) => {
                    "authenticated".into()
                }
                Access::Requires(r) => r.canonical(&self.catalog),
            }),
        );
        if let Access::Requires(_) = access {
            op.insert(
                "responses".into(),
                json!({
                    "401": {
                        "description": "No valid credential (`WWW-Authenticate: Bearer …`).",
                    },
                    "403": {
                        "description": "The credential lacks the scopes this operation needs \
                                        (`error=\"insufficient_scope\"`).",
                    },
                }),
            );
        }
        Value::Object(op)
    }

    /// The `security` array of an access rule.
    fn security(&self, access: &Access) -> Value {
        let Access::Requires(requirement) = access else {
            return Value::Array(Vec::new());
        };
        let mut schemes = vec![API_KEY];
        if self.transport.allow_query_key {
            schemes.push(API_KEY_QUERY);
        }
        if self.has_oauth() {
            schemes.push(OAUTH2);
        }
        let mut out = Vec::new();
        for alternative in alternatives(&self.catalog, requirement) {
            let names: Vec<Value> = self
                .catalog
                .names(&alternative)
                .map(|n| Value::String(n.to_owned()))
                .collect();
            for scheme in &schemes {
                let mut object = Map::new();
                object.insert((*scheme).into(), Value::Array(names.clone()));
                out.push(Value::Object(object));
            }
        }
        Value::Array(out)
    }
}

/// Whether a route of `route.method` is listed under `method` (lower case).
fn decides(route: &super::Route, method: &str) -> bool {
    route.method == "*" || route.method.eq_ignore_ascii_case(method)
}

/// The sets of declared scopes that meet a requirement when granted, implications
/// expanded, minimal (no set contains another), smallest first, then in catalog order.
fn alternatives(catalog: &Catalog, requirement: &Requirement) -> Vec<ScopeSet> {
    let closure = |set: &ScopeSet| -> ScopeSet {
        let names: Vec<&str> = catalog.names(set).collect();
        catalog.grant(&names).set
    };
    // Who grants scope `i`: every declared scope whose closure holds it.
    let givers = |i: usize| -> Vec<usize> {
        (0..catalog.len())
            .filter(|&s| {
                catalog
                    .name(s)
                    .and_then(|n| catalog.expand(n))
                    .is_some_and(|set| set.contains(i))
            })
            .collect()
    };
    let mut all = Vec::new();
    for term in requirement.terms() {
        let mut sets = vec![ScopeSet::EMPTY];
        for needed in term.iter() {
            let from = givers(needed);
            let mut next = Vec::new();
            for set in &sets {
                if closure(set).contains(needed) {
                    next.push(*set);
                    continue;
                }
                for &giver in &from {
                    let mut grown = *set;
                    grown.insert(giver);
                    next.push(grown);
                }
            }
            sets = minimal(next);
            if sets.len() > MAX_ALTERNATIVES {
                // Too many to list usefully: the term as written still passes.
                sets = vec![*term];
                break;
            }
        }
        all.extend(sets);
    }
    let mut all = minimal(all);
    if all.len() > MAX_ALTERNATIVES {
        all = minimal(requirement.terms().to_vec());
    }
    all.sort_by_key(|s| (s.len(), s.iter().collect::<Vec<_>>()));
    all
}

/// The sets of which no other is a subset, each once.
fn minimal(mut sets: Vec<ScopeSet>) -> Vec<ScopeSet> {
    sets.sort_by_key(|s| (s.len(), s.iter().collect::<Vec<_>>()));
    sets.dedup();
    let mut kept: Vec<ScopeSet> = Vec::new();
    for set in sets {
        if !kept.iter().any(|k| k.is_subset(&set)) {
            kept.push(set);
        }
    }
    kept
}

/// The OpenAPI path of a template: `{*rest}` becomes `{rest}`.
fn openapi_path(template: &str) -> String {
    template.replace("{*", "{")
}

/// A request path for an OpenAPI path: every `{…}` replaced by [`SAMPLE`].
fn sample_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(SAMPLE);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The path parameters of a template, in order.
fn parameters(template: &str) -> Vec<Value> {
    template
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (name, rest) = match name.strip_prefix('*') {
                Some(name) => (name, true),
                None => (name, false),
            };
            let description = if rest {
                "The rest of the path (may contain `/`)."
            } else {
                "One path segment."
            };
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": description,
                "schema": { "type": "string" },
            })
        })
        .collect()
}

fn pretty(value: &Value) -> String {
    // Serializing a `Value` cannot fail (its keys are strings); the fallback is unreachable.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_paths_replace_every_parameter() {
        assert_eq!(sample_path("/a/{id}/b/{x}"), "/a/%7Bparam%7D/b/%7Bparam%7D");
        assert_eq!(sample_path("/f/{name}.json"), "/f/%7Bparam%7D.json");
        assert_eq!(sample_path("/a/{open"), "/a/{open");
        assert_eq!(openapi_path("/s/{*rest}"), "/s/{rest}");
    }

    #[test]
    fn minimal_drops_supersets_and_duplicates() {
        let set = |v: &[usize]| {
            let mut s = ScopeSet::EMPTY;
            v.iter().for_each(|&i| s.insert(i));
            s
        };
        let kept = minimal(vec![set(&[0, 1]), set(&[1]), set(&[1]), set(&[2, 3])]);
        assert_eq!(kept, vec![set(&[1]), set(&[2, 3])]);
    }
}
