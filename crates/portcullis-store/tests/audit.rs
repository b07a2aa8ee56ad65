//! The append-only audit (issue #20): who made each change (the store's default actor or
//! one named per call), pepper rotations, reading it newest first in pages, the migration
//! that added the actor keeping older entries, rows the database refuses to rewrite, and
//! no secret in any entry — on SQLite and PostgreSQL.

mod common;

use common::pg::Pg;
use common::{NOW, spec};
use portcullis::{Checker, KeyId, Peppers, Policy, Timestamp};
use portcullis_store::{
    Actor, AuditEntry, AuditFilter, MAX_AUDIT_PAGE, Options, SCHEMA_VERSION, Store,
};

/// Pepper secrets that are text, so that a search of the audit's text can find them.
const P1: &[u8] = b"pepper-one-secret-0123456789abcdef";
const P2: &[u8] = b"pepper-two-secret-0123456789abcdef";

fn policy() -> Policy {
    common::checker().policy().clone()
}

/// A checker whose primary pepper is `p1`.
fn checker_p1() -> Checker {
    Checker::new(policy(), Peppers::new("p1", P1).expect("p1"))
}

/// The peppers after a rotation: `p2` primary, `p1` still verifying.
fn peppers_p2() -> Peppers {
    let mut peppers = Peppers::new("p2", P2).expect("p2");
    peppers.add("p1", P1).expect("p1");
    peppers
}

fn actor(name: &str) -> Actor {
    Actor::new(name).expect("actor")
}

/// Runs `f` on a fresh SQLite store URL and a fresh PostgreSQL database URL (`pg` lets
/// the test reach the PostgreSQL database directly).
fn on_both(name: &str, f: impl Fn(&str, &str, Option<(&Pg, &str)>)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite:{}", dir.path().join("s.sqlite3").display());
    f("sqlite", &sqlite, None);
    if let Some(pg) = Pg::start() {
        let url = pg.database(name);
        f("postgres", &url, Some((&pg, name)));
    }
}

fn open_as(url: &str, who: Option<&str>) -> Store {
    let options = Options {
        feed: false,
        actor: who.map_or(Actor::UNKNOWN, actor),
        ..Options::default()
    };
    Store::open_with(url, options).expect("open")
}

/// (action, key, detail, actor) of each entry.
fn summary(entries: &[AuditEntry]) -> Vec<(String, String, String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e.action.clone(),
                e.key_id.clone(),
                e.detail.clone(),
                e.actor.clone(),
            )
        })
        .collect()
}

fn row(action: &str, key: &str, detail: &str, actor: &str) -> (String, String, String, String) {
    (
        action.to_owned(),
        key.to_owned(),
        detail.to_owned(),
        actor.to_owned(),
    )
}

fn everything(store: &Store) -> Vec<AuditEntry> {
    store
        .audit_log(&AuditFilter {
            limit: MAX_AUDIT_PAGE,
            ..AuditFilter::default()
        })
        .expect("audit log")
}

#[test]
fn every_write_records_its_actor_the_stores_default_or_the_one_named_per_call() {
    on_both("actors", |backend, url, _| {
        let store = open_as(url, Some("cli-admin"));
        assert_eq!(store.actor().as_str(), "cli-admin");
        let c = checker_p1();
        let a = c.issue(&spec("a"), NOW).expect("issue");
        let b = c.issue(&spec("b"), NOW).expect("issue");
        let (a_id, b_id) = (a.record.id(), b.record.id());
        store.insert_key(&a.record, NOW).expect("insert a");
        let alice = store.acting_as(actor("alice@example.com"));
        alice.insert_key(&b.record, NOW).expect("insert b");
        let rotation = store
            .acting_as(actor("bob@example.com"))
            .rotate_key(&a_id, &c, 60, NOW.plus(1))
            .expect("rotate");
        let new_id = rotation.successor.record.id();
        assert!(!alice.revoke_key(&b_id, NOW.plus(2)).expect("revoke"));
        // After a pepper rotation the key moves to the new pepper when presented.
        let rehasher = Checker::new(policy(), peppers_p2());
        assert!(
            store
                .acting_as(actor("gateway"))
                .rehash_key(
                    &new_id,
                    rotation.successor.key.expose().as_bytes(),
                    &rehasher,
                    NOW.plus(3)
                )
                .expect("rehash"),
            "{backend}"
        );
        // A handle without an actor records none ("" = unknown).
        store.revoke_key(&new_id, NOW.plus(4)).expect("revoke");
        let unnamed = open_as(url, None);
        assert!(unnamed.revoke_key(&a_id, NOW.plus(5)).is_ok());

        let (a_id, b_id, new_id) = (a_id.to_string(), b_id.to_string(), new_id.to_string());
        let mut log = everything(&store);
        log.reverse();
        assert_eq!(
            summary(&log),
            [
                row("created", &a_id, "", "cli-admin"),
                row("created", &b_id, "", "alice@example.com"),
                row("rotated", &a_id, &new_id, "bob@example.com"),
                row("created", &new_id, &a_id, "bob@example.com"),
                row("revoked", &b_id, "", "alice@example.com"),
                row("rehashed", &new_id, "", "gateway"),
                row("revoked", &new_id, "", "cli-admin"),
                row("revoked", &a_id, "", ""),
            ],
            "{backend}"
        );
        let times: Vec<u64> = log.iter().map(|e| e.at.secs() - NOW.secs()).collect();
        assert_eq!(times, [0, 0, 1, 1, 2, 3, 4, 5], "{backend}");
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq), "{backend}");
        // The per-key reader of before sees the actor too.
        let of_b = store
            .audit(&KeyId::parse(&b_id).expect("id"), 10)
            .expect("audit");
        assert_eq!(
            summary(&of_b),
            [
                row("created", &b_id, "", "alice@example.com"),
                row("revoked", &b_id, "", "alice@example.com"),
            ]
        );
    });
}

