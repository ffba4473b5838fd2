//! The clients resource: one file per operation, and the response shape they share.

mod get;
mod history;
mod kyc_status;
mod list;
mod register;
mod relationship;
mod update;

use actix_web::http::header;
use actix_web::HttpResponse;
use chrono::{DateTime, NaiveDate, Utc};
use domain::values::{Email, ExternalCode, Name, Note, Phone, PlannedAmount, StateProvince};
use domain::{Client, Gender, KycLevel, KycStatus, RiskLevel};
use serde::Serialize;
use store::{Conflict, StoreError};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::etag;
use crate::problem::{ApiError, ErrorCode};

pub use history::{Actor, FieldChangeOut};
pub use register::RegisterPersonIn;
pub use update::UpdatePersonIn;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(register::register_person)
        .service(get::get_client)
        .service(update::update_person)
        .service(history::client_history)
        .service(history::verify_client_history)
        .service(kyc_status::change_status)
        .service(relationship::get_relationship)
        .service(relationship::close)
        .service(relationship::reopen)
        .service(list::list_clients);
}

/// ClientWithPerson - Combined view of Client + Person for API responses
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "address": "1 Rue de Rivoli", "birth_country": "GBR", "blocked": false, "city": "Paris",
    "country_code": "FRA", "country_of_tax_residence": "FRA", "created_at": "2026-11-24T10:15:30.123456Z",
    "date_of_birth": "1990-04-21", "email": "ada@example.com", "first_name": "Ada", "gender": "female",
    "id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90", "is_blacklisted": false, "kyc_level": "FULL_KYC",
    "kyc_status": "NOT_STARTED", "last_name": "Lovelace", "nationality": "GBR", "organization_id": 1,
    "postcode": "75001", "risk_level": "Low", "updated_at": "2026-11-24T10:15:30.123456Z",
    "blacklisted_comment": null, "external_client_code": "CRM-000042", "kyc_note": null, "middle_name": null,
    "mobile_phone_number": "+33612345678", "planned_expenditure": null, "planned_income": "50000-75000 EUR",
    "second_email": null, "second_mobile_phone_number": null, "state_province": null
}))]
pub struct ClientWithPerson {
    /// Street address.
    pub address: String,
    /// Country of birth, ISO 3166-1 alpha-3.
    pub birth_country: String,
    /// Whether the client is blocked.
    pub blocked: bool,
    /// City.
    pub city: String,
    /// Country of the address, ISO 3166-1 alpha-3.
    pub country_code: String,
    /// Country of tax residence, ISO 3166-1 alpha-3.
    pub country_of_tax_residence: String,
    /// When the client was registered (RFC 3339, UTC).
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub created_at: DateTime<Utc>,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Primary email address; unique among the organization's clients, case-insensitively.
    pub email: String,
    /// First name.
    pub first_name: String,
    pub gender: Gender,
    /// Client UUID (version 7: time-ordered).
    pub id: Uuid,
    /// Whether the client is blacklisted; when true, `blacklisted_comment` says why.
    pub is_blacklisted: bool,
    pub kyc_level: KycLevel,
    pub kyc_status: KycStatus,
    /// Last name.
    pub last_name: String,
    /// Nationality, ISO 3166-1 alpha-3.
    pub nationality: String,
    /// The organization the client belongs to.
    #[schema(format = Int32)]
    pub organization_id: i32,
    /// Postal code.
    pub postcode: String,
    pub risk_level: RiskLevel,
    /// When the client last really changed (RFC 3339, UTC). A no-op update leaves it as it is.
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub updated_at: DateTime<Utc>,
    /// Why the client is blacklisted.
    pub blacklisted_comment: Option<String>,
    /// The organization's own reference for the client; unique within the organization.
    pub external_client_code: Option<String>,
    /// Free-text KYC note.
    pub kyc_note: Option<String>,
    /// Middle name.
    pub middle_name: Option<String>,
    /// Mobile phone number, E.164.
    pub mobile_phone_number: Option<String>,
    /// Planned yearly expenditure, free text (e.g. a range and currency).
    pub planned_expenditure: Option<String>,
    /// Planned yearly income, free text (e.g. a range and currency).
    pub planned_income: Option<String>,
    /// Secondary email address.
    pub second_email: Option<String>,
    /// Secondary mobile phone number, E.164.
    pub second_mobile_phone_number: Option<String>,
    /// State, province or region.
    pub state_province: Option<String>,
}

impl From<Client> for ClientWithPerson {
    fn from(c: Client) -> Self {
        Self {
            address: c.address.into_inner(),
            birth_country: c.birth_country.as_str().to_owned(),
            blocked: c.blocked,
            city: c.city.into_inner(),
            country_code: c.country_code.as_str().to_owned(),
            country_of_tax_residence: c.country_of_tax_residence.as_str().to_owned(),
            created_at: c.created_at,
            date_of_birth: c.date_of_birth,
            email: c.email.into_inner(),
            first_name: c.first_name.into_inner(),
            gender: c.gender,
            id: c.id,
            is_blacklisted: c.is_blacklisted,
            kyc_level: c.kyc_level,
            kyc_status: c.kyc_status,
            last_name: c.last_name.into_inner(),
            nationality: c.nationality.as_str().to_owned(),
            organization_id: c.organization_id,
            postcode: c.postcode.into_inner(),
            risk_level: c.risk_level,
            updated_at: c.updated_at,
            blacklisted_comment: c.blacklisted_comment.map(Note::into_inner),
            external_client_code: c.external_client_code.map(ExternalCode::into_inner),
            kyc_note: c.kyc_note.map(Note::into_inner),
            middle_name: c.middle_name.map(Name::into_inner),
            mobile_phone_number: c.mobile_phone_number.map(Phone::into_inner),
            planned_expenditure: c.planned_expenditure.map(PlannedAmount::into_inner),
            planned_income: c.planned_income.map(PlannedAmount::into_inner),
            second_email: c.second_email.map(Email::into_inner),
            second_mobile_phone_number: c.second_mobile_phone_number.map(Phone::into_inner),
            state_province: c.state_province.map(StateProvince::into_inner),
        }
    }
}

/// The path of a client.
pub fn location(id: Uuid) -> String {
    format!("/api/v1/clients/{id}")
}

/// Refuses a change of a client whose relationship is closed.
fn client_closed() -> ApiError {
    ApiError::new(
        ErrorCode::ClientClosed,
        "The client's relationship is closed: its record can be read, not changed. Reopen it \
         first (POST /api/v1/clients/{id}/relationship/reopen).",
    )
}

/// A client response: the record as `ClientWithPerson`, with its `ETag`.
fn respond(mut response: actix_web::HttpResponseBuilder, client: Client) -> HttpResponse {
    response.insert_header((header::ETAG, etag::of(client.version)));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response.json(ClientWithPerson::from(client))
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(Conflict::Email) => ApiError::new(
                ErrorCode::EmailTaken,
                "Another client of your organization already uses this email (compared case-insensitively).",
            ),
            StoreError::Conflict(Conflict::ExternalClientCode) => ApiError::new(
                ErrorCode::ExternalClientCodeTaken,
                "Another client of your organization already uses this external_client_code.",
            ),
            StoreError::Unavailable(cause) => ApiError::unavailable(cause),
            StoreError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
