//! The body of an update: its schema and its reader in one type.

use chrono::{DateTime, NaiveDate, Utc};
use domain::values::{
    Address, City, CountryCode, Email, Note, Phone, PlannedAmount, Postcode, StateProvince,
};
use domain::{Echoes, FieldCode, FieldError, Gender, KycLevel, KycStatus, RiskLevel, UpdatePatch};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::members::{take, EchoField, PatchField, Refusals};

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
// Members it does not have are refused (`unknown_field`); this says so in the schema.
#[serde(deny_unknown_fields)]
#[schema(example = json!({"city": "Lyon", "postcode": "69001", "address": "2 Place Bellecour", "kyc_note": ""}))]
pub struct UpdatePersonIn {
    /// Street address, at most 255 characters. Cannot be cleared.
    #[schema(
        value_type = Option<String>,
        max_length = 255,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub address: PatchField<Address>,
    /// Why the client is blacklisted, at most 2000 characters. Required while `is_blacklisted`
    /// is true.
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub blacklisted_comment: PatchField<Note>,
    /// Block or unblock the client.
    #[schema(value_type = Option<bool>)]
    pub blocked: PatchField<bool>,
    /// City, at most 100 characters. Cannot be cleared.
    #[schema(
        value_type = Option<String>,
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub city: PatchField<City>,
    /// Country of the address, ISO 3166-1 alpha-3, any case. Cannot be cleared.
    #[schema(value_type = Option<String>, example = "FRA", min_length = 3, max_length = 3)]
    pub country_code: PatchField<CountryCode>,
    /// Primary email, at most 254 characters. Cannot be cleared. Using another client's email
    /// (case-insensitively) is `409 email_taken`.
    #[schema(value_type = Option<String>, format = Email, max_length = 254, min_length = 1, pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    pub email: PatchField<Email>,
    /// Blacklist or clear the client; `true` needs a `blacklisted_comment`, in this body or
    /// already stored.
    #[schema(value_type = Option<bool>)]
    pub is_blacklisted: PatchField<bool>,
    /// Free-text KYC note, at most 2000 characters.
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub kyc_note: PatchField<Note>,
    /// Mobile phone number, E.164 (`+33612345678`); empty clears it.
    #[schema(value_type = Option<String>, example = "+33612345678", pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub mobile_phone_number: PatchField<Phone>,
    /// Planned yearly expenditure, free text, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub planned_expenditure: PatchField<PlannedAmount>,
    /// Planned yearly income, free text, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub planned_income: PatchField<PlannedAmount>,
    /// Postal code, at most 20 characters. Cannot be cleared.
    #[schema(
        value_type = Option<String>,
        max_length = 20,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub postcode: PatchField<Postcode>,
    #[schema(value_type = Option<RiskLevel>)]
    pub risk_level: PatchField<RiskLevel>,
    /// Secondary email, at most 254 characters.
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub second_email: PatchField<Email>,
    /// Secondary mobile phone number, E.164; empty clears it.
    #[schema(value_type = Option<String>, pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub second_mobile_phone_number: PatchField<Phone>,
    /// State, province or region, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub state_province: PatchField<StateProvince>,
    // The fields of `ClientWithPerson` an update cannot change, read when sent back. Not in the
    // schema: a client sends them only because it sends back what it read.
    #[schema(ignore)]
    pub birth_country: EchoField<CountryCode>,
    #[schema(ignore)]
    pub country_of_tax_residence: EchoField<CountryCode>,
    #[schema(ignore)]
    pub created_at: EchoField<DateTime<Utc>>,
    #[schema(ignore)]
    pub date_of_birth: EchoField<NaiveDate>,
    #[schema(ignore)]
    pub external_client_code: EchoField<String>,
    #[schema(ignore)]
    pub first_name: EchoField<String>,
    #[schema(ignore)]
    pub gender: EchoField<Gender>,
    #[schema(ignore)]
    pub id: EchoField<Uuid>,
    #[schema(ignore)]
    pub kyc_level: EchoField<KycLevel>,
    #[schema(ignore)]
    pub kyc_status: EchoField<KycStatus>,
    #[schema(ignore)]
    pub last_name: EchoField<String>,
    #[schema(ignore)]
    pub middle_name: EchoField<String>,
    #[schema(ignore)]
    pub nationality: EchoField<CountryCode>,
    #[schema(ignore)]
    pub organization_id: EchoField<i64>,
    #[schema(ignore)]
    pub updated_at: EchoField<DateTime<Utc>>,
}

impl UpdatePersonIn {
    /// The patch of this body. A member refused for its value is in `refusals` and keeps its
    /// field, so that the domain's rules still run on the rest.
    pub fn into_patch(self, refusals: &mut Refusals) -> UpdatePatch {
        let (r, b) = (refusals, self);
        UpdatePatch {
            address: take!(r.patch(b.address)),
            blacklisted_comment: take!(r.patch(b.blacklisted_comment)),
            blocked: take!(r.patch(b.blocked)),
            city: take!(r.patch(b.city)),
            country_code: take!(r.patch(b.country_code)),
            email: take!(r.patch(b.email)),
            is_blacklisted: take!(r.patch(b.is_blacklisted)),
            kyc_note: take!(r.patch(b.kyc_note)),
            mobile_phone_number: take!(r.patch(b.mobile_phone_number)),
            planned_expenditure: take!(r.patch(b.planned_expenditure)),
            planned_income: take!(r.patch(b.planned_income)),
            postcode: take!(r.patch(b.postcode)),
            risk_level: take!(r.patch(b.risk_level)),
            second_email: take!(r.patch(b.second_email)),
            second_mobile_phone_number: take!(r.patch(b.second_mobile_phone_number)),
            state_province: take!(r.patch(b.state_province)),
            echoes: Echoes {
                id: b.id.into_inner(),
                organization_id: b.organization_id.into_inner(),
                created_at: b.created_at.into_inner(),
                updated_at: b.updated_at.into_inner(),
                first_name: b.first_name.into_inner(),
                middle_name: b.middle_name.into_inner(),
                last_name: b.last_name.into_inner(),
                date_of_birth: b.date_of_birth.into_inner(),
                gender: b.gender.into_inner(),
                nationality: b.nationality.into_inner(),
                birth_country: b.birth_country.into_inner(),
                country_of_tax_residence: b.country_of_tax_residence.into_inner(),
                kyc_level: b.kyc_level.into_inner(),
                kyc_status: b.kyc_status.into_inner(),
                external_client_code: b.external_client_code.into_inner(),
            },
        }
    }
}

/// Why a member an update does not have is refused, whatever its value (`null` included): a
/// typo is never ignored.
pub fn stranger(name: &str, _: &serde_json::Value) -> Option<FieldError> {
    Some(FieldError::new(
        name,
        FieldCode::UnknownField,
        "is not a field of a person client",
    ))
}
