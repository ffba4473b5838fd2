//! The writes of the request path on SQLite: each one immediate transaction, run whole on the
//! writer connection's blocking thread (one hop, where each statement would be one).
//!
//! All of a server's writes go through its one writer, so these never wait for each other;
//! `BEGIN IMMEDIATE` still takes the database's write lock first, so that another process on the
//! same file (a second instance) cannot interleave with a read-check-write.

use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, QueryResult, RunQueryDsl, SqliteConnection,
};
use domain::history::update_changes;
use domain::{Client, UpdatePlan};
use uuid::Uuid;

use crate::clients::changes_json;
use crate::idempotency::{IdempotencyKey, StoredResponse};
use crate::row::{ClientRow, DbUuid};
use crate::schema::sqlite::{client_history, clients, idempotency_keys};
use crate::{Audit, Scope, UpdateError};

fn record_history(
    conn: &mut SqliteConnection,
    client: &Client,
    audit: &Audit,
    changes: &str,
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
        ))
        .execute(conn)
}

/// Stores a new client, its first history entry and, with a key, the key's response. A taken
/// email or external code fails with the unique index's violation.
pub(crate) fn register(
    conn: &mut SqliteConnection,
    client: &Client,
    audit: &Audit,
    changes: &str,
    idempotency: Option<(IdempotencyKey, StoredResponse)>,
) -> QueryResult<()> {
    use clients::dsl as c;
    conn.immediate_transaction(|conn| {
        diesel::insert_into(c::clients)
            .values((
                (
                    c::id.eq(DbUuid(client.id)),
                    c::organization_id.eq(client.organization_id),
                    c::version.eq(client.version),
                    c::created_at.eq(client.created_at),
                    c::updated_at.eq(client.updated_at),
                    c::kyc_level.eq(client.kyc_level.as_str()),
                    c::kyc_status.eq(client.kyc_status.as_str()),
                    c::risk_level.eq(client.risk_level.as_str()),
                    c::is_blacklisted.eq(client.is_blacklisted),
                    c::blacklisted_comment.eq(client.blacklisted_comment.as_deref()),
                    c::blocked.eq(client.blocked),
                    c::kyc_note.eq(client.kyc_note.as_deref()),
                    c::external_client_code.eq(client.external_client_code.as_deref()),
                    c::first_name.eq(&client.first_name),
                    c::middle_name.eq(client.middle_name.as_deref()),
                    c::last_name.eq(&client.last_name),
                ),
                (
                    c::date_of_birth.eq(client.date_of_birth),
                    c::gender.eq(client.gender.as_str()),
                    c::nationality.eq(&client.nationality),
                    c::birth_country.eq(&client.birth_country),
                    c::country_of_tax_residence.eq(&client.country_of_tax_residence),
                    c::email.eq(&client.email),
                    c::second_email.eq(client.second_email.as_deref()),
                    c::mobile_phone_number.eq(client.mobile_phone_number.as_deref()),
                    c::second_mobile_phone_number.eq(client.second_mobile_phone_number.as_deref()),
                    c::address.eq(&client.address),
                    c::city.eq(&client.city),
                    c::postcode.eq(&client.postcode),
                    c::state_province.eq(client.state_province.as_deref()),
                    c::country_code.eq(&client.country_code),
                    c::planned_income.eq(client.planned_income.as_deref()),
                    c::planned_expenditure.eq(client.planned_expenditure.as_deref()),
                ),
            ))
            .execute(conn)?;
        record_history(conn, client, audit, changes)?;
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
pub(crate) fn update<E>(
    conn: &mut SqliteConnection,
    scope: Scope,
    id: Uuid,
    audit: &Audit,
    decide: &impl Fn(&Client) -> Result<UpdatePlan, E>,
) -> Result<UpdatePlan, UpdateError<E>> {
    use clients::dsl as c;
    conn.immediate_transaction(|conn| {
        let row = c::clients
            .filter(c::id.eq(DbUuid(id)))
            .first::<ClientRow>(conn)
            .optional()?
            .filter(|r| scope.allows(r.organization_id));
        let current = Client::try_from(row.ok_or(UpdateError::NotFound)?)?;
        let plan = decide(&current).map_err(UpdateError::Rejected)?;
        if plan.is_noop() {
            return Ok(plan);
        }
        let next = &plan.client;
        // Every updatable column is written, changed or not: one fixed statement.
        diesel::update(c::clients.filter(c::id.eq(DbUuid(id))))
            .set((
                c::address.eq(&next.address),
                c::blacklisted_comment.eq(next.blacklisted_comment.as_deref()),
                c::blocked.eq(next.blocked),
                c::city.eq(&next.city),
                c::country_code.eq(&next.country_code),
                c::email.eq(&next.email),
                c::is_blacklisted.eq(next.is_blacklisted),
                c::kyc_note.eq(next.kyc_note.as_deref()),
                c::mobile_phone_number.eq(next.mobile_phone_number.as_deref()),
                c::planned_expenditure.eq(next.planned_expenditure.as_deref()),
                c::planned_income.eq(next.planned_income.as_deref()),
                c::postcode.eq(&next.postcode),
                c::risk_level.eq(next.risk_level.as_str()),
                c::second_email.eq(next.second_email.as_deref()),
                c::second_mobile_phone_number.eq(next.second_mobile_phone_number.as_deref()),
                c::state_province.eq(next.state_province.as_deref()),
                c::version.eq(next.version),
                c::updated_at.eq(next.updated_at),
            ))
            .execute(conn)?;
        record_history(
            conn,
            next,
            audit,
            &changes_json(&update_changes(&plan.changes))?,
        )?;
        Ok(plan)
    })
}
