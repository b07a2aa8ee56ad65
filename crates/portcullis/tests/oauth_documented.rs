//! The OAuth requests ClaimPort's public documentation shows its customers (issue #16),
//! verbatim apart from the placeholders, against the product's policy
//! (`examples/claimport.toml`); the token body read with its `Content-Type`; client
//! credentials in the body; the documented refresh; RFC codes only in error bodies.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis::oauth::{
    AccessKeys, AccessVerifier, AuthorizeOutcome, Client, EndpointRequest, MemoryOAuthStore,
    OAuthConfig, OAuthError, OAuthErrorCode, OAuthServer, Stores, TokenResponse,
};
use portcullis::{Policy, SecretString, SeededRandom, Timestamp};
use serde_json::Value;
use std::sync::Arc;

const NOW: Timestamp = Timestamp(common::NOW);
const REDIRECT: &str = "https://app.example.com/callback";
const SPA_CB: &str = "https://spa.example.com/cb";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// The documentation's three requests, as published.
const DOC_AUTHORIZE: &str = "client_id=YOUR_CLIENT_ID&redirect_uri=YOUR_REDIRECT_URI&response_type=code&scope=claims:read claims:write";
const DOC_EXCHANGE: &str = r#"{"grant_type": "authorization_code", "code": "AUTHORIZATION_CODE", "client_id": "YOUR_CLIENT_ID", "client_secret": "YOUR_CLIENT_SECRET"}"#;
const DOC_REFRESH: &str = r#"{"grant_type": "refresh_token", "refresh_token": "REFRESH_TOKEN", "client_id": "YOUR_CLIENT_ID"}"#;

/// The documented code exchange, as `client_id` with `secret`.
fn exchange_body_as(code: &str, client_id: &str, secret: &str) -> String {
    documented(
        DOC_EXCHANGE,
        &[
            ("AUTHORIZATION_CODE", code),
            ("YOUR_CLIENT_ID", client_id),
            ("YOUR_CLIENT_SECRET", secret),
        ],
    )
}

/// A documented request with its placeholders filled; each must occur in the template.
fn documented(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (placeholder, value)| {
            assert!(text.contains(placeholder), "{placeholder} in {template}");
            text.replace(placeholder, value)
        })
}

struct Fx {
    server: OAuthServer,
    store: MemoryOAuthStore,
    rng: SeededRandom,
    secret: SecretString,
    two_secret: SecretString,
}

/// The product policy's OAuth settings, as `examples/claimport.toml` writes them (body
/// credentials allowed; confidential clients may omit PKCE, as the documented authorize
/// URL does).
fn product_config() -> OAuthConfig {
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    policy.oauth().clone()
}

fn fx_with(config: OAuthConfig) -> Fx {
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    let keys = AccessKeys::new("k1", &[9u8; 32]).expect("keys");
    let verifier = Arc::new(AccessVerifier::new(keys, policy.catalog()));
    let server = OAuthServer::new(config, policy.catalog().clone(), verifier, "claimport")
        .expect("same catalog");
    let rng = SeededRandom::new(b"documented requests");
    let store = MemoryOAuthStore::new();
    let scopes = ["claims:read", "claims:write"];
    let (web, secret) = Client::confidential("webapp", &[REDIRECT], &scopes, &rng).expect("web");
    store.add_client(web);
    let (two, two_secret) = Client::confidential(
        "two_uris",
        &[REDIRECT, "https://app.example.com/other"],
        &scopes,
        &rng,
    )
    .expect("two");
    store.add_client(two);
    store.add_client(Client::public("spa", false, &[SPA_CB], &scopes).expect("spa"));
    Fx {
        server,
        store,
        rng,
        secret,
        two_secret,
    }
}

fn fx() -> Fx {
    fx_with(product_config())
}

fn json(r: &TokenResponse) -> Value {
    serde_json::from_str(r.body()).expect("json body")
}

fn error_of(r: &TokenResponse) -> (u16, String, String) {
    let v = json(r);
    let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    (r.status, text("error"), text("error_description"))
}

impl Fx {
    fn code_from(&self, query: &str) -> String {
        let AuthorizeOutcome::Valid(request) = self.server.authorize(query, &self.store) else {
            panic!("the authorization request is refused: {query}");
        };
        let location = self
            .server
            .approve(&request, "user_7", None, &self.store, &self.rng, NOW)
            .expect("approve");
        let query = location.split_once('?').expect("query").1;
        let params = portcullis::oauth::Params::parse(query).expect("redirect");
        params.get("code").expect("code").to_owned()
    }

