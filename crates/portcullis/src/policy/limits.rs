//! `[[limits]]` and the routes' `class`: which rate limits apply to which requests.
//!
//! ```toml
//! [[limits]]
//! name = "per_key"      # letters, digits, '_' or '-'; RateLimit-Policy names it
//! per = "key"           # or "owner": all keys of an organisation share it
//! rate = 100            # requests per window
//! window = 1            # seconds (default 1, at most 86,400)
//! burst = 100           # requests at once (default: rate)
//! routes = "write"      # optional: only routes of this class
//! tiers = ["free"]      # optional: only keys whose record's metadata.tier is one of these
//! ```
//!
//! A request's class is its route's `class` when the route names one, else `read` for
//! `GET`, `HEAD` and `OPTIONS` and `write` for every other method.

use super::file::Issues;
use crate::limit::{Limit, Per, Quota};
use serde::Deserialize;
use toml::Spanned;

/// Most limits in a policy.
pub const MAX_LIMITS: usize = 16;
/// Most route classes (with `read` and `write`).
pub const MAX_CLASSES: usize = 64;

/// The class of a request whose route names none: `read` or `write` by method.
pub(crate) const READ: u8 = 0;
pub(crate) const WRITE: u8 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitEntry {
    name: Spanned<String>,
    #[serde(default = "default_per")]
    per: Spanned<String>,
    rate: Spanned<u32>,
    #[serde(default = "one")]
    window: u32,
    burst: Option<u32>,
    routes: Option<Spanned<String>>,
    #[serde(default = "no_tiers")]
    tiers: Spanned<Vec<String>>,
}

fn no_tiers() -> Spanned<Vec<String>> {
    Spanned::new(0..0, Vec::new())
}

fn default_per() -> Spanned<String> {
    Spanned::new(0..0, "key".into())
}

fn one() -> u32 {
    1
}

/// Whether `name` is a limit, class or tier name: 1-32 of `[A-Za-z0-9_-]`.
pub(crate) fn is_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The class names (`read`, `write`, then the routes' own in order of appearance) and each
/// route's class (`None`: by its request's method).
pub(super) fn classes(
    declared: &[(usize, Option<Spanned<String>>)],
    issues: &mut Issues<'_>,
) -> (Vec<String>, Vec<Option<u8>>) {
    let mut names = vec!["read".to_owned(), "write".to_owned()];
    let mut of_route = Vec::with_capacity(declared.len());
    for (entry, class) in declared {
        let Some(class) = class else {
            of_route.push(None);
            continue;
        };
        let name = class.get_ref();
        if !is_name(name) {
            let field = format!("routes[{entry}].class");
            issues.push(class.span(), field, "use 1-32 letters, digits, '_' or '-'");
            of_route.push(None);
            continue;
        }
        let id = match names.iter().position(|n| n == name) {
            Some(id) => id,
            None if names.len() < MAX_CLASSES => {
                names.push(name.clone());
                names.len() - 1
            }
            None => {
                let field = format!("routes[{entry}].class");
                issues.push(
                    class.span(),
                    field,
                    format!("at most {MAX_CLASSES} classes"),
                );
                0
            }
        };
        of_route.push(u8::try_from(id).ok());
    }
    (names, of_route)
}

/// The limits, every problem reported.
pub(super) fn limits(
    entries: &[LimitEntry],
    classes: &[String],
    issues: &mut Issues<'_>,
) -> Vec<Limit> {
    if entries.len() > MAX_LIMITS {
        let span = entries.get(MAX_LIMITS).map_or(0..0, |e| e.name.span());
        issues.push(span, "limits", format!("at most {MAX_LIMITS} limits"));
    }
    let mut out: Vec<Limit> = Vec::new();
    for (i, e) in entries.iter().enumerate().take(MAX_LIMITS) {
        let name = e.name.get_ref();
        if !is_name(name) {
            let message = "use 1-32 letters, digits, '_' or '-'";
            issues.push(e.name.span(), format!("limits[{i}].name"), message);
        } else if out.iter().any(|l| &l.name == name) {
            issues.push(e.name.span(), format!("limits[{i}].name"), "declared twice");
        }
        let per = match e.per.get_ref().as_str() {
            "key" => Per::Key,
            "owner" => Per::Owner,
            other => {
                let message = format!("{other:?} is not \"key\" or \"owner\"");
                issues.push(e.per.span(), format!("limits[{i}].per"), message);
                Per::Key
            }
        };
        let burst = e.burst.unwrap_or(*e.rate.get_ref());
        let quota = match Quota::new(*e.rate.get_ref(), e.window, burst) {
            Ok(q) => q,
            Err(err) => {
                issues.push(e.rate.span(), format!("limits[{i}]"), err.to_string());
                continue;
            }
        };
        let class_id = e.routes.as_ref().and_then(|c| {
            let id = classes.iter().position(|n| n == c.get_ref());
            if id.is_none() {
                let message = format!(
                    "{:?} is not a route class: use \"read\", \"write\" or a routes' `class`",
                    c.get_ref()
                );
                issues.push(c.span(), format!("limits[{i}].routes"), message);
            }
            id.and_then(|id| u8::try_from(id).ok())
        });
        if let Some(bad) = e.tiers.get_ref().iter().find(|t| !is_name(t)) {
            let message = format!("tier {bad:?}: use 1-32 letters, digits, '_' or '-'");
            issues.push(e.tiers.span(), format!("limits[{i}].tiers"), message);
        }
        out.push(Limit {
            name: name.clone(),
            per,
            quota,
            class: e.routes.as_ref().map(|c| c.get_ref().clone()),
            class_id,
            tiers: e.tiers.get_ref().clone(),
        });
    }
    out
}
