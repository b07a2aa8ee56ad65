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

/// A request of the story.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    key: Option<&'a str>,
    in_query: bool,
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

/// The story so far: its text, its steps as JSON, and whether every step matched.
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

    fn check(&mut self, title: &str, call: &Call<'_>, expect: &Expect, world: &World<'_>) {
        let counting = Counting {
            store: world.store,
            count: Cell::new(0),
        };
        let query;
        let header;
        let mut request = Request::new(call.method, call.path).https(true);
        match (call.key, call.in_query) {
            (Some(key), true) => {
                query = format!("api_key={key}");
                request = request.query(&query);
            }
            (Some(key), false) => {
                header = format!("Bearer {key}");
                request = request.authorization(&header);
            }
            (None, _) => {}
        }
        let decision = world.checker.check(&request, &counting, world.now);
        let looked_up = counting.count.get() > 0;
        let mismatches = compare(&decision, expect, looked_up);
        let ok = mismatches.is_empty();
        self.failures += usize::from(!ok);
        self.text.push_str(&format!(
            "   {} {}{}  at {}\n     -> {}   {}\n",
            call.method,
            call.path,
            shown_credential(call),
            format_time(world.now),
            verdict(&decision),
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
            "request": {"method": call.method, "path": call.path, "credential": credential_kind(call), "at": world.now.secs()},
            "expected": expect_json(expect),
            "actual": decision_json(&decision),
            "looked_up": looked_up,
            "ok": ok,
            "mismatches": mismatches,
        }));
    }
}

/// The store, checker and clock a step runs against.
struct World<'a> {
    store: &'a Store,
    checker: &'a Checker,
    now: Timestamp,
}

/// Runs the story on a temporary store and reports every step.
pub fn run(outer: &Context) -> Result<Report, CliError> {
    let dir = tempfile::Builder::new()
        .prefix("portcullis-demo-")
        .tempdir()
        .map_err(|e| CliError::io("temporary directory", &std::env::temp_dir(), &e))?;
    let store_dir = dir.path().join("store");
    let context = Context {
        paths: Paths::new(&store_dir, None, None),
        now: outer.now,
        json: outer.json,
    };
    let mut story = Story {
        text: String::from("portcullis demo: ClaimPort's API keys, on a throwaway store\n"),
        steps: Vec::new(),
        failures: 0,
    };
    tell(&mut story, &context)?;
    let ok = story.failures == 0;
    story.text.push_str(&if ok {
        format!(
            "\nAll {} checks behaved as the story says.\n",
            story.steps.len()
        )
    } else {
        format!(
            "\n{} of {} checks did NOT behave as expected.\n",
            story.failures,
            story.steps.len()
        )
    });
    Ok(Report {
        human: story.text,
        json: json!({"ok": ok, "failures": story.failures, "steps": story.steps}),
        exit: if ok { EXIT_OK } else { EXIT_DEMO_FAILED },
    })
}