    /// The documented authorize URL for `webapp`.
    fn documented_code(&self) -> String {
        let query = documented(
            DOC_AUTHORIZE,
            &[
                ("YOUR_CLIENT_ID", "webapp"),
                ("YOUR_REDIRECT_URI", REDIRECT),
            ],
        );
        self.code_from(&query)
    }

    fn post(&self, auth: Option<&str>, content_type: Option<&str>, body: &[u8]) -> TokenResponse {
        let request = EndpointRequest {
            authorization: auth.map(str::as_bytes),
            content_type: content_type.map(str::as_bytes),
            body,
        };
        self.server
            .token_request(&request, Stores::all(&self.store), &self.rng, NOW)
    }

    fn exchange_body(&self, code: &str) -> String {
        exchange_body_as(code, "webapp", self.secret.expose())
    }

    /// A public client's tokens, through PKCE.
    fn spa_refresh_token(&self) -> String {
        let code = self.code_from(&format!(
            "response_type=code&client_id=spa&scope=claims:read&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ));
        let body = format!(
            r#"{{"grant_type": "authorization_code", "code": "{code}", "client_id": "spa", "code_verifier": "{VERIFIER}"}}"#
        );
        let r = self.post(None, Some(JSON), body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.body());
        json(&r)["refresh_token"].as_str().expect("rt").to_owned()
    }
}

#[test]
fn the_documented_authorize_url_and_json_code_exchange_succeed_for_a_confidential_client() {
    let f = fx();
    let code = f.documented_code();
    let r = f.post(None, Some(JSON), f.exchange_body(&code).as_bytes());
    assert_eq!(r.status, 200, "{}", r.body());
    let v = json(&r);
    assert!(
        v["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("at."))
    );
    assert!(
        v["refresh_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("rt."))
    );
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
}

#[test]
fn the_documented_json_refresh_succeeds_for_a_public_client_with_client_id_alone() {
    let f = fx();
    let refresh = f.spa_refresh_token();
    let body = documented(
        DOC_REFRESH,
        &[("REFRESH_TOKEN", &refresh), ("YOUR_CLIENT_ID", "spa")],
    );
    let r = f.post(None, Some(JSON), body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body());
    assert!(
        json(&r)["refresh_token"]
            .as_str()
            .is_some_and(|t| t != refresh)
    );
}

#[test]
fn rfc6749_6_a_confidential_client_refreshing_with_client_id_alone_is_told_to_send_its_secret() {
    for (allow_body, description) in [
        (
            true,
            "This client must send its client_secret (HTTP Basic or client_secret in the body)",
        ),
        (
            false,
            "This client must send its client_secret with HTTP Basic authentication",
        ),
    ] {
        let f = fx_with(OAuthConfig {
            allow_body_credentials: allow_body,
            ..product_config()
        });
        let code = f.documented_code();
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("webapp:{}", f.secret.expose()))
        );
        let body = format!("grant_type=authorization_code&code={code}");
        let first = f.post(Some(&basic), Some(FORM), body.as_bytes());
        assert_eq!(first.status, 200, "{}", first.body());
        let refresh = json(&first)["refresh_token"]
            .as_str()
            .expect("rt")
            .to_owned();
        let body = documented(
            DOC_REFRESH,
            &[("REFRESH_TOKEN", &refresh), ("YOUR_CLIENT_ID", "webapp")],
        );
        let r = f.post(None, Some(JSON), body.as_bytes());
        assert_eq!(
            error_of(&r),
            (401, "invalid_client".to_owned(), description.to_owned())
        );
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Basic realm=\"claimport\"")
        );
        // The refused refresh left the token alone: with the secret it refreshes.
        let with_secret =
            format!(r#"{{"grant_type": "refresh_token", "refresh_token": "{refresh}"}}"#);
        let ok = f.post(Some(&basic), Some(JSON), with_secret.as_bytes());
        assert_eq!(ok.status, 200, "{}", ok.body());
    }
}

#[test]
fn rfc6749_2_3_1_the_product_policy_accepts_the_same_fields_form_encoded() {
    let f = fx();
    let code = f.documented_code();
    let body = format!(
        "grant_type=authorization_code&code={code}&client_id=webapp&client_secret={}",
        f.secret.expose()
    );
    let r = f.post(None, Some(FORM), body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body());
}

#[test]
fn rfc6749_2_3_basic_and_body_credentials_at_once_are_invalid_request() {
    let f = fx();
    let code = f.documented_code();
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("webapp:{}", f.secret.expose()))
    );
    let r = f.post(Some(&basic), Some(JSON), f.exchange_body(&code).as_bytes());
    let (status, error, _) = error_of(&r);
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
    let ok = f.post(None, Some(JSON), f.exchange_body(&code).as_bytes());
    assert_eq!(
        ok.status,
        200,
        "the refused request left the code: {}",
        ok.body()
    );
}

