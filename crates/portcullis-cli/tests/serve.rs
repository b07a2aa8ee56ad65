//! `portcullis serve` as a user runs it: after `portcullis init` and nothing else, it
//! serves /auth, logs JSON lines without any secret, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn portcullis(store: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .arg("--store")
        .arg(store)
        .env_remove("PORTCULLIS_STORE")
        .env_remove("PORTCULLIS_PEPPER_FILE")
        .env_remove("PORTCULLIS_POLICY")
        .env_remove("PORTCULLIS_DATABASE_URL")
        .env_remove("PORTCULLIS_PUBLIC_URL")
        .env_remove("PORTCULLIS_REDIS_URL");
    command
}

fn status(addr: &str, head: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "{}\r\nConnection: close\r\n\r\n",
        head.replace('\n', "\r\n")
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line")
}

#[test]
fn serve_works_after_init_logs_no_secret_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    assert!(
        portcullis(&store)
            .arg("init")
            .output()
            .expect("init")
            .status
            .success()
    );
    let created = portcullis(&store)
        .args([
            "--json",
            "keys",
            "create",
            "--name",
            "t",
            "--scopes",
            "claims:read",
        ])
        .output()
        .expect("create");
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    let key = created["api_key"].as_str().expect("api_key").to_owned();
    let secret = &key[25..];

    let mut child = portcullis(&store)
        .args(["--json", "serve", "--listen", "127.0.0.1:0", "--log", "all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("ready line");
    let ready: serde_json::Value = serde_json::from_str(&ready).expect("ready JSON");
    let addr = ready["http"].as_str().expect("http address").to_owned();

    let nginx = |uri: &str, auth: &str| {
        format!(
            "GET /auth HTTP/1.1\nHost: a\nX-Original-URI: {uri}\nX-Original-Method: GET\nX-Forwarded-Proto: https{auth}"
        )
    };
    let bearer = format!("\nAuthorization: Bearer {key}");
    assert_eq!(status(&addr, &nginx("/v1/claims", &bearer)), 200);
    assert_eq!(
        status(&addr, &nginx(&format!("/v1/claims?api_key={key}"), "")),
        400
    );
    let wrong = format!(
        "\nAuthorization: Bearer {}",
        key.replace(secret, &"A".repeat(secret.len()))
    );
    assert_eq!(status(&addr, &nginx("/v1/claims", &wrong)), 401);
    assert_eq!(status(&addr, "GET /healthz HTTP/1.1\nHost: a"), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}: {stderr}");
    assert!(rest.contains("\"stopped\""), "{rest}");

    assert!(
        !stderr.contains(secret),
        "a secret reached the log: {stderr}"
    );
    assert!(
        !stderr.contains("api_key"),
        "a query reached the log: {stderr}"
    );
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let reasons: Vec<&str> = lines.iter().filter_map(|l| l["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        ["allowed", "query_refused", "malformed_key"],
        "{stderr}"
    );
    assert!(lines.iter().any(|l| l["event"] == "stopped"), "{stderr}");
}
