//! What `checker`, `decision` and `batch` share: the core checker on cache lines of its
//! own, and an owned request. Kept here so their imports run one way (`checker` uses
//! `decision` and `batch`; all three use this module) instead of in a cycle.

use crate::input;
use portcullis::{Checker, Request, SecretBytes};
use pyo3::prelude::*;
use std::net::IpAddr;

/// The core checker on cache lines of its own. Every `Decision` holds an `Arc` of it, so
/// building and freeing decisions (attached) writes its reference count while other
/// threads run checks through it (detached, `check_many`): with the count on the same
/// cache line as the fields those checks read, each write would take the line away from
/// the other core. The alignment puts the counts and the checker on separate lines.
#[repr(align(128))]
pub(crate) struct SharedChecker(pub(crate) Checker);

impl std::ops::Deref for SharedChecker {
    type Target = Checker;
    fn deref(&self) -> &Checker {
        &self.0
    }
}

/// An owned copy of the request parts, so the GIL can be released (also what a
/// `portcullis.Request` holds). The header and query copies may hold a key: they are
/// wiped on drop.
pub(crate) struct OwnedRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) authorization: Option<SecretBytes>,
    pub(crate) query: Option<SecretBytes>,
    pub(crate) https: bool,
    /// The client's address, for the usage recorder.
    pub(crate) client: Option<IpAddr>,
}

impl OwnedRequest {
    /// Copies the parts (`authorization` and `query` as `str` or `bytes`; `client` as
    /// `str` or an `ipaddress` address).
    pub(crate) fn new(
        method: &str,
        path: &str,
        authorization: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        https: bool,
        client: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Ok(OwnedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            authorization: input::opt_bytes(authorization, "authorization")?.map(SecretBytes::new),
            query: input::opt_bytes(query, "query")?.map(SecretBytes::new),
            https,
            client: crate::usage::client_of(client, &"client")?,
        })
    }

    /// Whether the request is large enough that parsing it takes long: then the checker's
    /// calls release the GIL.
    pub(crate) fn is_large(&self) -> bool {
        let len = |b: &Option<SecretBytes>| b.as_ref().map_or(0, |b| b.expose().len());
        self.path.len() + len(&self.authorization) + len(&self.query) > LARGE_REQUEST
    }

    /// The core's view of the request.
    pub(crate) fn view(&self) -> Request<'_> {
        Request {
            method: &self.method,
            path: &self.path,
            authorization: self.authorization.as_ref().map(SecretBytes::expose),
            query: self.query.as_ref().map(SecretBytes::expose),
            https: self.https,
            client: self.client,
        }
    }
}

/// Requests above this many bytes (path, header and query) are checked with the GIL
/// released: scanning them takes longer than a GIL handoff.
const LARGE_REQUEST: usize = 16 * 1024;
