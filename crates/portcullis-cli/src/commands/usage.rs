//! `portcullis keys usage ID [--hours 48]`: a key's uses per hour as a chart in the
//! terminal, its first and last use, its networks and the signals raised for it.
//!
//! - The window is the last `--hours` hours up to and including the current one (UTC),
//!   one line each: the hour, allowed and denied counts, and a bar (`█` allowed, `░`
//!   denied) scaled to the busiest hour of the window, at most [`BAR_WIDTH`] cells; a count
//!   above zero gets at least one cell, an hour without use none.
//! - What it shows is what hosts saved with `drain_usage` (the `check` command saves its
//!   own decision); counts older than the store's usage window (90 days) are pruned.
//! - `--json` prints one object: `{"key_id", "first_used", "last_used", "networks",
//!   "since", "hours": [{"hour", "allowed", "denied": {reason: n}}], "totals": {"allowed",
//!   "denied": {reason: n}, "total"}, "signals": [{"seq", "key_id", "at", "kind", …}]}` —
//!   every hour of the window (zeros included), oldest first; signals newest first. Times
//!   in Unix seconds. A stable interface, documented in the crate's README.

use crate::Report;
use crate::context::{Context, parse_key_id};
use crate::error::CliError;
use crate::store::{from_store, not_found};
use crate::table::Table;
use crate::time_text::{format_ago, format_opt, format_time};
use portcullis::Timestamp;
use portcullis::usage::{Denial, HourCounts};
use portcullis_store::UsageHistory;
use serde_json::{Value, json};

/// The widest bar, in cells.
pub const BAR_WIDTH: u64 = 40;

const HOUR: u64 = 3_600;

/// Runs `portcullis keys usage`.
pub fn run(id: &str, hours: u64, context: &Context) -> Result<Report, CliError> {
    let id = parse_key_id(id)?;
    let store = context.store_read_only()?;
    store.get(&id)?.ok_or_else(|| not_found(&id))?;
    let current = context.now.secs() / HOUR * HOUR;
    let since = Timestamp(current.saturating_sub(hours.saturating_sub(1) * HOUR));
    let history = store
        .inner()
        .key_usage(&id, since)
        .map_err(|e| from_store(&e, store.shown()))?;
    let window = every_hour(&history, since, Timestamp(current));
    let mut totals = HourCounts {
        hour: since,
        allowed: 0,
        denied: [0; Denial::COUNT],
    };
    for h in &window {
        totals.add(h);
    }
    let human = human(&history, &window, &totals, hours, context.now);
    let json = json!({
        "key_id": id.as_str(),
        "first_used": history.first_used.map(Timestamp::secs),
        "last_used": history.last_used.map(Timestamp::secs),
        "networks": history.networks.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "since": since.secs(),
        "hours": window.iter().map(HourCounts::to_json).collect::<Vec<_>>(),
        "totals": {
            "allowed": totals.allowed,
            "denied": totals.to_json()["denied"],
            "total": totals.total(),
        },
        "signals": history.signals.iter().map(|s| s.to_json()).collect::<Vec<_>>(),
    });
    Ok(Report::ok(human, json))
}

/// Every hour from `since` to `last`, the stored counts where there are some.
fn every_hour(history: &UsageHistory, since: Timestamp, last: Timestamp) -> Vec<HourCounts> {
    let mut stored = history.hours.iter().peekable();
    let mut out = Vec::new();
    let mut hour = since.secs();
    while hour <= last.secs() {
        while stored.next_if(|h| h.hour.secs() < hour).is_some() {}
        let counts = match stored.next_if(|h| h.hour.secs() == hour) {
            Some(h) => *h,
            None => HourCounts {
                hour: Timestamp(hour),
                allowed: 0,
                denied: [0; Denial::COUNT],
            },
        };
        out.push(counts);
        hour += HOUR;
    }
    out
}

fn denied(h: &HourCounts) -> u64 {
    h.total() - h.allowed
}

