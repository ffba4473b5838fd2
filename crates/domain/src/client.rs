//! The `Client` aggregate: the Client part (organization, KYC, risk, flags) and the Person part
//! (identity, contacts, address, planned amounts) of one person client, as stored.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::enums::{Gender, KycLevel, KycStatus, RiskLevel};

/// A stored person client. Values in here have been validated on the way in; loading a record
/// does not validate it again.
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
    pub blacklisted_comment: Option<String>,
    pub blocked: bool,
    pub kyc_note: Option<String>,
    pub external_client_code: Option<String>,

    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub date_of_birth: NaiveDate,
    pub gender: Gender,
    pub nationality: String,
    pub birth_country: String,
    pub country_of_tax_residence: String,

    pub email: String,
    pub second_email: Option<String>,
    pub mobile_phone_number: Option<String>,
    pub second_mobile_phone_number: Option<String>,

    pub address: String,
    pub city: String,
    pub postcode: String,
    pub state_province: Option<String>,
    pub country_code: String,

    pub planned_income: Option<String>,
    pub planned_expenditure: Option<String>,
}

/// Timestamps are kept to the microsecond, the precision both databases store, so that a value
/// read back equals the value written.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(at)
}
