//! Running the `portcullis` binary on a temporary store.

#![allow(dead_code, unused_imports)]

#[path = "../../../portcullis/tests/common/policy.rs"]
mod policy;

pub use policy::TestPolicy;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fixed "now" for deterministic tests (2027-01-15 08:00 UTC).
pub const NOW: u64 = 1_800_000_000;

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// A temporary store directory.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// `--database URL` given to every command (`None`: the store directory's file).
    pub database: Option<String>,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
            database: None,
        }
    }

    /// A sandbox whose commands use the database at `url`.
    pub fn with_database(url: &str) -> Self {
        Sandbox {
            database: Some(url.to_owned()),
            ..Sandbox::new()
        }
    }

    /// A sandbox with an initialised store.
    pub fn initialised() -> Self {
        let s = Sandbox::new();
        let run = s.run(&["init"]);
        assert_eq!(run.code, 0, "init: {run:?}");
        s
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Runs `portcullis --store STORE --now NOW ARGS…`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_at(NOW, args)
    }

    /// Runs at another time.
    pub fn run_at(&self, now: u64, args: &[&str]) -> Run {
        let mut all: Vec<&str> = Vec::new();
        if let Some(url) = &self.database {
            all.extend(["--database", url.as_str()]);
        }
        all.extend_from_slice(args);
        run_in(&self.store(), now, &all)
    }

    /// Runs with `--json` and expects exit code `code`.
    pub fn json(&self, code: i32, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        run.json()
    }

    /// Creates a key; returns (plaintext, id).
    pub fn create(&self, name: &str, scopes: &str) -> (String, String) {
        let v = self.json(0, &["keys", "create", "--name", name, "--scopes", scopes]);
        let key = v["api_key"].as_str().expect("api_key").to_owned();
        let id = v["record"]["id"].as_str().expect("id").to_owned();
        (key, id)
    }

    /// `check GET path` with a bearer key, as JSON; returns (exit code, decision).
    pub fn check_at(&self, now: u64, method: &str, path: &str, key: &str) -> (i32, Value) {
        let header = format!("--header=Authorization: Bearer {key}");
        let run = self.run_at(
            now,
            &[
                "--json", "check", "--method", method, "--path", path, &header,
            ],
        );
        (run.code, run.json())
    }
}

/// Runs the binary with a store directory and a fixed time.
pub fn run_in(store: &Path, now: u64, args: &[&str]) -> Run {
    run_with_stdin(store, now, args, "")
}

/// [`run_in`] with `input` on stdin.
pub fn run_with_stdin(store: &Path, now: u64, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--store")
        .arg(store)
        .arg("--now")
        .arg(now.to_string())
        .args(args)
        .env_remove("PORTCULLIS_STORE")
        .env_remove("PORTCULLIS_PEPPER_FILE")
        .env_remove("PORTCULLIS_POLICY")
        .env_remove("PORTCULLIS_BUSY_TIMEOUT")
        .env_remove("PORTCULLIS_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run portcullis");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    let out: Output = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The sorted keys of a JSON object.
pub fn keys_of(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Asserts that `v` is an object with exactly these keys.
pub fn assert_shape(v: &Value, expected: &[&str]) {
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(keys_of(v), want, "shape of {v}");
}

/// The documented fields of a record.
pub const RECORD_FIELDS: &[&str] = &[
    "id",
    "display",
    "name",
    "owner",
    "kind",
    "env",
    "scopes",
    "status",
    "created_at",
    "not_before",
    "expires_at",
    "revoked_at",
    "rotated_from",
    "pepper_id",
];

/// The documented fields of a decision.
pub const DECISION_FIELDS: &[&str] = &[
    "allowed",
    "status",
    "error",
    "reason",
    "detail",
    "www_authenticate",
    "key_id",
    "owner",
    "scopes",
    "missing",
    "required",
    "warnings",
    "route",
    "retry_after",
    "rate_limit_policy",
    "rate_limit",
];
