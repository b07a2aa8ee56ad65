//! `portcullis demo`: the whole story on a throwaway store, with the product's policy.
//!
//! Every step makes a real decision — SQLite store, pepper file, the core's checker — and
//! compares it with what the story says must happen (status, reason, key-error detail,
//! missing scopes, which key was recognised, whether the database was consulted). The
//! command exits 0 only if every step matched; otherwise [`EXIT_DEMO_FAILED`].

use crate::Report;
use crate::cli::CreateArgs;
use crate::commands::{init, keys};
use crate::context::{Context, Paths};
use crate::error::{CliError, EXIT_DEMO_FAILED, EXIT_OK};
use crate::pepper_file::PepperFile;
use crate::store::Store;
use crate::time_text::{format_duration, format_time};
use crate::view::{decision_json, detail, verdict};
use portcullis::{Checker, Decision, KeyId, KeyLookup, KeyRecord, LookupError, Request, Timestamp};
use serde_json::{Value, json};
use std::cell::Cell;
use std::sync::Arc;

/// The rotation grace period of the story.
const GRACE: u64 = 7 * 86_400;

/// What a step must produce.
#[derive(Clone, Debug, Default)]
struct Expect {
    status: u16,
    reason: &'static str,
    detail: Option<&'static str>,
    missing: &'static [&'static str],
    /// The key the decision must name (`None`: no principal).
    key: Option<KeyId>,
    /// Whether the store must have been consulted.
    lookup: bool,
}

impl Expect {
    /// 200, recognised as `key`.
    fn allowed(key: KeyId) -> Self {
        Expect {
            status: 200,
            reason: "allowed",
            key: Some(key),
            lookup: true,
            ..Expect::default()
        }
    }

    /// 403: recognised as `key`, lacking `missing`.
    fn lacking(key: KeyId, missing: &'static [&'static str]) -> Self {
        Expect {
            status: 403,
            reason: "insufficient_scope",
            missing,
            ..Expect::allowed(key)
        }
    }

    /// Refused after looking the key up.
    fn refused(status: u16, reason: &'static str) -> Self {
        Expect {
            status,
            reason,
            lookup: true,
            ..Expect::default()
        }
    }

    /// Refused before any database lookup.
    fn refused_early(status: u16, reason: &'static str) -> Self {
        Expect {
            lookup: false,
            ..Expect::refused(status, reason)
        }
    }
}

/// A request of the story: `GET /v1/claims/42` with a key in the header or the query.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    key: &'a str,
    in_query: bool,
    /// The key this one mistypes: shown in its place (the same kind, environment and id).
    typo_of: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn header(method: &'a str, path: &'a str, key: &'a str) -> Self {
        Call {
            method,
            path,
            key,
            in_query: false,
            typo_of: None,
        }
    }
}

/// Counts lookups, to show that malformed and wrong-environment keys never reach the
/// database.
struct Counting<'s> {
    store: &'s Store,
    count: Cell<u32>,
}

impl KeyLookup for Counting<'_> {
    fn lookup(&self, id: &KeyId) -> Result<Option<Arc<KeyRecord>>, LookupError> {
        self.count.set(self.count.get() + 1);
        self.store.lookup(id)
    }
}

/// The story so far: its text, its steps as JSON, and how many steps did not match.
#[derive(Default)]
struct Story {
    text: String,
    steps: Vec<Value>,
    failures: usize,
}

impl Story {
    fn screen(&mut self, title: &str, lines: &[String]) {
        self.text.push_str(&format!("\n== {title}\n"));
        for line in lines {
            self.text.push_str(&format!("   {line}\n"));
        }
    }

    /// Records a decision and its comparison with the expectation.
    fn record(&mut self, title: &str, call: &Call<'_>, at: Timestamp, step: Step<'_, '_>) {
        let Step {
            decision,
            expect,
            looked_up,
            shown,
        } = step;
        let mismatches = compare(decision, expect, looked_up);
        let ok = mismatches.is_empty();
        self.failures += usize::from(!ok);
        self.text.push_str(&format!(
            "   {} {}{}  at {}\n     -> {}   {}\n",
            call.method,
            call.path,
            shown_credential(call, &shown),
            format_time(at),
            verdict(decision),
            if ok { "as expected" } else { "UNEXPECTED" },
        ));
        for m in &mismatches {
            self.text.push_str(&format!("        mismatch: {m}\n"));
        }
        if let Some(www) = decision.www_authenticate() {
            self.text
                .push_str(&format!("        WWW-Authenticate: {www}\n"));
        }
        self.steps.push(json!({
            "title": title,
            "request": {
                "method": call.method,
                "path": call.path,
                "credential": if call.in_query { "query" } else { "header" },
                "at": at.secs(),
            },
            "expected": expect_json(expect),
            "actual": decision_json(decision),
            "looked_up": looked_up,
            "ok": ok,
            "mismatches": mismatches,
        }));
    }
}

