//! The writes of the request path on SQLite: each one immediate transaction, run whole on the
//! writer connection's blocking thread (one hop, where each statement would be one).
//!
//! All of a server's writes go through its one writer, so these never wait for each other;
//! `BEGIN IMMEDIATE` still takes the database's write lock first, so that another process on the
//! same file (a second instance) cannot interleave with a read-check-write.

use chrono::{DateTime, Utc};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Integer, Text, TimestamptzSqlite};
use diesel::sqlite::Sqlite;
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, QueryResult, RunQueryDsl, SqliteConnection,
};
use domain::history::Recorded;
use domain::lifecycle::Relationship;
use domain::Client;
use uuid::Uuid;

use crate::clients::{entry_of, relationship_of};
use crate::events::NewEvent;
use crate::idempotency::{IdempotencyKey, StoredResponse};
use crate::row::{ClientRecord, ClientRow, DbUuid};
use crate::schema::sqlite::{
    client_history, client_relationships, clients, events, idempotency_keys,
};
use crate::statements::push_next_version;
use crate::{Audit, Scope, UpdateError};

/// Writes a client's next version. diesel's own `UPDATE` is never cached, and SQLite would parse
/// it on every call; this fixed text is prepared once per connection.
struct UpdateClient<'a> {
    next: ClientRecord<'a>,
    id: DbUuid,
}

impl QueryId for UpdateClient<'_> {
    type QueryId = UpdateClient<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Sqlite> for UpdateClient<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE clients ");
        push_next_version::<Sqlite, TimestamptzSqlite>(&mut out, &self.next)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&self.id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for UpdateClient<'_> {}

/// An event's delivery to each endpoint of its organization that takes its type. A fixed text,
/// prepared once per connection.
struct DeliveriesOf {
    event_id: DbUuid,
    client_id: DbUuid,
    version: i64,
    at: chrono::DateTime<chrono::Utc>,
    organization_id: i32,
    type_bit: i32,
}

impl QueryId for DeliveriesOf {
    type QueryId = DeliveriesOf;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Sqlite> for DeliveriesOf {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO webhook_deliveries (endpoint_id, organization_id, event_id, client_id, \
             version, event_created_at, next_attempt_at) SELECT id, organization_id, ",
        );
        out.push_bind_param::<Text, _>(&self.event_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.client_id)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.version)?;
        out.push_sql(", ");
        out.push_bind_param::<TimestamptzSqlite, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<TimestamptzSqlite, _>(&self.at)?;
        out.push_sql(" FROM webhook_endpoints WHERE organization_id = ");
        out.push_bind_param::<Integer, _>(&self.organization_id)?;
        out.push_sql(" AND deleted_at IS NULL AND (event_mask IS NULL OR event_mask & ");
        out.push_bind_param::<Integer, _>(&self.type_bit)?;
        out.push_sql(" <> 0)");
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for DeliveriesOf {}

fn record_history(
    conn: &mut SqliteConnection,
    client: &Client,
    audit: &Audit,
    (changes, reason, hash): (&str, Option<&str>, &str),
) -> QueryResult<usize> {
    use client_history::dsl as h;
    diesel::insert_into(h::client_history)
        .values((
            h::client_id.eq(DbUuid(client.id)),
            h::version.eq(client.version),
            h::organization_id.eq(client.organization_id),
            h::recorded_at.eq(client.updated_at),
            h::actor_key_id.eq(audit.actor_key_id.as_deref()),
            h::actor_name.eq(&audit.actor_name),
            h::request_id.eq(audit.request_id.as_deref()),
            h::changes.eq(changes),
            h::reason.eq(reason),
            h::hash.eq(Some(hash)),
        ))
        .execute(conn)
}

/// The hash of the client's entry at `version`: what the next entry chains to.
fn head_hash(conn: &mut SqliteConnection, id: Uuid, version: i64) -> QueryResult<Option<String>> {
    use client_history::dsl as h;
    Ok(h::client_history
        .filter(h::client_id.eq(DbUuid(id)))
        .filter(h::version.eq(version))
        .select(h::hash)
        .get_result::<Option<String>>(conn)
        .optional()?
        .flatten())
}