#[test]
fn a_pepper_rotation_is_an_entry_of_no_key_committed_only_with_the_work_done_under_the_lock() {
    on_both("pepper_audit", |backend, url, _| {
        let store = open_as(url, Some("ops"));
        let peppers = peppers_p2();
        let done: Result<&str, portcullis_store::Error> = store.with_write_lock_audited(|lock| {
            lock.pepper_rotated(&peppers, NOW)?;
            Ok("rotated")
        });
        assert_eq!(done, Ok("rotated"), "{backend}");
        // Work that fails under the lock leaves no entry behind.
        let failed: Result<(), portcullis_store::Error> = store.with_write_lock_audited(|lock| {
            lock.pepper_rotated(&peppers, NOW.plus(1))?;
            Err(Store::open("mysql://nowhere").expect_err("an error to return"))
        });
        assert!(failed.is_err(), "{backend}");
        store
            .acting_as(actor("alice@example.com"))
            .with_write_lock_audited(|lock| lock.pepper_rotated(&peppers, NOW.plus(2)))
            .expect("per call");
        let log = everything(&store);
        assert_eq!(
            summary(&log),
            [
                row("pepper_rotated", "", "p2", "alice@example.com"),
                row("pepper_rotated", "", "p2", "ops"),
            ],
            "{backend}"
        );
        assert_eq!(log[1].at, NOW);
        // A key's view does not show it.
        let c = checker_p1();
        let issued = c.issue(&spec("k"), NOW).expect("issue");
        store.insert_key(&issued.record, NOW).expect("insert");
        let mine = store
            .audit_log(&AuditFilter {
                key: Some(issued.record.id()),
                ..AuditFilter::default()
            })
            .expect("key's");
        assert_eq!(summary(&mine).len(), 1, "{backend}");
        assert_eq!(mine[0].action, "created");
    });
}

#[test]
fn the_log_reads_newest_first_in_bounded_pages_with_sequence_cursors() {
    on_both("paging", |backend, url, _| {
        let store = open_as(url, Some("pager"));
        let c = checker_p1();
        let mut ids = Vec::new();
        for i in 0..25 {
            let issued = c.issue(&spec(&format!("k{i}")), NOW).expect("issue");
            store
                .insert_key(&issued.record, NOW.plus(i))
                .expect("insert");
            ids.push(issued.record.id());
        }
        store.revoke_key(&ids[3], NOW.plus(100)).expect("revoke");
        let all = everything(&store);
        assert_eq!(all.len(), 26, "{backend}");
        assert!(all.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
        assert_eq!(all[0].action, "revoked");

        // Pages of 10 by `before`, then an empty page.
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .audit_log(&AuditFilter {
                    before,
                    limit: 10,
                    ..AuditFilter::default()
                })
                .expect("page");
            if page.is_empty() {
                break;
            }
            before = page.last().map(|e| e.seq);
            pages.push(page);
        }
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 6],
            "{backend}"
        );
        assert_eq!(pages.concat(), all, "{backend}");

        // `after` bounds from below; with `before`, a window.
        let after = all[5].seq;
        let newer = store
            .audit_log(&AuditFilter {
                after: Some(after),
                ..AuditFilter::default()
            })
            .expect("after");
        assert_eq!(newer, all[..5], "{backend}");
        let window = store
            .audit_log(&AuditFilter {
                after: Some(all[9].seq),
                before: Some(all[4].seq),
                ..AuditFilter::default()
            })
            .expect("window");
        assert_eq!(window, all[5..9], "{backend}");

        // One key's entries; a limit above the bound is capped, zero reads nothing.
        let third = store
            .audit_log(&AuditFilter {
                key: Some(ids[3]),
                limit: usize::MAX,
                ..AuditFilter::default()
            })
            .expect("key");
        assert_eq!(
            third.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["revoked", "created"]
        );
        let none = store
            .audit_log(&AuditFilter {
                limit: 0,
                ..AuditFilter::default()
            })
            .expect("zero");
        assert!(none.is_empty());
    });
}

