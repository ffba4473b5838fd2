//! `POST /api/v1/clients/person`: register a person client.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{post, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::{KycLevel, NewClient, RiskLevel};
use serde::Deserialize;
use store::Store;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{location, respond, ClientWithPerson};
use crate::body::json_members;
use crate::organization::Organization;
use crate::problem::{ApiError, Problem};

/// Request to register a person client. Server-owned fields (`id`, `organization_id`,
/// `kyc_status`, `is_blacklisted`, `blacklisted_comment`, `blocked`, `created_at`, `updated_at`)
/// are refused with `read_only_field`; any other unknown member with `unknown_field`. Strings are
/// trimmed; an empty optional field means no value.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-04-21", "gender": "female",
    "nationality": "GBR", "birth_country": "GBR", "country_of_tax_residence": "FRA",
    "email": "ada@example.com", "mobile_phone_number": "+33612345678", "address": "1 Rue de Rivoli",
    "city": "Paris", "postcode": "75001", "country_code": "FRA", "kyc_level": "FULL_KYC",
    "external_client_code": "CRM-000042", "planned_income": "50000-75000 EUR"
}))]
pub struct RegisterPersonIn {
    /// First name, at most 100 characters.
    #[schema(max_length = 100)]
    pub first_name: String,
    /// Middle name, at most 100 characters.
    #[schema(max_length = 100)]
    pub middle_name: Option<String>,
    /// Last name, at most 100 characters.
    #[schema(max_length = 100)]
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
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Secondary email, at most 254 characters.
    #[schema(format = Email, max_length = 254)]
    pub second_email: Option<String>,
    /// Mobile phone number, E.164 (`+33612345678`).
    #[schema(example = "+33612345678", pattern = r"^\+[1-9][0-9]{1,14}$")]
    pub mobile_phone_number: Option<String>,
    /// Secondary mobile phone number, E.164.
    #[schema(pattern = r"^\+[1-9][0-9]{1,14}$")]
    pub second_mobile_phone_number: Option<String>,
    /// Street address, at most 255 characters.
    #[schema(max_length = 255)]
    pub address: String,
    /// City, at most 100 characters.
    #[schema(max_length = 100)]
    pub city: String,
    /// Postal code, at most 20 characters.
    #[schema(max_length = 20)]
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
/// Creates a person client in the caller's organization. It starts with `kyc_status`
/// `NOT_STARTED`, `risk_level` `Low` unless given, and both flags false, at version 1.
///
/// Every invalid field is reported at once in a `422` problem, each with a JSON pointer. Identity
/// fields (names, date of birth, gender, nationality, birth country, tax residence, KYC level) and
/// `external_client_code` cannot change after creation.
#[utoipa::path(
    operation_id = "registerPersonClient",
    tag = "Clients",
    request_body(content = RegisterPersonIn, content_type = "application/json"),
    responses(
        (status = 201, description = "Client registered", body = ClientWithPerson,
            headers(
                ("Location" = String, description = "Path of the new client"),
                ("ETag" = String, description = "Strong entity tag of the client's version"),
            )),
        (status = 400, description = "The body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `external_client_code_taken` in the organization", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body exceeds 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, read-only or unknown fields, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients/person")]
pub async fn register_person(
    req: HttpRequest,
    body: Bytes,
    organization: Organization,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let members = json_members(&req, &body)?;
    let now = Utc::now();
    let new = NewClient::parse_members(&members, now.date_naive()).map_err(ApiError::validation)?;
    let client = new.into_client(Uuid::now_v7(), organization.0, now);
    let audit = organization.audit(&req);
    let client = web::block(move || store.insert(&client, &audit).map(|()| client)).await??;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, location(client.id)));
    Ok(respond(response, client))
}
