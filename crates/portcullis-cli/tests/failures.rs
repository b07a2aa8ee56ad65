//! Missing, corrupt and unsafe files, and bad input: clear errors, documented exit codes,
//! no secret in any message.

mod common;

use common::{NOW, Sandbox, assert_shape};
use std::fs;

fn error_code(s: &Sandbox, code: i32, args: &[&str]) -> String {
    let v = s.json(code, args);
    assert_shape(&v, &["error"]);
    assert_shape(&v["error"], &["code", "message", "hint", "details"]);
    assert!(
        v["error"]["hint"].is_string(),
        "every error says how to fix it: {v}"
    );
    v["error"]["code"].as_str().expect("code").to_owned()
}

#[test]
fn missing_store() {
    let s = Sandbox::new();
    assert_eq!(error_code(&s, 4, &["keys", "list"]), "store_missing");
    let run = s.run(&["keys", "list"]);
    assert_eq!(run.code, 4);
    assert!(run.stderr.contains("no store database"), "{}", run.stderr);
    assert!(run.stderr.contains("portcullis init"), "{}", run.stderr);
    assert!(
        !s.store().join("keys.sqlite3").exists(),
        "nothing created by a failed open"
    );
}

#[test]
fn corrupt_database() {
    let s = Sandbox::initialised();
    let db = s.store().join("keys.sqlite3");
    fs::write(&db, vec![0x42u8; 8192]).expect("overwrite");
    assert_eq!(error_code(&s, 4, &["keys", "list"]), "store_corrupt");
    let run = s.run(&["keys", "create", "--name", "x", "--scopes", "claims:read"]);
    assert_eq!(run.code, 4);
    assert!(
        run.stderr.contains("not a valid SQLite database"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("sk_live_"),
        "no key shown when it cannot be stored"
    );
}

#[test]
fn corrupt_record_fails_closed() {
    let s = Sandbox::initialised();
    let (key, id) = s.create("Victim", "claims:read");
    let conn = rusqlite::Connection::open(s.store().join("keys.sqlite3")).expect("open");
    conn.execute(
        "UPDATE keys SET record = '{\"id\": 1}' WHERE id = ?1",
        [&id],
    )
    .expect("corrupt");
    drop(conn);
    let (code, decision) = s.check_at(NOW, "GET", "/v1/claims", &key);
    assert_eq!(code, 1);
    assert_eq!(decision["status"], 503);
    assert_eq!(decision["reason"], "lookup_failed");
    assert_eq!(error_code(&s, 4, &["keys", "list"]), "store_corrupt");
}

#[test]
fn foreign_database() {
    let s = Sandbox::initialised();
    let db = s.store().join("keys.sqlite3");
    fs::remove_file(&db).expect("remove");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch("CREATE TABLE invoices (id INTEGER)")
        .expect("table");
    drop(conn);
    assert_eq!(error_code(&s, 4, &["keys", "list"]), "store_foreign");
}

#[test]
fn missing_corrupt_and_insecure_pepper_file() {
    let s = Sandbox::initialised();
    let pepper = s.store().join("pepper");
    let good = fs::read(&pepper).expect("read");

    fs::remove_file(&pepper).expect("remove");
    assert_eq!(
        error_code(
            &s,
            4,
            &["keys", "create", "--name", "x", "--scopes", "claims:read"]
        ),
        "pepper_missing"
    );

    write_private(&pepper, b"p1 not-hex-at-all\n");
    let run = s.run(&["check", "--path", "/v1/claims"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("pepper file") && run.stderr.contains("corrupt"));
    assert!(
        !run.stderr.contains("not-hex-at-all"),
        "file content never echoed"
    );

    write_private(&pepper, &good);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&pepper, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(error_code(&s, 4, &["pepper", "rotate"]), "pepper_insecure");
        let run = s.run(&["keys", "create", "--name", "x", "--scopes", "claims:read"]);
        assert_eq!(run.code, 4);
        assert!(run.stderr.contains("mode 0644"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("chmod 600 {}", pepper.display()))
        );
        fs::set_permissions(&pepper, fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    assert_eq!(s.run(&["keys", "list"]).code, 0);
    assert_eq!(s.json(0, &["pepper", "rotate"])["primary"], "p2");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&pepper).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "rotation keeps the file private");
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) {
    fs::write(path, bytes).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

#[test]
fn init_never_overwrites_a_store() {
    let s = Sandbox::initialised();
    let pepper = fs::read(s.store().join("pepper")).expect("read");
    assert_eq!(error_code(&s, 3, &["init"]), "store_exists");
    assert_eq!(fs::read(s.store().join("pepper")).expect("read"), pepper);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(s.store().join("pepper"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn bad_input() {
    let s = Sandbox::initialised();
    let create = |scopes: &str| {
        error_code(
            &s,
            3,
            &["keys", "create", "--name", "x", "--scopes", scopes],
        )
    };
    assert_eq!(create("claims:delete"), "unknown_scope");
    assert_eq!(
        error_code(
            &s,
            3,
            &[
                "keys",
                "create",
                "--name",
                "x",
                "--scopes",
                "claims:read",
                "--env",
                "prod"
            ]
        ),
        "unknown_kind_or_env"
    );
    assert_eq!(
        error_code(&s, 3, &["keys", "show", "AAAAAAAAAAAAAAAA"]),
        "key_not_found"
    );
    assert_eq!(
        error_code(&s, 3, &["keys", "revoke", "short"]),
        "invalid_key_id"
    );
    assert_eq!(
        error_code(&s, 3, &["check", "--path", "/", "--header", "Bearer x"]),
        "invalid_header"
    );
    assert_eq!(
        error_code(&s, 3, &["policy", "check", "/no/such/policy.toml"]),
        "policy_missing"
    );

    // a whole key passed as an id is refused without being echoed
    let (key, _) = s.create("Secret", "claims:read");
    let run = s.run(&["keys", "show", &key]);
    assert_eq!(run.code, 3);
    assert!(!run.stderr.contains(&key) && !run.stdout.contains(&key));

    // usage errors are clap's: exit code 2
    assert_eq!(s.run(&["keys", "create", "--name", "x"]).code, 2);
    assert_eq!(
        s.run(&["keys", "rotate", "AAAAAAAAAAAAAAAA", "--grace", "7 days"])
            .code,
        2
    );
    assert_eq!(s.run(&["frobnicate"]).code, 2);
}

#[test]
fn invalid_store_policy_is_reported_with_its_location() {
    let s = Sandbox::initialised();
    fs::write(
        s.store().join("policy.toml"),
        "[service]\nrealm = \"x\"\nbogus = 1\n",
    )
    .expect("write");
    let v = s.json(3, &["check", "--path", "/"]);
    assert_eq!(v["error"]["code"], "policy_invalid");
    let detail = v["error"]["details"][0].as_str().expect("detail");
    assert!(detail.contains("policy.toml:3:"), "{detail}");
}

#[test]
fn init_validates_an_existing_policy_first() {
    let s = Sandbox::new();
    fs::create_dir_all(s.store()).expect("mkdir");
    fs::write(
        s.store().join("policy.toml"),
        "[[routes]]\nmethod = \"get\"\npath = \"/\"\n",
    )
    .expect("write");
    let v = s.json(3, &["init"]);
    assert_eq!(v["error"]["code"], "policy_invalid");
    assert!(
        !s.store().join("pepper").exists(),
        "nothing created for an invalid policy"
    );
    assert!(!s.store().join("keys.sqlite3").exists());
}
