//! `portcullis policy check FILE`: validate a policy and show what it compiles to.
//! `portcullis policy openapi [FILE] [--merge DOCUMENT]`: its OpenAPI document, or its
//! security merged into one (`Policy::openapi`, `Policy::openapi_merged`).

use crate::Report;
use crate::cli::PolicyCommand;
use crate::context::{Context, load_policy, read_policy};
use crate::error::{CliError, EXIT_INPUT};
use crate::files::{Accept, IntoCli, read};
use crate::table::Table;
use crate::time_text::format_duration;
use crate::view::printable;
use portcullis::policy::MAX_OPENAPI_LEN;
use portcullis::policy::{Access, PathParams, UnknownRoutes};
use portcullis::{Policy, PolicyError};
use serde_json::{Value, json};
use std::path::Path;

/// Runs a `policy` subcommand.
pub fn run(command: PolicyCommand, context: &Context) -> Result<Report, CliError> {
    match command {
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Openapi { file, merge } => openapi(
            file.as_deref().unwrap_or(&context.paths.policy),
            file.is_none(),
            merge.as_deref(),
        ),
    }
}

/// The document on stdout, the same JSON with or without `--json`.
fn openapi(file: &Path, in_store: bool, merge: Option<&Path>) -> Result<Report, CliError> {
    let policy = load_policy(file, in_store)?;
    let text = match merge {
        None => policy.openapi(),
        Some(path) => {
            let bytes = read(path, Accept::RegularOrPipe, MAX_OPENAPI_LEN).map_err(|e| {
                e.into_cli("OpenAPI document", path, |e| {
                    CliError::store(
                        "io",
                        format!("cannot read OpenAPI document {}: {e}", path.display()),
                    )
                    .hint("check the file name")
                })
            })?;
            let document = String::from_utf8(bytes).map_err(|_| {
                CliError::input(
                    "bad_json",
                    format!("OpenAPI document {} is not UTF-8", path.display()),
                )
                .hint("pass a JSON document")
            })?;
            policy.openapi_merged(&document).map_err(|e| {
                CliError::input(e.code(), format!("{}: {e}", path.display()))
                    .hint("pass an OpenAPI 3.x document in JSON (convert YAML first)")
            })?
        }
    };
    // The text parses: it was just written from a JSON value.
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Report::ok(text + "\n", json))
}

fn check(file: &Path) -> Result<Report, CliError> {
    let text = read_policy(file, false)?;
    let policy = match Policy::from_toml(&text) {
        Ok(policy) => policy,
        Err(e) => return Ok(invalid(file, &e)),
    };
    let mut human = format!(
        "{}: valid\n\n{}\nScopes\n{}\nRoutes\n{}",
        printable(&file.display().to_string()),
        settings(&policy).render(2),
        scopes(&policy).render(2),
        routes(&policy).render(2),
    );
    if !policy.limits().is_empty() {
        human.push_str(&format!("\nLimits\n{}", limits(&policy).render(2)));
    }
    let warnings = policy.warnings();
    if !warnings.is_empty() {
        human.push_str(&format!("\nWarnings ({})\n", warnings.len()));
        let shown = file.display().to_string();
        for w in warnings {
            let line = format!("{shown}:{w}");
            human.push_str(&format!("  {}\n", printable(&line)));
        }
    }
    Ok(Report::ok(human, policy_json(&policy)))
}

/// The report for an invalid policy: every problem as `FILE:LINE:COLUMN: field: message`.
fn invalid(file: &Path, e: &PolicyError) -> Report {
    let shown = file.display().to_string();
    let shown = printable(&shown);
    let mut human = format!(
        "{shown}: invalid ({} problem{})\n",
        e.issues.len(),
        if e.issues.len() == 1 { "" } else { "s" }
    );
    for issue in &e.issues {
        human.push_str(&format!("  {shown}:{}\n", printable(&issue.to_string())));
    }
    let issues: Vec<Value> = e
        .issues
        .iter()
        .map(
            |i| json!({"line": i.line, "column": i.column, "field": i.field, "message": i.message}),
        )
        .collect();
    Report {
        human,
        json: json!({"valid": false, "file": file, "issues": issues}),
        exit: EXIT_INPUT,
    }
}

