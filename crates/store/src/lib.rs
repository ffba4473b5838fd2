//! Persistence of clients with diesel, on PostgreSQL (production) or SQLite (the embedded
//! default). This is the only crate that speaks SQL.
//!
//! Every call blocks: the API runs them on its blocking thread pool, never on an async worker.

mod backend;
mod error;
mod idempotency;
mod pool;
mod row;
mod schema;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, Pool, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use domain::history::{registration_changes, update_changes, Change};
use domain::{Client, KycStatus, RiskLevel, UpdateField, UpdatePlan};
use uuid::Uuid;

pub use error::{Conflict, StoreError, UpdateError};
pub use idempotency::{Claim, IdempotencyKey, StoredResponse, KEY_LIFETIME};
use pool::{Manager, Tracked};
use row::{ClientRow, DbUuid};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

diesel::define_sql_function! {
    /// SQL `lower()`, matching the case-insensitive unique index on email.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

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

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    /// `None` for an admin key.
    pub organization_id: Option<i32>,
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

type ApiKeyRow = (
    DbUuid,
    Option<i32>,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn api_key(row: ApiKeyRow) -> ApiKey {
    let (id, organization_id, name, secret_hash, created_at, last_used_at, revoked_at) = row;
    ApiKey {
        id: id.0,
        organization_id,
        name,
        secret_hash,
        created_at,
        last_used_at,
        revoked_at,
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

/// Which clients of an organization a listing returns; `None` matches any value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub kyc_status: Option<KycStatus>,
    pub risk_level: Option<RiskLevel>,
    pub is_blacklisted: Option<bool>,
    pub blocked: Option<bool>,
}

/// One entry of a client's change history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor_key_id: Option<String>,
    pub actor_name: String,
    pub request_id: Option<String>,
    /// JSON array of `{field, old, new}`.
    pub changes: String,
}

fn changes_json(changes: &[Change]) -> Result<String, StoreError> {
    serde_json::to_string(changes)
        .map_err(|e| StoreError::Internal(format!("cannot encode history: {e}")))
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `postgres://...` or `postgresql://...` for PostgreSQL; anything else is a SQLite file path
    /// (an optional `sqlite://` prefix is removed).
    pub database_url: String,
    pub pool_size: u32,
    /// How long a request waits for a connection before the store reports itself unavailable.
    pub acquire_timeout: Duration,
    /// PostgreSQL: the longest a statement may run (lock waits included) before it is cancelled
    /// and the store reports itself unavailable. On SQLite, `acquire_timeout` bounds lock waits.
    pub statement_timeout: Duration,
}

impl StoreConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            pool_size: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }

    fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }

    /// The PostgreSQL URL with libpq's network timeouts filled in where the URL sets none, so
    /// that a database host that vanishes without closing its connections (a partition, a
    /// power loss) fails requests in seconds instead of after TCP's retransmissions (minutes):
    /// connecting gives up after the acquire timeout, idle connections are probed by
    /// keepalives, and data unacknowledged for 10 s closes the connection.
    fn postgres_url(&self) -> String {
        let connect = self.acquire_timeout.as_secs().max(2).to_string();
        let defaults = [
            ("connect_timeout", connect.as_str()),
            ("keepalives", "1"),
            ("keepalives_idle", "10"),
            ("keepalives_interval", "5"),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", "10000"),
        ];
        let mut url = self.database_url.clone();
        let query = url.split_once('?').map_or("", |(_, q)| q).to_owned();
        for (name, value) in defaults {
            let given = query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name));
            if !given {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&format!("{name}={value}"));
            }
        }
        url
    }

    fn sqlite_path(&self) -> &str {
        let url = &self.database_url;
        url.strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url)
    }
}

#[derive(Clone)]
enum Pools {
    Postgres(Pool<Manager<PgConnection>>),
    Sqlite(Pool<Manager<SqliteConnection>>),
}

/// The clients store. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    /// Requests waiting for a connection right now (r2d2 does not count them).
    waiting: Arc<AtomicUsize>,
    acquire_timeout: Duration,
}

/// The connection pool at one instant, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max: u32,
    /// Connections open, in use or idle.
    pub open: u32,
    pub idle: u32,
    /// Requests waiting for a database thread or connection.
    pub waiting: usize,
}