fn tell(story: &mut Story, context: &Context) -> Result<(), CliError> {
    init::run(context)?;
    let mut checker = context.checker()?;
    let mut store = context.store()?;
    let now = context.now;
    story.screen(
        "1. A fresh store with ClaimPort's policy",
        &[
            format!("store {} (deleted at the end)", context.paths.dir.display()),
            "pepper file: mode 0600, apart from the database; the database keeps only hashes"
                .into(),
            "policy: GET /v1/claims/{id} needs claims:read, POST /v1/claims needs claims:write"
                .into(),
        ],
    );

    let read = create(
        &checker,
        &mut store,
        context,
        "Read Claims integration",
        "claims:read",
        None,
    )?;
    story.screen(
        "2. Settings > API Keys: create a \"Read Claims\" key",
        &[
            format!("{}   <- shown once: copy it now", read.0),
            format!("stored: id {}, scopes claims:read, hash only", read.1),
        ],
    );

    story.screen("3. Calls with the key", &[]);
    let world = World {
        store: &store,
        checker: &checker,
        now,
    };
    let call = |method, path, key| Call {
        method,
        path,
        key,
        in_query: false,
    };
    story.check(
        "read a claim",
        &call("GET", "/v1/claims/42", Some(&read.0)),
        &Expect {
            status: 200,
            reason: "allowed",
            key: Some(read.1),
            lookup: true,
            ..Expect::default()
        },
        &world,
    );
    story.check(
        "create a claim without claims:write",
        &call("POST", "/v1/claims", Some(&read.0)),
        &Expect {
            status: 403,
            reason: "insufficient_scope",
            missing: &["claims:write"],
            key: Some(read.1),
            lookup: true,
            ..Expect::default()
        },
        &world,
    );

    story.screen(
        "4. A typo in the key: caught by the checksum, before any database lookup",
        &["one character of the secret mistyped; the key's last 6 characters are a CRC32".into()],
    );
    let typo = with_typo(&read.0);
    story.check(
        "typo'd key",
        &call("GET", "/v1/claims/42", Some(&typo)),
        &Expect {
            status: 401,
            reason: "malformed_key",
            detail: Some("checksum"),
            ..Expect::default()
        },
        &world,
    );

    let test = create(
        &checker,
        &mut store,
        context,
        "CI tests",
        "claims:read",
        Some("test"),
    )?;
    story.screen(
        "5. A test key on the live deployment",
        &[
            format!("created {}", display(&test.0)),
            "this deployment accepts only live keys; refused before any database lookup".into(),
        ],
    );
    let world = World {
        store: &store,
        checker: &checker,
        now,
    };
    story.check(
        "test key on live",
        &call("GET", "/v1/claims/42", Some(&test.0)),
        &Expect {
            status: 401,
            reason: "wrong_environment",
            ..Expect::default()
        },
        &world,
    );

    story.screen(
        "6. The key in the query string (?api_key=): refused, with the reason",
        &["query strings end up in logs and browser history; the policy refuses them".into()],
    );
    story.check(
        "key in the query string",
        &Call {
            method: "GET",
            path: "/v1/claims",
            key: Some(&read.0),
            in_query: true,
        },
        &Expect {
            status: 400,
            reason: "query_refused",
            ..Expect::default()
        },
        &world,
    );

    let rotation = store.rotate(&read.1, &checker, GRACE, now)?;
    let new = (
        rotation.successor.key.expose().to_owned(),
        rotation.successor.record.id(),
    );
    let later = now.plus(GRACE + 3_600);
    story.screen(
        "7. Rotation with a grace period",
        &[
            format!("keys rotate {} --grace {}", read.1, format_duration(GRACE)),
            format!("{}   <- the successor, shown once", new.0),
            format!("the old key works until {}", format_time(now.plus(GRACE))),
        ],
    );
    let world = World {
        store: &store,
        checker: &checker,
        now,
    };
    story.check(
        "old key during the grace period",
        &call("GET", "/v1/claims/42", Some(&read.0)),
        &Expect {
            status: 200,
            reason: "allowed",
            key: Some(read.1),
            lookup: true,
            ..Expect::default()
        },
        &world,
    );
    story.check(
        "new key",
        &call("GET", "/v1/claims/42", Some(&new.0)),
        &Expect {
            status: 200,
            reason: "allowed",
            key: Some(new.1),
            lookup: true,
            ..Expect::default()
        },
        &world,
    );
    let after = World {
        store: &store,
        checker: &checker,
        now: later,
    };
    story.check(
        "old key after the grace period",
        &call("GET", "/v1/claims/42", Some(&read.0)),
        &Expect {
            status: 401,
            reason: "expired",
            lookup: true,
            ..Expect::default()
        },
        &after,
    );
    story.check(
        "new key after the grace period",
        &call("GET", "/v1/claims/42", Some(&new.0)),
        &Expect {
            status: 200,
            reason: "allowed",
            key: Some(new.1),
            lookup: true,
            ..Expect::default()
        },
        &after,
    );

    let mut peppers = PepperFile::load(&context.paths.pepper)?;
    let pepper = peppers.rotate(&context.paths.pepper)?;
    checker = context.checker()?;
    story.screen(
        "8. Pepper rotation: a new primary pepper, existing keys keep working",
        &[format!("pepper rotate -> primary {pepper}")],
    );
    let world = World {
        store: &store,
        checker: &checker,
        now,
    };
    story.check(
        "new key after the pepper rotation",
        &call("GET", "/v1/claims/42", Some(&new.0)),
        &Expect {
            status: 200,
            reason: "allowed",
            key: Some(new.1),
            lookup: true,
            ..Expect::default()
        },
        &world,
    );

    store.revoke(&new.1, now)?;
    story.screen(
        "9. Revocation takes effect at once",
        &[format!("keys revoke {}", new.1)],
    );
    let world = World {
        store: &store,
        checker: &checker,
        now,
    };
    story.check(
        "revoked key",
        &call("GET", "/v1/claims/42", Some(&new.0)),
        &Expect {
            status: 401,
            reason: "revoked",
            lookup: true,
            ..Expect::default()
        },
        &world,
    );
    Ok(())
}

/// Creates a key in the demo store; returns its plaintext and id.
fn create(
    checker: &Checker,
    store: &mut Store,
    context: &Context,
    name: &str,
    scopes: &str,
    env: Option<&str>,
) -> Result<(String, KeyId), CliError> {
    let args = CreateArgs {
        name: name.to_owned(),
        scopes: vec![scopes.to_owned()],
        owner: "org_demo".to_owned(),
        env: env.map(str::to_owned),
        kind: None,
        ttl: None,
    };
    let issued = keys::issue(checker, &args, context)?;
    store.insert(&issued.record)?;
    Ok((issued.key.expose().to_owned(), issued.record.id()))
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

/// `sk_live_<id>_…` for a full key.
fn display(key: &str) -> String {
    let parts: Vec<&str> = key.splitn(4, '_').collect();
    format!("{}_…", parts[..parts.len().min(3)].join("_"))
}

fn shown_credential(call: &Call<'_>) -> String {
    match (call.key, call.in_query) {
        (Some(key), true) => format!("?api_key={}", display(key)),
        (Some(key), false) => format!("  Authorization: Bearer {}", display(key)),
        (None, _) => String::new(),
    }
}

fn credential_kind(call: &Call<'_>) -> &'static str {
    match (call.key, call.in_query) {
        (Some(_), true) => "query",
        (Some(_), false) => "header",
        (None, _) => "none",
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
        assert_eq!(display(key), "sk_live_AbCdEfGh01234567_…");
    }
}
