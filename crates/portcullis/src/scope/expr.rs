//! Requirement expressions: what a route needs, compiled once into a disjunction of
//! scope sets.
//!
//! Grammar (`AND` binds tighter than `OR`):
//! ```text
//! expr   = term *( "|" term )
//! term   = factor *( ( "&" / 1*SP ) factor )
//! factor = scope-name / "(" expr ")"
//! ```
//! `claims:read claims:write` and `claims:read & claims:write` both need both scopes;
//! `claims:write | full_access` needs either. Names must be declared in the catalog;
//! wildcards belong in grants, not requirements.

use super::catalog::{Catalog, Grant, is_scope_char};
use super::set::ScopeSet;

/// Longest expression, in bytes.
pub const MAX_EXPR_LEN: usize = 4096;
/// Deepest nesting of parentheses.
pub const MAX_EXPR_DEPTH: usize = 32;
/// Most alternatives after expansion into a disjunction of conjunctions.
pub const MAX_EXPR_TERMS: usize = 64;

/// Why an expression was refused, with the byte position where it went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at position {position}")]
pub struct ExprError {
    /// Byte offset in the expression.
    pub position: usize,
    /// What went wrong.
    pub kind: ExprErrorKind,
}

impl ExprError {
    /// Its row in [`crate::codes`]: that of its kind.
    pub const fn row(&self) -> &'static crate::codes::Code {
        self.kind.row()
    }

    /// A stable machine-readable name: that of its kind (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// The kinds of [`ExprError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprErrorKind {
    /// The expression is empty or only spaces.
    #[error("empty requirement")]
    Empty,
    /// Longer than [`MAX_EXPR_LEN`].
    #[error("requirement longer than {MAX_EXPR_LEN} bytes")]
    TooLong,
    /// Nested deeper than [`MAX_EXPR_DEPTH`].
    #[error("parentheses nested deeper than {MAX_EXPR_DEPTH}")]
    TooDeep,
    /// Expands to more than [`MAX_EXPR_TERMS`] alternatives.
    #[error("requirement expands to more than {MAX_EXPR_TERMS} alternatives")]
    TooManyTerms,
    /// A scope name the catalog does not declare.
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
    /// A wildcard in a requirement.
    #[error("wildcard {0:?} is only allowed in grants")]
    Wildcard(String),
    /// A character or operator where it cannot stand.
    #[error("unexpected {0}")]
    Unexpected(String),
    /// The input ended where something was still expected.
    #[error("unexpected end of requirement")]
    UnexpectedEnd,
}

impl ExprErrorKind {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            ExprErrorKind::Empty => &crate::codes::REQUIREMENT_EMPTY,
            ExprErrorKind::TooLong => &crate::codes::REQUIREMENT_TOO_LONG,
            ExprErrorKind::TooDeep => &crate::codes::REQUIREMENT_TOO_DEEP,
            ExprErrorKind::TooManyTerms => &crate::codes::REQUIREMENT_TOO_MANY_TERMS,
            ExprErrorKind::UnknownScope(_) => &crate::codes::REQUIREMENT_UNKNOWN_SCOPE,
            ExprErrorKind::Wildcard(_) => &crate::codes::REQUIREMENT_WILDCARD,
            ExprErrorKind::Unexpected(_) => &crate::codes::REQUIREMENT_UNEXPECTED,
            ExprErrorKind::UnexpectedEnd => &crate::codes::REQUIREMENT_UNEXPECTED_END,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// What a denied requirement lacked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shortfall {
    /// The alternative closest to being met.
    pub required: ScopeSet,
    /// Its scopes that were not granted.
    pub missing: ScopeSet,
}

/// A compiled requirement: allowed when any one term is a subset of the granted set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    terms: Vec<ScopeSet>,
}

