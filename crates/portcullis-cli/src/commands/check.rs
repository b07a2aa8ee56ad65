//! `portcullis check`: decides a request as the API would, with the store's keys.
//!
//! The decision is recorded as the key's usage, as a host's would be: a recorder attached
//! to the checker, given the key's stored history first (so the new-network and dormancy
//! rules see what earlier checks saw), and saved to the store (`drain_usage`) before the
//! command exits. `--client ADDR` is the client address the new-network rule compares.
//! A store that cannot save it is an error (exit 4): the decision is printed only when
//! it was recorded.
//!
//! A policy with `[[limits]]` is checked with `LocalLimits` attached, so the output shows
//! the limit state (`RateLimit-Policy`, `RateLimit`, and `Retry-After` on a 429). The
//! limiter lives in this process: it counts this one request, not earlier `check` runs
//! (a server keeps its limiter for its lifetime, or shares one through Redis).

use crate::Report;
use crate::cli::CheckArgs;
use crate::context::Context;
use crate::error::{CliError, EXIT_DENIED, EXIT_OK};
use crate::files::KEY_STDIN_LIMIT;
use crate::store::from_store;
use crate::view::{decision_json, decision_table, verdict};
use portcullis::for_bindings::{BoundedReadError, read_line_to_limit};
use portcullis::limit::LocalLimits;
use portcullis::parse_authorization_header;
use portcullis::usage::{UsageConfig, UsageRecorder};
use portcullis::{Prepared, Request};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Checks the request; exit code 0 when allowed, [`EXIT_DENIED`] when refused.
pub fn run(args: &CheckArgs, context: &Context) -> Result<Report, CliError> {
    let from_stdin = if args.key_stdin {
        Some(key_from_stdin()?)
    } else {
        None
    };
    let authorization = match (authorization(&args.headers)?, &from_stdin) {
        (Some(_), Some(_)) => {
            return Err(CliError::input(
                "invalid_header",
                "--key-stdin and an Authorization --header were both given",
            )
            .hint("give the key one way only"));
        }
        (header, None) => header,
        (None, Some(bearer)) => Some(bearer.as_str()),
    };
    let recorder = Arc::new(recorder()?);
    let mut checker = context.checker()?.with_usage(Arc::clone(&recorder));
    if !checker.policy().limits().is_empty() {
        // One request: a key and an owner per limit at most.
        let limits = LocalLimits::new(64).map_err(|e| CliError::input(e.code(), e.to_string()))?;
        checker = checker.with_limits(Arc::new(limits));
    }
    let store = context.store_read_only()?;
    let mut request = Request::new(&args.method, &args.path).https(!args.http);
    if let Some(value) = authorization {
        request = request.authorization(value);
    }
    if let Some(query) = &args.query {
        request = request.query(query);
    }
    if let Some(client) = args.client {
        request = request.client(client);
    }
    let stored = |e: portcullis_store::Error| from_store(&e, store.shown());
    if let Prepared::Lookup(pending) = checker.prepare(&request) {
        store
            .inner()
            .restore_key_usage(&recorder, &[pending.key_id()])
            .map_err(stored)?;
    }
    let decision = checker.check(&request, &store, context.now);
    store
        .inner()
        .drain_usage(&recorder, context.now)
        .map_err(|e| stored(e.error))?;
    if decision
        .warnings()
        .contains(portcullis::Warning::NeedsRehash)
        && let (Some(id), Some(Ok(token))) = (
            decision.key_id(),
            authorization.map(|value| parse_authorization_header(value.as_bytes())),
        )
    {
        // Finish a pepper migration on use: the key was just verified, so store its hash
        // under the primary pepper. The decision above stays as computed (with its warning).
        context.store()?.rehash(&id, token, &checker, context.now)?;
    }
    let human = format!(
        "{}\n{}",
        verdict(&decision),
        decision_table(&decision).render(2)
    );
    Ok(Report {
        human,
        json: decision_json(&decision),
        exit: if decision.allowed() {
            EXIT_OK
        } else {
            EXIT_DENIED
        },
    })
}

/// A recorder for one decision (one key).
fn recorder() -> Result<UsageRecorder, CliError> {
    let config = UsageConfig {
        max_keys: 4,
        ..UsageConfig::default()
    };
    UsageRecorder::new(config).map_err(|e| CliError::input(e.code(), e.to_string()))
}

/// `Bearer KEY` with the key read from the first line of stdin, at most
/// [`KEY_STDIN_LIMIT`] bytes (zeroized after use).
fn key_from_stdin() -> Result<Zeroizing<String>, CliError> {
    // Sized up front, so the key is never left behind in a reallocated buffer.
    let mut line = Zeroizing::new(Vec::with_capacity(KEY_STDIN_LIMIT + 2));
    let hint = "pipe the key in: portcullis check --key-stdin --path … < key.txt";
    read_line_to_limit(std::io::stdin().lock(), KEY_STDIN_LIMIT, &mut line).map_err(
        |e| match e {
            BoundedReadError::TooLarge { limit } => CliError::input(
                "invalid_header",
                format!(
                    "the first line of stdin is longer than the limit of {limit} bytes for a key"
                ),
            )
            .hint(hint),
            BoundedReadError::Io(e) => CliError::input(
                "invalid_header",
                format!("cannot read the key from stdin: {e}"),
            )
            .hint(hint),
        },
    )?;
    let key = std::str::from_utf8(&line).map_err(|_| {
        CliError::input("invalid_header", "the key on stdin is not UTF-8 text").hint(hint)
    })?;
    let mut header = Zeroizing::new(String::with_capacity(7 + key.len()));
    header.push_str("Bearer ");
    header.push_str(key);
    Ok(header)
}

/// The value of the one `Authorization` header among `headers` ("Name: value").
fn authorization(headers: &[String]) -> Result<Option<&str>, CliError> {
    let mut found = None;
    for header in headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(CliError::input(
                "invalid_header",
                "a --header is not of the form \"Name: value\"",
            )
            .hint("write it like --header \"Authorization: Bearer sk_live_…\""));
        };
        if !name.trim().eq_ignore_ascii_case("authorization") {
            continue;
        }
        if found.is_some() {
            return Err(
                CliError::input("invalid_header", "more than one Authorization header")
                    .hint("send a single Authorization header, as a real client must"),
            );
        }
        found = Some(value.trim_matches([' ', '\t']));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_one_authorization_header() {
        let headers = [
            "Accept: */*".to_owned(),
            "authorization:  Bearer abc ".to_owned(),
        ];
        assert_eq!(authorization(&headers), Ok(Some("Bearer abc")));
        assert_eq!(authorization(&[]), Ok(None));
        let twice = ["Authorization: a".to_owned(), "Authorization: b".to_owned()];
        assert!(authorization(&twice).is_err());
        let secret = ["Bearer sk_live_secret".to_owned()];
        let err = authorization(&secret).expect_err("no colon");
        assert!(!err.to_string().contains("sk_live_secret"));
    }
}
