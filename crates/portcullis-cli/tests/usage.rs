//! Usage in the command (issue #20): `check` records its decision and saves it, `keys
//! list` and `keys show` say when each key was last used, `keys usage` charts a key's
//! hours and lists its signals — as text and as JSON, on SQLite and PostgreSQL.

mod common;
// The store's test server, shared; this suite uses only part of it.
#[allow(dead_code)]
#[path = "../../portcullis-store/tests/common/pg.rs"]
mod pg;

use common::{NOW, Sandbox, assert_shape};
use serde_json::Value;

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

fn check(s: &Sandbox, now: u64, path: &str, key: &str, client: &str) -> (i32, Value) {
    let header = format!("--header=Authorization: Bearer {key}");
    let run = s.run_at(
        now,
        &[
            "--json", "check", "--path", path, &header, "--client", client,
        ],
    );
    (run.code, run.json())
}

/// `--json ARGS` at `now`, expecting exit 0.
fn json_at(s: &Sandbox, now: u64, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = s.run_at(now, &all);
    assert_eq!(run.code, 0, "{args:?}: {run:?}");
    run.json()
}

fn record_of<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["records"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

fn usage_story(s: &Sandbox) {
    assert_eq!(s.run(&["init"]).code, 0);
    let (key, id) = s.create("Production", "claims:read");
    let (_, unused) = s.create("Spare", "claims:read");
    // Two allowed uses an hour apart, one refused for scope.
    assert_eq!(check(s, NOW, "/v1/claims", &key, "203.0.113.9").0, 0);
    assert_eq!(
        check(s, NOW + HOUR, "/v1/claims", &key, "203.0.113.10").0,
        0
    );
    let (code, refused) = check(s, NOW + HOUR + 60, "/v1/claims", "nope", "203.0.113.10");
    assert_eq!(
        (code, refused["reason"].as_str()),
        (1, Some("malformed_key"))
    );
    let (code, _) = check(
        s,
        NOW + HOUR + 60,
        "/v1/analytics/daily",
        &key,
        "203.0.113.10",
    );
    assert_eq!(code, 1);
    let last = NOW + HOUR + 60;

    // keys list: LAST USED, and `last_used` in JSON.
    let later = s.run_at(last + 180, &["keys", "list"]);
    assert_eq!(later.code, 0, "{later:?}");
    assert!(later.stdout.contains("LAST USED"), "{}", later.stdout);
    let line = |text: &str, id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not in {text}"))
            .to_owned()
    };
    assert!(
        line(&later.stdout, &id).ends_with("3 min ago"),
        "{}",
        later.stdout
    );
    assert!(line(&later.stdout, &unused).ends_with("never"));
    let days = s.run_at(last + 2 * DAY, &["keys", "list"]).stdout;
    assert!(line(&days, &id).ends_with("2 days ago"), "{days}");
    let list = s.json(0, &["keys", "list"]);
    assert_eq!(record_of(&list, &id)["last_used"], last);
    assert_eq!(record_of(&list, &unused)["last_used"], Value::Null);
    let show = s.json(0, &["keys", "show", &id]);
    assert_eq!(show["record"], *record_of(&list, &id));

    // keys usage: the chart, the totals, the networks.
    let text = s.run_at(last, &["keys", "usage", &id, "--hours", "3"]);
    assert_eq!(text.code, 0, "{text:?}");
    let out = &text.stdout;
    assert!(out.contains("203.0.113.0/24"), "{out}");
    assert!(
        out.contains("Total: 3 uses, 2 allowed, 1 denied (insufficient_scope 1)"),
        "{out}"
    );
    let hours: Vec<&str> = out.lines().filter(|l| l.starts_with("  20")).collect();
    assert_eq!(hours.len(), 3, "{out}");
    assert!(
        !hours[0].contains('█'),
        "an hour without use is empty: {out}"
    );
    assert!(hours[0].trim_end().ends_with("07:00"), "{out}");
    assert!(hours[1].contains('█') && !hours[1].contains('░'), "{out}");
    assert!(hours[2].contains('█') && hours[2].contains('░'), "{out}");
    assert!(out.contains("No unusual activity"), "{out}");

    let v = json_at(s, last, &["keys", "usage", &id, "--hours", "3"]);
    assert_shape(
        &v,
        &[
            "key_id",
            "first_used",
            "last_used",
            "networks",
            "since",
            "hours",
            "totals",
            "signals",
        ],
    );
    assert_eq!(v["key_id"], id.as_str());
    assert_eq!(v["first_used"], NOW);
    assert_eq!(v["last_used"], last);
    assert_eq!(v["networks"][0], "203.0.113.0/24");
    let hours = v["hours"].as_array().expect("hours");
    assert_eq!(hours.len(), 3);
    assert_eq!(hours[0]["allowed"], 0);
    assert_eq!(hours[1]["hour"], NOW);
    assert_eq!(hours[1]["allowed"], 1);
    assert_eq!(hours[2]["denied"]["insufficient_scope"], 1);
    assert_eq!(v["totals"]["total"], 3);
    assert_eq!(v["signals"], Value::Array(vec![]));
    assert!(!v.to_string().contains(&key[24..]), "no secret");

    // Thirty-one days later: a use after dormancy is a signal, shown and in JSON.
    let back = last + 31 * DAY;
    let (code, decision) = check(s, back, "/v1/claims", &key, "203.0.113.10");
    assert_eq!(code, 0);
    assert!(
        decision["warnings"].to_string().contains("after_dormancy"),
        "{decision}"
    );
    let v = json_at(s, back, &["keys", "usage", &id]);
    assert_eq!(v["signals"][0]["kind"], "after_dormancy");
    assert_eq!(v["signals"][0]["last_used"], last);
    assert_eq!(v["hours"].as_array().map(Vec::len), Some(48));
    let text = s.run_at(back, &["keys", "usage", &id]).stdout;
    assert!(text.contains("after_dormancy"), "{text}");
    assert!(text.contains("Unusual activity"), "{text}");

    // An unknown key is key_not_found; a bad --hours a usage error.
    assert_eq!(
        s.json(3, &["keys", "usage", "AbCdEfGh01234567"])["error"]["code"],
        "key_not_found"
    );
    assert_eq!(s.run(&["keys", "usage", &id, "--hours", "0"]).code, 2);
}

#[test]
fn check_records_and_list_show_and_usage_report_it() {
    usage_story(&Sandbox::new());
}

#[test]
fn usage_works_on_postgresql() {
    let Some(pg) = pg::Pg::start() else { return };
    usage_story(&Sandbox::with_database(&pg.database("cli_usage")));
}
