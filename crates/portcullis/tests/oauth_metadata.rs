//! Discovery metadata (RFC 8414), the `iss` authorization-response parameter (RFC 9207),
//! and the product's documented authorize URL (no PKCE, no `state`) under its settings.

mod common;

use portcullis::SeededRandom;
use portcullis::oauth::{
    AccessKeys, AccessVerifier, AuthorizeOutcome, Client, Endpoints, Issuer, MemoryOAuthStore,
    MetadataError, OAuthConfig, OAuthErrorCode, OAuthServer, Params,
};
use portcullis::{Policy, Timestamp};
use serde_json::{Value, json};
use std::sync::Arc;

const ISSUER: &str = "https://app.claimport.io";
const REDIRECT: &str = "https://partner.example/cb";

fn server(config: OAuthConfig) -> OAuthServer {
    let policy = Policy::from_toml(&common::claimport_text()).expect("policy");
    let keys = AccessKeys::new("k1", &[9u8; 32]).expect("keys");
    let verifier = Arc::new(AccessVerifier::new(keys, policy.catalog()));
    OAuthServer::new(config, policy.catalog().clone(), verifier, "claimport").expect("same catalog")
}

fn with_issuer() -> OAuthConfig {
    OAuthConfig {
        issuer: Some(Issuer::new(ISSUER).expect("issuer")),
        ..OAuthConfig::default()
    }
}

/// The product's settings: body credentials (its token request has `client_secret` in the
/// body) and PKCE optional for confidential clients (its authorize URL has none).
fn product() -> OAuthConfig {
    OAuthConfig {
        allow_body_credentials: true,
        require_pkce_for_confidential: false,
        ..with_issuer()
    }
}

const ENDPOINTS: Endpoints<'static> = Endpoints {
    authorization: "https://app.claimport.io/oauth/authorize",
    token: "https://api.claimport.io/oauth/token",
    revocation: Some("https://api.claimport.io/oauth/revoke"),
    introspection: Some("https://api.claimport.io/oauth/introspect"),
};

fn metadata(config: OAuthConfig) -> Value {
    let text = server(config).metadata(&ENDPOINTS).expect("metadata");
    serde_json::from_str(&text).expect("json")
}

fn store() -> MemoryOAuthStore {
    let store = MemoryOAuthStore::new();
    let rng = SeededRandom::new(b"metadata tests");
    let (web, _) = Client::confidential(
        "YOUR_CLIENT_ID",
        &[REDIRECT],
        &["claims:read", "claims:write"],
        &rng,
    )
    .expect("client");
    store.add_client(web);
    let spa = Client::public("spa", false, &[REDIRECT], &["claims:read", "claims:write"]);
    store.add_client(spa.expect("spa"));
    store
}

fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    Params::parse(query).ok()?.get(name).map(str::to_owned)
}

