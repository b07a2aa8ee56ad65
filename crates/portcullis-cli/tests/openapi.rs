//! `portcullis policy openapi [FILE] [--merge DOCUMENT]`: the core's document on stdout,
//! the policy found as for every command, a merged document, and the errors of a bad one.

mod common;

use common::Sandbox;
use portcullis::Policy;
use serde_json::json;
use std::fs;
use std::path::PathBuf;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/claimport.toml")
}

fn core_document() -> String {
    let text = fs::read_to_string(example()).expect("example policy");
    Policy::from_toml(&text).expect("policy").openapi()
}

#[test]
fn policy_openapi_prints_the_core_document_with_or_without_json() {
    let s = Sandbox::new();
    let file = example();
    let file = file.to_str().expect("utf-8 path");
    let run = s.run(&["policy", "openapi", file]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, core_document() + "\n");
    let json = s.json(0, &["policy", "openapi", file]);
    assert_eq!(json, run.json());
    assert_eq!(json["openapi"], "3.1.0");
    assert_eq!(
        json["paths"]["/v1/claims/{id}"]["delete"]["security"],
        json!([{"apiKey": ["full_access"]}, {"oauth2": ["full_access"]}])
    );
}

#[test]
fn without_a_file_the_store_policy_is_used() {
    let s = Sandbox::initialised();
    let run = s.run(&["policy", "openapi"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["info"]["title"], "claimport");
    let missing = Sandbox::new().json(4, &["policy", "openapi"]);
    assert_eq!(missing["error"]["code"], "policy_missing");
}

#[test]
fn merge_sets_security_in_the_given_document() {
    let s = Sandbox::new();
    let doc = s.dir.path().join("api.json");
    let foreign = json!({
        "openapi": "3.0.3",
        "info": {"title": "Claims API", "version": "2"},
        "paths": {"/v1/orders/{orderId}": {"get": {"operationId": "getOrder"}}},
    });
    fs::write(&doc, foreign.to_string()).expect("write");
    let file = example();
    let args = [
        "policy",
        "openapi",
        file.to_str().expect("utf-8"),
        "--merge",
        doc.to_str().expect("utf-8"),
    ];
    let merged = s.json(0, &args);
    let op = &merged["paths"]["/v1/orders/{orderId}"]["get"];
    assert_eq!(op["operationId"], "getOrder");
    assert_eq!(op["security"][0], json!({"apiKey": ["orders:read"]}));
    assert_eq!(merged["info"]["title"], "Claims API");
    assert!(merged["components"]["securitySchemes"]["oauth2"].is_object());
}

#[test]
fn a_bad_document_is_an_input_error_with_the_core_code() {
    let s = Sandbox::new();
    let file = example();
    let file = file.to_str().expect("utf-8");
    let doc = s.dir.path().join("api.json");
    for (content, code) in [
        ("{\"openapi\": ", "bad_json"),
        ("{\"swagger\": \"2.0\"}", "bad_document"),
    ] {
        fs::write(&doc, content).expect("write");
        let v = s.json(
            3,
            &[
                "policy",
                "openapi",
                file,
                "--merge",
                doc.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["hint"].is_string(), "{v}");
    }
    let missing = s.json(
        4,
        &[
            "policy",
            "openapi",
            file,
            "--merge",
            "/nonexistent/api.json",
        ],
    );
    assert_eq!(missing["error"]["code"], "io");
    let not_regular = s.json(4, &["policy", "openapi", file, "--merge", "/dev/zero"]);
    assert_eq!(not_regular["error"]["code"], "file_not_regular");
}
