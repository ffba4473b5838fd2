//! The members of a request body, each read by its declared type without failing, so that one
//! pass over the body finds every problem at once.
//!
//! A request body is a struct deriving `Deserialize` and `ToSchema` whose fields are the wrappers
//! below: serde reads them, utoipa documents them (each field says its `value_type`), and
//! [`fields_of`] gives the members the struct accepts. A wrapper holds either the member's value
//! or why it was refused ([`Invalid`]); the body's own conversion attaches the member's name and
//! hands the values to the domain.

use chrono::{DateTime, NaiveDate, Utc};
use domain::update::{Echo, Patch};
use domain::values::{
    Address, City, CountryCode, Email, Note, Phone, PlannedAmount, Postcode, StateProvince,
};
use domain::{FieldCode, Gender, Invalid, KycLevel, KycStatus, RiskLevel, Value};
use serde::de::{self, Deserialize, Deserializer, Visitor};

mod names;
mod refusals;

pub use names::fields_of;
pub(crate) use refusals::take;
pub use refusals::Refusals;
use serde_json::Value as Json;
use uuid::Uuid;

/// The JSON type of a value, as error messages name it.
pub fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn wrong_type(expected: &str, got: &Json) -> Invalid {
    Invalid::new(
        FieldCode::InvalidType,
        format!("must be {expected} or null, not {}", type_name(got)),
    )
}

/// Reads a member's JSON: `None` when it is absent or `null` (serde calls `visit_none` for a
/// missing member of a type read as an option, so no field needs `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Json>, D::Error> {
    struct Present;
    impl<'de> Visitor<'de> for Present {
        type Value = Option<Json>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            Json::deserialize(d).map(|v| (!v.is_null()).then_some(v))
        }
    }
    deserializer.deserialize_option(Present)
}

/// A member whose value is text parsed into `T`: absent, `null` and blank mean no value.
#[derive(Debug)]
pub struct Field<T>(Result<Option<T>, Invalid>);

impl<'de, T: Value> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Field(match present(deserializer)? {
            None => Ok(None),
            Some(Json::String(raw)) if raw.trim().is_empty() => Ok(None),
            Some(Json::String(raw)) => T::parse(&raw).map(Some),
            Some(other) => Err(wrong_type("a string", &other)),
        }))
    }
}

/// What an update member can be patched with.
pub trait PatchValue: Sized {
    fn patch(value: Json) -> Result<Patch<Self>, Invalid>;
}

/// Free text: blank clears the field; anything else must parse.
macro_rules! clearable_text {
    ($($ty:ty),+) => {$(
        impl PatchValue for $ty {
            fn patch(value: Json) -> Result<Patch<Self>, Invalid> {
                match value {
                    Json::String(raw) if raw.trim().is_empty() => Ok(Patch::Clear),
                    Json::String(raw) => <$ty>::parse(&raw).map(Patch::Set),
                    other => Err(wrong_type("a string", &other)),
                }
            }
        }
    )+};
}

clearable_text!(
    Address,
    City,
    CountryCode,
    Email,
    Note,
    Phone,
    PlannedAmount,
    Postcode,
    StateProvince
);

impl PatchValue for RiskLevel {
    /// An enumeration has no empty value: blank is outside it.
    fn patch(value: Json) -> Result<Patch<Self>, Invalid> {
        match value {
            Json::String(raw) => RiskLevel::parse(&raw).map(Patch::Set),
            other => Err(wrong_type("a string", &other)),
        }
    }
}

impl PatchValue for bool {
    fn patch(value: Json) -> Result<Patch<Self>, Invalid> {
        match value {
            Json::Bool(flag) => Ok(Patch::Set(flag)),
            other => Err(wrong_type("a boolean", &other)),
        }
    }
}

/// A member of an update: absent and `null` keep the field ([`Patch::Keep`]).
#[derive(Debug)]
pub struct PatchField<T>(Result<Patch<T>, Invalid>);

impl<'de, T: PatchValue> Deserialize<'de> for PatchField<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(PatchField(
            present(deserializer)?.map_or(Ok(Patch::Keep), T::patch),
        ))
    }
}

/// What a read-only field sent back can be read as; `None` for a value that cannot be one.
pub trait EchoValue: Sized {
    fn echo(value: &Json) -> Option<Self>;
}

fn text(value: &Json) -> Option<&str> {
    value.as_str().map(str::trim)
}

