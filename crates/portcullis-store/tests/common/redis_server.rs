//! A real Redis server for a test: Debian's `redis-server` (installed by `tests/redis.sh`
//! when missing), listening on 127.0.0.1 only, on a free port, without persistence, in a
//! temporary directory; killed on drop.
//!
//! When Redis cannot be installed, [`RedisServer::start`] prints a loud message and
//! returns `None` (the test then skips), except under CI (`CI` set), where it fails.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running test server.
pub struct RedisServer {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs once per test binary: its tests start servers from parallel threads.
fn find_or_install() -> bool {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONCE.get_or_init(install)
}

fn install() -> bool {
    if installed() {
        return true;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/redis.sh");
    let ok = Command::new("bash")
        .arg(&script)
        .status()
        .is_ok_and(|s| s.success());
    ok && installed()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Starts a server, or `None` (with a loud message) if Redis cannot be installed.
    pub fn start() -> Option<RedisServer> {
        if !find_or_install() {
            let message = "\n!!! SKIPPED: redis-server is not installed and could not be \
                 installed (run crates/portcullis-store/tests/redis.sh as root) !!!\n";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}");
            return None;
        }
        let mut server = RedisServer {
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
        };
        server.start_again();
        Some(server)
    }

    /// Starts the server again after [`RedisServer::stop`] (same port, empty).
    pub fn start_again(&mut self) {
        let dir = self.dir.path();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .args(["--daemonize", "no", "--unixsocket", ""])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let t0 = Instant::now();
        while !self.ping() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "redis-server did not start: {}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut c).is_ok()
    }

    /// Kills the server now (connections are cut, every key is lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