/// Parsed expression tree, before expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Scope(usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Requirement {
    /// Compiles an expression against a catalog.
    pub fn parse(catalog: &Catalog, text: &str) -> Result<Self, ExprError> {
        let expr = parse_expr(catalog, text)?;
        let terms = dnf(&expr).ok_or(ExprError {
            position: 0,
            kind: ExprErrorKind::TooManyTerms,
        })?;
        Ok(Requirement {
            terms: minimise(terms),
        })
    }

    /// A requirement any authenticated key meets (no scope needed).
    pub fn authenticated() -> Self {
        Requirement {
            terms: vec![ScopeSet::EMPTY],
        }
    }

    /// The alternatives; each is a set that must be granted in full.
    pub fn terms(&self) -> &[ScopeSet] {
        &self.terms
    }

    /// Evaluates against a granted set. `Err` describes the alternative closest to being
    /// met (fewest missing scopes; the first on a tie). No allocation.
    #[inline]
    pub fn evaluate(&self, granted: &ScopeSet) -> Result<(), Shortfall> {
        let mut best: Option<Shortfall> = None;
        for term in &self.terms {
            if term.is_subset(granted) {
                return Ok(());
            }
            let missing = term.difference(*granted);
            if best.is_none_or(|b| missing.len() < b.missing.len()) {
                best = Some(Shortfall {
                    required: *term,
                    missing,
                });
            }
        }
        Err(best.unwrap_or_default())
    }

    /// Evaluates against grant strings (names or patterns, as a record holds them) under
    /// `catalog`, keeping what the bindings and the CLI show: the effective scopes, the
    /// unknown count and, on a denial, the missing and required scopes by name.
    pub fn evaluate_grants<'c, S: AsRef<str>>(
        &self,
        catalog: &'c Catalog,
        grants: &[S],
    ) -> Evaluation<'c> {
        let grant = catalog.grant(grants);
        Evaluation {
            catalog,
            grant,
            shortfall: self.evaluate(&grant.set).err(),
        }
    }

    /// The canonical text: alternatives joined by ` | `, names in catalog order.
    pub fn canonical(&self, catalog: &Catalog) -> String {
        self.terms
            .iter()
            .map(|t| {
                if t.is_empty() {
                    "(authenticated)".to_owned()
                } else {
                    catalog.canonical(t)
                }
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// A requirement evaluated against grant strings ([`Requirement::evaluate_grants`]), with
/// the catalog that names its scopes.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation<'c> {
    catalog: &'c Catalog,
    grant: Grant,
    shortfall: Option<Shortfall>,
}

impl Evaluation<'_> {
    /// Whether the grants meet the requirement.
    pub fn allowed(&self) -> bool {
        self.shortfall.is_none()
    }

    /// The effective grant (implications and wildcards expanded) and its unknown count.
    pub fn grant(&self) -> Grant {
        self.grant
    }

    /// What a denial lacked; `None` when allowed.
    pub fn shortfall(&self) -> Option<Shortfall> {
        self.shortfall
    }

    /// The effective scopes, in catalog order.
    pub fn effective(&self) -> impl Iterator<Item = &str> + '_ {
        self.catalog.names(&self.grant.set)
    }

    /// On a denial, the scopes of the closest alternative that were not granted, in
    /// catalog order; empty when allowed.
    pub fn missing(&self) -> impl Iterator<Item = &str> + '_ {
        self.named(|s| &s.missing)
    }

    /// On a denial, every scope of the closest alternative, in catalog order; empty when
    /// allowed.
    pub fn required(&self) -> impl Iterator<Item = &str> + '_ {
        self.named(|s| &s.required)
    }

    fn named<'s>(
        &'s self,
        part: fn(&Shortfall) -> &ScopeSet,
    ) -> impl Iterator<Item = &'s str> + 's {
        self.shortfall
            .as_ref()
            .into_iter()
            .flat_map(move |s| self.catalog.names(part(s)))
    }
}

