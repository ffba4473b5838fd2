//! The statements of the request path on PostgreSQL: reading a client, and the two writes, each
//! ONE statement that makes the change and its history entry together through a data-modifying
//! `WITH` (its own implicit transaction, so no `BEGIN`/`COMMIT` round trips).
//!
//! diesel's query builder has no data-modifying `WITH`, and it marks its `UPDATE` statements
//! as not cacheable, which makes diesel-async prepare them again on every call (a round trip
//! more). These are query fragments with a fixed text and a static query id, so each connection
//! prepares each of them once, then only executes it. A fixed text is also cheaper to produce:
//! diesel-async renders a statement's SQL on every call, cached or not, and the client read is
//! the one statement of every GET and PUT.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Text, Timestamptz, Uuid};
use diesel::QueryResult;
use domain::Client;

use crate::events::NewEvent;
use crate::row::ClientRecord;

use crate::idempotency::{IdempotencyKey, StoredResponse};
use crate::statements::push_next_version;
use crate::Audit;

/// Every column of `clients`, in table order (that of `schema::clients` and `row::ClientRow`).
const CLIENT_COLUMNS: &str = "SELECT id, organization_id, version, created_at, updated_at, \
    kyc_level, kyc_status, risk_level, is_blacklisted, blacklisted_comment, blocked, kyc_note, \
    external_client_code, first_name, middle_name, last_name, date_of_birth, gender, \
    nationality, birth_country, country_of_tax_residence, email, second_email, \
    mobile_phone_number, second_mobile_phone_number, address, city, postcode, state_province, \
    country_code, planned_income, planned_expenditure";

/// The hash of the client's latest history entry (what its next entry chains to), and the end
/// and retention date of its relationship (null while it runs).
const HEAD_HASH: &str = ", (SELECT hash FROM client_history h \
    WHERE h.client_id = clients.id AND h.version = clients.version), \
    (SELECT ended_at FROM client_relationships r WHERE r.client_id = clients.id), \
    (SELECT retain_until FROM client_relationships r WHERE r.client_id = clients.id)";

const BY_ID: &str = " FROM clients WHERE id = ";

/// The client with this id; with `LOCK`, its row stays locked until the transaction ends.
pub(crate) struct ClientById<const LOCK: bool>(pub uuid::Uuid);

impl<const LOCK: bool> QueryId for ClientById<LOCK> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const LOCK: bool> Query for ClientById<LOCK> {
    type SqlType = crate::schema::pg::clients::SqlType;
}

impl<const LOCK: bool> QueryFragment<Pg> for ClientById<LOCK> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(CLIENT_COLUMNS);
        out.push_sql(BY_ID);
        out.push_bind_param::<Uuid, _>(&self.0)?;
        if LOCK {
            out.push_sql(" FOR UPDATE");
        }
        Ok(())
    }
}

/// The client with this id, and the hash of its latest history entry (what the update's entry
/// chains to). No locking variant: a statement that waited for a row lock would see the new row
/// but the history as it was before the wait.
pub(crate) struct ClientAndHead(pub uuid::Uuid);

impl QueryId for ClientAndHead {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for ClientAndHead {
    type SqlType = (
        crate::schema::pg::clients::SqlType,
        Nullable<Text>,
        (Nullable<Timestamptz>, Nullable<Timestamptz>),
    );
}

impl QueryFragment<Pg> for ClientAndHead {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(CLIENT_COLUMNS);
        out.push_sql(HEAD_HASH);
        out.push_sql(BY_ID);
        out.push_bind_param::<Uuid, _>(&self.0)?;
        Ok(())
    }
}

/// Writes a client's next version and its history entry, provided the stored version is still
/// the one the change was computed from. Affects one row, or none when someone else changed the
/// client since it was read.
pub(crate) struct UpdateWithHistory<'a> {
    pub next: ClientRecord<'a>,
    pub event: &'a NewEvent,
    /// The version the change was computed from.
    pub from_version: i64,
    pub audit: &'a Audit,
    /// The entry's changes, as JSON.
    pub changes: &'a str,
    pub reason: Option<&'a str>,
    /// The entry's hash.
    pub hash: &'a str,
}

