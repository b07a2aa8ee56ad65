//! Which route decides a request: route precedence across methods, and the path rules
//! (ambiguous paths refused before matching, escapes decoded, case and `;` parameters as
//! the policy says). The cases of issue #15 (items 1 and 2), verbatim.

mod common;

use common::NOW;
use portcullis::{Checker, KeySpec, MemoryStore, Policy, Request, Timestamp};

const SCOPES: &str = r#"
[[scopes]]
name = "claims:read"
[[scopes]]
name = "claims:export"
[[scopes]]
name = "admin"
"#;

/// The routes of issue #15 item 1.
const PRECEDENCE: &str = r#"
[[routes]]
method = "GET"
path = "/v1/{*rest}"
access = "public"
[[routes]]
method = "POST"
path = "/v1/{*rest}"
access = "authenticated"
[[routes]]
method = "*"
path = "/v1/admin/reset"
require = "admin"
"#;

/// The routes of issue #15 item 2.
const CLAIMS: &str = r#"
[[routes]]
method = "GET"
path = "/v1/claims/{id}"
require = "claims:read"
[[routes]]
method = "GET"
path = "/v1/claims/export"
require = "claims:export"
[[routes]]
method = "GET"
path = "/static/{*rest}"
access = "public"
[[routes]]
method = "GET"
path = "/admin/users"
require = "admin"
"#;

struct World {
    checker: Checker,
    store: MemoryStore,
    /// `Authorization` header of a key with `claims:read` only.
    reader: String,
}

fn world(extra: &str, routes: &str) -> World {
    let text = format!("{extra}\n{SCOPES}\n{routes}");
    let policy = Policy::from_toml(&text).expect("policy loads");
    let checker = common::checker_of(policy);
    let store = MemoryStore::new();
    let issued = checker
        .issue(&KeySpec::new("k", "o", ["claims:read"]), Timestamp(NOW))
        .expect("issue");
    let reader = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    World {
        checker,
        store,
        reader,
    }
}

impl World {
    /// Status, reason code and route template of a request, with the reader's key or none.
    fn decide(&self, method: &str, path: &str, key: bool) -> (u16, &'static str, Option<String>) {
        let mut request = Request::new(method, path).https(true);
        if key {
            request = request.authorization(&self.reader);
        }
        let d = self.checker.check(&request, &self.store, Timestamp(NOW));
        let route = d.route().map(|(_, p)| p.to_owned());
        (d.status(), d.reason().code(), route)
    }
}

#[test]
fn head_does_not_inherit_a_get_catch_all_over_a_specific_any_route() {
    let w = world("", PRECEDENCE);
    let (status, reason, route) = w.decide("HEAD", "/v1/admin/reset", false);
    assert_eq!((status, reason), (401, "missing_credential"));
    assert_eq!(route.as_deref(), Some("/v1/admin/reset"));
}

#[test]
fn a_post_catch_all_does_not_beat_a_more_specific_any_route() {
    let w = world("", PRECEDENCE);
    let (status, reason, route) = w.decide("POST", "/v1/admin/reset", true);
    assert_eq!((status, reason), (403, "insufficient_scope"));
    assert_eq!(route.as_deref(), Some("/v1/admin/reset"));
}

#[test]
fn the_broad_method_routes_still_decide_the_paths_nothing_more_specific_matches() {
    let w = world("", PRECEDENCE);
    assert_eq!(w.decide("HEAD", "/v1/claims", false).1, "public");
    assert_eq!(w.decide("GET", "/v1/claims", false).1, "public");
    assert_eq!(w.decide("POST", "/v1/claims", true).1, "allowed");
    assert_eq!(w.decide("GET", "/v1/admin/reset", true).0, 403);
}

