//! `portcullis serve`: the store's policy as an HTTP service (the `portcullis-server`
//! crate), until SIGINT or SIGTERM.
//!
//! What it builds from the store, so that after `portcullis init` it needs nothing else:
//! the checker (policy and peppers), a usage recorder given the keys' stored history and
//! drained to the store every 10 s, and the policy's `[[limits]]` counted in this process
//! (`LocalLimits`, credits restored from the store) or across a fleet in Redis
//! (`--redis`). When ready it prints where it listens: one line, or one JSON object with
//! `--json` (`{"http": "127.0.0.1:7878", "grpc": null}`; `grpc` is the address of Envoy's
//! gRPC `Authorization/Check` with `--grpc`), so a script that started it on port 0 can
//! read the port.
//!
//! The OAuth endpoints need two secret files, created (mode 0600) when missing:
//! `STORE/host-secret` (`--host-secret-file`), shared with the host, which signs the
//! signed-in-user assertions with it, and `STORE/oauth-key` (`--oauth-key-file`), which
//! signs access tokens. **Every server of a fleet needs the same two files** (and the host
//! the first): a server with other files refuses the others' assertions and tokens.

use crate::Report;
use crate::cli::ServeArgs;
use crate::commands::oauth::{HOST_SECRET_FILE, OAUTH_KEY_FILE, secret_file};
use crate::context::Context;
use crate::error::CliError;
use crate::store::{Store, from_store};
use portcullis::Checker;
use portcullis::limit::LocalLimits;
use portcullis::oauth::AccessVerifier;
use portcullis::usage::{UsageConfig, UsageRecorder};
use portcullis_server::oauth::{OAuthState, access_verifier};
use portcullis_server::{Bounds, ServeConfig, Service, TrustedProxies};
use portcullis_store::fleet_limits::{FleetConfig, FleetLimits};
use std::io::Write;
use std::sync::Arc;

/// Subjects the in-process limiter holds (keys and owners).
const LOCAL_SUBJECTS: usize = 65_536;

/// Serves until a signal; the report is printed after a graceful stop.
pub fn run(args: &ServeArgs, context: &Context) -> Result<Report, CliError> {
    let config = config(args)?;
    let (store, shown) =
        Store::open_serving(&context.database_url(), context.busy_timeout, context.actor)?;
    let store = Arc::new(store);
    let (checker, verifier) = checker(args, context, &store, &shown)?;
    let host_secret_path = args
        .host_secret_file
        .clone()
        .unwrap_or_else(|| context.paths.dir.join(HOST_SECRET_FILE));
    let (host_secret, created) = secret_file(&host_secret_path, "--host-secret-file")?;
    if created {
        created_file(args, "host_secret", &host_secret_path);
    }
    let oauth = OAuthState::new(
        checker.policy(),
        verifier,
        host_secret,
        config.public_url.as_deref(),
    )
    .map_err(|e| {
        CliError::input("invalid_argument", e.to_string())
            .hint("--public-url must be https:// (http:// only for 127.0.0.1 or localhost)")
    })?;
    // The key API and page: the host's assertions, and the admin token when its file exists.
    let admin_token = args.admin_token_file.clone().unwrap_or_else(|| {
        context
            .paths
            .dir
            .join(portcullis_server::keys_api::ADMIN_TOKEN_FILE)
    });
    let keys =
        portcullis_server::keys_api::KeysState::new(Some(oauth.host_secret.clone()), &admin_token)
            .map_err(|e| CliError::store("secret_file", e.to_string()))?;
    let service = Service::new(Arc::new(checker), store, config)
        .with_oauth(oauth)
        .with_keys(keys);
    let json = context.json;
    portcullis_server::run_until_signal(service, |server| {
        let addr = server.http_addr();
        let grpc = server.grpc_addr();
        let mut out = std::io::stdout().lock();
        let _ = if json {
            let grpc = grpc.map(|a| a.to_string());
            writeln!(
                out,
                "{}",
                serde_json::json!({ "http": addr.to_string(), "grpc": grpc })
            )
        } else {
            let grpc = grpc.map_or_else(String::new, |a| format!(", gRPC on {a}"));
            writeln!(
                out,
                "portcullis serve: listening on http://{addr}{grpc} (database {shown})"
            )
        };
        let _ = out.flush();
    })
    .map_err(|e| {
        CliError::input("serve_failed", format!("cannot serve: {e}"))
            .hint("is another process listening on that address? choose another with --listen")
    })?;
    Ok(Report::ok(
        "portcullis serve: stopped\n".to_owned(),
        serde_json::json!({ "stopped": true }),
    ))
}