#[test]
fn a_page_never_holds_more_than_the_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sqlite3");
    let url = format!("sqlite:{}", path.display());
    drop(open_as(&url, None));
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
         INSERT INTO key_audit (key_id, action, at, detail, actor)
         SELECT 'AbCdEfGh01234567', 'created', i, '', 'bulk' FROM n;",
    )
    .expect("rows");
    drop(conn);
    let store = open_as(&url, None);
    let page = store
        .audit_log(&AuditFilter {
            limit: 5_000,
            ..AuditFilter::default()
        })
        .expect("page");
    assert_eq!(page.len(), MAX_AUDIT_PAGE);
    assert_eq!(page[0].at, Timestamp(1200));
}

/// Turns a store of the latest schema back into one of version 2 (before the actor; the
/// usage tables of version 4 go too).
fn downgrade_to_2(backend: &str, url: &str, pg: Option<(&Pg, &str)>) {
    let sql = "DROP TRIGGER key_audit_no_update; DROP TRIGGER key_audit_no_delete;
               ALTER TABLE key_audit DROP COLUMN actor;
               DROP TABLE key_usage; DROP TABLE key_usage_hours; DROP TABLE usage_signals;";
    match pg {
        None => {
            let path = url.trim_start_matches("sqlite:");
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.execute_batch(sql).expect("downgrade");
            conn.pragma_update(None, "user_version", 2)
                .expect("version");
        }
        Some((pg, db)) => pg.sql(
            db,
            "DROP TRIGGER key_audit_append_only ON key_audit;
             DROP TRIGGER key_audit_no_truncate ON key_audit;
             DROP FUNCTION portcullis_audit_append_only();
             ALTER TABLE key_audit DROP COLUMN actor;
             DROP TABLE key_usage; DROP TABLE key_usage_hours; DROP TABLE usage_signals;
             UPDATE portcullis_schema SET version = 2;",
        ),
    }
    let _ = backend;
}

#[test]
fn the_migration_to_version_3_keeps_older_entries_with_an_unknown_actor() {
    const { assert!(SCHEMA_VERSION >= 3) };
    on_both("migrate_audit", |backend, url, pg| {
        let c = checker_p1();
        let issued = c.issue(&spec("old"), NOW).expect("issue");
        let id = issued.record.id();
        {
            let store = open_as(url, None);
            store.insert_key(&issued.record, NOW).expect("insert");
        }
        downgrade_to_2(backend, url, pg);
        let store = open_as(url, Some("after-upgrade"));
        store.revoke_key(&id, NOW.plus(1)).expect("revoke");
        let mut log = everything(&store);
        log.reverse();
        let id = id.to_string();
        assert_eq!(
            summary(&log),
            [
                row("created", &id, "", ""),
                row("revoked", &id, "", "after-upgrade"),
            ],
            "{backend}"
        );
    });
}

