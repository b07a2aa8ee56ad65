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
        "unknown_env"
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

#[test]
fn keys_create_ttl_0_is_a_usage_error_not_an_expired_key() {
    let s = Sandbox::initialised();
    for zero in ["0", "0d"] {
        let run = s.run(&[
            "keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "claims:read",
            "--ttl",
            zero,
        ]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("already expired"), "{}", run.stderr);
        assert!(!run.stdout.contains("sk_live_"), "no key was issued");
    }
    let list = s.json(0, &["keys", "list"]);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(0), "{list}");
    assert_eq!(
        s.run(&[
            "keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "claims:read",
            "--ttl",
            "1s"
        ])
        .code,
        0
    );
}

/// Runs the binary with stdin read from `stdin` (a file such as `/dev/zero`).
fn run_with_stdin_file(s: &Sandbox, args: &[&str], stdin: &str) -> common::Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--store")
        .arg(s.store())
        .args(["--now", &NOW.to_string()])
        .args(args)
        .env_remove("PORTCULLIS_STORE")
        .env_remove("PORTCULLIS_PEPPER_FILE")
        .env_remove("PORTCULLIS_POLICY")
        .stdin(fs::File::open(stdin).expect("open stdin"))
        .output()
        .expect("run portcullis");
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts that a run took well under what reading gigabytes takes.
fn quickly<T>(f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let value = f();
    let spent = start.elapsed();
    assert!(spent < std::time::Duration::from_secs(5), "took {spent:?}");
    value
}

#[cfg(unix)]
#[test]
fn dev_zero_as_a_policy_is_refused_quickly_as_not_a_regular_file() {
    let s = Sandbox::initialised();
    let v = quickly(|| s.json(4, &["policy", "check", "/dev/zero"]));
    assert_eq!(v["error"]["code"], "file_not_regular");
    let message = v["error"]["message"].as_str().expect("message");
    assert!(message.contains("character device"), "{message}");
    let v = quickly(|| {
        s.json(
            4,
            &[
                "--policy",
                "/dev/zero",
                "keys",
                "create",
                "--name",
                "x",
                "--scopes",
                "claims:read",
            ],
        )
    });
    assert_eq!(v["error"]["code"], "file_not_regular");
    let v = quickly(|| s.json(4, &["--policy", "/dev/zero", "check", "--path", "/"]));
    assert_eq!(v["error"]["code"], "file_not_regular");
}

#[test]
fn a_policy_file_over_its_four_mebibyte_limit_is_refused_by_size() {
    let s = Sandbox::initialised();
    let big = s.dir.path().join("big.toml");
    let mut text = fs::read(s.store().join("policy.toml")).expect("policy");
    text.resize(portcullis::policy::MAX_POLICY_LEN + 1, b'\n');
    fs::write(&big, &text).expect("write");
    let path = big.to_str().expect("utf-8 path");
    let v = s.json(4, &["policy", "check", path]);
    assert_eq!(v["error"]["code"], "file_too_large");
    let message = v["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("4194304 bytes"),
        "names the limit: {message}"
    );
    text.truncate(portcullis::policy::MAX_POLICY_LEN);
    fs::write(&big, &text).expect("write");
    assert_eq!(s.json(0, &["policy", "check", path])["valid"], true);
}