fn config(args: &ServeArgs) -> Result<ServeConfig, CliError> {
    let trusted_proxies = if args.trusted_proxies.is_empty() {
        TrustedProxies::loopback()
    } else {
        TrustedProxies::new(args.trusted_proxies.clone())
            .map_err(|e| CliError::input("invalid_argument", e.to_string()))?
    };
    if let Some(url) = &args.public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(CliError::input(
            "invalid_argument",
            "--public-url must be an absolute http:// or https:// URL",
        ));
    }
    Ok(ServeConfig {
        listen: args.listen,
        grpc_listen: args.grpc,
        trusted_proxies,
        public_url: args.public_url.clone(),
        log: args.log,
        bounds: Bounds {
            max_connections: args.max_connections.max(1),
            ..Bounds::default()
        },
    })
}

/// The store's checker with a usage recorder, the policy's limits and the access tokens
/// of the OAuth endpoints (keyed by the `oauth-key` file, following the store's
/// revocations); returns the access-token verifier too.
fn checker(
    args: &ServeArgs,
    context: &Context,
    store: &portcullis_store::Store,
    shown: &str,
) -> Result<(Checker, Arc<AccessVerifier>), CliError> {
    let stored = |e: portcullis_store::Error| from_store(&e, shown);
    let recorder = UsageRecorder::new(UsageConfig::default())
        .map_err(|e| CliError::input(e.code(), e.to_string()))?;
    store.restore_usage(&recorder).map_err(stored)?;
    let key_path = args
        .oauth_key_file
        .clone()
        .unwrap_or_else(|| context.paths.dir.join(OAUTH_KEY_FILE));
    let (key, created) = secret_file(&key_path, "--oauth-key-file")?;
    if created {
        created_file(args, "oauth_key", &key_path);
    }
    let base = context.checker()?;
    let verifier = access_verifier(&key, base.policy().catalog())
        .map_err(|e| CliError::store("secret_file", e.to_string()))?;
    store.attach(verifier.clone()).map_err(stored)?;
    let mut checker = base
        .with_access_tokens(verifier.clone())
        .map_err(|e| CliError::input("policy_invalid", e.to_string()))?
        .with_usage(Arc::new(recorder));
    if checker.policy().limits().is_empty() {
        return Ok((checker, verifier));
    }
    checker = match &args.redis {
        Some(url) => {
            let limits = FleetLimits::open(url, FleetConfig::default()).map_err(stored)?;
            checker.with_limits(Arc::new(limits))
        }
        None => {
            let limits = LocalLimits::new(LOCAL_SUBJECTS)
                .map_err(|e| CliError::input(e.code(), e.to_string()))?;
            store
                .restore_credits(&limits, context.now)
                .map_err(stored)?;
            checker.with_limits(Arc::new(limits))
        }
    };
    Ok((checker, verifier))
}

/// Logs (stderr, JSON, as every line there) that a secret file was created: the host and
/// every server of a fleet need the same file.
fn created_file(args: &ServeArgs, what: &str, path: &std::path::Path) {
    portcullis_server::log::Log::new(args.log).event(
        "created_secret_file",
        serde_json::json!({
            "file": what,
            "path": path.display().to_string(),
            "note": "the host and every server of a fleet need this file",
        }),
    );
}
