//! `portcullis audit` and `--actor` (issue #20): every change the commands make is in the
//! log with who made it, as a table and as a JSON array, paged, on SQLite and PostgreSQL;
//! a bad actor is a usage error; the log never shows a key or a pepper.

mod common;
// The store's test server, shared; this suite uses only part of it.
#[allow(dead_code)]
#[path = "../../portcullis-store/tests/common/pg.rs"]
mod pg;

use common::{NOW, Run, Sandbox, assert_shape};
use serde_json::Value;
use std::process::Command;

const ENTRY_FIELDS: &[&str] = &["seq", "at", "actor", "action", "key_id", "detail"];

/// Runs the binary on the sandbox's store with `env` set (`None`: removed) and no actor
/// variables inherited.
fn run_env(s: &Sandbox, env: &[(&str, Option<&str>)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.arg("--store")
        .arg(s.store())
        .arg("--now")
        .arg(NOW.to_string())
        .args(args)
        .env_remove("PORTCULLIS_STORE")
        .env_remove("PORTCULLIS_PEPPER_FILE")
        .env_remove("PORTCULLIS_POLICY")
        .env_remove("PORTCULLIS_DATABASE_URL")
        .env_remove("PORTCULLIS_ACTOR")
        .env_remove("USER");
    if let Some(url) = &s.database {
        cmd.env("PORTCULLIS_DATABASE_URL", url);
    }
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd.output().expect("run portcullis");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// (action, key_id, actor) of each entry of a JSON log.
fn summary(log: &Value) -> Vec<(String, Value, Value)> {
    assert_shape(log, &["entries", "next_before"]);
    log["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {log}"))
        .iter()
        .map(|e| {
            assert_shape(e, ENTRY_FIELDS);
            (
                e["action"].as_str().expect("action").to_owned(),
                e["key_id"].clone(),
                e["actor"].clone(),
            )
        })
        .collect()
}

/// Every command's change, with `--actor`, then the log in JSON and as a table.
fn tell_and_read(s: &Sandbox) {
    assert_eq!(s.run(&["--actor", "admin@example.com", "init"]).code, 0);
    let created = s.json(
        0,
        &[
            "--actor",
            "alice@example.com",
            "keys",
            "create",
            "--name",
            "Production",
            "--scopes",
            "claims:read",
        ],
    );
    let key = created["api_key"].as_str().expect("key").to_owned();
    let id = created["record"]["id"].as_str().expect("id").to_owned();
    let rotated = s.json(
        0,
        &["--actor", "bob", "keys", "rotate", &id, "--grace", "1h"],
    );
    let new_key = rotated["api_key"].as_str().expect("key").to_owned();
    let new_id = rotated["record"]["id"].as_str().expect("id").to_owned();
    let pepper = s.json(0, &["--actor", "ops", "pepper", "rotate"]);
    assert_eq!(pepper["primary"], "p2");
    s.json(0, &["--actor", "carol", "keys", "revoke", &new_id]);

    let log = s.json(0, &["audit"]);
    assert_eq!(log["next_before"], Value::Null);
    let doc = log.clone();
    let log = &log["entries"];
    let k = |id: &str| Value::from(id);
    let a = |name: &str| Value::from(name);
    assert_eq!(
        summary(&doc),
        [
            ("revoked".to_owned(), k(&new_id), a("carol")),
            ("pepper_rotated".to_owned(), Value::Null, a("ops")),
            ("created".to_owned(), k(&new_id), a("bob")),
            ("rotated".to_owned(), k(&id), a("bob")),
            ("created".to_owned(), k(&id), a("alice@example.com")),
        ]
    );
    assert_eq!(log[1]["detail"], "p2");
    assert_eq!(log[3]["detail"], new_id.as_str());
    assert_eq!(log[4]["detail"], Value::Null);
    assert_eq!(log[0]["at"], NOW);
    let seqs: Vec<i64> = log
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );

    // One key; a page and the next one.
    let of_id = s.json(0, &["audit", "--key", &id]);
    assert_eq!(
        summary(&of_id)
            .into_iter()
            .map(|(action, ..)| action)
            .collect::<Vec<_>>(),
        ["rotated", "created"]
    );
    let page = s.run(&["audit", "--limit", "2"]);
    assert_eq!(page.code, 0, "{page:?}");
    assert_eq!(
        s.json(0, &["audit", "--limit", "2"])["next_before"],
        seqs[1]
    );
    let next = format!("--before {}", seqs[1]);
    assert!(page.stdout.contains(&next), "{}", page.stdout);
    let rest = s.json(0, &["audit", "--before", &seqs[1].to_string()]);
    assert_eq!(rest["entries"].as_array().map(Vec::len), Some(3));
    assert_eq!(rest["entries"][0]["seq"], seqs[2]);

    // The table: a header, one line per entry, '-' for no key.
    let text = s.run(&["audit"]);
    assert_eq!(text.code, 0, "{text:?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", text.stdout);
    for column in ["SEQ", "TIME", "ACTOR", "ACTION", "KEY", "DETAIL"] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    assert!(
        lines[1].contains("carol") && lines[1].contains("revoked") && lines[1].contains(&new_id),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("2027-01-15"), "{}", lines[1]);
    let pepper_line = lines[2].split_whitespace().collect::<Vec<_>>();
    assert!(
        pepper_line.ends_with(&["ops", "pepper_rotated", "-", "p2"]),
        "{pepper_line:?}"
    );
    assert!(!text.stdout.contains("Older entries"), "{}", text.stdout);

    // No key, no secret part, no pepper anywhere in the log.
    let peppers = std::fs::read_to_string(s.store().join("pepper")).unwrap_or_default();
    let all = format!("{}{}", text.stdout, doc);
    for secret in [key.as_str(), new_key.as_str()] {
        assert!(!all.contains(secret), "{all}");
        let part = secret.rsplit('_').next().expect("secret part");
        assert!(!all.contains(&part[..16]), "{all}");
    }
    for line in peppers.lines().filter(|l| l.len() > 20) {
        for word in line.split_whitespace().filter(|w| w.len() > 20) {
            assert!(!all.contains(word), "a pepper in the log");
        }
    }
}

