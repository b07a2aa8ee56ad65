//! Conformance vectors: `tests/vectors/*.json`, produced here from fixed peppers and fixed
//! random bytes, and run by the Rust, C and Python suites alike.
//!
//! This test regenerates every file and fails if the result differs from what is
//! committed; `make vectors` (PORTCULLIS_BLESS=1) rewrites them. Each decision case also
//! states by hand what it must come out as, and generation fails if the library disagrees,
//! so a regenerated file cannot silently encode a regression. Key hashes are checked
//! against ring's independent HMAC implementation.

mod common;

use common::{DAY, NOW, TestPolicy, settle_vectors};
use portcullis::{
    Checker, KeyRecord, KeySpec, MemoryStore, Peppers, Policy, Request, Requirement, SeededRandom,
    StoredHash, Timestamp,
};
use serde_json::{Value, json};
use std::sync::Arc;

const P1: &str = "p1";
const P0: &str = "p0";

fn pepper_secret(id: &str) -> Vec<u8> {
    (0..32u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(id.as_bytes()[1]))
        .collect()
}

fn peppers_json() -> Value {
    json!([
        {"id": P1, "secret_hex": hex(&pepper_secret(P1))},
        {"id": P0, "secret_hex": hex(&pepper_secret(P0))},
    ])
}

fn peppers(primary: &str) -> Peppers {
    let mut p = Peppers::new(P1, &pepper_secret(P1)).expect("pepper");
    p.add(P0, &pepper_secret(P0)).expect("pepper");
    p.set_primary(primary).expect("primary");
    p
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn claimport() -> String {
    common::claimport_text()
}

fn claimport_query() -> String {
    TestPolicy::claimport()
        .require_https(false)
        .allow_query_key(true)
        .text()
}

fn claimport_legacy() -> String {
    TestPolicy::claimport().accept_legacy_sha256(true).text()
}

fn checker(policy: &str, primary: &str) -> Checker {
    Checker::new(Policy::from_toml(policy).expect("policy"), peppers(primary))
}

// ---------------------------------------------------------------------------------------
// keys.json

fn ring_hmac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn mutate(key: &str, at: usize) -> String {
    let mut b = key.as_bytes().to_vec();
    b[at] = if b[at] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).expect("ascii")
}

