//! Loading a policy from TOML, validating everything and reporting each error with its
//! line and column.
//!
//! Every problem is reported in one pass: a scope that cannot be declared (a duplicate, a
//! bad name) or an implication that matches nothing is reported and left out, and the
//! routes are still checked against the scopes that remain. Only a TOML syntax or schema
//! error (an unknown field, a wrong type) stops the loading at the first one, as the TOML
//! reader does. Warnings (the policy loads, but deserves a look) are kept on the policy.

use super::routes::{Access, Route, RouteTable};
use super::{Lifecycle, Policy, Transport, UnknownRoutes};
use crate::format::KeyFormat;
use crate::oauth::OAuthConfig;
use crate::oauth::config::MAX_CODE_TTL;
use crate::oauth::server::is_scope_token;
use crate::path::{PathParams, PathRules};
use crate::scope::{Catalog, CatalogBuilder, Requirement};
use crate::time::DAY;
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// Largest policy text accepted, in bytes.
pub const MAX_POLICY_LEN: usize = 4 << 20;

/// One problem in a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyIssue {
    /// 1-based line (0 when the location is unknown).
    pub line: usize,
    /// 1-based column, in characters (0 when unknown).
    pub column: usize,
    /// The field, like `routes[2].require` (empty when unknown).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for PolicyIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found while loading a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The problems, in file order.
    pub issues: Vec<PolicyIssue>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid policy ({} problem{})",
            self.issues.len(),
            if self.issues.len() == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    service: Service,
    #[serde(default)]
    transport: TransportSection,
    #[serde(default)]
    lifecycle: LifecycleSection,
    #[serde(default)]
    paths: PathsSection,
    #[serde(default)]
    oauth: Option<OAuthSection>,
    #[serde(default)]
    scopes: Vec<ScopeEntry>,
    #[serde(default)]
    routes: Vec<RouteEntry>,
    #[serde(default)]
    limits: Vec<super::limits::LimitEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Service {
    #[serde(default = "default_realm")]
    realm: Spanned<String>,
    #[serde(default = "default_kinds")]
    kinds: Spanned<Vec<String>>,
    #[serde(default = "default_envs")]
    environments: Spanned<Vec<String>>,
    deployment_env: Option<Spanned<String>>,
    #[serde(default = "default_unknown")]
    unknown_routes: Spanned<String>,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            realm: default_realm(),
            kinds: default_kinds(),
            environments: default_envs(),
            deployment_env: None,
            unknown_routes: default_unknown(),
        }
    }
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}
fn default_realm() -> Spanned<String> {
    unspanned("api".into())
}
fn default_kinds() -> Spanned<Vec<String>> {
    unspanned(vec!["sk".into()])
}
fn default_envs() -> Spanned<Vec<String>> {
    unspanned(vec!["live".into(), "test".into()])
}
fn no_implies() -> Spanned<Vec<String>> {
    unspanned(Vec::new())
}
fn default_unknown() -> Spanned<String> {
    unspanned("deny".into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransportSection {
    #[serde(default = "yes")]
    require_https: bool,
    #[serde(default)]
    allow_query_key: bool,
    #[serde(default = "default_param")]
    query_param: Spanned<String>,
}

impl Default for TransportSection {
    fn default() -> Self {
        TransportSection {
            require_https: true,
            allow_query_key: false,
            query_param: default_param(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_param() -> Spanned<String> {
    unspanned("api_key".into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleSection {
    #[serde(default = "default_max_age")]
    max_age_days: u32,
    #[serde(default)]
    enforce_max_age: bool,
    #[serde(default = "default_soon")]
    expiring_soon_days: u32,
    #[serde(default)]
    accept_legacy_sha256: bool,
}

impl Default for LifecycleSection {
    fn default() -> Self {
        LifecycleSection {
            max_age_days: default_max_age(),
            enforce_max_age: false,
            expiring_soon_days: default_soon(),
            accept_legacy_sha256: false,
        }
    }
}

fn default_max_age() -> u32 {
    90
}
fn default_soon() -> u32 {
    7
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathsSection {
    #[serde(default = "yes")]
    case_sensitive: bool,
    #[serde(default = "default_params")]
    params: Spanned<String>,
}

impl Default for PathsSection {
    fn default() -> Self {
        PathsSection {
            case_sensitive: true,
            params: default_params(),
        }
    }
}

fn default_params() -> Spanned<String> {
    unspanned("refuse".into())
}

/// `[oauth]`: the OAuth engine's settings; every default is [`OAuthConfig::default`].
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthSection {
    code_ttl: Option<Spanned<u64>>,
    access_ttl: Option<Spanned<u64>>,
    refresh_idle_ttl: Option<Spanned<u64>>,
    refresh_max_ttl: Option<Spanned<u64>>,
    refresh_grace: Option<u64>,
    allow_plain_pkce: Option<bool>,
    require_pkce_for_confidential: Option<bool>,
    allow_body_credentials: Option<bool>,
    default_scope: Option<Spanned<String>>,
}

/// The engine's configuration from `[oauth]`, each problem reported with its location.
fn oauth_config(
    section: &OAuthSection,
    catalog: Option<&Catalog>,
    issues: &mut Issues<'_>,
) -> OAuthConfig {
    let d = OAuthConfig::default();
    let mut seconds = |value: &Option<Spanned<u64>>, field: &str, max: u64, default: u64| {
        let Some(v) = value else { return default };
        if *v.get_ref() == 0 || *v.get_ref() > max {
            issues.push(
                v.span(),
                format!("oauth.{field}"),
                format!("use 1 to {max} seconds"),
            );
        }
        *v.get_ref()
    };
    let code_ttl = seconds(&section.code_ttl, "code_ttl", MAX_CODE_TTL, d.code_ttl);
    let access_ttl = seconds(&section.access_ttl, "access_ttl", 366 * DAY, d.access_ttl);
    let refresh_idle_ttl = seconds(
        &section.refresh_idle_ttl,
        "refresh_idle_ttl",
        3660 * DAY,
        d.refresh_idle_ttl,
    );
    let refresh_max_ttl = seconds(
        &section.refresh_max_ttl,
        "refresh_max_ttl",
        3660 * DAY,
        d.refresh_max_ttl,
    );
    let default_scope = section.default_scope.as_ref().map(|text| {
        let known = |t: &str| catalog.is_none_or(|c| c.expand(t).is_some());
        let ok = text
            .get_ref()
            .split(' ')
            .all(|t| is_scope_token(t) && known(t));
        if !ok {
            issues.push(
                text.span(),
                "oauth.default_scope",
                "use scope names of the catalog separated by single spaces",
            );
        }
        text.get_ref().clone()
    });
    OAuthConfig {
        code_ttl,
        access_ttl,
        refresh_idle_ttl,
        refresh_max_ttl,
        refresh_grace: section.refresh_grace.unwrap_or(d.refresh_grace),
        allow_plain_pkce: section.allow_plain_pkce.unwrap_or(d.allow_plain_pkce),
        require_pkce_for_confidential: section
            .require_pkce_for_confidential
            .unwrap_or(d.require_pkce_for_confidential),
        allow_body_credentials: section
            .allow_body_credentials
            .unwrap_or(d.allow_body_credentials),
        default_scope,
        ..d
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeEntry {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "no_implies")]
    implies: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    method: Spanned<String>,
    path: Spanned<String>,
    require: Option<Spanned<String>>,
    access: Option<Spanned<String>>,
    class: Option<Spanned<String>>,
}

/// Collects issues with locations computed from byte spans.
pub(super) struct Issues<'t> {
    text: &'t str,
    issues: Vec<PolicyIssue>,
}

impl Issues<'_> {
    pub(super) fn push(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let issue = self.issue(span, field, message);
        self.issues.push(issue);
    }

    fn issue(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> PolicyIssue {
        let (line, column) = if span.is_empty() && span.start == 0 {
            (0, 0)
        } else {
            line_col(self.text, span.start)
        };
        PolicyIssue {
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses and validates policy text.
pub(super) fn load(text: &str) -> Result<Policy, PolicyError> {
    let mut issues = Issues {
        text,
        issues: Vec::new(),
    };
    if text.len() > MAX_POLICY_LEN {
        issues.push(
            0..0,
            "",
            format!("policy is larger than {MAX_POLICY_LEN} bytes"),
        );
        return Err(PolicyError {
            issues: issues.issues,
        });
    }
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            issues.push(e.span().unwrap_or(0..0), "", e.message().trim().to_owned());
            return Err(PolicyError {
                issues: issues.issues,
            });
        }
    };
    let format = key_format(&file.service, &mut issues);
    let deployment_env = deployment_env(&file.service, &mut issues);
    let unknown_routes = unknown_routes(&file.service, &mut issues);
    let realm = file.service.realm.get_ref().clone();
    if realm.is_empty()
        || !realm
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        issues.push(
            file.service.realm.span(),
            "service.realm",
            "use printable ASCII without '\"' or '\\'",
        );
    }
    let param = file.transport.query_param.get_ref().clone();
    if param.is_empty()
        || !param
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        issues.push(
            file.transport.query_param.span(),
            "transport.query_param",
            "use letters, digits, '-', '_' or '.'",
        );
    }
    let rules = path_rules(&file.paths, &mut issues);
    let catalog = catalog(&file.scopes, &mut issues);
    let routes = catalog
        .as_ref()
        .map(|c| routes(c, rules, &file.routes, &mut issues));
    let no_oauth = OAuthSection::default();
    let oauth_section = file.oauth.as_ref().unwrap_or(&no_oauth);
    let oauth = oauth_config(oauth_section, catalog.as_ref(), &mut issues);
    match (format, deployment_env, unknown_routes, catalog, routes) {
        (
            Some(format),
            Some(deployment_env),
            Some(unknown_routes),
            Some(catalog),
            Some((routes, entries)),
        ) if issues.issues.is_empty() => {
            let warnings = overrides(&routes, &entries, &file.routes, &issues);
            let declared: Vec<_> = entries
                .iter()
                .map(|&i| (i, file.routes.get(i).and_then(|e| e.class.clone())))
                .collect();
            let (class_names, route_classes) = super::limits::classes(&declared, &mut issues);
            let limits = super::limits::limits(&file.limits, &class_names, &mut issues);
            if !issues.issues.is_empty() {
                return Err(PolicyError {
                    issues: issues.issues,
                });
            }
            Ok(Policy {
                realm,
                format,
                deployment_env,
                transport: Transport {
                    require_https: file.transport.require_https,
                    allow_query_key: file.transport.allow_query_key,
                    query_param: param,
                },
                lifecycle: Lifecycle {
                    max_age: (file.lifecycle.max_age_days > 0)
                        .then(|| u64::from(file.lifecycle.max_age_days) * DAY),
                    enforce_max_age: file.lifecycle.enforce_max_age,
                    expiring_soon: u64::from(file.lifecycle.expiring_soon_days) * DAY,
                    accept_legacy_sha256: file.lifecycle.accept_legacy_sha256,
                },
                catalog,
                routes,
                unknown_routes,
                oauth,
                oauth_declared: file.oauth.is_some(),
                warnings,
                limits,
                route_classes,
                class_names,
            })
        }
        _ => Err(PolicyError {
            issues: issues.issues,
        }),
    }
}

fn key_format(service: &Service, issues: &mut Issues<'_>) -> Option<KeyFormat> {
    match KeyFormat::new(
        service.kinds.get_ref().clone(),
        service.environments.get_ref().clone(),
    ) {
        Ok(f) => Some(f),
        Err(e) => {
            let span = if matches!(
                e,
                crate::format::FormatError::BadLabel { what: "kind", .. }
                    | crate::format::FormatError::Empty("kind")
            ) {
                service.kinds.span()
            } else {
                service.environments.span()
            };
            issues.push(span, "service", e.to_string());
            None
        }
    }
}

fn deployment_env(service: &Service, issues: &mut Issues<'_>) -> Option<String> {
    let envs = service.environments.get_ref();
    match &service.deployment_env {
        Some(env) if envs.contains(env.get_ref()) => Some(env.get_ref().clone()),
        Some(env) => {
            issues.push(
                env.span(),
                "service.deployment_env",
                format!("{:?} is not one of service.environments", env.get_ref()),
            );
            None
        }
        None if envs.iter().any(|e| e == "live") => Some("live".into()),
        None => envs.first().cloned(),
    }
}

fn unknown_routes(service: &Service, issues: &mut Issues<'_>) -> Option<UnknownRoutes> {
    match service.unknown_routes.get_ref().as_str() {
        "deny" => Some(UnknownRoutes::Deny),
        "authenticated" => Some(UnknownRoutes::Authenticated),
        other => {
            issues.push(
                service.unknown_routes.span(),
                "service.unknown_routes",
                format!("{other:?} is not \"deny\" or \"authenticated\""),
            );
            None
        }
    }
}

/// The catalog of the scopes that can be declared, every problem reported. A scope that
/// cannot be declared is left out; an implication that matches nothing is dropped, so the
/// routes can still be checked (the policy is refused anyway).
fn catalog(entries: &[ScopeEntry], issues: &mut Issues<'_>) -> Option<Catalog> {
    let mut builder = CatalogBuilder::new();
    // The entry number of each scope the builder holds.
    let mut added = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match builder.add(
            e.name.get_ref(),
            &e.description,
            e.implies.get_ref().clone(),
        ) {
            Ok(()) => added.push(i),
            Err(err) => issues.push(e.name.span(), format!("scopes[{i}].name"), err.to_string()),
        }
    }
    let errors = match builder.clone().build() {
        Ok(c) => return Some(c),
        Err(errors) => errors,
    };
    let mut fallback = CatalogBuilder::new();
    for (n, &i) in added.iter().enumerate() {
        let e = entries.get(i)?;
        let broken = errors.iter().any(|(at, _)| *at == n);
        if broken {
            for (_, err) in errors.iter().filter(|(at, _)| *at == n) {
                issues.push(
                    e.implies.span(),
                    format!("scopes[{i}].implies"),
                    err.to_string(),
                );
            }
        }
        let implies = if broken {
            Vec::new()
        } else {
            e.implies.get_ref().clone()
        };
        fallback
            .add(e.name.get_ref(), &e.description, implies)
            .ok()?;
    }
    fallback.build().ok()
}

fn path_rules(section: &PathsSection, issues: &mut Issues<'_>) -> PathRules {
    let params = match section.params.get_ref().as_str() {
        "refuse" => PathParams::Refuse,
        "ignore" => PathParams::Ignore,
        other => {
            issues.push(
                section.params.span(),
                "paths.params",
                format!("{other:?} is not \"refuse\" or \"ignore\""),
            );
            PathParams::Refuse
        }
    };
    PathRules {
        case_sensitive: section.case_sensitive,
        params,
    }
}

/// The route table and, for each route in it, its entry number in the file.
fn routes(
    catalog: &Catalog,
    rules: PathRules,
    entries: &[RouteEntry],
    issues: &mut Issues<'_>,
) -> (RouteTable, Vec<usize>) {
    let mut table = RouteTable::with_rules(rules);
    let mut added = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(access) = access(catalog, i, e, issues) else {
            continue;
        };
        let route = Route {
            method: e.method.get_ref().clone(),
            path: e.path.get_ref().clone(),
            access,
        };
        match table.add(route) {
            Ok(()) => added.push(i),
            Err(err) => {
                let span = match err {
                    super::routes::RouteError::BadMethod(_) => e.method.span(),
                    super::routes::RouteError::BadPath { .. } => e.path.span(),
                };
                issues.push(span, format!("routes[{i}]"), err.to_string());
            }
        }
    }
    (table, added)
}

/// A warning for each route that a more specific route of another method partly decides
/// with different access ([`RouteTable::overrides`]).
fn overrides(
    table: &RouteTable,
    added: &[usize],
    entries: &[RouteEntry],
    issues: &Issues<'_>,
) -> Vec<PolicyIssue> {
    let describe = |n: usize| {
        let entry = added.get(n).copied().unwrap_or(n);
        let (method, path) = table
            .get(n)
            .map_or(("", ""), |r| (r.method.as_str(), r.path.as_str()));
        (entry, format!("{method} {path}"))
    };
    table
        .overrides()
        .into_iter()
        .map(|o| {
            let (entry, this) = describe(o.route);
            let (other, by) = describe(o.by);
            let span = entries.get(entry).map_or(0..0, |e| e.path.span());
            issues.issue(
                span,
                format!("routes[{entry}]"),
                format!(
                    "`{this}` does not decide every request it matches: routes[{other}] \
                     (`{by}`, more specific, other access) decides the requests both match"
                ),
            )
        })
        .collect()
}

fn access(catalog: &Catalog, i: usize, e: &RouteEntry, issues: &mut Issues<'_>) -> Option<Access> {
    match (&e.require, &e.access) {
        (Some(req), None) => match Requirement::parse(catalog, req.get_ref()) {
            Ok(r) => Some(Access::Requires(r)),
            Err(err) => {
                let start = req.span().start + 1 + err.position;
                issues.push(
                    start..start + 1,
                    format!("routes[{i}].require"),
                    err.kind.to_string(),
                );
                None
            }
        },
        (None, Some(a)) => match a.get_ref().as_str() {
            "public" => Some(Access::Public),
            "authenticated" => Some(Access::Requires(Requirement::authenticated())),
            other => {
                issues.push(
                    a.span(),
                    format!("routes[{i}].access"),
                    format!("{other:?} is not \"public\" or \"authenticated\""),
                );
                None
            }
        },
        (Some(_), Some(a)) => {
            issues.push(
                a.span(),
                format!("routes[{i}]"),
                "give either `require` or `access`, not both",
            );
            None
        }
        (None, None) => {
            issues.push(
                e.method.span(),
                format!("routes[{i}]"),
                "give `require = \"<scopes>\"` or `access = \"public\"`/`\"authenticated\"`",
            );
            None
        }
    }
}
