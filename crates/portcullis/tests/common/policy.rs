//! The example policy with a test's settings changed by name. Edits go through the parsed
//! document (comments and layout kept), and a setting the example lacks, or holds with
//! another type, fails the test instead of leaving the policy unchanged.
//!
//! Shared by the CLI's tests (`#[path]`), so it depends on nothing but `portcullis` and
//! `toml_edit`.

use portcullis::Policy;
use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// A policy under construction; [`TestPolicy::text`] and [`TestPolicy::build`] finish it.
#[derive(Clone, Debug)]
pub struct TestPolicy {
    doc: DocumentMut,
}

/// `examples/claimport.toml`, as its users read it.
pub fn claimport_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/claimport.toml"
    ))
    .expect("examples/claimport.toml")
}

impl TestPolicy {
    /// `examples/claimport.toml`, unchanged until a setter runs.
    pub fn claimport() -> Self {
        Self::from_text(&claimport_text())
    }

    /// Any policy text (a store's `policy.toml`, a vector's policy).
    pub fn from_text(text: &str) -> Self {
        TestPolicy {
            doc: text.parse().expect("policy text is TOML"),
        }
    }

    /// `[service] kinds`: the key kinds this deployment issues and accepts.
    pub fn kinds(self, kinds: &[&str]) -> Self {
        self.set("service", "kinds", kinds.iter().copied().collect::<Array>())
    }

    /// `[service] environments`: the environments keys may be issued for.
    pub fn environments(self, envs: &[&str]) -> Self {
        self.set(
            "service",
            "environments",
            envs.iter().copied().collect::<Array>(),
        )
    }

    /// `[transport] require_https`.
    pub fn require_https(self, on: bool) -> Self {
        self.set("transport", "require_https", on)
    }

    /// `[transport] allow_query_key`: `?api_key=` accepted.
    pub fn allow_query_key(self, on: bool) -> Self {
        self.set("transport", "allow_query_key", on)
    }

    /// `[lifecycle] accept_legacy_sha256`: unpeppered `sha256$` records accepted.
    pub fn accept_legacy_sha256(self, on: bool) -> Self {
        self.set("lifecycle", "accept_legacy_sha256", on)
    }

    /// `[lifecycle] enforce_max_age`: keys older than `max_age_days` refused.
    pub fn enforce_max_age(self, on: bool) -> Self {
        self.set("lifecycle", "enforce_max_age", on)
    }

    /// `[service] deployment_env`: the environment whose keys this deployment accepts.
    pub fn deployment_env(self, env: &str) -> Self {
        self.set("service", "deployment_env", env)
    }

    /// Puts a scope before the catalog's first one (a catalog that differs in its order).
    pub fn scope_first(mut self, name: &str, description: &str) -> Self {
        let scopes = self
            .doc
            .get_mut("scopes")
            .and_then(Item::as_array_of_tables_mut)
            .expect("the policy has [[scopes]]");
        let mut scope = Table::new();
        scope.insert("name", name.into());
        scope.insert("description", description.into());
        let rest: Vec<Table> = scopes.iter().cloned().collect();
        scopes.clear();
        scopes.push(scope);
        scopes.extend(rest);
        self
    }

    /// Renames a scope of the catalog wherever the policy names it: its entry, the `implies`
    /// lists and the routes' requirements (whose words are separated by spaces).
    pub fn rename_scope(mut self, from: &str, to: &str) -> Self {
        let mut renamed = 0;
        let scopes = self
            .doc
            .get_mut("scopes")
            .and_then(Item::as_array_of_tables_mut)
            .expect("the policy has [[scopes]]");
        for scope in scopes.iter_mut() {
            if scope.get("name").and_then(Item::as_str) == Some(from) {
                scope["name"] = toml_edit::value(to);
                renamed += 1;
            }
            if let Some(implies) = scope.get_mut("implies").and_then(Item::as_array_mut) {
                for v in implies.iter_mut() {
                    if v.as_str() == Some(from) {
                        *v = to.into();
                    }
                }
            }
        }
        assert_eq!(renamed, 1, "the catalog has one scope {from}");
        if let Some(routes) = self
            .doc
            .get_mut("routes")
            .and_then(Item::as_array_of_tables_mut)
        {
            for route in routes.iter_mut() {
                let Some(require) = route.get("require").and_then(Item::as_str) else {
                    continue;
                };
                let words: Vec<&str> = require
                    .split(' ')
                    .map(|w| if w == from { to } else { w })
                    .collect();
                route["require"] = toml_edit::value(words.join(" "));
            }
        }
        self
    }

    /// The policy's TOML text.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// The loaded policy; a policy the loader refuses fails the test.
    pub fn build(&self) -> Policy {
        Policy::from_toml(&self.text()).expect("test policy loads")
    }

    /// Replaces `[section] key`, which the policy must already hold with a value of the same
    /// type; the old value's spacing and trailing comment stay.
    pub fn set(mut self, section: &str, key: &str, value: impl Into<Value>) -> Self {
        let old = self
            .doc
            .get_mut(section)
            .and_then(Item::as_table_mut)
            .and_then(|t| t.get_mut(key))
            .and_then(Item::as_value_mut)
            .unwrap_or_else(|| panic!("the policy has no [{section}] {key}"));
        let mut new = value.into();
        assert_eq!(
            old.type_name(),
            new.type_name(),
            "[{section}] {key} changes type"
        );
        *new.decor_mut() = old.decor().clone();
        *old = new;
        self
    }
}
