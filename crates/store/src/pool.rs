//! The connection pool's manager: diesel's r2d2 manager, minus a `SELECT 1` on every checkout.
//!
//! diesel's manager checks each connection with a round trip before handing it out, which was
//! one of every four round trips of a GET. Here a connection is trusted when it was in use within
//! the last [`TRUST_FOR`] and no connection of the pool has failed a check since; otherwise it is
//! checked first. One whose use failed is checked then (see `Store::with_connection`) and dropped
//! from the pool if it does not answer. So a busy server sends no checks, and once one connection
//! is found dead (the database restarted, say) every other is checked before its next use instead
//! of failing a request.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::r2d2::{ConnectionManager, Error, ManageConnection, R2D2Connection};

/// How long after its last use a connection is handed out without a check.
pub const TRUST_FOR: Duration = Duration::from_secs(1);

/// A pooled connection with what the pool needs to know about it.
pub struct Tracked<C> {
    conn: C,
    returned_at: Instant,
    broken: bool,
    /// The pool's failure count when the connection was last known good.
    failures_seen: u64,
    /// The pool's count of connections found dead.
    failures: Arc<AtomicU64>,
}

impl<C: R2D2Connection> Tracked<C> {
    /// Checks the connection with a round trip; a connection that fails it leaves the pool when
    /// it is returned.
    pub fn check(&mut self) {
        if self.conn.ping().is_err() {
            self.broken = true;
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<C> Tracked<C> {
    /// Drops the connection from the pool when it is returned: for a session whose settings
    /// were changed.
    pub fn discard(&mut self) {
        self.broken = true;
    }
}

impl<C> Deref for Tracked<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.conn
    }
}

impl<C> DerefMut for Tracked<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.conn
    }
}

pub struct Manager<C: R2D2Connection + 'static> {
    inner: ConnectionManager<C>,
    failures: Arc<AtomicU64>,
}

impl<C: R2D2Connection + 'static> Manager<C> {
    pub fn new(url: impl Into<String>) -> Self {
        Manager {
            inner: ConnectionManager::new(url),
            failures: Arc::default(),
        }
    }
}

impl<C: R2D2Connection + 'static> ManageConnection for Manager<C> {
    type Connection = Tracked<C>;
    type Error = Error;

    fn connect(&self) -> Result<Tracked<C>, Error> {
        Ok(Tracked {
            conn: self.inner.connect()?,
            returned_at: Instant::now(),
            broken: false,
            failures_seen: self.failures.load(Ordering::Relaxed),
            failures: Arc::clone(&self.failures),
        })
    }

    fn is_valid(&self, conn: &mut Tracked<C>) -> Result<(), Error> {
        let failures = self.failures.load(Ordering::Relaxed);
        if conn.returned_at.elapsed() < TRUST_FOR && conn.failures_seen == failures {
            return Ok(());
        }
        match self.inner.is_valid(&mut conn.conn) {
            Ok(()) => {
                conn.failures_seen = failures;
                Ok(())
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    /// Called when a connection is returned to the pool.
    fn has_broken(&self, conn: &mut Tracked<C>) -> bool {
        conn.returned_at = Instant::now();
        conn.broken || self.inner.has_broken(&mut conn.conn)
    }
}
