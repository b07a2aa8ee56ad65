//! Conformance vectors for OAuth tokens: `tests/vectors/oauth.json`, generated here from
//! fixed keys and fixed claims, for the Rust, C and Python suites.
//!
//! This test regenerates the file and fails if it differs from what is committed;
//! `PORTCULLIS_BLESS=1` rewrites it. Every case states by hand what it must come out as,
//! and generation fails if the library disagrees; MACs are recomputed with ring's
//! independent HMAC, and opaque-token hashes with ring's SHA-256.
//!
//! Sections: `access_keys` (first is primary), `tokens` (claims → token text),
//! `verify` (token, time, revocations → valid claims or a `TokenError` code), `checks`
//! (requests with access tokens through `Checker::check` → decision), `pkce`
//! (verifier, challenge, method → matches?), `opaque` (token text → stored SHA-256),
//! `token_requests` (token, revocation and introspection requests with their
//! `Content-Type`, see below).
//!
//! `token_requests` runs the same way in every suite: an engine for the `claimport`
//! policy with the `access_keys` (k1 primary), realm `claimport`, and the case's
//! `config` (`policy`: the policy's `[oauth]` section, which allows body credentials;
//! `default`: the secure defaults); an in-memory store holding `clients` (webapp's secret
//! is `client_secret`); the case's `authorize` query approved for `subject` at `now`,
//! which gives `{code}`. Each step posts to its `endpoint` with `authorization`,
//! `content_type` (null: absent) and `body` (placeholders `{code}`, `{access_token}`,
//! `{refresh_token}` filled: the tokens are the last ones a step returned) or
//! `body_hex`; `pad_to` prefixes the body with spaces up to that many bytes. The
//! response must have `expect.status`, `error` and `error_description` (null: absent)
//! and contain every `expect.contains` string.

mod common;

use common::{TestPolicy, settle_vectors};
use portcullis::oauth::{AccessClaims, AccessKeys, AccessVerifier, ChallengeMethod, PkceChallenge};
use portcullis::{KeyId, MemoryStore, Policy, Request, ScopeSet, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;

const NOW: u64 = common::NOW;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_secret(kid: &str) -> Vec<u8> {
    (0..32u8)
        .map(|i| i.wrapping_mul(11).wrapping_add(kid.as_bytes()[1]))
        .collect()
}

const KIDS: [&str; 2] = ["k1", "k0"];

fn keys(primary: &str) -> AccessKeys {
    let mut k = AccessKeys::new(KIDS[0], &key_secret(KIDS[0])).expect("keys");
    k.add(KIDS[1], &key_secret(KIDS[1])).expect("add");
    k.set_primary(primary).expect("primary");
    k
}

fn policy() -> Policy {
    Policy::from_toml(&common::claimport_text()).expect("policy")
}

fn set(p: &Policy, names: &[&str]) -> ScopeSet {
    p.catalog().grant(names).set
}

fn claims(p: &Policy, sub: &str, scopes: &[&str], iat: u64, n: u8) -> AccessClaims {
    let id = |prefix: &str| KeyId::parse(&format!("{prefix}{n:0>10}")).expect("id");
    AccessClaims {
        subject: sub.to_owned(),
        client_id: "webapp".to_owned(),
        scopes: set(p, scopes),
        issued_at: Timestamp(iat),
        expires_at: Timestamp(iat + 3600),
        token_id: id("tokenX"),
        family: id("familY"),
    }
}

fn claims_json(p: &Policy, c: &AccessClaims) -> Value {
    json!({
        "subject": c.subject,
        "client_id": c.client_id,
        "scopes": p.catalog().names(&c.scopes).collect::<Vec<_>>(),
        "issued_at": c.issued_at.0,
        "expires_at": c.expires_at.0,
        "token_id": c.token_id.as_str(),
        "family": c.family.as_str(),
    })
}

/// Recomputes the MAC with ring and checks it against the token's last part.
fn check_mac_independently(token: &str, kid: &str) {
    use base64::Engine;
    let (signed, mac) = token.rsplit_once('.').expect("mac part");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_secret(kid));
    let tag = ring::hmac::sign(&key, signed.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref());
    assert_eq!(mac, expected, "MAC of {token}");
}

