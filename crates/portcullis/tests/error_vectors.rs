//! Error-code parity vectors: `tests/vectors/errors.json`, written from the core's table
//! (`portcullis::codes`) and from inputs every binding can pass, and run by the Rust, C,
//! Python and CLI suites: each must report the same family and code (C: the same number
//! and name).
//!
//! This test regenerates the file and fails if it differs from what is committed;
//! `make vectors` (PORTCULLIS_BLESS=1) rewrites it. Every case states by hand the code it
//! must produce, and generation fails if the core disagrees.

mod common;

use common::{NOW, PEPPER, PEPPER_ID, claimport_text, settle_vectors};
use portcullis::codes::{self, Code, HasCode};
use portcullis::oauth::{AccessKeys, Client};
use portcullis::{
    Checker, KeyRecord, KeySpec, MemoryStore, Peppers, Policy, Requirement, SeededRandom,
    Timestamp, extract_credential,
};
use serde_json::{Value, json};

const UNKNOWN_ID: &str = "AAAAAAAAAAAAAAAA";

fn checker() -> Checker {
    let policy = Policy::from_toml(&claimport_text()).expect("policy");
    Checker::new(policy, Peppers::new(PEPPER_ID, &PEPPER).expect("pepper"))
}

fn issued() -> KeyRecord {
    let spec = KeySpec::new("Vectors", "org_1", ["claims:read"]);
    checker()
        .issue_with(
            "sk",
            "live",
            &spec,
            Timestamp(NOW),
            &SeededRandom::new(b"errors"),
        )
        .expect("issue")
        .record
}

fn valid_key() -> String {
    let spec = KeySpec::new("Vectors", "org_1", ["claims:read"]);
    let issued = checker()
        .issue_with(
            "sk",
            "live",
            &spec,
            Timestamp(NOW),
            &SeededRandom::new(b"key"),
        )
        .expect("issue");
    issued.key.expose().to_owned()
}

fn str_or_null(v: &Value) -> Option<&str> {
    v.as_str()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Secret bytes of the length an op asks for.
fn secret(op: &Value) -> Vec<u8> {
    vec![7u8; op[2].as_u64().unwrap_or(0) as usize]
}

/// Runs one case through the core; the row of the error it returns.
fn run(case: &Value) -> Option<&'static Code> {
    fn row<E: HasCode>(r: Result<impl Sized, E>) -> Option<&'static Code> {
        r.err().map(|e| codes::of(&e))
    }
    let checker = checker();
    match case["call"].as_str()? {
        "parse_key" => row(checker.parse(case["key"].as_str()?.as_bytes())),
        "extract" => row(extract_credential(
            str_or_null(&case["authorization"]).map(str::as_bytes),
            str_or_null(&case["query"]).map(str::as_bytes),
            "api_key",
            case["allow_query"].as_bool()?,
        )),
        "issue" => {
            let spec = KeySpec::new(
                case["name"].as_str()?,
                case["owner"].as_str()?,
                strings(&case["scopes"]),
            );
            let kind = case["kind"].as_str().unwrap_or("sk");
            let env = case["env"].as_str().unwrap_or("live");
            row(checker.issue_with(kind, env, &spec, Timestamp(NOW), &SeededRandom::new(b"x")))
        }
        "record_from_json" => row(KeyRecord::from_json(case["json"].as_str()?)),
        "store_insert_twice" => {
            let store = MemoryStore::new();
            store.insert(issued()).ok()?;
            row(store.insert(issued()))
        }
        "store_revoke" => {
            let id = portcullis::KeyId::parse(case["id"].as_str()?).ok()?;
            row(MemoryStore::new().revoke(&id, Timestamp(NOW)))
        }
        "requirement" => row(Requirement::parse(
            checker.policy().catalog(),
            case["text"].as_str()?,
        )),
        "peppers" => {
            let mut peppers: Option<Peppers> = None;
            for op in case["ops"].as_array()? {
                let id = op[1].as_str()?;
                let result = match (op[0].as_str()?, peppers.as_mut()) {
                    ("new", _) => Peppers::new(id, &secret(op)).map(|p| peppers = Some(p)),
                    ("add", Some(p)) => p.add(id, &secret(op)),
                    ("set_primary", Some(p)) => p.set_primary(id),
                    _ => return None,
                };
                if let Err(e) = result {
                    return Some(codes::of(&e));
                }
            }
            None
        }
        "access_keys" => {
            let mut keys: Option<AccessKeys> = None;
            for op in case["ops"].as_array()? {
                let id = op[1].as_str()?;
                let result = match (op[0].as_str()?, keys.as_mut()) {
                    ("new", _) => AccessKeys::new(id, &secret(op)).map(|k| keys = Some(k)),
                    ("add", Some(k)) => k.add(id, &secret(op)),
                    ("remove", Some(k)) => k.remove(id),
                    _ => return None,
                };
                if let Err(e) = result {
                    return Some(codes::of(&e));
                }
            }
            None
        }
        "client_public" => row(Client::public(
            case["id"].as_str()?,
            false,
            &strings(&case["redirect_uris"]),
            &strings(&case["scopes"]),
        )),
        _ => None,
    }
}

