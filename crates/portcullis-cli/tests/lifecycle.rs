//! The whole key lifecycle through the binary, in JSON and human modes.

mod common;

use common::{DECISION_FIELDS, NOW, RECORD_FIELDS, Sandbox, TestPolicy, assert_shape};

const DAY: u64 = 86_400;

#[test]
fn lifecycle_in_json_mode() {
    let s = Sandbox::new();
    let init = s.json(0, &["init"]);
    assert_shape(
        &init,
        &[
            "store",
            "database",
            "pepper_file",
            "policy",
            "policy_written",
            "pepper_id",
            "realm",
            "schema_version",
        ],
    );
    assert_eq!(init["pepper_id"], "p1");
    assert_eq!(init["realm"], "claimport");

    // create: the plaintext once, the record without hash or secret
    let created = s.json(
        0,
        &[
            "keys",
            "create",
            "--name",
            "Production Integration",
            "--scopes",
            "claims:read,claims:write",
            "--ttl",
            "90d",
        ],
    );
    assert_shape(&created, &["api_key", "record"]);
    assert_shape(&created["record"], RECORD_FIELDS);
    let key = created["api_key"].as_str().expect("key").to_owned();
    let id = created["record"]["id"].as_str().expect("id").to_owned();
    assert!(key.starts_with(&format!("sk_live_{id}_")));
    assert_eq!(created["record"]["status"], "active");
    assert_eq!(created["record"]["expires_at"], NOW + 90 * DAY);
    assert_eq!(created["record"]["scopes"][1], "claims:write");
    assert!(!created["record"].to_string().contains(&key[24..]));

    // list and show never contain the secret
    let list = s.json(0, &["keys", "list"]);
    assert_shape(&list, &["records", "corrupt"]);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(1));
    let mut listed = RECORD_FIELDS.to_vec();
    listed.push("last_used");
    assert_shape(&list["records"][0], &listed);
    let show = s.json(0, &["keys", "show", &id]);
    assert_shape(&show, &["record"]);
    assert_eq!(show["record"], list["records"][0]);
    for text in [list.to_string(), show.to_string()] {
        assert!(!text.contains(&key), "secret leaked: {text}");
    }

    // check: allowed (0), denied (1), with the documented shape
    let (code, allowed) = s.check_at(NOW, "POST", "/v1/claims", &key);
    assert_eq!(code, 0);
    assert_shape(&allowed, DECISION_FIELDS);
    assert_eq!(allowed["allowed"], true);
    assert_eq!(allowed["key_id"], id.as_str());
    assert_eq!(
        allowed["scopes"],
        serde_json::json!(["claims:read", "claims:write"])
    );
    assert_eq!(allowed["route"]["path"], "/v1/claims");
    let (code, denied) = s.check_at(NOW, "GET", "/v1/orders", &key);
    assert_eq!(code, 1);
    assert_eq!(denied["status"], 403);
    assert_eq!(denied["missing"], serde_json::json!(["orders:read"]));
    assert!(!denied.to_string().contains(&key));

    // rotate: both keys valid during the grace period, only the new one after it
    let rotated = s.json(0, &["keys", "rotate", &id, "--grace", "2d"]);
    assert_shape(&rotated, &["api_key", "record", "predecessor"]);
    let new_key = rotated["api_key"].as_str().expect("new key").to_owned();
    let new_id = rotated["record"]["id"].as_str().expect("new id").to_owned();
    assert_eq!(rotated["record"]["rotated_from"], id.as_str());
    assert_eq!(rotated["predecessor"]["expires_at"], NOW + 2 * DAY);
    assert_eq!(
        rotated["record"]["expires_at"],
        NOW + 90 * DAY,
        "keeps its lifetime"
    );
    for k in [&key, &new_key] {
        assert_eq!(s.check_at(NOW + DAY, "GET", "/v1/claims/1", k).0, 0);
    }
    let (code, old_after) = s.check_at(NOW + 3 * DAY, "GET", "/v1/claims/1", &key);
    assert_eq!((code, old_after["reason"].as_str()), (1, Some("expired")));
    assert_eq!(
        s.check_at(NOW + 3 * DAY, "GET", "/v1/claims/1", &new_key).0,
        0
    );

    // revoke: effective at once, idempotent
    let revoked = s.json(0, &["keys", "revoke", &new_id]);
    assert_shape(&revoked, &["record", "corrupt", "already_revoked"]);
    assert_eq!(revoked["already_revoked"], false);
    assert_eq!(revoked["record"]["status"], "revoked");
    let (code, after) = s.check_at(NOW, "GET", "/v1/claims/1", &new_key);
    assert_eq!((code, after["reason"].as_str()), (1, Some("revoked")));
    let again = s.json(0, &["keys", "revoke", &new_id]);
    assert_eq!(again["already_revoked"], true);
    assert_eq!(again["record"]["revoked_at"], NOW);

    // a revoked key cannot be rotated back to life
    let err = s.json(3, &["keys", "rotate", &new_id]);
    assert_eq!(err["error"]["code"], "key_inactive");

    let list = s.json(0, &["keys", "list"]);
    let status_of = |wanted: &str| {
        list["records"]
            .as_array()
            .expect("records")
            .iter()
            .find(|r| r["id"] == wanted)
            .map(|r| r["status"].clone())
    };
    assert_eq!(
        status_of(&id),
        Some("active".into()),
        "old key in its grace period"
    );
    assert_eq!(status_of(&new_id), Some("revoked".into()));
    let only_revoked = s.json(0, &["keys", "list", "--status", "revoked"]);
    assert_eq!(only_revoked["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(only_revoked["records"][0]["id"], new_id.as_str());
    let nobody = s.json(0, &["keys", "list", "--owner", "org_nobody"]);
    assert_eq!(nobody["records"], serde_json::json!([]));
}

#[test]
fn lifecycle_in_human_mode() {
    let s = Sandbox::initialised();
    let created = s.run(&[
        "keys",
        "create",
        "--name",
        "Reporting",
        "--scopes",
        "analytics:read",
    ]);
    assert_eq!(created.code, 0, "{created:?}");
    let key = created
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("sk_live_"))
        .expect("the key is displayed once")
        .to_owned();
    let id = key.split('_').nth(2).expect("id").to_owned();
    assert!(created.stdout.contains("shown only this once"));

    let list = s.run(&["keys", "list"]);
    assert_eq!(list.code, 0);
    let mut lines = list.stdout.lines();
    let header = lines.next().expect("header");
    let row = lines.next().expect("row");
    assert!(header.starts_with("ID  ") && header.contains("STATUS"));
    // aligned: each header column starts where its values start
    let col = header.find("NAME").expect("NAME");
    assert_eq!(&row[col..col + "Reporting".len()], "Reporting");
    assert!(!list.stdout.contains(&key));

    let show = s.run(&["keys", "show", &format!("sk_live_{id}_…")]);
    assert_eq!(show.code, 0, "display form accepted: {show:?}");
    assert!(show.stdout.contains("analytics:read") && !show.stdout.contains(&key));

    let header = format!("Authorization: Bearer {key}");
    let ok = s.run(&[
        "check",
        "--path",
        "/v1/analytics/weekly",
        "--header",
        &header,
    ]);
    assert_eq!(ok.code, 0);
    assert!(ok.stdout.starts_with("ALLOWED 200"), "{}", ok.stdout);
    let no = s.run(&["check", "--path", "/v1/claims", "--header", &header]);
    assert_eq!(no.code, 1);
    assert!(no.stdout.starts_with("DENIED 403 insufficient_scope"));
    assert!(no.stdout.contains("missing           claims:read"));
    let http = s.run(&[
        "check",
        "--path",
        "/v1/analytics/x",
        "--header",
        &header,
        "--http",
    ]);
    assert_eq!(http.code, 1);
    assert!(http.stdout.contains("insecure_transport"));
    for out in [&ok.stdout, &no.stdout, &http.stdout] {
        assert!(!out.contains(&key), "secret echoed: {out}");
    }

    let piped = common::run_with_stdin(
        &s.store(),
        NOW,
        &["check", "--key-stdin", "--path", "/v1/analytics/daily"],
        &format!("{key}\n"),
    );
    assert_eq!(piped.code, 0, "{piped:?}");
    assert!(piped.stdout.starts_with("ALLOWED 200"));
    let both = common::run_with_stdin(
        &s.store(),
        NOW,
        &["check", "--key-stdin", "--path", "/", "--header", &header],
        &key,
    );
    assert_eq!(both.code, 3, "one credential source only");

    let rotated = s.run(&["keys", "rotate", &id, "--grace", "1h"]);
    assert_eq!(rotated.code, 0);
    assert!(rotated.stdout.contains("keeps working for 1h"));
    let revoked = s.run(&["keys", "revoke", &id]);
    assert_eq!(revoked.code, 0);
    assert!(revoked.stdout.starts_with("Revoked key"));
}

