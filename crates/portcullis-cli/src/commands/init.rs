//! `portcullis init`: a new store — database (the SQLite file, or the schema in the
//! `--database` given), pepper file (mode 0600), starter policy.

use crate::Report;
use crate::context::{Context, load_policy};
use crate::error::CliError;
use crate::pepper_file::PepperFile;
use crate::store::SCHEMA_VERSION;
use crate::table::Table;
use serde_json::json;
use std::fs;

/// The starter policy: the product's own (`examples/claimport.toml`).
pub const STARTER_POLICY: &str = include_str!("../../../../examples/claimport.toml");

/// Creates the store. Refuses to touch an existing pepper file or database: replacing the
/// pepper would make every stored key unverifiable.
pub fn run(context: &Context) -> Result<Report, CliError> {
    let paths = &context.paths;
    let own_file = context.database_is_default();
    if (own_file && paths.database.exists()) || paths.pepper.exists() {
        return Err(CliError::input(
            "store_exists",
            format!("a store already exists in {}", paths.dir.display()),
        )
        .hint("use it as it is, or choose another directory with --store DIR"));
    }
    create_dir(&paths.dir)?;
    let policy_written = !paths.policy.exists();
    if policy_written {
        fs::write(&paths.policy, STARTER_POLICY)
            .map_err(|e| CliError::io("policy file", &paths.policy, &e))?;
    }
    // An existing policy is validated before anything else is created.
    let policy = load_policy(&paths.policy, true)?;
    // A database of its own URL is opened first: a wrong URL leaves no pepper behind.
    let store = if own_file {
        None
    } else {
        Some(context.store_create()?)
    };
    let pepper = PepperFile::create(&paths.pepper)?;
    let store = match store {
        Some(store) => store,
        None => {
            let store = context.store_create()?;
            make_private(&paths.database)?;
            store
        }
    };
    let database = if own_file {
        paths.database.display().to_string()
    } else {
        store.shown().to_owned()
    };
    drop(store);

    let mut table = Table::bare();
    table
        .row(["store", &paths.dir.display().to_string()])
        .row(["database", &database])
        .row([
            "pepper file",
            &format!(
                "{} (mode 0600; back it up, keep it secret)",
                paths.pepper.display()
            ),
        ])
        .row([
            "policy",
            &format!(
                "{}{}",
                paths.policy.display(),
                if policy_written {
                    " (starter policy: ClaimPort)"
                } else {
                    " (kept)"
                }
            ),
        ]);
    let human = format!(
        "Initialised a portcullis store.\n{}\nNext: portcullis keys create --name \"Production Integration\" --scopes claims:read\n",
        table.render(2)
    );
    let json = json!({
        "store": paths.dir,
        "database": database,
        "pepper_file": paths.pepper,
        "policy": paths.policy,
        "policy_written": policy_written,
        "pepper_id": pepper.ids().first(),
        "realm": policy.realm(),
        "schema_version": SCHEMA_VERSION,
    });
    Ok(Report::ok(human, json))
}

/// Restricts the database to its owner (SQLite gives its -wal and -shm files the same mode).
fn make_private(path: &std::path::Path) -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| CliError::io("database", path, &e))?;
    }
    Ok(())
}

fn create_dir(dir: &std::path::Path) -> Result<(), CliError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| CliError::io("store directory", dir, &e))
}