/// One decision with what it should have been.
struct Step<'d, 'p> {
    decision: &'d Decision<'p>,
    expect: &'d Expect,
    looked_up: bool,
    /// The display form of the key sent.
    shown: String,
}

/// The demo's world: a real store, the store's checker, the clock, and the story told.
struct Demo {
    context: Context,
    store: Store,
    checker: Checker,
    story: Story,
}

impl Demo {
    fn now(&self) -> Timestamp {
        self.context.now
    }

    /// Decides `call` at `at` and records the step.
    fn check(&mut self, title: &str, call: &Call<'_>, at: Timestamp, expect: &Expect) {
        let counting = Counting {
            store: &self.store,
            count: Cell::new(0),
        };
        let credential = if call.in_query {
            format!("api_key={}", call.key)
        } else {
            format!("Bearer {}", call.key)
        };
        let base = Request::new(call.method, call.path).https(true);
        let request = if call.in_query {
            base.query(&credential)
        } else {
            base.authorization(&credential)
        };
        let decision = self.checker.check(&request, &counting, at);
        let step = Step {
            decision: &decision,
            expect,
            looked_up: counting.count.get() > 0,
            shown: self.shown(call.typo_of.unwrap_or(call.key)),
        };
        self.story.record(title, call, at, step);
    }

    /// The display form of a key the demo issued, from the core (`sk_live_<id>_…`).
    fn shown(&self, key: &str) -> String {
        self.checker.parse(key.as_bytes()).map_or_else(
            |e| format!("(malformed key: {})", e.code()),
            |k| k.display().to_string(),
        )
    }

    /// Creates a key in the store; returns its plaintext and id.
    fn create(&mut self, name: &str, env: Option<&str>) -> Result<(String, KeyId), CliError> {
        let args = CreateArgs {
            name: name.to_owned(),
            scopes: vec!["claims:read".to_owned()],
            owner: "org_demo".to_owned(),
            env: env.map(str::to_owned),
            kind: None,
            ttl: None,
            tier: None,
        };
        let issued = keys::issue(&self.checker, &args, &self.context)?;
        self.store.insert(&issued.record, self.context.now)?;
        Ok((issued.key.expose().to_owned(), issued.record.id()))
    }
}

/// Runs the story on a temporary store and reports every step.
pub fn run(outer: &Context) -> Result<Report, CliError> {
    let dir = tempfile::Builder::new()
        .prefix("portcullis-demo-")
        .tempdir()
        .map_err(|e| CliError::io("temporary directory", &std::env::temp_dir(), &e))?;
    let context = Context {
        paths: Paths::new(&dir.path().join("store"), None, None),
        now: outer.now,
        json: outer.json,
        busy_timeout: outer.busy_timeout,
        database: outer.database.clone(),
        actor: outer.actor,
    };
    init::run(&context)?;
    let mut demo = Demo {
        checker: context.checker()?,
        store: context.store()?,
        context,
        story: Story {
            text: String::from("portcullis demo: ClaimPort's API keys, on a throwaway store\n"),
            ..Story::default()
        },
    };
    tell(&mut demo)?;
    let Story {
        mut text,
        steps,
        failures,
    } = demo.story;
    let ok = failures == 0;
    text.push_str(&if ok {
        format!("\nAll {} checks behaved as the story says.\n", steps.len())
    } else {
        format!(
            "\n{failures} of {} checks did NOT behave as expected.\n",
            steps.len()
        )
    });
    Ok(Report {
        human: text,
        json: json!({"ok": ok, "failures": failures, "steps": steps}),
        exit: if ok { EXIT_OK } else { EXIT_DEMO_FAILED },
    })
}

/// The chapters, in order.
fn tell(demo: &mut Demo) -> Result<(), CliError> {
    let read = setup_and_create(demo)?;
    calls(demo, &read);
    refusals(demo, &read)?;
    let successor = rotation(demo, &read)?;
    pepper_rotation(demo, &successor)?;
    revocation(demo, &successor)
}

