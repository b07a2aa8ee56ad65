//! `portcullis oauth …`: register OAuth clients in the store, and mint the signed-in-user
//! assertion `portcullis serve` reads (for tests, and for host developers comparing it with
//! the one their code mints).
//!
//! Decisions:
//! - A client's registration has no display name: the `client_id` is the name made
//!   URL-safe plus 12 random characters, so the consent page, which shows the id, names
//!   the client for people and two clients of one name still differ.
//! - Scopes default to every scope of the store's policy; each one given must be known to
//!   it (a typo would otherwise grant nothing, silently).
//! - The secret of a confidential client is printed once; only its hash is stored.

use crate::Report;
use crate::cli::{ClientsCommand, OAuthCommand};
use crate::context::{Context, load_policy};
use crate::error::CliError;
use crate::store::from_store;
use portcullis::oauth::Client;
use portcullis::{OsRandom, RandomSource};
use portcullis_server::assertion::HostSecret;
use serde_json::json;
use std::path::PathBuf;

/// The host secret's file name inside the store directory.
pub const HOST_SECRET_FILE: &str = "host-secret";
/// The access-token key's file name inside the store directory.
pub const OAUTH_KEY_FILE: &str = "oauth-key";

/// Runs an `oauth` subcommand.
pub fn run(command: OAuthCommand, context: &Context) -> Result<Report, CliError> {
    match command {
        OAuthCommand::Assert {
            user,
            org,
            ttl,
            host_secret_file,
        } => assert(&user, org.as_deref(), ttl, host_secret_file, context),
        OAuthCommand::Clients(ClientsCommand::Create {
            name,
            redirect_uris,
            scopes,
            public,
            native,
        }) => create_client(
            &name,
            &redirect_uris,
            &scopes,
            public || native,
            native,
            context,
        ),
    }
}

/// Loads a secret file, creating it when missing; errors name the file and the flag.
pub fn secret_file(path: &std::path::Path, flag: &str) -> Result<(HostSecret, bool), CliError> {
    HostSecret::load_or_create(path).map_err(|e| {
        CliError::store("secret_file", e.to_string()).hint(format!(
            "fix or remove the file (a new one is created), or name another with {flag}"
        ))
    })
}

fn assert(
    user: &str,
    org: Option<&str>,
    ttl: u64,
    file: Option<PathBuf>,
    context: &Context,
) -> Result<Report, CliError> {
    let path = file.unwrap_or_else(|| context.paths.dir.join(HOST_SECRET_FILE));
    let (secret, _) = secret_file(&path, "--host-secret-file")?;
    let expires_at = context.now.0.saturating_add(ttl);
    let assertion = match org {
        Some(org) => portcullis_server::keys_api::assert_org(&secret, org, user, expires_at),
        None => secret.assert_user(user, expires_at),
    }
    .map_err(|e| CliError::input(e.code(), e.to_string()))?;
    Ok(Report::ok(
        format!("{assertion}\n"),
        json!({ "assertion": assertion, "user": user, "org": org, "expires_at": expires_at }),
    ))
}

fn create_client(
    name: &str,
    redirect_uris: &[String],
    scopes: &[String],
    public: bool,
    native: bool,
    context: &Context,
) -> Result<Report, CliError> {
    let policy = load_policy(&context.paths.policy, true)?;
    let catalog = policy.catalog();
    let scopes: Vec<String> = if scopes.is_empty() {
        catalog.scopes().iter().map(|s| s.name.clone()).collect()
    } else {
        scopes.iter().map(|s| s.trim().to_owned()).collect()
    };
    if let Some(unknown) = scopes
        .iter()
        .find(|s| catalog.grant(std::slice::from_ref(s)).unknown > 0)
    {
        return Err(CliError::input(
            "unknown_scope",
            format!("the policy has no scope {unknown:?}"),
        )
        .hint("run `portcullis policy check` on the policy to list its scopes"));
    }
    let id = client_id(name)?;
    let uris: Vec<&str> = redirect_uris.iter().map(String::as_str).collect();
    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let invalid = |e: portcullis::oauth::ClientError| CliError::input(e.code(), e.to_string());
    let (client, secret) = if public {
        (
            Client::public(&id, native, &uris, &scope_refs).map_err(invalid)?,
            None,
        )
    } else {
        let (client, secret) =
            Client::confidential(&id, &uris, &scope_refs, &OsRandom::new()).map_err(invalid)?;
        (client, Some(secret))
    };
    let store = context.store()?;
    store
        .inner()
        .put_client(&client)
        .map_err(|e| from_store(&e, store.shown()))?;
    let kind = if public { "public" } else { "confidential" };
    let mut human = format!("client_id:     {id}\ntype:          {kind}\n");
    if let Some(secret) = &secret {
        human.push_str(&format!(
            "client_secret: {}\n\nThe secret is shown once: store it now (only its hash is kept).\n",
            secret.expose()
        ));
    }
    Ok(Report::ok(
        human,
        json!({
            "client_id": id,
            "client_type": kind,
            "client_secret": secret.as_ref().map(|s| s.expose()),
            "redirect_uris": client.redirect_uris,
            "scopes": client.allowed_scopes,
        }),
    ))
}

