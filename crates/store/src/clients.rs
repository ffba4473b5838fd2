//! The clients: registering, reading, updating and listing them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::chain::GENESIS;
use domain::history::Recorded;
use domain::history::{registration_changes, Change};
use domain::lifecycle::Relationship;
use domain::{Client, KycStatus, RiskLevel};
use futures_util::FutureExt;
use uuid::Uuid;

use crate::events::NewEvent;
use crate::history::entry_hash;
use crate::idempotency::{IdempotencyKey, StoredResponse};
use crate::pg_statements::{ClientAndHead, ClientById, RegisterWithHistory, UpdateWithHistory};
use crate::pool::{acquire, answered};
use crate::row::ClientRecord;
use crate::row::{ClientRow, DbUuid};
use crate::{
    on_postgres, on_sqlite, page, sqlite_writes, with_connection, Audit, Db, Scope, Store,
    StoreError, UpdateError,
};

/// Optimistic attempts of an update (read, then write if the version is unchanged) before it
/// takes the row lock instead. A second attempt is rare; a third means the client is hot.
const OPTIMISTIC_ATTEMPTS: usize = 3;

/// Which clients of an organization a listing returns; `None` matches any value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub kyc_status: Option<KycStatus>,
    pub risk_level: Option<RiskLevel>,
    pub is_blacklisted: Option<bool>,
    pub blocked: Option<bool>,
}

pub(crate) fn changes_json(changes: &[Change]) -> Result<String, StoreError> {
    serde_json::to_string(changes)
        .map_err(|e| StoreError::Internal(format!("cannot encode history: {e}")))
}

impl Store {
    /// Stores a new client with its first history entry and `event`. The email and the external code must
    /// not be used by another client of the organization (the unique indexes say so; nothing is
    /// read first). With `idempotency`, the claimed key is completed with `response` in the same
    /// statement or transaction, so a retry can never find a client without its response, or
    /// the reverse.
    pub async fn insert(
        &self,
        client: &Client,
        event: &NewEvent,
        audit: &Audit,
        idempotency: Option<(&IdempotencyKey, &StoredResponse)>,
    ) -> Result<(), StoreError> {
        let changes = registration_changes(client);
        let hash = entry_hash(client, audit, &changes, None, GENESIS);
        let changes = changes_json(&changes)?;
        match &self.db {
            Db::Postgres(pool) => {
                let mut lease = acquire(pool, self.acquire_timeout()).await?;
                let insert =
                    RegisterWithHistory::new(client, event, audit, (&changes, &hash), idempotency);
                let conn = lease.conn();
                let result = answered(self.answer_deadline(), async {
                    insert
                        .execute(conn)
                        .await
                        .map(drop)
                        .map_err(StoreError::from)
                })
                .await;
                lease.finish(&result);
                result
            }
            Db::Sqlite(pools) => {
                let mut lease = acquire(pools.writer(), self.acquire_timeout()).await?;
                let (client, event, audit) = (client.clone(), event.clone(), audit.clone());
                let idempotency = idempotency.map(|(k, r)| (k.clone(), r.clone()));
                let result = lease
                    .conn()
                    .spawn_blocking(move |conn| {
                        sqlite_writes::register(
                            conn,
                            &client,
                            &event,
                            &audit,
                            (&changes, &hash),
                            idempotency,
                        )
                    })
                    .await
                    .map_err(StoreError::from);
                lease.finish(&result);
                result
            }
        }
    }

    /// The client with this id within the scope. A client of another organization is not found,
    /// exactly like an unknown id.
    pub async fn get(&self, scope: Scope, id: Uuid) -> Result<Option<Client>, StoreError> {
        let row = match &self.db {
            Db::Postgres(pool) => on_postgres!(self, pool, |conn| {
                Ok(ClientById::<false>(id)
                    .get_result::<ClientRow>(conn)
                    .await
                    .optional()?)
            }),
            Db::Sqlite(pools) => on_sqlite!(self, pools.reader(), |conn| {
                use crate::schema::sqlite::clients::dsl as c;
                // No `LIMIT ?`: see `sqlite_writes::update`.
                let read = c::clients.filter(c::id.eq(DbUuid(id)));
                Ok(read.get_result::<ClientRow>(conn).await.optional()?)
            }),
        }?;
        let row = row.filter(|r| scope.allows(r.organization_id));
        row.map(Client::try_from).transpose()
    }