struct Minted {
    name: &'static str,
    /// The claims as JSON, scopes named by the catalog the token was signed under.
    claims_json: Value,
    kid: &'static str,
    token: String,
}

/// (name, subject, scopes, issued at, id number, key id, policy).
type MintSpec<'p> = (
    &'static str,
    &'static str,
    &'static [&'static str],
    u64,
    u8,
    &'static str,
    &'p Policy,
);

fn mint(p: &Policy) -> Vec<Minted> {
    let other = TestPolicy::claimport()
        .scope_first("admin:all", "Admin")
        .build();
    let specs: [MintSpec<'_>; 6] = [
        ("read", "user_7", &["claims:read"], NOW, 1, "k1", p),
        (
            "write",
            "org_42",
            &["claims:write", "orders:read"],
            NOW,
            2,
            "k1",
            p,
        ),
        ("everything", "user_7", &["full_access"], NOW, 3, "k1", p),
        ("old_key", "user_7", &["claims:read"], NOW, 4, "k0", p),
        (
            "unicode_subject",
            "Zoë ✓",
            &["claims:read"],
            NOW,
            5,
            "k1",
            p,
        ),
        (
            "other_catalog",
            "user_7",
            &["claims:read"],
            NOW,
            6,
            "k1",
            &other,
        ),
    ];
    specs
        .into_iter()
        .map(|(name, sub, scopes, iat, n, kid, pol)| {
            let c = claims(pol, sub, scopes, iat, n);
            let token = keys(kid).sign(&c, pol.catalog()).expose().to_owned();
            check_mac_independently(&token, kid);
            Minted {
                name,
                claims_json: claims_json(pol, &c),
                kid,
                token,
            }
        })
        .collect()
}

fn token<'a>(minted: &'a [Minted], name: &str) -> &'a Minted {
    minted
        .iter()
        .find(|m| m.name == name)
        .expect("minted token")
}

/// (name, token, now, revoked families, epoch, expected error or None).
type VerifyCase = (
    &'static str,
    String,
    u64,
    Vec<&'static str>,
    Option<u64>,
    Option<&'static str>,
);

fn verify_cases(m: &[Minted]) -> Vec<VerifyCase> {
    let read = token(m, "read").token.clone();
    let mut tampered = read.clone().into_bytes();
    let i = "at.k1.".len() + 20;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let unknown_kid = read.replacen("at.k1.", "at.k9.", 1);
    vec![
        ("valid at issue", read.clone(), NOW, vec![], None, None),
        (
            "valid one second before expiry",
            read.clone(),
            NOW + 3599,
            vec![],
            None,
            None,
        ),
        (
            "expired at exactly one hour",
            read.clone(),
            NOW + 3600,
            vec![],
            None,
            Some("access_token_expired"),
        ),
        (
            "issued in the future beyond skew",
            read.clone(),
            NOW - 61,
            vec![],
            None,
            Some("access_token_not_yet_valid"),
        ),
        (
            "within clock skew",
            read.clone(),
            NOW - 60,
            vec![],
            None,
            None,
        ),
        (
            "tampered payload",
            tampered,
            NOW,
            vec![],
            None,
            Some("access_token_bad_signature"),
        ),
        (
            "unknown key id",
            unknown_kid,
            NOW,
            vec![],
            None,
            Some("access_token_unknown_key"),
        ),
        (
            "secondary key still verifies",
            token(m, "old_key").token.clone(),
            NOW,
            vec![],
            None,
            None,
        ),
        (
            "revoked family",
            read.clone(),
            NOW,
            vec!["familY0000000001"],
            None,
            Some("access_token_revoked"),
        ),
        (
            "other family revoked",
            read.clone(),
            NOW,
            vec!["familY0000000002"],
            None,
            None,
        ),
        (
            "epoch after issue",
            read.clone(),
            NOW,
            vec![],
            Some(NOW + 1),
            Some("access_token_revoked"),
        ),
        ("epoch at issue", read.clone(), NOW, vec![], Some(NOW), None),
        (
            "other catalog",
            token(m, "other_catalog").token.clone(),
            NOW,
            vec![],
            None,
            Some("access_token_wrong_catalog"),
        ),
        (
            "garbage after prefix",
            "at.k1.x.y".into(),
            NOW,
            vec![],
            None,
            Some("access_token_malformed"),
        ),
        (
            "no prefix",
            "k1.abc.def".into(),
            NOW,
            vec![],
            None,
            Some("access_token_malformed"),
        ),
        (
            "too long",
            format!("at.k1.{}.{}", "A".repeat(2100), "A".repeat(43)),
            NOW,
            vec![],
            None,
            Some("access_token_malformed"),
        ),
    ]
}