/// Parses without expanding (also used by tests that compare with naive evaluation).
pub(crate) fn parse_expr(catalog: &Catalog, text: &str) -> Result<Expr, ExprError> {
    if text.len() > MAX_EXPR_LEN {
        return Err(ExprError {
            position: MAX_EXPR_LEN,
            kind: ExprErrorKind::TooLong,
        });
    }
    let mut p = Parser {
        catalog,
        bytes: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    p.skip_spaces();
    if p.at_end() {
        return Err(p.error(ExprErrorKind::Empty));
    }
    let expr = p.expr()?;
    p.skip_spaces();
    if !p.at_end() {
        let found = p.describe_here();
        return Err(p.error(ExprErrorKind::Unexpected(found)));
    }
    Ok(expr)
}

struct Parser<'a> {
    catalog: &'a Catalog,
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut alternatives = vec![self.term()?];
        while self.eat(b'|') {
            alternatives.push(self.term()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Expr::Or(alternatives)
        })
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut factors = vec![self.factor()?];
        loop {
            let had_space = self.skip_spaces();
            match self.peek() {
                Some(b'&') => {
                    self.pos += 1;
                    factors.push(self.factor()?);
                }
                Some(b'|' | b')') | None => break,
                Some(_) if had_space => factors.push(self.factor()?),
                Some(_) => {
                    let found = self.describe_here();
                    return Err(self.error(ExprErrorKind::Unexpected(found)));
                }
            }
        }
        Ok(if factors.len() == 1 {
            factors.remove(0)
        } else {
            Expr::And(factors)
        })
    }

    fn factor(&mut self) -> Result<Expr, ExprError> {
        self.skip_spaces();
        match self.peek() {
            None => Err(self.error(ExprErrorKind::UnexpectedEnd)),
            Some(b'(') => self.group(),
            Some(b) if is_name_char(b) => self.scope(),
            Some(_) => {
                let found = self.describe_here();
                Err(self.error(ExprErrorKind::Unexpected(found)))
            }
        }
    }

    fn group(&mut self) -> Result<Expr, ExprError> {
        if self.depth == MAX_EXPR_DEPTH {
            return Err(self.error(ExprErrorKind::TooDeep));
        }
        self.depth += 1;
        self.pos += 1;
        let inner = self.expr()?;
        self.skip_spaces();
        if !self.eat(b')') {
            return Err(self.error(if self.at_end() {
                ExprErrorKind::UnexpectedEnd
            } else {
                ExprErrorKind::Unexpected(self.describe_here())
            }));
        }
        self.depth -= 1;
        Ok(inner)
    }

    fn scope(&mut self) -> Result<Expr, ExprError> {
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        if name.contains('*') {
            return Err(ExprError {
                position: start,
                kind: ExprErrorKind::Wildcard(name.to_owned()),
            });
        }
        self.catalog.lookup(name).map(Expr::Scope).ok_or(ExprError {
            position: start,
            kind: ExprErrorKind::UnknownScope(name.to_owned()),
        })
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_spaces();
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos > start
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn describe_here(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) if c.is_ascii_graphic() => format!("{c:?}"),
            Some(c) => format!("character U+{:04X}", u32::from(c)),
            None => "end".to_owned(),
        }
    }

    fn error(&self, kind: ExprErrorKind) -> ExprError {
        ExprError {
            position: self.pos,
            kind,
        }
    }
}

fn is_name_char(b: u8) -> bool {
    is_scope_char(b) && !b"&|()".contains(&b)
}

/// Expands into a disjunction of conjunctions; `None` past [`MAX_EXPR_TERMS`].
fn dnf(expr: &Expr) -> Option<Vec<ScopeSet>> {
    match expr {
        Expr::Scope(i) => {
            let mut s = ScopeSet::EMPTY;
            s.insert(*i);
            Some(vec![s])
        }
        Expr::Or(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p)?);
                if out.len() > MAX_EXPR_TERMS {
                    return None;
                }
            }
            Some(out)
        }
        Expr::And(parts) => parts.iter().try_fold(vec![ScopeSet::EMPTY], |acc, p| {
            let rhs = dnf(p)?;
            if acc.len().saturating_mul(rhs.len()) > MAX_EXPR_TERMS {
                return None;
            }
            Some(
                acc.iter()
                    .flat_map(|a| rhs.iter().map(move |b| a.union(*b)))
                    .collect(),
            )
        }),
    }
}

