//! `--database URL`: every command on a real PostgreSQL server (the store crate's test
//! helper), typed errors with a hint for a bad URL, a wrong password, an unreachable host,
//! a foreign or a newer schema, and a store of the CLI's first schema upgraded in place.

mod common;
// The store's test server, shared; this suite uses only part of it.
#[allow(dead_code)]
#[path = "../../portcullis-store/tests/common/pg.rs"]
mod pg;

use common::{NOW, Sandbox, assert_shape};
use portcullis_cli::store::SCHEMA_VERSION;
use std::fs;

/// Runs with `--json`, expects exit 4 and a hint, and returns the error's code and the
/// whole output (to look for secrets in).
fn failure(s: &Sandbox, args: &[&str]) -> (String, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = s.run(&all);
    assert_eq!(run.code, 4, "{args:?}: {run:?}");
    let v = run.json();
    assert_shape(&v["error"], &["code", "message", "hint", "details"]);
    assert!(v["error"]["hint"].is_string(), "a hint: {v}");
    let code = v["error"]["code"].as_str().expect("code").to_owned();
    (code, format!("{}{}", run.stdout, run.stderr))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn every_command_works_on_postgresql() {
    let Some(pg) = pg::Pg::start() else { return };
    let url = pg.database("cli");
    let s = Sandbox::with_database(&url);
    let init = s.json(0, &["init"]);
    assert_eq!(init["schema_version"], SCHEMA_VERSION);
    let shown = init["database"].as_str().expect("database");
    assert!(
        shown.starts_with("postgresql://postgres@127.0.0.1:"),
        "{shown}"
    );
    assert!(
        !init.to_string().contains(pg::PASSWORD),
        "no password shown"
    );
    assert!(
        !s.store().join("keys.sqlite3").exists(),
        "no SQLite file beside a PostgreSQL database"
    );
    assert_eq!(s.json(3, &["init"])["error"]["code"], "store_exists");

    let (key, id) = s.create("Production", "claims:read");
    let list = s.json(0, &["keys", "list"]);
    assert_eq!(list["records"][0]["id"], id.as_str());
    assert_eq!(
        s.json(0, &["keys", "show", &id])["record"]["name"],
        "Production"
    );
    let (code, decision) = s.check_at(NOW, "GET", "/v1/claims", &key);
    assert_eq!((code, &decision["status"]), (0, &serde_json::json!(200)));

    let rotated = s.json(0, &["keys", "rotate", &id, "--grace", "1h"]);
    let new_key = rotated["api_key"].as_str().expect("key").to_owned();
    let new_id = rotated["record"]["id"].as_str().expect("id").to_owned();
    for k in [&key, &new_key] {
        assert_eq!(s.check_at(NOW, "GET", "/v1/claims", k).1["status"], 200);
    }
    assert_eq!(
        s.check_at(NOW + 7_200, "GET", "/v1/claims", &key).1["reason"],
        "expired"
    );
    let revoked = s.json(0, &["keys", "revoke", &new_id]);
    assert_eq!(revoked["already_revoked"], false);
    assert_eq!(
        s.json(0, &["keys", "revoke", &new_id])["already_revoked"],
        true
    );
    assert_eq!(
        s.check_at(NOW, "GET", "/v1/claims", &new_key).1["status"],
        401
    );
    let pepper = s.json(0, &["pepper", "rotate"]);
    assert_eq!(pepper["records_by_pepper"]["p1"], 2);
    assert_eq!(
        s.json(0, &["keys", "list", "--status", "revoked"])["records"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // The rows are in PostgreSQL, with their audit.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM keys), (SELECT count(*) FROM key_audit)",
            &[],
        )
        .expect("count");
    // Audit: created, rotated, the successor created, revoked, and the pepper rotation.
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (2, 5));

    let demo = s.json(0, &["demo"]);
    assert_eq!(demo["ok"], true, "{demo}");
}

#[test]
fn a_bad_url_an_unreachable_host_and_a_wrong_password_are_typed_errors() {
    let s = Sandbox::initialised();
    for url in [
        "postgresql://app:s3cr3t-pw@127.0.0.1:notaport/db",
        "mysql://app:s3cr3t-pw@127.0.0.1/db",
        "sqlite:",
    ] {
        let (code, out) = failure(&s, &["--database", url, "keys", "list"]);
        assert_eq!(code, "store_bad_url", "{url}");
        assert!(!out.contains("s3cr3t-pw"), "{out}");
    }
    let closed = format!(
        "postgresql://app:s3cr3t-pw@127.0.0.1:{}/db?connect_timeout=2",
        free_port()
    );
    let (code, out) = failure(&s, &["--database", &closed, "keys", "list"]);
    assert_eq!(code, "store_unreachable");
    assert!(!out.contains("s3cr3t-pw"), "{out}");

    let Some(pg) = pg::Pg::start() else { return };
    pg.database("auth");
    let wrong = format!(
        "postgresql://postgres:not-the-pw@127.0.0.1:{}/auth",
        pg.port
    );
    let (code, out) = failure(&s, &["--database", &wrong, "keys", "list"]);
    assert_eq!(code, "store_auth_failed");
    assert!(!out.contains("not-the-pw"), "{out}");
}

#[test]
fn a_foreign_or_newer_schema_is_refused_on_both_backends() {
    // SQLite: a newer schema in the store directory's file.
    let s = Sandbox::initialised();
    let db = s.store().join("keys.sqlite3");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    for args in [
        &["keys", "list"][..],
        &["keys", "create", "--name", "x", "--scopes", "claims:read"],
    ] {
        assert_eq!(failure(&s, args).0, "store_too_new", "{args:?}");
    }

    let Some(pg) = pg::Pg::start() else { return };
    let foreign = pg.database("invoices");
    pg.sql("invoices", "CREATE TABLE invoices (id BIGINT)");
    let s = Sandbox::with_database(&foreign);
    assert_eq!(failure(&s, &["init"]).0, "store_foreign");
    assert!(
        !s.store().join("pepper").exists(),
        "a refused database leaves no pepper file behind"
    );

    let newer = pg.database("newer");
    let s = Sandbox::with_database(&newer);
    s.json(0, &["init"]);
    pg.sql("newer", "UPDATE portcullis_schema SET version = 99");
    assert_eq!(failure(&s, &["keys", "list"]).0, "store_too_new");
}

#[test]
fn a_store_of_the_first_schema_is_upgraded_in_place_by_the_first_write() {
    let s = Sandbox::initialised();
    let (key, id) = s.create("Old", "claims:read");
    // What the CLI wrote before the store crate: schema 1, the keys table alone.
    let db = s.store().join("keys.sqlite3");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "DROP TABLE key_audit; DROP TABLE oauth_clients; DROP TABLE oauth_codes;
         DROP TABLE oauth_refresh; DROP TABLE oauth_revoked_families; DROP TABLE access_epoch;
         DROP TABLE changes; DROP TABLE key_usage; DROP TABLE key_usage_hours;
         DROP TABLE usage_signals; PRAGMA user_version = 1;",
    )
    .expect("schema 1");
    drop(conn);
    let version = || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)))
            .expect("version")
    };

    // A read never upgrades.
    assert_eq!(failure(&s, &["keys", "list"]).0, "store_outdated");
    assert_eq!(version(), 1);

    // A write does, and keeps every key.
    s.create("New", "claims:read");
    assert_eq!(version(), SCHEMA_VERSION);
    let list = s.json(0, &["keys", "list"]);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(2));
    assert!(
        list["records"]
            .as_array()
            .expect("records")
            .iter()
            .any(|r| r["id"] == id.as_str())
    );
    assert_eq!(s.check_at(NOW, "GET", "/v1/claims", &key).1["status"], 200);
    s.json(0, &["keys", "revoke", &id]);
    assert_eq!(s.check_at(NOW, "GET", "/v1/claims", &key).1["status"], 401);
    let audit: i64 = rusqlite::Connection::open(&db)
        .and_then(|c| c.query_row("SELECT count(*) FROM key_audit", [], |r| r.get(0)))
        .expect("audit");
    assert_eq!(audit, 2, "the new key's creation and the revocation");
    assert!(fs::metadata(&db).is_ok());
}