fn verify_vectors(p: &Policy, m: &[Minted]) -> Vec<Value> {
    verify_cases(m)
        .into_iter()
        .map(|(name, token, now, families, epoch, expected)| {
            let v = AccessVerifier::new(keys("k1"), p.catalog());
            for f in &families {
                v.revocations()
                    .revoke_family(KeyId::parse(f).expect("family"));
            }
            if let Some(e) = epoch {
                v.revocations().set_epoch(Timestamp(e));
            }
            let got = v.verify(token.as_bytes(), Timestamp(now));
            assert_eq!(got.as_ref().err().map(|e| e.code()), expected, "{name}");
            json!({
                "name": name, "token": token, "now": now,
                "revoked_families": families, "epoch": epoch,
                "error": expected,
                "claims": got.ok().map(|c| claims_json(p, &c)),
            })
        })
        .collect()
}

/// (name, policy, method, path, token name, query?, now, status, reason, missing).
type CheckCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    u64,
    u16,
    &'static str,
    &'static [&'static str],
);

const CHECKS: [CheckCase; 6] = [
    (
        "read token reads claims",
        "claimport",
        "GET",
        "/v1/claims",
        "read",
        false,
        NOW + 10,
        200,
        "allowed",
        &[],
    ),
    (
        "read token cannot write",
        "claimport",
        "POST",
        "/v1/claims",
        "read",
        false,
        NOW + 10,
        403,
        "insufficient_scope",
        &["claims:write"],
    ),
    (
        "write token writes",
        "claimport",
        "PATCH",
        "/v1/claims/7",
        "write",
        false,
        NOW + 10,
        200,
        "allowed",
        &[],
    ),
    (
        "full access deletes",
        "claimport",
        "DELETE",
        "/v1/claims/7",
        "everything",
        false,
        NOW + 10,
        200,
        "allowed",
        &[],
    ),
    (
        "expired token",
        "claimport",
        "GET",
        "/v1/claims",
        "read",
        false,
        NOW + 3600,
        401,
        "access_token_expired",
        &[],
    ),
    (
        "access token in query refused",
        "claimport_query",
        "GET",
        "/v1/claims",
        "read",
        true,
        NOW + 10,
        400,
        "query_refused",
        &[],
    ),
];

fn check_vectors(m: &[Minted]) -> Vec<Value> {
    let texts = [
        ("claimport", common::claimport_text()),
        ("claimport_query", query_policy()),
    ];
    CHECKS
        .iter()
        .map(
            |&(name, pol, method, path, tok, in_query, now, status, reason, missing)| {
                let text = &texts.iter().find(|(n, _)| *n == pol).expect("policy").1;
                let policy = Policy::from_toml(text).expect("policy");
                let verifier = Arc::new(AccessVerifier::new(keys("k1"), policy.catalog()));
                let checker = common::checker_of(policy)
                    .with_access_tokens(verifier)
                    .expect("same catalog");
                let t = &token(m, tok).token;
                let header = format!("Bearer {t}");
                let query = format!("api_key={t}");
                let mut req = Request::new(method, path).https(true);
                req = if in_query {
                    req.query(&query)
                } else {
                    req.authorization(&header)
                };
                let d = checker.check(&req, &MemoryStore::new(), Timestamp(now));
                assert_eq!((d.status(), d.reason().code()), (status, reason), "{name}");
                assert_eq!(d.missing().collect::<Vec<_>>(), missing, "{name}");
                json!({
                    "name": name, "policy": pol, "now": now,
                    "request": {
                        "method": method, "path": path, "https": true,
                        "authorization": (!in_query).then_some(&header),
                        "query": in_query.then_some(&query),
                    },
                    "expect": {
                        "allowed": d.allowed(), "status": d.status(),
                        "error": d.error().map(|e| e.as_str()),
                        "reason": d.reason().code(),
                        "www_authenticate": d.www_authenticate().map(|w| w.to_string()),
                        "owner": d.owner(),
                        "scopes": d.scopes().collect::<Vec<_>>(),
                        "missing": d.missing().collect::<Vec<_>>(),
                    },
                })
            },
        )
        .collect()
}

