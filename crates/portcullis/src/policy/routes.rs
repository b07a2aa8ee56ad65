//! Route matching: method + path template → access rule.
//!
//! Templates: `/v1/claims/{id}` (one segment), `/files/{*path}` (the rest); literal
//! segments are put in the normal form of the path rules ([`PathRules`](crate::PathRules)) when added.
//!
//! Decisions written down here:
//! - **The path first, then the method**, as routers do: among the routes of the
//!   request's method, of `GET` (for a `HEAD` request only) and of `*`, the most specific
//!   template matching the path wins; only then is the method applied.
//! - **Specificity** is decided segment by segment from the left: a literal beats a
//!   parameter, which beats a catch-all (`policy/template.rs`), whatever the methods and
//!   the declaration order. So `* /v1/admin/reset` decides `POST /v1/admin/reset` over
//!   `POST /v1/{*rest}`, and `HEAD` does not inherit `GET /v1/{*rest}` over it.
//! - **Ties** (templates of the same shape): the request's own method beats `GET` (for
//!   `HEAD`), which beats `*`. A method's route is the exception a `*` route leaves room
//!   for; `HEAD` is `GET` without a body.
//! - Methods match exactly (HTTP methods are case-sensitive).
//! - Two routes of one method whose templates have the same shape are a load error. A
//!   route of which a more specific route of another method decides some requests (all of
//!   them, possibly) with other access is a warning ([`RouteTable::overrides`]). Routes
//!   that more specific templates of their own method cover entirely (a catch-all beside
//!   a parameter and a parameter-plus-catch-all) are not detected.
//! - The path is checked against the path rules before matching: an ambiguous path is an
//!   error (400), never a fall-through to a broader route.
//!
//! Matching allocates nothing for a path already in normal form, and nothing for other
//! paths up to a few hundred bytes.

use super::template::Trie;
use crate::bytes::eq_public;
use crate::path::{self, PathError, PathRules, STACK_PATH};
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

impl RouteError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            RouteError::BadMethod(_) => &crate::codes::ROUTE_BAD_METHOD,
            RouteError::BadPath { .. } => &crate::codes::ROUTE_BAD_PATH,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// A route whose requests are partly decided by a more specific route of another method
/// (a `*` route, or a `GET` route for `HEAD` requests) that grants different access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Override {
    /// The route that does not decide every request its method and template match.
    pub route: usize,
    /// The more specific route that decides some of them.
    pub by: usize,
}

/// The routes whose templates have one shape, by method.
#[derive(Clone, Debug, Default)]
struct Slot {
    /// (method number, route number), for methods other than `*`.
    by_method: Vec<(usize, usize)>,
    /// The `*` route.
    any: Option<usize>,
}

impl Slot {
    fn of(&self, method: usize) -> Option<usize> {
        self.by_method
            .iter()
            .find(|&&(m, _)| m == method)
            .map(|&(_, route)| route)
    }

    /// The route for a request of method `own`, `head_get` being `GET`'s number for a
    /// `HEAD` request.
    #[inline(always)]
    fn pick(&self, own: Option<usize>, head_get: Option<usize>) -> Option<usize> {
        own.and_then(|m| self.of(m))
            .or_else(|| head_get.and_then(|m| self.of(m)))
            .or(self.any)
    }
}

/// A compiled route table. Immutable after building; safe to share between threads.
#[derive(Clone, Default)]
pub struct RouteTable {
    rules: PathRules,
    /// One trie of every template; its values are numbers in `slots`.
    trie: Trie,
    slots: Vec<Slot>,
    /// Method names (not `*`), numbered by position: a short list searched linearly is
    /// faster than hashing the method for the handful of methods an API has.
    methods: Vec<String>,
    /// The number of `GET` in `methods`.
    get: Option<usize>,
    routes: Vec<Route>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("rules", &self.rules)
            .field("routes", &self.routes)
            .finish()
    }
}

impl RouteTable {
    /// An empty table with the default path rules (case-sensitive, `;` refused).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table matching paths under `rules`.
    pub fn with_rules(rules: PathRules) -> Self {
        RouteTable {
            rules,
            ..Self::default()
        }
    }

