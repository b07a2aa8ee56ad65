//! How records and decisions are shown: the `--json` shapes and the human tables.
//!
//! The JSON shapes are a stable interface, documented in the crate's README.

use crate::table::Table;
use crate::time_text::{format_opt, format_time};
use portcullis::{Decision, KeyRecord, Reason, Timestamp};
use serde_json::{Value, json};

/// A record's state at `now`: `active`, `revoked`, `expired` or `not_yet_valid`.
pub fn status(record: &KeyRecord, now: Timestamp) -> &'static str {
    if record.revoked_at().is_some_and(|t| t <= now) {
        "revoked"
    } else if record.expires_at().is_some_and(|t| t <= now) {
        "expired"
    } else if record.not_before().is_some_and(|t| now < t) {
        "not_yet_valid"
    } else {
        "active"
    }
}

/// The display form of a record's key, safe to log: `sk_live_<id>_…`.
pub fn display_key(record: &KeyRecord) -> String {
    format!("{}_{}_{}_…", record.kind(), record.env(), record.id())
}

/// The JSON shape of a record (never the hash, never a secret).
pub fn record_json(record: &KeyRecord, now: Timestamp) -> Value {
    json!({
        "id": record.id().as_str(),
        "display": display_key(record),
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

/// The columns of `keys list`.
pub fn list_table(records: &[KeyRecord], now: Timestamp) -> Table {
    let mut table = Table::new([
        "ID", "NAME", "OWNER", "ENV", "SCOPES", "STATUS", "CREATED", "EXPIRES",
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
        ]);
    }
    table
}

/// Label/value lines describing one record.
pub fn record_table(record: &KeyRecord, now: Timestamp) -> Table {
    let mut t = Table::bare();
    t.row(["id", record.id().as_str()])
        .row(["key", &display_key(record)])
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
    t
}

/// The key-error code of a malformed-key decision (`checksum`, `length`, …).
pub fn detail(decision: &Decision<'_>) -> Option<&'static str> {
    match decision.reason() {
        Reason::MalformedKey(e) => Some(e.code()),
        _ => None,
    }
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
    let warnings: Vec<_> = d.warnings().iter().map(|w| w.code()).collect();
    if !warnings.is_empty() {
        t.row(["warnings", &warnings.join(" ")]);
    }
    t
}
