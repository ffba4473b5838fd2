//! The business relationship with a client (contract section 9): `GET …/relationship`,
//! `POST …/relationship/close` and `…/reopen`, each with a reason.

use actix_web::http::header;
use actix_web::web::{self, Path};
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::lifecycle::{
    close_relationship, reopen_relationship, InvalidRelationshipTransition, Relationship,
    RelationshipChange, RelationshipStatus, RetentionYears,
};
use domain::values::Reason;
use domain::{FieldCode, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{Store, UpdateError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::body::{read_object, Body};
use crate::etag::{self, IfMatch};
use crate::events::{self, EventType};
use crate::members::{take, Field, Refusals};
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::query::Query;
use crate::webhooks::Wake;

/// The business relationship with a client.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Relationship, examples(
    json!({"status": "active", "started_at": "2026-11-24T10:15:30.123456Z",
           "ended_at": null, "retain_until": null}),
    json!({"status": "closed", "started_at": "2026-11-24T10:15:30.123456Z",
           "ended_at": "2026-12-01T09:00:00.000000Z", "retain_until": "2031-12-01T09:00:00.000000Z"})
))]
pub struct RelationshipOut {
    /// `active` until closed; `closed` after.
    #[schema(value_type = String, example = "active")]
    pub status: RelationshipStatusOut,
    /// When the relationship started: the client's `created_at`. Never changes.
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub started_at: DateTime<Utc>,
    /// When it was closed (RFC 3339, UTC); null while active.
    #[serde(serialize_with = "crate::timestamp::optional_micros")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<DateTime<Utc>>,
    /// Until when the client's records must be kept: `ended_at` plus the retention period
    /// (`RETENTION_YEARS` calendar years, 5 by default; 29 February becomes 28 February), fixed
    /// at closing. Null while active.
    #[serde(serialize_with = "crate::timestamp::optional_micros")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retain_until: Option<DateTime<Utc>>,
}

/// `active` or `closed`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelationshipStatusOut {
    Active,
    Closed,
}

impl From<Relationship> for RelationshipOut {
    fn from(relationship: Relationship) -> Self {
        RelationshipOut {
            status: match relationship.status() {
                RelationshipStatus::Active => RelationshipStatusOut::Active,
                RelationshipStatus::Closed => RelationshipStatusOut::Closed,
            },
            started_at: relationship.started_at,
            ended_at: relationship.ended_at,
            retain_until: relationship.retain_until,
        }
    }
}

/// Why a relationship is closed or reopened.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelationshipChange, example = json!({"reason": "account closed at the customer's request"}))]
pub struct ReasonIn {
    /// Why: kept in the history and sent with the event. Not blank, at most 2000 characters.
    #[schema(
        value_type = String,
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: Field<Reason>,
}

fn stranger(name: &str, _: &Value) -> Option<FieldError> {
    Some(FieldError::new(
        name,
        FieldCode::UnknownField,
        "is not a member of a relationship change (`reason`)",
    ))
}

fn invalid_transition(refused: InvalidRelationshipTransition) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidTransition,
        format!("The relationship is already {}.", refused.status.as_str()),
    )
}

fn respond(relationship: Relationship, version: i64) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag::of(version)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RelationshipOut::from(relationship))
}

