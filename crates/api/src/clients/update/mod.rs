//! `PUT /api/v1/clients/person/{id}`: update a person client (the partners' "Update Customer
//! Information").

use actix_web::web::{self, Path};
use actix_web::{put, HttpRequest, HttpResponse};
use chrono::Utc;
use store::{Store, UpdateError};
use uuid::Uuid;

use super::{respond, ClientWithPerson};
use crate::auth::Caller;
use crate::body::{read_object, Body};
use crate::etag::IfMatch;
use crate::events;
use crate::members::Refusals;
use crate::problem::{ApiError, Problem};
use crate::webhooks::Wake;

mod body;

use body::stranger;
pub use body::UpdatePersonIn;

/// Update Customer Information
///
/// Changes any subset of the person client's updatable fields; see the request body for what
/// absent, `null` and empty string mean. Every invalid field is reported at once in a `422`
/// problem with JSON pointers.
///
/// A request that changes nothing (including `{}`) returns `200` with the current record and
/// leaves `updated_at` and the `ETag` as they were. A real change bumps both.
///
/// Concurrency: send the `ETag` you read in `If-Match` to update only that version (`412` with
/// the current `ETag` otherwise; `*` matches any version). Without `If-Match`, concurrent updates
/// of different fields all apply, one after the other.
#[utoipa::path(
    operation_id = "updatePersonClient",
    tag = "Clients",
    params(
        ("id" = Uuid, Path, description = "Client UUID"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "`ETag` of the version this update is based on, or `*`"),
    ),
    request_body(content = UpdatePersonIn, description = "Request to update an existing person client", content_type = "application/json"),
    responses(
        (status = 200, description = "Client updated successfully", body = ClientWithPerson,
            headers(("ETag" = String, description = "Strong entity tag of the client's version"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or the body is not a JSON object (`malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`: another client of the organization uses this email", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: `If-Match` does not match; the `ETag` header has the current version", body = Problem, content_type = "application/problem+json",
            headers(("ETag" = String, description = "The client's current entity tag"))),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit (64 KiB unless configured otherwise)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, immutable or unknown fields, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/clients/person/{id}")]
pub async fn update_person(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    Body(body): Body,
    store: web::Data<Store>,
    deliveries: web::Data<Wake>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (input, strangers) = read_object::<UpdatePersonIn>(&req, &body, stranger)?;
    let mut refusals = Refusals::default();
    refusals.extend(strangers);
    let patch = input.into_patch(&mut refusals);
    // Reported once the client is known to exist and `If-Match` holds, with the domain's own.
    let refused = refusals;
    let if_match = IfMatch::from_headers(req.headers());
    let audit = caller.audit(&req);
    let announced = audit.clone();
    let announce = move |plan: &domain::UpdatePlan, history_hash: &str| {
        let changes = domain::history::update_changes(&plan.changes);
        events::announce(
            events::EventType::Updated,
            &plan.client,
            &changes,
            &announced,
            (history_hash, None),
        )
    };
    let outcome = store
        .update(
            caller.scope(),
            id,
            &audit,
            move |current, relationship: &domain::lifecycle::Relationship| {
                if_match.check(current.version)?;
                match domain::plan(current, patch.clone(), Utc::now()) {
                    Ok(_) if refused.is_empty() && relationship.ended_at.is_some() => {
                        Err(super::client_closed())
                    }
                    Ok(plan) if refused.is_empty() => Ok(plan),
                    outcome => Err(ApiError::validation(
                        refused
                            .clone()
                            .with_domain_rules(outcome.err().unwrap_or_default()),
                    )),
                }
            },
            announce,
        )
        .await;
    match outcome {
        Ok(plan) => {
            if !plan.is_noop() {
                deliveries.now();
            }
            Ok(respond(HttpResponse::Ok(), plan.client))
        }
        Err(UpdateError::NotFound) => Err(ApiError::not_found()),
        Err(UpdateError::Rejected(error)) => Err(error),
        Err(UpdateError::Store(error)) => Err(error.into()),
    }
}
