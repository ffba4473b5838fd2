//! Reading a client's change history. Entries are written with the change they record (see
//! `pg_writes` and `sqlite_writes`).

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::row::DbUuid;
use crate::{page, with_connection, Scope, Store, StoreError};

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

type EntryRow = (
    i64,
    DateTime<Utc>,
    Option<String>,
    String,
    Option<String>,
    String,
);

impl Store {
    /// A page of the client's history, newest first, and whether older entries remain; `None`
    /// when the organization has no such client.
    pub async fn history(
        &self,
        scope: Scope,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<Option<(Vec<HistoryEntry>, bool)>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::client_history::dsl as h;
            use s::clients::dsl as c;
            let owner = c::clients
                .filter(c::id.eq(DbUuid(id)))
                .select(c::organization_id)
                .first::<i32>(conn)
                .await
                .optional()?;
            if !owner.is_some_and(|org| scope.allows(org)) {
                return Ok(None);
            }
            let rows = h::client_history
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
                .load::<EntryRow>(conn)
                .await?;
            let (rows, more) = page(rows, limit);
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
}