impl PoolStatus {
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

/// Counts a request as waiting for the database (for a thread or a connection) while it lives.
pub struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(Arc::clone(counter))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Settings every SQLite connection gets: WAL so that readers never wait for the writer, a busy
/// timeout so that writers queue (for as long as a request may wait for a connection) instead of
/// failing at once, and foreign keys on.
#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout: Duration,
}

/// Settings every PostgreSQL connection gets: a statement timeout, so that no request waits on
/// the database (a lock held elsewhere, a runaway query) for longer than that. PostgreSQL then
/// cancels the statement and the transaction rolls back: the request answers 503 having changed
/// nothing.
#[derive(Debug)]
struct PgSettings {
    statement_timeout: Duration,
}

impl CustomizeConnection<Tracked<PgConnection>, diesel::r2d2::Error> for PgSettings {
    fn on_acquire(&self, conn: &mut Tracked<PgConnection>) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET statement_timeout = {}",
            self.statement_timeout.as_millis()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl CustomizeConnection<Tracked<SqliteConnection>, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Tracked<SqliteConnection>) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON;",
            self.busy_timeout.as_millis()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Runs `$body` with `$conn` a pooled connection, `$s` the backend's schema module and `$b` its
/// [`backend`] module, once per backend: the body is written once and type-checked for both.
/// Appends a history entry; `$s` is the backend's schema module.
macro_rules! record_history {
    ($conn:expr, $s:ident, $client:expr, $audit:expr, $changes:expr) => {{
        use $s::client_history::dsl as h;
        diesel::insert_into(h::client_history)
            .values((
                h::client_id.eq(DbUuid($client.id)),
                h::version.eq($client.version),
                h::organization_id.eq($client.organization_id),
                h::recorded_at.eq($client.updated_at),
                h::actor_key_id.eq($audit.actor_key_id.as_deref()),
                h::actor_name.eq(&$audit.actor_name),
                h::request_id.eq($audit.request_id.as_deref()),
                h::changes.eq($changes),
            ))
            .execute($conn)
    }};
}

macro_rules! with_backend {
    ($store:expr, |$conn:ident, $s:ident, $b:ident| $body:block) => {
        match &$store.pools {
            Pools::Postgres(pool) => $store.with_connection(pool, |$conn| {
                #[allow(unused_imports)]
                use crate::backend::pg as $b;
                #[allow(unused_imports)]
                use crate::schema::pg as $s;
                $body
            }),
            Pools::Sqlite(pool) => $store.with_connection(pool, |$conn| {
                #[allow(unused_imports)]
                use crate::backend::sqlite as $b;
                #[allow(unused_imports)]
                use crate::schema::sqlite as $s;
                $body
            }),
        }
    };
}

