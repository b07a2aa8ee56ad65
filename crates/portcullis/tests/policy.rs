//! Policy loading: the product's policy, defaults, and every validation error with its
//! location.

mod common;

use portcullis::policy::{Access, UnknownRoutes};
use portcullis::{PathParams, PathRules, Policy, PolicyIssue};

fn issues(text: &str) -> Vec<PolicyIssue> {
    Policy::from_toml(text)
        .expect_err("policy must be refused")
        .issues
}

fn one(text: &str) -> PolicyIssue {
    let all = issues(text);
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().expect("one issue")
}

#[test]
fn product_policy_loads() {
    let p = Policy::from_toml(&common::claimport_text()).expect("loads");
    assert_eq!(p.realm(), "claimport");
    assert_eq!(p.deployment_env(), "live");
    assert_eq!(p.catalog().len(), 5);
    assert_eq!(p.routes().routes().len(), 12);
    assert!(p.transport().require_https && !p.transport().allow_query_key);
    assert_eq!(p.lifecycle().max_age, Some(90 * 86_400));
    assert_eq!(p.unknown_routes(), UnknownRoutes::Deny);
    assert!(matches!(p.routes().routes()[0].access, Access::Public));
}

#[test]
fn defaults_are_secure() {
    let p = Policy::from_toml("").expect("empty policy is valid");
    assert!(p.transport().require_https);
    assert!(!p.transport().allow_query_key);
    assert_eq!(p.transport().query_param, "api_key");
    assert_eq!(p.unknown_routes(), UnknownRoutes::Deny);
    assert_eq!(p.format().kinds(), ["sk"]);
    assert_eq!(p.format().envs(), ["live", "test"]);
    assert_eq!(p.deployment_env(), "live");
    assert!(!p.lifecycle().enforce_max_age);
}

#[test]
fn syntax_errors_have_locations() {
    let i = one("[service]\nrealm = \n");
    assert_eq!((i.line, i.field.as_str()), (2, ""));
    let i = one("[service]\nrealm = \"x\"\nfoo = 1\n");
    assert_eq!(i.line, 3, "{i}");
    assert!(i.message.contains("foo"), "{i}");
}

#[test]
fn unknown_scope_in_route_points_into_the_expression() {
    let text = "[[scopes]]\nname = \"a:read\"\n\n[[routes]]\nmethod = \"GET\"\npath = \"/x\"\nrequire = \"a:read b:read\"\n";
    let i = one(text);
    assert_eq!((i.line, i.column), (7, 19), "{i}");
    assert_eq!(i.field, "routes[0].require");
    assert!(i.message.contains("b:read"));
}

#[test]
fn bad_expressions_duplicates_and_templates() {
    let head = "[[scopes]]\nname = \"a\"\n";
    let route = |m: &str, p: &str, extra: &str| {
        format!("[[routes]]\nmethod = \"{m}\"\npath = \"{p}\"\n{extra}\n")
    };
    let text = format!(
        "{head}{}{}{}{}{}{}{}",
        route("GET", "/ok", "require = \"a\""),
        route("GET", "/ok", "require = \"a\""),
        route("GET", "/bad", "require = \"a |\""),
        route("get", "/lower", "access = \"public\""),
        route("GET", "no-slash", "access = \"public\""),
        route("GET", "/both", "access = \"public\"\nrequire = \"a\""),
        route("GET", "/neither", ""),
    );
    let all = issues(&text);
    let fields: Vec<&str> = all.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "routes[1]",
            "routes[2].require",
            "routes[3]",
            "routes[4]",
            "routes[5]",
            "routes[6]"
        ],
        "{all:?}"
    );
    assert!(all.iter().all(|i| i.line > 0 && i.column > 0), "{all:?}");
    let rendered = Policy::from_toml(&text).expect_err("invalid").to_string();
    assert!(
        rendered.starts_with("invalid policy (6 problems)"),
        "{rendered}"
    );
}

