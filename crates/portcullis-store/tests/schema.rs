//! The schema on both backends: migrations from empty, foreign and newer databases refused,
//! every record type round-tripped, bad URLs and credentials reported with their codes.

mod common;

use common::pg::Pg;
use common::{NOW, checker, spec, status};
use portcullis::oauth::{
    Client, ClientStore, CodeRecord, CodeStore, Consumed, PkceChallenge, RefreshRecord,
    RefreshStore, Rotated, TokenHash,
};
use portcullis::{KeyId, KeyLookup, OsRandom, Timestamp};
use portcullis_store::{ErrorKind, Options, SCHEMA_VERSION, Store};

/// Runs `f` on a fresh SQLite store URL and a fresh PostgreSQL database URL.
fn on_both(f: impl Fn(&str, &str)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite:{}", dir.path().join("s.sqlite3").display());
    f("sqlite", &sqlite);
    if let Some(pg) = Pg::start() {
        f("postgres", &pg.database("roundtrip"));
    }
}

#[test]
fn every_record_type_round_trips_on_both_backends() {
    on_both(|backend, url| {
        let store = Store::open(url).unwrap_or_else(|e| panic!("{backend}: {e}"));
        let c = checker();
        let issued = c.issue(&spec("k"), NOW).expect("issue");
        let id = issued.record.id();
        store.insert_key(&issued.record, NOW).expect("insert");
        assert_eq!(
            store
                .insert_key(&issued.record, NOW)
                .expect_err("dup")
                .kind(),
            ErrorKind::Duplicate,
            "{backend}"
        );
        assert_eq!(
            store.key(&id).expect("read").as_ref(),
            Some(&issued.record),
            "{backend}"
        );
        assert_eq!(status(&c, &store, issued.key.expose()), 200, "{backend}");

        let rotation = store.rotate_key(&id, &c, 60, NOW).expect("rotate");
        let new_id = rotation.successor.record.id();
        assert_eq!(
            store.key(&id).expect("old"),
            Some(rotation.predecessor.clone())
        );
        assert_eq!(
            store.key(&new_id).expect("new"),
            Some(rotation.successor.record.clone())
        );
        assert!(
            !store
                .rehash_key(&new_id, rotation.successor.key.expose().as_bytes(), &c, NOW)
                .expect("rehash")
        );

        assert!(
            !store.revoke_key(&new_id, NOW).expect("revoke"),
            "{backend}"
        );
        assert!(
            store.revoke_key(&new_id, NOW.plus(5)).expect("again"),
            "{backend}"
        );
        assert_eq!(
            status(&c, &store, rotation.successor.key.expose()),
            401,
            "{backend}"
        );
        let missing = KeyId::parse("ZZZZZZZZZZZZZZZZ").expect("id");
        assert_eq!(
            store.revoke_key(&missing, NOW).expect_err("missing").kind(),
            ErrorKind::NotFound
        );

        let actions: Vec<(String, String)> = store
            .audit(&id, 100)
            .expect("audit")
            .into_iter()
            .map(|a| (a.action, a.detail))
            .collect();
        assert_eq!(
            actions,
            [
                ("created".to_owned(), String::new()),
                ("rotated".to_owned(), new_id.to_string())
            ],
            "{backend}"
        );
        let actions: Vec<String> = store
            .audit(&new_id, 100)
            .expect("audit")
            .into_iter()
            .map(|a| a.action)
            .collect();
        assert_eq!(actions, ["created", "revoked"], "{backend}");

        // OAuth: clients, codes, refresh tokens, families, the epoch.
        let (client, _secret) = Client::confidential(
            "webapp",
            &["https://app.example/cb"],
            &["claims:read"],
            &OsRandom::new(),
        )
        .expect("client");
        store.put_client(&client).expect("client");
        store.put_client(&client).expect("replace");
        assert_eq!(
            store.client("webapp").expect("read").as_deref(),
            Some(&client),
            "{backend}"
        );
        assert_eq!(store.client("other").expect("read"), None);

        let family = KeyId::parse("FAMILYFAMILYFAM1").expect("family");
        let code = CodeRecord {
            client_id: "webapp".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: true,
            challenge: Some(PkceChallenge::s256(
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            )),
            subject: "user_7".into(),
            scope: "claims:read".into(),
            scope_narrowed: false,
            family,
            issued_at: NOW,
            expires_at: NOW.plus(600),
        };
        let h = TokenHash([3; 32]);
        store.put_code(h, code.clone()).expect("code");
        assert_eq!(store.code(&h).expect("read"), Some(code.clone()));
        assert_eq!(
            store.consume_code(&h).expect("first"),
            Consumed::First(code.clone())
        );
        assert_eq!(
            store.consume_code(&h).expect("again"),
            Consumed::Again(code)
        );
        assert_eq!(
            store.consume_code(&TokenHash([4; 32])).expect("unknown"),
            Consumed::Unknown
        );

        let refresh = RefreshRecord {
            client_id: "webapp".into(),
            subject: "user_7".into(),
            scope: "claims:read".into(),
            family,
            family_started_at: NOW,
            issued_at: NOW,
            rotated_at: None,
        };
        let (r1, r2, r3) = (TokenHash([5; 32]), TokenHash([6; 32]), TokenHash([7; 32]));
        store.put_refresh(r1, refresh.clone()).expect("refresh");
        assert_eq!(store.refresh(&r1).expect("read"), Some(refresh.clone()));
        let next = RefreshRecord {
            issued_at: NOW.plus(1),
            ..refresh.clone()
        };
        assert_eq!(
            store
                .rotate(&r1, None, NOW.plus(1), (r2, next.clone()))
                .expect("cas"),
            Rotated::Done
        );
        assert_eq!(
            store
                .rotate(&r1, None, NOW.plus(2), (r3, next.clone()))
                .expect("cas"),
            Rotated::Conflict,
            "{backend}: the second rotation from the same state loses"
        );
        assert_eq!(
            store.refresh(&r1).expect("read").and_then(|r| r.rotated_at),
            Some(NOW.plus(1))
        );
        assert_eq!(store.refresh(&r2).expect("read"), Some(next));
        assert_eq!(store.refresh(&r3).expect("read"), None);

        assert!(!store.is_family_revoked(&family).expect("read"));
        store.revoke_family(&family, NOW).expect("revoke family");
        store.revoke_family(&family, NOW).expect("idempotent");
        assert!(store.is_family_revoked(&family).expect("read"));
        assert!(
            store.revocations().is_family_revoked(&family),
            "{backend}: applied here at once"
        );

        store.revoke_access_tokens_before(NOW).expect("epoch");
        store
            .revoke_access_tokens_before(Timestamp(5))
            .expect("never lowered");
        drop(store);
        let again = Store::open(url).expect("reopen");
        assert_eq!(again.revocations().epoch(), NOW, "{backend}");
        assert_eq!(
            again.lookup(&id).expect("lookup").as_deref(),
            Some(&rotation.predecessor)
        );
    });
}