#[test]
fn rfc8414_2_metadata_says_what_the_default_engine_accepts_and_nothing_more() {
    let m = metadata(with_issuer());
    let expected = json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://app.claimport.io/oauth/authorize",
        "token_endpoint": "https://api.claimport.io/oauth/token",
        "scopes_supported": ["claims:read", "claims:write", "orders:read", "analytics:read", "full_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "revocation_endpoint": "https://api.claimport.io/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "introspection_endpoint": "https://api.claimport.io/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    });
    assert_eq!(m, expected);
}

#[test]
fn rfc8414_2_metadata_lists_client_secret_post_and_plain_only_when_the_config_allows_them() {
    let m = metadata(OAuthConfig {
        allow_plain_pkce: true,
        ..product()
    });
    let methods = json!(["client_secret_basic", "client_secret_post", "none"]);
    assert_eq!(m["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(m["revocation_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        m["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        m["code_challenge_methods_supported"],
        json!(["S256", "plain"])
    );
}

#[test]
fn rfc8414_2_endpoints_not_served_are_left_out_with_their_auth_methods() {
    let text = server(with_issuer())
        .metadata(&Endpoints {
            revocation: None,
            introspection: None,
            ..ENDPOINTS
        })
        .expect("metadata");
    let m: Value = serde_json::from_str(&text).expect("json");
    for absent in [
        "revocation_endpoint",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint",
        "introspection_endpoint_auth_methods_supported",
    ] {
        assert!(m.get(absent).is_none(), "{absent}");
    }
}

#[test]
fn rfc8414_2_metadata_needs_an_issuer_and_https_endpoints() {
    assert_eq!(
        server(OAuthConfig::default()).metadata(&ENDPOINTS),
        Err(MetadataError::NoIssuer)
    );
    let s = server(with_issuer());
    let bad = [
        (
            Endpoints {
                token: "http://api.claimport.io/oauth/token",
                ..ENDPOINTS
            },
            MetadataError::Scheme("token_endpoint"),
        ),
        (
            Endpoints {
                authorization: "/oauth/authorize",
                ..ENDPOINTS
            },
            MetadataError::Scheme("authorization_endpoint"),
        ),
        (
            Endpoints {
                revocation: Some("https://api.claimport.io/oauth/revoke#x"),
                ..ENDPOINTS
            },
            MetadataError::Malformed("revocation_endpoint"),
        ),
        (
            Endpoints {
                introspection: Some("https://user@api.claimport.io/i"),
                ..ENDPOINTS
            },
            MetadataError::Malformed("introspection_endpoint"),
        ),
    ];
    for (endpoints, error) in bad {
        assert_eq!(s.metadata(&endpoints), Err(error), "{endpoints:?}");
    }
}

#[test]
fn rfc9207_2_every_authorization_response_carries_iss_when_an_issuer_is_set() {
    let (s, store) = (server(product()), store());
    let query = format!(
        "client_id=YOUR_CLIENT_ID&redirect_uri={REDIRECT}&response_type=code&scope=claims:read&state=s1"
    );
    let AuthorizeOutcome::Valid(request) = s.authorize(&query, &store) else {
        panic!("valid request expected");
    };
    let rng = SeededRandom::new(b"iss");
    let approved = s
        .approve(
            &request,
            "user_7",
            None,
            &store,
            &rng,
            Timestamp(common::NOW),
        )
        .expect("approve");
    let denied = s.deny(&request);
    let AuthorizeOutcome::Redirect { location, .. } =
        s.authorize(&format!("{query}&response_type=token"), &store)
    else {
        panic!("redirected error expected");
    };
    for url in [&approved, &denied, &location] {
        assert_eq!(param(url, "iss").as_deref(), Some(ISSUER), "{url}");
        assert_eq!(param(url, "state").as_deref(), Some("s1"), "{url}");
    }
    let plain = server(OAuthConfig {
        issuer: None,
        ..product()
    });
    let AuthorizeOutcome::Valid(request) = plain.authorize(&query, &store) else {
        panic!("valid request expected");
    };
    assert_eq!(param(&plain.deny(&request), "iss"), None);
}

/// The authorize URL of the product's documentation, with its placeholders filled in as a
/// browser sends it (the space of `scope` percent-encoded).
fn documented_url(client_id: &str) -> String {
    format!(
        "client_id={client_id}&redirect_uri={}&response_type=code&scope=claims:read%20claims:write",
        REDIRECT.replace(':', "%3A").replace('/', "%2F")
    )
}

#[test]
fn documented_authorize_url_without_pkce_or_state_is_valid_for_a_confidential_client_under_the_product_settings()
 {
    let (s, store) = (server(product()), store());
    let AuthorizeOutcome::Valid(request) = s.authorize(&documented_url("YOUR_CLIENT_ID"), &store)
    else {
        panic!("the documented URL must be accepted for a confidential client");
    };
    assert!(request.challenge.is_none());
    assert!(request.state.is_none());
    let rng = SeededRandom::new(b"documented");
    let location = s
        .approve(
            &request,
            "user_7",
            None,
            &store,
            &rng,
            Timestamp(common::NOW),
        )
        .expect("approve");
    assert!(param(&location, "code").is_some_and(|c| c.starts_with("ac.")));
    assert_eq!(param(&location, "state"), None);
    // The secure default still refuses it: PKCE is required unless the host opts out.
    let strict = server(with_issuer());
    let AuthorizeOutcome::Redirect { error, .. } =
        strict.authorize(&documented_url("YOUR_CLIENT_ID"), &store)
    else {
        panic!("the secure default must refuse a confidential client without PKCE");
    };
    assert_eq!(error.description, "code_challenge is required");
}

#[test]
fn documented_authorize_url_without_pkce_is_refused_for_a_public_client_even_under_the_product_settings()
 {
    let (s, store) = (server(product()), store());
    let AuthorizeOutcome::Redirect { error, location } =
        s.authorize(&documented_url("spa"), &store)
    else {
        panic!("a public client without PKCE must be refused by redirect");
    };
    assert_eq!(error.code, OAuthErrorCode::InvalidRequest);
    assert_eq!(error.description, "code_challenge is required");
    assert!(location.starts_with(&format!("{REDIRECT}?error=invalid_request")));
    assert_eq!(param(&location, "iss").as_deref(), Some(ISSUER));
}
