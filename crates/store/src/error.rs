//! What can go wrong in the store, in terms the API can answer with.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

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
    /// The database cannot be reached or is too busy; worth retrying later.
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
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => StoreError::Unavailable(error.to_string()),
            DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

/// Messages of failures that pass: the database is busy, going away or out of reach, not wrong.
fn is_transient(message: &str) -> bool {
    [
        // SQLite, when busy_timeout runs out.
        "database is locked",
        // PostgreSQL's statement_timeout and lock_timeout.
        "canceling statement due to",
        // The server shutting down or an administrator ending the session.
        "terminating connection",
        // libpq, when the connection is lost mid-query.
        "server closed the connection unexpectedly",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
    ]
    .iter()
    .any(|transient| message.contains(transient))
}

impl From<r2d2::Error> for StoreError {
    fn from(error: r2d2::Error) -> Self {
        StoreError::Unavailable(error.to_string())
    }
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

impl<E> From<r2d2::Error> for UpdateError<E> {
    fn from(error: r2d2::Error) -> Self {
        UpdateError::Store(error.into())
    }
}