#[test]
fn pepper_rotation_keeps_old_keys_valid() {
    let s = Sandbox::initialised();
    let (old_key, _) = s.create("Before", "claims:read");
    let rotated = s.json(0, &["pepper", "rotate"]);
    assert_shape(
        &rotated,
        &["primary", "peppers", "records_by_pepper", "legacy_records"],
    );
    assert_eq!(rotated["primary"], "p2");
    assert_eq!(rotated["peppers"], serde_json::json!(["p2", "p1"]));
    assert_eq!(rotated["records_by_pepper"]["p1"], 1);
    let (new_key, new_id) = s.create("After", "claims:read");
    let show = s.json(0, &["keys", "show", &new_id]);
    assert_eq!(show["record"]["pepper_id"], "p2");
    let (code, old) = s.check_at(NOW, "GET", "/v1/claims", &old_key);
    assert_eq!(code, 0, "{old}");
    assert_eq!(old["warnings"], serde_json::json!(["needs_rehash"]));
    // That check moved the old record to the new pepper: the warning is gone next time.
    let (code, again) = s.check_at(NOW, "GET", "/v1/claims", &old_key);
    assert_eq!(
        (code, again["warnings"].clone()),
        (0, serde_json::json!([])),
        "{again}"
    );
    let old_id = old["key_id"].as_str().expect("key id").to_owned();
    assert_eq!(
        s.json(0, &["keys", "show", &old_id])["record"]["pepper_id"],
        "p2"
    );
    assert_eq!(s.check_at(NOW, "GET", "/v1/claims", &new_key).0, 0);
    assert_eq!(s.json(0, &["pepper", "rotate"])["primary"], "p3");
    assert_eq!(s.check_at(NOW, "GET", "/v1/claims", &old_key).0, 0);

    // no command ever shows a pepper
    let file = std::fs::read_to_string(s.store().join("pepper")).expect("pepper file");
    let secrets: Vec<&str> = file
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(secrets.len(), 3);
    let mut outputs = Vec::new();
    for args in [
        &["keys", "list"][..],
        &["--json", "keys", "list"],
        &["keys", "show", &new_id],
        &["pepper", "rotate"],
        &["--json", "pepper", "rotate"],
        &["keys", "create", "--name", "Z", "--scopes", "claims:read"],
    ] {
        let run = s.run(args);
        outputs.push(run.stdout + &run.stderr);
    }
    for secret in secrets {
        assert!(outputs.iter().all(|o| !o.contains(secret)), "pepper leaked");
    }
}

