//! Registration of a person client: parsing the caller's input into a [`NewClient`] and turning it
//! into the first version of a [`Client`].

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

use crate::client::{truncate_to_micros, Client};
use crate::enums::{Gender, KycLevel, KycStatus, RiskLevel};
use crate::error::{Errors, FieldCode, FieldError};
use crate::update::{Json, ReadOnlyField, UpdateField};
use crate::values::{max_len, text, CountryCode, Email, Phone};

/// The caller's registration input, before validation. `None` means absent or `null`.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub gender: Option<String>,
    pub nationality: Option<String>,
    pub birth_country: Option<String>,
    pub country_of_tax_residence: Option<String>,
    pub email: Option<String>,
    pub second_email: Option<String>,
    pub mobile_phone_number: Option<String>,
    pub second_mobile_phone_number: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub state_province: Option<String>,
    pub country_code: Option<String>,
    pub planned_income: Option<String>,
    pub planned_expenditure: Option<String>,
    pub kyc_level: Option<String>,
    pub kyc_note: Option<String>,
    pub external_client_code: Option<String>,
    pub risk_level: Option<String>,
}

impl Registration {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "first_name" => &mut self.first_name,
            "middle_name" => &mut self.middle_name,
            "last_name" => &mut self.last_name,
            "date_of_birth" => &mut self.date_of_birth,
            "gender" => &mut self.gender,
            "nationality" => &mut self.nationality,
            "birth_country" => &mut self.birth_country,
            "country_of_tax_residence" => &mut self.country_of_tax_residence,
            "email" => &mut self.email,
            "second_email" => &mut self.second_email,
            "mobile_phone_number" => &mut self.mobile_phone_number,
            "second_mobile_phone_number" => &mut self.second_mobile_phone_number,
            "address" => &mut self.address,
            "city" => &mut self.city,
            "postcode" => &mut self.postcode,
            "state_province" => &mut self.state_province,
            "country_code" => &mut self.country_code,
            "planned_income" => &mut self.planned_income,
            "planned_expenditure" => &mut self.planned_expenditure,
            "kyc_level" => &mut self.kyc_level,
            "kyc_note" => &mut self.kyc_note,
            "external_client_code" => &mut self.external_client_code,
            "risk_level" => &mut self.risk_level,
            _ => return None,
        })
    }

    /// Reads a registration from the members of a request body. Server-owned fields are refused
    /// (`read_only_field`), as is any member that is not a field of a person client
    /// (`unknown_field`); `null` counts as absent.
    pub fn from_members(members: &[(String, Json)]) -> (Self, Vec<FieldError>) {
        let mut input = Registration::default();
        let mut errors = Vec::new();
        for (name, value) in members {
            if *value == Json::Null {
                continue; // absent
            }
            let error = match (input.slot(name), value) {
                (Some(slot), Json::Text(text)) => {
                    *slot = Some(text.clone());
                    continue;
                }
                (Some(_), other) => FieldError::new(
                    name.as_str(),
                    FieldCode::InvalidType,
                    format!("must be a string or null, not {}", other.type_name()),
                ),
                (None, _) if is_response_field(name) => FieldError::new(
                    name.as_str(),
                    FieldCode::ReadOnlyField,
                    "is set by the server and cannot be given on registration",
                ),
                (None, _) => FieldError::new(
                    name.as_str(),
                    FieldCode::UnknownField,
                    "is not a field of a person client",
                ),
            };
            errors.push(error);
        }
        (input, errors)
    }
}

fn is_response_field(name: &str) -> bool {
    UpdateField::from_name(name).is_some() || ReadOnlyField::from_name(name).is_some()
}

/// A valid registration: every field parsed, the person of age. Uniqueness of the email and the
/// external code within the organization is the store's to enforce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient(Client);

/// The minimum age, in years, on the day of registration.
pub const MINIMUM_AGE: u32 = 18;

fn required<T>(
    errors: &mut Errors,
    field: &str,
    raw: &Option<String>,
    parse: impl FnOnce(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(field, FieldCode::Required, "is required"));
            None
        }
        Some(value) => errors.take(parse(field, value)),
    }
}

