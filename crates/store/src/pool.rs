//! Connections and how long anyone waits for them.
//!
//! - PostgreSQL: each [`crate::Store::for_worker`] handle has a pool of its own, whose
//!   connections are opened on, and driven by, the runtime that first uses them: an actix worker
//!   keeps its connections' I/O on its own thread. A checkout sends nothing: a connection whose
//!   socket closed is known broken at once and replaced.
//! - SQLite: see [`crate::sqlite`].
//!
//! Every wait is bounded here, whatever the database does: a checkout (connecting included) by
//! the acquire timeout; a PostgreSQL answer by the statement timeout plus
//! [`crate::config::NO_ANSWER_GRACE`]. A connection whose use was cut short (a deadline, a
//! dropped request) or failed as unavailable never returns to its pool.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::InstrumentationEvent;
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolableConnection, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::FutureExt;
use tokio::time::Instant;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::PgTarget;
use crate::StoreError;

pub(crate) type Manager<C> = AsyncDieselConnectionManager<C>;

/// A connection checked out of its pool. It goes back when the work on it finished (see
/// [`Lease::finish`]); dropped before that, it is closed instead, since whatever it was doing may
/// still be under way.
pub(crate) struct Lease<M: deadpool::managed::Manager> {
    object: Option<deadpool::managed::Object<M>>,
    finished: bool,
}

impl<M: deadpool::managed::Manager> Lease<M> {
    pub fn conn(&mut self) -> &mut M::Type {
        self.object
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }

    /// Returns the connection to its pool, unless `result` says the database was unavailable
    /// (the connection may be dead, or reach a server that can no longer write).
    pub fn finish(mut self, result: &impl Outcome) {
        self.finished = !result.unavailable();
    }
}

impl<M: deadpool::managed::Manager> Drop for Lease<M> {
    fn drop(&mut self) {
        if let (false, Some(object)) = (self.finished, self.object.take()) {
            drop(deadpool::managed::Object::take(object));
        }
    }
}

/// What a unit of work on a connection ended with, as far as the connection is concerned.
pub(crate) trait Outcome {
    fn unavailable(&self) -> bool;
}

impl<T> Outcome for Result<T, StoreError> {
    fn unavailable(&self) -> bool {
        matches!(self, Err(StoreError::Unavailable(_)))
    }
}

impl<T, E> Outcome for Result<T, crate::UpdateError<E>> {
    fn unavailable(&self) -> bool {
        matches!(
            self,
            Err(crate::UpdateError::Store(StoreError::Unavailable(_)))
        )
    }
}

/// One budget for every database wait of a request; see [`with_budget`].
struct Budget {
    length: Duration,
    /// Set by the first wait.
    ends: Cell<Option<Instant>>,
}

tokio::task_local! {
    static BUDGET: Budget;
}

/// Runs `work` (a request) with one budget of `length` for all its database waits together,
/// counted from its first checkout: each wait ends at its own bound or when the budget is spent,
/// whichever comes first. A request that reads, then writes, then reads again, or that meets
/// several slow steps (a checkout, then a statement), still answers within `length` of its first
/// wait. Outside such a scope each wait has only its own bound.
pub async fn with_budget<F: Future>(length: Duration, work: F) -> F::Output {
    BUDGET
        .scope(
            Budget {
                length,
                ends: Cell::new(None),
            },
            work,
        )
        .await
}

/// When a wait of at most `own` that starts now must end.
fn wait_until(own: Duration) -> Instant {
    let now = Instant::now();
    let own = now + own;
    BUDGET
        .try_with(|budget| {
            let ends = budget.ends.get().unwrap_or(now + budget.length);
            budget.ends.set(Some(ends));
            ends.min(own)
        })
        .unwrap_or(own)
}

/// Checks a connection out of `pool`, waiting at most `within` (connecting included).
pub(crate) async fn acquire<M>(
    pool: &deadpool::managed::Pool<M>,
    within: Duration,
) -> Result<Lease<M>, StoreError>
where
    M: deadpool::managed::Manager,
    M::Error: std::fmt::Display,
{
    match tokio::time::timeout_at(wait_until(within), pool.get()).await {
        Ok(Ok(object)) => Ok(Lease {
            object: Some(object),
            finished: false,
        }),
        Ok(Err(error)) => Err(StoreError::Unavailable(format!(
            "cannot get a database connection: {error}"
        ))),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no database connection in time (acquire timeout {} ms, or the request's budget)",
            within.as_millis()
        ))),
    }
}

/// `SELECT 1` on a connection of `pool`, checked out within `within`.
pub(crate) async fn select_one<M>(
    pool: &deadpool::managed::Pool<M>,
    within: Duration,
) -> Result<(), StoreError>
where
    M: deadpool::managed::Manager,
    M::Error: std::fmt::Display,
    M::Type: diesel_async::SimpleAsyncConnection + Send,
{
    use diesel_async::SimpleAsyncConnection;
    let mut lease = acquire(pool, within).await?;
    let result = lease
        .conn()
        .batch_execute("SELECT 1")
        .await
        .map_err(StoreError::from);
    lease.finish(&result);
    result
}