impl QueryId for UpdateWithHistory<'_> {
    type QueryId = UpdateWithHistory<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for UpdateWithHistory<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let c = &self.next;
        out.push_sql("WITH updated AS (UPDATE clients ");
        push_next_version::<Pg, Timestamptz>(&mut out, c)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Uuid, _>(&c.id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<BigInt, _>(&self.from_version)?;
        out.push_sql(" RETURNING id, version, organization_id, updated_at), ");
        push_event_insert(&mut out, "updated", "updated_at", self.event)?;
        out.push_sql(" ");
        push_history_insert(
            &mut out,
            "updated",
            "updated_at",
            self.audit,
            (self.changes, &self.reason, self.hash),
        )
    }
}

/// `INSERT INTO client_history … SELECT … FROM <source>`: the entry of the row `source`
/// returned, recorded at its `at` column.
fn push_history_insert<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    source: &'static str,
    at: &'static str,
    audit: &'b Audit,
    (changes, reason, hash): (&'b str, &'b Option<&'b str>, &'b str),
) -> QueryResult<()> {
    out.push_sql(
        "INSERT INTO client_history (client_id, version, organization_id, recorded_at, \
         actor_key_id, actor_name, request_id, changes, reason, hash) \
         SELECT id, version, organization_id, ",
    );
    out.push_sql(at);
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Text>, _>(&audit.actor_key_id)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&audit.actor_name)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Text>, _>(&audit.request_id)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(changes)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Text>, _>(reason)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(hash)?;
    out.push_sql(" FROM ");
    out.push_sql(source);
    Ok(())
}

/// `event AS (INSERT INTO events …), deliveries AS (INSERT INTO webhook_deliveries …)`: the
/// event of the row `source` returned, created at its `at` column, and its delivery to each
/// endpoint of the organization that takes its type.
fn push_event_insert<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    source: &'static str,
    at: &'static str,
    event: &'b NewEvent,
) -> QueryResult<()> {
    out.push_sql(
        "event AS (INSERT INTO events (id, organization_id, client_id, version, type, created_at, \
         body) SELECT ",
    );
    out.push_bind_param::<Uuid, _>(&event.id)?;
    out.push_sql(", organization_id, id, version, ");
    out.push_bind_param::<Text, _>(event.kind)?;
    out.push_sql(", ");
    out.push_sql(at);
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&event.body)?;
    out.push_sql(" FROM ");
    out.push_sql(source);
    out.push_sql(
        "), deliveries AS (INSERT INTO webhook_deliveries (endpoint_id, organization_id, \
         event_id, client_id, version, event_created_at, next_attempt_at) \
         SELECT w.id, w.organization_id, ",
    );
    out.push_bind_param::<Uuid, _>(&event.id)?;
    out.push_sql(", s.id, s.version, s.");
    out.push_sql(at);
    out.push_sql(", s.");
    out.push_sql(at);
    out.push_sql(" FROM ");
    out.push_sql(source);
    out.push_sql(
        " s JOIN webhook_endpoints w ON w.organization_id = s.organization_id \
         AND w.deleted_at IS NULL AND (w.event_mask IS NULL OR w.event_mask & ",
    );
    out.push_bind_param::<Integer, _>(&event.type_bit)?;
    out.push_sql(" <> 0))");
    Ok(())
}

/// Registers a client: its row, its first history entry and, when the request carries an
/// idempotency key, the key's stored response, all in one statement. A taken email or external
/// code fails it with the unique index's violation.
pub(crate) struct RegisterWithHistory<'a> {
    client: ClientRecord<'a>,
    event: &'a NewEvent,
    audit: &'a Audit,
    changes: &'a str,
    hash: &'a str,
    /// The key and the response to store with it; all `None` without a key.
    key: Option<&'a str>,
    status: Option<i32>,
    body: Option<&'a str>,
    location: Option<&'a str>,
    etag: Option<&'a str>,
}

