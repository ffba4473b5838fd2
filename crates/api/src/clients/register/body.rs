//! The body of a registration: its schema and its reader in one type.

use chrono::NaiveDate;
use domain::register::DateOfBirth;
use domain::values::{
    Address, City, CountryCode, Email, ExternalCode, Name, Note, Phone, PlannedAmount, Postcode,
    StateProvince,
};
use domain::{FieldCode, FieldError, Gender, KycLevel, Registration, RiskLevel};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::clients::update::UpdatePersonIn;
use crate::members::{fields_of, take, AnyField, Field, Refusals};

/// Request to register a person client. Server-owned fields (`id`, `organization_id` for
/// organization keys, `kyc_status`, `is_blacklisted`, `blacklisted_comment`, `blocked`, `created_at`, `updated_at`)
/// are refused with `read_only_field`; any other unknown member with `unknown_field`. Strings are
/// trimmed; an empty optional field means no value.
#[derive(Debug, Deserialize, ToSchema)]
// Members it does not have are refused (`read_only_field`, `unknown_field`); this says so in the
// schema.
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
    #[schema(value_type = Option<i32>, format = Int32, minimum = 1)]
    pub organization_id: AnyField,
    /// First name, at most 100 characters, not blank.
    #[schema(
        value_type = String,
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub first_name: Field<Name>,
    /// Middle name, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub middle_name: Field<Name>,
    /// Last name, at most 100 characters, not blank.
    #[schema(
        value_type = String,
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub last_name: Field<Name>,
    /// Date of birth; the person must be at least 18 on the day of registration.
    #[schema(value_type = NaiveDate)]
    pub date_of_birth: Field<NaiveDate>,
    #[schema(value_type = Gender)]
    pub gender: Field<Gender>,
    /// Nationality, ISO 3166-1 alpha-3 (any case; stored upper case).
    #[schema(value_type = String, example = "FRA", min_length = 3, max_length = 3)]
    pub nationality: Field<CountryCode>,
    /// Country of birth, ISO 3166-1 alpha-3.
    #[schema(value_type = String, example = "FRA", min_length = 3, max_length = 3)]
    pub birth_country: Field<CountryCode>,
    /// Country of tax residence, ISO 3166-1 alpha-3.
    #[schema(value_type = String, example = "FRA", min_length = 3, max_length = 3)]
    pub country_of_tax_residence: Field<CountryCode>,
    /// Primary email, at most 254 characters; unique among the organization's clients
    /// (case-insensitively), otherwise `409 email_taken`.
    #[schema(value_type = String, format = Email, max_length = 254, min_length = 1, pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")]
    pub email: Field<Email>,
    /// Secondary email, at most 254 characters.
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub second_email: Field<Email>,
    /// Mobile phone number, E.164 (`+33612345678`).
    #[schema(value_type = Option<String>, example = "+33612345678", pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub mobile_phone_number: Field<Phone>,
    /// Secondary mobile phone number, E.164.
    #[schema(value_type = Option<String>, pattern = r"^(\+[1-9][0-9]{1,14})?$")]
    pub second_mobile_phone_number: Field<Phone>,
    /// Street address, at most 255 characters, not blank.
    #[schema(
        value_type = String,
        max_length = 255,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub address: Field<Address>,
    /// City, at most 100 characters, not blank.
    #[schema(
        value_type = String,
        max_length = 100,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub city: Field<City>,
    /// Postal code, at most 20 characters, not blank.
    #[schema(
        value_type = String,
        max_length = 20,
        min_length = 1,
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub postcode: Field<Postcode>,
    /// State, province or region, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub state_province: Field<StateProvince>,
    /// Country of the address, ISO 3166-1 alpha-3.
    #[schema(value_type = String, example = "FRA", min_length = 3, max_length = 3)]
    pub country_code: Field<CountryCode>,
    /// Planned yearly income, free text, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub planned_income: Field<PlannedAmount>,
    /// Planned yearly expenditure, free text, at most 100 characters.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub planned_expenditure: Field<PlannedAmount>,
    #[schema(value_type = KycLevel)]
    pub kyc_level: Field<KycLevel>,
    /// Free-text KYC note, at most 2000 characters.
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub kyc_note: Field<Note>,
    /// The organization's own reference for the client, at most 100 characters; unique within the
    /// organization, otherwise `409 external_client_code_taken`. Cannot change later.
    #[schema(value_type = Option<String>, max_length = 100)]
    pub external_client_code: Field<ExternalCode>,
    /// Initial risk level; `Low` when absent.
    #[schema(value_type = Option<RiskLevel>)]
    pub risk_level: Field<RiskLevel>,
}