#[test]
fn a_newer_schema_is_refused_on_both_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite3");
    drop(Store::open(&format!("sqlite:{}", path.display())).expect("create"));
    rusqlite::Connection::open(&path)
        .and_then(|c| c.pragma_update(None, "user_version", SCHEMA_VERSION + 1))
        .expect("bump");
    let e = Store::open(&format!("sqlite:{}", path.display())).expect_err("newer");
    assert_eq!(e.code(), "store_too_new");
    assert!(e.hint().is_some_and(|h| h.contains("upgrade")));

    let Some(pg) = Pg::start() else { return };
    let url = pg.database("newer");
    drop(Store::open(&url).expect("create"));
    pg.sql(
        "newer",
        &format!(
            "UPDATE portcullis_schema SET version = {}",
            SCHEMA_VERSION + 1
        ),
    );
    assert_eq!(
        Store::open(&url).expect_err("newer").code(),
        "store_too_new"
    );
}

#[test]
fn a_foreign_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.sqlite3");
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch("CREATE TABLE invoices (id INTEGER)")
        .expect("table");
    drop(conn);
    let e = Store::open(&format!("sqlite:{}", path.display())).expect_err("foreign");
    assert_eq!(e.code(), "store_foreign");
    let version: i64 = rusqlite::Connection::open(&path)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("version");
    assert_eq!(version, 0, "untouched");

    let Some(pg) = Pg::start() else { return };
    let url = pg.database("foreign_db");
    pg.sql("foreign_db", "CREATE TABLE invoices (id BIGINT)");
    assert_eq!(
        Store::open(&url).expect_err("foreign").code(),
        "store_foreign"
    );
    let url = pg.database("other_product");
    pg.sql(
        "other_product",
        "CREATE TABLE portcullis_schema (product TEXT, version BIGINT);
         INSERT INTO portcullis_schema VALUES ('gatekeeper', 1);",
    );
    assert_eq!(
        Store::open(&url).expect_err("foreign").code(),
        "store_foreign"
    );
}