/// Cells for `n` of `max`: none for 0, at least one otherwise.
fn cells(n: u64, max: u64) -> usize {
    if n == 0 || max == 0 {
        return 0;
    }
    let scaled = (n * BAR_WIDTH).div_ceil(max).clamp(1, BAR_WIDTH);
    usize::try_from(scaled).unwrap_or(0)
}

fn bar(h: &HourCounts, max: u64) -> String {
    let allowed = cells(h.allowed, max);
    let denied = cells(denied(h), max).min(usize::try_from(BAR_WIDTH).unwrap_or(0));
    format!("{}{}", "█".repeat(allowed), "░".repeat(denied))
}

/// `wrong_secret 3, revoked 1`.
fn reasons(h: &HourCounts) -> String {
    Denial::ALL
        .into_iter()
        .filter(|d| h.denied(*d) > 0)
        .map(|d| format!("{} {}", d.code(), h.denied(d)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn human(
    history: &UsageHistory,
    window: &[HourCounts],
    totals: &HourCounts,
    hours: u64,
    now: Timestamp,
) -> String {
    let mut head = Table::bare();
    let networks: Vec<String> = history.networks.iter().map(ToString::to_string).collect();
    head.row(["key", history.key_id.as_str()])
        .row(["first used", &format_opt(history.first_used)])
        .row(["last used", &format_ago(history.last_used, now)])
        .row([
            "networks",
            &if networks.is_empty() {
                "-".to_owned()
            } else {
                networks.join(" ")
            },
        ]);
    let max = window.iter().map(HourCounts::total).max().unwrap_or(0);
    let mut chart = Table::new(["HOUR (UTC)", "ALLOWED", "DENIED", "█ allowed ░ denied"]);
    for h in window {
        let empty = h.total() == 0;
        let shown = |n: u64| if empty { String::new() } else { n.to_string() };
        chart.row([
            format_time(h.hour).trim_end_matches(" UTC").to_owned(),
            shown(h.allowed),
            shown(denied(h)),
            bar(h, max),
        ]);
    }
    let mut out = format!(
        "{}\nUses per hour, the last {hours} hours:\n\n{}\n",
        head.render(0),
        chart.render(2)
    );
    out.push_str(&format!(
        "Total: {} uses, {} allowed, {} denied{}.\n",
        totals.total(),
        totals.allowed,
        denied(totals),
        match reasons(totals) {
            r if r.is_empty() => String::new(),
            r => format!(" ({r})"),
        }
    ));
    if history.signals.is_empty() {
        out.push_str("\nNo unusual activity in these hours.\n");
    } else {
        let mut signals = Table::new(["TIME", "SIGNAL", "DETAILS"]);
        for s in &history.signals {
            signals.row([format_time(s.at), s.kind.clone(), details(&s.details)]);
        }
        out.push_str(&format!(
            "\nUnusual activity (newest first):\n\n{}",
            signals.render(2)
        ));
    }
    out
}

/// A signal's fields as `name value` pairs; times shown as times.
fn details(fields: &Value) -> String {
    let Value::Object(map) = fields else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| {
            let text = match (k.as_str(), v.as_u64()) {
                ("hour" | "last_used" | "since", Some(t)) => format_time(Timestamp(t)),
                _ => v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            };
            format!("{k} {text}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_hour_and_never_hide_a_use() {
        let mut h = HourCounts {
            hour: Timestamp(0),
            allowed: 1_000,
            denied: [0; Denial::COUNT],
        };
        h.denied[Denial::WrongSecret as usize] = 1;
        assert_eq!(cells(1_000, 1_001), 40);
        assert_eq!(cells(1, 1_001), 1);
        assert_eq!(cells(0, 1_001), 0);
        assert_eq!(cells(5, 0), 0);
        let drawn = bar(&h, h.total());
        assert_eq!(drawn.chars().filter(|c| *c == '█').count(), 40);
        assert_eq!(drawn.chars().filter(|c| *c == '░').count(), 1);
    }
}
