//! A real PostgreSQL server for a test: found on the machine (or installed by `tests/pg.sh`),
//! initialised in a temporary directory as the `postgres` user, listening on 127.0.0.1 on a
//! free port, stopped (and its directory removed) on drop.
//!
//! When PostgreSQL cannot be installed, [`Pg::start`] prints a loud message and returns
//! `None` (the test then skips), except under CI (`CI` set), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The superuser's password in every test cluster.
pub const PASSWORD: &str = "pw-t3st-Zq81";

/// A running test server.
pub struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    root: bool,
}

fn initdb_path() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn find_or_install() -> Option<PathBuf> {
    if let Some(bin) = initdb_path() {
        return Some(bin);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg.sh");
    let installed = Command::new("bash")
        .arg(&script)
        .status()
        .is_ok_and(|s| s.success());
    if installed { initdb_path() } else { None }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Pg {
    /// Starts a server, or `None` (with a loud message) if PostgreSQL cannot be installed.
    pub fn start() -> Option<Pg> {
        let Some(bin) = find_or_install() else {
            let message = "\n!!! SKIPPED: PostgreSQL is not installed and could not be installed \
                 (run crates/portcullis-store/tests/pg.sh as root) !!!\n";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let root = is_root();
        std::fs::write(dir.path().join("pw"), PASSWORD).expect("password file");
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the test directory to postgres");
        }
        let pg = Pg {
            dir,
            bin,
            port: free_port(),
            root,
        };
        let data = pg.data();
        let pwfile = pg.dir.path().join("pw");
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "scram-sha-256",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                &format!("--pwfile={}", pwfile.display()),
            ],
        );
        pg.start_again();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let exe = self.bin.join(tool);
        let mut cmd = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        if !out.status.success() && tool == "initdb" {
            panic!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        out.status.success()
    }

    /// Starts the server again after [`Pg::stop`] (same port, same data).
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let ok = self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
        assert!(
            ok,
            "pg_ctl start failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server now (connections are cut).
    pub fn stop(&self) {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// The URL of database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// Turns TLS on with this certificate chain and key (PEM), by a configuration reload.
    pub fn enable_tls(&self, chain: &str, key: &str) {
        let (crt, pem) = (
            self.dir.path().join("server.crt"),
            self.dir.path().join("server.key"),
        );
        std::fs::write(&crt, chain).expect("certificate");
        std::fs::write(&pem, key).expect("key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pem, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if self.root {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .args([&crt, &pem])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the certificate to postgres");
        }
        // One statement at a time: ALTER SYSTEM refuses a transaction block.
        for sql in [
            format!("ALTER SYSTEM SET ssl_cert_file = '{}'", crt.display()),
            format!("ALTER SYSTEM SET ssl_key_file = '{}'", pem.display()),
            "ALTER SYSTEM SET ssl = on".to_owned(),
            "SELECT pg_reload_conf()".to_owned(),
        ] {
            self.sql("postgres", &sql);
        }
        // The reload is a signal: wait until new connections see it.
        let t0 = std::time::Instant::now();
        loop {
            let mut c =
                postgres::Client::connect(&self.url("postgres"), postgres::NoTls).expect("connect");
            let on: String = c.query_one("SHOW ssl", &[]).expect("SHOW ssl").get(0);
            if on == "on" {
                return;
            }
            assert!(t0.elapsed().as_secs() < 10, "TLS never turned on");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs SQL in database `db`.
    pub fn sql(&self, db: &str, sql: &str) {
        let mut client =
            postgres::Client::connect(&self.url(db), postgres::NoTls).expect("connect");
        client.batch_execute(sql).expect("sql");
    }

    /// Creates an empty database and returns its URL.
    pub fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
    }
}