#[test]
fn test_keys_and_policy_override() {
    let s = Sandbox::initialised();
    let v = s.json(
        0,
        &[
            "keys", "create", "--name", "CI", "--scopes", "claims:*", "--env", "test",
        ],
    );
    let key = v["api_key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("sk_test_"));
    let (code, live) = s.check_at(NOW, "GET", "/v1/claims", &key);
    assert_eq!(
        (code, live["reason"].as_str()),
        (1, Some("wrong_environment"))
    );

    // a staging policy that accepts test keys, passed with --policy
    let text = std::fs::read_to_string(s.store().join("policy.toml")).expect("policy");
    let staging = s.dir.path().join("staging.toml");
    let text = TestPolicy::from_text(&text).deployment_env("test").text();
    std::fs::write(&staging, text).expect("write");
    let header = format!("--header=Authorization: Bearer {key}");
    let policy = format!("--policy={}", staging.display());
    let run = s.run(&["--json", &policy, "check", "--path", "/v1/claims", &header]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["scopes"],
        serde_json::json!(["claims:read", "claims:write"])
    );
}

#[test]
fn policy_check_prints_the_catalog_and_routes() {
    let s = Sandbox::new();
    let product = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/claimport.toml");
    let human = s.run(&["policy", "check", product]);
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.contains(": valid"));
    assert!(
        human
            .stdout
            .contains("claims:write    Write Claims    claims:read")
    );
    assert!(human.stdout.contains("analytics:read | full_access"));

    let v = s.json(0, &["policy", "check", product]);
    assert_shape(
        &v,
        &[
            "valid",
            "realm",
            "kinds",
            "environments",
            "deployment_env",
            "unknown_routes",
            "transport",
            "lifecycle",
            "paths",
            "warnings",
            "scopes",
            "routes",
            "limits",
        ],
    );
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(
        v["paths"],
        serde_json::json!({"case_sensitive": true, "params": "refuse"})
    );
    assert_shape(
        &v["scopes"][0],
        &["name", "description", "implies", "effective"],
    );
    assert_shape(&v["routes"][0], &["method", "path", "access", "require"]);
    assert_eq!(
        v["scopes"][1]["effective"],
        serde_json::json!(["claims:read", "claims:write"])
    );
    assert_eq!(v["routes"][0]["access"], "public");

    let bad = s.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[scopes]]\nname = \"claims:read\"\n\n[[routes]]\nmethod = \"GET\"\npath = \"/x\"\nrequire = \"claims:raed\"\n",
    )
    .expect("write");
    let bad_path = bad.display().to_string();
    let human = s.run(&["policy", "check", &bad_path]);
    assert_eq!(human.code, 3, "{human:?}");
    assert!(
        human.stdout.contains(&format!("{bad_path}:7:")),
        "line:column shown: {}",
        human.stdout
    );
    assert!(human.stdout.contains("claims:raed"));
    let v = s.json(3, &["policy", "check", &bad_path]);
    assert_shape(&v, &["valid", "file", "issues"]);
    assert_eq!(v["valid"], false);
    assert_shape(&v["issues"][0], &["line", "column", "field", "message"]);
    assert_eq!(v["issues"][0]["line"], 7);
    assert_eq!(v["issues"][0]["field"], "routes[0].require");
}

