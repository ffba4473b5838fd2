//! The event log: one event per history entry, written by the same statement or transaction as
//! the change (see `pg_statements` and `sqlite_writes`), and the feed that reads it.
//!
//! The feed's order must never let an event that commits late slip in front of events already
//! served. PostgreSQL: concurrent writers commit out of the order in which they took their
//! sequence numbers, so the feed serves only the events of transactions older than every
//! transaction still running (`pg_snapshot_xmin`), in (transaction id, sequence) order: any event
//! that becomes visible later belongs to a transaction at least that new, and sorts after every
//! event served. SQLite: one writer at a time, so sequence order is commit order.

use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Bool};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::row::DbUuid;
use crate::{on_postgres, on_sqlite, page, Db, Scope, Store, StoreError};

/// An event to write with the change it announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: Uuid,
    /// `client.registered`, `client.updated`, ...
    pub kind: &'static str,
    /// The type's bit in a webhook endpoint's `event_mask`: the event is delivered to the
    /// endpoints whose mask has it (or that take every type).
    pub type_bit: i32,
    /// The event as the API shows it (JSON).
    pub body: String,
}

/// An event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: Uuid,
    /// The event as the API shows it (JSON).
    pub body: String,
}

/// Only events whose transaction is older than every one still running (PostgreSQL).
const SETTLED: &str = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

impl Store {
    /// A page of the scope's events in feed order, after the event `after` (from the oldest
    /// without it), and whether more remain; `None` when `after` is not an event of the scope
    /// that the feed has served.
    pub async fn events(
        &self,
        scope: Scope,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Option<(Vec<StoredEvent>, bool)>, StoreError> {
        let organization = match scope {
            Scope::All => None,
            Scope::Organization(id) => Some(id),
        };
        let rows: Option<Vec<(DbUuid, String)>> = match &self.db {
            Db::Postgres(pool) => on_postgres!(self, pool, |conn| {
                use crate::schema::pg::events::dsl as e;
                let cursor = match after {
                    None => None,
                    Some(id) => {
                        let found = e::events
                            .filter(e::id.eq(DbUuid(id)))
                            .filter(sql::<Bool>(SETTLED))
                            .select((e::tx, e::seq, e::organization_id))
                            .get_result::<(i64, i64, i32)>(conn)
                            .await
                            .optional()?;
                        match found.filter(|(_, _, owner)| scope.allows(*owner)) {
                            Some((tx, seq, _)) => Some((tx, seq)),
                            None => return Ok(None),
                        }
                    }
                };
                let mut query = e::events
                    .filter(sql::<Bool>(SETTLED))
                    .select((e::id, e::body))
                    .into_boxed();
                if let Some(organization) = organization {
                    query = query.filter(e::organization_id.eq(organization));
                }
                if let Some((tx, seq)) = cursor {
                    query = query.filter(
                        sql::<Bool>("(tx, seq) > (")
                            .bind::<BigInt, _>(tx)
                            .sql(", ")
                            .bind::<BigInt, _>(seq)
                            .sql(")"),
                    );
                }
                let rows = query
                    .order((e::tx.asc(), e::seq.asc()))
                    .limit(limit + 1)
                    .load::<(DbUuid, String)>(conn)
                    .await?;
                Ok(Some(rows))
            }),
            Db::Sqlite(pools) => on_sqlite!(self, pools.reader(), |conn| {
                use crate::schema::sqlite::events::dsl as e;
                let cursor = match after {
                    None => None,
                    Some(id) => {
                        let found = e::events
                            .filter(e::id.eq(DbUuid(id)))
                            .select((e::seq, e::organization_id))
                            .get_result::<(i64, i32)>(conn)
                            .await
                            .optional()?;
                        match found.filter(|(_, owner)| scope.allows(*owner)) {
                            Some((seq, _)) => Some(seq),
                            None => return Ok(None),
                        }
                    }
                };
                let mut query = e::events.select((e::id, e::body)).into_boxed();
                if let Some(organization) = organization {
                    query = query.filter(e::organization_id.eq(organization));
                }
                if let Some(seq) = cursor {
                    query = query.filter(e::seq.gt(seq));
                }
                let rows = query
                    .order(e::seq.asc())
                    .limit(limit + 1)
                    .load::<(DbUuid, String)>(conn)
                    .await?;
                Ok(Some(rows))
            }),
        }?;
        Ok(rows.map(|rows| {
            let (rows, more) = page(rows, limit);
            let events = rows
                .into_iter()
                .map(|(id, body)| StoredEvent { id: id.0, body })
                .collect();
            (events, more)
        }))
    }
}
