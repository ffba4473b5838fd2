//! What can go wrong in the store, in terms the API can answer with.

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

/// A uniqueness rule of the organization that a write would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Email,
    ExternalClientCode,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0:?} already used in the organization")]
    Conflict(Conflict),
    /// The database cannot be reached, is too busy, or cannot write right now (a primary being
    /// replaced); worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                let names = format!(
                    "{} {}",
                    info.constraint_name().unwrap_or_default(),
                    info.message()
                );
                if names.contains("email") {
                    StoreError::Conflict(Conflict::Email)
                } else if names.contains("external") {
                    StoreError::Conflict(Conflict::ExternalClientCode)
                } else {
                    StoreError::Internal(error.to_string())
                }
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                // After a failover, a connection still open to the old primary.
                | DatabaseErrorKind::ReadOnlyTransaction
                | DatabaseErrorKind::SerializationFailure,
                _,
            ) => StoreError::Unavailable(error.to_string()),
            DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

impl From<ConnectionError> for StoreError {
    fn from(error: ConnectionError) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

/// Messages of failures that pass: the database is busy, going away or out of reach, not wrong.
/// (diesel does not pass PostgreSQL's SQLSTATE on, so the messages are what there is.)
fn is_transient(message: &str) -> bool {
    [
        // SQLite, when the busy timeout runs out.
        "database is locked",
        // PostgreSQL's statement_timeout and lock_timeout, or an operator's pg_cancel_backend.
        "canceling statement due to",
        // The server shutting down, or an operator ending the session.
        "terminating connection",
        // Starting up, shutting down, in recovery (a standby not yet promoted).
        "the database system is",
        "too many connections",
        "deadlock detected",
        "could not serialize access",
        // tokio-postgres, when the connection is lost mid-query.
        "connection closed",
        "error communicating with the server",
    ]
    .iter()
    .any(|transient| message.contains(transient))
}

/// Why an update did not happen. `E` is the caller's own refusal (validation, precondition).
#[derive(Debug)]
pub enum UpdateError<E> {
    NotFound,
    Rejected(E),
    Store(StoreError),
}

impl<E> From<StoreError> for UpdateError<E> {
    fn from(error: StoreError) -> Self {
        UpdateError::Store(error)
    }
}

impl<E> From<DieselError> for UpdateError<E> {
    fn from(error: DieselError) -> Self {
        UpdateError::Store(error.into())
    }
}
