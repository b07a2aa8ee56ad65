//! Authorization-server metadata (RFC 8414) and the issuer identifier it shares with the
//! authorization response's `iss` parameter (RFC 9207).
//!
//! Decisions:
//! - The document is built from the engine's own configuration, so it cannot advertise
//!   what the engine refuses: `code_challenge_methods_supported` is `S256` (plus `plain`
//!   only when enabled), `token_endpoint_auth_methods_supported` is `client_secret_basic`,
//!   `client_secret_post` only when body credentials are allowed, and `none` (public
//!   clients); `scopes_supported` is the catalog, in catalog order.
//! - One issuer setting ([`OAuthConfig::issuer`](super::OAuthConfig::issuer)): when it is
//!   set, every authorization response (code, `access_denied`, every redirected error)
//!   carries `iss` and the document says so; the document cannot be built without it.
//! - The issuer and every endpoint are absolute `https` URLs without fragment or userinfo
//!   (RFC 8414 §2, §3.3); the issuer has no query either. `http` is accepted for a
//!   loopback host only (`127.0.0.1`, `[::1]`, `localhost`), for development and tests.
//! - The host gives the endpoint URLs: the engine does no I/O and cannot know where it is
//!   served; it never derives them from a request's `Host` header (which a client sets).
//! - Introspection (RFC 7662) needs a confidential client, so its list of auth methods
//!   has no `none`; revocation takes public clients (RFC 7009 §2.1) and keeps it.

use super::server::OAuthServer;
use serde::Serialize;

/// The longest issuer or endpoint URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Why an issuer or endpoint URL is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The metadata document needs [`OAuthConfig::issuer`](super::OAuthConfig::issuer).
    #[error("the OAuth configuration has no issuer")]
    NoIssuer,
    /// Not `https://host…` (or `http://` to a loopback host).
    #[error("{0} must be an https URL (http only for a loopback host)")]
    Scheme(&'static str),
    /// Empty host, userinfo, a fragment, whitespace or control characters, or too long.
    #[error("{0} must be an absolute URL with a host, without userinfo, fragment or spaces")]
    Malformed(&'static str),
    /// The issuer has a query component (RFC 8414 §2).
    #[error("the issuer must not have a query")]
    IssuerQuery,
}

impl MetadataError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            MetadataError::NoIssuer => &crate::codes::METADATA_NO_ISSUER,
            MetadataError::Scheme(_) => &crate::codes::METADATA_INSECURE_ENDPOINT,
            MetadataError::Malformed(_) => &crate::codes::METADATA_BAD_ENDPOINT,
            MetadataError::IssuerQuery => &crate::codes::METADATA_ISSUER_QUERY,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// An issuer identifier (RFC 8414 §2), validated: an `https` URL (`http` for a loopback
/// host) with a host, without query, fragment or userinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// Validates an issuer identifier.
    pub fn new(url: &str) -> Result<Self, MetadataError> {
        check_url(url, "the issuer")?;
        if url.contains('?') {
            return Err(MetadataError::IssuerQuery);
        }
        Ok(Issuer(url.to_owned()))
    }

    /// The identifier, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the host serves the endpoints (absolute URLs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints<'a> {
    /// The authorization endpoint (`…/oauth/authorize`).
    pub authorization: &'a str,
    /// The token endpoint (`…/oauth/token`).
    pub token: &'a str,
    /// The revocation endpoint (RFC 7009), if served.
    pub revocation: Option<&'a str>,
    /// The introspection endpoint (RFC 7662), if served.
    pub introspection: Option<&'a str>,
}

/// The document, in the order RFC 8414 §2 lists its members.
#[derive(Serialize)]
struct Document<'a> {
    issuer: &'a str,
    authorization_endpoint: &'a str,
    token_endpoint: &'a str,
    scopes_supported: Vec<&'a str>,
    response_types_supported: [&'static str; 1],
    response_modes_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 2],
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_endpoint_auth_methods_supported: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint_auth_methods_supported: Option<Vec<&'static str>>,
    code_challenge_methods_supported: Vec<&'static str>,
    authorization_response_iss_parameter_supported: bool,
}

