//! The product's OAuth endpoints (not yet served: every path here is 404 for now).

use crate::http::Body;
use crate::service::Service;
use bytes::Bytes;
use http::{Request, Response};
use std::net::SocketAddr;

/// Answers `/oauth/…` and `/.well-known/…`; `None` for any other path.
pub async fn route<B>(
    _service: &Service,
    _request: Request<B>,
    _peer: SocketAddr,
) -> Option<Response<Body>>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    None
}