#[test]
fn migrations_from_empty_reach_the_latest_version_on_both_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite3");
    // A store of the CLI's schema (version 1) is upgraded in place, its keys kept.
    let c = checker();
    let issued = c.issue(&spec("old"), NOW).expect("issue");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE keys (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,
             env TEXT NOT NULL, pepper_id TEXT, created_at INTEGER NOT NULL, expires_at INTEGER,
             revoked_at INTEGER, rotated_from TEXT, record TEXT NOT NULL) STRICT;
             PRAGMA user_version = 1; PRAGMA application_id = 1346587731;",
        )
        .expect("v1");
        conn.execute(
            "INSERT INTO keys VALUES (?1, 'old', 'org_1', 'live', 'p1', 0, NULL, NULL, NULL, ?2)",
            [
                issued.record.id().as_str(),
                issued.record.to_json().as_str(),
            ],
        )
        .expect("row");
    }
    let store = Store::open(&format!("sqlite:{}", path.display())).expect("upgrade");
    assert_eq!(status(&c, &store, issued.key.expose()), 200);
    drop(store);
    let version: i64 = rusqlite::Connection::open(&path)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);

    // Processes opening one new SQLite file at once all succeed (switching it to WAL
    // answers "locked" without waiting; the open retries), in several rounds.
    for round in 0..5 {
        let url = format!(
            "sqlite:{}",
            dir.path().join(format!("new{round}.sqlite3")).display()
        );
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || Store::open(&url).map(drop))
            })
            .collect();
        for h in handles {
            h.join().expect("thread").expect("concurrent SQLite open");
        }
    }

    let Some(pg) = Pg::start() else { return };
    let url = pg.database("fresh");
    // Two processes' worth of concurrent opens migrate once.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Store::open(&url).map(drop))
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("open");
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let row = client
        .query_one("SELECT product, version FROM portcullis_schema", &[])
        .expect("identity");
    assert_eq!(row.get::<_, String>(0), "portcullis");
    assert_eq!(row.get::<_, i64>(1), SCHEMA_VERSION);
}

#[test]
fn bad_urls_wrong_passwords_and_unreachable_servers_are_typed_errors() {
    assert_eq!(
        Store::open("mysql://x/y").expect_err("scheme").code(),
        "store_bad_url"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no/such/dir/s.sqlite3");
    let e = Store::open(&format!("sqlite:{}", missing.display())).expect_err("missing dir");
    assert_eq!(e.code(), "store_unreachable", "{e}");

    // A closed port on loopback: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("postgresql://u:hunter2-pw@127.0.0.1:{port}/db");
    let options = Options {
        connect_timeout: std::time::Duration::from_secs(1),
        ..Options::default()
    };
    let e = Store::open_with(&url, options).expect_err("unreachable");
    assert_eq!(e.code(), "store_unreachable", "{e}");
    assert!(!e.to_string().contains("hunter2-pw") && !format!("{e:?}").contains("hunter2-pw"));

    let Some(pg) = Pg::start() else { return };
    let url = pg
        .url("postgres")
        .replace(common::pg::PASSWORD, "wrong-pw-77");
    let e = Store::open(&url).expect_err("wrong password");
    assert_eq!(e.code(), "store_auth_failed", "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-pw-77"));
}
