//! The parts of an HTTP request that a decision depends on.

use std::net::IpAddr;

/// What portcullis needs to know about a request. Borrowed; nothing is copied.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The HTTP method, as sent (`GET`; methods are case-sensitive).
    pub method: &'a str,
    /// The raw path as received on the request line, before your router decodes or
    /// normalises it, without the query string (see [`PathRules`](crate::PathRules): ambiguous paths are
    /// refused with 400 before any route is matched).
    pub path: &'a str,
    /// The raw `Authorization` header value, if the request has exactly one. (With several,
    /// pass the first and let the grammar check refuse what is malformed, or refuse the
    /// request yourself.)
    pub authorization: Option<&'a [u8]>,
    /// The raw query string, without `?`.
    pub query: Option<&'a [u8]>,
    /// Whether the request arrived over HTTPS (as your TLS terminator reports it).
    pub https: bool,
    /// The client's address, as your server or a trusted proxy reports it: only a usage
    /// recorder reads it ([`crate::usage`]: new-network signals). Never a decision input.
    pub client: Option<IpAddr>,
}

impl<'a> Request<'a> {
    /// A request with no credential, over plain HTTP until [`Request::https`] says otherwise
    /// (so a forgotten flag fails loudly rather than silently allowing HTTP).
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Request {
            method,
            path,
            authorization: None,
            query: None,
            https: false,
            client: None,
        }
    }

    /// Sets the `Authorization` header value.
    pub fn authorization(mut self, value: &'a str) -> Self {
        self.authorization = Some(value.as_bytes());
        self
    }

    /// Sets the raw query string.
    pub fn query(mut self, query: &'a str) -> Self {
        self.query = Some(query.as_bytes());
        self
    }

    /// Sets the client's address.
    pub fn client(mut self, addr: IpAddr) -> Self {
        self.client = Some(addr);
        self
    }

    /// Sets whether the request came over HTTPS.
    pub fn https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("authorization", &self.authorization.map(|_| "[REDACTED]"))
            .field("query", &self.query.map(|_| "[REDACTED]"))
            .field("https", &self.https)
            .field("client", &self.client)
            .finish()
    }
}
