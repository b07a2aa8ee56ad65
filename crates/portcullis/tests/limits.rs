//! Rate limits through the checker: `[[limits]]` per key, per owner, per route class and
//! per tier, applied after authentication, with the 429 and 503 answers and the
//! RateLimit header fields.

mod common;

use common::{NOW, claimport_text, peppers};
use portcullis::limit::{Clock, Credits, Limit, Limits, LocalLimits, Refill, Taken};
use portcullis::{Checker, KeySpec, MemoryStore, Policy, Reason, Request, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A clock the test moves.
#[derive(Debug, Clone, Default)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms * 1_000, Ordering::Relaxed);
    }
}

impl Clock for TestClock {
    fn now_us(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Fixture {
    checker: Checker,
    store: MemoryStore,
    clock: TestClock,
}

fn fixture(limits: &str) -> Fixture {
    let policy = Policy::from_toml(&format!("{}\n{limits}", claimport_text())).expect("policy");
    let clock = TestClock::default();
    clock.advance_ms(1_000_000);
    let local = LocalLimits::with_clock(10_000, clock.clone()).expect("limits");
    let checker = Checker::new(policy, peppers()).with_limits(Arc::new(local));
    Fixture {
        checker,
        store: MemoryStore::new(),
        clock,
    }
}

impl Fixture {
    fn key(&self, owner: &str, scopes: &[&str], tier: Option<&str>) -> String {
        self.key_with(owner, scopes, tier, None)
    }

    fn key_with(
        &self,
        owner: &str,
        scopes: &[&str],
        tier: Option<&str>,
        credits: Option<serde_json::Value>,
    ) -> String {
        let mut spec = KeySpec::new("Limits", owner, scopes.iter().copied());
        if let Some(t) = tier {
            spec.metadata.insert("tier".into(), t.into());
        }
        if let Some(c) = credits {
            spec.metadata.insert("credits".into(), c);
        }
        let issued = self.checker.issue(&spec, Timestamp(NOW)).expect("issue");
        let header = format!("Bearer {}", issued.key.expose());
        self.store.insert(issued.record).expect("insert");
        header
    }

    fn status(&self, method: &str, path: &str, header: &str) -> u16 {
        let r = Request::new(method, path).authorization(header).https(true);
        self.checker.check(&r, &self.store, Timestamp(NOW)).status()
    }

    fn statuses(&self, n: usize, method: &str, path: &str, header: &str) -> Vec<u16> {
        (0..n).map(|_| self.status(method, path, header)).collect()
    }
}

const PER_KEY: &str = r#"
[[limits]]
name = "per_key"
rate = 10
window = 1
burst = 3
"#;

#[test]
fn a_key_over_its_limit_gets_429_with_retry_after_and_ratelimit_fields() {
    let f = fixture(PER_KEY);
    let key = f.key("org_1", &["claims:read"], None);
    let get = Request::new("GET", "/v1/claims/1")
        .authorization(&key)
        .https(true);
    let first = f.checker.check(&get, &f.store, Timestamp(NOW));
    assert!(first.allowed());
    assert_eq!(
        first.rate_limit_policy().as_deref(),
        Some(r#""per_key";q=10;w=1"#)
    );
    assert_eq!(first.rate_limit().as_deref(), Some(r#""per_key";r=2;t=1"#));
    assert_eq!(first.retry_after(), None);
    assert_eq!(f.statuses(2, "GET", "/v1/claims/1", &key), [200, 200]);
    let limited = f.checker.check(&get, &f.store, Timestamp(NOW));
    assert_eq!(
        (limited.status(), limited.reason()),
        (429, Reason::RateLimited)
    );
    assert_eq!(limited.reason().code(), "rate_limited");
    assert_eq!(limited.retry_after(), Some(1));
    assert_eq!(
        limited.rate_limit().as_deref(),
        Some(r#""per_key";r=0;t=1"#)
    );
    assert!(limited.www_authenticate().is_none());
    // The key is still the caller: the host can log whose request was limited.
    assert_eq!(limited.owner(), Some("org_1"));
    f.clock.advance_ms(100);
    assert_eq!(f.statuses(2, "GET", "/v1/claims/1", &key), [200, 429]);
    // Another key has its own limit.
    let other = f.key("org_1", &["claims:read"], None);
    assert_eq!(
        f.statuses(3, "GET", "/v1/claims/1", &other),
        [200, 200, 200]
    );
}

#[test]
fn refusals_before_the_limit_spend_nothing() {
    let f = fixture(PER_KEY);
    let key = f.key("org_1", &["claims:read"], None);
    // 401s (a stranger, no credential) and 403s (a scope the key lacks) are not counted.
    let stranger = f
        .checker
        .issue(&KeySpec::new("x", "org_9", ["claims:read"]), Timestamp(NOW))
        .expect("issue");
    let stranger = format!("Bearer {}", stranger.key.expose());
    assert!(
        f.statuses(20, "GET", "/v1/claims/1", &stranger)
            .iter()
            .all(|s| *s == 401)
    );
    assert!(
        f.statuses(20, "POST", "/v1/claims", &key)
            .iter()
            .all(|s| *s == 403)
    );
    assert_eq!(
        f.statuses(4, "GET", "/v1/claims/1", &key),
        [200, 200, 200, 429]
    );
}

#[test]
fn an_organisation_with_twenty_keys_cannot_exceed_its_limit() {
    let f = fixture(
        r#"
[[limits]]
name = "per_org"
per = "owner"
rate = 50
window = 60
burst = 50
"#,
    );
    let keys: Vec<String> = (0..20)
        .map(|_| f.key("org_big", &["claims:read"], None))
        .collect();
    let mut allowed = 0;
    for round in 0..10 {
        for key in &keys {
            if f.status("GET", "/v1/claims/1", key) == 200 {
                allowed += 1;
            }
        }
        f.clock.advance_ms(100 * round);
    }
    // 4.5 s pass: the burst of 50 plus at most 50 × 4.5 / 60 = 3.75 more.
    assert!((50..=53).contains(&allowed), "{allowed}");
    // Another organisation is not affected.
    let small = f.key("org_small", &["claims:read"], None);
    assert_eq!(f.status("GET", "/v1/claims/1", &small), 200);
}

#[test]
fn writes_tighter_than_reads_and_tiers_pick_their_limits() {
    let f = fixture(
        r#"
[[limits]]
name = "writes"
rate = 2
window = 60
routes = "write"

[[limits]]
name = "free"
rate = 5
window = 60
tiers = ["free"]
"#,
    );
    let pro = f.key("org_1", &["claims:write"], Some("pro"));
    assert_eq!(f.statuses(3, "POST", "/v1/claims", &pro), [200, 200, 429]);
    assert!(
        f.statuses(10, "GET", "/v1/claims/1", &pro)
            .iter()
            .all(|s| *s == 200)
    );
    let free = f.key("org_2", &["claims:write"], Some("free"));
    assert_eq!(
        f.statuses(6, "GET", "/v1/claims/1", &free),
        [200, 200, 200, 200, 200, 429]
    );
}

#[test]
fn a_refusal_by_a_later_limit_gives_back_what_earlier_ones_took() {
    let f = fixture(
        r#"
[[limits]]
name = "per_key"
rate = 3
window = 3600

[[limits]]
name = "per_org"
per = "owner"
rate = 1
window = 60
"#,
    );
    let a = f.key("org_1", &["claims:read"], None);
    let b = f.key("org_1", &["claims:read"], None);
    assert_eq!(f.status("GET", "/v1/claims/1", &a), 200);
    // The organisation's limit refuses b: b's own limit gives back what it took.
    assert_eq!(f.statuses(5, "GET", "/v1/claims/1", &b), [429; 5]);
    f.clock.advance_ms(60_000);
    let r = Request::new("GET", "/v1/claims/1")
        .authorization(&b)
        .https(true);
    let d = f.checker.check(&r, &f.store, Timestamp(NOW));
    assert!(d.allowed());
    // b's per-key limit has two left (three had it not been refunded: zero).
    let per_key = f.checker.policy().limits()[0].quota();
    assert_eq!(per_key.burst(), 3);
    assert_eq!(d.rate_limit().as_deref(), Some(r#""per_org";r=0;t=60"#));
    assert_eq!(f.statuses(1, "GET", "/v1/claims/1", &b), [429]);
    f.clock.advance_ms(60_000);
    assert_eq!(f.status("GET", "/v1/claims/1", &b), 200);
    f.clock.advance_ms(60_000);
    // Third allowed request of b within the hour: still within its per-key burst of 3.
    assert_eq!(f.status("GET", "/v1/claims/1", &b), 200);
}

/// A store holding one key of `org_1` with `claims:read`, and its header.
fn one_key(checker: &Checker) -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let issued = checker
        .issue(&KeySpec::new("x", "org_1", ["claims:read"]), Timestamp(NOW))
        .expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    (store, header)
}

/// A fleet limiter whose shared store is down and holds nothing.
#[derive(Debug)]
struct Down;

impl Limits for Down {
    fn take(&self, _: u32, _: &Limit, _: &[u8]) -> Taken {
        Taken::Unavailable {
            retry_after_us: 2_500_000,
        }
    }
    fn refund(&self, _: u32, _: &Limit, _: &[u8]) {}
}

#[test]
fn an_unavailable_limiter_is_503_never_an_allow() {
    let policy = Policy::from_toml(&format!("{}\n{PER_KEY}", claimport_text())).expect("policy");
    let checker = Checker::new(policy, peppers()).with_limits(Arc::new(Down));
    let (store, header) = one_key(&checker);
    let r = Request::new("GET", "/v1/claims/1")
        .authorization(&header)
        .https(true);
    let d = checker.check(&r, &store, Timestamp(NOW));
    assert_eq!(
        (d.status(), d.reason().code()),
        (503, "limiter_unavailable")
    );
    assert_eq!(d.retry_after(), Some(3));
}

#[test]
fn policies_without_limits_or_without_a_limiter_are_unchanged() {
    let plain = Policy::from_toml(&claimport_text()).expect("policy");
    assert!(plain.limits().is_empty());
    let policy = Policy::from_toml(&format!("{}\n{PER_KEY}", claimport_text())).expect("policy");
    let checker = Checker::new(policy, peppers());
    let (store, header) = one_key(&checker);
    let r = Request::new("GET", "/v1/claims/1")
        .authorization(&header)
        .https(true);
    for _ in 0..10 {
        let d = checker.check(&r, &store, Timestamp(NOW));
        assert!(d.allowed() && d.rate_limit().is_none());
    }
}

#[test]
fn limit_settings_are_validated_with_their_location() {
    let issues = |limits: &str| -> Vec<String> {
        match Policy::from_toml(&format!("{}\n{limits}", claimport_text())) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .issues
                .iter()
                .map(|i| format!("{}: {}", i.field, i.message))
                .collect(),
        }
    };
    let one = |body: &str| issues(&format!("[[limits]]\n{body}\n"));
    assert!(one("name = \"a b\"\nrate = 1")[0].starts_with("limits[0].name"));
    assert!(one("name = \"a\"\nrate = 0")[0].contains("rate"));
    assert!(one("name = \"a\"\nrate = 1\nwindow = 0")[0].contains("window"));
    assert!(one("name = \"a\"\nrate = 1\nper = \"team\"")[0].starts_with("limits[0].per"));
    assert!(one("name = \"a\"\nrate = 1\nroutes = \"bulk\"")[0].starts_with("limits[0].routes"));
    assert!(one("name = \"a\"\nrate = 1\ntiers = [\"\"]")[0].starts_with("limits[0].tiers"));
    let twice = issues("[[limits]]\nname = \"a\"\nrate = 1\n[[limits]]\nname = \"a\"\nrate = 2\n");
    assert_eq!(twice, ["limits[1].name: declared twice"]);
    assert!(one("name = \"a\"\nrate = 1\nsurprise = 1")[0].contains("surprise"));
}

#[test]
fn a_route_class_names_its_requests() {
    let text = format!(
        "{}\n[[routes]]\nmethod = \"POST\"\npath = \"/v1/exports\"\nrequire = \"claims:read\"\nclass = \"bulk\"\n\n[[limits]]\nname = \"bulk\"\nrate = 1\nwindow = 60\nroutes = \"bulk\"\n",
        claimport_text()
    );
    let policy = Policy::from_toml(&text).expect("policy");
    let exports = policy
        .routes()
        .find("POST", "/v1/exports")
        .expect("path")
        .expect("route");
    assert_eq!(policy.request_class(Some(exports), "POST"), "bulk");
    assert_eq!(policy.request_class(None, "GET"), "read");
    assert_eq!(policy.request_class(None, "DELETE"), "write");
}

#[test]
fn credits_run_out_and_come_back_at_the_refill() {
    let f = fixture("");
    let never = f.key_with(
        "org_1",
        &["claims:read"],
        None,
        Some(serde_json::json!({"amount": 2})),
    );
    let get = Request::new("GET", "/v1/claims/1")
        .authorization(&never)
        .https(true);
    let first = f.checker.check(&get, &f.store, Timestamp(NOW));
    assert_eq!((first.status(), first.credits_remaining()), (200, Some(1)));
    assert_eq!(f.status("GET", "/v1/claims/1", &never), 200);
    let out = f.checker.check(&get, &f.store, Timestamp(NOW));
    assert_eq!(
        (out.status(), out.reason().code()),
        (429, "credits_exhausted")
    );
    assert_eq!(
        (out.retry_after(), out.credits_remaining()),
        (None, Some(0))
    );
    // A refusal for scope spends nothing; neither does one for credits.
    let daily = serde_json::json!({"amount": 1, "refill": "daily"});
    let d = f.key_with("org_2", &["claims:read"], None, Some(daily));
    assert_eq!(f.status("POST", "/v1/claims", &d), 403);
    assert_eq!(f.status("GET", "/v1/claims/1", &d), 200);
    let r = Request::new("GET", "/v1/claims/1")
        .authorization(&d)
        .https(true);
    let out = f.checker.check(&r, &f.store, Timestamp(NOW));
    assert_eq!(out.status(), 429);
    // NOW is 08:00 UTC: the refill is 16 hours later.
    assert_eq!(out.retry_after(), Some(16 * 3_600));
    let tomorrow = f.checker.check(&r, &f.store, Timestamp(NOW + 16 * 3_600));
    assert_eq!(
        (tomorrow.status(), tomorrow.credits_remaining()),
        (200, Some(0))
    );
}

#[test]
fn a_rate_limited_request_spends_no_credit_and_exhausted_credits_spend_no_quota() {
    let f = fixture(PER_KEY);
    let key = f.key_with(
        "org_1",
        &["claims:read"],
        None,
        Some(serde_json::json!({"amount": 4})),
    );
    assert_eq!(
        f.statuses(4, "GET", "/v1/claims/1", &key),
        [200, 200, 200, 429]
    );
    f.clock.advance_ms(300);
    // Three credits were spent by the three allowed requests: one left.
    assert_eq!(f.statuses(2, "GET", "/v1/claims/1", &key), [200, 429]);
    let r = Request::new("GET", "/v1/claims/1")
        .authorization(&key)
        .https(true);
    assert_eq!(
        f.checker
            .check(&r, &f.store, Timestamp(NOW))
            .reason()
            .code(),
        "credits_exhausted"
    );
}

#[test]
fn malformed_credits_allow_nothing_and_a_counter_without_credits_is_503() {
    let f = fixture("");
    let bad = f.key_with(
        "org_1",
        &["claims:read"],
        None,
        Some(serde_json::json!({"amount": -1})),
    );
    assert_eq!(f.status("GET", "/v1/claims/1", &bad), 429);
    let policy = Policy::from_toml(&claimport_text()).expect("policy");
    let checker = Checker::new(policy, peppers()).with_limits(Arc::new(Down));
    let store = MemoryStore::new();
    let mut spec = KeySpec::new("x", "org_1", ["claims:read"]);
    spec.metadata
        .insert("credits".into(), serde_json::json!({"amount": 5}));
    let issued = checker.issue(&spec, Timestamp(NOW)).expect("issue");
    let header = format!("Bearer {}", issued.key.expose());
    store.insert(issued.record).expect("insert");
    let r = Request::new("GET", "/v1/claims/1")
        .authorization(&header)
        .https(true);
    assert_eq!(
        checker.check(&r, &store, Timestamp(NOW)).reason().code(),
        "limiter_unavailable"
    );
}

#[test]
fn credits_restored_after_a_restart_are_not_spent_twice() {
    let local = LocalLimits::with_clock(100, TestClock::default()).expect("limits");
    let key = portcullis::KeyId::parse("creditsAAAAAAAAA").expect("id");
    let monthly = Credits::new(10, Refill::Monthly);
    assert!(local.restore_credits(&key, &monthly, 9, Timestamp(NOW)));
    assert_eq!(
        local.spend(&key, &monthly, Timestamp(NOW)),
        portcullis::limit::Spent::Spent { remaining: 0 }
    );
    assert_eq!(
        local.spend(&key, &monthly, Timestamp(NOW)),
        portcullis::limit::Spent::Exhausted
    );
    // Next month: a full allowance again.
    let next = monthly.next_refill(Timestamp(NOW)).expect("refill");
    assert_eq!(
        local.spend(&key, &monthly, next),
        portcullis::limit::Spent::Spent { remaining: 9 }
    );
}
