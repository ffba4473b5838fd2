//! Registration of a person client: the valid values a registration carries, and the first
//! version of the client they make.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

use crate::client::{truncate_to_micros, Client};
use crate::enums::{Gender, KycLevel, KycStatus, RiskLevel};
use crate::error::{FieldCode, Invalid};
use crate::values::{
    Address, City, CountryCode, Email, ExternalCode, Name, Note, Phone, PlannedAmount, Postcode,
    StateProvince,
};

/// The minimum age, in years, on the day of registration.
pub const MINIMUM_AGE: u32 = 18;

/// The date of birth of a person who is of age on the day of registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    /// `born`, when the person is at least [`MINIMUM_AGE`] on `today`.
    pub fn of_adult(born: NaiveDate, today: NaiveDate) -> Result<Self, Invalid> {
        if age_on(born, today) < i64::from(MINIMUM_AGE) {
            return Err(Invalid::new(
                FieldCode::Underage,
                format!("the person must be at least {MINIMUM_AGE} years old on the day of registration"),
            ));
        }
        Ok(Self(born))
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

/// A registration: every value valid, the person of age. Uniqueness of the email and the
/// external code within the organization is the store's to enforce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub first_name: Name,
    pub middle_name: Option<Name>,
    pub last_name: Name,
    pub date_of_birth: DateOfBirth,
    pub gender: Gender,
    pub nationality: CountryCode,
    pub birth_country: CountryCode,
    pub country_of_tax_residence: CountryCode,
    pub email: Email,
    pub second_email: Option<Email>,
    pub mobile_phone_number: Option<Phone>,
    pub second_mobile_phone_number: Option<Phone>,
    pub address: Address,
    pub city: City,
    pub postcode: Postcode,
    pub state_province: Option<StateProvince>,
    pub country_code: CountryCode,
    pub planned_income: Option<PlannedAmount>,
    pub planned_expenditure: Option<PlannedAmount>,
    pub kyc_level: KycLevel,
    pub kyc_note: Option<Note>,
    pub external_client_code: Option<ExternalCode>,
    /// `Low` when not given.
    pub risk_level: Option<RiskLevel>,
}

impl Registration {
    /// The first version of the client: version 1, `kyc_status` `NOT_STARTED`, both flags
    /// false, `risk_level` `Low` unless given.
    pub fn into_client(self, id: Uuid, organization_id: i32, now: DateTime<Utc>) -> Client {
        let now = truncate_to_micros(now);
        Client {
            id,
            organization_id,
            version: 1,
            created_at: now,
            updated_at: now,
            kyc_level: self.kyc_level,
            kyc_status: KycStatus::NotStarted,
            risk_level: self.risk_level.unwrap_or(RiskLevel::Low),
            is_blacklisted: false,
            blacklisted_comment: None,
            blocked: false,
            kyc_note: self.kyc_note,
            external_client_code: self.external_client_code,
            first_name: self.first_name,
            middle_name: self.middle_name,
            last_name: self.last_name,
            date_of_birth: self.date_of_birth.0,
            gender: self.gender,
            nationality: self.nationality,
            birth_country: self.birth_country,
            country_of_tax_residence: self.country_of_tax_residence,
            email: self.email,
            second_email: self.second_email,
            mobile_phone_number: self.mobile_phone_number,
            second_mobile_phone_number: self.second_mobile_phone_number,
            address: self.address,
            city: self.city,
            postcode: self.postcode,
            state_province: self.state_province,
            country_code: self.country_code,
            planned_income: self.planned_income,
            planned_expenditure: self.planned_expenditure,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::values::Value;

    pub(crate) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    pub(crate) fn valid() -> Registration {
        let country = |c: &str| CountryCode::parse(c).unwrap();
        Registration {
            first_name: Name::parse("Ada").unwrap(),
            middle_name: None,
            last_name: Name::parse("Lovelace").unwrap(),
            date_of_birth: DateOfBirth::of_adult(NaiveDate::parse("1990-04-21").unwrap(), today())
                .unwrap(),
            gender: Gender::Female,
            nationality: country("GBR"),
            birth_country: country("GBR"),
            country_of_tax_residence: country("FRA"),
            email: Email::parse("ada@example.com").unwrap(),
            second_email: None,
            mobile_phone_number: None,
            second_mobile_phone_number: None,
            address: Address::parse("1 Rue de Rivoli").unwrap(),
            city: City::parse("Paris").unwrap(),
            postcode: Postcode::parse("75001").unwrap(),
            state_province: None,
            country_code: country("FRA"),
            planned_income: None,
            planned_expenditure: None,
            kyc_level: KycLevel::FullKyc,
            kyc_note: None,
            external_client_code: None,
            risk_level: None,
        }
    }

    #[test]
    fn a_registration_starts_not_started_low_risk_unflagged_version_1() {
        let id = Uuid::now_v7();
        let client = valid().into_client(id, 7, Utc::now());
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
    fn a_given_risk_level_is_kept() {
        let input = Registration {
            risk_level: Some(RiskLevel::High),
            ..valid()
        };
        let client = input.into_client(Uuid::now_v7(), 1, Utc::now());
        assert_eq!(client.risk_level, RiskLevel::High);
    }

    #[test]
    fn countries_are_stored_upper_case() {
        let input = Registration {
            nationality: CountryCode::parse("gbr").unwrap(),
            ..valid()
        };
        let client = input.into_client(Uuid::now_v7(), 1, Utc::now());
        assert_eq!(client.nationality.as_str(), "GBR");
    }

    #[test]
    fn eighteenth_birthday_today_is_of_age_and_one_day_short_is_underage() {
        let date = |s: &str| NaiveDate::parse(s).unwrap();
        assert!(DateOfBirth::of_adult(date("2008-11-24"), today()).is_ok());
        assert_eq!(
            DateOfBirth::of_adult(date("2008-11-25"), today())
                .unwrap_err()
                .code,
            FieldCode::Underage
        );
        assert_eq!(
            DateOfBirth::of_adult(date("2030-01-01"), today())
                .unwrap_err()
                .code,
            FieldCode::Underage,
            "a date in the future"
        );
    }
}
