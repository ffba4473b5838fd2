//! Persistence of clients with diesel, on PostgreSQL (production) or SQLite (the embedded
//! default). This is the only crate that speaks SQL.
//!
//! Every operation is `async` and bounded in time (see [`pool`]): PostgreSQL through
//! diesel-async on tokio-postgres (no system library), SQLite through diesel's own connection on
//! blocking threads, its writes queued through one writer. Callers never see a thread or a
//! connection.

mod clients;
mod config;
mod error;
mod events;
mod history;
mod idempotency;
mod keys;
mod migrate;
mod pg_statements;
mod pool;
mod row;
mod schema;
mod sqlite;
mod sqlite_writes;
mod statements;
mod tls;
mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::AsyncPgConnection;

pub use clients::ListFilter;
pub use config::{StoreConfig, NO_ANSWER_GRACE};
pub use error::{Conflict, StoreError, UpdateError};
pub use events::{NewEvent, StoredEvent};
pub use history::{registration_hash, HistoryEntry, Verification};
pub use idempotency::{Claim, IdempotencyKey, StoredResponse, KEY_LIFETIME};
pub use keys::ApiKey;
pub use pool::{with_budget, PoolStatus};
pub use webhooks::{
    Backlog, ClaimRequest, ClaimedDelivery, DeliveryAttempt, Outcome, WebhookEndpoint,
};

use config::PgTarget;
use pool::{PgConnector, PgPools};
use sqlite::SqlitePools;

/// Which organizations' clients a caller may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Organization(i32),
    /// An admin key: every organization.
    All,
}

impl Scope {
    pub fn allows(self, organization_id: i32) -> bool {
        match self {
            Scope::Organization(own) => own == organization_id,
            Scope::All => true,
        }
    }
}

/// Who made a change, for the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// The API key that made the change, when there is one.
    pub actor_key_id: Option<String>,
    pub actor_name: String,
    pub request_id: Option<String>,
}

/// The clients store. Cheap to clone: clones share their connections.
#[derive(Clone)]
pub struct Store {
    db: Db,
    shared: Arc<Shared>,
    /// How long a call waits for a connection: the configured acquire timeout for a worker's
    /// handle, and at least [`STARTUP_WAIT`] for the handle [`Store::open`] returns.
    acquire_timeout: Duration,
}

#[derive(Clone)]
enum Db {
    Postgres(Pool<AsyncPgConnection>),
    Sqlite(Arc<SqlitePools>),
}

/// What every handle of one opened store shares.
struct Shared {
    config: StoreConfig,
    database: Database,
    /// Every handle's PostgreSQL pool, for metrics.
    pg_pools: PgPools,
    /// Statements PostgreSQL connections prepared for their cache (see [`Store::statements_prepared`]).
    prepared: Arc<AtomicU64>,
}

/// How handles of one opened store reach its database.
enum Database {
    /// Each handle opens a pool of its own with this.
    Postgres(Arc<PgConnector>),
    /// Every handle shares these.
    Sqlite(Arc<SqlitePools>),
}

/// Makes one store handle per HTTP worker (see [`Store::for_workers`]). Holds no connection.
#[derive(Clone)]
pub struct WorkerStores {
    shared: Arc<Shared>,
    per_worker: usize,
}

impl WorkerStores {
    /// A handle for the calling worker. On PostgreSQL it has a pool of its own, whose
    /// connections are opened on, and driven by, the calling thread's runtime.
    pub fn store(&self) -> Store {
        self.store_with(self.per_worker, true)
    }

    /// A handle for a background task, with a PostgreSQL pool of `connections` of its own,
    /// beyond the pool size and outside the pool metrics, which are the requests' (SQLite
    /// handles share one set of connections).
    pub fn background_store(&self, connections: usize) -> Store {
        self.store_with(connections, false)
    }

    fn store_with(&self, connections: usize, counted: bool) -> Store {
        let db = match &self.shared.database {
            Database::Sqlite(pools) => Db::Sqlite(Arc::clone(pools)),
            Database::Postgres(connector) => {
                let pool = connector.pool(connections.max(1), &self.shared.prepared);
                if counted {
                    self.shared.pg_pools.register(&pool);
                }
                Db::Postgres(pool)
            }
        };
        Store {
            db,
            shared: Arc::clone(&self.shared),
            acquire_timeout: self.shared.config.acquire_timeout,
        }
    }
}