/// An optional field: absent, `null` and blank all mean "no value".
fn optional<T>(
    errors: &mut Errors,
    field: &str,
    raw: &Option<String>,
    parse: impl FnOnce(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => errors.take(parse(field, value)),
    }
}

pub(crate) fn parse_enum<T: std::str::FromStr>(
    field: &str,
    raw: &str,
    expected: impl FnOnce() -> String,
) -> Result<T, FieldError> {
    raw.parse().map_err(|_| {
        FieldError::new(
            field,
            FieldCode::InvalidEnum,
            format!("must be one of {}", expected()),
        )
    })
}

fn bounded(max: usize) -> impl Fn(&str, &str) -> Result<String, FieldError> {
    move |field, raw| text(field, raw, max)
}

fn country(field: &str, raw: &str) -> Result<String, FieldError> {
    CountryCode::parse(field, raw).map(|c| c.as_str().to_owned())
}

fn email(field: &str, raw: &str) -> Result<String, FieldError> {
    Email::parse(field, raw).map(Email::into_inner)
}

fn phone(field: &str, raw: &str) -> Result<String, FieldError> {
    Phone::parse(field, raw).map(Phone::into_inner)
}

fn date_of_birth(today: NaiveDate) -> impl Fn(&str, &str) -> Result<NaiveDate, FieldError> {
    move |field, raw| {
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            FieldError::new(
                field,
                FieldCode::InvalidDate,
                "must be a calendar date such as 1990-04-21",
            )
        })?;
        if age_on(date, today) < i64::from(MINIMUM_AGE) {
            return Err(FieldError::new(
                field,
                FieldCode::Underage,
                format!("the person must be at least {MINIMUM_AGE} years old on the day of registration"),
            ));
        }
        Ok(date)
    }
}

/// Whole years from `born` to `on` (negative for a date in the future).
fn age_on(born: NaiveDate, on: NaiveDate) -> i64 {
    let mut years = i64::from(on.year()) - i64::from(born.year());
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years
}

