//! How a client is read from a row. Wire types live in the api crate; this is the database's
//! shape only.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types;
use diesel::sqlite::{Sqlite, SqliteValue};
use diesel::{Insertable, Queryable};
use domain::values::{
    as_str, Address, City, CountryCode, Email, ExternalCode, Name, Note, Phone, PlannedAmount,
    Postcode, StateProvince, Text,
};
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

fn country(column: &str, value: &str) -> Result<CountryCode, StoreError> {
    CountryCode::from_store(value).ok_or_else(|| {
        StoreError::Internal(format!(
            "clients.{column} holds an unknown country {value:?}"
        ))
    })
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    /// The stored values were parsed when they were written; only the enumerations and the
    /// countries, which the domain holds as closed sets, are looked up.
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
            blacklisted_comment: row.blacklisted_comment.map(Note::from_store),
            blocked: row.blocked,
            kyc_note: row.kyc_note.map(Note::from_store),
            external_client_code: row.external_client_code.map(ExternalCode::from_store),
            first_name: Name::from_store(row.first_name),
            middle_name: row.middle_name.map(Name::from_store),
            last_name: Name::from_store(row.last_name),
            date_of_birth: row.date_of_birth,
            gender: parse_enum("gender", &row.gender)?,
            nationality: country("nationality", &row.nationality)?,
            birth_country: country("birth_country", &row.birth_country)?,
            country_of_tax_residence: country(
                "country_of_tax_residence",
                &row.country_of_tax_residence,
            )?,
            email: Email::from_store(row.email),
            second_email: row.second_email.map(Email::from_store),
            mobile_phone_number: row.mobile_phone_number.map(Phone::from_store),
            second_mobile_phone_number: row.second_mobile_phone_number.map(Phone::from_store),
            address: Address::from_store(row.address),
            city: City::from_store(row.city),
            postcode: Postcode::from_store(row.postcode),
            state_province: row.state_province.map(StateProvince::from_store),
            country_code: country("country_code", &row.country_code)?,
            planned_income: row.planned_income.map(PlannedAmount::from_store),
            planned_expenditure: row.planned_expenditure.map(PlannedAmount::from_store),
        })
    }
}

/// A client as the `clients` table holds it, borrowed from the domain's: what every write binds,
/// and on SQLite the row a registration inserts.
#[derive(Debug, Insertable)]
#[diesel(table_name = crate::schema::sqlite::clients)]
pub struct ClientRecord<'a> {
    pub id: DbUuid,
    pub organization_id: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub kyc_level: &'a str,
    pub kyc_status: &'a str,
    pub risk_level: &'a str,
    pub is_blacklisted: bool,
    pub blacklisted_comment: Option<&'a str>,
    pub blocked: bool,
    pub kyc_note: Option<&'a str>,
    pub external_client_code: Option<&'a str>,
    pub first_name: &'a str,
    pub middle_name: Option<&'a str>,
    pub last_name: &'a str,
    pub date_of_birth: NaiveDate,
    pub gender: &'a str,
    pub nationality: &'a str,
    pub birth_country: &'a str,
    pub country_of_tax_residence: &'a str,
    pub email: &'a str,
    pub second_email: Option<&'a str>,
    pub mobile_phone_number: Option<&'a str>,
    pub second_mobile_phone_number: Option<&'a str>,
    pub address: &'a str,
    pub city: &'a str,
    pub postcode: &'a str,
    pub state_province: Option<&'a str>,
    pub country_code: &'a str,
    pub planned_income: Option<&'a str>,
    pub planned_expenditure: Option<&'a str>,
}

impl<'a> From<&'a Client> for ClientRecord<'a> {
    fn from(c: &'a Client) -> Self {
        ClientRecord {
            id: DbUuid(c.id),
            organization_id: c.organization_id,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
            kyc_level: c.kyc_level.as_str(),
            kyc_status: c.kyc_status.as_str(),
            risk_level: c.risk_level.as_str(),
            is_blacklisted: c.is_blacklisted,
            blacklisted_comment: as_str(&c.blacklisted_comment),
            blocked: c.blocked,
            kyc_note: as_str(&c.kyc_note),
            external_client_code: as_str(&c.external_client_code),
            first_name: c.first_name.as_str(),
            middle_name: as_str(&c.middle_name),
            last_name: c.last_name.as_str(),
            date_of_birth: c.date_of_birth,
            gender: c.gender.as_str(),
            nationality: c.nationality.as_str(),
            birth_country: c.birth_country.as_str(),
            country_of_tax_residence: c.country_of_tax_residence.as_str(),
            email: c.email.as_str(),
            second_email: as_str(&c.second_email),
            mobile_phone_number: as_str(&c.mobile_phone_number),
            second_mobile_phone_number: as_str(&c.second_mobile_phone_number),
            address: c.address.as_str(),
            city: c.city.as_str(),
            postcode: c.postcode.as_str(),
            state_province: as_str(&c.state_province),
            country_code: c.country_code.as_str(),
            planned_income: as_str(&c.planned_income),
            planned_expenditure: as_str(&c.planned_expenditure),
        }
    }
}