/// Get a client's relationship
///
/// Whether the business relationship with the client runs, when it started (the client's
/// registration), and, once closed, when it ended and until when its records are kept. The
/// `ETag` is the client's.
#[utoipa::path(
    operation_id = "getClientRelationship",
    tag = "Clients",
    params(("id" = Uuid, Path, description = "Client UUID")),
    responses(
        (status = 200, description = "The relationship", body = RelationshipOut,
            headers(("ETag" = String, description = "Strong entity tag of the client's version"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or a query parameter was sent (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients/{id}/relationship")]
pub async fn get_relationship(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    Query::parse(&req)?.finish()?;
    let (relationship, version) = store
        .relationship(caller.scope(), id.into_inner())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(respond(relationship, version))
}

/// What a close or a reopen does, given the relationship as stored.
type Change = fn(
    &domain::Client,
    &Relationship,
    &Reason,
    RetentionYears,
    DateTime<Utc>,
) -> Result<RelationshipChange, InvalidRelationshipTransition>;

#[allow(clippy::too_many_arguments)]
async fn change(
    caller: Caller,
    req: HttpRequest,
    id: Uuid,
    body: &[u8],
    store: &Store,
    deliveries: &Wake,
    years: RetentionYears,
    (kind, apply): (EventType, Change),
) -> Result<HttpResponse, ApiError> {
    let (input, strangers) = read_object::<ReasonIn>(&req, body, stranger)?;
    let mut refusals = Refusals::default();
    refusals.extend(strangers);
    let (r, b) = (&mut refusals, input);
    let reason = take!(r.required(b.reason));
    // Reported once the client is known to exist and `If-Match` holds.
    let refused = refusals.into_vec();
    let if_match = IfMatch::from_headers(req.headers());
    let audit = caller.audit(&req);
    let announced = audit.clone();
    let announce = move |change: &RelationshipChange, history_hash: &str| {
        events::announce(
            kind,
            &change.client,
            &change.changes,
            &announced,
            (history_hash, Some(change.reason.as_str())),
        )
    };
    let outcome = store
        .update(
            caller.scope(),
            id,
            &audit,
            move |current, relationship: &Relationship| {
                if_match.check(current.version)?;
                let (Some(reason), true) = (&reason, refused.is_empty()) else {
                    return Err(ApiError::validation(refused.clone()));
                };
                apply(current, relationship, reason, years, Utc::now()).map_err(invalid_transition)
            },
            announce,
        )
        .await;
    match outcome {
        Ok(change) => {
            deliveries.now();
            Ok(respond(change.relationship, change.client.version))
        }
        Err(UpdateError::NotFound) => Err(ApiError::not_found()),
        Err(UpdateError::Rejected(error)) => Err(error),
        Err(UpdateError::Store(error)) => Err(error.into()),
    }
}

/// Close a client's relationship
///
/// Records the end of the business relationship: `ended_at` is now, and `retain_until` is
/// `RETENTION_YEARS` calendar years later (5 by default), fixed now. It is a change of the
/// client: the version and `updated_at` are bumped, the history gets an entry (field
/// `relationship`, `active` → `closed`, with the reason), and the event
/// `client.relationship_closed` is sent. A closed client can still be read, listed and its
/// history read; an update or a KYC decision of it is `409 client_closed`.
///
/// Closing a closed relationship is `409 invalid_transition`. When a request has several
/// faults, the first of these answers: `404`, `412`, `422`, `409 invalid_transition`.
#[utoipa::path(
    operation_id = "closeClientRelationship",
    tag = "Clients",
    params(
        ("id" = Uuid, Path, description = "Client UUID"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "`ETag` of the client's version this is based on, or `*`"),
    ),
    request_body(content = ReasonIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The relationship, closed", body = RelationshipOut,
            headers(("ETag" = String, description = "Strong entity tag of the client's new version"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or the body is not a JSON object (`malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`: the relationship is already closed", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: `If-Match` does not match; the `ETag` header has the current version", body = Problem, content_type = "application/problem+json",
            headers(("ETag" = String, description = "The client's current entity tag"))),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, invalid or unknown member, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients/{id}/relationship/close")]
pub async fn close(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    Body(body): Body,
    store: web::Data<Store>,
    deliveries: web::Data<Wake>,
    years: web::Data<RetentionYears>,
) -> Result<HttpResponse, ApiError> {
    let apply: Change = |client, relationship, reason, years, now| {
        close_relationship(client, relationship, reason, years, now)
    };
    change(
        caller,
        req,
        id.into_inner(),
        &body,
        &store,
        &deliveries,
        **years,
        (EventType::RelationshipClosed, apply),
    )
    .await
}

/// Reopen a client's relationship
///
/// Resumes a closed relationship: `ended_at` and `retain_until` are cleared. It is a change of
/// the client (version, `updated_at`, a history entry `closed` → `active` with the reason, the
/// event `client.relationship_reopened`); the client can be updated and given KYC decisions
/// again.
///
/// Reopening an active relationship is `409 invalid_transition`. When a request has several
/// faults, the first of these answers: `404`, `412`, `422`, `409 invalid_transition`.
#[utoipa::path(
    operation_id = "reopenClientRelationship",
    tag = "Clients",
    params(
        ("id" = Uuid, Path, description = "Client UUID"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "`ETag` of the client's version this is based on, or `*`"),
    ),
    request_body(content = ReasonIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The relationship, active again", body = RelationshipOut,
            headers(("ETag" = String, description = "Strong entity tag of the client's new version"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or the body is not a JSON object (`malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`: the relationship is already active", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: `If-Match` does not match; the `ETag` header has the current version", body = Problem, content_type = "application/problem+json",
            headers(("ETag" = String, description = "The client's current entity tag"))),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, invalid or unknown member, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients/{id}/relationship/reopen")]
pub async fn reopen(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    Body(body): Body,
    store: web::Data<Store>,
    deliveries: web::Data<Wake>,
    years: web::Data<RetentionYears>,
) -> Result<HttpResponse, ApiError> {
    let apply: Change = |client, relationship, reason, _, now| {
        reopen_relationship(client, relationship, reason, now)
    };
    change(
        caller,
        req,
        id.into_inner(),
        &body,
        &store,
        &deliveries,
        **years,
        (EventType::RelationshipReopened, apply),
    )
    .await
}