fn record_event(
    conn: &mut SqliteConnection,
    client: &Client,
    event: &NewEvent,
) -> QueryResult<usize> {
    use events::dsl as e;
    diesel::insert_into(e::events)
        .values((
            e::id.eq(DbUuid(event.id)),
            e::organization_id.eq(client.organization_id),
            e::client_id.eq(DbUuid(client.id)),
            e::version.eq(client.version),
            e::kind.eq(event.kind),
            e::created_at.eq(client.updated_at),
            e::body.eq(&event.body),
        ))
        .execute(conn)?;
    DeliveriesOf {
        event_id: DbUuid(event.id),
        client_id: DbUuid(client.id),
        version: client.version,
        at: client.updated_at,
        organization_id: client.organization_id,
        type_bit: event.type_bit,
    }
    .execute(conn)
}

/// Stores a new client, its first history entry and, with a key, the key's response. A taken
/// email or external code fails with the unique index's violation.
pub(crate) fn register(
    conn: &mut SqliteConnection,
    client: &Client,
    event: &NewEvent,
    audit: &Audit,
    (changes, hash): (&str, &str),
    idempotency: Option<(IdempotencyKey, StoredResponse)>,
) -> QueryResult<()> {
    use clients::dsl as c;
    conn.immediate_transaction(|conn| {
        diesel::insert_into(c::clients)
            .values(&ClientRecord::from(client))
            .execute(conn)?;
        record_history(conn, client, audit, (changes, None, hash))?;
        record_event(conn, client, event)?;
        if let Some((key, response)) = &idempotency {
            use idempotency_keys::dsl as k;
            diesel::update(
                k::idempotency_keys
                    .filter(k::organization_id.eq(key.organization_id))
                    .filter(k::key.eq(&key.key)),
            )
            .set((
                k::completed.eq(true),
                k::response_status.eq(i32::from(response.status)),
                k::response_body.eq(&response.body),
                k::location.eq(response.location.as_deref()),
                k::etag.eq(response.etag.as_deref()),
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Reads the client, lets `decide` compute the update, and writes the next version with its
/// history entry (see `Store::update`).
pub(crate) fn update<E, P: Recorded>(
    conn: &mut SqliteConnection,
    scope: Scope,
    id: Uuid,
    audit: &Audit,
    decide: &impl Fn(&Client, &Relationship) -> Result<P, E>,
    announce: &impl Fn(&P, &str) -> NewEvent,
) -> Result<P, UpdateError<E>> {
    use client_relationships::dsl as r;
    use clients::dsl as c;
    conn.immediate_transaction(|conn| {
        // No `LIMIT ?` (diesel's `first`): SQLite prepares again, on every run, a statement
        // whose LIMIT is a bound parameter (measured: 3.4 times the CPU of a GET).
        let row = c::clients
            .filter(c::id.eq(DbUuid(id)))
            .get_result::<ClientRow>(conn)
            .optional()?
            .filter(|r| scope.allows(r.organization_id));
        let current = Client::try_from(row.ok_or(UpdateError::NotFound)?)?;
        let end = r::client_relationships
            .filter(r::client_id.eq(DbUuid(id)))
            .select((r::ended_at, r::retain_until))
            .get_result::<(DateTime<Utc>, DateTime<Utc>)>(conn)
            .optional()?
            .unzip();
        let relationship = relationship_of(&current, end);
        let plan = decide(&current, &relationship).map_err(UpdateError::Rejected)?;
        if plan.is_noop() {
            return Ok(plan);
        }
        let next = plan.client();
        let head = head_hash(conn, id, current.version)?;
        let (changes, hash) = entry_of(&plan, audit, head)?;
        UpdateClient {
            next: ClientRecord::from(next),
            id: DbUuid(id),
        }
        .execute(conn)?;
        record_history(conn, next, audit, (&changes, plan.reason(), &hash))?;
        record_event(conn, next, &announce(&plan, &hash))?;
        if let Some(after) = plan.relationship() {
            match (after.ended_at, after.retain_until) {
                (Some(ended_at), Some(retain_until)) => {
                    diesel::insert_into(r::client_relationships)
                        .values((
                            r::client_id.eq(DbUuid(id)),
                            r::organization_id.eq(next.organization_id),
                            r::ended_at.eq(ended_at),
                            r::retain_until.eq(retain_until),
                        ))
                        .execute(conn)?;
                }
                _ => {
                    diesel::delete(r::client_relationships.filter(r::client_id.eq(DbUuid(id))))
                        .execute(conn)?;
                }
            }
        }
        Ok(plan)
    })
}