fn settings(p: &Policy) -> Table {
    let t = p.transport();
    let l = p.lifecycle();
    let mut table = Table::bare();
    table
        .row(["realm", p.realm()])
        .row(["key kinds", &p.format().kinds().join(", ")])
        .row(["environments", &p.format().envs().join(", ")])
        .row(["deployment env", p.deployment_env()])
        .row(["HTTPS required", yes_no(t.require_https)])
        .row([
            "paths",
            &format!(
                "{}, ';' parameters {}",
                if p.paths().case_sensitive {
                    "case-sensitive"
                } else {
                    "case-insensitive"
                },
                match p.paths().params {
                    PathParams::Refuse => "refused",
                    PathParams::Ignore => "ignored",
                }
            ),
        ])
        .row([
            "key in query",
            &format!(
                "{} (parameter {})",
                if t.allow_query_key {
                    "allowed"
                } else {
                    "refused"
                },
                t.query_param
            ),
        ])
        .row([
            "max key age",
            &l.max_age.map_or_else(
                || "none".to_owned(),
                |a| {
                    format!(
                        "{} ({})",
                        format_duration(a),
                        if l.enforce_max_age {
                            "enforced"
                        } else {
                            "warning"
                        }
                    )
                },
            ),
        ])
        .row(["expiring soon", &format_duration(l.expiring_soon)])
        .row(["unknown routes", unknown_routes(p.unknown_routes())]);
    table
}

fn scopes(p: &Policy) -> Table {
    let catalog = p.catalog();
    let mut table = Table::new(["SCOPE", "DESCRIPTION", "IMPLIES", "EFFECTIVE"]);
    for s in catalog.scopes() {
        let effective = catalog
            .expand(&s.name)
            .map(|set| catalog.canonical(&set))
            .unwrap_or_default();
        let implies = if s.implies.is_empty() {
            "-".to_owned()
        } else {
            s.implies.join(" ")
        };
        table.row([s.name.clone(), s.description.clone(), implies, effective]);
    }
    table
}

fn routes(p: &Policy) -> Table {
    let mut table = Table::new(["METHOD", "PATH", "ACCESS"]);
    for r in p.routes().routes() {
        table.row([r.method.clone(), r.path.clone(), access(p, &r.access)]);
    }
    table
}

/// The rate limits, in file order (every one that applies counts a request).
fn limits(p: &Policy) -> Table {
    let mut table = Table::new(["NAME", "PER", "RATE", "BURST", "ROUTES", "TIERS"]);
    for l in p.limits() {
        let q = l.quota();
        table.row([
            l.name().to_owned(),
            l.per().as_str().to_owned(),
            format!("{}/{}s", q.rate(), q.window()),
            q.burst().to_string(),
            l.class().unwrap_or("all").to_owned(),
            if l.tiers().is_empty() {
                "all".to_owned()
            } else {
                l.tiers().join(" ")
            },
        ]);
    }
    table
}

fn access(p: &Policy, access: &Access) -> String {
    match access {
        Access::Public => "public".to_owned(),
        Access::Requires(req) => req.canonical(p.catalog()),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn unknown_routes(u: UnknownRoutes) -> &'static str {
    match u {
        UnknownRoutes::Deny => "deny",
        UnknownRoutes::Authenticated => "authenticated",
    }
}

/// The JSON shape of a valid policy.
fn policy_json(p: &Policy) -> Value {
    let catalog = p.catalog();
    let t = p.transport();
    let l = p.lifecycle();
    json!({
        "valid": true,
        "realm": p.realm(),
        "kinds": p.format().kinds(),
        "environments": p.format().envs(),
        "deployment_env": p.deployment_env(),
        "unknown_routes": unknown_routes(p.unknown_routes()),
        "transport": {
            "require_https": t.require_https,
            "allow_query_key": t.allow_query_key,
            "query_param": t.query_param,
        },
        "lifecycle": {
            "max_age_secs": l.max_age,
            "enforce_max_age": l.enforce_max_age,
            "expiring_soon_secs": l.expiring_soon,
        },
        "paths": {
            "case_sensitive": p.paths().case_sensitive,
            "params": match p.paths().params { PathParams::Refuse => "refuse", PathParams::Ignore => "ignore" },
        },
        "warnings": p.warnings().iter().map(|w| json!({"line": w.line, "column": w.column, "field": w.field, "message": w.message})).collect::<Vec<_>>(),
        "scopes": catalog.scopes().iter().map(|s| json!({
            "name": s.name,
            "description": s.description,
            "implies": s.implies,
            "effective": catalog.expand(&s.name).map(|set| catalog.names(&set).map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "routes": p.routes().routes().iter().map(|r| json!({
            "method": r.method,
            "path": r.path,
            "access": match &r.access { Access::Public => "public", Access::Requires(_) => "key" },
            "require": match &r.access { Access::Public => None, Access::Requires(req) => Some(req.canonical(catalog)) },
        })).collect::<Vec<_>>(),
        "limits": p.limits().iter().map(|l| json!({
            "name": l.name(),
            "per": l.per().as_str(),
            "rate": l.quota().rate(),
            "window": l.quota().window(),
            "burst": l.quota().burst(),
            "routes": l.class(),
            "tiers": l.tiers(),
        })).collect::<Vec<_>>(),
    })
}
