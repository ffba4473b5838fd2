//! What the hand-written statements of both backends share (see `pg_statements` and
//! `sqlite_writes`).

use crate::row::ClientRecord;
use chrono::{DateTime, Utc};
use diesel::backend::Backend;
use diesel::query_builder::AstPass;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Nullable, Text};
use diesel::QueryResult;

/// `SET address = …, version = …, updated_at = …`: every changeable column of the client's next
/// version (the update's fields and the KYC status), changed or not, so that the statement's text
/// never varies (it is prepared once per connection, and serves updates and KYC decisions alike),
/// plus its version and `updated_at`, typed `Instant` on this backend.
pub(crate) fn push_next_version<'b, DB, Instant>(
    out: &mut AstPass<'_, 'b, DB>,
    c: &'b ClientRecord<'_>,
) -> QueryResult<()>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Bool> + HasSqlType<BigInt> + HasSqlType<Instant>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
    i64: ToSql<BigInt, DB>,
    for<'x> Option<&'x str>: ToSql<Nullable<Text>, DB>,
    DateTime<Utc>: ToSql<Instant, DB>,
{
    out.push_sql("SET address = ");
    out.push_bind_param::<Text, _>(&c.address)?;
    out.push_sql(", blacklisted_comment = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.blacklisted_comment)?;
    out.push_sql(", blocked = ");
    out.push_bind_param::<Bool, _>(&c.blocked)?;
    out.push_sql(", city = ");
    out.push_bind_param::<Text, _>(&c.city)?;
    out.push_sql(", country_code = ");
    out.push_bind_param::<Text, _>(&c.country_code)?;
    out.push_sql(", email = ");
    out.push_bind_param::<Text, _>(&c.email)?;
    out.push_sql(", kyc_status = ");
    out.push_bind_param::<Text, _>(&c.kyc_status)?;
    out.push_sql(", is_blacklisted = ");
    out.push_bind_param::<Bool, _>(&c.is_blacklisted)?;
    out.push_sql(", kyc_note = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.kyc_note)?;
    out.push_sql(", mobile_phone_number = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.mobile_phone_number)?;
    out.push_sql(", planned_expenditure = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.planned_expenditure)?;
    out.push_sql(", planned_income = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.planned_income)?;
    out.push_sql(", postcode = ");
    out.push_bind_param::<Text, _>(&c.postcode)?;
    out.push_sql(", risk_level = ");
    out.push_bind_param::<Text, _>(&c.risk_level)?;
    out.push_sql(", second_email = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.second_email)?;
    out.push_sql(", second_mobile_phone_number = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.second_mobile_phone_number)?;
    out.push_sql(", state_province = ");
    out.push_bind_param::<Nullable<Text>, _>(&c.state_province)?;
    out.push_sql(", version = ");
    out.push_bind_param::<BigInt, _>(&c.version)?;
    out.push_sql(", updated_at = ");
    out.push_bind_param::<Instant, _>(&c.updated_at)?;
    Ok(())
}
