//! How `portcullis serve` is configured, with its bounds.

use crate::log::LogLevel;
use crate::trusted::TrustedProxies;
use std::net::SocketAddr;
use std::time::Duration;

/// The server's settings. [`ServeConfig::default`] listens on `127.0.0.1:7878`, trusts
/// loopback proxies and logs refusals.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where HTTP is served (forward auth, OAuth, metadata, health, metrics).
    pub listen: SocketAddr,
    /// Where Envoy's gRPC `Authorization/Check` is served, if anywhere.
    pub grpc_listen: Option<SocketAddr>,
    /// The proxies whose forwarded headers are believed; every forward-auth request must
    /// come from one.
    pub trusted_proxies: TrustedProxies,
    /// The URL clients reach this server at (`https://auth.example.com`): the OAuth issuer,
    /// the base of the metadata documents' endpoints and of `resource_metadata` in
    /// `WWW-Authenticate`. `None`: no OAuth metadata and no `resource_metadata`.
    pub public_url: Option<String>,
    /// What the log records.
    pub log: LogLevel,
    /// Sizes and times.
    pub bounds: Bounds,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            grpc_listen: None,
            trusted_proxies: TrustedProxies::loopback(),
            public_url: None,
            log: LogLevel::Refusals,
            bounds: Bounds::default(),
        }
    }
}

/// The limits of what one client may make the server hold or wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The request line and headers of HTTP/1 together (hyper's read buffer), and of
    /// HTTP/2 a header list: 16 KiB by default; beyond it the connection is answered 431 or
    /// closed.
    pub max_header_bytes: usize,
    /// A request body (OAuth endpoints; forward auth reads none): 64 KiB by default; past
    /// it, 413.
    pub max_body_bytes: usize,
    /// From a connection's first byte to the end of its request headers: 10 s.
    pub header_timeout: Duration,
    /// Reading a request's body and answering: 10 s, then 408; for forward auth, waiting
    /// for the database on a cache miss: 10 s, then 503 `lookup_failed`.
    pub request_timeout: Duration,
    /// Connections open at once: 4,096; past it, new connections wait to be accepted.
    pub max_connections: usize,
    /// How long a graceful shutdown lets open requests finish: 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}
