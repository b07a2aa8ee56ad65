//! The request a proxy asks about, read from a forward-auth request.
//!
//! Each proxy has its own contract (shared/reference: serving-and-fleet):
//! - nginx `auth_request`: `X-Original-URI` and `X-Original-Method` (set in its config);
//! - Traefik ForwardAuth and Caddy `forward_auth`: `X-Forwarded-Uri` and
//!   `X-Forwarded-Method` (both send a GET);
//! - Envoy `ext_authz` in HTTP mode: the original method, and the original path after the
//!   configured `path_prefix` ([`ENVOY_PREFIX`]).
//!
//! All of them: `X-Forwarded-Proto` (`https` or `http`), and the client's address: for
//! nginx `X-Real-IP` (its configuration sets it), else the last `X-Forwarded-For` entry;
//! for the others the last `X-Forwarded-For` entry only (the one the proxy appended: Caddy
//! and Traefik pass a client's own `X-Real-IP` through); else the proxy's own address.
//! These headers are read only from trusted proxies; the caller checks.
//!
//! A request that carries both `X-Original-URI` and `X-Forwarded-Uri` is refused: Caddy
//! and Traefik pass the client's headers to the auth service, so a client could add an
//! `X-Original-URI` naming a public path while Caddy's `X-Forwarded-Uri` names the real one.
//!
//! Every header is read once: a repeated one is refused (two values a proxy and an upstream
//! could each pick differently are the start of a bypass). The URI is passed raw to the
//! core, which refuses ambiguous paths with 400 before any route is matched.

use http::{HeaderMap, HeaderValue};
use std::net::IpAddr;

/// The path prefix of Envoy's HTTP `ext_authz` (its `path_prefix` setting): a request to
/// `/auth/envoy/v1/claims` asks about `/v1/claims`.
pub const ENVOY_PREFIX: &str = "/auth/envoy";

/// Which proxy contract a request followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// nginx `auth_request` (`X-Original-*`).
    Nginx,
    /// Traefik or Caddy (`X-Forwarded-Uri`, `X-Forwarded-Method`).
    Forwarded,
    /// Envoy HTTP `ext_authz` (the path under [`ENVOY_PREFIX`]).
    Envoy,
    /// Envoy gRPC `ext_authz` (`Authorization/Check`, [`crate::grpc`]).
    Grpc,
}

impl Style {
    /// A label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Nginx => "nginx",
            Style::Forwarded => "forwarded",
            Style::Envoy => "envoy",
            Style::Grpc => "grpc",
        }
    }
}

/// The original request, borrowed from the forward-auth request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Original<'a> {
    /// Which contract it came in.
    pub style: Style,
    /// The original method.
    pub method: &'a str,
    /// The raw original path, without the query.
    pub path: &'a str,
    /// The raw original query, without `?`.
    pub query: Option<&'a str>,
    /// The raw `Authorization` value, if one was sent.
    pub authorization: Option<&'a [u8]>,
    /// Whether the client reached the proxy over HTTPS.
    pub https: bool,
    /// The client's address.
    pub client: IpAddr,
}

/// Why a forward-auth request does not say what it asks about (400; the texts name
/// headers only, never their values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// Neither `X-Original-URI` nor `X-Forwarded-Uri` was sent.
    #[error("the proxy sent no X-Original-URI (nginx) or X-Forwarded-Uri (Traefik, Caddy)")]
    NoOriginal,
    /// A header was sent twice, or its value is not visible ASCII.
    #[error("the header {0} is repeated or not visible ASCII")]
    BadHeader(&'static str),
    /// Both `X-Original-URI` and `X-Forwarded-Uri` were sent: one of them came from the
    /// client.
    #[error("both X-Original-URI and X-Forwarded-Uri were sent; a proxy sends one")]
    BothStyles,
    /// The forwarded URI is not an origin-form target (`/path?query`).
    #[error("the forwarded URI does not start with '/'")]
    NotOriginForm,
    /// `X-Forwarded-Proto` is neither `http` nor `https`.
    #[error("X-Forwarded-Proto is neither 'http' nor 'https'")]
    BadProto,
}

