//! `portcullis pepper rotate`: a new primary pepper; records under older ones still verify.

use crate::Report;
use crate::cli::PepperCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::pepper_file::PepperFile;
use crate::store::from_store;
use crate::table::Table;
use crate::view::printable;
use serde_json::json;

/// Runs a `pepper` subcommand.
pub fn run(command: PepperCommand, context: &Context) -> Result<Report, CliError> {
    match command {
        PepperCommand::Rotate => rotate(context),
    }
}

/// Adds a fresh primary pepper under the store's write lock (so two rotations in two
/// processes cannot overwrite each other), records it in the audit (the new pepper's id
/// and `--actor`, never its bytes) in the same lock, then reports which peppers records
/// use.
fn rotate(context: &Context) -> Result<Report, CliError> {
    let store = context.store()?;
    let path = &context.paths.pepper;
    let (new_id, ids) = store.with_write_lock_audited(|lock| {
        let mut file = PepperFile::load(path)?;
        let id = file.rotate(path)?;
        let ids: Vec<String> = file.ids().iter().map(|s| (*s).to_owned()).collect();
        // The file is already rewritten: say so if its audit entry cannot be written.
        lock.pepper_rotated(&file.peppers()?, context.now)
            .map_err(|e| {
                let mut error = from_store(&e, store.shown());
                error.message = format!(
                    "the pepper file now has the primary pepper {id}, but its audit entry could not be written: {}",
                    error.message
                );
                error
            })?;
        Ok((id, ids))
    })?;
    let usage = store.pepper_usage()?;
    let mut table = Table::new(["PEPPER", "ROLE", "RECORDS"]);
    for id in &ids {
        let count = usage
            .iter()
            .find(|(p, _)| p.as_deref() == Some(id.as_str()))
            .map_or(0, |(_, n)| *n);
        let role = if *id == new_id {
            "primary (new keys)"
        } else {
            "older (still verifies)"
        };
        table.row([id.clone(), role.to_owned(), count.to_string()]);
    }
    let legacy = usage
        .iter()
        .find(|(p, _)| p.is_none())
        .map_or(0, |(_, n)| *n);
    let human = format!(
        "New primary pepper {new_id} in {}.\nKeys created from now on are hashed with it; existing keys keep verifying with their own pepper\n(their checks warn needs_rehash) and move to the new one at their next `check` or `keys rotate`.\nKeep the older peppers until no record uses them, and back up the pepper file again.\n\n{}",
        printable(&path.display().to_string()),
        table.render(2)
    );
    let json = json!({
        "primary": new_id,
        "peppers": ids,
        "records_by_pepper": usage
            .iter()
            .filter_map(|(p, n)| p.as_ref().map(|p| (p.clone(), json!(n))))
            .collect::<serde_json::Map<_, _>>(),
        "legacy_records": legacy,
    });
    Ok(Report::ok(human, json))
}