#[test]
fn keys() {
    let policy = "[service]\nkinds = [\"sk\", \"rk\"]\nenvironments = [\"live\", \"test\"]\n";
    let c = checker(policy, P1);
    let rng = SeededRandom::new(b"portcullis keys.json");
    let mut keys = Vec::new();
    let mut texts = Vec::new();
    for (kind, env) in [
        ("sk", "live"),
        ("sk", "test"),
        ("rk", "live"),
        ("rk", "test"),
        ("sk", "live"),
    ] {
        let issued = c
            .issue_with(
                kind,
                env,
                &KeySpec::new("v", "o", Vec::<String>::new()),
                Timestamp(NOW),
                &rng,
            )
            .expect("issue");
        let text = issued.key.expose().to_owned();
        let parsed = c.parse(text.as_bytes()).expect("parses");
        let id = parsed.id().to_string();
        let mac_input = &text[kind.len() + env.len() + 2..text.len() - 6];
        let independent = format!(
            "hmac-sha256$p1${}",
            b64url(&ring_hmac(&pepper_secret(P1), mac_input.as_bytes()))
        );
        assert_eq!(issued.record.hash(), independent, "HMAC agrees with ring");
        keys.push(json!({
            "key": text, "kind": kind, "env": env, "id": id,
            "display": parsed.display().to_string(),
            "hash": issued.record.hash(),
            "legacy_hash": StoredHash::legacy_sha256(&text).encode(),
        }));
        texts.push(text);
    }
    let k = &texts[0];
    let mut parse: Vec<(String, Option<&str>)> = vec![
        (k.clone(), None),
        (String::new(), Some("shape")),
        ("sk_live_".into(), Some("length")),
        (k.replacen("sk_", "xk_", 1), Some("unknown_kind")),
        (k.replacen("_live_", "_prod_", 1), Some("unknown_env")),
        (k.replacen("sk_", "SK_", 1), Some("shape")),
        (format!("{k}0"), Some("length")),
        (k[..k.len() - 1].to_owned(), Some("length")),
        (k.replacen("sk_live_", "sk__live_", 1), Some("shape")),
        (format!("{}-{}", &k[..10], &k[11..]), Some("character")),
        (mutate(k, 20), Some("checksum")),
        (mutate(k, k.len() - 1), Some("checksum")),
        ("x".repeat(100_000), Some("length")),
        (format!("Bearer {k}"), Some("shape")),
    ];
    parse.extend(texts[1..].iter().map(|t| (t.clone(), None)));
    let mut cases: Vec<Value> = parse
        .into_iter()
        .map(|(input, error)| {
            let got = c.parse(input.as_bytes());
            assert_eq!(
                got.as_ref().err().map(|e| e.code()),
                error,
                "parse of case {}",
                &input[..input.len().min(24)]
            );
            let input = if input.len() > 1000 {
                json!({"input_repeat": {"char": "x", "count": input.len()}})
            } else {
                json!({"input": input})
            };
            let mut case = input;
            case["error"] = json!(error);
            case["id"] = json!(got.ok().map(|p| p.id().to_string()));
            case
        })
        .collect();
    for (bytes, error) in [
        (b"sk_live_\xff\xfe".to_vec(), "length"),
        (b"sk\x00live_x".to_vec(), "shape"),
    ] {
        assert_eq!(c.parse(&bytes).err().map(|e| e.code()), Some(error));
        cases.push(json!({"input_hex": hex(&bytes), "error": error, "id": null}));
    }
    settle_vectors(
        "keys.json",
        &json!({
            "description": "Issued keys with their record hashes under the primary pepper (HMAC-SHA256 of `{id}_{secret}`) and their legacy plain SHA-256 hashes; and parse outcomes. `input_repeat` means `char` repeated `count` times.",
            "peppers": peppers_json(),
            "kinds": ["sk", "rk"],
            "environments": ["live", "test"],
            "keys": keys,
            "parse": cases,
        }),
    );
}

// ---------------------------------------------------------------------------------------
// extract.json

#[test]
fn extract() {
    use portcullis::{Source, extract_credential};
    type ExtractCase<'a> = (Option<&'a [u8]>, Option<&'a str>, bool, Option<&'a str>);
    let cases: Vec<ExtractCase<'_>> = vec![
        (Some(b"Bearer abc"), None, false, None),
        (Some(b"bearer abc"), None, false, None),
        (
            Some(b"BEARER    abc.def-ghi_jkl~mno+pqr/stu=="),
            None,
            false,
            None,
        ),
        (Some(b" Bearer abc\t"), None, false, None),
        (None, None, false, Some("missing_credential")),
        (
            Some(b"Basic dXNlcjpwYXNz"),
            None,
            false,
            Some("wrong_scheme"),
        ),
        (Some(b""), None, false, Some("wrong_scheme")),
        (Some(b"Bearerabc"), None, false, Some("wrong_scheme")),
        (Some(b"Bearer"), None, false, Some("malformed_header")),
        (Some(b"Bearer "), None, false, Some("malformed_header")),
        (Some(b"Bearer\tabc"), None, false, Some("malformed_header")),
        (
            Some(b"Bearer abc def"),
            None,
            false,
            Some("malformed_header"),
        ),
        (Some(b"Bearer a=b"), None, false, Some("malformed_header")),
        (
            Some(b"Bearer \xff\xfe"),
            None,
            false,
            Some("malformed_header"),
        ),
        (
            Some(b"Bearer abc"),
            Some("api_key=abc"),
            true,
            Some("both_present"),
        ),
        (
            Some(b"Basic x"),
            Some("api_key=abc"),
            true,
            Some("both_present"),
        ),
        (None, Some("api_key=abc"), false, Some("query_refused")),
        (None, Some("a=1&api_key=abc&b=2"), true, None),
        (
            None,
            Some("api_key=abc&api_key=abc"),
            true,
            Some("malformed_query"),
        ),
        (None, Some("api_key="), true, Some("malformed_query")),
        (None, Some("other=abc"), true, Some("missing_credential")),
        (None, Some(""), true, Some("missing_credential")),
    ];
    let out: Vec<Value> = cases
        .into_iter()
        .map(|(auth, query, allow, error)| {
            let got = extract_credential(auth, query.map(str::as_bytes), "api_key", allow);
            assert_eq!(
                got.as_ref().err().map(|e| e.code()),
                error,
                "case {:?}",
                auth.map(String::from_utf8_lossy)
            );
            let mut case =
                json!({"query": query, "param": "api_key", "allow_query": allow, "error": error});
            match auth.map(std::str::from_utf8) {
                None => case["authorization"] = Value::Null,
                Some(Ok(s)) => case["authorization"] = json!(s),
                Some(Err(_)) => {
                    case["authorization"] = Value::Null;
                    case["authorization_hex"] = json!(hex(auth.unwrap_or_default()));
                }
            }
            case["token"] = json!(
                got.ok()
                    .map(|c| String::from_utf8_lossy(c.token).into_owned())
            );
            case["source"] = json!(got.ok().map(|c| if c.source == Source::Header {
                "header"
            } else {
                "query"
            }));
            case
        })
        .collect();
    settle_vectors(
        "extract.json",
        &json!({"description": "RFC 6750 credential extraction: header grammar and query parameter rules.", "cases": out}),
    );
}