impl OAuthServer {
    /// The authorization-server metadata document (RFC 8414 §2) as JSON, for
    /// `GET /.well-known/oauth-authorization-server` (serve it with
    /// `Content-Type: application/json`, without authentication). Needs
    /// [`OAuthConfig::issuer`](super::OAuthConfig::issuer); the endpoints are checked as
    /// the issuer is.
    pub fn metadata(&self, endpoints: &Endpoints<'_>) -> Result<String, MetadataError> {
        let issuer = self.config.issuer.as_ref().ok_or(MetadataError::NoIssuer)?;
        check_url(endpoints.authorization, "authorization_endpoint")?;
        check_url(endpoints.token, "token_endpoint")?;
        if let Some(url) = endpoints.revocation {
            check_url(url, "revocation_endpoint")?;
        }
        if let Some(url) = endpoints.introspection {
            check_url(url, "introspection_endpoint")?;
        }
        let mut client_auth = vec!["client_secret_basic"];
        if self.config.allow_body_credentials {
            client_auth.push("client_secret_post");
        }
        let confidential_auth = client_auth.clone();
        client_auth.push("none");
        let mut pkce = vec!["S256"];
        if self.config.allow_plain_pkce {
            pkce.push("plain");
        }
        let document = Document {
            issuer: issuer.as_str(),
            authorization_endpoint: endpoints.authorization,
            token_endpoint: endpoints.token,
            scopes_supported: self
                .catalog
                .scopes()
                .iter()
                .map(|s| s.name.as_str())
                .collect(),
            response_types_supported: ["code"],
            response_modes_supported: ["query"],
            grant_types_supported: ["authorization_code", "refresh_token"],
            revocation_endpoint: endpoints.revocation,
            revocation_endpoint_auth_methods_supported: endpoints
                .revocation
                .map(|_| client_auth.clone()),
            introspection_endpoint: endpoints.introspection,
            introspection_endpoint_auth_methods_supported: endpoints
                .introspection
                .map(|_| confidential_auth),
            token_endpoint_auth_methods_supported: client_auth,
            code_challenge_methods_supported: pkce,
            authorization_response_iss_parameter_supported: true,
        };
        // Serializing string slices, vectors and booleans cannot fail.
        serde_json::to_string_pretty(&document).map_err(|_| MetadataError::Malformed("metadata"))
    }
}

/// The protected-resource metadata document (RFC 9728 §2), in its order.
#[derive(Serialize)]
struct ResourceDocument<'a> {
    resource: &'a str,
    authorization_servers: &'a [&'a str],
    scopes_supported: Vec<&'a str>,
    bearer_methods_supported: [&'static str; 1],
}

impl OAuthServer {
    /// The protected-resource metadata document (RFC 9728 §2) as JSON, for
    /// `GET /.well-known/oauth-protected-resource` (serve it with
    /// `Content-Type: application/json`, without authentication): a client that received
    /// a 401 with `resource_metadata` learns from it which authorization server to ask and
    /// for which scopes.
    ///
    /// `resource` is the resource identifier, the URL the document is served under minus
    /// the well-known suffix (§3.3: a client compares them); `authorization_servers` are
    /// issuer identifiers. Both follow the issuer's URL rules. `scopes_supported` is the
    /// catalog, in catalog order; `bearer_methods_supported` is `header` only: a token in
    /// a query string or form body ends up in logs and referrers (RFC 6750 §2.3, §5.3).
    pub fn protected_resource_metadata(
        &self,
        resource: &str,
        authorization_servers: &[&str],
    ) -> Result<String, MetadataError> {
        check_url(resource, "the resource")?;
        if resource.contains('?') {
            return Err(MetadataError::Malformed("the resource"));
        }
        for server in authorization_servers {
            Issuer::new(server)?;
        }
        let document = ResourceDocument {
            resource,
            authorization_servers,
            scopes_supported: self
                .catalog
                .scopes()
                .iter()
                .map(|s| s.name.as_str())
                .collect(),
            bearer_methods_supported: ["header"],
        };
        // Serializing string slices cannot fail.
        serde_json::to_string_pretty(&document).map_err(|_| MetadataError::Malformed("metadata"))
    }
}

