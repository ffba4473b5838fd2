//! The `Client` aggregate: the Client part (organization, KYC, risk, flags) and the Person part
//! (identity, contacts, address, planned amounts) of one person client, as stored.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::enums::{Gender, KycLevel, KycStatus, RiskLevel};
use crate::values::{
    Address, City, CountryCode, Email, ExternalCode, Name, Note, Phone, PlannedAmount, Postcode,
    StateProvince,
};

/// A person client, as stored: every value of a type that can only hold a valid one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: Uuid,
    pub organization_id: i32,
    /// Starts at 1 on registration and grows by one with every real change. The API shows it as
    /// the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,

    pub kyc_level: KycLevel,
    pub kyc_status: KycStatus,
    pub risk_level: RiskLevel,
    pub is_blacklisted: bool,
    pub blacklisted_comment: Option<Note>,
    pub blocked: bool,
    pub kyc_note: Option<Note>,
    pub external_client_code: Option<ExternalCode>,

    pub first_name: Name,
    pub middle_name: Option<Name>,
    pub last_name: Name,
    pub date_of_birth: NaiveDate,
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
}

/// Timestamps are kept to the microsecond, the precision both databases store, so that a value
/// read back equals the value written.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(at)
}