#[cfg(unix)]
#[test]
fn key_stdin_from_dev_zero_stops_at_its_limit_with_a_typed_error() {
    let s = Sandbox::initialised();
    let run = quickly(|| {
        run_with_stdin_file(
            &s,
            &["--json", "check", "--path", "/v1/claims", "--key-stdin"],
            "/dev/zero",
        )
    });
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.json()["error"]["code"], "invalid_header");
    assert!(
        run.stderr.contains("4096 bytes"),
        "names the limit: {}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_pepper_file_that_is_not_a_regular_file_says_so_instead_of_advising_chmod() {
    let s = Sandbox::initialised();
    let dir = s.dir.path().to_str().expect("utf-8 path").to_owned();
    for (path, kind) in [
        ("/dev/null", "character device"),
        (dir.as_str(), "directory"),
    ] {
        let args = [
            "--pepper-file",
            path,
            "keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "claims:read",
        ];
        let run = quickly(|| s.run(&args));
        assert_eq!(run.code, 4, "{run:?}");
        assert!(
            run.stderr.contains("is not a regular file"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(kind), "{}", run.stderr);
        assert!(!run.stderr.contains("chmod"), "{}", run.stderr);
        let mut json = vec!["--json"];
        json.extend_from_slice(&args);
        assert_eq!(s.run(&json).json()["error"]["code"], "file_not_regular");
    }
    let v = quickly(|| s.json(4, &["--pepper-file", "/dev/zero", "check", "--path", "/"]));
    assert_eq!(v["error"]["code"], "file_not_regular");
}

#[test]
fn policy_check_of_a_missing_file_exits_4_like_every_other_policy_missing() {
    let s = Sandbox::initialised();
    assert_eq!(
        error_code(&s, 4, &["policy", "check", "/no/such/policy.toml"]),
        "policy_missing"
    );
    assert_eq!(
        error_code(
            &s,
            4,
            &["--policy", "/no/such/policy.toml", "check", "--path", "/"]
        ),
        "policy_missing"
    );
}

#[test]
fn an_emptied_database_is_store_corrupt_for_every_command_and_is_never_rewritten() {
    let s = Sandbox::initialised();
    let (_, id) = s.create("Victim", "claims:read");
    let db = s.store().join("keys.sqlite3");
    fs::write(&db, b"").expect("truncate");
    for args in [
        &["keys", "list"][..],
        &["keys", "show", &id],
        &["check", "--path", "/v1/claims"],
        &["keys", "revoke", &id],
        &["keys", "create", "--name", "x", "--scopes", "claims:read"],
        &["pepper", "rotate"],
    ] {
        assert_eq!(error_code(&s, 4, args), "store_corrupt", "{args:?}");
        assert_eq!(
            fs::metadata(&db).expect("db").len(),
            0,
            "{args:?} wrote a schema"
        );
    }
    let run = s.run(&["keys", "list"]);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    assert!(!run.stdout.contains("No keys yet"), "{}", run.stdout);
}

#[test]
fn a_database_without_a_schema_is_store_corrupt_even_for_commands_that_write() {
    let s = Sandbox::initialised();
    let db = s.store().join("keys.sqlite3");
    fs::remove_file(&db).expect("remove");
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch("CREATE TABLE t (x); DROP TABLE t;")
        .expect("an empty, valid SQLite file");
    drop(conn);
    let schema = || {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("count")
    };
    for args in [
        &["keys", "create", "--name", "x", "--scopes", "claims:read"][..],
        &["pepper", "rotate"],
        &["keys", "list"],
    ] {
        assert_eq!(error_code(&s, 4, args), "store_corrupt", "{args:?}");
        assert_eq!(schema(), 0, "{args:?} wrote a schema");
    }
}

#[test]
fn a_deleted_database_beside_its_pepper_file_is_store_corrupt_and_is_not_recreated() {
    let s = Sandbox::initialised();
    let db = s.store().join("keys.sqlite3");
    fs::remove_file(&db).expect("remove");
    for args in [
        &["keys", "list"][..],
        &["check", "--path", "/"],
        &["pepper", "rotate"],
    ] {
        assert_eq!(error_code(&s, 4, args), "store_corrupt", "{args:?}");
        assert!(!db.exists(), "{args:?} created a database");
    }
}

#[test]
fn one_corrupt_row_is_listed_beside_the_other_keys_and_can_be_revoked() {
    let s = Sandbox::initialised();
    let (_, good) = s.create("Good", "claims:read");
    let (key, bad) = s.create("Victim", "claims:read");
    let conn = rusqlite::Connection::open(s.store().join("keys.sqlite3")).expect("open");
    conn.execute(
        "UPDATE keys SET record = '{\"id\": 1}' WHERE id = ?1",
        [&bad],
    )
    .expect("corrupt");
    drop(conn);

    let list = s.json(4, &["keys", "list"]);
    assert_shape(&list, &["records", "corrupt"]);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["records"][0]["id"], good.as_str());
    assert_shape(
        &list["corrupt"][0],
        &["id", "code", "message", "revoked_at"],
    );
    assert_eq!(list["corrupt"][0]["id"], bad.as_str());
    assert_eq!(list["corrupt"][0]["code"], "corrupt_record");
    assert_eq!(list["corrupt"][0]["revoked_at"], serde_json::Value::Null);
    let human = s.run(&["keys", "list"]);
    assert_eq!(human.code, 4);
    assert!(
        human.stdout.contains(&good) && human.stdout.contains("Good"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("corrupt_record"), "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains(&format!("portcullis keys revoke {bad}"))
    );

    assert_eq!(error_code(&s, 4, &["keys", "show", &bad]), "corrupt_record");
    assert_eq!(
        s.json(0, &["keys", "show", &good])["record"]["id"],
        good.as_str()
    );
    let (code, decision) = s.check_at(NOW, "GET", "/v1/claims", &key);
    assert_eq!((code, &decision["status"]), (1, &serde_json::json!(503)));

    // the hint is true: revoke works on the corrupt row, and its key is refused for good
    let revoked = s.json(0, &["keys", "revoke", &bad]);
    assert_shape(&revoked, &["record", "corrupt", "already_revoked"]);
    assert_eq!(revoked["record"], serde_json::Value::Null);
    assert_eq!(revoked["corrupt"]["revoked_at"], NOW);
    assert_eq!(revoked["already_revoked"], false);
    assert_eq!(
        s.json(0, &["keys", "revoke", &bad])["already_revoked"],
        true
    );
    let (code, decision) = s.check_at(NOW + 60, "GET", "/v1/claims", &key);
    assert_eq!((code, &decision["status"]), (1, &serde_json::json!(401)));
    let list = s.json(0, &["keys", "list"]);
    assert_eq!(list["corrupt"][0]["revoked_at"], NOW);
    assert_eq!(
        error_code(&s, 4, &["keys", "rotate", &bad]),
        "corrupt_record"
    );
}

#[test]
fn control_characters_in_a_key_name_never_reach_the_terminal() {
    let s = Sandbox::initialised();
    let name = "evil\u{1b}[31mRED\nline2\u{9b}\u{202e}";
    let created = s.run(&["keys", "create", "--name", name, "--scopes", "claims:read"]);
    assert_eq!(created.code, 0, "{created:?}");
    let id = s.json(0, &["keys", "list"])["records"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        s.json(0, &["keys", "show", &id])["record"]["name"],
        name,
        "JSON keeps the name"
    );
    let list = s.run(&["keys", "list"]);
    let show = s.run(&["keys", "show", &id]);
    let revoke = s.run(&["keys", "revoke", &id]);
    for out in [&created.stdout, &list.stdout, &show.stdout, &revoke.stdout] {
        assert!(
            !out.contains(['\u{1b}', '\u{9b}', '\u{202e}']),
            "raw control character in {out:?}"
        );
        assert!(
            !out.lines().any(|l| l.starts_with("line2")),
            "a faked line in {out:?}"
        );
        assert!(out.contains("evil\\x1b[31mRED\\nline2"), "{out:?}");
    }
}
