//! Idempotency keys for registration: claim, complete (with the registration itself), release.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;

use crate::{with_connection, Store, StoreError};

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

fn expired_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - KEY_LIFETIME
}

/// A stored key: request hash, created at, completed, response status, body, location, ETag.
type KeyRow = (
    String,
    DateTime<Utc>,
    bool,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Classifies an existing row; `None` when it no longer holds the key (expired or abandoned).
fn classify(request_hash: &str, row: KeyRow, now: DateTime<Utc>) -> Option<Claim> {
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

impl Store {
    /// Claims an idempotency key for a request, or says what an earlier request with it did.
    /// Expired keys are purged on the way.
    ///
    /// Each statement stands alone, and concurrent claims stay safe: a stale row is deleted only
    /// as it was seen, and of two requests inserting the same key, one inserts nothing and finds
    /// the key in progress.
    pub async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        with_connection!(self, writer, |conn, s| {
            use s::idempotency_keys::dsl as k;
            diesel::delete(k::idempotency_keys.filter(k::created_at.lt(expired_before(now))))
                .execute(conn)
                .await?;
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
                .first::<KeyRow>(conn)
                .await
                .optional()?;
            if let Some(row) = existing {
                let seen_at = row.1;
                if let Some(claim) = classify(&key.request_hash, row, now) {
                    return Ok(claim);
                }
                // Abandoned or expired: forget that row, and only that row. Deleting by key
                // alone could remove a fresh claim another request made meanwhile, and both
                // requests would then run.
                diesel::delete(this.filter(k::created_at.eq(seen_at)))
                    .execute(conn)
                    .await?;
            }
            let inserted = diesel::insert_into(k::idempotency_keys)
                .values((
                    k::organization_id.eq(key.organization_id),
                    k::key.eq(&key.key),
                    k::request_hash.eq(&key.request_hash),
                    k::created_at.eq(now),
                    k::completed.eq(false),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            Ok(if inserted == 1 {
                Claim::Claimed
            } else {
                Claim::InProgress
            })
        })
    }

    /// Gives up a claimed key whose request failed, so that a retry runs anew.
    pub async fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        with_connection!(self, writer, |conn, s| {
            use s::idempotency_keys::dsl as k;
            diesel::delete(
                k::idempotency_keys
                    .filter(k::organization_id.eq(key.organization_id))
                    .filter(k::key.eq(&key.key))
                    .filter(k::completed.eq(false)),
            )
            .execute(conn)
            .await?;
            Ok(())
        })
    }
}
