//! The scope catalog: declared scopes, explicit implications and wildcard grants, compiled
//! once into bitsets.

use super::set::{MAX_SCOPES, ScopeSet};
use sha2::Digest as _;
use std::collections::HashMap;

/// Longest scope name.
pub const MAX_SCOPE_LEN: usize = 128;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Whether `name` is a valid catalog scope: an RFC 6749 §3.3 scope-token (`%x21 / %x23-5B /
/// %x5D-7E`, 1–128 characters) that also avoids `* & | ( ) ,`, which requirement
/// expressions, wildcards and comma-separated lists use.
pub fn is_valid_scope_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SCOPE_LEN
        && name
            .bytes()
            .all(|b| is_scope_char(b) && !b"*&|(),".contains(&b))
}

/// Whether `b` is an RFC 6749 NQCHAR.
pub(crate) const fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Why a catalog entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The name is not a valid scope token.
    #[error("invalid scope name {0:?}: use RFC 6749 scope characters, not * & | ( ) , or space")]
    InvalidName(String),
    /// The name is declared twice.
    #[error("scope {0:?} is declared twice")]
    Duplicate(String),
    /// More than [`MAX_SCOPES`] scopes.
    #[error("a catalog holds at most {MAX_SCOPES} scopes")]
    TooMany,
    /// An implication names a scope or pattern that matches nothing in the catalog.
    #[error("scope {scope:?} implies {target:?}, which matches no declared scope")]
    UnknownImplied {
        /// The declaring scope.
        scope: String,
        /// The unknown target.
        target: String,
    },
}

impl CatalogError {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        match self {
            CatalogError::InvalidName(_) => &crate::codes::CATALOG_INVALID_NAME,
            CatalogError::Duplicate(_) => &crate::codes::CATALOG_DUPLICATE,
            CatalogError::TooMany => &crate::codes::CATALOG_TOO_MANY,
            CatalogError::UnknownImplied { .. } => &crate::codes::CATALOG_UNKNOWN_IMPLIED,
        }
    }

    /// A stable machine-readable name, unique in its family (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// One declared scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The scope token (`claims:read`).
    pub name: String,
    /// What it allows, for people (`Read Claims`).
    pub description: String,
    /// The implications as declared (names or patterns).
    pub implies: Vec<String>,
}

/// Collects scopes, then compiles them into a [`Catalog`].
#[derive(Clone, Debug, Default)]
pub struct CatalogBuilder {
    scopes: Vec<ScopeInfo>,
}

