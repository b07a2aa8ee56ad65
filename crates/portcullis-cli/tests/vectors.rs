//! The shared decision vectors (tests/vectors/decisions.json), run end to end through the
//! binary: records loaded into a SQLite store, peppers in a pepper file, `portcullis check`
//! with the case's request and time. The CLI must decide exactly as the core does.

mod common;

use common::{Sandbox, run_in};
use portcullis::KeyRecord;
use portcullis_cli::store::{Access, BUSY_TIMEOUT, Store};
use serde_json::Value;
use std::fs;
use std::path::Path;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/vectors/decisions.json"
);

/// The expectation fields compared (all of the vectors' `expect`).
const FIELDS: &[&str] = &[
    "allowed",
    "status",
    "error",
    "reason",
    "detail",
    "www_authenticate",
    "key_id",
    "owner",
    "scopes",
    "missing",
    "warnings",
];

#[test]
fn decisions_match_the_conformance_vectors() {
    let text = fs::read_to_string(VECTORS).expect("read decisions.json");
    let vectors: Value = serde_json::from_str(&text).expect("parse decisions.json");
    let s = Sandbox::new();
    let store = s.store();
    fs::create_dir_all(&store).expect("mkdir");
    write_peppers(&store.join("pepper"), &vectors["peppers"]);
    load_records(&store.join("keys.sqlite3"), &vectors["records"]);
    for (name, policy) in vectors["policies"].as_object().expect("policies") {
        fs::write(
            store.join(format!("{name}.toml")),
            policy.as_str().expect("toml"),
        )
        .expect("write policy");
    }

    let cases = vectors["cases"].as_array().expect("cases");
    let mut ran = 0;
    let mut skipped = Vec::new();
    for case in cases {
        let Some(args) = arguments(case, &store) else {
            skipped.push(case["name"].as_str().unwrap_or("?").to_owned());
            continue;
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let now = case["now"].as_u64().expect("now");
        let run = run_in(&store, now, &args);
        let actual = run.json();
        let expect = &case["expect"];
        for field in FIELDS {
            assert_eq!(
                actual[field], expect[field],
                "case {:?}, field {field}: {run:?}",
                case["name"]
            );
        }
        let want_code = if expect["allowed"] == true { 0 } else { 1 };
        assert_eq!(run.code, want_code, "case {:?}", case["name"]);
        ran += 1;
    }
    // Only a header that is not UTF-8 cannot be typed on a command line.
    assert!(skipped.len() <= 1, "skipped {skipped:?}");
    assert!(ran >= cases.len() - 1 && ran > 0);
}

/// The `check` arguments of a case; `None` for a non-UTF-8 header.
fn arguments(case: &Value, store: &Path) -> Option<Vec<String>> {
    let request = &case["request"];
    if request
        .get("authorization_hex")
        .is_some_and(|h| !h.is_null())
    {
        return None;
    }
    let policy = store.join(format!("{}.toml", case["policy"].as_str().expect("policy")));
    let mut args = vec![
        "--json".to_owned(),
        format!("--policy={}", policy.display()),
        "check".to_owned(),
        format!("--method={}", request["method"].as_str().expect("method")),
        format!("--path={}", request["path"].as_str().expect("path")),
    ];
    if let Some(auth) = request["authorization"].as_str() {
        args.push(format!("--header=Authorization: {auth}"));
    }
    if let Some(query) = request["query"].as_str() {
        args.push(format!("--query={query}"));
    }
    if request["https"] == false {
        args.push("--http".to_owned());
    }
    Some(args)
}

fn write_peppers(path: &Path, peppers: &Value) {
    let mut text = String::new();
    for p in peppers.as_array().expect("peppers") {
        text.push_str(&format!(
            "{} {}\n",
            p["id"].as_str().expect("id"),
            p["secret_hex"].as_str().expect("hex")
        ));
    }
    fs::write(path, text).expect("write peppers");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

fn load_records(db: &Path, records: &Value) {
    let url = format!("sqlite:{}", db.display());
    let store = Store::open(&url, Access::Create, BUSY_TIMEOUT).expect("create store");
    for r in records.as_array().expect("records") {
        let record = KeyRecord::from_json(&r.to_string()).expect("record");
        store
            .insert(&record, portcullis::Timestamp(0))
            .expect("insert");
    }
}

/// The error-code vectors (tests/vectors/errors.json) the CLI can reach: `keys create`
/// with a scope, kind, environment or name the policy refuses reports the core's code.
#[test]
fn issue_errors_match_the_error_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/errors.json"
    );
    let text = fs::read_to_string(path).expect("read errors.json");
    let vectors: Value = serde_json::from_str(&text).expect("parse errors.json");
    let s = Sandbox::initialised();
    let cases = vectors["cases"].as_array().expect("cases");
    let mut ran = 0;
    for case in cases.iter().filter(|c| c["call"] == "issue") {
        let scopes: Vec<&str> = case["scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let scopes = scopes.join(",");
        let mut args = vec!["keys", "create", "--scopes", &scopes];
        for (flag, field) in [("--name", "name"), ("--owner", "owner"), ("--kind", "kind")] {
            if let Some(value) = case[field].as_str() {
                args.extend([flag, value]);
            }
        }
        if let Some(env) = case["env"].as_str() {
            args.extend(["--env", env]);
        }
        let v = s.json(3, &args);
        assert_eq!(v["error"]["code"], case["code"], "{case}: {v}");
        ran += 1;
    }
    assert!(ran >= 4, "the issue cases ran");
}
