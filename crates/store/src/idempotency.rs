//! Idempotency keys for registration: claim, complete (inside the registration's transaction),
//! release.

use chrono::{DateTime, TimeDelta, Utc};

/// How long a key is remembered.
pub const KEY_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// A claim whose request has not completed after this long is taken to be abandoned (its server
/// died mid-request); a retry may then claim the key anew.
pub const ABANDONED_AFTER: TimeDelta = TimeDelta::minutes(1);

/// A request's key within its organization, and its body's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub organization_id: i32,
    pub key: String,
    pub request_hash: String,
}

/// A stored response to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub etag: Option<String>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: go ahead, and complete or release it.
    Claimed,
    /// A request with this key and body completed: answer with its response.
    Completed(StoredResponse),
    /// A request with this key and body is still running.
    InProgress,
    /// The key was used with a different body.
    Mismatch,
}

pub(crate) fn expired_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - KEY_LIFETIME
}

/// A stored key: request hash, created at, completed, response status, body, location, ETag.
pub(crate) type KeyRow = (
    String,
    DateTime<Utc>,
    bool,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Classifies an existing row; `None` when it no longer holds the key (expired or abandoned).
pub(crate) fn classify(request_hash: &str, row: KeyRow, now: DateTime<Utc>) -> Option<Claim> {
    let (hash, created_at, completed, status, body, location, etag) = row;
    if created_at < expired_before(now) || (!completed && created_at < now - ABANDONED_AFTER) {
        return None; // free to claim again
    }
    Some(if hash != request_hash {
        Claim::Mismatch
    } else if completed {
        Claim::Completed(StoredResponse {
            status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
            body: body.unwrap_or_default(),
            location,
            etag,
        })
    } else {
        Claim::InProgress
    })
}