impl RegisterPersonIn {
    /// The registration, when every member is valid; otherwise `None`, with every problem in
    /// `refusals`. `today` is the day of registration, for the age rule.
    pub fn into_registration(
        self,
        today: NaiveDate,
        refusals: &mut Refusals,
    ) -> Option<Registration> {
        let (r, b) = (refusals, self);
        let first_name = take!(r.required(b.first_name));
        let middle_name = take!(r.optional(b.middle_name));
        let last_name = take!(r.required(b.last_name));
        let date_of_birth = take!(r.required(b.date_of_birth)).and_then(|born| {
            DateOfBirth::of_adult(born, today)
                .map_err(|invalid| r.push(invalid.at("date_of_birth")))
                .ok()
        });
        let gender = take!(r.required(b.gender));
        let nationality = take!(r.required(b.nationality));
        let birth_country = take!(r.required(b.birth_country));
        let country_of_tax_residence = take!(r.required(b.country_of_tax_residence));
        let email = take!(r.required(b.email));
        let second_email = take!(r.optional(b.second_email));
        let mobile_phone_number = take!(r.optional(b.mobile_phone_number));
        let second_mobile_phone_number = take!(r.optional(b.second_mobile_phone_number));
        let address = take!(r.required(b.address));
        let city = take!(r.required(b.city));
        let postcode = take!(r.required(b.postcode));
        let state_province = take!(r.optional(b.state_province));
        let country_code = take!(r.required(b.country_code));
        let planned_income = take!(r.optional(b.planned_income));
        let planned_expenditure = take!(r.optional(b.planned_expenditure));
        let kyc_level = take!(r.required(b.kyc_level));
        let kyc_note = take!(r.optional(b.kyc_note));
        let external_client_code = take!(r.optional(b.external_client_code));
        let risk_level = take!(r.optional(b.risk_level));
        if !r.is_empty() {
            return None;
        }
        Some(Registration {
            first_name: first_name?,
            middle_name,
            last_name: last_name?,
            date_of_birth: date_of_birth?,
            gender: gender?,
            nationality: nationality?,
            birth_country: birth_country?,
            country_of_tax_residence: country_of_tax_residence?,
            email: email?,
            second_email,
            mobile_phone_number,
            second_mobile_phone_number,
            address: address?,
            city: city?,
            postcode: postcode?,
            state_province,
            country_code: country_code?,
            planned_income,
            planned_expenditure,
            kyc_level: kyc_level?,
            kyc_note,
            external_client_code,
            risk_level,
        })
    }
}

/// Why a member a registration does not have is refused: a field of the client that only the
/// server sets (every member an update reads back) is `read_only_field` unless it is `null`
/// (absent), anything else `unknown_field`, whatever its value: a typo is never ignored.
pub fn stranger(name: &str, value: &serde_json::Value) -> Option<FieldError> {
    let server_owned = fields_of::<UpdatePersonIn>().contains(&name);
    if server_owned && value.is_null() {
        return None;
    }
    Some(if server_owned {
        FieldError::new(
            name,
            FieldCode::ReadOnlyField,
            "is set by the server and cannot be given on registration",
        )
    } else {
        FieldError::new(
            name,
            FieldCode::UnknownField,
            "is not a field of a person client",
        )
    })
}
