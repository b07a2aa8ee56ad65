//! # portcullis-cli
//!
//! The `portcullis` command: the product's "Settings > API Keys" page as a command line.
//! It creates keys (shown once), lists, revokes and rotates them on an embedded SQLite
//! store or a shared PostgreSQL database (`--database URL`, [`store::Store`]), decides requests with the core's checker, validates policy
//! files, rotates peppers, prints the audit log of every change and who made it
//! (`--actor`), and tells the whole story in `portcullis demo`.
//!
//! Every command prints a human table, or one JSON document with `--json`; exit codes are
//! in [`error`]. The command-line reference and the JSON shapes are in the crate's
//! README.md.

pub mod cli;
pub mod commands;
pub mod context;
pub mod error;
pub mod files;
pub mod pepper_file;
pub mod store;
pub mod table;
pub mod time_text;
pub mod view;

use clap::Parser;
use cli::{Cli, Command};
use context::{Context, Paths};
use error::CliError;
use portcullis::Timestamp;
use std::io::Write;
use std::process::ExitCode;

/// What a command produced: its human text, its JSON document and its exit code.
#[derive(Debug)]
pub struct Report {
    /// Printed without `--json`.
    pub human: String,
    /// Printed with `--json`.
    pub json: serde_json::Value,
    /// The exit code ([`error::EXIT_OK`] unless said otherwise).
    pub exit: u8,
}

impl Report {
    /// A successful report.
    pub fn ok(human: String, json: serde_json::Value) -> Self {
        Report {
            human,
            json,
            exit: error::EXIT_OK,
        }
    }
}

/// Parses the command line, runs the command, prints its output and returns the exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let context = Context {
        paths: Paths::new(
            &cli.store,
            cli.pepper_file.as_deref(),
            cli.policy.as_deref(),
        ),
        now: cli.now.map_or_else(Timestamp::now, Timestamp),
        json: cli.json,
        busy_timeout: std::time::Duration::from_secs(cli.busy_timeout),
        database: cli.database,
        actor: cli.actor.unwrap_or_else(context::default_actor),
    };
    let code = match dispatch(cli.command, &context) {
        Ok(report) => print_report(&report, context.json),
        Err(err) => print_error(&err, context.json),
    };
    ExitCode::from(code)
}

/// Runs one command.
pub fn dispatch(command: Command, context: &Context) -> Result<Report, CliError> {
    match command {
        Command::Init => commands::init::run(context),
        Command::Serve(args) => commands::serve::run(&args, context),
        Command::Oauth(oauth) => commands::oauth::run(oauth, context),
        Command::Keys(keys) => commands::keys::run(keys, context),
        Command::Check(args) => commands::check::run(&args, context),
        Command::Policy(policy) => commands::policy::run(policy, context),
        Command::Pepper(pepper) => commands::pepper::run(pepper, context),
        Command::Demo => commands::demo::run(context),
        Command::Audit(args) => commands::audit::run(&args, context),
    }
}

fn print_report(report: &Report, json: bool) -> u8 {
    let text = if json {
        format!("{:#}\n", report.json)
    } else {
        report.human.clone()
    };
    // A closed stdout (`portcullis keys list | head -1`) is not an error of the command.
    let _ = std::io::stdout().write_all(text.as_bytes());
    report.exit
}

fn print_error(err: &CliError, json: bool) -> u8 {
    if json {
        let _ = writeln!(std::io::stdout(), "{:#}", err.to_json());
    }
    let _ = writeln!(std::io::stderr(), "{err}");
    err.exit_code()
}