    /// The path rules.
    pub fn rules(&self) -> PathRules {
        self.rules
    }

    /// Adds a route; duplicates (same method, same template shape) and invalid templates
    /// are errors.
    pub fn add(&mut self, route: Route) -> Result<(), RouteError> {
        if !is_valid_method(&route.method) {
            return Err(RouteError::BadMethod(route.method));
        }
        let bad = |message: String| RouteError::BadPath {
            path: route.path.clone(),
            message,
        };
        let template = normal_template(&route.path, self.rules).map_err(bad)?;
        let value = self.trie.slot(&template).map_err(bad)?;
        let slot = *value.get_or_insert(self.slots.len());
        if slot == self.slots.len() {
            self.slots.push(Slot::default());
        }
        let index = self.routes.len();
        let method = (route.method != "*").then(|| self.method_number(&route.method));
        let Some(entry) = self.slots.get_mut(slot) else {
            return Err(bad("internal: no slot".into()));
        };
        let existing = match method {
            None => entry.any,
            Some(m) => entry.of(m),
        };
        if let Some(other) = existing {
            return Err(bad(format!(
                "conflicts with {:?} (same method, same shape)",
                self.routes.get(other).map_or("", |r| r.path.as_str())
            )));
        }
        match method {
            None => entry.any = Some(index),
            Some(m) => entry.by_method.push((m, index)),
        }
        self.routes.push(route);
        Ok(())
    }

    fn method_number(&mut self, method: &str) -> usize {
        if let Some(at) = self.methods.iter().position(|m| m == method) {
            return at;
        }
        self.methods.push(method.to_owned());
        let at = self.methods.len() - 1;
        if method == "GET" {
            self.get = Some(at);
        }
        at
    }

    /// The number of the route deciding a request, if any: the most specific template
    /// among the routes of `method`, of `GET` (when `method` is `HEAD`) and of `*` (see
    /// the module docs). `path` is the raw path (see [`PathRules`](crate::PathRules)); an ambiguous one is
    /// an error. No allocation for paths in normal form or up to a few hundred bytes.
    #[inline]
    pub fn find(&self, method: &str, path: &str) -> Result<Option<usize>, PathError> {
        let rewrite = path::check(path.as_bytes(), self.rules)?;
        let own = self
            .methods
            .iter()
            .position(|name| eq_public(name.as_bytes(), method.as_bytes()));
        let head_get = if method == "HEAD" { self.get } else { None };
        let pick = |slot: usize| self.slots.get(slot).and_then(|s| s.pick(own, head_get));
        Ok(if rewrite {
            self.find_normalized(path.as_bytes(), &pick)
        } else {
            self.trie.find_by(path.as_bytes(), &pick)
        })
    }

    /// Matches the normal form of `path`, written on the stack when it fits.
    #[cold]
    #[inline(never)]
    fn find_normalized<F: Fn(usize) -> Option<usize>>(
        &self,
        path: &[u8],
        pick: &F,
    ) -> Option<usize> {
        let mut stack = [0u8; STACK_PATH];
        let mut heap = Vec::new();
        let out = match stack.get_mut(..path.len()) {
            Some(out) => out,
            None => {
                heap.resize(path.len(), 0);
                &mut heap[..]
            }
        };
        let len = path::normalize(path, self.rules, out);
        self.trie.find_by(out.get(..len)?, pick)
    }

    /// The route with number `index`.
    pub fn get(&self, index: usize) -> Option<&Route> {
        self.routes.get(index)
    }