impl ForwardError {
    /// A stable snake_case name, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ForwardError::NoOriginal => "no_original_uri",
            ForwardError::BadHeader(_) => "bad_forwarded_header",
            ForwardError::BothStyles => "two_forwarded_uris",
            ForwardError::NotOriginForm => "bad_forwarded_uri",
            ForwardError::BadProto => "bad_forwarded_proto",
        }
    }
}

/// Reads the original request of a forward-auth request to `path` (`/auth`, or a path
/// under [`ENVOY_PREFIX`]) with `method` and `query`, from `peer`.
pub fn original<'a>(
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    peer: IpAddr,
) -> Result<Original<'a>, ForwardError> {
    let seen = Seen::scan(headers);
    if let Some(name) = seen.repeated {
        return Err(ForwardError::BadHeader(name));
    }
    if seen.original_uri.is_some() && seen.forwarded_uri.is_some() {
        return Err(ForwardError::BothStyles);
    }
    let (style, method, path, query) = if let Some(rest) = envoy_path(path) {
        (Style::Envoy, method, rest, query)
    } else if let Some(uri) = text(seen.original_uri, "X-Original-URI")? {
        let method = text(seen.original_method, "X-Original-Method")?.unwrap_or(method);
        let (path, query) = split_target(uri)?;
        (Style::Nginx, method, path, query)
    } else if let Some(uri) = text(seen.forwarded_uri, "X-Forwarded-Uri")? {
        let method = text(seen.forwarded_method, "X-Forwarded-Method")?.unwrap_or(method);
        let (path, query) = split_target(uri)?;
        (Style::Forwarded, method, path, query)
    } else {
        return Err(ForwardError::NoOriginal);
    };
    let https = match text(seen.proto, "X-Forwarded-Proto")? {
        None => false,
        Some(p) if p.eq_ignore_ascii_case("https") => true,
        Some(p) if p.eq_ignore_ascii_case("http") => false,
        Some(_) => return Err(ForwardError::BadProto),
    };
    Ok(Original {
        style,
        method,
        path,
        query,
        authorization: seen.authorization.map(HeaderValue::as_bytes),
        https,
        client: seen.client(style, peer),
    })
}

/// The headers `original` reads, found in one pass over the request's headers (a lookup
/// each hashes every name again).
#[derive(Default)]
struct Seen<'a> {
    original_uri: Option<&'a HeaderValue>,
    original_method: Option<&'a HeaderValue>,
    forwarded_uri: Option<&'a HeaderValue>,
    forwarded_method: Option<&'a HeaderValue>,
    proto: Option<&'a HeaderValue>,
    authorization: Option<&'a HeaderValue>,
    real_ip: Option<&'a HeaderValue>,
    /// The last one: the entry the nearest proxy appended is at its end.
    forwarded_for: Option<&'a HeaderValue>,
    /// The first header of these sent twice.
    repeated: Option<&'static str>,
}

impl<'a> Seen<'a> {
    fn scan(headers: &'a HeaderMap) -> Self {
        let mut seen = Seen::default();
        for (name, value) in headers {
            let (slot, shown) = match name.as_str() {
                "authorization" => (&mut seen.authorization, "Authorization"),
                "x-original-uri" => (&mut seen.original_uri, "X-Original-URI"),
                "x-original-method" => (&mut seen.original_method, "X-Original-Method"),
                "x-forwarded-uri" => (&mut seen.forwarded_uri, "X-Forwarded-Uri"),
                "x-forwarded-method" => (&mut seen.forwarded_method, "X-Forwarded-Method"),
                "x-forwarded-proto" => (&mut seen.proto, "X-Forwarded-Proto"),
                "x-real-ip" => {
                    seen.real_ip.get_or_insert(value);
                    continue;
                }
                "x-forwarded-for" => {
                    seen.forwarded_for = Some(value);
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                seen.repeated.get_or_insert(shown);
            } else {
                *slot = Some(value);
            }
        }
        seen
    }

    /// The client's address as the proxy reports it, else the proxy's own.
    fn client(&self, style: Style, peer: IpAddr) -> IpAddr {
        let parse = |v: &str| v.trim().parse::<IpAddr>().ok();
        if style == Style::Nginx
            && let Some(ip) = self.real_ip.and_then(|v| v.to_str().ok()).and_then(parse)
        {
            return ip;
        }
        self.forwarded_for
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(parse)
            .unwrap_or(peer)
    }
}

/// The original path of an Envoy request: what follows [`ENVOY_PREFIX`], if it starts
/// with `/`.
fn envoy_path(path: &str) -> Option<&str> {
    path.strip_prefix(ENVOY_PREFIX)
        .filter(|rest| rest.starts_with('/'))
}

/// A header's value as visible ASCII, if it was sent.
fn text<'a>(
    value: Option<&'a HeaderValue>,
    shown: &'static str,
) -> Result<Option<&'a str>, ForwardError> {
    value
        .map(|v| v.to_str().map_err(|_| ForwardError::BadHeader(shown)))
        .transpose()
}

