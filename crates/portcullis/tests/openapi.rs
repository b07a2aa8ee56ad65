//! OpenAPI from the policy (`Policy::openapi`, `Policy::openapi_merged`) on the example
//! policy: structure, schemes, scopes, alternatives with implications expanded, public
//! routes, merging into a foreign document, and the errors of a bad document.

mod common;

use common::{TestPolicy, claimport_text};
use portcullis::policy::MAX_OPENAPI_LEN;
use portcullis::{OpenApiError, Policy};
use serde_json::{Value, json};

fn claimport() -> Policy {
    Policy::from_toml(&claimport_text()).expect("policy")
}

fn document(policy: &Policy) -> Value {
    serde_json::from_str(&policy.openapi()).expect("the document is JSON")
}

/// The scope lists of an operation's security under one scheme, in order.
fn alternatives(op: &Value, scheme: &str) -> Vec<Vec<String>> {
    op["security"]
        .as_array()
        .expect("security is an array")
        .iter()
        .filter_map(|r| r.get(scheme))
        .map(|scopes| {
            scopes
                .as_array()
                .expect("scopes")
                .iter()
                .map(|s| s.as_str().expect("scope").to_owned())
                .collect()
        })
        .collect()
}

fn list(items: &[&[&str]]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

#[test]
fn the_document_is_openapi_3_1_with_info_from_the_realm_and_is_deterministic() {
    let policy = claimport();
    let text = policy.openapi();
    assert_eq!(text, policy.openapi());
    assert!(text.contains("\n  \"info\""), "pretty-printed: {text}");
    let doc = document(&policy);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "claimport");
    assert_eq!(doc["info"]["version"], "1");
}

