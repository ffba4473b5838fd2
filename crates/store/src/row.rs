//! How a client is read from a row. Wire types live in the api crate; this is the database's
//! shape only.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types;
use diesel::sqlite::{Sqlite, SqliteValue};
use diesel::Queryable;
use domain::Client;
use uuid::Uuid;

use crate::StoreError;

/// A UUID column: native `uuid` on PostgreSQL, hyphenated lower-case text on SQLite (readable in
/// the sqlite3 shell, and it sorts like the UUID's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql_types::Uuid)]
#[diesel(sql_type = sql_types::Text)]
pub struct DbUuid(pub Uuid);

impl ToSql<sql_types::Uuid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Uuid as ToSql<sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql_types::Uuid, Pg> for DbUuid {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        <Uuid as FromSql<sql_types::Uuid, Pg>>::from_sql(bytes).map(DbUuid)
    }
}

impl ToSql<sql_types::Text, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql_types::Text, Sqlite> for DbUuid {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<sql_types::Text, Sqlite>>::from_sql(value)?;
        Ok(DbUuid(Uuid::parse_str(&text)?))
    }
}

/// A `clients` row, columns in table order.
#[derive(Debug, Queryable)]
pub struct ClientRow {
    pub id: DbUuid,
    pub organization_id: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub kyc_level: String,
    pub kyc_status: String,
    pub risk_level: String,
    pub is_blacklisted: bool,
    pub blacklisted_comment: Option<String>,
    pub blocked: bool,
    pub kyc_note: Option<String>,
    pub external_client_code: Option<String>,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub date_of_birth: NaiveDate,
    pub gender: String,
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

fn parse_enum<T: std::str::FromStr>(column: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| {
        StoreError::Internal(format!("clients.{column} holds an unknown value {value:?}"))
    })
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            id: row.id.0,
            organization_id: row.organization_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            kyc_level: parse_enum("kyc_level", &row.kyc_level)?,
            kyc_status: parse_enum("kyc_status", &row.kyc_status)?,
            risk_level: parse_enum("risk_level", &row.risk_level)?,
            is_blacklisted: row.is_blacklisted,
            blacklisted_comment: row.blacklisted_comment,
            blocked: row.blocked,
            kyc_note: row.kyc_note,
            external_client_code: row.external_client_code,
            first_name: row.first_name,
            middle_name: row.middle_name,
            last_name: row.last_name,
            date_of_birth: row.date_of_birth,
            gender: parse_enum("gender", &row.gender)?,
            nationality: row.nationality,
            birth_country: row.birth_country,
            country_of_tax_residence: row.country_of_tax_residence,
            email: row.email,
            second_email: row.second_email,
            mobile_phone_number: row.mobile_phone_number,
            second_mobile_phone_number: row.second_mobile_phone_number,
            address: row.address,
            city: row.city,
            postcode: row.postcode,
            state_province: row.state_province,
            country_code: row.country_code,
            planned_income: row.planned_income,
            planned_expenditure: row.planned_expenditure,
        })
    }
}
