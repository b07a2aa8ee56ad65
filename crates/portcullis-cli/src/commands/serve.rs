//! `portcullis serve`: the store's policy as an HTTP service (the `portcullis-server`
//! crate), until SIGINT or SIGTERM.
//!
//! What it builds from the store, so that after `portcullis init` it needs nothing else:
//! the checker (policy and peppers), a usage recorder given the keys' stored history and
//! drained to the store every 10 s, and the policy's `[[limits]]` counted in this process
//! (`LocalLimits`, credits restored from the store) or across a fleet in Redis
//! (`--redis`). When ready it prints where it listens: one line, or one JSON object with
//! `--json` (`{"http": "127.0.0.1:7878"}`), so a script that started it on port 0 can read
//! the port.

use crate::Report;
use crate::cli::ServeArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::store::{Store, from_store};
use portcullis::Checker;
use portcullis::limit::LocalLimits;
use portcullis::usage::{UsageConfig, UsageRecorder};
use portcullis_server::{Bounds, ServeConfig, Service, TrustedProxies};
use portcullis_store::fleet_limits::{FleetConfig, FleetLimits};
use std::io::Write;
use std::sync::Arc;

/// Subjects the in-process limiter holds (keys and owners).
const LOCAL_SUBJECTS: usize = 65_536;

/// Serves until a signal; the report is printed after a graceful stop.
pub fn run(args: &ServeArgs, context: &Context) -> Result<Report, CliError> {
    let config = config(args)?;
    let (store, shown) = Store::open_serving(
        &context.database_url(),
        context.busy_timeout,
        context.actor,
    )?;
    let store = Arc::new(store);
    let checker = checker(args, context, &store, &shown)?;
    let service = Service::new(Arc::new(checker), store, config);
    let json = context.json;
    portcullis_server::run_until_signal(service, |server| {
        let addr = server.http_addr();
        let mut out = std::io::stdout().lock();
        let _ = if json {
            writeln!(out, "{}", serde_json::json!({ "http": addr.to_string() }))
        } else {
            writeln!(
                out,
                "portcullis serve: listening on http://{addr} (database {shown})"
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
        trusted_proxies,
        public_url: args.public_url.clone(),
        log: args.log,
        bounds: Bounds {
            max_connections: args.max_connections.max(1),
            ..Bounds::default()
        },
        ..ServeConfig::default()
    })
}

/// The store's checker with a usage recorder and the policy's limits.
fn checker(
    args: &ServeArgs,
    context: &Context,
    store: &portcullis_store::Store,
    shown: &str,
) -> Result<Checker, CliError> {
    let stored = |e: portcullis_store::Error| from_store(&e, shown);
    let recorder = UsageRecorder::new(UsageConfig::default())
        .map_err(|e| CliError::input(e.code(), e.to_string()))?;
    store.restore_usage(&recorder).map_err(stored)?;
    let mut checker = context.checker()?.with_usage(Arc::new(recorder));
    if checker.policy().limits().is_empty() {
        return Ok(checker);
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
    Ok(checker)
}