    /// Every route, in declaration order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes whose requests are partly decided by a more specific route of another
    /// method with different access: a `*` route, or a `GET` route for `HEAD` requests.
    /// Worth a look in a policy: a route broad in path but narrow in method does not
    /// decide every request of its method that it matches.
    pub fn overrides(&self) -> Vec<Override> {
        let templates: Vec<String> = self
            .routes
            .iter()
            .map(|r| normal_template(&r.path, self.rules).unwrap_or_default())
            .collect();
        let shapes: Vec<Vec<Shape<'_>>> = templates.iter().map(|t| shape(t)).collect();
        let of = |method: &str| -> Vec<usize> {
            let routes = self.routes.iter().enumerate();
            routes
                .filter(|(_, r)| r.method == method)
                .map(|(j, _)| j)
                .collect()
        };
        let (any, get) = (of("*"), of("GET"));
        let mut found = Vec::new();
        for (i, (route, a)) in self.routes.iter().zip(&shapes).enumerate() {
            let takers = match route.method.as_str() {
                "*" => continue,
                "HEAD" => [&any[..], &get[..]],
                _ => [&any[..], &[]],
            };
            for &j in takers.into_iter().flatten() {
                let (Some(other), Some(b)) = (self.routes.get(j), shapes.get(j)) else {
                    continue;
                };
                if other.access != route.access && beats(b, a) {
                    found.push(Override { route: i, by: j });
                }
            }
        }
        found.sort_unstable_by_key(|o| (o.route, o.by));
        found
    }
}

/// The template with its literal segments in normal form.
fn normal_template(template: &str, rules: PathRules) -> Result<String, String> {
    let rest = template
        .strip_prefix('/')
        .ok_or_else(|| "must start with '/'".to_owned())?;
    let count = rest.split('/').count();
    let mut out = String::with_capacity(template.len());
    for (i, segment) in rest.split('/').enumerate() {
        out.push('/');
        if segment.starts_with('{') {
            out.push_str(segment);
        } else {
            let literal = path::template_literal(segment, i + 1 == count, rules)
                .map_err(|e| format!("segment {segment:?}: {e}"))?;
            out.push_str(&literal);
        }
    }
    Ok(out)
}

/// One segment of a template in normal form, for comparing templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape<'t> {
    Literal(&'t str),
    Param,
    CatchAll,
}

fn shape(template: &str) -> Vec<Shape<'_>> {
    template
        .strip_prefix('/')
        .unwrap_or(template)
        .split('/')
        .map(|s| match s.strip_prefix('{') {
            Some(p) if p.starts_with('*') => Shape::CatchAll,
            Some(_) => Shape::Param,
            None => Shape::Literal(s),
        })
        .collect()
}