/// The cases, each with the family and code it must come out as.
fn cases() -> Vec<Value> {
    let key = valid_key();
    let (head, last) = key.split_at(key.len() - 1);
    let typo = format!("{head}{}", if last == "A" { "B" } else { "A" });
    let other_kind = key.replacen("sk_", "zz_", 1);
    let other_env = key.replacen("_live_", "_prod_", 1);
    let bad_char = format!("{}!{}", &key[..20], &key[21..]);
    let record = issued().to_json();
    let bad_label = record.replacen("\"sk\"", "\"S K\"", 1);
    let bad_hash = {
        let mut v: Value = serde_json::from_str(&record).expect("record json");
        v["hash"] = json!("md5$nope");
        v.to_string()
    };
    let scopes = json!(["claims:read"]);
    let uri = json!(["https://app.example.com/cb"]);
    let ops = |ops: Value| json!({ "ops": ops });
    let with = |call: &str, args: Value, family: &str, code: &str| {
        let mut case = json!({ "call": call });
        if let (Some(c), Some(a)) = (case.as_object_mut(), args.as_object()) {
            c.extend(a.clone());
        }
        case["family"] = json!(family);
        case["code"] = json!(code);
        case
    };
    vec![
        with("parse_key", json!({"key": ""}), "key", "shape"),
        with(
            "parse_key",
            json!({"key": other_kind}),
            "key",
            "unknown_kind",
        ),
        with("parse_key", json!({"key": other_env}), "key", "unknown_env"),
        with(
            "parse_key",
            json!({"key": &key[..key.len() - 3]}),
            "key",
            "length",
        ),
        with("parse_key", json!({"key": bad_char}), "key", "character"),
        with("parse_key", json!({"key": typo}), "key", "checksum"),
        with(
            "extract",
            json!({"authorization": null, "query": null, "allow_query": false}),
            "credential",
            "missing_credential",
        ),
        with(
            "extract",
            json!({"authorization": "Basic abc", "query": null, "allow_query": false}),
            "credential",
            "wrong_scheme",
        ),
        with(
            "extract",
            json!({"authorization": "Bearer", "query": null, "allow_query": false}),
            "credential",
            "malformed_header",
        ),
        with(
            "extract",
            json!({"authorization": "Bearer abc", "query": "api_key=abc", "allow_query": true}),
            "credential",
            "both_present",
        ),
        with(
            "extract",
            json!({"authorization": null, "query": "api_key=abc", "allow_query": false}),
            "credential",
            "query_refused",
        ),
        with(
            "extract",
            json!({"authorization": null, "query": "api_key=a&api_key=b", "allow_query": true}),
            "credential",
            "malformed_query",
        ),
        with(
            "issue",
            json!({"name": "n", "owner": "o", "scopes": ["claims:nope"], "kind": null, "env": null}),
            "issue",
            "unknown_scope",
        ),
        with(
            "issue",
            json!({"name": "n", "owner": "o", "scopes": scopes, "kind": "zz", "env": null}),
            "issue",
            "unknown_kind",
        ),
        with(
            "issue",
            json!({"name": "n", "owner": "o", "scopes": scopes, "kind": null, "env": "prod"}),
            "issue",
            "unknown_env",
        ),
        with(
            "issue",
            json!({"name": "", "owner": "o", "scopes": scopes, "kind": null, "env": null}),
            "issue",
            "bad_field",
        ),
        with(
            "record_from_json",
            json!({"json": "{\"id\": 1}"}),
            "record",
            "bad_json",
        ),
        with(
            "record_from_json",
            json!({"json": bad_label}),
            "record",
            "bad_label",
        ),
        with(
            "record_from_json",
            json!({"json": bad_hash}),
            "record",
            "bad_hash",
        ),
        with("store_insert_twice", json!({}), "store", "duplicate"),
        with(
            "store_revoke",
            json!({"id": UNKNOWN_ID}),
            "store",
            "not_found",
        ),
        with("requirement", json!({"text": ""}), "requirement", "empty"),
        with(
            "requirement",
            json!({"text": "claims:nope"}),
            "requirement",
            "unknown_scope",
        ),
        with(
            "requirement",
            json!({"text": "claims:read &"}),
            "requirement",
            "unexpected_end",
        ),
        with(
            "requirement",
            json!({"text": "claims:*"}),
            "requirement",
            "wildcard",
        ),
        with(
            "peppers",
            ops(json!([["new", "bad id", 32]])),
            "pepper",
            "bad_pepper_id",
        ),
        with(
            "peppers",
            ops(json!([["new", "p1", 31]])),
            "pepper",
            "pepper_too_short",
        ),
        with(
            "peppers",
            ops(json!([["new", "p1", 32], ["add", "p1", 32]])),
            "pepper",
            "duplicate_pepper",
        ),
        with(
            "peppers",
            ops(json!([["new", "p1", 32], ["set_primary", "p2", 0]])),
            "pepper",
            "unknown_pepper",
        ),
        with(
            "access_keys",
            ops(json!([["new", "k_1", 32]])),
            "access_key",
            "bad_access_key_id",
        ),
        with(
            "access_keys",
            ops(json!([["new", "k1", 31]])),
            "access_key",
            "access_key_too_short",
        ),
        with(
            "access_keys",
            ops(json!([["new", "k1", 32], ["add", "k1", 32]])),
            "access_key",
            "duplicate_access_key",
        ),
        with(
            "access_keys",
            ops(json!([["new", "k1", 32], ["remove", "k2", 0]])),
            "access_key",
            "unknown_access_key",
        ),
        with(
            "client_public",
            json!({"id": "", "redirect_uris": uri, "scopes": scopes}),
            "client",
            "bad_id",
        ),
        with(
            "client_public",
            json!({"id": "spa", "redirect_uris": ["http://app.example.com/cb"], "scopes": scopes}),
            "client",
            "bad_redirect_uri",
        ),
        with(
            "client_public",
            json!({"id": "spa", "redirect_uris": [], "scopes": scopes}),
            "client",
            "no_redirect_uri",
        ),
    ]
}

