//! Listening: the accept loop, connection bounds and graceful shutdown, shared by HTTP and
//! Envoy's gRPC.

use crate::http::handle;
use crate::service::Service;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// hyper refuses a read buffer under 8 KiB.
const MIN_HEADER_BYTES: usize = 8192;

/// An error a connection's service may return.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves HTTP on `listener` until `shutdown` completes, then lets open requests finish
/// for at most the configured grace.
pub async fn serve_http(
    service: Arc<Service>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let bounds = service.config.bounds;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(bounds.max_header_bytes.max(MIN_HEADER_BYTES))
        .header_read_timeout(bounds.header_timeout)
        .timer(TokioTimer::new());
    builder
        .http2()
        .max_header_list_size(u32::try_from(bounds.max_header_bytes).unwrap_or(u32::MAX))
        .timer(TokioTimer::new());
    let shared = service.clone();
    let handler = move |peer: SocketAddr| {
        let service = shared.clone();
        service_fn(move |request| handle(service.clone(), request, peer))
    };
    accept(&service, listener, builder, "http", handler, shutdown).await;
}

/// Accepts connections on `listener` and serves each with `handler(peer)` through
/// `builder`, at most `max_connections` at once, until `shutdown` completes; then lets
/// open connections finish for at most the configured grace. `name` labels logs.
pub(crate) async fn accept<F, S, B>(
    service: &Service,
    listener: TcpListener,
    builder: auto::Builder<TokioExecutor>,
    name: &'static str,
    handler: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(SocketAddr) -> S,
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let bounds = service.config.bounds;
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept: wait, go on.
                    service.log.event(
                        "accept_error",
                        serde_json::json!({"error": e.to_string(), "listener": name}),
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        service.metrics.connection();
        let connection = graceful.watch(
            builder
                .serve_connection(TokioIo::new(stream), handler(peer))
                .into_owned(),
        );
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(bounds.shutdown_grace) => {}
    }
}

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
