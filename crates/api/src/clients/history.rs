//! `GET /api/v1/clients/{id}/history`: every change of a client, newest first.

use actix_web::http::header;
use actix_web::web::{self, Path};
use actix_web::{get, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::{HistoryEntry, Store, Verification};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::query::{PageParams, Query};

/// One change of a client: a registration (version 1) or an update that really changed something.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HistoryEntry, example = json!({
    "version": 2, "recorded_at": "2026-11-24T10:20:00.000001Z",
    "actor": {"key_id": null, "name": "unauthenticated"},
    "request_id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90",
    "changes": [{"field": "city", "old": "Paris", "new": "Lyon"}],
    "reason": null,
    "hash": "c6798023e222709fc41e7ba91a2786e88262ff0d4896cbeba6a5acc3ae90e523"
}))]
pub struct HistoryEntryOut {
    /// The client's version after this change (its `ETag` without quotes).
    pub version: i64,
    /// When the change was made (RFC 3339, UTC); the client's `updated_at` at that version.
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
    /// The fields that changed, with their values before and after.
    pub changes: Vec<FieldChangeOut>,
    /// Why, for the changes that give a reason (a KYC decision, the end of a relationship);
    /// otherwise null.
    pub reason: Option<String>,
    /// This entry's link in the client's hash chain: lower-case hex SHA-256 over the previous
    /// entry's `hash` (64 zeros for version 1) and this entry's canonical encoding (defined in
    /// the API design notes, "The history's hash chain"). Events carry it as
    /// `data.history_hash`; `GET /api/v1/clients/{id}/history/verify` recomputes the chain.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

/// Whether a client's history is whole and unaltered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HistoryVerification, examples(
    json!({"valid": true, "entries": 7}),
    json!({"valid": false, "first_invalid_version": 3})
))]
pub struct VerificationOut {
    /// `true` when every entry from version 1 to the client's current version is present once,
    /// and its content and hash match the chain.
    pub valid: bool,
    /// When valid: how many entries the chain holds (the client's current version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<i64>,
    /// When not valid: the first version whose content, hash or predecessor does not match, or
    /// that is missing, duplicated, or beyond the client's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_invalid_version: Option<i64>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Actor {
    /// The id of the API key used, when there was one.
    pub key_id: Option<String>,
    /// The name of the API key used.
    pub name: String,
}

/// One field of a change. Values are as the API shows them (strings, integers, booleans or
/// null).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = FieldChange)]
pub struct FieldChangeOut {
    /// The field's name in `ClientWithPerson`.
    pub field: String,
    /// The value before the change; null at registration.
    #[schema(value_type = Option<serde_json::Value>)]
    pub old: serde_json::Value,
    /// The value after the change.
    #[schema(value_type = Option<serde_json::Value>)]
    pub new: serde_json::Value,
}

impl From<&domain::history::Change> for FieldChangeOut {
    fn from(change: &domain::history::Change) -> Self {
        let value = |v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        FieldChangeOut {
            field: change.field.to_owned(),
            old: value(&change.old),
            new: value(&change.new),
        }
    }
}

/// Registrations recorded before the history kept integers as integers hold `organization_id` as
/// a string (`"1"`). The history is never rewritten (the database refuses it), so such a value is
/// shown as the integer the API shows everywhere else.
fn as_the_api_shows_it(mut change: FieldChangeOut) -> FieldChangeOut {
    if change.field == "organization_id" {
        if let Some(id) = change.new.as_str().and_then(|s| s.parse::<i64>().ok()) {
            change.new = serde_json::Value::from(id);
        }
    }
    change
}

fn to_out(entry: HistoryEntry) -> Result<HistoryEntryOut, ApiError> {
    let changes: Vec<FieldChangeOut> =
        serde_json::from_str(&entry.changes).map_err(ApiError::internal)?;
    let changes = changes.into_iter().map(as_the_api_shows_it).collect();
    Ok(HistoryEntryOut {
        version: entry.version,
        recorded_at: entry.recorded_at,
        actor: Actor {
            key_id: entry.actor_key_id,
            name: entry.actor_name,
        },
        request_id: entry.request_id,
        changes,
        reason: entry.reason,
        // Every entry has its hash once the start has chained the older ones.
        hash: entry.hash.unwrap_or_default(),
    })
}

/// Get a client's change history
///
/// Every registration and every real change of the client, newest first: version, time, who
/// (API key), request id, and each changed field's old and new value. No-op and rejected updates
/// leave no entry. Entries are never changed or removed.
///
/// Paginated with `limit` and `offset`; when older entries remain, the `Link` header has the next
/// page (`rel="next"`).
#[utoipa::path(
    operation_id = "getClientHistory",
    tag = "Clients",
    params(("id" = Uuid, Path, description = "Client UUID"), PageParams),
    responses(
        (status = 200, description = "A page of the history, newest first", body = Vec<HistoryEntryOut>,
            headers(("Link" = String, description = "`<...>; rel=\"next\"` when more entries remain"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or a bad or unknown query parameter (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients/{id}/history")]
pub async fn client_history(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut query = Query::parse(&req)?;
    let page = PageParams::read(&mut query);
    query.finish()?;
    let (entries, more) = store
        .history(caller.scope(), id, page.limit, page.offset)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = entries
        .into_iter()
        .map(to_out)
        .collect::<Result<Vec<_>, _>>()?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if more {
        response.insert_header((header::LINK, page.next_link(req.path(), &[])));
    }
    Ok(response.json(body))
}

/// Verify a client's history
///
/// Recomputes the client's hash chain from version 1 to its current version, from the entries as
/// they are stored: an entry changed, removed or added behind the API's back (directly in the
/// database), the last one included, makes it invalid, and `first_invalid_version` says where.
/// The chain shows the history was not rewritten after the fact, as far as the hashes partners
/// hold (each event's `data.history_hash`) reach: someone able to rewrite the database could
/// recompute every later hash, but not the ones already delivered.
#[utoipa::path(
    operation_id = "verifyClientHistory",
    tag = "Clients",
    params(("id" = Uuid, Path, description = "Client UUID")),
    responses(
        (status = 200, description = "Whether the history is whole and unaltered", body = VerificationOut),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or an unknown query parameter (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients/{id}/history/verify")]
pub async fn verify_client_history(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    Query::parse(&req)?.finish()?;
    let verification = store
        .verify_history(caller.scope(), id.into_inner())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = match verification {
        Verification::Valid { entries } => VerificationOut {
            valid: true,
            entries: Some(entries),
            first_invalid_version: None,
        },
        Verification::Invalid {
            first_invalid_version,
        } => VerificationOut {
            valid: false,
            entries: None,
            first_invalid_version: Some(first_invalid_version),
        },
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
