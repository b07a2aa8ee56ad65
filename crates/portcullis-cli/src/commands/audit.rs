//! `portcullis audit`: the append-only log of every change to keys and peppers and who
//! made it, newest first.
//!
//! - Human output is a table (SEQ, TIME, ACTOR, ACTION, KEY, DETAIL); `?` marks an unknown
//!   actor (an entry written before actors were recorded, or by a host that named none),
//!   `-` an entry that concerns no key (a pepper rotation). A full page ends with the
//!   command that shows the next one (`--before SEQ`).
//! - `--json` prints one object, as every command does: `{"entries": [...], "next_before":
//!   SEQ|null}`, the entries an array of `{"seq", "at", "actor", "action", "key_id",
//!   "detail"}` (newest first; `at` in Unix seconds; `actor`, `key_id` and `detail` are
//!   `null` when empty); `next_before` is the `--before` of the next page when this one is
//!   full. A stable interface, documented in the crate's README.
//! - The audit holds no secret (the store guarantees it); text from outside (the actor) is
//!   shown through the table's escaping of control characters.

use crate::Report;
use crate::cli::AuditArgs;
use crate::context::{Context, parse_key_id};
use crate::error::CliError;
use crate::table::Table;
use crate::time_text::format_time;
use portcullis_store::{AuditEntry, AuditFilter};
use serde_json::{Value, json};

/// Runs `portcullis audit`.
pub fn run(args: &AuditArgs, context: &Context) -> Result<Report, CliError> {
    let key = args.key.as_deref().map(parse_key_id).transpose()?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let filter = AuditFilter {
        key,
        before: args.before,
        after: None,
        limit,
    };
    let entries = context.store_read_only()?.audit_log(&filter)?;
    let mut human = if entries.is_empty() {
        match &key {
            Some(id) => format!("No audit entries for key {id}.\n"),
            None => "No audit entries yet.\n".to_owned(),
        }
    } else {
        table(&entries).render(0)
    };
    // A full page may have older entries behind it.
    let next_before = entries
        .last()
        .filter(|_| entries.len() == limit)
        .map(|e| e.seq);
    if let Some(seq) = next_before {
        human.push_str(&format!(
            "\nOlder entries: portcullis audit --before {seq}{}\n",
            key.map(|id| format!(" --key {id}")).unwrap_or_default()
        ));
    }
    let json = json!({
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "next_before": next_before,
    });
    Ok(Report::ok(human, json))
}

fn table(entries: &[AuditEntry]) -> Table {
    let mut table = Table::new(["SEQ", "TIME", "ACTOR", "ACTION", "KEY", "DETAIL"]);
    for e in entries {
        table.row([
            e.seq.to_string(),
            format_time(e.at),
            or(&e.actor, "?"),
            e.action.clone(),
            or(&e.key_id, "-"),
            e.detail.clone(),
        ]);
    }
    table
}

fn or(text: &str, empty: &str) -> String {
    if text.is_empty() { empty } else { text }.to_owned()
}

fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    }
}

/// The JSON shape of one entry.
pub fn entry_json(e: &AuditEntry) -> Value {
    json!({
        "seq": e.seq,
        "at": e.at.secs(),
        "actor": non_empty(&e.actor),
        "action": e.action,
        "key_id": non_empty(&e.key_id),
        "detail": non_empty(&e.detail),
    })
}