impl NewClient {
    /// Parses the members of a registration request body, reporting every problem at once.
    pub fn parse_members(
        members: &[(String, Json)],
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldError>> {
        let (input, mut errors) = Registration::from_members(members);
        match Self::parse(&input, today) {
            Ok(client) if errors.is_empty() => Ok(client),
            Ok(_) => Err(errors),
            Err(more) => {
                // A member refused for its type was read as absent; do not also call it missing.
                let refused: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
                errors.extend(more.into_iter().filter(|e| !refused.contains(&e.field)));
                Err(errors)
            }
        }
    }

    /// Parses a registration, reporting every invalid field at once.
    pub fn parse(input: &Registration, today: NaiveDate) -> Result<Self, Vec<FieldError>> {
        let mut e = Errors::default();
        let first_name = required(
            &mut e,
            "first_name",
            &input.first_name,
            bounded(max_len::NAME),
        );
        let middle_name = optional(
            &mut e,
            "middle_name",
            &input.middle_name,
            bounded(max_len::NAME),
        );
        let last_name = required(
            &mut e,
            "last_name",
            &input.last_name,
            bounded(max_len::NAME),
        );
        let date_of_birth = required(
            &mut e,
            "date_of_birth",
            &input.date_of_birth,
            date_of_birth(today),
        );
        let gender = required(&mut e, "gender", &input.gender, |f, v| {
            parse_enum::<Gender>(f, v, Gender::expected)
        });
        let nationality = required(&mut e, "nationality", &input.nationality, country);
        let birth_country = required(&mut e, "birth_country", &input.birth_country, country);
        let tax_residence = required(
            &mut e,
            "country_of_tax_residence",
            &input.country_of_tax_residence,
            country,
        );
        let email_ = required(&mut e, "email", &input.email, email);
        let second_email = optional(&mut e, "second_email", &input.second_email, email);
        let mobile = optional(
            &mut e,
            "mobile_phone_number",
            &input.mobile_phone_number,
            phone,
        );
        let second_mobile = optional(
            &mut e,
            "second_mobile_phone_number",
            &input.second_mobile_phone_number,
            phone,
        );
        let address = required(&mut e, "address", &input.address, bounded(max_len::ADDRESS));
        let city = required(&mut e, "city", &input.city, bounded(max_len::CITY));
        let postcode = required(
            &mut e,
            "postcode",
            &input.postcode,
            bounded(max_len::POSTCODE),
        );
        let state_province = optional(
            &mut e,
            "state_province",
            &input.state_province,
            bounded(max_len::STATE_PROVINCE),
        );
        let country_code = required(&mut e, "country_code", &input.country_code, country);
        let planned_income = optional(
            &mut e,
            "planned_income",
            &input.planned_income,
            bounded(max_len::PLANNED_AMOUNT),
        );
        let planned_expenditure = optional(
            &mut e,
            "planned_expenditure",
            &input.planned_expenditure,
            bounded(max_len::PLANNED_AMOUNT),
        );
        let kyc_level = required(&mut e, "kyc_level", &input.kyc_level, |f, v| {
            parse_enum::<KycLevel>(f, v, KycLevel::expected)
        });
        let kyc_note = optional(&mut e, "kyc_note", &input.kyc_note, bounded(max_len::NOTE));
        let external_client_code = optional(
            &mut e,
            "external_client_code",
            &input.external_client_code,
            bounded(max_len::EXTERNAL_CODE),
        );
        let risk_level = optional(&mut e, "risk_level", &input.risk_level, |f, v| {
            parse_enum::<RiskLevel>(f, v, RiskLevel::expected)
        });

        let errors = e.into_vec();
        // A missing required field recorded an error, so this only fails when there are errors.
        let (
            Some(first_name),
            Some(last_name),
            Some(date_of_birth),
            Some(gender),
            Some(nationality),
            Some(birth_country),
            Some(country_of_tax_residence),
            Some(email),
            Some(address),
            Some(city),
            Some(postcode),
            Some(country_code),
            Some(kyc_level),
        ) = (
            first_name,
            last_name,
            date_of_birth,
            gender,
            nationality,
            birth_country,
            tax_residence,
            email_,
            address,
            city,
            postcode,
            country_code,
            kyc_level,
        )
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewClient(Client {
            // Set by `into_client`.
            id: Uuid::nil(),
            organization_id: 0,
            version: 1,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            kyc_level,
            kyc_status: KycStatus::NotStarted,
            risk_level: risk_level.unwrap_or(RiskLevel::Low),
            is_blacklisted: false,
            blacklisted_comment: None,
            blocked: false,
            kyc_note,
            external_client_code,
            first_name,
            middle_name,
            last_name,
            date_of_birth,
            gender,
            nationality,
            birth_country,
            country_of_tax_residence,
            email,
            second_email,
            mobile_phone_number: mobile,
            second_mobile_phone_number: second_mobile,
            address,
            city,
            postcode,
            state_province,
            country_code,
            planned_income,
            planned_expenditure,
        }))
    }

    /// The first version of the client: server-owned fields set, `kyc_status` `NOT_STARTED`,
    /// flags false, `risk_level` `Low` unless given.
    pub fn into_client(self, id: Uuid, organization_id: i32, now: DateTime<Utc>) -> Client {
        let now = truncate_to_micros(now);
        Client {
            id,
            organization_id,
            version: 1,
            created_at: now,
            updated_at: now,
            ..self.0
        }
    }

    pub fn email(&self) -> &str {
        &self.0.email
    }

    pub fn external_client_code(&self) -> Option<&str> {
        self.0.external_client_code.as_deref()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    pub(crate) fn valid() -> Registration {
        let s = |v: &str| Some(v.to_owned());
        Registration {
            first_name: s("Ada"),
            last_name: s("Lovelace"),
            date_of_birth: s("1990-04-21"),
            gender: s("female"),
            nationality: s("GBR"),
            birth_country: s("GBR"),
            country_of_tax_residence: s("FRA"),
            email: s("ada@example.com"),
            address: s("1 Rue de Rivoli"),
            city: s("Paris"),
            postcode: s("75001"),
            country_code: s("FRA"),
            kyc_level: s("FULL_KYC"),
            ..Registration::default()
        }
    }

    fn codes(input: &Registration) -> Vec<(String, FieldCode)> {
        NewClient::parse(input, today())
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn valid_registration_starts_not_started_low_risk_unflagged_version_1() {
        let id = Uuid::now_v7();
        let client = NewClient::parse(&valid(), today())
            .unwrap()
            .into_client(id, 7, Utc::now());
        assert_eq!(client.kyc_status, KycStatus::NotStarted);
        assert_eq!(client.risk_level, RiskLevel::Low);
        assert!(!client.is_blacklisted && !client.blocked);
        assert_eq!(
            (client.id, client.organization_id, client.version),
            (id, 7, 1)
        );
        assert_eq!(client.created_at, client.updated_at);
    }

    #[test]
    fn given_risk_level_is_kept() {
        let input = Registration {
            risk_level: Some("High".into()),
            ..valid()
        };
        let client = NewClient::parse(&input, today()).unwrap();
        assert_eq!(client.0.risk_level, RiskLevel::High);
    }

    #[test]
    fn every_missing_required_field_is_reported_at_once() {
        let found = codes(&Registration::default());
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "first_name",
                "last_name",
                "date_of_birth",
                "gender",
                "nationality",
                "birth_country",
                "country_of_tax_residence",
                "email",
                "address",
                "city",
                "postcode",
                "country_code",
                "kyc_level"
            ]
        );
        assert!(found.iter().all(|(_, c)| *c == FieldCode::Required));
    }