fn table() -> Vec<Value> {
    codes::TABLE
        .iter()
        .map(|row| {
            json!({
                "family": row.family().name(),
                "code": row.code(),
                "number": row.number(),
                "c_name": row.c_name().to_str().expect("ascii"),
                "c_number": row.c_number(),
                "message": row.message(),
            })
        })
        .collect()
}

fn c_name(number: u32) -> &'static str {
    codes::by_number(number)
        .and_then(|r| r.c_name().to_str().ok())
        .unwrap_or("PORTCULLIS_UNKNOWN")
}

#[test]
fn errors_json_is_current_and_every_case_yields_its_code() {
    let mut cases = cases();
    for case in &mut cases {
        let row = run(case).unwrap_or_else(|| panic!("no error from {case}"));
        assert_eq!(
            (row.family().name(), row.code()),
            (
                case["family"].as_str().unwrap_or(""),
                case["code"].as_str().unwrap_or("")
            ),
            "{case}"
        );
        case["c_number"] = json!(row.c_number());
        case["c_name"] = json!(c_name(row.c_number()));
    }
    let families: std::collections::BTreeSet<&str> =
        cases.iter().filter_map(|c| c["family"].as_str()).collect();
    assert!(
        families.len() >= 9,
        "every family a binding can reach has a case"
    );
    let value = json!({
        "description": "Error codes: the core's table (family, snake_case code, C number or null, C name, the number C reports, message) and inputs that must fail with a given family and code in every binding. `policy` is examples/claimport.toml, the checker's pepper `pepper_id` = 32 bytes of `pepper_byte`; a pepper or access-key op is [op, id, secret length] with secret bytes 7; a case's `c_number`/`c_name` is what C returns.",
        "policy": claimport_text(),
        "pepper_id": PEPPER_ID,
        "pepper_byte": PEPPER[0],
        "now": NOW,
        "table": table(),
        "cases": cases,
    });
    settle_vectors("errors.json", &value);
}
