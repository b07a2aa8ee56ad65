//! Errors of the command: each has a stable code name, a message saying what was wrong,
//! a hint saying how to fix it, and an exit code.
//!
//! Messages and hints never contain a plaintext key or a pepper.

use crate::view::printable;
use serde_json::json;
use std::fmt;
use std::path::Path;

/// Exit status: success, or the request checked was allowed.
pub const EXIT_OK: u8 = 0;
/// Exit status: `check` decided the request is refused (400/401/403/503).
pub const EXIT_DENIED: u8 = 1;
/// Exit status: the command line could not be parsed (clap's own code).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: bad input — an invalid policy, unknown key id, unknown scope, bad header.
pub const EXIT_INPUT: u8 = 3;
/// Exit status: the store, pepper file or policy file is missing, corrupt, unsafe or busy.
pub const EXIT_STORE: u8 = 4;
/// Exit status: `demo` ran, but a step did not behave as the story says.
pub const EXIT_DEMO_FAILED: u8 = 5;

/// Which family of failure an error belongs to; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input from the user ([`EXIT_INPUT`]).
    Input,
    /// A problem with the store, pepper file or policy file ([`EXIT_STORE`]).
    Store,
}

/// A failed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    /// The family (decides the exit code).
    pub kind: ErrorKind,
    /// A stable machine-readable name (`store_missing`, `key_not_found`, …).
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Further lines (for example each problem of an invalid policy).
    pub details: Vec<String>,
}

impl CliError {
    /// An input error.
    pub fn input(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, code, message)
    }

    /// A store, pepper or policy-file error.
    pub fn store(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Store, code, message)
    }

    fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        CliError {
            kind,
            code,
            message: message.into(),
            hint: None,
            details: Vec::new(),
        }
    }

    /// The same error with a fix hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error with detail lines.
    pub fn details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Input => EXIT_INPUT,
            ErrorKind::Store => EXIT_STORE,
        }
    }

    /// The `--json` form: `{"error": {"code", "message", "hint", "details"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "hint": self.hint,
                "details": self.details,
            }
        })
    }

    /// An I/O failure on a file of the store.
    pub fn io(what: &str, path: &Path, err: &std::io::Error) -> Self {
        CliError::store(
            "io",
            format!("cannot access {what} {}: {err}", path.display()),
        )
        .hint("check that the path exists and that you may read and write it")
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages carry file names and the like: no control character reaches the terminal.
        write!(f, "error: {}", printable(&self.message))?;
        for line in &self.details {
            write!(f, "\n  {}", printable(line))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  fix: {}", printable(hint))?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}