impl<'a> RegisterWithHistory<'a> {
    pub fn new(
        client: &'a Client,
        event: &'a NewEvent,
        audit: &'a Audit,
        (changes, hash): (&'a str, &'a str),
        idempotency: Option<(&'a IdempotencyKey, &'a StoredResponse)>,
    ) -> Self {
        let (key, response) = idempotency.unzip();
        Self {
            client: ClientRecord::from(client),
            event,
            audit,
            changes,
            hash,
            key: key.map(|k| k.key.as_str()),
            status: response.map(|r| i32::from(r.status)),
            body: response.map(|r| r.body.as_str()),
            location: response.and_then(|r| r.location.as_deref()),
            etag: response.and_then(|r| r.etag.as_deref()),
        }
    }
}

impl QueryId for RegisterWithHistory<'_> {
    type QueryId = RegisterWithHistory<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for RegisterWithHistory<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let c = &self.client;
        out.push_sql(
            "WITH inserted AS (INSERT INTO clients (id, organization_id, version, created_at, \
             updated_at, kyc_level, kyc_status, risk_level, is_blacklisted, blacklisted_comment, \
             blocked, kyc_note, external_client_code, first_name, middle_name, last_name, \
             date_of_birth, gender, nationality, birth_country, country_of_tax_residence, email, \
             second_email, mobile_phone_number, second_mobile_phone_number, address, city, \
             postcode, state_province, country_code, planned_income, planned_expenditure) VALUES (",
        );
        out.push_bind_param::<Uuid, _>(&c.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&c.organization_id)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&c.version)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&c.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&c.updated_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.kyc_level)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.kyc_status)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.risk_level)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&c.is_blacklisted)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.blacklisted_comment)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&c.blocked)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.kyc_note)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.external_client_code)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.first_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.middle_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.last_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Date, _>(&c.date_of_birth)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.gender)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.nationality)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.birth_country)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.country_of_tax_residence)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.email)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.second_email)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.mobile_phone_number)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.second_mobile_phone_number)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.address)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.city)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.postcode)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.state_province)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.country_code)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.planned_income)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.planned_expenditure)?;
        out.push_sql(") RETURNING id, version, organization_id, created_at), ");
        push_event_insert(&mut out, "inserted", "created_at", self.event)?;
        out.push_sql(", history AS (");
        push_history_insert(
            &mut out,
            "inserted",
            "created_at",
            self.audit,
            (self.changes, &None, self.hash),
        )?;
        // With no key, the key is NULL and the update matches nothing; every part of a `WITH`
        // runs to completion whether or not anything reads its result.
        out.push_sql(") UPDATE idempotency_keys SET completed = true, response_status = ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.status)?;
        out.push_sql(", response_body = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.body)?;
        out.push_sql(", location = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.location)?;
        out.push_sql(", etag = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.etag)?;
        out.push_sql(" WHERE organization_id = ");
        out.push_bind_param::<Integer, _>(&c.organization_id)?;
        out.push_sql(" AND key = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.key)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::{debug_query, ExpressionMethods, QueryDsl};

    use super::*;
    use crate::row::DbUuid;
    use crate::schema::pg::clients;

    #[test]
    fn the_client_read_selects_the_columns_diesel_would() {
        let id = uuid::Uuid::nil();
        let ours = debug_query::<Pg, _>(&ClientById::<false>(id)).to_string();
        let diesels = debug_query::<Pg, _>(&clients::table.filter(clients::id.eq(DbUuid(id))))
            .to_string()
            .replace('"', "")
            .replace("clients.", "")
            .replace("WHERE (id = $1)", "WHERE id = $1")
            .replace("DbUuid(", "")
            .replace(")]", "]");
        assert_eq!(ours, diesels);
        let locked = debug_query::<Pg, _>(&ClientById::<true>(id)).to_string();
        assert!(locked.contains("id = $1 FOR UPDATE -- binds"), "{locked}");
    }
}
