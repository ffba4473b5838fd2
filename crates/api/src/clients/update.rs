//! `PUT /api/v1/clients/person/{id}`: update a person client (the partners' "Update Customer
//! Information").

use actix_web::web::{self, Path};
use actix_web::{put, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::{RiskLevel, UpdateInput};
use serde::Deserialize;
use store::{Store, UpdateError};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{respond, ClientWithPerson};
use crate::auth::Caller;
use crate::body::{json_members, Body};
use crate::etag::{self, IfMatch};
use crate::problem::{ApiError, ErrorCode, Problem};

/// Request to update an existing person client
///
/// Every field is optional. Absent or `null` keeps the stored value. An empty string clears an
/// optional field (`blacklisted_comment`, `kyc_note`, `mobile_phone_number`,
/// `second_mobile_phone_number`, `second_email`, `state_province`, `planned_income`,
/// `planned_expenditure`) to `null`, and is refused for a required one (`address`, `city`,
/// `country_code`, `email`, `postcode`). Strings are trimmed.
///
/// Fields of `ClientWithPerson` that an update cannot change (`id`, `first_name`, `kyc_status`,
/// `created_at`, ...) may be sent back as read (GET, edit, PUT) and are then ignored; a different
/// value is refused with `immutable_field`. Any other member is refused with `unknown_field`.
#[derive(Debug, Deserialize, ToSchema)]
// The server refuses unknown members (`unknown_field`); this says so in the schema.
#[serde(deny_unknown_fields)]
#[schema(example = json!({"city": "Lyon", "postcode": "69001", "address": "2 Place Bellecour", "kyc_note": ""}))]
pub struct UpdatePersonIn {
    /// Street address, at most 255 characters. Cannot be cleared.
    #[schema(
        max_length = 255,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub address: Option<String>,
    /// Why the client is blacklisted, at most 2000 characters. Required while `is_blacklisted`
    /// is true.
    #[schema(max_length = 2000)]
    pub blacklisted_comment: Option<String>,
    /// Block or unblock the client.
    pub blocked: Option<bool>,
    /// City, at most 100 characters. Cannot be cleared.
    #[schema(
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub city: Option<String>,
    /// Country of the address, ISO 3166-1 alpha-3, any case. Cannot be cleared.
    #[schema(example = "FRA", min_length = 3, max_length = 3)]
    pub country_code: Option<String>,
    /// Primary email, at most 254 characters. Cannot be cleared. Using another client's email
    /// (case-insensitively) is `409 email_taken`.
    #[schema(format = Email, max_length = 254, min_length = 1, pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    pub email: Option<String>,
    /// Blacklist or clear the client; `true` needs a `blacklisted_comment`, in this body or
    /// already stored.
    pub is_blacklisted: Option<bool>,
    /// Free-text KYC note, at most 2000 characters.
    #[schema(max_length = 2000)]
    pub kyc_note: Option<String>,
    /// Mobile phone number, E.164 (`+33612345678`); empty clears it.
    #[schema(example = "+33612345678", pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub mobile_phone_number: Option<String>,
    /// Planned yearly expenditure, free text, at most 100 characters.
    #[schema(max_length = 100)]
    pub planned_expenditure: Option<String>,
    /// Planned yearly income, free text, at most 100 characters.
    #[schema(max_length = 100)]
    pub planned_income: Option<String>,
    /// Postal code, at most 20 characters. Cannot be cleared.
    #[schema(
        max_length = 20,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub postcode: Option<String>,
    pub risk_level: Option<RiskLevel>,
    /// Secondary email, at most 254 characters.
    #[schema(format = Email, max_length = 254)]
    pub second_email: Option<String>,
    /// Secondary mobile phone number, E.164; empty clears it.
    #[schema(pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub second_mobile_phone_number: Option<String>,
    /// State, province or region, at most 100 characters.
    #[schema(max_length = 100)]
    pub state_province: Option<String>,
}

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
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = UpdateInput {
        members: json_members(&req, &body)?,
    };
    let if_match = IfMatch::from_headers(req.headers());
    let audit = caller.audit(&req);
    let outcome = store
        .update(caller.scope(), id, &audit, move |current| {
            if !if_match.allows(current.version) {
                return Err(ApiError {
                    etag: Some(etag::of(current.version)),
                    ..ApiError::new(
                        ErrorCode::VersionMismatch,
                        format!(
                            "If-Match does not match the client's current version {}.",
                            etag::of(current.version)
                        ),
                    )
                });
            }
            domain::plan(current, &input, Utc::now()).map_err(ApiError::validation)
        })
        .await;
    match outcome {
        Ok(plan) => Ok(respond(HttpResponse::Ok(), plan.client)),
        Err(UpdateError::NotFound) => Err(ApiError::not_found()),
        Err(UpdateError::Rejected(error)) => Err(error),
        Err(UpdateError::Store(error)) => Err(error.into()),
    }
}