/// The least a start waits for a database connection: a start is not a request, and a database
/// slow to accept its first connections (or the requests' timeouts set low) must not fail it.
const STARTUP_WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects, and brings the schema up to date with the embedded migrations. The handle is
    /// for setting up and administering (a start's first key, the command line): it waits for a
    /// connection at least [`STARTUP_WAIT`]. Requests are served by [`Store::for_workers`]'
    /// handles, which keep to the configured timeouts.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let wait = config.acquire_timeout.max(STARTUP_WAIT);
        let pool_size = usize::try_from(config.pool_size).unwrap_or(usize::MAX);
        let store = if config.is_postgres() {
            let connector = Arc::new(PgConnector::new(PgTarget::parse(config)?)?);
            migrate::postgres(Arc::clone(&connector), wait).await?;
            let prepared = Arc::default();
            let pool = connector.pool(pool_size, &prepared);
            let shared = Arc::new(Shared {
                config: config.clone(),
                database: Database::Postgres(connector),
                pg_pools: PgPools::default(),
                prepared,
            });
            shared.pg_pools.register(&pool);
            Store {
                db: Db::Postgres(pool),
                shared,
                acquire_timeout: wait,
            }
        } else {
            let path = config.sqlite_path().to_owned();
            migrate::sqlite(path.clone(), wait).await?;
            let pools = SqlitePools::new(
                &path.to_string_lossy(),
                pool_size,
                // Waiting for another process's write lock is waiting for the database.
                config.acquire_timeout,
            );
            Store {
                db: Db::Sqlite(Arc::clone(&pools)),
                shared: Arc::new(Shared {
                    config: config.clone(),
                    database: Database::Sqlite(pools),
                    pg_pools: PgPools::default(),
                    prepared: Arc::default(),
                }),
                acquire_timeout: wait,
            }
        };
        let chained = history::chain_unhashed_entries(&store).await?;
        if chained > 0 {
            tracing::info!(
                entries = chained,
                "history entries written before the hash chain were given their hashes"
            );
        }
        Ok(store)
    }

    /// What `workers` HTTP workers need to each make a handle of their own: the pool size is
    /// shared out between them (at least one connection each). SQLite handles share one set of
    /// connections.
    pub fn for_workers(&self, workers: usize) -> WorkerStores {
        let total = usize::try_from(self.shared.config.pool_size).unwrap_or(usize::MAX);
        WorkerStores {
            shared: Arc::clone(&self.shared),
            per_worker: total.div_ceil(workers.max(1)).max(1),
        }
    }

    /// How long a request may wait for a connection before it is answered 503.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    fn answer_deadline(&self) -> Duration {
        self.shared.config.answer_deadline()
    }

    /// The budget for all the database waits of one request (see [`with_budget`]): a checkout
    /// and a statement's answer, `acquire_timeout` + `statement_timeout` +
    /// [`NO_ANSWER_GRACE`]. The server answers every request within it (plus its own work),
    /// whatever the database does.
    pub fn request_budget(&self) -> Duration {
        self.acquire_timeout + self.answer_deadline()
    }

    /// How the connection pools are doing right now, every worker's together.
    pub fn pool_status(&self) -> PoolStatus {
        match &self.db {
            Db::Postgres(_) => self.shared.pg_pools.status(),
            Db::Sqlite(pools) => pools.status(),
        }
    }

    /// How many statements PostgreSQL connections have prepared for their statement cache since
    /// the store was opened. It grows while connections are new, then stays: a statement that
    /// is prepared on every use would make it grow with the requests.
    pub fn statements_prepared(&self) -> u64 {
        self.shared.prepared.load(Ordering::Relaxed)
    }

    /// `postgres` or `sqlite`.
    pub fn backend_name(&self) -> &'static str {
        match self.db {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// Whether this is the embedded SQLite database (where a first start creates a key).
    pub fn is_embedded(&self) -> bool {
        matches!(self.db, Db::Sqlite(_))
    }

    /// A round trip to the database within `within`, connecting included, for readiness checks.
    pub async fn ping(&self, within: Duration) -> Result<(), StoreError> {
        let round_trip = async {
            match &self.db {
                Db::Postgres(pool) => pool::select_one(pool, within).await,
                Db::Sqlite(pools) => pool::select_one(pools.reader(), within).await,
            }
        };
        pool::answered(within, round_trip).await
    }
}

/// The first `limit` of `rows` (read with `limit + 1`), and whether there were more.
fn page<T>(mut rows: Vec<T>, limit: i64) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

/// Runs `$body`, an expression that may `.await` and use `?`, with `$conn` a connection of
/// PostgreSQL pool `$pool`: the checkout is bounded by the acquire timeout, the body by the
/// answer deadline.
macro_rules! on_postgres {
    ($store:expr, $pool:expr, |$conn:ident| $body:expr) => {{
        let mut lease = $crate::pool::acquire($pool, $store.acquire_timeout()).await?;
        let result = {
            let $conn = lease.conn();
            $crate::pool::answered($store.answer_deadline(), async { $body }).await
        };
        lease.finish(&result);
        result
    }};
}

/// Runs `$body` with `$conn` a connection of SQLite pool `$pool`. The checkout is bounded by the
/// acquire timeout; a body that has started runs to its end (its lock waits are bounded by the
/// busy timeout), so that an answer never reports a failure for work that then completes.
macro_rules! on_sqlite {
    ($store:expr, $pool:expr, |$conn:ident| $body:expr) => {{
        let mut lease = $crate::pool::acquire($pool, $store.acquire_timeout()).await?;
        let result = {
            let $conn = lease.conn();
            $crate::pool::unit(async { $body }).await
        };
        lease.finish(&result);
        result
    }};
}

/// Runs `$body` with `$conn` a connection and `$s` the backend's schema module, once per
/// backend: the body is written once and type-checked for both. `$role` (`reader` or `writer`)
/// picks SQLite's connection; PostgreSQL has one kind.
macro_rules! with_connection {
    ($store:expr, $role:ident, |$conn:ident, $s:ident| $body:expr) => {
        match &$store.db {
            $crate::Db::Postgres(pool) => $crate::on_postgres!($store, pool, |$conn| {
                #[allow(unused_imports)]
                use $crate::schema::pg as $s;
                $body
            }),
            $crate::Db::Sqlite(pools) => $crate::on_sqlite!($store, pools.$role(), |$conn| {
                #[allow(unused_imports)]
                use $crate::schema::sqlite as $s;
                $body
            }),
        }
    };
}
pub(crate) use {on_postgres, on_sqlite, with_connection};