#[test]
fn policy_check_shows_every_problem_and_the_warnings_of_a_valid_policy() {
    let s = Sandbox::new();
    let bad = s.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[scopes]]\nname = \"a\"\n[[scopes]]\nname = \"a\"\n[[routes]]\nmethod = \"GET\"\npath = \"/x\"\nrequire = \"b\"\n[[routes]]\nmethod = \"GET\"\npath = \"/y\"\nrequire = \"a &\"\n",
    )
    .expect("write");
    let v = s.json(3, &["policy", "check", &bad.display().to_string()]);
    let fields: Vec<&str> = v["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["scopes[1].name", "routes[0].require", "routes[1].require"],
        "{v}"
    );

    let shadowed = s.dir.path().join("shadowed.toml");
    std::fs::write(
        &shadowed,
        "[[scopes]]\nname = \"admin\"\n[[routes]]\nmethod = \"POST\"\npath = \"/v1/{*rest}\"\naccess = \"authenticated\"\n[[routes]]\nmethod = \"*\"\npath = \"/v1/admin/reset\"\nrequire = \"admin\"\n",
    )
    .expect("write");
    let path = shadowed.display().to_string();
    let human = s.run(&["policy", "check", &path]);
    assert_eq!(human.code, 0, "{human:?}");
    assert!(
        human.stdout.contains("Warnings (1)") && human.stdout.contains(&format!("{path}:5:")),
        "{}",
        human.stdout
    );
    let v = s.json(0, &["policy", "check", &path]);
    assert_eq!(v["warnings"][0]["field"], "routes[0]", "{v}");
}

#[test]
fn the_demo_tells_the_story_and_exits_zero() {
    let s = Sandbox::new();
    let human = s.run(&["demo"]);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(human.stdout.contains("behaved as the story says"));
    for reason in [
        "403 insufficient_scope",
        "malformed_key (checksum)",
        "wrong_environment",
        "query_refused",
        "401 expired",
        "401 revoked",
    ] {
        assert!(human.stdout.contains(reason), "missing {reason}");
    }
    assert!(!human.stdout.contains("UNEXPECTED"));
    let v = s.json(0, &["demo"]);
    assert_shape(&v, &["ok", "failures", "steps"]);
    assert_eq!(v["ok"], true);
    let steps = v["steps"].as_array().expect("steps");
    assert!(steps.len() >= 10);
    for step in steps {
        assert_eq!(step["ok"], true, "{step}");
        assert_shape(&step["actual"], DECISION_FIELDS);
    }
    assert!(!s.store().exists(), "the demo never touches the --store");
}
