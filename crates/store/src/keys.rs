//! API keys: stored by id with the hash of their secret, never the secret.

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::row::DbUuid;
use crate::{with_connection, Store, StoreError};

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

impl Store {
    /// Stores a new key.
    pub async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        with_connection!(self, writer, |conn, s| {
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
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    /// The key with this id, revoked or not.
    pub async fn find_api_key(&self, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::api_keys::dsl as k;
            let row = k::api_keys
                .filter(k::id.eq(DbUuid(id)))
                .first::<ApiKeyRow>(conn)
                .await
                .optional()?;
            Ok(row.map(api_key))
        })
    }

    /// Every key, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::api_keys::dsl as k;
            let rows = k::api_keys
                .order(k::created_at.asc())
                .load::<ApiKeyRow>(conn)
                .await?;
            Ok(rows.into_iter().map(api_key).collect())
        })
    }

    /// Whether any key exists, revoked or not.
    pub async fn has_api_keys(&self) -> Result<bool, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::api_keys::dsl as k;
            Ok(k::api_keys
                .select(k::id)
                .first::<DbUuid>(conn)
                .await
                .optional()?
                .is_some())
        })
    }

    /// Revokes a key; `false` when there is no such key or it was already revoked.
    pub async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        with_connection!(self, writer, |conn, s| {
            use s::api_keys::dsl as k;
            let updated = diesel::update(
                k::api_keys
                    .filter(k::id.eq(DbUuid(id)))
                    .filter(k::revoked_at.is_null()),
            )
            .set(k::revoked_at.eq(Some(now)))
            .execute(conn)
            .await?;
            Ok(updated == 1)
        })
    }

    /// Records that a key was used. Callers throttle this: it is a write.
    pub async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        with_connection!(self, writer, |conn, s| {
            use s::api_keys::dsl as k;
            diesel::update(k::api_keys.filter(k::id.eq(DbUuid(id))))
                .set(k::last_used_at.eq(Some(now)))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
