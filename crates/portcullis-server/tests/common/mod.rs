//! Shared fixtures: a real server on a free loopback port over a SQLite store in a
//! temporary directory, with the product's policy (examples/claimport.toml), and a small
//! HTTP/1.1 client that sends exactly the bytes a test writes.
#![allow(dead_code)]

use portcullis::{Checker, KeySpec, Peppers, Policy, Timestamp};
use portcullis_server::{ServeConfig, Server, Service};
use portcullis_store::{Options, Store};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The product's policy.
pub const CLAIMPORT: &str = include_str!("../../../../examples/claimport.toml");

/// The tests' checker of `policy` (pepper `p1` of 32 sevens).
pub fn checker(policy: &str) -> Checker {
    Checker::new(
        Policy::from_toml(policy).expect("policy"),
        Peppers::new("p1", &[7u8; 32]).expect("pepper"),
    )
}

/// A server running on its own runtime thread; stopped (gracefully) on drop.
pub struct TestServer {
    /// Where it serves HTTP.
    pub addr: SocketAddr,
    /// Where it serves gRPC, when the config asked for it.
    pub grpc: Option<SocketAddr>,
    /// Its store (shared with the server).
    pub store: Arc<Store>,
    /// Its checker (shared with the server).
    pub checker: Arc<Checker>,
    /// Its shared state.
    pub service: Arc<Service>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server with `policy`, default settings but a free port.
    pub fn start(policy: &str) -> TestServer {
        Self::start_with(policy, ServeConfig::default(), |c| c)
    }

    /// A server with `policy` and `config` (its listen address, and its gRPC address when
    /// set, are replaced by free ports); `extend` may attach usage, limits or access tokens
    /// to the checker.
    pub fn start_with(
        policy: &str,
        config: ServeConfig,
        extend: impl FnOnce(Checker) -> Checker,
    ) -> TestServer {
        Self::start_built(config, |store, _, config| {
            Service::new(Arc::new(extend(checker(policy))), store, config)
        })
    }

    /// A server over a new SQLite store in a temporary directory, whose service `build`
    /// makes from the store, that directory (for files such as an admin token) and
    /// `config` (addresses replaced by free ports, as in [`TestServer::start_with`]).
    pub fn start_built(
        mut config: ServeConfig,
        build: impl FnOnce(Arc<Store>, &Path, ServeConfig) -> Service,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:{}", dir.path().join("keys.sqlite3").display());
        let store = Arc::new(
            Store::open_with(
                &url,
                Options {
                    create: true,
                    ..Options::default()
                },
            )
            .expect("store"),
        );
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if config.grpc_listen.is_some() {
            config.grpc_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        let service = build(store.clone(), dir.path(), config);
        let checker = service.checker.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let server = Server::bind(service).await.expect("bind");
                ready_tx
                    .send((
                        server.http_addr(),
                        server.grpc_addr(),
                        server.service().clone(),
                    ))
                    .expect("ready");
                server
                    .run(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let (addr, grpc, service) = ready_rx.recv().expect("server started");
        TestServer {
            addr,
            grpc,
            store,
            checker,
            service,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Issues a key with `scopes` for `owner`, stores it and returns its plaintext.
    pub fn key(&self, owner: &str, scopes: &[&str]) -> String {
        let spec = KeySpec::new("test key", owner, scopes.iter().copied());
        let issued = self.checker.issue(&spec, Timestamp::now()).expect("issue");
        self.store
            .insert_key(&issued.record, Timestamp::now())
            .expect("insert");
        issued.key.expose().to_owned()
    }

    /// Sends `head` (request line and headers, without the blank line) and `body`; adds
    /// `Content-Length` when there is a body and `Connection: close`.
    pub fn send(&self, head: &str, body: &[u8]) -> Reply {
        send(self.addr, head, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A response: status, headers (names lowercased, in order) and body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Sends one request on a new connection and reads the whole response.
pub fn send(addr: SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = head.trim_end().replace('\n', "\r\n").replace("\r\r", "\r");
    if !body.is_empty() {
        request.push_str(&format!("\r\nContent-Length: {}", body.len()));
    }
    request.push_str("\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

/// Parses an HTTP/1.1 response (Content-Length or read-to-close bodies; no chunking).
pub fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}
