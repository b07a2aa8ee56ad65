//! The load benchmark's baseline (benches/serve/run.sh): a bare hyper server with the same
//! runtime, connection builder and bounds as `portcullis serve`, answering every request
//! 200 with an empty body and nothing else. Prints `{"http": "ADDR"}` when ready.
//!
//! Usage: `bare [ADDR]` (default 127.0.0.1:0).

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;

async fn answer(
    _request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::new())))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!(
            "{}",
            serde_json::json!({ "http": listener.local_addr()?.to_string() })
        );
        let bounds = portcullis_server::Bounds::default();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .max_buf_size(bounds.max_header_bytes)
            .header_read_timeout(bounds.header_timeout)
            .timer(TokioTimer::new());
        let builder = Arc::new(builder);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let builder = builder.clone();
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    })
}