#[test]
fn at_equal_specificity_the_method_route_beats_the_any_route() {
    let routes = r#"
[[routes]]
method = "*"
path = "/v1/reports/{id}"
require = "admin"
[[routes]]
method = "GET"
path = "/v1/reports/{report}"
require = "claims:read"
"#;
    let w = world("", routes);
    assert_eq!(w.decide("GET", "/v1/reports/7", true).1, "allowed");
    assert_eq!(w.decide("HEAD", "/v1/reports/7", true).1, "allowed");
    assert_eq!(
        w.decide("DELETE", "/v1/reports/7", true).1,
        "insufficient_scope"
    );
}

#[test]
fn an_upper_case_path_is_another_path_unless_the_policy_ignores_case() {
    let strict = world("", CLAIMS);
    // RFC 3986 paths are case-sensitive: `Export` is a claim id by default.
    assert_eq!(
        strict.decide("GET", "/v1/claims/Export", true).2.as_deref(),
        Some("/v1/claims/{id}")
    );
    let loose = world("[paths]\ncase_sensitive = false\n", CLAIMS);
    assert_eq!(
        loose.decide("GET", "/v1/claims/Export", true),
        (403, "insufficient_scope", Some("/v1/claims/export".into()))
    );
}

#[test]
fn an_escaped_unreserved_character_is_decoded_before_matching() {
    let w = world("", CLAIMS);
    assert_eq!(
        w.decide("GET", "/v1/claims/%65xport", true),
        (403, "insufficient_scope", Some("/v1/claims/export".into()))
    );
}

#[test]
fn a_semicolon_parameter_is_refused_unless_the_policy_ignores_them() {
    let strict = world("", CLAIMS);
    assert_eq!(
        strict.decide("GET", "/v1/claims/export;v=1", true),
        (400, "ambiguous_path", None)
    );
    let loose = world("[paths]\nparams = \"ignore\"\n", CLAIMS);
    assert_eq!(
        loose.decide("GET", "/v1/claims/export;v=1", true),
        (403, "insufficient_scope", Some("/v1/claims/export".into()))
    );
}

#[test]
fn an_encoded_slash_in_a_parameter_is_refused() {
    let w = world("", CLAIMS);
    assert_eq!(
        w.decide("GET", "/v1/claims/..%2Fadmin", true),
        (400, "ambiguous_path", None)
    );
}

#[test]
fn a_dot_segment_under_a_public_catch_all_is_refused_not_public() {
    let w = world("", CLAIMS);
    assert_eq!(
        w.decide("GET", "/static/../admin/users", false),
        (400, "ambiguous_path", None)
    );
    assert_eq!(w.decide("GET", "/static/css/site.css", false).1, "public");
}

#[test]
fn every_ambiguous_path_is_a_400_invalid_request_before_any_credential_check() {
    let w = world("", CLAIMS);
    for path in [
        "/static/%2e%2e/admin/users",
        "/static/./x",
        "/static//x",
        "/static/a%5Cb",
        "/static/a\\..\\admin",
        "/static/%zz",
        "/static/%00",
        "/static/x?y=1",
        "static/x",
        "",
    ] {
        let request = Request::new("GET", path);
        let d = w.checker.check(&request, &w.store, Timestamp(NOW));
        assert_eq!(
            (d.status(), d.reason().code()),
            (400, "ambiguous_path"),
            "{path:?}"
        );
        assert_eq!(
            d.error().map(|e| e.as_str()),
            Some("invalid_request"),
            "{path:?}"
        );
        assert!(
            d.www_authenticate()
                .is_some_and(|w| w.to_string().contains("invalid_request")),
            "{path:?}"
        );
    }
}

#[test]
fn the_two_phase_check_refuses_ambiguous_paths_too() {
    let w = world("", CLAIMS);
    let request = Request::new("GET", "/static/../admin/users")
        .authorization(&w.reader)
        .https(true);
    match w.checker.prepare(&request) {
        portcullis::Prepared::Done(d) => assert_eq!(d.reason().code(), "ambiguous_path"),
        portcullis::Prepared::Lookup(_) => panic!("an ambiguous path needs no lookup"),
    }
}
