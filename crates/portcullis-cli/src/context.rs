//! Where a store's files are, and loading them: policy, peppers, database.

use crate::error::CliError;
use crate::files::{self, Accept, IntoCli};
use crate::pepper_file::PepperFile;
use crate::store::{Access, Store};
use portcullis::policy::MAX_POLICY_LEN;
use portcullis::{Checker, KeyId, Policy, Timestamp};
use portcullis_store::Actor;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database's file name inside the store directory.
pub const DATABASE_FILE: &str = "keys.sqlite3";
/// The pepper file's name inside the store directory.
pub const PEPPER_FILE: &str = "pepper";
/// The policy's file name inside the store directory.
pub const POLICY_FILE: &str = "policy.toml";

/// The files of one store.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The store directory.
    pub dir: PathBuf,
    /// The SQLite database.
    pub database: PathBuf,
    /// The pepper file.
    pub pepper: PathBuf,
    /// The policy file.
    pub policy: PathBuf,
}

impl Paths {
    /// The files of the store in `dir`, with optional overrides.
    pub fn new(dir: &Path, pepper: Option<&Path>, policy: Option<&Path>) -> Self {
        Paths {
            dir: dir.to_owned(),
            database: dir.join(DATABASE_FILE),
            pepper: pepper.map_or_else(|| dir.join(PEPPER_FILE), Path::to_owned),
            policy: policy.map_or_else(|| dir.join(POLICY_FILE), Path::to_owned),
        }
    }
}

/// What every command gets: the store's files, the time and the output mode.
#[derive(Clone, Debug)]
pub struct Context {
    /// The store's files.
    pub paths: Paths,
    /// The time decisions are made at.
    pub now: Timestamp,
    /// Whether output is JSON.
    pub json: bool,
    /// How long to wait for another process's lock on the database.
    pub busy_timeout: Duration,
    /// The database URL given with `--database` (or `PORTCULLIS_DATABASE_URL`); `None`:
    /// the SQLite file of the store directory.
    pub database: Option<DatabaseUrl>,
    /// Who the audit records as making this command's changes (`--actor`).
    pub actor: Actor,
}

/// The actor when `--actor` and `PORTCULLIS_ACTOR` are not given: `$USER` if it is a
/// valid actor, else `cli`.
pub fn default_actor() -> Actor {
    std::env::var("USER")
        .ok()
        .and_then(|user| Actor::new(&user).ok())
        .or_else(|| Actor::new("cli").ok())
        .unwrap_or_default()
}

/// A database URL as given; its `Debug` never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match portcullis_store::Target::parse(&self.0) {
            Ok(target) => write!(f, "DatabaseUrl({target})"),
            Err(_) => f.write_str("DatabaseUrl(<does not parse>)"),
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    /// Any text: it is parsed when the store is opened, with the store's typed errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.to_owned()))
    }
}

impl Context {
    /// The store's checker: its policy and its peppers.
    pub fn checker(&self) -> Result<Checker, CliError> {
        let policy = load_policy(&self.paths.policy, true)?;
        let peppers = PepperFile::load(&self.paths.pepper)?.peppers()?;
        Ok(Checker::new(policy, peppers))
    }

    /// The database's URL: `--database`, or `sqlite:` and the store directory's file.
    pub fn database_url(&self) -> String {
        self.database.as_ref().map_or_else(
            || format!("sqlite:{}", self.paths.database.display()),
            |url| url.0.clone(),
        )
    }

    /// Whether the database is the SQLite file of the store directory.
    pub fn database_is_default(&self) -> bool {
        self.database.is_none()
    }

    /// The store's database, which must exist, opened to change it.
    pub fn store(&self) -> Result<Store, CliError> {
        self.initialised_database()?;
        Store::open_as(
            &self.database_url(),
            Access::Write,
            self.busy_timeout,
            self.actor,
        )
    }

    /// The store's database opened to read it: on SQLite, commands that only read (`keys
    /// list`, `keys show`, `check`) never create or upgrade a schema.
    pub fn store_read_only(&self) -> Result<Store, CliError> {
        self.initialised_database()?;
        Store::open(&self.database_url(), Access::Read, self.busy_timeout)
    }