/// `/path?query` → (`/path`, `query`). A fragment is not part of a request target: `#` is
/// left in the path, where the core's path rules see it.
fn split_target(uri: &str) -> Result<(&str, Option<&str>), ForwardError> {
    if !uri.starts_with('/') {
        return Err(ForwardError::NotOriginForm);
    }
    Ok(match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn nginx_sends_the_original_uri_and_method() {
        let h = headers(&[
            ("x-original-uri", "/v1/claims?page=2"),
            ("x-original-method", "POST"),
            ("x-forwarded-proto", "https"),
            ("x-real-ip", "203.0.113.9"),
            ("authorization", "Bearer x"),
        ]);
        let o = original("GET", "/auth", None, &h, PEER).expect("original");
        assert_eq!(o.style, Style::Nginx);
        assert_eq!(
            (o.method, o.path, o.query),
            ("POST", "/v1/claims", Some("page=2"))
        );
        assert!(o.https);
        assert_eq!(o.client, IpAddr::from([203, 0, 113, 9]));
        assert_eq!(o.authorization, Some(&b"Bearer x"[..]));
    }

    #[test]
    fn traefik_and_caddy_send_forwarded_headers() {
        let h = headers(&[
            ("x-forwarded-uri", "/v1/orders"),
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-for", "198.51.100.1, 192.0.2.7"),
            ("x-real-ip", "203.0.113.66"),
        ]);
        let o = original("GET", "/auth", None, &h, PEER).expect("original");
        assert_eq!(o.style, Style::Forwarded);
        assert_eq!((o.method, o.path, o.query), ("DELETE", "/v1/orders", None));
        assert!(!o.https);
        assert_eq!(o.client, IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn envoy_sends_the_path_under_the_prefix() {
        let none = HeaderMap::new();
        let o =
            original("PUT", "/auth/envoy/v1/claims/7", Some("a=b"), &none, PEER).expect("original");
        assert_eq!(o.style, Style::Envoy);
        assert_eq!(
            (o.method, o.path, o.query),
            ("PUT", "/v1/claims/7", Some("a=b"))
        );
        assert_eq!(o.client, PEER);
        assert!(original("GET", "/auth/envoyx", None, &HeaderMap::new(), PEER).is_err());
    }

    #[test]
    fn ambiguity_is_refused() {
        let no = |pairs: &[(&'static str, &'static str)]| {
            original("GET", "/auth", None, &headers(pairs), PEER).expect_err("refused")
        };
        assert_eq!(no(&[]), ForwardError::NoOriginal);
        assert_eq!(
            no(&[
                ("x-original-uri", "/health"),
                ("x-forwarded-uri", "/v1/claims")
            ]),
            ForwardError::BothStyles
        );
        assert_eq!(
            no(&[("x-original-uri", "/a"), ("x-original-uri", "/b")]),
            ForwardError::BadHeader("X-Original-URI")
        );
        assert_eq!(
            no(&[("x-original-uri", "http://h/a")]),
            ForwardError::NotOriginForm
        );
        assert_eq!(
            no(&[
                ("x-original-uri", "/a"),
                ("x-forwarded-proto", "https, http")
            ]),
            ForwardError::BadProto
        );
        assert_eq!(
            no(&[
                ("x-original-uri", "/a"),
                ("authorization", "a"),
                ("authorization", "b")
            ]),
            ForwardError::BadHeader("Authorization")
        );
    }
}