/// The URL rules shared by the issuer and the endpoints.
fn check_url(url: &str, what: &'static str) -> Result<(), MetadataError> {
    let malformed = MetadataError::Malformed(what);
    if url.len() > MAX_URL_LEN || url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(malformed);
    }
    let (scheme, rest) = url.split_once("://").ok_or(MetadataError::Scheme(what))?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.is_empty() || authority.contains('@') || url.contains('#') {
        return Err(malformed);
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    if host.is_empty() {
        return Err(malformed);
    }
    let loopback = matches!(host, "127.0.0.1" | "[::1]" | "localhost");
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(MetadataError::Scheme(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> OAuthServer {
        use crate::oauth::{AccessKeys, AccessVerifier, OAuthConfig};
        let policy = crate::Policy::from_toml(
            r#"
            [service]
            realm = "claimport"
            [[scopes]]
            name = "claims:read"
            description = "Read Claims"
            [[scopes]]
            name = "orders:read"
            description = "Read Orders"
            [[routes]]
            method = "GET"
            path = "/v1/claims"
            require = "claims:read"
            "#,
        )
        .expect("policy");
        let keys = AccessKeys::new("k1", &[7u8; 32]).expect("keys");
        let verifier = std::sync::Arc::new(AccessVerifier::new(keys, policy.catalog()));
        OAuthServer::new(
            OAuthConfig::default(),
            policy.catalog().clone(),
            verifier,
            "claimport",
        )
        .expect("engine")
    }

    #[test]
    fn rfc9728_2_protected_resource_document() {
        let server = engine();
        let text = server
            .protected_resource_metadata("https://api.claimport.io", &["https://auth.claimport.io"])
            .expect("document");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            doc,
            serde_json::json!({
                "resource": "https://api.claimport.io",
                "authorization_servers": ["https://auth.claimport.io"],
                "scopes_supported": ["claims:read", "orders:read"],
                "bearer_methods_supported": ["header"],
            })
        );
        assert!(text.find("\"resource\"") < text.find("\"authorization_servers\""));
    }

    #[test]
    fn rfc9728_2_resource_and_servers_are_checked() {
        let server = engine();
        let refused = [
            (
                "http://api.claimport.io",
                "https://a.example",
                MetadataError::Scheme("the resource"),
            ),
            (
                "https://api.claimport.io/#f",
                "https://a.example",
                MetadataError::Malformed("the resource"),
            ),
            (
                "https://api.claimport.io/?q=1",
                "https://a.example",
                MetadataError::Malformed("the resource"),
            ),
            (
                "https://api.claimport.io",
                "http://a.example",
                MetadataError::Scheme("the issuer"),
            ),
            (
                "https://api.claimport.io",
                "https://a.example?x",
                MetadataError::IssuerQuery,
            ),
        ];
        for (resource, issuer, error) in refused {
            assert_eq!(
                server.protected_resource_metadata(resource, &[issuer]),
                Err(error),
                "{resource} {issuer}"
            );
        }
        assert!(
            server
                .protected_resource_metadata("http://127.0.0.1:7878", &["http://127.0.0.1:7878"])
                .is_ok()
        );
    }

    #[test]
    fn rfc8414_2_issuer_is_https_without_query_or_fragment() {
        assert!(Issuer::new("https://app.claimport.io").is_ok());
        assert!(Issuer::new("https://app.claimport.io/tenant/1").is_ok());
        assert!(Issuer::new("http://127.0.0.1:8000").is_ok());
        assert!(Issuer::new("http://localhost").is_ok());
        let refused = [
            (
                "http://app.claimport.io",
                MetadataError::Scheme("the issuer"),
            ),
            (
                "ftp://app.claimport.io",
                MetadataError::Scheme("the issuer"),
            ),
            ("app.claimport.io", MetadataError::Scheme("the issuer")),
            ("https://", MetadataError::Malformed("the issuer")),
            ("https://:443/", MetadataError::Malformed("the issuer")),
            (
                "https://u@app.claimport.io",
                MetadataError::Malformed("the issuer"),
            ),
            (
                "https://app.claimport.io/#x",
                MetadataError::Malformed("the issuer"),
            ),
            (
                "https://app.claimport.io/ x",
                MetadataError::Malformed("the issuer"),
            ),
            ("https://app.claimport.io?x=1", MetadataError::IssuerQuery),
            (
                "http://127.0.0.1.evil.example",
                MetadataError::Scheme("the issuer"),
            ),
        ];
        for (url, error) in refused {
            assert_eq!(Issuer::new(url), Err(error), "{url}");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(
            Issuer::new(&long),
            Err(MetadataError::Malformed("the issuer"))
        );
    }
}
