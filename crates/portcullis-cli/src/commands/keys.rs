//! `portcullis keys …`: create (shown once), list (with when each key was last used),
//! show, usage (`commands/usage.rs`), revoke, rotate.

use crate::Report;
use crate::cli::{CreateArgs, KeysCommand};
use crate::context::{Context, parse_key_id};
use crate::error::{CliError, EXIT_OK, EXIT_STORE};
use crate::store::{Row, corrupt_hint, from_store, not_found};
use crate::time_text::format_ago;
use crate::time_text::{format_duration, format_opt};
use crate::view::{
    corrupt_json, list_table, listed_json, printable, record_json, record_table, status,
};
use portcullis::{Checker, IssueError, IssuedKey, KeySpec, OsRandom};
use serde_json::{Value, json};

/// Runs a `keys` subcommand.
pub fn run(command: KeysCommand, context: &Context) -> Result<Report, CliError> {
    match command {
        KeysCommand::Create(args) => create(&args, context),
        KeysCommand::List { owner, status } => list(owner.as_deref(), status.as_deref(), context),
        KeysCommand::Show { id } => show(&id, context),
        KeysCommand::Usage { id, hours } => super::usage::run(&id, hours, context),
        KeysCommand::Revoke { id } => revoke(&id, context),
        KeysCommand::Rotate { id, grace } => rotate(&id, grace, context),
    }
}

/// Issues a key under the store's policy and peppers (the caller stores the record).
pub fn issue(
    checker: &Checker,
    args: &CreateArgs,
    context: &Context,
) -> Result<IssuedKey, CliError> {
    let policy = checker.policy();
    let kind = args
        .kind
        .clone()
        .or_else(|| policy.format().kinds().first().cloned())
        .unwrap_or_default();
    let env = args
        .env
        .clone()
        .unwrap_or_else(|| policy.deployment_env().to_owned());
    let mut spec = KeySpec::new(
        &args.name,
        &args.owner,
        args.scopes.iter().map(|s| s.trim()),
    );
    spec.ttl = args.ttl;
    if let Some(tier) = &args.tier {
        spec.metadata.insert("tier".into(), tier.clone().into());
    }
    checker
        .issue_with(&kind, &env, &spec, context.now, &OsRandom::new())
        .map_err(|e| issue_error(&e, checker))
}

fn create(args: &CreateArgs, context: &Context) -> Result<Report, CliError> {
    let checker = context.checker()?;
    let store = context.store()?;
    let issued = issue(&checker, args, context)?;
    store.insert(&issued.record, context.now)?;
    let human = format!(
        "Created key {id} \"{name}\".\n\n  {key}\n\n\
         Copy it now: it is shown only this once (the store keeps only its hash).\n\n{table}",
        id = issued.record.id(),
        name = printable(issued.record.name()),
        key = issued.key.expose(),
        table = record_table(&issued.record, context.now).render(2),
    );
    let json = json!({
        "api_key": issued.key.expose(),
        "record": record_json(&issued.record, context.now),
    });
    Ok(Report::ok(human, json))
}

/// Lists the readable records and reports the corrupt rows beside them (whatever the
/// filters: their fields are unknown); exit 4 while a corrupt row is not revoked.
fn list(owner: Option<&str>, state: Option<&str>, context: &Context) -> Result<Report, CliError> {
    let store = context.store_read_only()?;
    let mut records = Vec::new();
    let mut corrupt = Vec::new();
    for row in store.list()? {
        match row {
            Row::Record(r) => records.push(r),
            Row::Corrupt(c) => corrupt.push(c),
        }
    }
    records.retain(|r| {
        owner.is_none_or(|o| r.owner() == o) && state.is_none_or(|s| status(r, context.now) == s)
    });
    let last_used = store
        .inner()
        .last_used_all()
        .map_err(|e| from_store(&e, store.shown()))?;
    let mut human =
        if records.is_empty() && corrupt.is_empty() && owner.is_none() && state.is_none() {
            "No keys yet. Create one with `portcullis keys create --name NAME --scopes SCOPES`.\n"
                .to_owned()
        } else {
            list_table(&records, &corrupt, &last_used, context.now).render(0)
        };
    let unrevoked = corrupt.iter().filter(|c| c.revoked_at.is_none()).count();
    for row in corrupt.iter().filter(|c| c.revoked_at.is_none()) {
        human.push_str(&format!(
            "\ncorrupt_record: {}\n  fix: {}\n",
            printable(&row.message(store.shown())),
            printable(&corrupt_hint(&row.id))
        ));
    }
    let json = json!({
        "records": records
            .iter()
            .map(|r| listed_json(r, context.now, last_used.get(&r.id()).copied()))
            .collect::<Vec<_>>(),
        "corrupt": corrupt.iter().map(|c| corrupt_json(c, store.shown())).collect::<Vec<_>>(),
    });
    Ok(Report {
        human,
        json,
        exit: if unrevoked > 0 { EXIT_STORE } else { EXIT_OK },
    })
}

