//! # portcullis-server
//!
//! `portcullis serve`: the policy as an HTTP service that proxies ask "may this request
//! pass?", in front of backends in any language. The core decides; this crate translates
//! HTTP (and Envoy's gRPC) into the core's requests and its decisions back.
//!
//! Endpoints:
//! - `/auth`: forward auth for nginx `auth_request` (`X-Original-URI`, `X-Original-Method`),
//!   Traefik ForwardAuth and Caddy `forward_auth` (`X-Forwarded-Uri`, `X-Forwarded-Method`);
//!   `/auth/envoy/…`: Envoy `ext_authz` in HTTP mode (its `path_prefix`). Only requests
//!   from [`ServeConfig::trusted_proxies`] are answered. Allowed: 200 with
//!   `X-Portcullis-Key-Id`, `-Owner` and `-Scopes`, always all three (empty when absent).
//!   Refused: the decision's status, `WWW-Authenticate`, `Retry-After`, the rate-limit
//!   fields, `X-Portcullis-Status` and a JSON body. (`forwarded.rs`, `verdict.rs`.)
//! - gRPC `envoy.service.auth.v3.Authorization/Check` on
//!   [`ServeConfig::grpc_listen`], when set: Envoy `ext_authz` in gRPC mode, the same
//!   decision as a `CheckResponse` (`grpc.rs`).
//! - Envoy's gRPC `envoy.service.auth.v3.Authorization/Check` on [`ServeConfig::grpc_listen`]
//!   (`grpc.rs`), decided by the same [`Service::decide`].
//! - The OAuth endpoints (`oauth.rs`): `/oauth/authorize` with the host's signed assertion
//!   of the signed-in user (`assertion.rs`) and a consent page (`consent.rs`),
//!   `/oauth/token`, `/oauth/revoke`, `/oauth/introspect`, RFC 8414 and RFC 9728 metadata.
//! - The key-management API `/api/keys` (`keys_api.rs`) and the Settings > API Keys page
//!   `/settings/api-keys` (`page.rs`).
//! - `/healthz` (200 `ok` or `degraded`, or 503 while no decision can be vouched for) and
//!   `/metrics` (Prometheus text: decisions by endpoint, reason and status; a latency
//!   histogram).
//!
//! Decisions:
//! - **hyper 1 with hyper-util** rather than a framework: a dozen routes need no router, and the
//!   forward-auth path stays a handful of allocations over a bare server.
//! - **A cache hit is decided on the runtime's thread; a miss reads the database on a
//!   blocking thread** ([`Service::decide`]), so a slow database never stalls other
//!   requests.
//! - **Bounded:** header bytes, body bytes, time to headers, time to answer, open
//!   connections ([`Bounds`]); a graceful shutdown on SIGTERM or SIGINT.
//! - **Logs** are JSON lines on standard error without any header value, query or body
//!   (`log.rs`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod assertion;
pub mod config;
pub mod consent;
pub mod forwarded;
pub mod grpc;
pub mod http;
pub mod keys_api;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod oauth;
pub mod page;
pub mod service;
pub mod trusted;
pub mod verdict;

pub use config::{Bounds, ServeConfig};
pub use log::LogLevel;
pub use service::Service;
pub use trusted::{Cidr, TrustedProxies};

use portcullis::Timestamp;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often usage counted in memory is saved to the store.
pub const USAGE_DRAIN_EVERY: Duration = Duration::from_secs(10);

/// A server with its listeners bound: [`Server::http_addr`] and [`Server::grpc_addr`] are
/// known before it runs.
#[derive(Debug)]
pub struct Server {
    service: Arc<Service>,
    http: TcpListener,
    http_addr: SocketAddr,
    grpc: Option<(TcpListener, SocketAddr)>,
}

impl Server {
    /// Binds the configured addresses.
    pub async fn bind(service: Service) -> std::io::Result<Server> {
        let http = listen::bind(service.config.listen).await?;
        let http_addr = http.local_addr()?;
        let grpc = match service.config.grpc_listen {
            Some(addr) => {
                let listener = listen::bind(addr).await?;
                let addr = listener.local_addr()?;
                Some((listener, addr))
            }
            None => None,
        };
        Ok(Server {
            service: Arc::new(service),
            http,
            http_addr,
            grpc,
        })
    }

    /// Where HTTP is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where Envoy's gRPC `Authorization/Check` is served, if configured.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(|(_, addr)| *addr)
    }

    /// The shared state.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Serves HTTP (and gRPC, when configured) until `shutdown` completes, then drains open
    /// requests on both and saves usage.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let service = self.service;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let drainer = tokio::spawn(drain_usage_every(service.clone(), stopped.clone()));
        let grpc = self.grpc.map(|(listener, _)| {
            let mut grpc_stopped = stopped.clone();
            tokio::spawn(grpc::serve_grpc(service.clone(), listener, async move {
                let _ = grpc_stopped.wait_for(|stop| *stop).await;
            }))
        });
        let mut http_stopped = stopped.clone();
        let http = tokio::spawn(listen::serve_http(service.clone(), self.http, async move {
            let _ = http_stopped.wait_for(|stop| *stop).await;
        }));
        shutdown.await;
        service.log.event("stopping", serde_json::json!({}));
        let _ = stop.send(true);
        let _ = http.await;
        if let Some(grpc) = grpc {
            let _ = grpc.await;
        }
        let _ = drainer.await;
        service.log.event("stopped", serde_json::json!({}));
    }
}

/// Saves the checker's usage every [`USAGE_DRAIN_EVERY`] and once more when stopping.
async fn drain_usage_every(service: Arc<Service>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    if service.checker.usage().is_none() {
        return;
    }
    loop {
        let stopping = tokio::time::timeout(USAGE_DRAIN_EVERY, stopped.wait_for(|stop| *stop))
            .await
            .is_ok();
        let s = service.clone();
        let saved = tokio::task::spawn_blocking(move || match s.checker.usage() {
            Some(recorder) => s.store.drain_usage(recorder, Timestamp::now()).map(|_| ()),
            None => Ok(()),
        })
        .await;
        if let Ok(Err(e)) = saved {
            service.log.event(
                "usage_not_saved",
                serde_json::json!({"error": e.to_string()}),
            );
        }
        if stopping {
            return;
        }
    }
}

/// Resolves at SIGINT or SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Builds a multi-threaded runtime, binds, calls `ready` with the bound server, and serves
/// until SIGINT or SIGTERM. What the CLI's `portcullis serve` runs.
pub fn run_until_signal(service: Service, ready: impl FnOnce(&Server)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("portcullis-serve")
        .build()?;
    runtime.block_on(async {
        let server = Server::bind(service).await?;
        ready(&server);
        server.run(signal()).await;
        Ok(())
    })
}
