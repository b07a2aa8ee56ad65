//! How records and decisions are shown: the `--json` shapes and the human tables.
//!
//! - The JSON shapes are a stable interface, documented in the crate's README; JSON
//!   escapes every control character itself.
//! - Human output shows text from outside (key names, owners, policy descriptions, file
//!   names) through [`printable`]: control characters (C0, DEL, C1) and the Unicode
//!   bidirectional controls are shown as escapes (`\x1b`, `\n`, `\u{202e}`), so a key
//!   named `evil\e[31m` cannot colour the terminal, fake a line or reorder a table.
//!   Backslashes are left alone: the output is for people, not to be parsed back.

use crate::store::CorruptRow;
use crate::table::Table;
use crate::time_text::{format_ago, format_opt, format_time};
use portcullis::{Decision, KeyId, KeyRecord, Timestamp};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

/// `text` safe to print on a terminal: every control character and bidirectional
/// control escaped, everything else as it is (borrowed when nothing needs escaping).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && u32::from(c) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// C0, DEL, C1, and the bidirectional marks, embeddings, overrides and isolates.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// A record's state at `now`, as the core names it: `active`, `revoked`, `expired` or
/// `not_yet_valid` (what `keys list --status` filters on).
pub fn status(record: &KeyRecord, now: Timestamp) -> &'static str {
    record.state(now).as_str()
}

/// The JSON shape of a record (never the hash, never a secret).
pub fn record_json(record: &KeyRecord, now: Timestamp) -> Value {
    json!({
        "id": record.id().as_str(),
        "display": record.display().to_string(),
        "name": record.name(),
        "owner": record.owner(),
        "kind": record.kind(),
        "env": record.env(),
        "scopes": record.scopes(),
        "status": status(record, now),
        "created_at": record.created_at().secs(),
        "not_before": record.not_before().map(Timestamp::secs),
        "expires_at": record.expires_at().map(Timestamp::secs),
        "revoked_at": record.revoked_at().map(Timestamp::secs),
        "rotated_from": record.rotated_from().map(|id| id.as_str().to_owned()),
        "pepper_id": record.stored_hash().ok().and_then(|h| h.pepper_id().map(str::to_owned)),
    })
}

/// The JSON shape of a record as `keys list` and `keys show` print it: [`record_json`]
/// and `last_used` (Unix seconds of its last authenticated use on record, or `null`).
pub fn listed_json(record: &KeyRecord, now: Timestamp, last_used: Option<Timestamp>) -> Value {
    let mut v = record_json(record, now);
    v["last_used"] = json!(last_used.map(Timestamp::secs));
    v
}

/// The JSON shape of a row that cannot be decoded: `{"id", "code": "corrupt_record",
/// "message", "revoked_at"}`.
pub fn corrupt_json(row: &CorruptRow, database: &str) -> Value {
    json!({
        "id": row.id,
        "code": "corrupt_record",
        "message": row.message(database),
        "revoked_at": row.revoked_at.map(Timestamp::secs),
    })
}

/// The columns of `keys list`; a corrupt row shows its id and status `corrupt` (or
/// `revoked (corrupt)`), `?` elsewhere. LAST USED is how long ago the key's last
/// authenticated use was (`never`).
pub fn list_table(
    records: &[KeyRecord],
    corrupt: &[CorruptRow],
    last_used: &HashMap<KeyId, Timestamp>,
    now: Timestamp,
) -> Table {
    let mut table = Table::new([
        "ID",
        "NAME",
        "OWNER",
        "ENV",
        "SCOPES",
        "STATUS",
        "CREATED",
        "EXPIRES",
        "LAST USED",
    ]);
    for r in records {
        table.row([
            r.id().as_str().to_owned(),
            r.name().to_owned(),
            r.owner().to_owned(),
            r.env().to_owned(),
            r.scopes().join(","),
            status(r, now).to_owned(),
            format_time(r.created_at()),
            format_opt(r.expires_at()),
            format_ago(last_used.get(&r.id()).copied(), now),
        ]);
    }
    for c in corrupt {
        let state = if c.revoked_at.is_some() {
            "revoked (corrupt)"
        } else {
            "corrupt"
        };
        table.row([c.id.as_str(), "?", "?", "?", "?", state, "?", "?", "?"]);
    }
    table
}

