//! `POST /api/v1/clients/person`: register a person client.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{post, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::{KycLevel, NewClient, RiskLevel};
use serde::Deserialize;
use store::{Claim, IdempotencyKey, Store, StoredResponse};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{location, ClientWithPerson};
use crate::auth::Caller;
use crate::body::{canonical_hash, json_members, Body, Members};
use crate::etag;
use crate::problem::{ApiError, ErrorCode, Problem};
use domain::update::Json;
use domain::{FieldCode, FieldError};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Request to register a person client. Server-owned fields (`id`, `organization_id` for
/// organization keys, `kyc_status`, `is_blacklisted`, `blacklisted_comment`, `blocked`, `created_at`, `updated_at`)
/// are refused with `read_only_field`; any other unknown member with `unknown_field`. Strings are
/// trimmed; an empty optional field means no value.
#[derive(Debug, Deserialize, ToSchema)]
// The server refuses unknown members (`unknown_field`); this says so in the schema.
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-04-21", "gender": "female",
    "nationality": "GBR", "birth_country": "GBR", "country_of_tax_residence": "FRA",
    "email": "ada@example.com", "mobile_phone_number": "+33612345678", "address": "1 Rue de Rivoli",
    "city": "Paris", "postcode": "75001", "country_code": "FRA", "kyc_level": "FULL_KYC",
    "external_client_code": "CRM-000042", "planned_income": "50000-75000 EUR"
}))]
pub struct RegisterPersonIn {
    /// Admin keys only, and required for them: the organization to register the client in.
    /// Organization keys register in their own organization and must leave it out.
    #[schema(format = Int32, minimum = 1)]
    pub organization_id: Option<i32>,
    /// First name, at most 100 characters, not blank.
    #[schema(
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub first_name: String,
    /// Middle name, at most 100 characters.
    #[schema(max_length = 100)]
    pub middle_name: Option<String>,
    /// Last name, at most 100 characters, not blank.
    #[schema(
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub last_name: String,
    /// Date of birth; the person must be at least 18 on the day of registration.
    pub date_of_birth: chrono::NaiveDate,
    pub gender: domain::Gender,
    /// Nationality, ISO 3166-1 alpha-3 (any case; stored upper case).
    #[schema(example = "FRA", min_length = 3, max_length = 3)]
    pub nationality: String,
    /// Country of birth, ISO 3166-1 alpha-3.
    #[schema(example = "FRA", min_length = 3, max_length = 3)]
    pub birth_country: String,
    /// Country of tax residence, ISO 3166-1 alpha-3.
    #[schema(example = "FRA", min_length = 3, max_length = 3)]
    pub country_of_tax_residence: String,
    /// Primary email, at most 254 characters; unique among the organization's clients
    /// (case-insensitively), otherwise `409 email_taken`.
    #[schema(format = Email, max_length = 254, min_length = 1, pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    pub email: String,
    /// Secondary email, at most 254 characters.
    #[schema(format = Email, max_length = 254)]
    pub second_email: Option<String>,
    /// Mobile phone number, E.164 (`+33612345678`).
    #[schema(example = "+33612345678", pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub mobile_phone_number: Option<String>,
    /// Secondary mobile phone number, E.164.
    #[schema(pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub second_mobile_phone_number: Option<String>,
    /// Street address, at most 255 characters, not blank.
    #[schema(
        max_length = 255,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub address: String,
    /// City, at most 100 characters, not blank.
    #[schema(
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub city: String,
    /// Postal code, at most 20 characters, not blank.
    #[schema(
        max_length = 20,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub postcode: String,
    /// State, province or region, at most 100 characters.
    #[schema(max_length = 100)]
    pub state_province: Option<String>,
    /// Country of the address, ISO 3166-1 alpha-3.
    #[schema(example = "FRA", min_length = 3, max_length = 3)]
    pub country_code: String,
    /// Planned yearly income, free text, at most 100 characters.
    #[schema(max_length = 100)]
    pub planned_income: Option<String>,
    /// Planned yearly expenditure, free text, at most 100 characters.
    #[schema(max_length = 100)]
    pub planned_expenditure: Option<String>,
    pub kyc_level: KycLevel,
    /// Free-text KYC note, at most 2000 characters.
    #[schema(max_length = 2000)]
    pub kyc_note: Option<String>,
    /// The organization's own reference for the client, at most 100 characters; unique within the
    /// organization, otherwise `409 external_client_code_taken`. Cannot change later.
    #[schema(max_length = 100)]
    pub external_client_code: Option<String>,
    /// Initial risk level; `Low` when absent.
    pub risk_level: Option<RiskLevel>,
}