impl CatalogBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a scope. `implies` lists scope names or patterns (`claims:*`, `*`) that a
    /// grant of this scope also grants, transitively. Nothing is implied unless declared.
    pub fn scope<I, S>(
        mut self,
        name: &str,
        description: &str,
        implies: I,
    ) -> Result<Self, CatalogError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.add(
            name,
            description,
            implies.into_iter().map(Into::into).collect(),
        )?;
        Ok(self)
    }

    /// Declares a scope in place (see [`CatalogBuilder::scope`]).
    pub fn add(
        &mut self,
        name: &str,
        description: &str,
        implies: Vec<String>,
    ) -> Result<(), CatalogError> {
        if !is_valid_scope_name(name) {
            return Err(CatalogError::InvalidName(name.to_owned()));
        }
        if self.scopes.iter().any(|s| s.name == name) {
            return Err(CatalogError::Duplicate(name.to_owned()));
        }
        if self.scopes.len() == MAX_SCOPES {
            return Err(CatalogError::TooMany);
        }
        self.scopes.push(ScopeInfo {
            name: name.to_owned(),
            description: description.to_owned(),
            implies,
        });
        Ok(())
    }

    /// Compiles the catalog. Errors come with the number of the scope that caused them.
    pub fn build(self) -> Result<Catalog, Vec<(usize, CatalogError)>> {
        let mut catalog = Catalog::skeleton(self.scopes);
        let mut errors = Vec::new();
        let mut direct = vec![ScopeSet::EMPTY; catalog.scopes.len()];
        for (i, info) in catalog.scopes.iter().enumerate() {
            direct[i].insert(i);
            for target in &info.implies {
                match catalog.pattern(target) {
                    Some(set) => direct[i] = direct[i].union(set),
                    None => errors.push((
                        i,
                        CatalogError::UnknownImplied {
                            scope: info.name.clone(),
                            target: target.clone(),
                        },
                    )),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        catalog.closure = transitive_closure(direct);
        catalog.id = fingerprint(&catalog);
        Ok(catalog)
    }
}

/// Repeats `closure[i] |= closure[j] for j in closure[i]` until nothing changes; cycles
/// are fine (every scope on a cycle ends up granting the whole cycle).
fn transitive_closure(mut closure: Vec<ScopeSet>) -> Vec<ScopeSet> {
    loop {
        let mut changed = false;
        for i in 0..closure.len() {
            let grown = closure[i]
                .iter()
                .fold(closure[i], |acc, j| acc.union(closure[j]));
            if grown != closure[i] {
                closure[i] = grown;
                changed = true;
            }
        }
        if !changed {
            return closure;
        }
    }
}

/// A content hash of the compiled catalog (names in order and their closures): two
/// catalogs with the same id grant the same sets for the same strings, so caches keyed by
/// it are never wrong.
fn fingerprint(catalog: &Catalog) -> u64 {
    let mut h = sha2::Sha256::new();
    for (info, closure) in catalog.scopes.iter().zip(&catalog.closure) {
        h.update((info.name.len() as u64).to_le_bytes());
        h.update(info.name.as_bytes());
        for i in closure.iter() {
            h.update((i as u16).to_le_bytes());
        }
        h.update([0xff, 0xff]);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// Two parts that must share one scope catalog do not: an access-token verifier built for
/// another catalog than the policy's (or the OAuth engine's) it is attached to. Its tokens
/// carry scope indexes, which would name other scopes under another catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("the access verifier was made for another scope catalog than this policy's")]
pub struct CatalogMismatch;

impl CatalogMismatch {
    /// Its row in [`crate::codes`].
    pub const fn row(&self) -> &'static crate::codes::Code {
        &crate::codes::VERIFIER_CATALOG_MISMATCH
    }

    /// A stable machine-readable name: `catalog_mismatch` (see [`crate::codes`]).
    pub const fn code(&self) -> &'static str {
        self.row().code()
    }
}

/// A compiled, immutable catalog. Safe to share between threads.
#[derive(Clone, Debug)]
pub struct Catalog {
    id: u64,
    scopes: Vec<ScopeInfo>,
    index: FastMap<Box<str>, u16>,
    prefixes: FastMap<Box<str>, ScopeSet>,
    all: ScopeSet,
    closure: Vec<ScopeSet>,
}

/// The effective scopes of a list of granted scope strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Every scope granted, implications and wildcards expanded.
    pub set: ScopeSet,
    /// How many of the strings the catalog does not know (they grant nothing).
    pub unknown: usize,
}

impl Catalog {
    /// A builder.
    pub fn builder() -> CatalogBuilder {
        CatalogBuilder::new()
    }

    fn skeleton(scopes: Vec<ScopeInfo>) -> Self {
        let mut index = FastMap::default();
        let mut prefixes: FastMap<Box<str>, ScopeSet> = FastMap::default();
        let mut all = ScopeSet::EMPTY;
        for (i, s) in scopes.iter().enumerate() {
            index.insert(s.name.as_str().into(), i as u16);
            all.insert(i);
            for (pos, _) in s.name.match_indices(':') {
                prefixes.entry(s.name[..=pos].into()).or_default().insert(i);
            }
        }
        let closure = (0..scopes.len())
            .map(|i| {
                let mut s = ScopeSet::EMPTY;
                s.insert(i);
                s
            })
            .collect();
        Catalog {
            id: 0,
            scopes,
            index,
            prefixes,
            all,
            closure,
        }
    }

    /// A content fingerprint of the compiled catalog (used to key caches).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether the catalog declares no scope.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The declared scopes, in declaration order (their numbers).
    pub fn scopes(&self) -> &[ScopeInfo] {
        &self.scopes
    }

    /// The number of a scope name.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.index.get(name).map(|&i| usize::from(i))
    }

    /// The name of scope number `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.scopes.get(index).map(|s| s.name.as_str())
    }

    /// The scopes a pattern names, before implications: `*` (all), `prefix:*` (every scope
    /// starting with `prefix:`) or an exact name. `None` when it matches nothing.
    pub fn pattern(&self, pattern: &str) -> Option<ScopeSet> {
        if pattern == "*" {
            return (!self.all.is_empty()).then_some(self.all);
        }
        if let Some(prefix) = pattern.strip_suffix('*') {
            return if prefix.ends_with(':') {
                self.prefixes.get(prefix).copied()
            } else {
                None
            };
        }
        self.lookup(pattern).map(|i| {
            let mut s = ScopeSet::EMPTY;
            s.insert(i);
            s
        })
    }

    /// What granting one pattern gives, implications included.
    pub fn expand(&self, pattern: &str) -> Option<ScopeSet> {
        let direct = self.pattern(pattern)?;
        Some(
            direct
                .iter()
                .fold(direct, |acc, i| acc.union(self.closure[i])),
        )
    }

    /// The effective set of a list of granted scopes. Unknown strings grant nothing and
    /// are counted, never an error.
    pub fn grant<S: AsRef<str>>(&self, scopes: &[S]) -> Grant {
        scopes.iter().fold(
            Grant {
                set: ScopeSet::EMPTY,
                unknown: 0,
            },
            |g, s| match self.expand(s.as_ref()) {
                Some(set) => Grant {
                    set: g.set.union(set),
                    unknown: g.unknown,
                },
                None => Grant {
                    set: g.set,
                    unknown: g.unknown + 1,
                },
            },
        )
    }

    /// The strings of a list that grant nothing here.
    pub fn unknown<'s, S: AsRef<str>>(&self, scopes: &'s [S]) -> Vec<&'s str> {
        scopes
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| self.pattern(s).is_none())
            .collect()
    }

    /// Scope names of a set, in catalog order.
    pub fn names<'a>(&'a self, set: &'a ScopeSet) -> impl Iterator<Item = &'a str> + 'a {
        set.iter().filter_map(move |i| self.name(i))
    }

    /// The canonical string of a set: names in catalog order, one space between.
    pub fn canonical(&self, set: &ScopeSet) -> String {
        self.names(set).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Catalog {
        CatalogBuilder::new()
            .scope("claims:read", "Read Claims", None::<String>)
            .and_then(|b| b.scope("claims:write", "Write Claims", ["claims:read"]))
            .and_then(|b| b.scope("orders:read", "Read Orders", None::<String>))
            .and_then(|b| b.scope("analytics:read", "Read Analytics", None::<String>))
            .and_then(|b| b.scope("full_access", "Full Access", ["*"]))
            .expect("valid")
            .build()
            .expect("compiles")
    }

    fn set(c: &Catalog, names: &[&str]) -> ScopeSet {
        c.grant(names).set
    }

    #[test]
    fn implications_and_wildcards() {
        let c = product();
        assert_eq!(
            c.canonical(&set(&c, &["claims:write"])),
            "claims:read claims:write"
        );
        assert_eq!(
            c.canonical(&set(&c, &["claims:*"])),
            "claims:read claims:write"
        );
        assert_eq!(c.grant(&["full_access"]).set.len(), 5);
        assert_eq!(c.grant(&["*"]).set.len(), 5);
        assert_eq!(c.canonical(&set(&c, &["claims:read"])), "claims:read");
    }

    #[test]
    fn unknown_scopes_grant_nothing() {
        let c = product();
        let g = c.grant(&["claims:read", "ghost", "ghost:*", "claims*"]);
        assert_eq!(g.unknown, 3);
        assert_eq!(c.canonical(&g.set), "claims:read");
        assert_eq!(c.unknown(&["ghost", "claims:read"]), vec!["ghost"]);
    }

    #[test]
    fn cycles_are_closed() {
        let c = CatalogBuilder::new()
            .scope("a", "", ["b"])
            .and_then(|b| b.scope("b", "", ["c"]))
            .and_then(|b| b.scope("c", "", ["a"]))
            .expect("valid")
            .build()
            .expect("compiles");
        assert_eq!(c.grant(&["b"]).set.len(), 3);
    }

    #[test]
    fn builder_errors() {
        let b = CatalogBuilder::new();
        assert!(matches!(
            b.clone().scope("a b", "", None::<String>),
            Err(CatalogError::InvalidName(_))
        ));
        assert!(matches!(
            b.clone().scope("a*", "", None::<String>),
            Err(CatalogError::InvalidName(_))
        ));
        assert!(matches!(
            b.clone().scope("", "", None::<String>),
            Err(CatalogError::InvalidName(_))
        ));
        let dup = b
            .clone()
            .scope("a", "", None::<String>)
            .and_then(|b| b.scope("a", "", None::<String>));
        assert!(matches!(dup, Err(CatalogError::Duplicate(_))));
        let unknown = b.scope("a", "", ["zzz"]).expect("valid").build();
        assert!(
            matches!(unknown, Err(e) if matches!(e[0], (0, CatalogError::UnknownImplied { .. })))
        );
        let mut many = CatalogBuilder::new();
        for i in 0..MAX_SCOPES {
            many.add(&format!("s{i}"), "", vec![]).expect("fits");
        }
        assert_eq!(many.add("one-more", "", vec![]), Err(CatalogError::TooMany));
    }
}