#[test]
fn audit_prints_every_change_with_its_actor_as_a_table_and_as_json() {
    tell_and_read(&Sandbox::new());
}

#[test]
fn audit_works_on_postgresql() {
    let Some(pg) = pg::Pg::start() else { return };
    tell_and_read(&Sandbox::with_database(&pg.database("cli_audit")));
}

#[test]
fn the_actor_defaults_to_portcullis_actor_then_user_then_cli() {
    let s = Sandbox::initialised();
    let create = |env: &[(&str, Option<&str>)]| {
        let run = run_env(
            &s,
            env,
            &["keys", "create", "--name", "k", "--scopes", "claims:read"],
        );
        assert_eq!(run.code, 0, "{run:?}");
    };
    create(&[("USER", Some("carol"))]);
    create(&[
        ("USER", Some("carol")),
        ("PORTCULLIS_ACTOR", Some("deploy-bot")),
    ]);
    create(&[]);
    // A $USER that is no valid actor falls back to "cli".
    create(&[("USER", Some("  "))]);
    let run = run_env(
        &s,
        &[("USER", Some("carol"))],
        &["--actor", "erin", "--json", "audit"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let actors: Vec<Value> = summary(&run.json())
        .into_iter()
        .map(|(.., actor)| actor)
        .collect();
    assert_eq!(actors, ["cli", "cli", "deploy-bot", "carol"]);
}

#[test]
fn a_bad_actor_is_a_usage_error_and_changes_nothing() {
    let s = Sandbox::initialised();
    for bad in ["", "   ", "a\nforged line", "x\u{1b}[2J"] {
        let run = s.run(&[
            "--actor",
            bad,
            "keys",
            "create",
            "--name",
            "k",
            "--scopes",
            "claims:read",
        ]);
        assert_eq!(run.code, 2, "{bad:?}: {run:?}");
        assert!(run.stderr.contains("actor"), "{}", run.stderr);
        let from_env = run_env(&s, &[("PORTCULLIS_ACTOR", Some(bad))], &["audit"]);
        assert_eq!(from_env.code, 2, "{bad:?}: {from_env:?}");
    }
    let long = "a".repeat(257);
    assert_eq!(s.run(&["--actor", &long, "audit"]).code, 2);
    assert_eq!(
        s.json(0, &["audit"]),
        serde_json::json!({"entries": [], "next_before": null})
    );
    let empty = s.run(&["audit"]);
    assert_eq!(empty.stdout, "No audit entries yet.\n");
}

#[test]
fn audit_of_an_unknown_or_malformed_key_id() {
    let s = Sandbox::initialised();
    assert_eq!(
        s.run(&["audit", "--key", "AbCdEfGh01234567"]).stdout,
        "No audit entries for key AbCdEfGh01234567.\n"
    );
    assert_eq!(
        s.json(3, &["audit", "--key", "nope"])["error"]["code"],
        "invalid_key_id"
    );
    assert_eq!(s.run(&["audit", "--limit", "0"]).code, 2);
    assert_eq!(s.run(&["audit", "--limit", "1001"]).code, 2);
}