    /// The store's database, created if missing (`init`).
    pub fn store_create(&self) -> Result<Store, CliError> {
        Store::open_as(
            &self.database_url(),
            Access::Create,
            self.busy_timeout,
            self.actor,
        )
    }

    /// A missing database file next to an existing pepper file is a store that lost its
    /// keys (`store_corrupt`), not one that was never created: `init` itself counts a
    /// pepper file as a store.
    fn initialised_database(&self) -> Result<(), CliError> {
        if self.database_is_default() && !self.paths.database.exists() && self.paths.pepper.exists()
        {
            return Err(crate::store::emptied(&self.paths.database, "is missing"));
        }
        Ok(())
    }
}

/// Reads and validates a policy file. `in_store`: the file belongs to the store (the fix
/// hint names `init`).
pub fn load_policy(path: &Path, in_store: bool) -> Result<Policy, CliError> {
    let text = read_policy(path, in_store)?;
    Policy::from_toml(&text).map_err(|e| {
        let details = e
            .issues
            .iter()
            .map(|issue| format!("{}:{issue}", path.display()))
            .collect();
        CliError::input(
            "policy_invalid",
            format!("policy file {} is invalid", path.display()),
        )
        .details(details)
        .hint("fix the problems listed above; `portcullis policy check FILE` shows them again")
    })
}

/// Reads a policy file's text: a regular file or a pipe, at most
/// [`portcullis::policy::MAX_POLICY_LEN`] bytes of UTF-8. A file that cannot be read is
/// `policy_missing` (exit 4) for every command.
pub fn read_policy(path: &Path, in_store: bool) -> Result<String, CliError> {
    let bytes = files::read(path, Accept::RegularOrPipe, MAX_POLICY_LEN).map_err(|e| {
        e.into_cli("policy file", path, |e| {
            let error = CliError::store(
                "policy_missing",
                format!("cannot read policy file {}: {e}", path.display()),
            );
            if in_store {
                error
                    .hint("run `portcullis init`, or pass --policy FILE (or set PORTCULLIS_POLICY)")
            } else {
                error.hint("check the file name")
            }
        })
    })?;
    String::from_utf8(bytes).map_err(|_| {
        CliError::input(
            "policy_invalid",
            format!("policy file {} is not UTF-8 text", path.display()),
        )
        .hint("save the policy as UTF-8")
    })
}

/// Parses a key id given on the command line: the id itself or the display form
/// `sk_live_<id>_…` (a whole key is refused, so it does not end up in shell history).
pub fn parse_key_id(text: &str) -> Result<KeyId, CliError> {
    let trimmed = text.trim().trim_end_matches('…').trim_end_matches('_');
    let candidate = trimmed.rsplit('_').next().unwrap_or(trimmed);
    let parts = trimmed.split('_').count();
    if let (true, Ok(id)) = (parts <= 3, KeyId::parse(candidate)) {
        return Ok(id);
    }
    Err(CliError::input(
        "invalid_key_id",
        "not a key id (expected the 16-character id shown by `portcullis keys list`)",
    )
    .hint("pass the id or the display form sk_live_<id>_…, never the whole secret key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ids_and_display_forms_only() {
        let id = "AbCdEfGh01234567";
        assert_eq!(parse_key_id(id).map(|k| k.to_string()), Ok(id.to_owned()));
        let shown = format!("sk_live_{id}_…");
        assert_eq!(
            parse_key_id(&shown).map(|k| k.to_string()),
            Ok(id.to_owned())
        );
        let whole = format!("sk_live_{id}_{}", "x".repeat(34));
        let err = parse_key_id(&whole).expect_err("whole key");
        assert!(!err.to_string().contains("xxxx"));
        assert!(parse_key_id("short").is_err());
    }
}

#[cfg(test)]
mod database_url_tests {
    use super::DatabaseUrl;

    #[test]
    fn debug_never_shows_the_password() {
        let url = DatabaseUrl("postgresql://app:s3cr3t-pw@db:5432/keys".to_owned());
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("app@db:5432/keys"), "{shown}");
        let bad = DatabaseUrl("postgresql://app:s3cr3t-pw@db:port/keys".to_owned());
        assert!(!format!("{bad:?}").contains("s3cr3t-pw"));
    }
}