#[test]
fn the_database_refuses_to_update_or_delete_audit_rows_and_pruning_leaves_them() {
    on_both("append_only", |backend, url, pg| {
        let store = open_as(url, Some("ops"));
        let c = checker_p1();
        let issued = c.issue(&spec("k"), NOW).expect("issue");
        store.insert_key(&issued.record, NOW).expect("insert");
        for statement in [
            "UPDATE key_audit SET actor = 'mallory'",
            "DELETE FROM key_audit",
        ] {
            let refused = match pg {
                None => rusqlite::Connection::open(url.trim_start_matches("sqlite:"))
                    .and_then(|c| c.execute(statement, []))
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Some((pg, db)) => postgres::Client::connect(&pg.url(db), postgres::NoTls)
                    .and_then(|mut c| c.execute(statement, &[]))
                    .map(drop)
                    .map_err(|e| format!("{e:?}")),
            };
            let message = refused.expect_err(statement);
            assert!(message.contains("append-only"), "{backend}: {message}");
        }
        if let Some((pg, db)) = pg {
            let truncated = postgres::Client::connect(&pg.url(db), postgres::NoTls)
                .and_then(|mut c| c.batch_execute("TRUNCATE key_audit"));
            assert!(truncated.is_err(), "TRUNCATE is refused");
        }
        let pruner = Store::open_with(
            url,
            Options {
                feed: false,
                keep_changes: 1,
                ..Options::default()
            },
        )
        .expect("open");
        for i in 0..3 {
            let k = c.issue(&spec(&format!("more{i}")), NOW).expect("issue");
            pruner.insert_key(&k.record, NOW).expect("insert");
        }
        let pruned = pruner.prune().expect("prune");
        assert!(pruned.changes > 0, "{backend}: {pruned:?}");
        assert_eq!(everything(&store).len(), 4, "{backend}");
        assert_eq!(everything(&store)[3].actor, "ops");
    });
}

#[test]
fn no_audit_entry_holds_a_key_a_hash_or_a_pepper() {
    on_both("no_secret", |backend, url, pg| {
        let store = open_as(url, Some("ops"));
        let c = checker_p1();
        let issued = c.issue(&spec("k"), NOW).expect("issue");
        let id = issued.record.id();
        store.insert_key(&issued.record, NOW).expect("insert");
        let rotation = store.rotate_key(&id, &c, 60, NOW).expect("rotate");
        let peppers = peppers_p2();
        store
            .with_write_lock_audited(|lock| lock.pepper_rotated(&peppers, NOW))
            .expect("pepper");
        let rehasher = Checker::new(policy(), peppers_p2());
        let new = rotation.successor.record.id();
        assert!(
            store
                .rehash_key(
                    &new,
                    rotation.successor.key.expose().as_bytes(),
                    &rehasher,
                    NOW
                )
                .expect("rehash")
        );
        store.revoke_key(&new, NOW).expect("revoke");
        assert_eq!(everything(&store).len(), 6, "{backend}");

        // Every column of every row, as the database holds it.
        let text: String = match pg {
            None => {
                let conn =
                    rusqlite::Connection::open(url.trim_start_matches("sqlite:")).expect("open");
                let mut st = conn
                    .prepare(
                        "SELECT key_id || '|' || action || '|' || at || '|' || detail || '|' || actor
                         FROM key_audit",
                    )
                    .expect("prepare");
                st.query_map([], |r| r.get::<_, String>(0))
                    .expect("rows")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("rows")
                    .join("\n")
            }
            Some((pg, db)) => {
                let mut client =
                    postgres::Client::connect(&pg.url(db), postgres::NoTls).expect("connect");
                client
                    .query(
                        "SELECT key_id || '|' || action || '|' || at || '|' || detail || '|' || actor
                         FROM key_audit",
                        &[],
                    )
                    .expect("rows")
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        let mut secrets: Vec<String> = vec![
            String::from_utf8(P1.to_vec()).expect("text"),
            String::from_utf8(P2.to_vec()).expect("text"),
        ];
        for key in [issued.key.expose(), rotation.successor.key.expose()] {
            secrets.push(key.to_owned());
            // The secret part alone (after the id).
            let secret = key.rsplit('_').next().expect("secret part");
            secrets.push(secret[..20].to_owned());
        }
        for record in [&issued.record, &rotation.successor.record] {
            // The digest part of `hmac-sha256$<pepper-id>$<digest>`.
            let hash = record.hash();
            secrets.push(hash.rsplit('$').next().expect("digest").to_owned());
        }
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{backend}: {text}");
        }
        // What it does hold: ids, actions, the pepper's id.
        assert!(
            text.contains(id.as_str()) && text.contains("|p2|ops"),
            "{text}"
        );
    });
}

#[test]
fn a_bad_actor_is_a_typed_error_that_never_reaches_the_store() {
    for bad in ["", "   ", "a\nforged line", "x\u{1b}[2J"] {
        let e = Actor::new(bad).expect_err(bad);
        assert_eq!(e.code(), "invalid_argument");
    }
    let e = Actor::new(&"a".repeat(257)).expect_err("long");
    assert_eq!(e.code(), "invalid_argument");
    assert!(!e.to_string().contains("aaaa"));
}