#[test]
fn catalog_errors() {
    let i = one("[[scopes]]\nname = \"a\"\nimplies = [\"ghost\"]\n");
    assert_eq!((i.line, i.field.as_str()), (3, "scopes[0].implies"));
    let i = one("[[scopes]]\nname = \"a b\"\n");
    assert_eq!((i.line, i.field.as_str()), (2, "scopes[0].name"));
    let i = one("[[scopes]]\nname = \"a\"\n[[scopes]]\nname = \"a\"\n");
    assert_eq!((i.line, i.field.as_str()), (4, "scopes[1].name"));
    let cyclic = "[[scopes]]\nname = \"a\"\nimplies = [\"b\"]\n[[scopes]]\nname = \"b\"\nimplies = [\"a\"]\n";
    let p = Policy::from_toml(cyclic).expect("cycles are allowed");
    assert_eq!(p.catalog().grant(&["a"]).set.len(), 2);
}

#[test]
fn service_and_transport_errors() {
    assert_eq!(one("[service]\nkinds = [\"SK\"]\n").line, 2);
    assert_eq!(one("[service]\nenvironments = []\n").line, 2);
    assert_eq!(
        one("[service]\ndeployment_env = \"prod\"\n").field,
        "service.deployment_env"
    );
    assert_eq!(
        one("[service]\nunknown_routes = \"allow\"\n").field,
        "service.unknown_routes"
    );
    assert_eq!(
        one("[service]\nrealm = \"a\\\"b\"\n").field,
        "service.realm"
    );
    assert_eq!(
        one("[transport]\nquery_param = \"a b\"\n").field,
        "transport.query_param"
    );
    let i = one("[lifecycle]\nmax_age_days = -1\n");
    assert_eq!(i.line, 2, "{i}");
}

#[test]
fn ten_thousand_routes_load_and_match() {
    let mut text = String::from("[[scopes]]\nname = \"r\"\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "[[routes]]\nmethod = \"GET\"\npath = \"/r{i}/{{id}}\"\nrequire = \"r\"\n"
        ));
    }
    let p = Policy::from_toml(&text).expect("loads");
    assert_eq!(p.routes().find("GET", "/r9999/abc"), Ok(Some(9999)));
    assert_eq!(p.routes().find("GET", "/r10000/abc"), Ok(None));
}

#[test]
fn a_duplicate_scope_an_unknown_route_scope_and_a_truncated_requirement_are_all_reported() {
    let text = r#"
[[scopes]]
name = "claims:read"
[[scopes]]
name = "claims:read"
[[scopes]]
name = "orders:read"
implies = ["ghost"]

[[routes]]
method = "GET"
path = "/v1/claims/{id}"
require = "claims:raed"

[[routes]]
method = "GET"
path = "/v1/orders/{id}"
require = "orders:read &"

[[routes]]
method = "GET"
path = "/v1/claims/../x"
access = "public"
"#;
    let all = issues(text);
    let found: Vec<(usize, &str)> = all.iter().map(|i| (i.line, i.field.as_str())).collect();
    assert_eq!(
        found,
        [
            (5, "scopes[1].name"),
            (8, "scopes[2].implies"),
            (13, "routes[0].require"),
            (18, "routes[1].require"),
            (22, "routes[2]"),
        ],
        "{all:?}"
    );
    assert!(all[2].message.contains("claims:raed"), "{}", all[2]);
    let rendered = Policy::from_toml(text).expect_err("invalid").to_string();
    assert!(
        rendered.starts_with("invalid policy (5 problems)"),
        "{rendered}"
    );
}