/// Label/value lines describing one record.
pub fn record_table(record: &KeyRecord, now: Timestamp) -> Table {
    let mut t = Table::bare();
    t.row(["id", record.id().as_str()])
        .row(["key", &record.display().to_string()])
        .row(["name", record.name()])
        .row(["owner", record.owner()])
        .row(["scopes", &record.scopes().join(", ")])
        .row(["status", status(record, now)])
        .row(["created", &format_time(record.created_at())])
        .row(["expires", &format_opt(record.expires_at())])
        .row(["revoked", &format_opt(record.revoked_at())]);
    if let Some(from) = record.rotated_from() {
        t.row(["rotated from", from.as_str()]);
    }
    if let Some(tier) = tier(record) {
        t.row(["tier", tier]);
    }
    t
}

/// The record's tier (its metadata `tier`, when a string), which picks its limits.
pub fn tier(record: &KeyRecord) -> Option<&str> {
    record.metadata().get("tier").and_then(|t| t.as_str())
}

/// The key-error code of a malformed-key decision (`checksum`, `length`, …), the path
/// error code of an ambiguous-path one (`dot_segment`, …).
pub fn detail(decision: &Decision<'_>) -> Option<&'static str> {
    decision.reason().detail()
}

/// The JSON shape of a decision (the same fields as the conformance vectors' `expect`,
/// plus `required` and `route`).
pub fn decision_json(d: &Decision<'_>) -> Value {
    json!({
        "allowed": d.allowed(),
        "status": d.status(),
        "error": d.error().map(|e| e.as_str()),
        "reason": d.reason().code(),
        "detail": detail(d),
        "www_authenticate": d.www_authenticate().map(|w| w.to_string()),
        "key_id": d.key_id().map(|id| id.as_str().to_owned()),
        "owner": d.owner(),
        "scopes": d.scopes().collect::<Vec<_>>(),
        "missing": d.missing().collect::<Vec<_>>(),
        "required": d.required().collect::<Vec<_>>(),
        "warnings": d.warnings().iter().map(|w| w.code()).collect::<Vec<_>>(),
        "route": d.route().map(|(method, path)| json!({"method": method, "path": path})),
        "retry_after": d.retry_after(),
        "rate_limit_policy": d.rate_limit_policy(),
        "rate_limit": d.rate_limit(),
    })
}

/// A one-line verdict: `ALLOWED 200` or `DENIED 403 insufficient_scope`.
pub fn verdict(d: &Decision<'_>) -> String {
    let word = if d.allowed() { "ALLOWED" } else { "DENIED" };
    let reason = d.reason().code();
    match detail(d) {
        Some(detail) => format!("{word} {} {reason} ({detail})", d.status()),
        None => format!("{word} {} {reason}", d.status()),
    }
}

/// Label/value lines describing a decision (only the fields that apply).
pub fn decision_table(d: &Decision<'_>) -> Table {
    let mut t = Table::bare();
    if let Some((method, path)) = d.route() {
        t.row(["route", &format!("{method} {path}")]);
    }
    if let Some(id) = d.key_id() {
        t.row(["key", id.as_str()]);
    }
    if let Some(owner) = d.owner() {
        t.row(["owner", owner]);
    }
    let scopes: Vec<_> = d.scopes().collect();
    if !scopes.is_empty() {
        t.row(["scopes", &scopes.join(" ")]);
    }
    let missing: Vec<_> = d.missing().collect();
    if !missing.is_empty() {
        t.row(["missing", &missing.join(" ")]);
    }
    if let Some(error) = d.error() {
        t.row(["error", error.as_str()]);
    }
    if let Some(www) = d.www_authenticate() {
        t.row(["WWW-Authenticate", &www.to_string()]);
    }
    if let Some(secs) = d.retry_after() {
        t.row(["Retry-After", &secs.to_string()]);
    }
    if let Some(policy) = d.rate_limit_policy() {
        t.row(["RateLimit-Policy", &policy]);
    }
    if let Some(state) = d.rate_limit() {
        t.row(["RateLimit", &state]);
    }
    let warnings: Vec<_> = d.warnings().iter().map(|w| w.code()).collect();
    if !warnings.is_empty() {
        t.row(["warnings", &warnings.join(" ")]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(
            printable("evil\u{1b}[31mRED\nline2"),
            "evil\\x1b[31mRED\\nline2"
        );
        assert_eq!(printable("a\u{7f}b\u{9b}c\td"), "a\\x7fb\\x9bc\\td");
        assert_eq!(printable("x\u{202e}y\u{2066}"), "x\\u{202e}y\\u{2066}");
        assert!(matches!(
            printable("Production Integration — 生产 ✓"),
            Cow::Borrowed(_)
        ));
    }
}
