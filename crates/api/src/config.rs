//! Server configuration: one struct, defaults for the embedded setup, overridable by environment
//! variables and command-line flags (flags win).

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

#[derive(Debug, Clone, Parser)]
#[command(name = "clients-api", version, about = "The client-records API server")]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// `postgres://user@host/db` for PostgreSQL, otherwise the path of a SQLite file (created
    /// with its directory when missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "data/clients.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Maximum number of database connections, shared out between the HTTP workers (each owns
    /// its share, at least one). A PUT waits mostly for its commit, and more connections let
    /// PostgreSQL group commits (see BENCHMARKS.md). On SQLite: one writer and the rest readers.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// How long a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,

    /// PostgreSQL: the longest one statement may run, lock waits included, in milliseconds; then
    /// it is cancelled, its transaction rolled back, and the request answers 503.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_statement_timeout_ms: u64,

    /// How long a verified API key is trusted without reading it again, in milliseconds: a
    /// revoked key stops working within this. 0 reads the key on every request.
    #[arg(long, env = "AUTH_CACHE_TTL_MS", default_value_t = 5000)]
    pub auth_cache_ttl_ms: u64,

    /// How many calendar years the records of a client whose relationship was closed are kept
    /// (`retain_until` = the closing plus this); fixed at each closing. 1 to 100.
    #[arg(long, env = "RETENTION_YEARS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub retention_years: u32,

    /// The largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1024..=16_777_216))]
    pub body_limit_bytes: u64,

    /// How long a client may take to send the request headers, and then the body, in
    /// milliseconds; a slower client gets 408.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 10000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// On SIGTERM or Ctrl-C, how long requests in flight may still run before the server exits,
    /// in seconds.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_S", default_value_t = 30)]
    pub shutdown_timeout_s: u64,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "WORKERS")]
    pub workers: Option<usize>,

    /// `text` (one human-readable line per event) or `json` (one JSON object per line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Deliver webhooks to any URL, `http` and private addresses included. For local development
    /// and tests only: in production, only `https` URLs of public addresses are accepted.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_URLS", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private_urls: bool,

    /// The key that encrypts webhook signing secrets at rest: base64 of 32 bytes. When unset, it
    /// is read from `WEBHOOK_SECRETS_KEY_FILE` (created on first use).
    #[arg(long, env = "WEBHOOK_SECRETS_KEY", hide_env_values = true)]
    pub webhook_secrets_key: Option<String>,

    /// Where the key that encrypts webhook signing secrets is kept when `WEBHOOK_SECRETS_KEY` is
    /// not set; created (mode 0600) on first use. Every instance on one database needs the same key.
    #[arg(
        long,
        env = "WEBHOOK_SECRETS_KEY_FILE",
        default_value = "data/webhook-secrets.key"
    )]
    pub webhook_secrets_key_file: std::path::PathBuf,

    /// How long an endpoint has to answer a delivery, in milliseconds; then the attempt failed.
    /// At most 45 s: a claim lasts this plus 15 s, and an attempt cut off by a crash must be made
    /// again within 60 s.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 15000, value_parser = clap::value_parser!(u64).range(100..=45_000))]
    pub webhook_timeout_ms: u64,

    /// The delay before the first retry of a failed delivery, in milliseconds; each later one
    /// doubles, up to `WEBHOOK_RETRY_MAX_MS` (each drawn between half and all of that, jitter).
    #[arg(long, env = "WEBHOOK_RETRY_FIRST_MS", default_value_t = 8000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_retry_first_ms: u64,

    /// The longest delay between two attempts, in milliseconds.
    #[arg(long, env = "WEBHOOK_RETRY_MAX_MS", default_value_t = 3_600_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_retry_max_ms: u64,

    /// How long a delivery is retried, from its first attempt, in milliseconds; the first attempt
    /// that fails after that gives it up (`failed`).
    #[arg(long, env = "WEBHOOK_GIVE_UP_AFTER_MS", default_value_t = 86_400_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_give_up_after_ms: u64,

    /// Deliveries in flight at once, per instance.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub webhook_concurrency: u32,

    /// Deliveries in flight at once to one endpoint, every instance together: a slow endpoint
    /// holds at most this many.
    #[arg(long, env = "WEBHOOK_PER_ENDPOINT", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub webhook_per_endpoint: u32,

    /// How often idle delivery workers look for due deliveries, in milliseconds (changes made
    /// through this instance wake them at once).
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub webhook_poll_ms: u64,

    /// Without a command, the server runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Manage API keys (on the database of --database-url / DATABASE_URL).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it. The key is shown this once; only its hash is stored.
    Create {
        /// A name saying who or what uses the key; it appears in the change history.
        #[arg(long)]
        name: String,
        /// The organization whose clients the key sees and changes.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        organization_id: Option<i32>,
        /// An admin key: sees every organization, and names one when registering.
        #[arg(long)]
        admin: bool,
    },
    /// List the keys: id, organization, name, created, last used, revoked. Never the secrets.
    List,
    /// Revoke a key: requests with it are refused from now on.
    Revoke {
        /// The key's id (from `keys list`).
        id: Uuid,
    },
}

impl Config {
    /// The configuration with every default, for a given database.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        let mut config = Config::parse_from(["clients-api"]);
        config.database_url = database_url.into();
        config
    }

    pub fn store(&self) -> store::StoreConfig {
        store::StoreConfig {
            database_url: self.database_url.clone(),
            pool_size: self.db_pool_size,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
        }
    }

    pub fn delivery_settings(&self) -> crate::webhooks::Settings {
        crate::webhooks::Settings {
            allow_private: self.webhook_allow_private_urls,
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            retry_first: Duration::from_millis(self.webhook_retry_first_ms),
            retry_max: Duration::from_millis(self.webhook_retry_max_ms),
            give_up_after: Duration::from_millis(self.webhook_give_up_after_ms),
            concurrency: usize::try_from(self.webhook_concurrency).unwrap_or(usize::MAX),
            per_endpoint: usize::try_from(self.webhook_per_endpoint).unwrap_or(usize::MAX),
            poll: Duration::from_millis(self.webhook_poll_ms),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::CommandFactory;

    use super::Config;

    /// `variable -> default` from the README's configuration table.
    fn documented() -> BTreeMap<String, String> {
        include_str!("../../../README.md")
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (
                    cells[1].trim_matches('`').to_owned(),
                    cells[3].trim_matches('`').to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn readme_configuration_table_matches_the_settings() {
        let documented = documented();
        for arg in Config::command().get_arguments() {
            let Some(env) = arg.get_env() else { continue };
            let env = env.to_string_lossy();
            let default = documented
                .get(env.as_ref())
                .unwrap_or_else(|| panic!("README does not document {env}"));
            if let Some(value) = arg.get_default_values().first() {
                assert_eq!(
                    default,
                    &value.to_string_lossy(),
                    "README's default for {env}"
                );
            }
        }
        let settings: Vec<String> = Config::command()
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into())
            .collect();
        for name in documented.keys().filter(|n| *n != "RUST_LOG") {
            assert!(
                settings.contains(name),
                "README documents {name}, which is not a setting"
            );
        }
    }
}