/// Screens 1 and 2: the store, and a "Read Claims" key shown once.
fn setup_and_create(demo: &mut Demo) -> Result<(String, KeyId), CliError> {
    let dir = demo.context.paths.dir.display().to_string();
    demo.story.screen(
        "1. A fresh store with ClaimPort's policy",
        &[
            format!("store {dir} (deleted at the end)"),
            "pepper file: mode 0600, apart from the database; the database keeps only hashes"
                .into(),
            "policy: GET /v1/claims/{id} needs claims:read, POST /v1/claims needs claims:write"
                .into(),
        ],
    );
    let read = demo.create("Read Claims integration", None)?;
    demo.story.screen(
        "2. Settings > API Keys: create a \"Read Claims\" key",
        &[
            format!("{}   <- shown once: copy it now", read.0),
            format!("stored: id {}, scopes claims:read, hash only", read.1),
        ],
    );
    Ok(read)
}

/// Screen 3: an allowed call and a 403 naming the missing scope.
fn calls(demo: &mut Demo, (key, id): &(String, KeyId)) {
    let now = demo.now();
    demo.story.screen("3. Calls with the key", &[]);
    let read = Call::header("GET", "/v1/claims/42", key);
    demo.check("read a claim", &read, now, &Expect::allowed(*id));
    let write = Call::header("POST", "/v1/claims", key);
    let lacking = Expect::lacking(*id, &["claims:write"]);
    demo.check("create a claim without claims:write", &write, now, &lacking);
}

/// Screens 4-6: a typo, a test key on live, a key in the query string.
fn refusals(demo: &mut Demo, (key, _): &(String, KeyId)) -> Result<(), CliError> {
    let now = demo.now();
    demo.story.screen(
        "4. A typo in the key: caught by the checksum, before any database lookup",
        &["one character of the secret mistyped; the key ends with a CRC32 checksum".into()],
    );
    let typo = with_typo(key);
    let expect = Expect {
        detail: Some("checksum"),
        ..Expect::refused_early(401, "malformed_key")
    };
    let call = Call {
        typo_of: Some(key),
        ..Call::header("GET", "/v1/claims/42", &typo)
    };
    demo.check("typo'd key", &call, now, &expect);

    let (test_key, _) = demo.create("CI tests", Some("test"))?;
    demo.story.screen(
        "5. A test key on the live deployment",
        &[
            format!("created {}", demo.shown(&test_key)),
            "this deployment accepts only live keys; refused before any database lookup".into(),
        ],
    );
    let call = Call::header("GET", "/v1/claims/42", &test_key);
    let expect = Expect::refused_early(401, "wrong_environment");
    demo.check("test key on live", &call, now, &expect);

    demo.story.screen(
        "6. The key in the query string (?api_key=): refused, with the reason",
        &["query strings end up in logs and browser history; the policy refuses them".into()],
    );
    let call = Call {
        in_query: true,
        ..Call::header("GET", "/v1/claims", key)
    };
    let expect = Expect::refused_early(400, "query_refused");
    demo.check("key in the query string", &call, now, &expect);
    Ok(())
}

/// Screen 7: rotation; both keys work during the grace period, only the new one after.
fn rotation(demo: &mut Demo, (key, id): &(String, KeyId)) -> Result<(String, KeyId), CliError> {
    let now = demo.now();
    let rotated = demo.store.rotate(id, &demo.checker, GRACE, now)?;
    let new = (
        rotated.successor.key.expose().to_owned(),
        rotated.successor.record.id(),
    );
    demo.story.screen(
        "7. Rotation with a grace period",
        &[
            format!("keys rotate {id} --grace {}", format_duration(GRACE)),
            format!("{}   <- the successor, shown once", new.0),
            format!("the old key works until {}", format_time(now.plus(GRACE))),
        ],
    );
    let old_call = Call::header("GET", "/v1/claims/42", key);
    let new_call = Call::header("GET", "/v1/claims/42", &new.0);
    let later = now.plus(GRACE + 3_600);
    demo.check(
        "old key during the grace period",
        &old_call,
        now,
        &Expect::allowed(*id),
    );
    demo.check("new key", &new_call, now, &Expect::allowed(new.1));
    let expired = Expect::refused(401, "expired");
    demo.check("old key after the grace period", &old_call, later, &expired);
    demo.check(
        "new key after the grace period",
        &new_call,
        later,
        &Expect::allowed(new.1),
    );
    Ok(new)
}

