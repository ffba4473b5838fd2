//! `POST /api/v1/clients/{id}/kyc-status`: a KYC decision, with its reason (contract section 9).

use actix_web::web::{self, Path};
use actix_web::{post, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::history::StatusChange;
use domain::lifecycle::{change_kyc_status, InvalidKycTransition};
use domain::values::Reason;
use domain::{FieldCode, FieldError, KycStatus};
use serde::Deserialize;
use serde_json::Value;
use store::{Store, UpdateError};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{respond, ClientWithPerson};
use crate::auth::Caller;
use crate::body::{read_object, Body};
use crate::etag::IfMatch;
use crate::events::{self, EventType};
use crate::members::{take, Field, Refusals};
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::webhooks::Wake;

/// Request to move a client's KYC status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChangeKycStatus, example = json!({
    "status": "PROCESSING", "reason": "documents received"
}))]
pub struct KycStatusIn {
    /// The status to move to. Allowed moves: `NOT_STARTED` → `CREATED`; `CREATED` →
    /// `PROCESSING`, `ABORTED`; `PROCESSING` → `PENDING_REVIEW`, `VALIDATED`, `DECLINED`,
    /// `ABORTED`; `PENDING_REVIEW` → `PROCESSING`, `VALIDATED`, `DECLINED`; `VALIDATED` →
    /// `PROCESSING` (re-verification); `DECLINED`, `ABORTED` → `CREATED` (a new application).
    /// The current status again changes nothing.
    #[schema(value_type = KycStatus)]
    pub status: Field<KycStatus>,
    /// Why: kept in the history and sent with the event. Not blank, at most 2000 characters.
    #[schema(
        value_type = String,
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: Field<Reason>,
}

/// Every member this body does not have is refused by name.
fn stranger(name: &str, _: &Value) -> Option<FieldError> {
    Some(FieldError::new(
        name,
        FieldCode::UnknownField,
        "is not a member of a KYC status change (`status`, `reason`)",
    ))
}

fn invalid_transition(refused: InvalidKycTransition) -> ApiError {
    ApiError {
        allowed: Some(refused.allowed.iter().map(|s| s.as_str()).collect()),
        ..ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "The KYC status cannot go from {} to {}; allowed: {}.",
                refused.from,
                refused.to,
                refused
                    .allowed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// Change a client's KYC status
///
/// Records a KYC decision with its reason: the status moves, the version and `updated_at` are
/// bumped, the history gets an entry with the reason, and the event `client.kyc_status_changed`
/// is sent. Asking for the current status again changes nothing (`200`, same `ETag`). A move
/// the transition table does not have is `409 invalid_transition`, whose problem lists in
/// `allowed` where the client can go.
///
/// A client whose relationship is closed gets `409 client_closed`. When a request has several
/// faults, the first of these answers: `404`, `412`, `422`, `409 client_closed`, the no-op
/// `200`, `409 invalid_transition`.
#[utoipa::path(
    operation_id = "changeKycStatus",
    tag = "Clients",
    params(
        ("id" = Uuid, Path, description = "Client UUID"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "`ETag` of the version this decision is based on, or `*`"),
    ),
    request_body(content = KycStatusIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The client after the decision (unchanged when the status was already the one asked for)", body = ClientWithPerson,
            headers(("ETag" = String, description = "Strong entity tag of the client's version"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or the body is not a JSON object (`malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`: the status cannot go there from the current one; `allowed` lists where it can. `client_closed`: the client's relationship is closed", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "/problems/invalid_transition", "title": "Transition not allowed", "status": 409,
                "detail": "The KYC status cannot go from NOT_STARTED to VALIDATED; allowed: CREATED.",
                "code": "invalid_transition", "request_id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90", "allowed": ["CREATED"]})),
        (status = 412, description = "`version_mismatch`: `If-Match` does not match; the `ETag` header has the current version", body = Problem, content_type = "application/problem+json",
            headers(("ETag" = String, description = "The client's current entity tag"))),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, invalid or unknown member, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients/{id}/kyc-status")]
pub async fn change_status(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    Body(body): Body,
    store: web::Data<Store>,
    deliveries: web::Data<Wake>,
) -> Result<HttpResponse, ApiError> {
    let (input, strangers) = read_object::<KycStatusIn>(&req, &body, stranger)?;
    let mut refusals = Refusals::default();
    refusals.extend(strangers);
    let (r, b) = (&mut refusals, input);
    let status = take!(r.required(b.status));
    let reason = take!(r.required(b.reason));
    // Reported once the client is known to exist and `If-Match` holds.
    let refused = refusals.into_vec();
    let if_match = IfMatch::from_headers(req.headers());
    let audit = caller.audit(&req);
    let announced = audit.clone();
    let announce = move |change: &StatusChange, history_hash: &str| {
        events::announce(
            EventType::KycStatusChanged,
            &change.client,
            &change.changes,
            &announced,
            (history_hash, Some(change.reason.as_str())),
        )
    };
    let outcome = store
        .update(
            caller.scope(),
            id.into_inner(),
            &audit,
            move |current, relationship: &domain::lifecycle::Relationship| {
                if_match.check(current.version)?;
                let (Some(status), Some(reason), true) = (status, &reason, refused.is_empty())
                else {
                    return Err(ApiError::validation(refused.clone()));
                };
                if relationship.ended_at.is_some() {
                    return Err(super::client_closed());
                }
                change_kyc_status(current, status, reason, Utc::now()).map_err(invalid_transition)
            },
            announce,
        )
        .await;
    match outcome {
        Ok(change) => {
            if !change.changes.is_empty() {
                deliveries.now();
            }
            Ok(respond(HttpResponse::Ok(), change.client))
        }
        Err(UpdateError::NotFound) => Err(ApiError::not_found()),
        Err(UpdateError::Rejected(error)) => Err(error),
        Err(UpdateError::Store(error)) => Err(error.into()),
    }
}