    /// Updates a client: lets `decide` compute the change from the stored client and its
    /// relationship (or refuse it), and writes the next version with its history entry and the event `announce` makes
    /// of the plan. A no-op plan writes nothing.
    ///
    /// PostgreSQL: the client is read without a lock, then written by one statement that
    /// checks the version is still the one read; if someone else changed the client meanwhile,
    /// it is read and decided again, and after a few such collisions the update takes the row
    /// lock. So `decide` may run more than once, always on the latest client. SQLite: the writer
    /// reads and writes in one immediate transaction.
    pub async fn update<E, P, D, A>(
        &self,
        scope: Scope,
        id: Uuid,
        audit: &Audit,
        decide: D,
        announce: A,
    ) -> Result<P, UpdateError<E>>
    where
        E: Send + 'static,
        P: Recorded + Send + Sync + 'static,
        D: Fn(&Client, &Relationship) -> Result<P, E> + Send + Sync + 'static,
        A: Fn(&P, &str) -> NewEvent + Send + Sync + 'static,
    {
        match &self.db {
            Db::Postgres(pool) => {
                let mut lease = acquire(pool, self.acquire_timeout()).await?;
                let result = update_postgres(
                    lease.conn(),
                    self.answer_deadline(),
                    scope,
                    id,
                    audit,
                    &decide,
                    &announce,
                )
                .await;
                lease.finish(&result);
                result
            }
            Db::Sqlite(pools) => {
                let mut lease = acquire(pools.writer(), self.acquire_timeout()).await?;
                let audit = audit.clone();
                let result = lease
                    .conn()
                    .spawn_blocking(move |conn| {
                        Ok(sqlite_writes::update(
                            conn, scope, id, &audit, &decide, &announce,
                        ))
                    })
                    .await
                    .unwrap_or_else(|error| Err(error.into()));
                lease.finish(&result);
                result
            }
        }
    }

    /// The client's relationship and its current version; `None` when the organization has no
    /// such client.
    pub async fn relationship(
        &self,
        scope: Scope,
        id: Uuid,
    ) -> Result<Option<(Relationship, i64)>, StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::client_relationships::dsl as r;
            use s::clients::dsl as c;
            let client = c::clients
                .filter(c::id.eq(DbUuid(id)))
                .select((c::organization_id, c::version, c::created_at))
                .first::<(i32, i64, DateTime<Utc>)>(conn)
                .await
                .optional()?;
            let Some((_, version, created_at)) = client.filter(|(org, ..)| scope.allows(*org))
            else {
                return Ok(None);
            };
            let (ended_at, retain_until) = r::client_relationships
                .filter(r::client_id.eq(DbUuid(id)))
                .select((r::ended_at, r::retain_until))
                .first::<(DateTime<Utc>, DateTime<Utc>)>(conn)
                .await
                .optional()?
                .unzip();
            Ok(Some((
                Relationship {
                    started_at: created_at,
                    ended_at,
                    retain_until,
                },
                version,
            )))
        })
    }

    /// A page of the scope's clients matching `filter`, in id (registration) order, and
    /// whether more remain.
    pub async fn list(
        &self,
        scope: Scope,
        filter: ListFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Client>, bool), StoreError> {
        with_connection!(self, reader, |conn, s| {
            use s::clients::dsl as c;
            let mut query = c::clients.into_boxed();
            if let Scope::Organization(organization_id) = scope {
                query = query.filter(c::organization_id.eq(organization_id));
            }
            if let Some(status) = filter.kyc_status {
                query = query.filter(c::kyc_status.eq(status.as_str()));
            }
            if let Some(level) = filter.risk_level {
                query = query.filter(c::risk_level.eq(level.as_str()));
            }
            if let Some(flag) = filter.is_blacklisted {
                query = query.filter(c::is_blacklisted.eq(flag));
            }
            if let Some(flag) = filter.blocked {
                query = query.filter(c::blocked.eq(flag));
            }
            let rows = query
                .order(c::id.asc())
                .limit(limit + 1)
                .offset(offset)
                .load::<ClientRow>(conn)
                .await?;
            let (rows, more) = page(rows, limit);
            let clients = rows
                .into_iter()
                .map(Client::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((clients, more))
        })
    }
}

/// A closed relationship's end and retention date, as read; `(None, None)` while it runs.
pub(crate) type EndRow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

pub(crate) fn relationship_of(client: &Client, (ended_at, retain_until): EndRow) -> Relationship {
    Relationship {
        started_at: client.created_at,
        ended_at,
        retain_until,
    }
}