fn query_policy() -> String {
    TestPolicy::claimport()
        .require_https(false)
        .allow_query_key(true)
        .text()
}

fn pkce_vectors() -> Vec<Value> {
    const V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const C: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let v128 = "a".repeat(128);
    let v129 = "a".repeat(129);
    let cases: Vec<(&str, String, ChallengeMethod, bool)> = vec![
        (V, C.into(), ChallengeMethod::S256, true),
        (
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            C.into(),
            ChallengeMethod::S256,
            false,
        ),
        (
            &V[..42],
            PkceChallenge::s256(&V[..42]).challenge,
            ChallengeMethod::S256,
            false,
        ),
        (
            &v128,
            PkceChallenge::s256(&v128).challenge,
            ChallengeMethod::S256,
            true,
        ),
        (
            &v129,
            PkceChallenge::s256(&v129).challenge,
            ChallengeMethod::S256,
            false,
        ),
        (V, V.into(), ChallengeMethod::Plain, true),
        (V, C.into(), ChallengeMethod::Plain, false),
        (
            "~.-_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            PkceChallenge::s256("~.-_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").challenge,
            ChallengeMethod::S256,
            true,
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+",
            PkceChallenge::s256("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+").challenge,
            ChallengeMethod::S256,
            false,
        ),
    ];
    assert_eq!(PkceChallenge::s256(V).challenge, C, "RFC 7636 Appendix B");
    cases
        .into_iter()
        .map(|(verifier, challenge, method, expected)| {
            let c = PkceChallenge { method, challenge: challenge.clone() };
            assert_eq!(c.verify(verifier), expected, "{verifier} {challenge}");
            json!({"verifier": verifier, "challenge": challenge, "method": method.as_str(), "matches": expected})
        })
        .collect()
}

fn opaque_vectors() -> Vec<Value> {
    ["rt.", "ac.", "cs."]
        .into_iter()
        .enumerate()
        .map(|(i, prefix)| {
            let body: String = (0..43)
                .map(|j| {
                    char::from(
                        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            [(i * 7 + j * 13) % 62],
                    )
                })
                .collect();
            let token = format!("{prefix}{body}");
            let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
            json!({"token": token, "sha256_hex": hex(digest.as_ref())})
        })
        .collect()
}

// ------------------------------------------------------------------ token_requests

/// webapp's client secret (fixed, so the vectors can carry it).
const WEB_SECRET: &str = "cs.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg";
const WEB_CB: &str = "https://app.example/cb";
const SPA_CB: &str = "https://spa.example/cb";
const PKCE_V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PKCE_C: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn token_clients() -> Vec<Value> {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, WEB_SECRET.as_bytes());
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    vec![
        json!({"id": "webapp", "client_type": "confidential", "redirect_uris": [WEB_CB],
               "allowed_scopes": ["claims:read", "claims:write"],
               "secret_hash": format!("sha256${hash}")}),
        json!({"id": "spa", "client_type": "public", "redirect_uris": [SPA_CB],
               "allowed_scopes": ["claims:read"]}),
    ]
}