#[test]
fn every_route_is_an_operation_and_parameters_are_declared() {
    let doc = document(&claimport());
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations: Vec<(String, String)> = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().expect("item").keys() {
            if method != "parameters" {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations.sort();
    let mut want: Vec<(String, String)> = claimport()
        .routes()
        .routes()
        .iter()
        .map(|r| (r.method.clone(), r.path.replace("{*", "{")))
        .collect();
    want.sort();
    assert_eq!(operations, want);
    assert_eq!(
        paths["/v1/claims/{id}"]["parameters"],
        json!([{
            "name": "id", "in": "path", "required": true,
            "description": "One path segment.", "schema": {"type": "string"}
        }])
    );
    assert_eq!(
        paths["/.well-known/{rest}"]["parameters"][0]["name"], "rest",
        "a catch-all becomes a parameter"
    );
    assert!(paths["/v1/claims"].get("parameters").is_none());
}

#[test]
fn schemes_are_the_bearer_key_and_oauth_with_the_catalog_scopes() {
    let doc = document(&claimport());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["type"], "http");
    assert_eq!(schemes["apiKey"]["scheme"], "bearer");
    let description = schemes["apiKey"]["description"].as_str().expect("text");
    assert!(description.contains("sk_live_…"), "{description}");
    assert!(
        schemes.get("apiKeyQuery").is_none(),
        "query keys are refused"
    );
    let flow = &schemes["oauth2"]["flows"]["authorizationCode"];
    assert_eq!(schemes["oauth2"]["type"], "oauth2");
    assert_eq!(flow["authorizationUrl"], "/oauth/authorize");
    assert_eq!(flow["tokenUrl"], "/oauth/token");
    assert_eq!(
        flow["scopes"],
        json!({
            "claims:read": "Read Claims",
            "claims:write": "Write Claims",
            "orders:read": "Read Orders",
            "analytics:read": "Read Analytics",
            "full_access": "Full Access",
        })
    );
}

#[test]
fn without_an_oauth_section_there_is_no_oauth_scheme_and_with_query_keys_a_query_scheme() {
    let text = claimport_text();
    let start = text.find("[oauth]").expect("section");
    let end = text[start..].find("[[scopes]]").expect("next") + start;
    let policy = TestPolicy::from_text(&format!("{}{}", &text[..start], &text[end..]))
        .allow_query_key(true)
        .build();
    let doc = document(&policy);
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("schemes");
    assert_eq!(
        schemes.keys().collect::<Vec<_>>(),
        ["apiKey", "apiKeyQuery"]
    );
    assert_eq!(schemes["apiKeyQuery"]["in"], "query");
    assert_eq!(schemes["apiKeyQuery"]["name"], "api_key");
    let op = &doc["paths"]["/v1/orders"]["get"];
    assert_eq!(
        op["security"],
        json!([
            {"apiKey": ["orders:read"]}, {"apiKeyQuery": ["orders:read"]},
            {"apiKey": ["full_access"]}, {"apiKeyQuery": ["full_access"]},
        ])
    );
}

#[test]
fn implications_are_expanded_into_alternatives_under_both_schemes() {
    let doc = document(&claimport());
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let read = op("/v1/claims/{id}", "get");
    let want = list(&[&["claims:read"], &["claims:write"], &["full_access"]]);
    assert_eq!(alternatives(&read, "apiKey"), want);
    assert_eq!(alternatives(&read, "oauth2"), want);
    assert_eq!(
        read["security"][0],
        json!({"apiKey": ["claims:read"]}),
        "one scheme per requirement object: two in one would need both credentials"
    );
    assert_eq!(read["x-portcullis-access"], "claims:read");
    assert_eq!(
        alternatives(&op("/v1/claims", "post"), "apiKey"),
        list(&[&["claims:write"], &["full_access"]])
    );
    assert_eq!(
        alternatives(&op("/v1/claims/{id}", "delete"), "oauth2"),
        list(&[&["full_access"]])
    );
    // Two scopes: every minimal pair, and full_access alone.
    assert_eq!(
        alternatives(&op("/v1/claims/{id}/orders", "get"), "apiKey"),
        list(&[
            &["full_access"],
            &["claims:read", "orders:read"],
            &["claims:write", "orders:read"],
        ])
    );
    // An `|` in the policy: its alternatives, full_access once.
    let analytics = op("/v1/analytics/{report}", "get");
    assert_eq!(
        alternatives(&analytics, "apiKey"),
        list(&[&["analytics:read"], &["full_access"]])
    );
    assert_eq!(
        analytics["x-portcullis-access"],
        "analytics:read | full_access"
    );
    assert!(analytics["responses"]["403"].is_object());
}

#[test]
fn every_listed_alternative_passes_the_requirement_and_is_minimal() {
    let policy = claimport();
    let doc = document(&policy);
    for route in policy.routes().routes() {
        let portcullis::policy::Access::Requires(requirement) = &route.access else {
            continue;
        };
        let path = route.path.replace("{*", "{");
        let op = &doc["paths"][&path][route.method.to_lowercase()];
        for alternative in alternatives(op, "apiKey") {
            let eval = requirement.evaluate_grants(policy.catalog(), &alternative);
            assert!(eval.allowed(), "{path}: {alternative:?}");
            for i in 0..alternative.len() {
                let mut fewer = alternative.clone();
                fewer.remove(i);
                let eval = requirement.evaluate_grants(policy.catalog(), &fewer);
                assert!(!eval.allowed(), "{path}: {alternative:?} is not minimal");
            }
        }
    }
}

#[test]
fn public_routes_have_empty_security_and_authenticated_ones_need_no_scope() {
    let doc = document(&claimport());
    let health = &doc["paths"]["/health"]["get"];
    assert_eq!(health["security"], json!([]));
    assert_eq!(health["x-portcullis-access"], "public");
    assert!(health.get("responses").is_none());
    assert_eq!(
        doc["paths"]["/.well-known/{rest}"]["get"]["security"],
        json!([])
    );
    assert_eq!(
        doc["paths"]["/v1/me"]["get"]["security"],
        json!([{"apiKey": []}, {"oauth2": []}])
    );
    assert_eq!(
        doc["paths"]["/v1/me"]["get"]["x-portcullis-access"],
        "authenticated"
    );
}

#[test]
fn a_route_of_any_method_is_listed_under_the_methods_it_decides() {
    let text = format!(
        "{}\n[[routes]]\nmethod = \"*\"\npath = \"/v1/claims\"\naccess = \"authenticated\"\n",
        claimport_text()
    );
    let doc = document(&Policy::from_toml(&text).expect("policy"));
    let item = doc["paths"]["/v1/claims"].as_object().expect("item");
    assert_eq!(
        item.keys().collect::<Vec<_>>(),
        ["delete", "get", "options", "patch", "post", "put", "trace"],
        "HEAD goes to GET's route, so it is not the * route's"
    );
    assert_eq!(item["get"]["x-portcullis-access"], "claims:read");
    assert_eq!(item["put"]["x-portcullis-access"], "authenticated");
}

#[test]
fn merging_sets_security_on_matching_operations_and_keeps_the_rest() {
    let foreign = json!({
        "openapi": "3.0.3",
        "info": {"title": "Claims API", "version": "2.4"},
        "paths": {
            "/v1/claims/{claimId}": {
                "get": {"operationId": "getClaim", "responses": {"200": {"description": "ok"}}},
                "delete": {"operationId": "deleteClaim", "security": [{"old": []}]}
            },
            "/v1/health-check": {"get": {"operationId": "other", "security": [{"old": []}]}},
            "/.well-known/openid/config": {"get": {"operationId": "discovery"}}
        },
        "components": {
            "securitySchemes": {"old": {"type": "http", "scheme": "basic"}},
            "schemas": {"Claim": {"type": "object"}}
        }
    });
    let merged = claimport()
        .openapi_merged(&foreign.to_string())
        .expect("merged");
    let doc: Value = serde_json::from_str(&merged).expect("json");
    let claim = &doc["paths"]["/v1/claims/{claimId}"];
    assert_eq!(claim["get"]["operationId"], "getClaim");
    assert_eq!(claim["get"]["responses"]["200"]["description"], "ok");
    assert_eq!(
        alternatives(&claim["get"], "apiKey"),
        list(&[&["claims:read"], &["claims:write"], &["full_access"]]),
        "matched by method and template, whatever the parameter's name"
    );
    assert_eq!(
        claim["delete"]["security"],
        json!([{"apiKey": ["full_access"]}, {"oauth2": ["full_access"]}])
    );
    assert_eq!(
        doc["paths"]["/v1/health-check"]["get"]["security"],
        json!([{"old": []}]),
        "an operation no route decides is left as it is"
    );
    assert_eq!(
        doc["paths"]["/.well-known/openid/config"]["get"]["security"],
        json!([]),
        "a catch-all route decides deeper paths"
    );
    assert!(
        doc["paths"].get("/v1/orders").is_none(),
        "routes are not added"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["old"]["scheme"], "basic");
    assert_eq!(schemes["apiKey"]["scheme"], "bearer");
    assert!(schemes["oauth2"].is_object());
    assert_eq!(doc["components"]["schemas"]["Claim"]["type"], "object");
    assert_eq!(doc["info"]["title"], "Claims API");
    assert_eq!(doc["openapi"], "3.0.3");
}

#[test]
fn merging_the_generated_document_gives_it_back() {
    let policy = claimport();
    let generated = policy.openapi();
    assert_eq!(policy.openapi_merged(&generated), Ok(generated));
}

#[test]
fn merging_a_document_without_paths_or_components_adds_the_schemes() {
    let merged = claimport()
        .openapi_merged(r#"{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}"#)
        .expect("merged");
    let doc: Value = serde_json::from_str(&merged).expect("json");
    assert!(doc["components"]["securitySchemes"]["apiKey"].is_object());
    assert!(doc.get("paths").is_none());
}

#[test]
fn documents_that_are_not_openapi_3_json_are_refused_with_their_codes() {
    let policy = claimport();
    let refused = |text: &str| policy.openapi_merged(text).expect_err(text);
    let e = refused("{\"openapi\": ");
    assert!(matches!(e, OpenApiError::Json { line: 1, .. }), "{e:?}");
    assert_eq!(e.code(), "bad_json");
    for text in [
        "[]",
        "{}",
        r#"{"swagger": "2.0"}"#,
        r#"{"openapi": 3.1}"#,
        r#"{"openapi": "3.1.0", "paths": []}"#,
        r#"{"openapi": "3.1.0", "components": 1}"#,
        r#"{"openapi": "3.1.0", "components": {"securitySchemes": []}}"#,
    ] {
        let e = refused(text);
        assert!(matches!(e, OpenApiError::NotOpenApi(_)), "{text}: {e:?}");
        assert_eq!(e.code(), "bad_document");
        assert_eq!(e.row().family().name(), "openapi");
    }
    let padded = format!(
        "{{\"openapi\": \"3.1.0\", \"x\": \"{}\"}}",
        "a".repeat(MAX_OPENAPI_LEN)
    );
    let e = refused(&padded);
    assert_eq!(
        e,
        OpenApiError::TooLarge {
            limit: MAX_OPENAPI_LEN
        }
    );
    assert_eq!(e.code(), "too_large");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(refused(&deep).code(), "bad_json", "deep nesting is refused");
}