/// Records the relationship `after` a change of `client`: a row while closed, none while it runs.
async fn write_relationship_pg(
    conn: &mut AsyncPgConnection,
    client: &Client,
    after: &Relationship,
) -> Result<(), diesel::result::Error> {
    use crate::schema::pg::client_relationships::dsl as r;
    match (after.ended_at, after.retain_until) {
        (Some(ended_at), Some(retain_until)) => {
            diesel::insert_into(r::client_relationships)
                .values((
                    r::client_id.eq(DbUuid(client.id)),
                    r::organization_id.eq(client.organization_id),
                    r::ended_at.eq(ended_at),
                    r::retain_until.eq(retain_until),
                ))
                .execute(conn)
                .await?;
        }
        _ => {
            diesel::delete(r::client_relationships.filter(r::client_id.eq(DbUuid(client.id))))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// The history entry of `plan`: its changes as JSON, and its hash after `head` (the hash of the
/// client's latest entry).
pub(crate) fn entry_of(
    plan: &impl Recorded,
    audit: &Audit,
    head: Option<String>,
) -> Result<(String, String), StoreError> {
    let head = head.ok_or_else(|| {
        StoreError::Internal(format!(
            "client {} has no hash at version {}: its history is not chained yet",
            plan.client().id,
            plan.client().version - 1
        ))
    })?;
    let changes = plan.changes();
    let hash = entry_hash(plan.client(), audit, &changes, plan.reason(), &head);
    Ok((changes_json(&changes)?, hash))
}

/// The stored client with this id within the scope, or `NotFound`.
fn in_scope<E>(row: Option<ClientRow>, scope: Scope) -> Result<Client, UpdateError<E>> {
    let row = row.filter(|r| scope.allows(r.organization_id));
    Ok(Client::try_from(row.ok_or(UpdateError::NotFound)?)?)
}

/// See [`Store::update`]. Each statement waits for its answer at most `deadline`.
async fn update_postgres<E: Send, P: Recorded + Send + Sync>(
    conn: &mut AsyncPgConnection,
    deadline: Duration,
    scope: Scope,
    id: Uuid,
    audit: &Audit,
    decide: &(impl Fn(&Client, &Relationship) -> Result<P, E> + Sync),
    announce: &(impl Fn(&P, &str) -> NewEvent + Sync),
) -> Result<P, UpdateError<E>> {
    for _ in 0..OPTIMISTIC_ATTEMPTS {
        let row = answered(deadline, async {
            Ok(ClientAndHead(id)
                .get_result::<(ClientRow, Option<String>, EndRow)>(conn)
                .await
                .optional()?)
        })
        .await?;
        let (row, head, end) = match row {
            Some((row, head, end)) => (Some(row), head, end),
            None => (None, None, (None, None)),
        };
        let current = in_scope(row, scope)?;
        let relationship = relationship_of(&current, end);
        let plan = decide(&current, &relationship).map_err(UpdateError::Rejected)?;
        if plan.is_noop() {
            return Ok(plan);
        }
        let (changes, hash) = entry_of(&plan, audit, head)?;
        let event = announce(&plan, &hash);
        let write = UpdateWithHistory {
            next: ClientRecord::from(plan.client()),
            event: &event,
            from_version: current.version,
            audit,
            changes: &changes,
            reason: plan.reason(),
            hash: &hash,
        };
        let written = answered(deadline, async {
            match plan.relationship() {
                None => Ok(write.execute(conn).await?),
                // Two statements, so one transaction: the version check first.
                Some(after) => Ok(conn
                    .transaction(async |conn| {
                        let written = write.execute(conn).await?;
                        if written == 1 {
                            write_relationship_pg(conn, plan.client(), after).await?;
                        }
                        Ok::<_, diesel::result::Error>(written)
                    })
                    .await?),
            }
        })
        .await?;
        if written == 1 {
            return Ok(plan);
        }
        // Someone else changed the client since it was read: decide again on what they wrote.
    }
    // Contended: read under the row lock, so that this update runs after the others, on their
    // result. Cut off before its commit, the transaction rolls back with its connection.
    let locked = conn.transaction(async |conn| {
        let row = ClientById::<true>(id)
            .get_result::<ClientRow>(conn)
            .await
            .optional()?;
        let current = in_scope(row, scope)?;
        let end = {
            use crate::schema::pg::client_relationships::dsl as r;
            r::client_relationships
                .filter(r::client_id.eq(DbUuid(id)))
                .select((r::ended_at, r::retain_until))
                .get_result::<(DateTime<Utc>, DateTime<Utc>)>(conn)
                .await
                .optional()?
                .unzip()
        };
        let relationship = relationship_of(&current, end);
        let plan = decide(&current, &relationship).map_err(UpdateError::Rejected)?;
        if !plan.is_noop() {
            // Read after the lock, by a statement of its own: a statement that waited for the
            // lock sees the row as its holder left it, but the rest of the database (the
            // history entry that holder wrote) as it was when the statement began.
            let head = {
                use crate::schema::pg::client_history::dsl as h;
                h::client_history
                    .filter(h::client_id.eq(DbUuid(id)))
                    .filter(h::version.eq(current.version))
                    .select(h::hash)
                    .get_result::<Option<String>>(conn)
                    .await
                    .optional()?
                    .flatten()
            };
            let (changes, hash) = entry_of(&plan, audit, head)?;
            let event = announce(&plan, &hash);
            UpdateWithHistory {
                next: ClientRecord::from(plan.client()),
                event: &event,
                from_version: current.version,
                audit,
                changes: &changes,
                reason: plan.reason(),
                hash: &hash,
            }
            .execute(conn)
            .await?;
            if let Some(after) = plan.relationship() {
                write_relationship_pg(conn, plan.client(), after).await?;
            }
        }
        Ok(plan)
    });
    answered(deadline, locked.map(Ok))
        .await
        .unwrap_or_else(|error| Err(error.into()))
}