/// The name made URL-safe (letters, digits, `-`; at most 40) plus `-` and 12 random
/// base62 characters.
fn client_id(name: &str) -> Result<String, CliError> {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut slug = String::new();
    for c in name.chars() {
        if slug.len() >= 40 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let random = OsRandom::new();
    let mut suffix = String::with_capacity(12);
    let mut byte = [0u8; 1];
    while suffix.len() < 12 {
        random
            .fill(&mut byte)
            .map_err(|e| CliError::store("random_failed", e.to_string()))?;
        // 248 = 4 × 62: rejecting the rest keeps every character equally likely.
        if byte[0] < 248 {
            suffix.push(char::from(BASE62[usize::from(byte[0] % 62)]));
        }
    }
    Ok(if slug.is_empty() {
        format!("client-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Paths;
    use portcullis::Timestamp;
    use portcullis::oauth::ClientStore;

    fn context(dir: &std::path::Path) -> Context {
        Context {
            paths: Paths::new(dir, None, None),
            now: Timestamp(1_800_000_000),
            json: true,
            busy_timeout: std::time::Duration::from_secs(5),
            database: None,
            actor: crate::context::default_actor(),
        }
    }

    #[test]
    fn client_ids_name_the_client_and_differ() {
        let a = client_id("Acme Web App!").expect("id");
        let b = client_id("Acme Web App!").expect("id");
        assert!(a.starts_with("acme-web-app-"), "{a}");
        assert_eq!(a.len(), "acme-web-app-".len() + 12);
        assert_ne!(a, b);
        assert!(client_id("!!!").expect("id").starts_with("client-"));
    }

    #[test]
    fn assert_mints_what_the_server_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let context = context(dir.path());
        let report = assert("ann", None, 300, None, &context).expect("assert");
        let assertion = report.json["assertion"].as_str().expect("assertion");
        let (secret, created) =
            HostSecret::load_or_create(&dir.path().join(HOST_SECRET_FILE)).expect("secret");
        assert!(!created, "the command created the file");
        assert_eq!(
            secret.verify(assertion.as_bytes(), 1_800_000_299),
            Ok("ann".to_owned())
        );
        assert!(secret.verify(assertion.as_bytes(), 1_800_000_300).is_err());
        assert!(assert("", None, 300, None, &context).is_err());
        let org = assert("ann", Some("acme"), 300, None, &context).expect("org assertion");
        let org = org.json["assertion"].as_str().expect("assertion");
        assert!(org.starts_with("o1."), "{org}");
        assert!(
            secret.verify(org.as_bytes(), 1_800_000_000).is_err(),
            "not a user assertion"
        );
    }

    #[test]
    fn clients_are_registered_with_a_secret_shown_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let context = context(dir.path());
        crate::commands::init::run(&context).expect("init");
        let report = create_client(
            "Acme",
            &["https://app.example/cb".to_owned()],
            &["claims:read".to_owned()],
            false,
            false,
            &context,
        )
        .expect("create");
        let id = report.json["client_id"].as_str().expect("id");
        let secret = report.json["client_secret"].as_str().expect("secret");
        assert!(secret.starts_with("cs."));
        let store = context.store().expect("store");
        let client = store.inner().client(id).expect("read").expect("stored");
        assert_eq!(client.allowed_scopes, ["claims:read"]);
        assert!(
            client
                .secret_hash
                .as_deref()
                .is_some_and(|h| !h.contains(secret))
        );

        let public = create_client(
            "SPA",
            &["https://spa.example/cb".to_owned()],
            &[],
            true,
            false,
            &context,
        )
        .expect("public");
        assert!(public.json["client_secret"].is_null());
        let unknown = create_client(
            "X",
            &["https://x.example/cb".to_owned()],
            &["nope".to_owned()],
            false,
            false,
            &context,
        );
        assert!(unknown.is_err());
        let insecure = create_client(
            "X",
            &["http://x.example/cb".to_owned()],
            &[],
            false,
            false,
            &context,
        );
        assert!(insecure.is_err());
    }
}