/// Screen 8: a new primary pepper; the existing key keeps working.
fn pepper_rotation(demo: &mut Demo, (key, id): &(String, KeyId)) -> Result<(), CliError> {
    let path = demo.context.paths.pepper.clone();
    let pepper = PepperFile::load(&path)?.rotate(&path)?;
    demo.checker = demo.context.checker()?;
    demo.story.screen(
        "8. Pepper rotation: a new primary pepper, existing keys keep working",
        &[format!("pepper rotate -> primary {pepper}")],
    );
    let call = Call::header("GET", "/v1/claims/42", key);
    let now = demo.now();
    demo.check(
        "key hashed under the old pepper",
        &call,
        now,
        &Expect::allowed(*id),
    );
    Ok(())
}

/// Screen 9: revocation takes effect on the next request.
fn revocation(demo: &mut Demo, (key, id): &(String, KeyId)) -> Result<(), CliError> {
    let now = demo.now();
    demo.store.revoke(id, now)?;
    demo.story.screen(
        "9. Revocation takes effect at once",
        &[format!("keys revoke {id}")],
    );
    let call = Call::header("GET", "/v1/claims/42", key);
    demo.check("revoked key", &call, now, &Expect::refused(401, "revoked"));
    Ok(())
}

/// The key with one character of its secret changed, as a person mistyping it would.
fn with_typo(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    let at = chars.len().saturating_sub(10);
    if let Some(c) = chars.get_mut(at) {
        *c = if *c == 'a' { 'b' } else { 'a' };
    }
    chars.into_iter().collect()
}

fn shown_credential(call: &Call<'_>, shown: &str) -> String {
    if call.in_query {
        format!("?api_key={shown}")
    } else {
        format!("  Authorization: Bearer {shown}")
    }
}

/// Every way `decision` differs from `expect`.
fn compare(decision: &Decision<'_>, expect: &Expect, looked_up: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |what: &str, want: String, got: String| {
        if want != got {
            out.push(format!("{what}: expected {want}, got {got}"));
        }
    };
    differ(
        "status",
        expect.status.to_string(),
        decision.status().to_string(),
    );
    differ(
        "reason",
        expect.reason.to_owned(),
        decision.reason().code().to_owned(),
    );
    differ(
        "detail",
        format!("{:?}", expect.detail),
        format!("{:?}", detail(decision)),
    );
    differ(
        "missing",
        expect.missing.join(" "),
        decision.missing().collect::<Vec<_>>().join(" "),
    );
    differ(
        "key",
        format!("{:?}", expect.key),
        format!("{:?}", decision.key_id()),
    );
    differ(
        "database lookup",
        expect.lookup.to_string(),
        looked_up.to_string(),
    );
    out
}

fn expect_json(e: &Expect) -> Value {
    json!({
        "status": e.status,
        "reason": e.reason,
        "detail": e.detail,
        "missing": e.missing,
        "key_id": e.key.map(|k| k.as_str().to_owned()),
        "looked_up": e.lookup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis::{MemoryStore, Peppers, Policy};

    #[test]
    fn compare_reports_every_difference() {
        let policy = Policy::from_toml(init::STARTER_POLICY).expect("policy");
        let checker = Checker::new(policy, Peppers::new("p1", &[7; 32]).expect("pepper"));
        let request = Request::new("GET", "/v1/claims").https(true);
        let decision = checker.check(&request, &MemoryStore::new(), Timestamp(0));
        let right = Expect {
            status: 401,
            reason: "missing_credential",
            ..Expect::default()
        };
        assert_eq!(compare(&decision, &right, false), Vec::<String>::new());
        let wrong = Expect {
            status: 200,
            reason: "allowed",
            lookup: true,
            ..right
        };
        let found = compare(&decision, &wrong, false);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("status: expected 200, got 401"));
    }

    #[test]
    fn a_typo_changes_the_secret_only() {
        let key = "sk_live_AbCdEfGh01234567_abcdefghijklmnopqrstuvwxyzAB123456";
        let typo = with_typo(key);
        assert_ne!(typo, key);
        assert_eq!(typo.len(), key.len());
        assert_eq!(&typo[..25], &key[..25]);
    }
}
