//! Structured logs: one JSON object a line on standard error.
//!
//! A line holds the time, the event, the endpoint, the original method and path (never the
//! query, which may carry `api_key=`), the status, the reason and its detail, the key id
//! (public by design) and the client's address. Never a header value, a body or a secret.

use crate::forwarded::Original;
use crate::verdict::Verdict;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest path written to a log line, in bytes (longer ones are cut).
pub const MAX_LOGGED_PATH: usize = 256;

/// What is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Refused decisions, errors and lifecycle events (the default).
    Refusals,
    /// Every decision too.
    All,
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(LogLevel::Off),
            "refusals" => Ok(LogLevel::Refusals),
            "all" => Ok(LogLevel::All),
            _ => Err("expected off, refusals or all".to_owned()),
        }
    }
}

/// The server's log.
#[derive(Debug)]
pub struct Log {
    level: LogLevel,
}

impl Log {
    /// A log at `level`.
    pub fn new(level: LogLevel) -> Self {
        Log { level }
    }

    /// Logs a decision (refusals always, allowed ones at [`LogLevel::All`]).
    pub fn decision(
        &self,
        endpoint: &str,
        original: &Original<'_>,
        verdict: &Verdict,
        took: Duration,
    ) {
        let wanted = match self.level {
            LogLevel::Off => false,
            LogLevel::Refusals => !verdict.allowed(),
            LogLevel::All => true,
        };
        if wanted {
            self.write(json!({
                "event": "decision",
                "endpoint": endpoint,
                "method": original.method,
                "path": cut(original.path),
                "status": verdict.status,
                "reason": verdict.reason,
                "detail": verdict.detail,
                "key_id": verdict.key_id,
                "client": original.client.to_string(),
                "micros": took.as_micros() as u64,
            }));
        }
    }

    /// Logs an event of the server's own (started, stopping, an error), unless off.
    pub fn event(&self, event: &str, fields: serde_json::Value) {
        if self.level != LogLevel::Off {
            let mut line = json!({ "event": event });
            if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields)
            {
                line.extend(fields);
            }
            self.write(line);
        }
    }

    fn write(&self, mut line: serde_json::Value) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if let Some(obj) = line.as_object_mut() {
            obj.insert("ts_ms".to_owned(), json!(ms));
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// A path cut to [`MAX_LOGGED_PATH`] bytes at a character boundary.
fn cut(path: &str) -> &str {
    if path.len() <= MAX_LOGGED_PATH {
        return path;
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}