/// Whether some path matches both templates and `a` is the more specific there (the
/// trie's order: at the first segment where they differ, literal, then parameter, then
/// catch-all). For two templates that share a path, the answer holds for every path
/// they share.
fn beats(a: &[Shape<'_>], b: &[Shape<'_>]) -> bool {
    // A catch-all needs a non-empty rest; the only empty rest is one empty last segment.
    let nonempty = |rest: &[Shape<'_>]| rest != [Shape::Literal("")];
    let mut decided: Option<bool> = None;
    let mut i = 0;
    loop {
        let (x, y) = (a.get(i), b.get(i));
        match (x, y) {
            (None, None) | (Some(Shape::CatchAll), Some(Shape::CatchAll)) => {
                return decided == Some(true);
            }
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(Shape::CatchAll), Some(_)) => {
                return decided == Some(true) && nonempty(b.get(i..).unwrap_or_default());
            }
            (Some(_), Some(Shape::CatchAll)) => {
                return decided != Some(false) && nonempty(a.get(i..).unwrap_or_default());
            }
            (Some(Shape::Literal(p)), Some(Shape::Literal(q))) if p != q => return false,
            (Some(Shape::Literal(l)), Some(Shape::Param))
            | (Some(Shape::Param), Some(Shape::Literal(l)))
                if l.is_empty() =>
            {
                return false;
            }
            (Some(Shape::Literal(_)), Some(Shape::Param)) => {
                decided.get_or_insert(true);
            }
            (Some(Shape::Param), Some(Shape::Literal(_))) => {
                decided.get_or_insert(false);
            }
            _ => {}
        }
        i += 1;
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
    use crate::path::PathParams;

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            access: Access::Public,
        }
    }

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        let mut t = RouteTable::new();
        for (method, path) in routes {
            t.add(route(method, path)).expect(path);
        }
        t
    }

    fn find(t: &RouteTable, method: &str, path: &str) -> Option<usize> {
        t.find(method, path).expect(path)
    }

    #[test]
    fn matching_rules() {
        let t = table(&[
            ("GET", "/v1/claims/{id}"),
            ("POST", "/v1/claims"),
            ("*", "/health"),
        ]);
        assert_eq!(find(&t, "GET", "/v1/claims/42"), Some(0));
        assert_eq!(find(&t, "HEAD", "/v1/claims/42"), Some(0));
        assert_eq!(find(&t, "get", "/v1/claims/42"), None);
        assert_eq!(find(&t, "GET", "/v1/claims/42/"), None);
        assert_eq!(find(&t, "GET", "/v1/claims"), None);
        assert_eq!(find(&t, "POST", "/v1/claims"), Some(1));
        assert_eq!(find(&t, "DELETE", "/health"), Some(2));
    }

    #[test]
    fn the_most_specific_template_wins_across_the_method_get_and_any_trees() {
        let t = table(&[
            ("GET", "/v1/{*rest}"),
            ("POST", "/v1/{*rest}"),
            ("*", "/v1/admin/reset"),
            ("HEAD", "/v2/{*rest}"),
            ("GET", "/v2/secret"),
        ]);
        assert_eq!(find(&t, "HEAD", "/v1/admin/reset"), Some(2));
        assert_eq!(find(&t, "POST", "/v1/admin/reset"), Some(2));
        assert_eq!(find(&t, "GET", "/v1/admin/reset"), Some(2));
        assert_eq!(find(&t, "POST", "/v1/claims"), Some(1));
        assert_eq!(find(&t, "HEAD", "/v1/claims"), Some(0));
        // A `GET` template more specific than `HEAD`'s own decides `HEAD` requests too.
        assert_eq!(find(&t, "HEAD", "/v2/secret"), Some(4));
        assert_eq!(find(&t, "HEAD", "/v2/other"), Some(3));
        // Methods with no route of their own see only `*` routes.
        assert_eq!(find(&t, "DELETE", "/v1/claims"), None);
        assert_eq!(find(&t, "DELETE", "/v1/admin/reset"), Some(2));
    }

    #[test]
    fn at_equal_specificity_the_method_beats_get_for_head_which_beats_any() {
        let t = table(&[
            ("*", "/x/{id}"),
            ("GET", "/x/{key}"),
            ("HEAD", "/y/{id}"),
            ("GET", "/y/{id}"),
            ("*", "/y/{id}"),
        ]);
        assert_eq!(find(&t, "GET", "/x/1"), Some(1));
        assert_eq!(find(&t, "HEAD", "/x/1"), Some(1));
        assert_eq!(find(&t, "POST", "/x/1"), Some(0));
        assert_eq!(find(&t, "HEAD", "/y/1"), Some(2));
        assert_eq!(find(&t, "GET", "/y/1"), Some(3));
        assert_eq!(find(&t, "PUT", "/y/1"), Some(4));
    }

    #[test]
    fn a_route_of_another_method_does_not_stop_the_search() {
        // `POST /a/special` is more specific, but not a candidate for `GET`.
        let t = table(&[("GET", "/a/{id}"), ("POST", "/a/special")]);
        assert_eq!(find(&t, "GET", "/a/special"), Some(0));
        assert_eq!(find(&t, "POST", "/a/special"), Some(1));
        assert_eq!(find(&t, "POST", "/a/other"), None);
    }

    #[test]
    fn ambiguous_paths_are_errors_before_matching() {
        let t = table(&[("GET", "/static/{*rest}"), ("GET", "/v1/claims/{id}")]);
        assert_eq!(
            t.find("GET", "/static/../admin/users"),
            Err(PathError::DotSegment)
        );
        assert_eq!(
            t.find("GET", "/v1/claims/..%2Fadmin"),
            Err(PathError::EncodedSeparator)
        );
        assert_eq!(find(&t, "GET", "/static/%61/b"), Some(0));
    }

    #[test]
    fn templates_take_the_normal_form_of_the_rules() {
        let mut t = RouteTable::with_rules(PathRules {
            case_sensitive: false,
            params: PathParams::Ignore,
        });
        t.add(route("GET", "/v1/claims/{id}")).expect("ok");
        t.add(route("GET", "/v1/Claims/%65xport")).expect("ok");
        assert!(matches!(
            t.add(route("GET", "/V1/claims/EXPORT")),
            Err(RouteError::BadPath { .. })
        ));
        assert_eq!(find(&t, "GET", "/v1/claims/Export"), Some(1));
        assert_eq!(find(&t, "GET", "/V1/CLAIMS/export;v=1"), Some(1));
        assert_eq!(find(&t, "GET", "/v1/claims/42"), Some(0));
        let long = format!("/v1/claims/{}", "A".repeat(2 * STACK_PATH));
        assert_eq!(find(&t, "GET", &long), Some(0));
    }

    #[test]
    fn conflicts_and_bad_input() {
        let mut t = table(&[("GET", "/a/{id}")]);
        for (method, path) in [
            ("GET", "/a/{id}"),
            ("GET", "/a/{other}"),
            ("GET", "b"),
            ("GET", "/c/{"),
            ("GET", "/c/../d"),
            ("GET", "/c//d"),
            ("GET", "/c/%2F"),
            ("GET", "/c/a;b"),
            ("GET", "/c/a b"),
        ] {
            assert!(
                matches!(t.add(route(method, path)), Err(RouteError::BadPath { .. })),
                "{path}"
            );
        }
        assert!(matches!(
            t.add(route("get", "/b")),
            Err(RouteError::BadMethod(_))
        ));
        assert!(t.add(route("PUT", "/a/{id}")).is_ok());
        assert!(t.add(route("*", "/a/{x}")).is_ok());
        assert!(t.add(route("*", "/a/{y}")).is_err());
    }

    #[test]
    fn overrides_name_routes_a_more_specific_route_of_another_method_takes() {
        let mut t = RouteTable::new();
        let admin = Access::Requires(Requirement::authenticated());
        for (method, path, access) in [
            ("GET", "/v1/{*rest}", Access::Public),
            ("POST", "/v1/{*rest}", admin.clone()),
            ("*", "/v1/admin/reset", Access::Public),
            ("HEAD", "/v2/{id}", Access::Public),
            ("GET", "/v2/secret", admin.clone()),
            ("*", "/v3/{id}", admin.clone()),
            ("GET", "/v3/{id}/x", Access::Public),
        ] {
            t.add(Route {
                method: method.into(),
                path: path.into(),
                access,
            })
            .expect(path);
        }
        // Route 0 has the access of route 2: no surprise there.
        assert_eq!(
            t.overrides(),
            [Override { route: 1, by: 2 }, Override { route: 3, by: 4 }]
        );
    }

    #[test]
    fn beats_agrees_with_the_trie() {
        // Every pair of templates that share a path: the trie picks the one `beats` says.
        let templates = [
            "/a/{x}", "/a/b", "/a/{*r}", "/{x}/b", "/{*r}", "/a/", "/a/b/{x}", "/{x}/{y}", "/a",
            "/",
        ];
        let paths = ["/a/b", "/a/c", "/a/", "/a/b/c", "/c/b", "/a", "/", "/c/d/e"];
        let mut shared = 0;
        for (i, a) in templates.iter().enumerate() {
            for b in templates.iter().skip(i + 1) {
                let mut t = RouteTable::new();
                t.add(route("GET", a)).expect(a);
                t.add(route("POST", b)).expect(b);
                let (sa, sb) = (shape(a), shape(b));
                for path in paths {
                    let (ma, mb) = (find(&t, "GET", path), find(&t, "POST", path));
                    if ma == Some(0) && mb == Some(1) {
                        shared += 1;
                        let mut both = RouteTable::new();
                        both.add(route("GET", a)).expect(a);
                        both.add(route("*", b)).expect(b);
                        let winner = find(&both, "GET", path);
                        let want = if beats(&sb, &sa) { Some(1) } else { Some(0) };
                        assert_eq!(winner, want, "{a} vs {b} on {path}");
                        assert!(beats(&sa, &sb) != beats(&sb, &sa), "{a} vs {b}");
                    }
                }
            }
        }
        assert!(shared > 20, "{shared}");
    }
}