// ---------------------------------------------------------------------------------------
// scopes.json

#[test]
fn scopes() {
    let text = claimport();
    let policy = Policy::from_toml(&text).expect("policy");
    let cat = policy.catalog();
    #[rustfmt::skip]
    let cases: Vec<(&[&str], &str, bool)> = vec![
        (&["claims:read"], "claims:read", true),
        (&["claims:read"], "claims:write", false),
        (&["claims:write"], "claims:read", true),
        (&["claims:*"], "claims:read & claims:write", true),
        (&["full_access"], "analytics:read orders:read claims:write", true),
        (&["*"], "full_access", true),
        (&["orders:read"], "claims:read orders:read", false),
        (&["claims:read"], "claims:read orders:read | analytics:read", false),
        (&["analytics:read"], "claims:read orders:read | analytics:read", true),
        (&["claims:read", "ghost:scope", "ghost:*"], "claims:read", true),
        (&[], "claims:read | orders:read", false),
        (&["orders:read"], "(claims:read | orders:read) & (analytics:read | orders:read)", true),
        (&["claims:read"], "(claims:write | full_access) analytics:read", false),
    ];
    let out: Vec<Value> = cases
        .into_iter()
        .map(|(grants, requirement, allowed)| {
            let grant = cat.grant(grants);
            let req = Requirement::parse(cat, requirement).expect("requirement");
            let result = req.evaluate(&grant.set);
            assert_eq!(result.is_ok(), allowed, "{grants:?} vs {requirement}");
            let short = result.err().unwrap_or_default();
            json!({
                "grants": grants, "requirement": requirement, "allowed": allowed,
                "missing": cat.names(&short.missing).collect::<Vec<_>>(),
                "required": cat.names(&short.required).collect::<Vec<_>>(),
                "effective": cat.names(&grant.set).collect::<Vec<_>>(),
                "unknown": grant.unknown,
            })
        })
        .collect();
    settle_vectors(
        "scopes.json",
        &json!({"description": "Grants (with implications and wildcards) against requirement expressions, on the claimport catalog. `required`/`missing`: the closest alternative on a denial.", "policy": text, "cases": out}),
    );
}

// ---------------------------------------------------------------------------------------
// decisions.json

struct Keys {
    records: Vec<KeyRecord>,
    keys: std::collections::BTreeMap<&'static str, String>,
}