/// Register a person client
///
/// Creates a person client in the API key's organization (an admin key names it in
/// `organization_id`). It starts with `kyc_status`
/// `NOT_STARTED`, `risk_level` `Low` unless given, and both flags false, at version 1.
///
/// Every invalid field is reported at once in a `422` problem, each with a JSON pointer. Identity
/// fields (names, date of birth, gender, nationality, birth country, tax residence, KYC level) and
/// `external_client_code` cannot change after creation.
///
/// Safe retries: send an `Idempotency-Key`. A retry with the same key and the same JSON body
/// within 24 hours gets the first `201` back (same body, `Location` and `ETag`, plus
/// `Idempotent-Replayed: true`) and creates nothing. The same key with another body is
/// `422 idempotency_key_reused`; a retry while the first request still runs is
/// `409 idempotency_request_in_progress`. A request that failed frees its key. Keys are scoped to
/// the organization.
#[utoipa::path(
    operation_id = "registerPersonClient",
    tag = "Clients",
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = r"^[!-~]+$",
            description = "Any unique string (a UUID, say) of at most 255 visible ASCII characters; makes retries safe"),
    ),
    request_body(content = RegisterPersonIn, content_type = "application/json"),
    responses(
        (status = 201, description = "Client registered", body = ClientWithPerson,
            headers(
                ("Location" = String, description = "Path of the new client"),
                ("ETag" = String, description = "Strong entity tag of the client's version"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same Idempotency-Key"),
            )),
        (status = 400, description = "The body is not a JSON object (`malformed_json`), or the Idempotency-Key is invalid (`invalid_idempotency_key`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `external_client_code_taken` in the organization, or `idempotency_request_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit (64 KiB unless configured otherwise)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, read-only or unknown fields, all listed in `errors`; or `idempotency_key_reused` with a different body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients/person")]
pub async fn register_person(
    caller: Caller,
    req: HttpRequest,
    Body(body): Body,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let mut members = json_members(&req, &body)?;
    let now = Utc::now();
    let organization = target_organization(&caller, &mut members);
    let new = NewClient::parse_members(&members, now.date_naive());
    let (new, organization_id) = match (new, organization) {
        (Ok(new), Ok(id)) => (new, id),
        (Ok(_), Err(error)) => return Err(ApiError::validation(vec![error])),
        (Err(mut errors), organization) => {
            errors.extend(organization.err());
            return Err(ApiError::validation(errors));
        }
    };
    let idempotency = idempotency_key(&req, organization_id, &body)?;
    let client = new.into_client(Uuid::now_v7(), organization_id, now);
    let audit = caller.audit(&req);
    let response = StoredResponse {
        status: 201,
        body: serde_json::to_string(&ClientWithPerson::from(client.clone()))
            .map_err(ApiError::internal)?,
        location: Some(location(client.id)),
        etag: Some(etag::of(client.version)),
    };
    let (response, replayed) = match idempotency {
        None => {
            store.insert(&client, &audit, None).await?;
            (response, false)
        }
        Some(key) => register_once(&store, &key, &client, &audit, response, now).await?,
    };
    Ok(created(&response, replayed))
}

/// Registers under an idempotency key: runs the registration once, replays it afterwards.
async fn register_once(
    store: &Store,
    key: &IdempotencyKey,
    client: &domain::Client,
    audit: &store::Audit,
    response: StoredResponse,
    now: chrono::DateTime<Utc>,
) -> Result<(StoredResponse, bool), ApiError> {
    match store.claim_idempotency_key(key, now).await? {
        Claim::Claimed => match store.insert(client, audit, Some((key, &response))).await {
            Ok(()) => Ok((response, false)),
            Err(error) => {
                // Free the key so that a retry runs anew; if even that fails, the claim is
                // treated as abandoned after a minute.
                if let Err(release) = store.release_idempotency_key(key).await {
                    tracing::warn!(error = %release, "cannot release an idempotency key");
                }
                Err(error.into())
            }
        },
        Claim::Completed(previous) => Ok((previous, true)),
        Claim::InProgress => Err(ApiError::new(
            ErrorCode::IdempotencyRequestInProgress,
            "A request with this Idempotency-Key is still running; retry once it has completed.",
        )),
        Claim::Mismatch => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request body; use a new key for a new request.",
        )),
    }
}

/// The organization to register in: the key's own, or for an admin key the body's
/// `organization_id` (taken out of the members, so the domain never sees it). For an organization
/// key the member stays, and the domain refuses it as a server-owned field.
fn target_organization(caller: &Caller, members: &mut Members) -> Result<i32, FieldError> {
    if let Some(own) = caller.organization_id {
        return Ok(own);
    }
    let given = members
        .iter()
        .position(|(name, _)| name == "organization_id")
        .map(|i| members.remove(i).1);
    let invalid = || {
        FieldError::new(
            "organization_id",
            FieldCode::InvalidType,
            "must be a positive 32-bit integer",
        )
    };
    match given {
        Some(Json::Integer(id)) if id >= 1 => i32::try_from(id).map_err(|_| invalid()),
        None | Some(Json::Null) => Err(FieldError::new(
            "organization_id",
            FieldCode::Required,
            "is required when registering with an admin key",
        )),
        Some(_) => Err(invalid()),
    }
}

/// The request's `Idempotency-Key`, scoped to its organization, with the body's fingerprint.
fn idempotency_key(
    req: &HttpRequest,
    organization_id: i32,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    let Some(key) = key else {
        return Err(ApiError::new(
            ErrorCode::InvalidIdempotencyKey,
            "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces).",
        ));
    };
    Ok(Some(IdempotencyKey {
        organization_id,
        key: key.to_owned(),
        request_hash: canonical_hash(body),
    }))
}

/// The `201` of a registration, first time or replayed: the same bytes either way.
fn created(response: &StoredResponse, replayed: bool) -> HttpResponse {
    let mut builder =
        HttpResponse::build(StatusCode::from_u16(response.status).unwrap_or(StatusCode::CREATED));
    if let Some(location) = &response.location {
        builder.insert_header((header::LOCATION, location.as_str()));
    }
    if let Some(etag) = &response.etag {
        builder.insert_header((header::ETAG, etag.as_str()));
    }
    if replayed {
        builder.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
        .content_type("application/json")
        .body(response.body.clone())
}