/// Waits for `work` at most `within`; past it, the database is taken to have stopped answering.
pub(crate) async fn answered<T>(
    within: Duration,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout_at(wait_until(within), work)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "no answer from the database in time (deadline {} ms, or the request's budget)",
                within.as_millis()
            )))
        })
}

/// Pins an async block's result type, for `?` inside it.
pub(crate) fn unit<T, F: Future<Output = Result<T, StoreError>>>(work: F) -> F {
    work
}

/// An error with its causes, for logs: tokio-postgres says "error performing TLS handshake" and
/// leaves why (an expired certificate, a name that does not match) to its source.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Whether a notice says that a commit was cut short while it waited for a synchronous standby:
/// PostgreSQL then reports success for a transaction that "has already committed locally, but
/// might not have been replicated to the standby", and that a failover would lose.
fn unreplicated_commit(notice: &tokio_postgres::error::DbError) -> bool {
    notice
        .message()
        .contains("wait for synchronous replication")
}

/// Drives a connection's I/O until it closes. A commit that PostgreSQL reports as not replicated
/// (an operator cancelled its wait, or the server is shutting down) closes the connection
/// before the success that follows the notice reaches the statement: the request answers `503`,
/// never `2xx`, for a change a failover could lose. (diesel-async's own driver drops notices.)
async fn drive<S, T>(mut connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio_postgres::AsyncMessage;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
        match message {
            Ok(AsyncMessage::Notice(notice)) if unreplicated_commit(&notice) => {
                tracing::warn!(
                    notice = notice.message(),
                    "a commit was not confirmed by the synchronous standby; closing its \
                     connection so that the request answers 503"
                );
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "database connection ended");
                return;
            }
        }
    }
}

/// How to open a PostgreSQL connection.
pub(crate) struct PgConnector {
    target: PgTarget,
    tls: Option<MakeRustlsConnect>,
}

impl PgConnector {
    pub fn new(target: PgTarget) -> Result<Self, StoreError> {
        let tls = target.tls.as_ref().map(crate::tls::connector).transpose()?;
        Ok(Self { target, tls })
    }

    /// Opens a connection; `prepared` counts the statements it prepares for its cache.
    pub async fn connect(&self, prepared: Arc<AtomicU64>) -> ConnectionResult<AsyncPgConnection> {
        let failed = |e: tokio_postgres::Error| ConnectionError::BadConnection(with_causes(&e));
        let client = match &self.tls {
            None => {
                let (client, connection) = self
                    .target
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(failed)?;
                tokio::spawn(drive(connection));
                client
            }
            Some(tls) => {
                let (client, connection) = self
                    .target
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(failed)?;
                tokio::spawn(drive(connection));
                client
            }
        };
        let mut conn = AsyncPgConnection::try_from(client).await?;
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { .. } = event {
                prepared.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(conn)
    }

    /// A pool of at most `max` connections, opened when first needed.
    pub fn pool(
        self: &Arc<Self>,
        max: usize,
        prepared: &Arc<AtomicU64>,
    ) -> Pool<AsyncPgConnection> {
        let connector = Arc::clone(self);
        let prepared = Arc::clone(prepared);
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |_| {
            let (connector, prepared) = (Arc::clone(&connector), Arc::clone(&prepared));
            async move { connector.connect(prepared).await }.boxed()
        });
        pool(Manager::new_with_config("", config), max)
    }
}

pub(crate) fn pool<C>(manager: Manager<C>, max: usize) -> Pool<C>
where
    C: PoolableConnection + 'static,
    Manager<C>:
        deadpool::managed::Manager<Type = C, Error = diesel_async::pooled_connection::PoolError>,
{
    Pool::builder(manager)
        .max_size(max.max(1))
        .build()
        .expect("a pool without timeouts needs no runtime to build")
}

/// The connection pools at one instant, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pools open.
    pub max: usize,
    /// Connections open, in use or idle.
    pub open: usize,
    pub idle: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    pub fn in_use(&self) -> usize {
        self.open.saturating_sub(self.idle)
    }

    pub(crate) fn add(mut self, status: deadpool::Status) -> Self {
        self.max += status.max_size;
        self.open += status.size;
        self.idle += status.available;
        self.waiting += status.waiting;
        self
    }
}

/// Every PostgreSQL pool made from one opened store, so that metrics see them all. Pools are
/// held weakly: one whose handles are gone no longer counts.
#[derive(Default)]
pub(crate) struct PgPools(Mutex<Vec<deadpool::managed::WeakPool<Manager<AsyncPgConnection>>>>);

impl PgPools {
    pub fn register(&self, pool: &Pool<AsyncPgConnection>) {
        let mut pools = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|p| p.upgrade().is_some());
        pools.push(pool.weak());
    }

    pub fn status(&self) -> PoolStatus {
        let pools = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pools
            .iter()
            .filter_map(|p| p.upgrade())
            .fold(PoolStatus::default(), |sum, pool| sum.add(pool.status()))
    }
}