fn web_basic() -> String {
    use base64::Engine;
    let pair = format!("webapp:{WEB_SECRET}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// One step: endpoint, Authorization, Content-Type, body, expected status, error,
/// error_description and substrings of the body.
#[allow(clippy::too_many_arguments)]
fn step(
    endpoint: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: Value,
    status: u16,
    error: Option<&str>,
    description: Option<&str>,
    contains: &[&str],
) -> Value {
    let mut s = json!({
        "endpoint": endpoint, "authorization": authorization, "content_type": content_type,
        "expect": {"status": status, "error": error, "error_description": description,
                   "contains": contains},
    });
    match body {
        Value::Object(extra) => {
            for (k, v) in extra {
                s[k] = v;
            }
        }
        other => s["body"] = other,
    }
    s
}

const J: Option<&str> = Some("application/json");
const F: Option<&str> = Some("application/x-www-form-urlencoded");
const TOKENS: &[&str] = &[
    "\"access_token\":\"at.",
    "\"refresh_token\":\"rt.",
    "\"token_type\":\"Bearer\"",
];

fn refused(content_type: Option<&str>, body: Value, description: &str) -> Value {
    step(
        "token",
        None,
        content_type,
        body,
        400,
        Some("invalid_request"),
        Some(description),
        &[],
    )
}

fn token_request_cases() -> Vec<Value> {
    let web_auth = format!(
        "response_type=code&client_id=webapp&scope=claims:read claims:write&code_challenge={PKCE_C}&code_challenge_method=S256"
    );
    let spa_auth = format!(
        "response_type=code&client_id=spa&scope=claims:read&code_challenge={PKCE_C}&code_challenge_method=S256"
    );
    let exchange = format!(
        r#"{{"grant_type": "authorization_code", "code": "{{code}}", "client_id": "webapp", "client_secret": "{WEB_SECRET}", "code_verifier": "{PKCE_V}"}}"#
    );
    // The exchange body with members appended before its closing brace.
    let with = |extra: &str| {
        let mut b = exchange.clone();
        b.pop();
        format!("{b}{extra}}}")
    };
    let secret_missing =
        "This client must send its client_secret (HTTP Basic or client_secret in the body)";
    let basic = web_basic();
    vec![
        json!({
            "name": "JSON code exchange of a confidential client with body credentials, then refresh",
            "config": "policy", "authorize": web_auth,
            "steps": [
                step("token", None, J, json!(exchange), 200, None, None, TOKENS),
                step("token", None, J,
                     json!(r#"{"grant_type": "refresh_token", "refresh_token": "{refresh_token}", "client_id": "webapp"}"#),
                     401, Some("invalid_client"), Some(secret_missing), &[]),
                step("token", None, Some("application/json; charset=utf-8"),
                     json!(format!(r#"{{"grant_type": "refresh_token", "refresh_token": "{{refresh_token}}", "client_id": "webapp", "client_secret": "{WEB_SECRET}"}}"#)),
                     200, None, None, TOKENS),
                step("introspect", None, J,
                     json!(format!(r#"{{"token": "{{access_token}}", "client_id": "webapp", "client_secret": "{WEB_SECRET}"}}"#)),
                     200, None, None, &["\"active\":true"]),
                step("revoke", None, J,
                     json!(format!(r#"{{"token": "{{refresh_token}}", "client_id": "webapp", "client_secret": "{WEB_SECRET}"}}"#)),
                     200, None, None, &[]),
                step("introspect", Some(&basic), J, json!(r#"{"token": "{access_token}"}"#),
                     200, None, None, &["\"active\":false"]),
            ],
        }),
        json!({
            "name": "JSON refresh of a public client with client_id alone",
            "config": "policy", "authorize": spa_auth,
            "steps": [
                step("token", None, J,
                     json!(format!(r#"{{"grant_type": "authorization_code", "code": "{{code}}", "client_id": "spa", "code_verifier": "{PKCE_V}"}}"#)),
                     200, None, None, TOKENS),
                step("token", None, J,
                     json!(r#"{"grant_type": "refresh_token", "refresh_token": "{refresh_token}", "client_id": "spa"}"#),
                     200, None, None, TOKENS),
            ],
        }),
        json!({
            "name": "JSON edge cases are invalid_request and leave the code unused",
            "config": "policy", "authorize": web_auth,
            "steps": [
                refused(J, json!(with(r#", "scope": {"a": "b"}"#)), "Every member of the JSON body must be a string: send numbers, booleans and null as strings or leave them out, and no nested objects or arrays"),
                refused(J, json!(with(r#", "scope": ["claims:read"]"#)), "Every member of the JSON body must be a string: send numbers, booleans and null as strings or leave them out, and no nested objects or arrays"),
                refused(J, json!(with(r#", "expires_in": 3600"#)), "Every member of the JSON body must be a string: send numbers, booleans and null as strings or leave them out, and no nested objects or arrays"),
                refused(J, json!(with(r#", "scope": null"#)), "Every member of the JSON body must be a string: send numbers, booleans and null as strings or leave them out, and no nested objects or arrays"),
                refused(J, json!(with(r#", "offline": true"#)), "Every member of the JSON body must be a string: send numbers, booleans and null as strings or leave them out, and no nested objects or arrays"),
                refused(J, json!(with(r#", "code": "ac.other""#)), "A member of the JSON body is repeated: send each parameter once"),
                refused(J, json!(r#"["grant_type", "authorization_code"]"#), "The JSON body must be one object whose members are all strings"),
                refused(J, json!(with(", ")), "The body is not valid JSON: send one object of string values, e.g. {\"grant_type\": \"…\"}"),
                refused(J, json!({"body": exchange, "pad_to": 1_048_576}), "The request body is larger than 64 KiB"),
                refused(J, json!({"body_hex": hex(&[b"{\"grant_type\": \"authorization_code\", \"code\": \"".as_slice(), b"\xff\xfe\"}"].concat())}), "The request body is not UTF-8"),
                refused(F, json!(exchange), "The body is JSON but Content-Type is application/x-www-form-urlencoded: send Content-Type: application/json"),
                refused(J, json!(format!("grant_type=authorization_code&code={{code}}&client_id=webapp&client_secret={WEB_SECRET}&code_verifier={PKCE_V}")), "The body is form-encoded but Content-Type is application/json: send Content-Type: application/x-www-form-urlencoded"),
                refused(Some("text/plain"), json!(exchange), "Send the body as application/x-www-form-urlencoded or application/json (Content-Type)"),
                refused(None, json!(exchange), "Content-Type is missing: send application/x-www-form-urlencoded or application/json"),
                refused(Some("application/json; charset=iso-8859-1"), json!(exchange), "The body must be UTF-8: send charset=utf-8 or no charset"),
                step("token", Some(&basic), J, json!(exchange), 400, Some("invalid_request"), Some("Use one client authentication method"), &[]),
                step("token", None, Some("Application/JSON"), json!(exchange), 200, None, None, TOKENS),
            ],
        }),
        json!({
            "name": "the form body with body credentials, as the product's policy allows",
            "config": "policy", "authorize": web_auth,
            "steps": [
                step("token", None, F,
                     json!(format!("grant_type=authorization_code&code={{code}}&client_id=webapp&client_secret={WEB_SECRET}&code_verifier={PKCE_V}")),
                     200, None, None, TOKENS),
            ],
        }),
        json!({
            "name": "body credentials are refused under the default configuration",
            "config": "default", "authorize": web_auth,
            "steps": [
                step("token", None, J, json!(exchange), 401, Some("invalid_client"),
                     Some("Send client credentials with HTTP Basic authentication"), &[]),
                step("token", Some(&basic), J,
                     json!(format!(r#"{{"grant_type": "authorization_code", "code": "{{code}}", "code_verifier": "{PKCE_V}"}}"#)),
                     200, None, None, TOKENS),
                step("token", None, J,
                     json!(r#"{"grant_type": "refresh_token", "refresh_token": "{refresh_token}", "client_id": "webapp"}"#),
                     401, Some("invalid_client"),
                     Some("This client must send its client_secret with HTTP Basic authentication"), &[]),
            ],
        }),
    ]
}

/// The body bytes of a step, placeholders filled.
fn step_body(step: &Value, vars: &[(&str, String)]) -> Vec<u8> {
    let fill = |text: &str| {
        vars.iter().fold(text.to_owned(), |t, (k, v)| {
            t.replace(&format!("{{{k}}}"), v)
        })
    };
    let mut body = match (step["body"].as_str(), step["body_hex"].as_str()) {
        (Some(text), _) => fill(text).into_bytes(),
        (None, Some(h)) => (0..h.len() / 2)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex"))
            .collect(),
        _ => panic!("a step needs body or body_hex"),
    };
    if let Some(n) = step["pad_to"].as_u64() {
        let n = usize::try_from(n).expect("size");
        let mut padded = vec![b' '; n.saturating_sub(body.len())];
        padded.append(&mut body);
        body = padded;
    }
    body
}

/// Runs one case through the engine, checking every step against its expectation.
fn run_token_case(p: &Policy, case: &Value) {
    use portcullis::oauth::{
        AuthorizeOutcome, Client, EndpointRequest, MemoryOAuthStore, OAuthConfig, OAuthServer,
        Stores,
    };
    let name = case["name"].as_str().expect("name");
    let config = match case["config"].as_str() {
        Some("policy") => p.oauth().clone(),
        Some("default") => OAuthConfig::default(),
        other => panic!("{name}: config {other:?}"),
    };
    let verifier = Arc::new(AccessVerifier::new(keys("k1"), p.catalog()));
    let server =
        OAuthServer::new(config, p.catalog().clone(), verifier, "claimport").expect("same catalog");
    let store = MemoryOAuthStore::new();
    for c in token_clients() {
        let client: Client = serde_json::from_value(c).expect("client");
        client.validate().expect("valid client");
        store.add_client(client);
    }
    let rng = portcullis::SeededRandom::new(name.as_bytes());
    let now = Timestamp(NOW);
    let query = case["authorize"].as_str().expect("authorize");
    let AuthorizeOutcome::Valid(request) = server.authorize(query, &store) else {
        panic!("{name}: authorize refused");
    };
    let location = server
        .approve(&request, "user_7", None, &store, &rng, now)
        .expect("approve");
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("code");
    let mut vars = vec![("code", code.to_owned())];
    for (i, s) in case["steps"].as_array().expect("steps").iter().enumerate() {
        let body = step_body(s, &vars);
        let auth = s["authorization"].as_str().map(str::as_bytes);
        let request = EndpointRequest {
            authorization: auth,
            content_type: s["content_type"].as_str().map(str::as_bytes),
            body: &body,
        };
        let stores = Stores::all(&store);
        let r = match s["endpoint"].as_str() {
            Some("token") => server.token_request(&request, stores, &rng, now),
            Some("revoke") => server.revoke_request(&request, stores, now),
            Some("introspect") => server.introspect_request(&request, stores, now),
            other => panic!("{name}: endpoint {other:?}"),
        };
        let got: Value = serde_json::from_str(r.body()).expect("json");
        let e = &s["expect"];
        assert_eq!(
            Some(u64::from(r.status)),
            e["status"].as_u64(),
            "{name} step {i}: {}",
            r.body()
        );
        assert_eq!(
            got.get("error").cloned().unwrap_or(Value::Null),
            e["error"],
            "{name} step {i}"
        );
        assert_eq!(
            got.get("error_description").cloned().unwrap_or(Value::Null),
            e["error_description"],
            "{name} step {i}"
        );
        for needle in e["contains"].as_array().expect("contains") {
            let needle = needle.as_str().expect("text");
            assert!(
                r.body().contains(needle),
                "{name} step {i}: {needle} in {}",
                r.body()
            );
        }
        for key in ["access_token", "refresh_token"] {
            if let Some(v) = got[key].as_str() {
                vars.retain(|(k, _)| *k != key);
                vars.push((key, v.to_owned()));
            }
        }
    }
}

fn token_request_vectors(p: &Policy) -> Value {
    let cases = token_request_cases();
    for case in &cases {
        run_token_case(p, case);
    }
    json!({
        "clients": token_clients(),
        "client_secret": WEB_SECRET,
        "subject": "user_7",
        "now": NOW,
        "cases": cases,
    })
}

#[test]
fn oauth_vectors() {
    let p = policy();
    let minted = mint(&p);
    let tokens: Vec<Value> = minted
        .iter()
        .map(|m| json!({"name": m.name, "kid": m.kid, "claims": m.claims_json, "token": m.token}))
        .collect();
    let doc = json!({
        "description": "OAuth conformance: access tokens (at.{kid}.{payload}.{mac}, HMAC-SHA256), \
            their verification and checks, PKCE, opaque-token hashes, token-endpoint requests \
            with their Content-Type (token_requests: how to run them is in the header of \
            crates/portcullis/tests/oauth_vectors.rs, which generates this file).",
        "policies": {"claimport": common::claimport_text(), "claimport_query": query_policy()},
        "access_keys": KIDS.iter().map(|k| json!({"kid": k, "secret_hex": hex(&key_secret(k))})).collect::<Vec<_>>(),
        "tokens": tokens,
        "verify": verify_vectors(&p, &minted),
        "checks": check_vectors(&minted),
        "pkce": pkce_vectors(),
        "opaque": opaque_vectors(),
        "token_requests": token_request_vectors(&p),
    });
    settle_vectors("oauth.json", &doc);
}