fn issue_all() -> Keys {
    let main = checker(&claimport(), P1);
    let old = checker(&claimport(), P0);
    let mut stray = Peppers::new("p9", &pepper_secret("p9")).expect("pepper");
    stray.set_primary("p9").expect("primary");
    let stray = Checker::new(Policy::from_toml(&claimport()).expect("policy"), stray);
    let rng = SeededRandom::new(b"portcullis decisions.json");
    let now = Timestamp(NOW);
    let mut out = Keys {
        records: Vec::new(),
        keys: Default::default(),
    };
    let mut add = |label: &'static str,
                   c: &Checker,
                   env: &str,
                   spec: KeySpec,
                   at: Timestamp,
                   edit: &dyn Fn(&mut KeyRecord)| {
        let issued = c.issue_with("sk", env, &spec, at, &rng).expect("issue");
        let mut record = issued.record;
        edit(&mut record);
        out.keys.insert(label, issued.key.expose().to_owned());
        out.records.push(record);
    };
    let spec =
        |name: &str, scopes: &[&str]| KeySpec::new(name, "org_claimport_1", scopes.iter().copied());
    let none = &|_: &mut KeyRecord| {};
    add(
        "read",
        &main,
        "live",
        spec("Read Claims", &["claims:read"]),
        now,
        none,
    );
    add(
        "write",
        &main,
        "live",
        spec("Write Claims", &["claims:write"]),
        now,
        none,
    );
    add(
        "full",
        &main,
        "live",
        spec("Full Access", &["full_access"]),
        now,
        none,
    );
    add(
        "orders_analytics",
        &main,
        "live",
        spec("Reporting", &["orders:read", "analytics:read"]),
        now,
        none,
    );
    add(
        "wildcard",
        &main,
        "live",
        spec("All claims", &["claims:*"]),
        now,
        none,
    );
    add(
        "test_env",
        &main,
        "test",
        spec("Sandbox", &["claims:read"]),
        now,
        none,
    );
    add(
        "revoked",
        &main,
        "live",
        spec("Revoked", &["claims:read"]),
        now,
        &|r| r.revoke(Timestamp(NOW - 60)),
    );
    add(
        "expired",
        &main,
        "live",
        spec("Expired", &["claims:read"]).with_ttl(3600),
        Timestamp(NOW - 7200),
        none,
    );
    let mut later = spec("Future", &["claims:read"]);
    later.not_before = Some(Timestamp(NOW + DAY));
    add("not_yet_valid", &main, "live", later, now, none);
    add(
        "old_pepper",
        &old,
        "live",
        spec("Old pepper", &["claims:read"]),
        now,
        none,
    );
    add(
        "unknown_pepper",
        &stray,
        "live",
        spec("Stray pepper", &["claims:read"]),
        now,
        none,
    );
    add(
        "rotation_due",
        &main,
        "live",
        spec("Old key", &["claims:read"]),
        Timestamp(NOW - 100 * DAY),
        none,
    );
    add(
        "expiring_soon",
        &main,
        "live",
        spec("Short-lived", &["claims:read"]).with_ttl(3 * DAY),
        now,
        none,
    );
    add(
        "unknown_scope",
        &main,
        "live",
        spec("Stale scopes", &["claims:read"]),
        now,
        &|r| r.set_scopes(vec!["claims:read".into(), "claims:archive".into()]),
    );
    // A legacy record: the key was issued elsewhere; its record holds plain SHA-256.
    let legacy = main
        .issue_with("sk", "live", &spec("Imported", &["claims:read"]), now, &rng)
        .expect("issue");
    let legacy_text = legacy.key.expose().to_owned();
    let imported = KeyRecord::import(
        legacy.record.id(),
        "sk",
        "live",
        &spec("Imported", &["claims:read"]),
        &StoredHash::legacy_sha256(&legacy_text).encode(),
        now,
    )
    .expect("import");
    out.keys.insert("legacy", legacy_text);
    out.records.push(imported);
    out
}

/// A valid-looking key: same shape and a correct checksum, but an id no record has.
fn forge(template: &str, id_from: usize, replacement: &str) -> String {
    let kind_env = &template[..8];
    let mut body = template[8..template.len() - 6].to_owned();
    body.replace_range(id_from..id_from + replacement.len(), replacement);
    let text = format!("{kind_env}{body}");
    let crc = crc32fast::hash(text.as_bytes());
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = u64::from(crc);
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = alphabet[(n % 62) as usize];
        n /= 62;
    }
    format!("{text}{}", String::from_utf8_lossy(&check))
}

