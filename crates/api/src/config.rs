//! Server configuration: one struct, defaults for the embedded setup, overridable by environment
//! variables and command-line flags (flags win).

use std::time::Duration;

use clap::Parser;

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

    /// Maximum number of database connections.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// How long a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "WORKERS")]
    pub workers: Option<usize>,
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
        }
    }
}
