//! Rate limits in the command (issue #21): `keys create --tier`, `check` counting the
//! policy's `[[limits]]` and showing the limit state, `policy check` listing the limits.

mod common;

use common::{NOW, Sandbox};
use std::fs;
use std::io::Write;

const LIMITS: &str = r#"
[[limits]]
name = "per_key"
rate = 10
window = 3600
burst = 3

[[limits]]
name = "pro_org"
per = "owner"
rate = 1
window = 60
tiers = ["pro"]
"#;

/// An initialised store whose policy has [`LIMITS`].
fn limited() -> Sandbox {
    let s = Sandbox::initialised();
    let path = s.store().join("policy.toml");
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open policy");
    file.write_all(LIMITS.as_bytes()).expect("append limits");
    s
}

fn create(s: &Sandbox, tier: Option<&str>) -> (String, serde_json::Value) {
    let mut args = vec!["keys", "create", "--name", "L", "--scopes", "claims:read"];
    if let Some(t) = tier {
        args.extend(["--tier", t]);
    }
    let v = s.json(0, &args);
    (v["api_key"].as_str().expect("key").to_owned(), v)
}

#[test]
fn keys_create_tier_is_stored_and_shown() {
    let s = Sandbox::initialised();
    let id = {
        let (_, v) = create(&s, Some("pro"));
        v["record"]["id"].as_str().expect("id").to_owned()
    };
    let shown = s.run(&["keys", "show", &id]);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(
        shown
            .stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["tier", "pro"])),
        "{}",
        shown.stdout
    );
}

#[test]
fn keys_create_refuses_a_tier_the_policy_could_not_name() {
    let s = Sandbox::initialised();
    for bad in ["", "a b", "x".repeat(33).as_str(), "pro!"] {
        let run = s.run(&[
            "keys",
            "create",
            "--name",
            "L",
            "--scopes",
            "claims:read",
            "--tier",
            bad,
        ]);
        assert_ne!(run.code, 0, "--tier {bad:?}: {run:?}");
        assert!(run.stderr.contains("1-32 letters"), "{run:?}");
    }
}

#[test]
fn check_shows_the_limit_state_as_text_and_json() {
    let s = limited();
    let (key, _) = create(&s, None);
    let (code, v) = s.check_at(NOW, "GET", "/v1/claims", &key);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["rate_limit_policy"], "\"per_key\";q=10;w=3600");
    assert_eq!(v["rate_limit"], "\"per_key\";r=2;t=360");
    assert!(v["retry_after"].is_null());
    let header = format!("--header=Authorization: Bearer {key}");
    let text = s.run(&["check", "--path", "/v1/claims", &header]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("RateLimit-Policy"), "{}", text.stdout);
    assert!(
        text.stdout.contains("\"per_key\";r=2;t=360"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("Retry-After"), "{}", text.stdout);
}

#[test]
fn check_applies_a_tier_s_limit_only_to_keys_of_that_tier() {
    let s = limited();
    let (pro, _) = create(&s, Some("pro"));
    let (plain, _) = create(&s, None);
    // The reported limit is the one closest to its end: pro_org (0 left of 1) counts
    // the pro key only.
    let (_, v) = s.check_at(NOW, "GET", "/v1/claims", &pro);
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(v["rate_limit_policy"], "\"pro_org\";q=1;w=60", "{v}");
    assert_eq!(v["rate_limit"], "\"pro_org\";r=0;t=60", "{v}");
    let (_, w) = s.check_at(NOW, "GET", "/v1/claims", &plain);
    assert_eq!(w["rate_limit_policy"], "\"per_key\";q=10;w=3600", "{w}");
}

#[test]
fn without_limits_check_reports_none() {
    let s = Sandbox::initialised();
    let (key, _) = create(&s, None);
    let (code, v) = s.check_at(NOW, "GET", "/v1/claims", &key);
    assert_eq!(code, 0, "{v}");
    assert!(v["rate_limit"].is_null() && v["rate_limit_policy"].is_null());
}

#[test]
fn policy_check_lists_the_limits() {
    let s = limited();
    let file = s.store().join("policy.toml");
    let file = file.to_str().expect("utf-8 path");
    let text = s.run(&["policy", "check", file]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("Limits"), "{}", text.stdout);
    let row = |name: &str| {
        text.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
    };
    assert_eq!(
        row("per_key"),
        Some(vec!["per_key", "key", "10/3600s", "3", "all", "all"])
    );
    assert_eq!(
        row("pro_org"),
        Some(vec!["pro_org", "owner", "1/60s", "1", "all", "pro"])
    );
    let v = s.json(0, &["policy", "check", file]);
    assert_eq!(v["limits"][1]["tiers"][0], "pro");
    assert_eq!(v["limits"][0]["burst"], 3);
    assert!(v["limits"][0]["routes"].is_null());
}