struct Case {
    name: &'static str,
    policy: &'static str,
    method: &'static str,
    path: &'static str,
    auth: Option<Vec<u8>>,
    query: Option<String>,
    https: bool,
    now: u64,
    reason: &'static str,
    status: u16,
    warnings: &'static [&'static str],
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    auth: Option<String>,
    reason: &'static str,
    status: u16,
) -> Case {
    Case {
        name,
        policy: "claimport",
        method,
        path,
        auth: auth.map(String::into_bytes),
        query: None,
        https: true,
        now: NOW,
        reason,
        status,
        warnings: &[],
    }
}

fn cases(k: &Keys) -> Vec<Case> {
    let bearer = |label: &str| Some(format!("Bearer {}", k.keys[label]));
    let read = k.keys["read"].clone();
    let typo = mutate(&read, 30);
    let unknown = forge(&read, 0, "ZZZZZZZZ");
    let wrong_secret = forge(&read, 17, "ZZZZZZZZ");
    vec![
        case(
            "public route needs no key",
            "GET",
            "/health",
            None,
            "public",
            200,
        ),
        case(
            "read key reads a claim",
            "GET",
            "/v1/claims/42",
            bearer("read"),
            "allowed",
            200,
        ),
        case(
            "HEAD falls back to the GET route",
            "HEAD",
            "/v1/claims/42",
            bearer("read"),
            "allowed",
            200,
        ),
        case(
            "authenticated-only route",
            "GET",
            "/v1/me",
            bearer("orders_analytics"),
            "allowed",
            200,
        ),
        case(
            "no credential",
            "GET",
            "/v1/claims/42",
            None,
            "missing_credential",
            401,
        ),
        case(
            "other scheme",
            "GET",
            "/v1/claims/42",
            Some("Basic dXNlcjpwYXNz".into()),
            "wrong_scheme",
            401,
        ),
        case(
            "Bearer without token",
            "GET",
            "/v1/claims/42",
            Some("Bearer".into()),
            "malformed_header",
            400,
        ),
        case(
            "tab after Bearer",
            "GET",
            "/v1/claims/42",
            Some(format!("Bearer\t{read}")),
            "malformed_header",
            400,
        ),
        Case {
            auth: Some(b"Bearer \xff\xfe".to_vec()),
            ..case(
                "non-UTF-8 header",
                "GET",
                "/v1/claims/42",
                None,
                "malformed_header",
                400,
            )
        },
        Case {
            query: Some(format!("api_key={read}")),
            ..case(
                "header and query together",
                "GET",
                "/v1/claims/42",
                bearer("read"),
                "both_present",
                400,
            )
        },
        Case {
            query: Some(format!("api_key={read}")),
            ..case(
                "query key refused by default",
                "GET",
                "/v1/claims/42",
                None,
                "query_refused",
                400,
            )
        },
        Case {
            https: false,
            ..case(
                "plain HTTP refused",
                "GET",
                "/v1/claims/42",
                bearer("read"),
                "insecure_transport",
                400,
            )
        },
        Case {
            https: false,
            query: Some(format!("api_key={read}")),
            policy: "claimport_query",
            warnings: &["credential_in_query"],
            ..case(
                "query key where allowed",
                "GET",
                "/v1/claims/42",
                None,
                "allowed",
                200,
            )
        },
        case(
            "read key cannot write",
            "POST",
            "/v1/claims",
            bearer("read"),
            "insufficient_scope",
            403,
        ),
        case(
            "write implies read",
            "GET",
            "/v1/claims/7",
            bearer("write"),
            "allowed",
            200,
        ),
        case(
            "write key writes",
            "PATCH",
            "/v1/claims/7",
            bearer("write"),
            "allowed",
            200,
        ),
        case(
            "wildcard grant writes",
            "POST",
            "/v1/claims",
            bearer("wildcard"),
            "allowed",
            200,
        ),
        case(
            "full access deletes",
            "DELETE",
            "/v1/claims/7",
            bearer("full"),
            "allowed",
            200,
        ),
        case(
            "write key cannot delete",
            "DELETE",
            "/v1/claims/7",
            bearer("write"),
            "insufficient_scope",
            403,
        ),
        case(
            "compound requirement, one missing",
            "GET",
            "/v1/claims/7/orders",
            bearer("read"),
            "insufficient_scope",
            403,
        ),
        case(
            "compound requirement met",
            "GET",
            "/v1/claims/7/orders",
            bearer("full"),
            "allowed",
            200,
        ),
        case(
            "either-or requirement met",
            "GET",
            "/v1/analytics/monthly",
            bearer("orders_analytics"),
            "allowed",
            200,
        ),
        case(
            "either-or requirement missed",
            "GET",
            "/v1/analytics/monthly",
            bearer("read"),
            "insufficient_scope",
            403,
        ),
        case(
            "unknown route denied",
            "GET",
            "/v1/admin",
            bearer("full"),
            "unknown_route",
            403,
        ),
        case(
            "unknown route without key",
            "GET",
            "/v1/admin",
            None,
            "missing_credential",
            401,
        ),
        case(
            "a dot segment under a public route is refused, not public",
            "GET",
            "/health/../v1/admin",
            None,
            "ambiguous_path",
            400,
        ),
        case(
            "a dot segment is refused before the key is looked at",
            "GET",
            "/v1/claims/../admin",
            bearer("read"),
            "ambiguous_path",
            400,
        ),
        case(
            "an encoded slash in a parameter is refused",
            "GET",
            "/v1/claims/..%2Fadmin",
            bearer("read"),
            "ambiguous_path",
            400,
        ),
        case(
            "an empty segment is refused",
            "GET",
            "/v1//claims/42",
            bearer("read"),
            "ambiguous_path",
            400,
        ),
        case(
            "a semicolon path parameter is refused by default",
            "GET",
            "/v1/claims/42;v=1",
            bearer("read"),
            "ambiguous_path",
            400,
        ),
        case(
            "an escaped unreserved character is decoded before matching",
            "GET",
            "/v1/claim%73/42",
            bearer("read"),
            "allowed",
            200,
        ),
        case(
            "typo caught by the checksum",
            "GET",
            "/v1/claims/42",
            Some(format!("Bearer {typo}")),
            "malformed_key",
            401,
        ),
        case(
            "unknown key id",
            "GET",
            "/v1/claims/42",
            Some(format!("Bearer {unknown}")),
            "unknown_key",
            401,
        ),
        case(
            "wrong secret",
            "GET",
            "/v1/claims/42",
            Some(format!("Bearer {wrong_secret}")),
            "wrong_secret",
            401,
        ),
        case(
            "test key on live",
            "GET",
            "/v1/claims/42",
            bearer("test_env"),
            "wrong_environment",
            401,
        ),
        case(
            "revoked key",
            "GET",
            "/v1/claims/42",
            bearer("revoked"),
            "revoked",
            401,
        ),
        case(
            "expired key",
            "GET",
            "/v1/claims/42",
            bearer("expired"),
            "expired",
            401,
        ),
        Case {
            now: NOW - 3601,
            warnings: &["expiring_soon"],
            ..case(
                "before expiry it worked",
                "GET",
                "/v1/claims/42",
                bearer("expired"),
                "allowed",
                200,
            )
        },
        case(
            "not yet valid",
            "GET",
            "/v1/claims/42",
            bearer("not_yet_valid"),
            "not_yet_valid",
            401,
        ),
        Case {
            now: NOW + DAY,
            ..case(
                "valid from not_before",
                "GET",
                "/v1/claims/42",
                bearer("not_yet_valid"),
                "allowed",
                200,
            )
        },
        Case {
            warnings: &["needs_rehash"],
            ..case(
                "old pepper verifies",
                "GET",
                "/v1/claims/42",
                bearer("old_pepper"),
                "allowed",
                200,
            )
        },
        case(
            "legacy SHA-256 refused by default",
            "GET",
            "/v1/claims/42",
            bearer("legacy"),
            "legacy_hash_refused",
            401,
        ),
        Case {
            warnings: &["needs_rehash"],
            policy: "claimport_legacy",
            ..case(
                "legacy SHA-256 accepted while migrating",
                "GET",
                "/v1/claims/42",
                bearer("legacy"),
                "allowed",
                200,
            )
        },
        case(
            "pepper not held",
            "GET",
            "/v1/claims/42",
            bearer("unknown_pepper"),
            "unknown_pepper",
            401,
        ),
        Case {
            warnings: &["rotation_due"],
            ..case(
                "older than 90 days",
                "GET",
                "/v1/claims/42",
                bearer("rotation_due"),
                "allowed",
                200,
            )
        },
        Case {
            warnings: &["expiring_soon"],
            ..case(
                "expires within 7 days",
                "GET",
                "/v1/claims/42",
                bearer("expiring_soon"),
                "allowed",
                200,
            )
        },
        Case {
            warnings: &["unknown_scopes"],
            ..case(
                "stored scope unknown to the catalog",
                "GET",
                "/v1/claims/42",
                bearer("unknown_scope"),
                "allowed",
                200,
            )
        },
    ]
}