/// The least a start waits for its first database connection.
const STARTUP_WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects, and brings the schema up to date with the embedded migrations.
    pub fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let store = if config.is_postgres() {
            let pool = Pool::builder()
                .max_size(config.pool_size)
                .connection_timeout(config.acquire_timeout)
                .min_idle(Some(1))
                .connection_customizer(Box::new(PgSettings {
                    statement_timeout: config.statement_timeout,
                }))
                .build_unchecked(Manager::<PgConnection>::new(config.postgres_url()));
            Store {
                pools: Pools::Postgres(pool),
                waiting: Arc::default(),
                acquire_timeout: config.acquire_timeout,
            }
        } else {
            let path = config.sqlite_path();
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let pool = Pool::builder()
                .max_size(config.pool_size)
                .connection_timeout(config.acquire_timeout)
                .min_idle(Some(1))
                .connection_customizer(Box::new(SqlitePragmas {
                    busy_timeout: config.acquire_timeout,
                }))
                .build_unchecked(Manager::<SqliteConnection>::new(path));
            Store {
                pools: Pools::Sqlite(pool),
                waiting: Arc::default(),
                acquire_timeout: config.acquire_timeout,
            }
        };
        store.migrate(config.acquire_timeout.max(STARTUP_WAIT))?;
        Ok(store)
    }

    /// Brings the schema up to date, waiting at most `wait` for a first connection: a start is
    /// not a request, and a database slow to accept its first connection (or the requests'
    /// timeout set low) must not fail it.
    fn migrate(&self, wait: Duration) -> Result<(), StoreError> {
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            StoreError::Internal(format!("migration failed: {e}"))
        };
        match &self.pools {
            Pools::Postgres(pool) => {
                let mut conn = pool.get_timeout(wait)?;
                // A migration, or waiting for another instance's, may take longer than any
                // request may: this session has no statement timeout, and leaves the pool after.
                conn.discard();
                conn.batch_execute("SET statement_timeout = 0")?;
                // Instances starting together must not run the same migration twice.
                conn.batch_execute("SELECT pg_advisory_lock(7438209)")?;
                let result = conn
                    .run_pending_migrations(PG_MIGRATIONS)
                    .map(|_| ())
                    .map_err(failed);
                conn.batch_execute("SELECT pg_advisory_unlock(7438209)")?;
                result
            }
            Pools::Sqlite(pool) => pool
                .get_timeout(wait)?
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|_| ())
                .map_err(failed),
        }
    }

    /// Runs `work` on a connection from `pool`, waiting for one at most the acquire timeout.
    /// When `work` fails, the connection is checked, so that a dead one leaves the pool.
    fn with_connection<C, T, E>(
        &self,
        pool: &Pool<Manager<C>>,
        work: impl FnOnce(&mut C) -> Result<T, E>,
    ) -> Result<T, E>
    where
        C: R2D2Connection + 'static,
        E: From<StoreError>,
    {
        let mut pooled = {
            let _waiting = Waiting::start(&self.waiting);
            pool.get().map_err(StoreError::from)?
        };
        let result = work(&mut pooled);
        if result.is_err() {
            pooled.check();
        }
        result
    }

    /// Counts the caller as waiting for the database until the guard is dropped; for work queued
    /// before it reaches the store.
    pub fn waiting(&self) -> Waiting {
        Waiting::start(&self.waiting)
    }

    /// How long a request may wait for the database before it is answered 503.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// How the connection pool is doing right now.
    pub fn pool_status(&self) -> PoolStatus {
        let (max, state) = match &self.pools {
            Pools::Postgres(pool) => (pool.max_size(), pool.state()),
            Pools::Sqlite(pool) => (pool.max_size(), pool.state()),
        };
        PoolStatus {
            max,
            open: state.connections,
            idle: state.idle_connections,
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    /// `postgres` or `sqlite`.
    pub fn backend_name(&self) -> &'static str {
        match self.pools {
            Pools::Postgres(_) => "postgres",
            Pools::Sqlite(_) => "sqlite",
        }
    }

    /// A round trip to the database, for readiness checks.
    pub fn ping(&self) -> Result<(), StoreError> {
        with_backend!(self, |conn, _s, _b| { Ok(conn.batch_execute("SELECT 1")?) })
    }

    /// Stores a new client. The email and the external code must not be used by another client
    /// of the organization.
    /// With `idempotency`, the claimed key is completed with `response` in the same transaction,
    /// so a retry can never find a client without its response, or the reverse.
    pub fn insert(
        &self,
        client: &Client,
        audit: &Audit,
        idempotency: Option<(&IdempotencyKey, &StoredResponse)>,
    ) -> Result<(), StoreError> {
        let changes = changes_json(&registration_changes(client))?;
        with_backend!(self, |conn, s, b| {
            use s::clients::dsl as c;
            b::write_transaction(conn, |conn| {
                let org = client.organization_id;
                let email_taken = c::clients
                    .filter(c::organization_id.eq(org))
                    .filter(lower(c::email).eq(lower(&client.email)))
                    .select(c::id)
                    .first::<DbUuid>(conn)
                    .optional()?
                    .is_some();
                if email_taken {
                    return Err(StoreError::Conflict(Conflict::Email));
                }
                if let Some(code) = &client.external_client_code {
                    let code_taken = c::clients
                        .filter(c::organization_id.eq(org))
                        .filter(c::external_client_code.eq(code))
                        .select(c::id)
                        .first::<DbUuid>(conn)
                        .optional()?
                        .is_some();
                    if code_taken {
                        return Err(StoreError::Conflict(Conflict::ExternalClientCode));
                    }
                }
                diesel::insert_into(c::clients)
                    .values((
                        (
                            c::id.eq(DbUuid(client.id)),
                            c::organization_id.eq(org),
                            c::version.eq(client.version),
                            c::created_at.eq(client.created_at),
                            c::updated_at.eq(client.updated_at),
                            c::kyc_level.eq(client.kyc_level.as_str()),
                            c::kyc_status.eq(client.kyc_status.as_str()),
                            c::risk_level.eq(client.risk_level.as_str()),
                            c::is_blacklisted.eq(client.is_blacklisted),
                            c::blacklisted_comment.eq(client.blacklisted_comment.as_deref()),
                            c::blocked.eq(client.blocked),
                            c::kyc_note.eq(client.kyc_note.as_deref()),
                            c::external_client_code.eq(client.external_client_code.as_deref()),
                            c::first_name.eq(&client.first_name),
                            c::middle_name.eq(client.middle_name.as_deref()),
                            c::last_name.eq(&client.last_name),
                        ),
                        (
                            c::date_of_birth.eq(client.date_of_birth),
                            c::gender.eq(client.gender.as_str()),
                            c::nationality.eq(&client.nationality),
                            c::birth_country.eq(&client.birth_country),
                            c::country_of_tax_residence.eq(&client.country_of_tax_residence),
                            c::email.eq(&client.email),
                            c::second_email.eq(client.second_email.as_deref()),
                            c::mobile_phone_number.eq(client.mobile_phone_number.as_deref()),
                            c::second_mobile_phone_number
                                .eq(client.second_mobile_phone_number.as_deref()),
                            c::address.eq(&client.address),
                            c::city.eq(&client.city),
                            c::postcode.eq(&client.postcode),
                            c::state_province.eq(client.state_province.as_deref()),
                            c::country_code.eq(&client.country_code),
                            c::planned_income.eq(client.planned_income.as_deref()),
                            c::planned_expenditure.eq(client.planned_expenditure.as_deref()),
                        ),
                    ))
                    .execute(conn)?;
                record_history!(conn, s, client, audit, &changes)?;
                if let Some((key, response)) = idempotency {
                    use s::idempotency_keys::dsl as k;
                    diesel::update(
                        k::idempotency_keys
                            .filter(k::organization_id.eq(key.organization_id))
                            .filter(k::key.eq(&key.key)),
                    )
                    .set((
                        k::completed.eq(true),
                        k::response_status.eq(i32::from(response.status)),
                        k::response_body.eq(&response.body),
                        k::location.eq(response.location.as_deref()),
                        k::etag.eq(response.etag.as_deref()),
                    ))
                    .execute(conn)?;
                }
                Ok(())
            })
        })
    }

    /// The client with this id within the scope. A client of another organization is not found,
    /// exactly like an unknown id.
    pub fn get(&self, scope: Scope, id: Uuid) -> Result<Option<Client>, StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::clients::dsl as c;
            let row = c::clients
                .filter(c::id.eq(DbUuid(id)))
                .first::<ClientRow>(conn)
                .optional()?;
            let row = row.filter(|r| scope.allows(r.organization_id));
            row.map(Client::try_from).transpose()
        })
    }

    /// Updates a client under its row lock: loads it, lets `decide` compute the update (or refuse
    /// it), checks the organization's email rule, and writes the updated row with the
    /// next version and its history entry, all in one transaction. A no-op plan writes nothing.
    pub fn update<E>(
        &self,
        scope: Scope,
        id: Uuid,
        audit: &Audit,
        decide: impl FnOnce(&Client) -> Result<UpdatePlan, E>,
    ) -> Result<UpdatePlan, UpdateError<E>> {
        with_backend!(self, |conn, s, b| {
            use s::clients::dsl as c;
            b::write_transaction(conn, |conn| {
                let row = b::lock_client(conn, id)?.filter(|r| scope.allows(r.organization_id));
                let row = row.ok_or(UpdateError::NotFound)?;
                let current = Client::try_from(row)?;
                let plan = decide(&current).map_err(UpdateError::Rejected)?;
                if plan.is_noop() {
                    return Ok(plan);
                }
                let next = &plan.client;
                if plan.changed(UpdateField::Email) {
                    let taken = c::clients
                        .filter(c::organization_id.eq(next.organization_id))
                        .filter(lower(c::email).eq(lower(&next.email)))
                        .filter(c::id.ne(DbUuid(id)))
                        .select(c::id)
                        .first::<DbUuid>(conn)
                        .optional()?
                        .is_some();
                    if taken {
                        return Err(StoreError::Conflict(Conflict::Email).into());
                    }
                }
                // Every updatable column is written, changed or not: PostgreSQL writes a whole
                // new row version either way, and one fixed statement is prepared once per
                // connection instead of planned anew for each combination of changed fields.
                diesel::update(c::clients.filter(c::id.eq(DbUuid(id))))
                    .set((
                        c::address.eq(&next.address),
                        c::blacklisted_comment.eq(next.blacklisted_comment.as_deref()),
                        c::blocked.eq(next.blocked),
                        c::city.eq(&next.city),
                        c::country_code.eq(&next.country_code),
                        c::email.eq(&next.email),
                        c::is_blacklisted.eq(next.is_blacklisted),
                        c::kyc_note.eq(next.kyc_note.as_deref()),
                        c::mobile_phone_number.eq(next.mobile_phone_number.as_deref()),
                        c::planned_expenditure.eq(next.planned_expenditure.as_deref()),
                        c::planned_income.eq(next.planned_income.as_deref()),
                        c::postcode.eq(&next.postcode),
                        c::risk_level.eq(next.risk_level.as_str()),
                        c::second_email.eq(next.second_email.as_deref()),
                        c::second_mobile_phone_number
                            .eq(next.second_mobile_phone_number.as_deref()),
                        c::state_province.eq(next.state_province.as_deref()),
                        c::version.eq(next.version),
                        c::updated_at.eq(next.updated_at),
                    ))
                    .execute(conn)?;
                record_history!(
                    conn,
                    s,
                    next,
                    audit,
                    &changes_json(&update_changes(&plan.changes))?
                )?;
                Ok(plan)
            })
        })
    }

    /// A page of the client's history, newest first, and whether older entries remain; `None`
    /// when the organization has no such client.
    pub fn history(
        &self,
        scope: Scope,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<Option<(Vec<HistoryEntry>, bool)>, StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::client_history::dsl as h;
            use s::clients::dsl as c;
            let owner = c::clients
                .filter(c::id.eq(DbUuid(id)))
                .select(c::organization_id)
                .first::<i32>(conn)
                .optional()?;
            let exists = owner.is_some_and(|org| scope.allows(org));
            if !exists {
                return Ok(None);
            }
            let mut rows = h::client_history
                .filter(h::client_id.eq(DbUuid(id)))
                .order(h::version.desc())
                .select((
                    h::version,
                    h::recorded_at,
                    h::actor_key_id,
                    h::actor_name,
                    h::request_id,
                    h::changes,
                ))
                .limit(limit + 1)
                .offset(offset)
                .load::<(
                    i64,
                    DateTime<Utc>,
                    Option<String>,
                    String,
                    Option<String>,
                    String,
                )>(conn)?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let entries = rows
                .into_iter()
                .map(
                    |(version, recorded_at, actor_key_id, actor_name, request_id, changes)| {
                        HistoryEntry {
                            version,
                            recorded_at,
                            actor_key_id,
                            actor_name,
                            request_id,
                            changes,
                        }
                    },
                )
                .collect();
            Ok(Some((entries, more)))
        })
    }

    /// A page of the scope's clients matching `filter`, in id (registration) order, and
    /// whether more remain.
    pub fn list(
        &self,
        scope: Scope,
        filter: ListFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Client>, bool), StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::clients::dsl as c;
            let mut query = c::clients.into_boxed();
            if let Scope::Organization(organization_id) = scope {
                query = query.filter(c::organization_id.eq(organization_id));
            }
            if let Some(status) = filter.kyc_status {
                query = query.filter(c::kyc_status.eq(status.as_str()));
            }
            if let Some(level) = filter.risk_level {
                query = query.filter(c::risk_level.eq(level.as_str()));
            }
            if let Some(flag) = filter.is_blacklisted {
                query = query.filter(c::is_blacklisted.eq(flag));
            }
            if let Some(flag) = filter.blocked {
                query = query.filter(c::blocked.eq(flag));
            }
            let mut rows = query
                .order(c::id.asc())
                .limit(limit + 1)
                .offset(offset)
                .load::<ClientRow>(conn)?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let clients = rows
                .into_iter()
                .map(Client::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((clients, more))
        })
    }

    /// Claims an idempotency key for a request, or says what an earlier request with it did.
    /// Expired keys are purged on the way.
    pub fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        with_backend!(self, |conn, s, b| {
            use s::idempotency_keys::dsl as k;
            b::write_transaction(conn, |conn| {
                diesel::delete(
                    k::idempotency_keys.filter(k::created_at.lt(idempotency::expired_before(now))),
                )
                .execute(conn)?;
                let this = k::idempotency_keys
                    .filter(k::organization_id.eq(key.organization_id))
                    .filter(k::key.eq(&key.key));
                let existing = this
                    .select((
                        k::request_hash,
                        k::created_at,
                        k::completed,
                        k::response_status,
                        k::response_body,
                        k::location,
                        k::etag,
                    ))
                    .first::<idempotency::KeyRow>(conn)
                    .optional()?;
                if let Some(row) = existing {
                    let seen_at = row.1;
                    if let Some(claim) = idempotency::classify(&key.request_hash, row, now) {
                        return Ok(claim);
                    }
                    // Abandoned or expired: forget that row, and only that row. Deleting by key
                    // alone could remove a fresh claim another request committed meanwhile, and
                    // both requests would then run.
                    diesel::delete(this.filter(k::created_at.eq(seen_at))).execute(conn)?;
                }
                // Two requests may race here on PostgreSQL: the loser inserts nothing, and the
                // key is then some other request's, still running.
                let inserted = diesel::insert_into(k::idempotency_keys)
                    .values((
                        k::organization_id.eq(key.organization_id),
                        k::key.eq(&key.key),
                        k::request_hash.eq(&key.request_hash),
                        k::created_at.eq(now),
                        k::completed.eq(false),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                Ok(if inserted == 1 {
                    Claim::Claimed
                } else {
                    Claim::InProgress
                })
            })
        })
    }

    /// Gives up a claimed key whose request failed, so that a retry runs anew.
    pub fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::idempotency_keys::dsl as k;
            diesel::delete(
                k::idempotency_keys
                    .filter(k::organization_id.eq(key.organization_id))
                    .filter(k::key.eq(&key.key))
                    .filter(k::completed.eq(false)),
            )
            .execute(conn)?;
            Ok(())
        })
    }

    /// Stores a new key.
    pub fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::api_keys::dsl as k;
            diesel::insert_into(k::api_keys)
                .values((
                    k::id.eq(DbUuid(key.id)),
                    k::organization_id.eq(key.organization_id),
                    k::name.eq(&key.name),
                    k::secret_hash.eq(&key.secret_hash),
                    k::created_at.eq(key.created_at),
                    k::last_used_at.eq(key.last_used_at),
                    k::revoked_at.eq(key.revoked_at),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// The key with this id, revoked or not.
    pub fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::api_keys::dsl as k;
            let row = k::api_keys
                .filter(k::id.eq(DbUuid(id)))
                .first::<ApiKeyRow>(conn)
                .optional()?;
            Ok(row.map(api_key))
        })
    }

    /// Every key, oldest first.
    pub fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::api_keys::dsl as k;
            let rows = k::api_keys
                .order(k::created_at.asc())
                .load::<ApiKeyRow>(conn)?;
            Ok(rows.into_iter().map(api_key).collect())
        })
    }

    /// Whether any key exists, revoked or not.
    pub fn has_api_keys(&self) -> Result<bool, StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::api_keys::dsl as k;
            Ok(k::api_keys
                .select(k::id)
                .first::<DbUuid>(conn)
                .optional()?
                .is_some())
        })
    }

    /// Revokes a key; `false` when there is no such key or it was already revoked.
    pub fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::api_keys::dsl as k;
            let updated = diesel::update(
                k::api_keys
                    .filter(k::id.eq(DbUuid(id)))
                    .filter(k::revoked_at.is_null()),
            )
            .set(k::revoked_at.eq(Some(now)))
            .execute(conn)?;
            Ok(updated == 1)
        })
    }

    /// Records that a key was used. Callers throttle this: it is a write.
    pub fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        with_backend!(self, |conn, s, _b| {
            use s::api_keys::dsl as k;
            diesel::update(k::api_keys.filter(k::id.eq(DbUuid(id))))
                .set(k::last_used_at.eq(Some(now)))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Whether this is the embedded SQLite database (where a first start creates a key).
    pub fn is_embedded(&self) -> bool {
        matches!(self.pools, Pools::Sqlite(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_network_timeouts_unless_they_set_their_own() {
        let mut config = StoreConfig::new("postgres://u@h/db");
        config.acquire_timeout = Duration::from_secs(5);
        assert_eq!(
            config.postgres_url(),
            "postgres://u@h/db?connect_timeout=5&keepalives=1&keepalives_idle=10\
             &keepalives_interval=5&keepalives_count=3&tcp_user_timeout=10000"
        );
        let config = StoreConfig::new(
            "postgres://u@h/db?sslmode=require&keepalives_idle=60&connect_timeout=1",
        );
        let url = config.postgres_url();
        assert!(url.starts_with("postgres://u@h/db?sslmode=require&keepalives_idle=60&connect_timeout=1&keepalives=1"), "{url}");
        assert_eq!(url.matches("keepalives_idle").count(), 1, "{url}");
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
    }
}