fn show(id: &str, context: &Context) -> Result<Report, CliError> {
    let id = parse_key_id(id)?;
    let store = context.store_read_only()?;
    let record = store.get(&id)?.ok_or_else(|| not_found(&id))?;
    let last_used = store
        .inner()
        .key_usage(&id, context.now)
        .map_err(|e| from_store(&e, store.shown()))?
        .last_used;
    let mut table = record_table(&record, context.now);
    table.row(["last used", &format_ago(last_used, context.now)]);
    Ok(Report::ok(
        table.render(0),
        json!({ "record": listed_json(&record, context.now, last_used) }),
    ))
}

fn revoke(id: &str, context: &Context) -> Result<Report, CliError> {
    let id = parse_key_id(id)?;
    let store = context.store()?;
    let (row, already) = store.revoke(&id, context.now)?;
    let (revoked_at, name) = match &row {
        Row::Record(r) => (r.revoked_at(), Some(r.name())),
        Row::Corrupt(c) => (c.revoked_at, None),
    };
    let human = match (already, name) {
        (true, _) => format!(
            "Key {id} was already revoked at {}.\n",
            format_opt(revoked_at)
        ),
        (false, Some(name)) => format!(
            "Revoked key {id} \"{}\": every request with it is refused from now on.\n",
            printable(name)
        ),
        (false, None) => format!(
            "Revoked key {id}, whose record is corrupt: every request with it is refused \
             (as an unknown key) from now on.\n"
        ),
    };
    let json = json!({
        "record": match &row { Row::Record(r) => record_json(r, context.now), Row::Corrupt(_) => Value::Null },
        "corrupt": match &row { Row::Record(_) => Value::Null, Row::Corrupt(c) => corrupt_json(c, store.shown()) },
        "already_revoked": already,
    });
    Ok(Report::ok(human, json))
}

fn rotate(id: &str, grace: u64, context: &Context) -> Result<Report, CliError> {
    let id = parse_key_id(id)?;
    let checker = context.checker()?;
    let rotation = context.store()?.rotate(&id, &checker, grace, context.now)?;
    let new = &rotation.successor;
    let human = format!(
        "Rotated key {id}: its successor is {new_id}.\n\n  {key}\n\n\
         Copy it now: it is shown only this once.\n\
         The old key keeps working for {grace} (until {until}); deploy the new one before then.\n\n{table}",
        new_id = new.record.id(),
        key = new.key.expose(),
        grace = format_duration(grace),
        until = format_opt(rotation.predecessor.expires_at()),
        table = record_table(&new.record, context.now).render(2),
    );
    let json = json!({
        "api_key": new.key.expose(),
        "record": record_json(&new.record, context.now),
        "predecessor": record_json(&rotation.predecessor, context.now),
    });
    Ok(Report::ok(human, json))
}

fn issue_error(e: &IssueError, checker: &Checker) -> CliError {
    let policy = checker.policy();
    let hint = match e {
        IssueError::UnknownScope(_) => format!(
            "use scopes of the policy: {}",
            policy
                .catalog()
                .scopes()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        IssueError::Kind(_) => format!("use one of: {}", policy.format().kinds().join(", ")),
        IssueError::Env(_) => format!("use one of: {}", policy.format().envs().join(", ")),
        IssueError::Field(_) => "give a non-empty --name and --owner".to_owned(),
        IssueError::ZeroTtl => {
            "give a lifetime of at least 1s, or none for a key that never expires".to_owned()
        }
        _ => "retry; if it persists, check the system's random number generator".to_owned(),
    };
    // The core's code (`unknown_kind`, `bad_field`, …): the one Python and C report too.
    CliError::input(e.code(), e.to_string()).hint(hint)
}
