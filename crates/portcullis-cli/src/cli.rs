//! The command line, declared with clap.

use crate::time_text::{parse_duration, parse_ttl};
use clap::{Args, Parser, Subcommand};
use portcullis_store::Actor;
use std::path::PathBuf;

/// API keys for your service from the command line: create, list, revoke and rotate keys
/// on an embedded store (or a shared PostgreSQL database), check requests against your policy, and watch the whole story in
/// `portcullis demo`.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok/allowed, 1 denied, 2 usage, 3 bad input, \
4 store/pepper/policy file problem, 5 demo step failed."
)]
pub struct Cli {
    /// The store directory (database, pepper file, policy).
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_STORE",
        default_value = ".portcullis"
    )]
    pub store: PathBuf,

    /// The database: sqlite:PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE
    /// [default: the SQLite file STORE/keys.sqlite3]. Processes sharing one database see
    /// each other's keys and revocations.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<crate::context::DatabaseUrl>,

    /// The pepper file [default: STORE/pepper].
    #[arg(long, global = true, env = "PORTCULLIS_PEPPER_FILE")]
    pub pepper_file: Option<PathBuf>,

    /// The policy file [default: STORE/policy.toml].
    #[arg(long, global = true, env = "PORTCULLIS_POLICY")]
    pub policy: Option<PathBuf>,

    /// Print one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Act as if the time were this Unix time in seconds (for tests and what-ifs).
    #[arg(long, global = true, value_name = "UNIX_SECS")]
    pub now: Option<u64>,

    /// How long to wait for another process's lock on the store (e.g. 15s, 2m).
    #[arg(long, global = true, env = "PORTCULLIS_BUSY_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub busy_timeout: u64,

    /// Who the audit records as making this command's changes (a person's or service's
    /// name, at most 256 bytes, no control characters) [default: $USER, else "cli"].
    #[arg(long, global = true, env = "PORTCULLIS_ACTOR", value_name = "NAME", value_parser = parse_actor)]
    pub actor: Option<Actor>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a store: database, pepper file (mode 0600) and a starter policy.
    Init,
    /// Create, list, show, revoke and rotate API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Decide a request as your API would, with the store's keys.
    Check(CheckArgs),
    /// Work with policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage the server-side peppers.
    #[command(subcommand)]
    Pepper(PepperCommand),
    /// Tell the whole story on a throwaway store; exits 0 only if every step behaves.
    Demo,
    /// Print the audit log, newest first: who created, revoked, rotated and rehashed keys
    /// and rotated peppers, and when.
    Audit(AuditArgs),
    /// Serve the policy over HTTP: forward auth for nginx, Traefik, Caddy and Envoy, the
    /// OAuth endpoints, /healthz and /metrics (see the README's "Behind a proxy").
    Serve(ServeArgs),
    /// OAuth: register clients, mint a signed-in-user assertion for testing.
    #[command(subcommand)]
    Oauth(OAuthCommand),
}

/// `portcullis oauth …`.
#[derive(Debug, Subcommand)]
pub enum OAuthCommand {
    /// Print a signed-in-user assertion (the `portcullis_user` cookie the host sets), for
    /// testing and for host developers checking their own.
    Assert {
        /// The signed-in user (the owner of what they approve; 1-255 bytes).
        #[arg(long)]
        user: String,
        /// Also the user's organisation: prints the `portcullis_org` assertion of the
        /// Settings > API Keys page (`o1.…`) instead of the `portcullis_user` one.
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// How long it is valid (e.g. 300, 5m).
        #[arg(long, default_value = "300", value_parser = parse_ttl)]
        ttl: u64,
        /// The host secret [default: STORE/host-secret, created when missing].
        #[arg(long, env = "PORTCULLIS_HOST_SECRET_FILE", value_name = "PATH")]
        host_secret_file: Option<PathBuf>,
    },
    /// Register OAuth clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
}

/// `portcullis oauth clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its client_id and (confidential clients, once) its secret.
    Create {
        /// A name for people; the client_id starts with it.
        #[arg(long)]
        name: String,
        /// A redirect URI, matched exactly (repeatable; https, or for --native a custom
        /// scheme or http://127.0.0.1).
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// Scopes it may be granted, comma-separated [default: every scope of the policy].
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// A public client (single-page or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// A native app (implies --public): custom schemes and loopback redirects.
        #[arg(long)]
        native: bool,
    },
}

/// `portcullis serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to serve HTTP (port 0: any free port, printed when ready).
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Where to serve Envoy's gRPC ext_authz (envoy.service.auth.v3.Authorization/Check).
    #[arg(long, value_name = "ADDR")]
    pub grpc: Option<std::net::SocketAddr>,
    /// A network whose proxies' forwarded headers are believed (repeatable; an address or
    /// ADDR/PREFIX) [default: 127.0.0.0/8 and ::1].
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<portcullis_server::Cidr>,
    /// The URL clients reach this server at (`https://auth.example.com`): the OAuth issuer
    /// and the base of the metadata documents and of resource_metadata.
    #[arg(long, env = "PORTCULLIS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// What to log on stderr, as JSON lines: off, refusals or all.
    #[arg(long, default_value = "refusals", value_name = "LEVEL")]
    pub log: portcullis_server::LogLevel,
    /// Count the policy's `[[limits]]` across a fleet in Redis (`redis://127.0.0.1:PORT`);
    /// without it, each server counts them in its own memory.
    #[arg(
        long,
        env = "PORTCULLIS_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis: Option<String>,
    /// Connections open at once; past it, new connections wait to be accepted.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_connections: usize,
    /// The secret shared with the host, which signs the signed-in-user assertions
    /// [default: STORE/host-secret, created (mode 0600) when missing]. The host and every
    /// server of a fleet need the same file.
    #[arg(long, env = "PORTCULLIS_HOST_SECRET_FILE", value_name = "PATH")]
    pub host_secret_file: Option<PathBuf>,
    /// The key access tokens are signed with [default: STORE/oauth-key, created (mode
    /// 0600) when missing]. Every server of a fleet needs the same file.
    #[arg(long, env = "PORTCULLIS_OAUTH_KEY_FILE", value_name = "PATH")]
    pub oauth_key_file: Option<PathBuf>,
    /// The admin token of the key API at /api/keys (64 hex digits, mode 0600; sent as
    /// `Authorization: Bearer <hex>`) [default: STORE/admin-token when it exists; without
    /// it, only signed-in users manage their organisation's keys].
    #[arg(long, env = "PORTCULLIS_ADMIN_TOKEN_FILE", value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,
}