#[test]
fn a_wrong_secret_and_an_unknown_client_still_look_the_same() {
    let f = fx();
    let code = f.documented_code();
    let wrong = exchange_body_as(&code, "webapp", "cs.nope");
    let unknown = exchange_body_as(&code, "nobody", f.secret.expose());
    let a = error_of(&f.post(None, Some(JSON), wrong.as_bytes()));
    let b = error_of(&f.post(None, Some(JSON), unknown.as_bytes()));
    assert_eq!(a, b);
    assert_eq!(
        a,
        (
            401,
            "invalid_client".to_owned(),
            "Client authentication failed".to_owned()
        )
    );
}

/// Bodies the token endpoint must refuse with `invalid_request`, and the start of the
/// description that tells the client what to send.
fn refused_bodies(
    code: &str,
    secret: &str,
) -> Vec<(&'static str, Option<String>, Vec<u8>, &'static str)> {
    let fields = |extra: &str| {
        format!(
            r#"{{"grant_type": "authorization_code", "code": "{code}", "client_id": "webapp", "client_secret": "{secret}"{extra}}}"#
        )
    };
    let json = Some(JSON.to_owned());
    let mut big = fields("").into_bytes();
    big.pop();
    big.extend_from_slice(br#", "pad": ""#);
    big.resize(1024 * 1024 - 2, b'a');
    big.extend_from_slice(b"\"}");
    let mut not_utf8 = fields(r#", "note": "X""#).into_bytes();
    let x = not_utf8.iter().rposition(|b| *b == b'X').unwrap_or(0);
    not_utf8[x] = 0xff;
    vec![
        (
            "nested",
            json.clone(),
            fields(r#", "scope": {"a": "b"}"#).into_bytes(),
            "Every member",
        ),
        (
            "array",
            json.clone(),
            fields(r#", "scope": ["a"]"#).into_bytes(),
            "Every member",
        ),
        (
            "number",
            json.clone(),
            fields(r#", "expires": 5"#).into_bytes(),
            "Every member",
        ),
        (
            "null",
            json.clone(),
            fields(r#", "scope": null"#).into_bytes(),
            "Every member",
        ),
        (
            "boolean",
            json.clone(),
            fields(r#", "x": true"#).into_bytes(),
            "Every member",
        ),
        (
            "duplicate",
            json.clone(),
            fields(r#", "code": "ac.other""#).into_bytes(),
            "A member of the JSON body is repeated",
        ),
        (
            "not an object",
            json.clone(),
            b"[\"grant_type\"]".to_vec(),
            "The JSON body must be one object",
        ),
        (
            "not JSON",
            json.clone(),
            b"{grant_type: x}".to_vec(),
            "The body is not valid JSON",
        ),
        (
            "1 MiB",
            json.clone(),
            big,
            "The request body is larger than 64 KiB",
        ),
        (
            "invalid UTF-8",
            json.clone(),
            not_utf8,
            "The request body is not UTF-8",
        ),
        (
            "JSON sent as form",
            Some(FORM.to_owned()),
            fields("").into_bytes(),
            "The body is JSON but Content-Type is application/x-www-form-urlencoded",
        ),
        (
            "form sent as JSON",
            json.clone(),
            format!(
                "grant_type=authorization_code&code={code}&client_id=webapp&client_secret={secret}"
            )
            .into_bytes(),
            "The body is form-encoded but Content-Type is application/json",
        ),
        (
            "text/plain",
            Some("text/plain".to_owned()),
            fields("").into_bytes(),
            "Send the body as application/x-www-form-urlencoded or application/json",
        ),
        (
            "no Content-Type",
            None,
            fields("").into_bytes(),
            "Content-Type is missing",
        ),
        (
            "latin-1 charset",
            Some("application/json; charset=iso-8859-1".to_owned()),
            fields("").into_bytes(),
            "The body must be UTF-8",
        ),
    ]
}

#[test]
fn json_edge_cases_are_invalid_request_saying_what_to_send_and_never_consume_the_code() {
    let f = fx();
    let code = f.documented_code();
    for (name, content_type, body, description) in refused_bodies(&code, f.secret.expose()) {
        let r = f.post(None, content_type.as_deref(), &body);
        let (status, error, text) = error_of(&r);
        assert_eq!(
            (status, error.as_str()),
            (400, "invalid_request"),
            "{name}: {text}"
        );
        assert!(text.starts_with(description), "{name}: {text}");
        assert_eq!(r.header("Cache-Control"), Some("no-store"), "{name}");
    }
    let r = f.post(
        None,
        Some("application/json; charset=utf-8"),
        f.exchange_body(&code).as_bytes(),
    );
    assert_eq!(
        r.status,
        200,
        "the code survived every refused request: {}",
        r.body()
    );
}

#[test]
fn revocation_and_introspection_read_json_bodies_and_refuse_the_same_edge_cases() {
    let f = fx();
    let code = f.documented_code();
    let r = f.post(None, Some(JSON), f.exchange_body(&code).as_bytes());
    let access = json(&r)["access_token"].as_str().expect("at").to_owned();
    let secret = f.secret.expose();
    let body =
        format!(r#"{{"token": "{access}", "client_id": "webapp", "client_secret": "{secret}"}}"#);
    let stores = Stores::all(&f.store);
    let introspect = |ct: Option<&str>, body: &[u8]| {
        f.server.introspect_request(
            &EndpointRequest {
                authorization: None,
                content_type: ct.map(str::as_bytes),
                body,
            },
            stores,
            NOW,
        )
    };
    let active = introspect(Some(JSON), body.as_bytes());
    assert_eq!(json(&active)["active"], true, "{}", active.body());
    for (name, content_type, bad, description) in refused_bodies(&access, secret) {
        for r in [
            introspect(content_type.as_deref(), &bad),
            f.server.revoke_request(
                &EndpointRequest {
                    authorization: None,
                    content_type: content_type.as_deref().map(str::as_bytes),
                    body: &bad,
                },
                stores,
                NOW,
            ),
        ] {
            let (status, error, text) = error_of(&r);
            assert_eq!(
                (status, error.as_str()),
                (400, "invalid_request"),
                "{name}: {text}"
            );
            assert!(text.starts_with(description), "{name}: {text}");
        }
    }
    let revoked = f.server.revoke_request(
        &EndpointRequest::new(Some(JSON), body.as_bytes()),
        stores,
        NOW,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body());
    assert_eq!(
        json(&introspect(Some(JSON), body.as_bytes()))["active"],
        false
    );
}

#[test]
fn rfc6749_4_1_3_redirect_uri_may_be_omitted_only_by_a_client_with_one_registered_uri() {
    let f = fx();
    let query = documented(
        DOC_AUTHORIZE,
        &[
            ("YOUR_CLIENT_ID", "two_uris"),
            ("YOUR_REDIRECT_URI", REDIRECT),
        ],
    );
    let code = f.code_from(&query);
    let body = |extra: &str| {
        format!(
            r#"{{"grant_type": "authorization_code", "code": "{code}", "client_id": "two_uris", "client_secret": "{}"{extra}}}"#,
            f.two_secret.expose()
        )
    };
    let missing = f.post(None, Some(JSON), body("").as_bytes());
    assert_eq!(
        error_of(&missing),
        (
            400,
            "invalid_request".to_owned(),
            "redirect_uri is missing".to_owned()
        )
    );
    let other = r#", "redirect_uri": "https://app.example.com/other""#;
    let wrong = f.post(None, Some(JSON), body(other).as_bytes());
    assert_eq!(error_of(&wrong).1, "invalid_grant");
    let named = format!(r#", "redirect_uri": "{REDIRECT}""#);
    let ok = f.post(None, Some(JSON), body(&named).as_bytes());
    assert_eq!(ok.status, 200, "{}", ok.body());
    // A one-URI client that sends a different redirect_uri is still refused.
    let web = f.documented_code();
    let mut wrong_web: serde_json::Value =
        serde_json::from_str(&f.exchange_body(&web)).expect("documented JSON");
    wrong_web["redirect_uri"] = "https://app.example.com/cb2".into();
    let wrong_web = wrong_web.to_string();
    assert_eq!(
        error_of(&f.post(None, Some(JSON), wrong_web.as_bytes())).1,
        "invalid_grant"
    );
}

#[test]
fn every_error_code_the_core_can_put_in_a_body_is_an_rfc_code() {
    // RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1 (RFC 7662 adds none).
    let rfc = [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "unsupported_response_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
        "unsupported_token_type",
    ];
    let f = fx();
    for code in OAuthErrorCode::ALL {
        assert!(rfc.contains(&code.as_str()), "{code}");
        let r = f.server.error_response(OAuthError::of(code));
        assert_eq!(json(&r)["error"], code.as_str());
    }
    // RFC 6750 §3.1: the codes of the API decisions' WWW-Authenticate.
    for code in [
        portcullis::ErrorCode::InvalidRequest,
        portcullis::ErrorCode::InvalidToken,
        portcullis::ErrorCode::InsufficientScope,
    ] {
        assert!(
            ["invalid_request", "invalid_token", "insufficient_scope"].contains(&code.as_str())
        );
    }
}