/// Drops duplicate alternatives and any alternative that contains another (absorption),
/// keeping first-seen order.
fn minimise(terms: Vec<ScopeSet>) -> Vec<ScopeSet> {
    let mut kept: Vec<ScopeSet> = Vec::with_capacity(terms.len());
    for (i, t) in terms.iter().enumerate() {
        let absorbed = terms
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && o.is_subset(t) && (o != t || j < i));
        if !absorbed {
            kept.push(*t);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::catalog::CatalogBuilder;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn catalog(n: usize) -> Catalog {
        let mut b = CatalogBuilder::new();
        for i in 0..n {
            b.add(&format!("s{i}"), "", vec![]).expect("valid");
        }
        b.build().expect("compiles")
    }

    fn names(c: &Catalog, r: &Requirement) -> String {
        r.canonical(c)
    }

    #[test]
    fn operators_and_precedence() {
        let c = catalog(4);
        assert_eq!(
            names(&c, &Requirement::parse(&c, "s0 s1").expect("ok")),
            "s0 s1"
        );
        assert_eq!(
            names(&c, &Requirement::parse(&c, "s0&s1").expect("ok")),
            "s0 s1"
        );
        assert_eq!(
            names(&c, &Requirement::parse(&c, "s0 s1 | s2").expect("ok")),
            "s0 s1 | s2"
        );
        assert_eq!(
            names(&c, &Requirement::parse(&c, "s0 (s1 | s2)").expect("ok")),
            "s0 s1 | s0 s2"
        );
        assert_eq!(
            names(&c, &Requirement::parse(&c, "s0 | s0 s1").expect("ok")),
            "s0"
        );
        assert_eq!(
            names(&c, &Requirement::parse(&c, " ( ( s3 ) ) ").expect("ok")),
            "s3"
        );
    }

    #[test]
    fn errors_have_positions() {
        let c = catalog(2);
        let err = |t: &str| Requirement::parse(&c, t).expect_err("must fail");
        assert_eq!(err("").kind, ExprErrorKind::Empty);
        assert_eq!(err("   ").kind, ExprErrorKind::Empty);
        assert_eq!(
            err("s0 zz"),
            ExprError {
                position: 3,
                kind: ExprErrorKind::UnknownScope("zz".into())
            }
        );
        assert_eq!(err("s0 |").kind, ExprErrorKind::UnexpectedEnd);
        assert_eq!(err("(s0").kind, ExprErrorKind::UnexpectedEnd);
        assert_eq!(err("s0)").position, 2);
        assert_eq!(err("s*").kind, ExprErrorKind::Wildcard("s*".into()));
        assert_eq!(err("s0 & & s1").position, 5);
        assert_eq!(
            err("s0\ts1").kind,
            ExprErrorKind::Unexpected("character U+0009".into())
        );
        assert_eq!(err(&"(".repeat(40)).kind, ExprErrorKind::TooDeep);
        assert_eq!(err(&"s0 ".repeat(2000)).kind, ExprErrorKind::TooLong);
        let blowup = (0..7).map(|_| "(s0 | s1)").collect::<Vec<_>>().join(" ");
        assert_eq!(err(&blowup).kind, ExprErrorKind::TooManyTerms);
    }

    #[test]
    fn missing_reports_closest_alternative() {
        let c = catalog(4);
        let r = Requirement::parse(&c, "s0 s1 s2 | s3").expect("ok");
        let mut g = ScopeSet::EMPTY;
        g.insert(0);
        assert_eq!(
            c.canonical(&r.evaluate(&g).expect_err("denied").missing),
            "s3"
        );
        g.insert(1);
        let short = r.evaluate(&g).expect_err("denied");
        assert_eq!(c.canonical(&short.missing), "s2");
        assert_eq!(c.canonical(&short.required), "s0 s1 s2");
        g.insert(2);
        assert!(r.evaluate(&g).is_ok());
        assert!(
            Requirement::authenticated()
                .evaluate(&ScopeSet::EMPTY)
                .is_ok()
        );
    }

    fn naive(expr: &Expr, granted: &BTreeSet<usize>) -> bool {
        match expr {
            Expr::Scope(i) => granted.contains(i),
            Expr::And(p) => p.iter().all(|e| naive(e, granted)),
            Expr::Or(p) => p.iter().any(|e| naive(e, granted)),
        }
    }

    fn arb_expr(n: usize) -> impl Strategy<Value = String> {
        let leaf = (0..n).prop_map(|i| format!("s{i}"));
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" & ")),
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" ")),
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" | ")),
                inner.prop_map(|e| format!("({e})")),
            ]
        })
    }

    proptest! {
        #[test]
        fn bitset_agrees_with_naive(n in 1usize..12, seed in any::<u64>(), expr in arb_expr(12)) {
            let c = catalog(12);
            let granted: BTreeSet<usize> = (0..n).filter(|i| (seed >> i) & 1 == 1).collect();
            let mut set = ScopeSet::EMPTY;
            granted.iter().for_each(|&i| set.insert(i));
            let tree = parse_expr(&c, &expr).expect("generated expressions parse");
            match Requirement::parse(&c, &expr) {
                Ok(r) => {
                    let verdict = r.evaluate(&set);
                    prop_assert_eq!(verdict.is_ok(), naive(&tree, &granted));
                    if let Err(missing) = verdict {
                        let mut with = set.union(missing.missing);
                        prop_assert!(missing.missing.is_subset(&missing.required));
                        prop_assert!(r.evaluate(&with).is_ok());
                        with = set;
                        prop_assert!(r.evaluate(&with).is_err());
                    }
                }
                Err(e) => prop_assert_eq!(e.kind, ExprErrorKind::TooManyTerms),
            }
        }

        #[test]
        fn parser_never_panics(text in ".{0,200}") {
            let c = catalog(3);
            let _ = Requirement::parse(&c, &text);
        }

        #[test]
        fn parser_never_panics_on_operator_soup(text in "[s0-2 &|()]{0,120}") {
            let c = catalog(3);
            let _ = Requirement::parse(&c, &text);
        }
    }
}