/// `portcullis audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this key's entries (the id or its display form).
    #[arg(long, value_name = "ID")]
    pub key: Option<String>,
    /// At most this many entries (1-1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    /// Only entries older than this sequence number (the next page: the last SEQ shown).
    #[arg(long, value_name = "SEQ")]
    pub before: Option<i64>,
}

/// Parses `--actor` (and `PORTCULLIS_ACTOR`): the store's rules for an actor.
pub fn parse_actor(text: &str) -> Result<Actor, String> {
    Actor::new(text).map_err(|e| e.to_string())
}

/// `portcullis keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and show it once.
    Create(CreateArgs),
    /// List the keys of the store (all of them unless filtered).
    List {
        /// Only keys of this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Only keys in this state now.
        #[arg(long, value_parser = ["active", "revoked", "expired", "not_yet_valid"])]
        status: Option<String>,
    },
    /// Show one key.
    Show {
        /// The key id (or its display form `sk_live_<id>_…`).
        id: String,
    },
    /// Revoke a key, effective at once.
    Revoke {
        /// The key id (or its display form).
        id: String,
    },
    /// Show a key's uses per hour as a chart (allowed and denied), its first and last use,
    /// its networks and the unusual-activity signals raised for it.
    Usage {
        /// The key id (or its display form).
        id: String,
        /// How many hours to show, up to the current one (1-8784).
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u64).range(1..=8784))]
        hours: u64,
    },
    /// Issue a successor; the old key keeps working for the grace period.
    Rotate {
        /// The key id (or its display form).
        id: String,
        /// How long the old key keeps working (e.g. 7d, 12h, 0 to end it now).
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        grace: u64,
    },
}

/// `portcullis keys create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name for people ("Production Integration").
    #[arg(long)]
    pub name: String,
    /// Granted scopes, comma-separated (claims:read,claims:write; patterns like claims:*).
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// The owning organisation or user.
    #[arg(long, default_value = "default")]
    pub owner: String,
    /// The key's environment [default: the policy's deployment environment].
    #[arg(long)]
    pub env: Option<String>,
    /// The key kind [default: the policy's first kind].
    #[arg(long)]
    pub kind: Option<String>,
    /// Lifetime (e.g. 90d; at least 1s); without it the key does not expire.
    #[arg(long, value_parser = parse_ttl)]
    pub ttl: Option<u64>,
    /// The key's tier, which picks the policy's `[[limits]]` that name it in `tiers`
    /// (stored as the record's metadata `tier`; 1-32 letters, digits, '_' or '-').
    #[arg(long, value_name = "NAME", value_parser = parse_tier)]
    pub tier: Option<String>,
}

/// Parses `--tier`: a name as the policy's `tiers` take it (1-32 of `[A-Za-z0-9_-]`).
pub fn parse_tier(text: &str) -> Result<String, String> {
    let ok = (1..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err("use 1-32 letters, digits, '_' or '-' (as the policy's `tiers`)".to_owned())
    }
}

/// `portcullis check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The HTTP method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The request path, without the query string.
    #[arg(long)]
    pub path: String,
    /// A request header, "Name: value" (only Authorization matters; repeatable).
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Read the key from the first line of stdin (at most 4096 bytes) and send it as
    /// "Authorization: Bearer KEY" (keeps it out of the process list and shell history).
    #[arg(long)]
    pub key_stdin: bool,
    /// The raw query string, without `?` (e.g. "api_key=sk_live_…").
    #[arg(long)]
    pub query: Option<String>,
    /// The request came over plain HTTP (the default is HTTPS).
    #[arg(long)]
    pub http: bool,
    /// The client's IP address (IPv4 or IPv6), recorded with the key's usage: its network
    /// (/24, /48) is what the new-network rule compares.
    #[arg(long, value_name = "ADDR")]
    pub client: Option<std::net::IpAddr>,
}

/// `portcullis policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file; print its compiled catalog and routes.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Print the policy's OpenAPI 3.1 document (security schemes, each route's security),
    /// or merge that security into an existing OpenAPI 3.x JSON document.
    Openapi {
        /// The policy file [default: --policy, or STORE/policy.toml].
        file: Option<PathBuf>,
        /// An OpenAPI 3.x JSON document (at most 4 MiB) to set the security of.
        #[arg(long, value_name = "DOCUMENT")]
        merge: Option<PathBuf>,
    },
}

/// `portcullis pepper …`.
#[derive(Debug, Subcommand)]
pub enum PepperCommand {
    /// Add a new primary pepper; keys hashed under older peppers keep verifying.
    Rotate,
}
