//! Bringing the schema up to date at start, with the migrations embedded in the binary.
//!
//! diesel's migration harness is synchronous. It runs on a thread of its own: for PostgreSQL
//! over diesel-async's `AsyncConnectionWrapper` (so no libpq), driven by a small runtime of that
//! thread's own, since the caller's runtime may be single-threaded and busy awaiting this.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::pool::PgConnector;
use crate::sqlite::sqlite_connection;
use crate::StoreError;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Instances starting together take this advisory lock so that each migration runs once.
const MIGRATION_LOCK: i64 = 7_438_209;

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("migration failed: {error}"))
}

/// Runs `work` on a thread of its own and awaits its result.
async fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("migrations".to_owned())
        .spawn(move || {
            let _ = done.send(work());
        })
        .map_err(failed)?;
    result
        .await
        .map_err(|_| StoreError::Internal("the migration thread panicked".to_owned()))?
}

/// Migrates a PostgreSQL database, waiting at most `wait` for the first connection: a start is
/// not a request, and a database slow to accept its first connection (or the requests'
/// timeouts set low) must not fail it. The session has no statement timeout: a migration, or
/// waiting for another instance's, may take longer than any request may.
pub(crate) async fn postgres(
    connector: Arc<PgConnector>,
    wait: Duration,
) -> Result<(), StoreError> {
    on_own_thread(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(failed)?;
        let conn: AsyncPgConnection = runtime.block_on(async {
            let connect = connector.connect(Arc::default());
            tokio::time::timeout(wait, connect)
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!(
                        "no database connection within {} s",
                        wait.as_secs()
                    ))
                })?
                .map_err(StoreError::from)
        })?;
        // The wrapper drives the connection with the runtime entered here.
        let _entered = runtime.enter();
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        conn.batch_execute(&format!(
            "SET statement_timeout = 0; SELECT pg_advisory_lock({MIGRATION_LOCK})"
        ))
        .map_err(failed)?;
        let result = conn
            .run_pending_migrations(PG_MIGRATIONS)
            .map(|_| ())
            .map_err(failed);
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .map_err(failed)?;
        result
    })
    .await
}

/// Migrates the SQLite file at `path`, creating it and its directory when missing, and puts it
/// in WAL mode (a property of the file: readers never wait for the writer).
pub(crate) async fn sqlite(path: PathBuf, busy_timeout: Duration) -> Result<(), StoreError> {
    on_own_thread(move || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Internal(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = sqlite_connection(&path.to_string_lossy(), busy_timeout)?;
        conn.batch_execute("PRAGMA journal_mode = WAL")
            .map_err(StoreError::from)?;
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .map_err(failed)
    })
    .await
}