fn expect(c: &Checker, store: &MemoryStore, case: &Case) -> Value {
    let mut request = Request::new(case.method, case.path).https(case.https);
    request.authorization = case.auth.as_deref();
    request.query = case.query.as_deref().map(str::as_bytes);
    let d = c.check(&request, store, Timestamp(case.now));
    let warnings: Vec<&str> = d.warnings().iter().map(|w| w.code()).collect();
    assert_eq!(
        (d.reason().code(), d.status()),
        (case.reason, case.status),
        "case {:?}",
        case.name
    );
    assert_eq!(warnings, case.warnings, "warnings of {:?}", case.name);
    let detail = d.reason().detail();
    json!({
        "allowed": d.allowed(), "status": d.status(), "error": d.error().map(|e| e.as_str()),
        "reason": d.reason().code(), "detail": detail,
        "www_authenticate": d.www_authenticate().map(|w| w.to_string()),
        "key_id": d.key_id().map(|id| id.to_string()), "owner": d.owner(),
        "scopes": d.scopes().collect::<Vec<_>>(), "missing": d.missing().collect::<Vec<_>>(),
        "warnings": warnings,
    })
}

#[test]
fn decisions() {
    let keys = issue_all();
    let store = MemoryStore::new();
    keys.records.iter().for_each(|r| store.put(r.clone()));
    let checkers = [
        ("claimport", checker(&claimport(), P1)),
        ("claimport_query", checker(&claimport_query(), P1)),
        ("claimport_legacy", checker(&claimport_legacy(), P1)),
    ];
    let out: Vec<Value> = cases(&keys)
        .iter()
        .map(|case| {
            let (_, c) = checkers.iter().find(|(n, _)| *n == case.policy).expect("policy");
            let mut request = json!({"method": case.method, "path": case.path, "query": case.query, "https": case.https});
            match case.auth.as_deref().map(std::str::from_utf8) {
                None => request["authorization"] = Value::Null,
                Some(Ok(s)) => request["authorization"] = json!(s),
                Some(Err(_)) => {
                    request["authorization"] = Value::Null;
                    request["authorization_hex"] = json!(hex(case.auth.as_deref().unwrap_or_default()));
                }
            }
            json!({"name": case.name, "policy": case.policy, "now": case.now, "request": request, "expect": expect(c, &store, case)})
        })
        .collect();
    let records: Vec<Value> = keys
        .records
        .iter()
        .map(|r| serde_json::to_value(r).expect("record"))
        .collect();
    let two_phase = checkers[0].1.prepare(
        &Request::new("GET", "/v1/claims/1")
            .authorization(&format!("Bearer {}", keys.keys["read"]))
            .https(true),
    );
    match two_phase {
        portcullis::Prepared::Lookup(p) => {
            let record = store
                .get(&p.key_id())
                .map(|r| Arc::new(KeyRecord::clone(&r)));
            assert!(checkers[0].1.finish(p, record, Timestamp(NOW)).allowed());
        }
        portcullis::Prepared::Done(d) => panic!("expected a lookup, got {:?}", d.reason()),
    }
    settle_vectors(
        "decisions.json",
        &json!({
            "description": "Requests against the claimport policy with the records below in a store, at time `now` (Unix seconds). `claimport_query` is the same policy with require_https=false and allow_query_key=true; `claimport_legacy` with accept_legacy_sha256=true. Peppers: the first is primary.",
            "policies": {"claimport": claimport(), "claimport_query": claimport_query(), "claimport_legacy": claimport_legacy()},
            "peppers": peppers_json(),
            "records": records,
            "cases": out,
        }),
    );
}