impl EchoValue for String {
    fn echo(value: &Json) -> Option<Self> {
        text(value).map(str::to_owned)
    }
}

impl EchoValue for Uuid {
    fn echo(value: &Json) -> Option<Self> {
        Uuid::parse_str(text(value)?).ok()
    }
}

impl EchoValue for i64 {
    fn echo(value: &Json) -> Option<Self> {
        value.as_i64()
    }
}

impl EchoValue for DateTime<Utc> {
    /// Any RFC 3339 form of the instant, to the microsecond the API shows.
    fn echo(value: &Json) -> Option<Self> {
        let instant = DateTime::parse_from_rfc3339(text(value)?).ok()?;
        Some(domain::client::truncate_to_micros(instant.to_utc()))
    }
}

macro_rules! parsed_echo {
    ($($ty:ty),+) => {$(
        impl EchoValue for $ty {
            fn echo(value: &Json) -> Option<Self> {
                <$ty>::parse(text(value)?).ok()
            }
        }
    )+};
}

parsed_echo!(NaiveDate, Gender, KycLevel, KycStatus, CountryCode);

/// A read-only field sent back with an update; compared with the stored value by the domain.
#[derive(Debug)]
pub struct EchoField<T>(Option<Echo<T>>);

impl<'de, T: EchoValue> Deserialize<'de> for EchoField<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(EchoField(present(deserializer)?.map(|value| {
            T::echo(&value).map_or(Echo::Unreadable, Echo::Value)
        })))
    }
}

impl<T> EchoField<T> {
    pub fn into_inner(self) -> Option<Echo<T>> {
        self.0
    }
}

/// A member read as any JSON, for a rule that depends on who calls.
#[derive(Debug)]
pub struct AnyField(pub Option<Json>);

impl<'de> Deserialize<'de> for AnyField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        present(deserializer).map(AnyField)
    }
}

#[cfg(test)]
mod tests {
    use domain::values::Name;
    use domain::FieldError;
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: Field<Name>,
        blocked: PatchField<bool>,
        city: PatchField<City>,
        id: EchoField<Uuid>,
    }

    fn read(value: Json) -> Body {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_accepted_members_are_the_struct_fields() {
        assert_eq!(fields_of::<Body>(), ["name", "blocked", "city", "id"]);
    }

    #[test]
    fn absent_and_null_read_as_no_value_and_keep() {
        for body in [
            json!({}),
            json!({"name": null, "blocked": null, "city": null, "id": null}),
        ] {
            let body = read(body);
            assert!(matches!(body.name.0, Ok(None)));
            assert!(matches!(body.blocked.0, Ok(Patch::Keep)));
            assert!(matches!(body.city.0, Ok(Patch::Keep)));
            assert!(body.id.0.is_none());
        }
    }

    #[test]
    fn blank_text_clears_a_patch_and_is_no_value_for_a_field() {
        let body = read(json!({"name": "  ", "city": " "}));
        assert!(matches!(body.name.0, Ok(None)));
        assert!(matches!(body.city.0, Ok(Patch::Clear)));
    }

    #[test]
    fn wrong_types_are_refused_without_failing_the_body() {
        let body = read(json!({"name": 3, "blocked": "yes", "city": [1], "id": 5}));
        let code = |r: Result<(), Invalid>| r.unwrap_err().message;
        assert_eq!(
            code(body.name.0.map(drop)),
            "must be a string or null, not integer"
        );
        assert_eq!(
            code(body.blocked.0.map(drop)),
            "must be a boolean or null, not string"
        );
        assert_eq!(
            code(body.city.0.map(drop)),
            "must be a string or null, not array"
        );
        assert_eq!(body.id.0, Some(Echo::Unreadable));
    }

    #[test]
    fn member_errors_come_first_by_name_then_value_errors_in_order() {
        let mut refusals = Refusals::default();
        refusals.push(FieldError::new("zeta", FieldCode::TooLong, "x"));
        refusals.push(FieldError::new("beta", FieldCode::InvalidType, "x"));
        refusals.push(FieldError::new("alpha", FieldCode::Required, "x"));
        refusals.push(FieldError::new("alpha", FieldCode::UnknownField, "x"));
        let order: Vec<(String, FieldCode)> = refusals
            .into_vec()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            order,
            [
                ("alpha".into(), FieldCode::UnknownField),
                ("beta".into(), FieldCode::InvalidType),
                ("zeta".into(), FieldCode::TooLong),
                ("alpha".into(), FieldCode::Required),
            ]
        );
    }
}