    #[test]
    fn server_owned_and_unknown_members_are_refused_with_type_errors_all_at_once() {
        let members = vec![
            ("first_name".to_owned(), Json::Text("Ada".into())),
            ("kyc_status".to_owned(), Json::Text("VALIDATED".into())),
            ("blocked".to_owned(), Json::Bool(true)),
            ("id".to_owned(), Json::Null),
            ("last_name".to_owned(), Json::Integer(3)),
            ("nickname".to_owned(), Json::Text("Ada".into())),
        ];
        let found: Vec<(String, FieldCode)> = NewClient::parse_members(&members, today())
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            found[..4].to_vec(),
            [
                ("kyc_status".to_owned(), FieldCode::ReadOnlyField),
                ("blocked".to_owned(), FieldCode::ReadOnlyField),
                ("last_name".to_owned(), FieldCode::InvalidType),
                ("nickname".to_owned(), FieldCode::UnknownField),
            ]
        );
        assert!(
            found[4..].iter().all(|(_, c)| *c == FieldCode::Required),
            "{found:?}"
        );
    }

    #[test]
    fn countries_are_upper_cased() {
        let input = Registration {
            nationality: Some("gbr".into()),
            ..valid()
        };
        assert_eq!(
            NewClient::parse(&input, today()).unwrap().0.nationality,
            "GBR"
        );
    }

    #[test]
    fn blank_optional_fields_are_no_value() {
        let input = Registration {
            middle_name: Some("  ".into()),
            kyc_note: Some(String::new()),
            ..valid()
        };
        let client = NewClient::parse(&input, today()).unwrap();
        assert_eq!((client.0.middle_name, client.0.kyc_note), (None, None));
    }

    #[test]
    fn eighteenth_birthday_today_is_accepted_and_one_day_short_is_underage() {
        let input = Registration {
            date_of_birth: Some("2008-11-24".into()),
            ..valid()
        };
        assert!(NewClient::parse(&input, today()).is_ok());
        let input = Registration {
            date_of_birth: Some("2008-11-25".into()),
            ..valid()
        };
        assert_eq!(
            codes(&input),
            [("date_of_birth".into(), FieldCode::Underage)]
        );
    }

    #[test]
    fn invalid_formats_are_all_reported_with_their_codes() {
        let s = |v: &str| Some(v.to_owned());
        let input = Registration {
            date_of_birth: s("21/04/1990"),
            gender: s("other"),
            nationality: s("XX"),
            email: s("not-an-email"),
            mobile_phone_number: s("0612345678"),
            kyc_level: s("full"),
            postcode: s(&"9".repeat(21)),
            ..valid()
        };
        assert_eq!(
            codes(&input),
            [
                ("date_of_birth".into(), FieldCode::InvalidDate),
                ("gender".into(), FieldCode::InvalidEnum),
                ("nationality".into(), FieldCode::InvalidCountry),
                ("email".into(), FieldCode::InvalidEmail),
                ("mobile_phone_number".into(), FieldCode::InvalidPhone),
                ("postcode".into(), FieldCode::TooLong),
                ("kyc_level".into(), FieldCode::InvalidEnum),
            ]
        );
    }
}
