//! SQLite's connections: readers share a pool; every write goes through one writer connection,
//! queued in order (first come, first served), so that writers never contend through SQLite's
//! busy handler. With a pool of one, that one connection serves everything.
//!
//! The writer checkpoints (copies the write-ahead log into the database file, then fsyncs it)
//! every [`CHECKPOINT_PAGES`] pages, half SQLite's default: each checkpoint holds up the writes
//! queued behind it, and a shorter one holds them up less (measured: PUT p99 at 16 connections
//! 22-26 ms with 1,000 pages, 15-18 ms with 500, for the same throughput). Checkpoints run
//! elsewhere, in the background, would leave the writer alone but never let the log restart
//! under steady writes: it grew past a gigabyte in a minute.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError, ConnectionResult, SqliteConnection};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, TryFutureExt};

use crate::pool::{pool, Manager, PoolStatus};

/// The log size, in pages, at which a commit checkpoints (about 2 MiB).
const CHECKPOINT_PAGES: u32 = 500;

pub(crate) type Lite = SyncConnectionWrapper<SqliteConnection, Detached>;

/// Runs a SQLite connection's work on the runtime's blocking threads. When the request waiting
/// for it is dropped (its client went away), the work still finishes on its own, and the
/// connection's lock holds its next user until then. (diesel-async's default instead waits for
/// the work in `drop` with `block_in_place`, which panics on a single-threaded runtime such as an
/// actix worker's.)
pub(crate) struct Detached(tokio::runtime::Handle);

impl SpawnBlocking for Detached {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn std::error::Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        self.0.spawn_blocking(task).map_err(Box::from).boxed()
    }

    fn get_runtime() -> Self {
        Detached(tokio::runtime::Handle::current())
    }
}
/// Settings every SQLite connection gets: a busy timeout, for locks held by another process (a
/// second instance, an operator's shell); foreign keys on; the synchronous level WAL needs
/// (commits survive a crash of the process; the last ones may be lost if the machine loses power,
/// as with any WAL database at `NORMAL`); and the checkpoint size (see the module's doc).
pub(crate) fn sqlite_connection(
    path: &str,
    busy_timeout: Duration,
) -> ConnectionResult<SqliteConnection> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES};",
        busy_timeout.as_millis()
    ))
    .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// SQLite's connections: readers, and the one writer.
pub(crate) struct SqlitePools {
    /// `None` with a pool size of one: the writer reads too.
    readers: Option<Pool<Lite>>,
    writer: Pool<Lite>,
}

impl SqlitePools {
    pub fn new(path: &str, size: usize, busy_timeout: Duration) -> Arc<Self> {
        let manager = || {
            let path = path.to_owned();
            let mut config = ManagerConfig::default();
            config.recycling_method = RecyclingMethod::Fast;
            config.custom_setup = Box::new(move |_| {
                let path = path.clone();
                async move {
                    tokio::task::spawn_blocking(move || sqlite_connection(&path, busy_timeout))
                        .await
                        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?
                        .map(|conn| Lite::with_runtime(conn, Detached::get_runtime()))
                }
                .boxed()
            });
            Manager::new_with_config("", config)
        };
        Arc::new(SqlitePools {
            readers: (size > 1).then(|| pool(manager(), size - 1)),
            writer: pool(manager(), 1),
        })
    }

    pub fn reader(&self) -> &Pool<Lite> {
        self.readers.as_ref().unwrap_or(&self.writer)
    }

    pub fn writer(&self) -> &Pool<Lite> {
        &self.writer
    }

    fn statuses(&self) -> impl Iterator<Item = deadpool::Status> + '_ {
        self.readers
            .iter()
            .chain(std::iter::once(&self.writer))
            .map(Pool::status)
    }
}

impl SqlitePools {
    pub fn status(&self) -> PoolStatus {
        self.statuses().fold(PoolStatus::default(), PoolStatus::add)
    }
}