#[test]
fn path_rules_are_a_policy_setting_with_secure_defaults() {
    let p = Policy::from_toml("").expect("loads");
    assert_eq!(p.paths(), PathRules::default());
    assert!(p.paths().case_sensitive);
    assert_eq!(p.paths().params, PathParams::Refuse);
    let p = Policy::from_toml(
        "[paths]
case_sensitive = false
params = \"ignore\"
",
    )
    .expect("loads");
    assert!(!p.paths().case_sensitive);
    assert_eq!(p.paths().params, PathParams::Ignore);
    let i = one("[paths]
params = \"strip\"
");
    assert_eq!((i.line, i.field.as_str()), (2, "paths.params"));
    // Templates that differ only in case are the same route when case is ignored.
    let i = one("[paths]
case_sensitive = false
[[routes]]
method = \"GET\"
path = \"/a\"
access = \"public\"
[[routes]]
method = \"GET\"
path = \"/A\"
access = \"public\"
");
    assert_eq!((i.line, i.field.as_str()), (9, "routes[1]"), "{i}");
}

#[test]
fn the_loader_warns_of_a_route_a_more_specific_route_of_another_method_partly_decides() {
    let text = r#"
[[scopes]]
name = "admin"

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
    let p = Policy::from_toml(text).expect("a warning does not refuse the policy");
    let fields: Vec<(usize, &str)> = p
        .warnings()
        .iter()
        .map(|w| (w.line, w.field.as_str()))
        .collect();
    assert_eq!(
        fields,
        [(7, "routes[0]"), (12, "routes[1]")],
        "{:?}",
        p.warnings()
    );
    assert!(
        p.warnings()[1].message.contains("routes[2]"),
        "{}",
        p.warnings()[1]
    );
    let quiet = Policy::from_toml(&common::claimport_text()).expect("loads");
    assert_eq!(quiet.warnings(), []);
}

#[test]
fn a_policy_without_an_oauth_section_keeps_the_secure_oauth_defaults() {
    let p = Policy::from_toml("").expect("empty policy loads");
    assert_eq!(p.oauth(), &portcullis::oauth::OAuthConfig::default());
    assert!(!p.oauth().allow_body_credentials);
}

#[test]
fn the_product_policy_accepts_client_credentials_in_the_body_as_its_docs_send_them() {
    let p = Policy::from_toml(&common::claimport_text()).expect("loads");
    let expected = portcullis::oauth::OAuthConfig {
        allow_body_credentials: true,
        require_pkce_for_confidential: false,
        ..Default::default()
    };
    assert_eq!(p.oauth(), &expected);
}

#[test]
fn the_product_policy_serves_well_known_documents_without_a_credential() {
    let c = common::checker();
    let request =
        portcullis::Request::new("GET", "/.well-known/oauth-authorization-server").https(true);
    let decision = c.check(
        &request,
        &portcullis::MemoryStore::new(),
        portcullis::Timestamp(common::NOW),
    );
    assert!(decision.allowed(), "{:?}", decision.reason());
    let post =
        portcullis::Request::new("POST", "/.well-known/oauth-authorization-server").https(true);
    let decision = c.check(
        &post,
        &portcullis::MemoryStore::new(),
        portcullis::Timestamp(common::NOW),
    );
    assert!(!decision.allowed());
}

#[test]
fn the_oauth_section_sets_every_setting_of_the_engine() {
    let p = Policy::from_toml(
        "[oauth]\ncode_ttl = 60\naccess_ttl = 900\nrefresh_idle_ttl = 86400\n\
         refresh_max_ttl = 172800\nrefresh_grace = 5\nallow_plain_pkce = true\n\
         require_pkce_for_confidential = false\nallow_body_credentials = true\n\
         default_scope = \"a b\"\n[[scopes]]\nname = \"a\"\n[[scopes]]\nname = \"b\"\n",
    )
    .expect("loads");
    let c = p.oauth();
    assert_eq!(
        (
            c.code_ttl,
            c.access_ttl,
            c.refresh_idle_ttl,
            c.refresh_max_ttl
        ),
        (60, 900, 86_400, 172_800)
    );
    assert_eq!(c.refresh_grace, 5);
    assert!(c.allow_plain_pkce && !c.require_pkce_for_confidential && c.allow_body_credentials);
    assert_eq!(c.default_scope.as_deref(), Some("a b"));
}

#[test]
fn the_oauth_section_reports_bad_values_with_their_location() {
    let all = issues(
        "[oauth]\ncode_ttl = 601\naccess_ttl = 0\ndefault_scope = \"nope\"\n\
         [[scopes]]\nname = \"a\"\n",
    );
    let found: Vec<(usize, &str)> = all.iter().map(|i| (i.line, i.field.as_str())).collect();
    assert_eq!(
        found,
        [
            (2, "oauth.code_ttl"),
            (3, "oauth.access_ttl"),
            (4, "oauth.default_scope")
        ]
    );
    let unknown = one("[oauth]\nallow_body_credential = true\n");
    assert_eq!(unknown.line, 2, "{unknown:?}");
}

/// The lines of `edited` that differ from the example's, in order, as (old, new) pairs.
fn changed_lines(edited: &common::TestPolicy) -> Vec<(String, String)> {
    let before = common::claimport_text();
    let after = edited.text();
    assert_eq!(before.lines().count(), after.lines().count(), "{after}");
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

/// The tests' policy builder changes exactly the setting it names, keeping the line's
/// layout and comment, and refuses a setting the example does not hold.
#[test]
fn the_test_policy_builder_changes_only_the_named_setting() {
    use common::TestPolicy;
    let claimport = TestPolicy::claimport;
    assert_eq!(claimport().text(), common::claimport_text());
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        changed_lines(&claimport().allow_query_key(true)),
        [pair(
            "allow_query_key = false     # `?api_key=` exists but is discouraged: refused by default",
            "allow_query_key = true     # `?api_key=` exists but is discouraged: refused by default",
        )]
    );
    assert_eq!(
        changed_lines(&claimport().require_https(false).enforce_max_age(true)),
        [
            pair("require_https = true", "require_https = false"),
            pair("enforce_max_age = false", "enforce_max_age = true"),
        ]
    );
    assert_eq!(
        changed_lines(&claimport().accept_legacy_sha256(true))[0].1,
        "accept_legacy_sha256 = true  # refuse unpeppered sha256$ records (see SECURITY.md)"
    );
    assert_eq!(
        changed_lines(&claimport().deployment_env("test").kinds(&["rk"])),
        [
            pair("kinds = [\"sk\"]", "kinds = [\"rk\"]"),
            pair("deployment_env = \"live\"", "deployment_env = \"test\""),
        ]
    );
    assert_eq!(
        changed_lines(&claimport().environments(&["live"])),
        [pair(
            "environments = [\"live\", \"test\"]",
            "environments = [\"live\"]"
        )]
    );
    assert_eq!(
        changed_lines(&claimport().rename_scope("analytics:read", "reports:read")),
        [
            pair("name = \"analytics:read\"", "name = \"reports:read\""),
            pair(
                "require = \"analytics:read | full_access\"",
                "require = \"reports:read | full_access\""
            ),
        ]
    );
    let first = claimport().scope_first("admin:all", "Admin");
    assert_eq!(first.build().catalog().len(), 6);
    let text = first.text();
    let at = |needle: &str| text.find(needle).expect(needle);
    assert!(
        at("name = \"admin:all\"") < at("name = \"claims:read\""),
        "{text}"
    );
    for bad in [
        std::panic::catch_unwind(|| claimport().set("transport", "no_such_key", true)),
        std::panic::catch_unwind(|| claimport().set("no_such_table", "realm", "x")),
        std::panic::catch_unwind(|| claimport().set("service", "kinds", true)),
        std::panic::catch_unwind(|| claimport().rename_scope("nope", "x")),
    ] {
        assert!(
            bad.is_err(),
            "a setting the example lacks or types otherwise must fail"
        );
    }
}
