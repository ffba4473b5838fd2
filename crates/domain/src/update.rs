//! The update rules of `PUT /api/v1/clients/person/{id}`, as one pure function: [`plan`] takes the
//! stored client and the request's members and returns either the list of field changes (with
//! the next version of the client) or every reason the request is refused.
//!
//! - Absent or `null` keeps a field ([`Patch::Keep`]); generated clients send `null` for fields
//!   the caller did not set, so `null` never erases data.
//! - An empty (or blank) string clears an optional field ([`Patch::Clear`]) and is an error for a
//!   required one.
//! - Response-only fields may be echoed back (GET, edit, PUT) when they equal the stored value.
//! - A member that is in neither shape is an `unknown_field` error: a typo is never ignored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::client::{truncate_to_micros, Client};
use crate::enums::RiskLevel;
use crate::error::{Errors, FieldCode, FieldError};
use crate::register::parse_enum;
use crate::values::{max_len, text, CountryCode, Email, Phone};

/// What an update does to one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    /// Absent or `null`: the stored value stays.
    Keep,
    /// Empty string: an optional field becomes `null`.
    Clear,
    /// A new value.
    Set(T),
}

/// A JSON value as the request carried it, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Integer(i64),
    Text(String),
    /// Any other JSON value; holds its JSON type name (`number`, `array`, `object`).
    Other(&'static str),
}

impl Json {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Integer(_) => "integer",
            Json::Text(_) => "string",
            Json::Other(name) => name,
        }
    }
}

/// The members of an update request body, in the order they came.
#[derive(Debug, Clone, Default)]
pub struct UpdateInput {
    pub members: Vec<(String, Json)>,
}

macro_rules! field_names {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

field_names!(
    /// The 16 fields an update may carry.
    UpdateField {
        Address = "address",
        BlacklistedComment = "blacklisted_comment",
        Blocked = "blocked",
        City = "city",
        CountryCode = "country_code",
        Email = "email",
        IsBlacklisted = "is_blacklisted",
        KycNote = "kyc_note",
        MobilePhoneNumber = "mobile_phone_number",
        PlannedExpenditure = "planned_expenditure",
        PlannedIncome = "planned_income",
        Postcode = "postcode",
        RiskLevel = "risk_level",
        SecondEmail = "second_email",
        SecondMobilePhoneNumber = "second_mobile_phone_number",
        StateProvince = "state_province",
    }
);

field_names!(
    /// Fields of the response that an update cannot change: identity, server-owned, or set once
    /// at registration. They may be sent back unchanged.
    ReadOnlyField {
        Id = "id",
        OrganizationId = "organization_id",
        CreatedAt = "created_at",
        UpdatedAt = "updated_at",
        FirstName = "first_name",
        MiddleName = "middle_name",
        LastName = "last_name",
        DateOfBirth = "date_of_birth",
        Gender = "gender",
        Nationality = "nationality",
        BirthCountry = "birth_country",
        CountryOfTaxResidence = "country_of_tax_residence",
        KycLevel = "kyc_level",
        KycStatus = "kyc_status",
        ExternalClientCode = "external_client_code",
    }
);

/// A field's value before or after a change, as it appears in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Null,
    Bool(bool),
    Integer(i64),
    Text(String),
}

impl From<Option<&str>> for FieldValue {
    fn from(value: Option<&str>) -> Self {
        value.map_or(FieldValue::Null, |v| FieldValue::Text(v.to_owned()))
    }
}

/// One field that an update really changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: UpdateField,
    pub old: FieldValue,
    pub new: FieldValue,
}

/// The outcome of a valid update: the client as it will be stored, and what changed. With no
/// change, `client` is the stored client untouched (same version, same `updated_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    pub client: Client,
    pub changes: Vec<FieldChange>,
}

impl UpdatePlan {
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether the update really changes `field`.
    pub fn changed(&self, field: UpdateField) -> bool {
        self.changes.iter().any(|c| c.field == field)
    }
}

/// The value of an update field on a client.
pub fn value_of(client: &Client, field: UpdateField) -> FieldValue {
    use UpdateField as F;
    let text = |s: &str| FieldValue::Text(s.to_owned());
    match field {
        F::Address => text(&client.address),
        F::City => text(&client.city),
        F::Postcode => text(&client.postcode),
        F::CountryCode => text(&client.country_code),
        F::Email => text(&client.email),
        F::Blocked => FieldValue::Bool(client.blocked),
        F::IsBlacklisted => FieldValue::Bool(client.is_blacklisted),
        F::RiskLevel => text(client.risk_level.as_str()),
        F::BlacklistedComment => client.blacklisted_comment.as_deref().into(),
        F::KycNote => client.kyc_note.as_deref().into(),
        F::MobilePhoneNumber => client.mobile_phone_number.as_deref().into(),
        F::SecondMobilePhoneNumber => client.second_mobile_phone_number.as_deref().into(),
        F::SecondEmail => client.second_email.as_deref().into(),
        F::StateProvince => client.state_province.as_deref().into(),
        F::PlannedIncome => client.planned_income.as_deref().into(),
        F::PlannedExpenditure => client.planned_expenditure.as_deref().into(),
    }
}

/// Where a text field lives on the client, and how its values parse.
enum TextSlot<'a> {
    Required(&'a mut String),
    Optional(&'a mut Option<String>),
}

type Parser = fn(&str, &str) -> Result<String, FieldError>;

fn text_slot(client: &mut Client, field: UpdateField) -> Option<(TextSlot<'_>, Parser)> {
    use TextSlot::{Optional, Required};
    use UpdateField as F;
    Some(match field {
        F::Address => (Required(&mut client.address), |f, v| {
            text(f, v, max_len::ADDRESS)
        }),
        F::City => (Required(&mut client.city), |f, v| text(f, v, max_len::CITY)),
        F::Postcode => (Required(&mut client.postcode), |f, v| {
            text(f, v, max_len::POSTCODE)
        }),
        F::CountryCode => (Required(&mut client.country_code), |f, v| {
            CountryCode::parse(f, v).map(|c| c.as_str().to_owned())
        }),
        F::Email => (Required(&mut client.email), |f, v| {
            Email::parse(f, v).map(Email::into_inner)
        }),
        F::SecondEmail => (Optional(&mut client.second_email), |f, v| {
            Email::parse(f, v).map(Email::into_inner)
        }),
        F::MobilePhoneNumber => (Optional(&mut client.mobile_phone_number), |f, v| {
            Phone::parse(f, v).map(Phone::into_inner)
        }),
        F::SecondMobilePhoneNumber => (Optional(&mut client.second_mobile_phone_number), |f, v| {
            Phone::parse(f, v).map(Phone::into_inner)
        }),
        F::StateProvince => (Optional(&mut client.state_province), |f, v| {
            text(f, v, max_len::STATE_PROVINCE)
        }),
        F::KycNote => (Optional(&mut client.kyc_note), |f, v| {
            text(f, v, max_len::NOTE)
        }),
        F::BlacklistedComment => (Optional(&mut client.blacklisted_comment), |f, v| {
            text(f, v, max_len::NOTE)
        }),
        F::PlannedIncome => (Optional(&mut client.planned_income), |f, v| {
            text(f, v, max_len::PLANNED_AMOUNT)
        }),
        F::PlannedExpenditure => (Optional(&mut client.planned_expenditure), |f, v| {
            text(f, v, max_len::PLANNED_AMOUNT)
        }),
        F::Blocked | F::IsBlacklisted | F::RiskLevel => return None,
    })
}

/// Reads a text member as a patch: blank clears, anything else must parse.
fn text_patch(field: UpdateField, raw: &str, parse: Parser) -> Result<Patch<String>, FieldError> {
    if raw.trim().is_empty() {
        Ok(Patch::Clear)
    } else {
        parse(field.name(), raw).map(Patch::Set)
    }
}

fn type_error(field: &str, expected: &str, got: &Json) -> FieldError {
    FieldError::new(
        field,
        FieldCode::InvalidType,
        format!("must be {expected} or null, not {}", got.type_name()),
    )
}

/// Applies one update member to `next`, or records why it cannot be applied.
fn apply(errors: &mut Errors, next: &mut Client, field: UpdateField, value: &Json) {
    let name = field.name();
    if *value == Json::Null {
        return; // Patch::Keep
    }
    match field {
        UpdateField::Blocked | UpdateField::IsBlacklisted => match value {
            Json::Bool(b) if field == UpdateField::Blocked => next.blocked = *b,
            Json::Bool(b) => next.is_blacklisted = *b,
            other => errors.push(type_error(name, "a boolean", other)),
        },
        UpdateField::RiskLevel => match value {
            Json::Text(raw) => {
                if let Some(level) = errors.take(parse_enum::<RiskLevel>(
                    name,
                    raw.trim(),
                    RiskLevel::expected,
                )) {
                    next.risk_level = level;
                }
            }
            other => errors.push(type_error(name, "a string", other)),
        },
        _ => {
            let Some((slot, parse)) = text_slot(next, field) else {
                return;
            };
            let Json::Text(raw) = value else {
                errors.push(type_error(name, "a string", value));
                return;
            };
            match (errors.take(text_patch(field, raw, parse)), slot) {
                (None | Some(Patch::Keep), _) => {}
                (Some(Patch::Set(v)), TextSlot::Required(slot)) => *slot = v,
                (Some(Patch::Set(v)), TextSlot::Optional(slot)) => *slot = Some(v),
                (Some(Patch::Clear), TextSlot::Optional(slot)) => *slot = None,
                (Some(Patch::Clear), TextSlot::Required(_)) => errors.push(FieldError::new(
                    name,
                    FieldCode::Required,
                    "is required and cannot be cleared; send null or leave it out to keep the current value",
                )),
            }
        }
    }
}

/// Whether a value sent for a read-only field equals the stored one. Strings compare trimmed,
/// country codes case-insensitively, timestamps as instants; an empty string equals no value.
fn echo_matches(current: &Client, field: ReadOnlyField, value: &Json) -> bool {
    use ReadOnlyField as F;
    let Json::Text(raw) = value else {
        return matches!((field, value), (F::OrganizationId, Json::Integer(n)) if *n == i64::from(current.organization_id));
    };
    let raw = raw.trim();
    let optional = |stored: &Option<String>| stored.as_deref().unwrap_or("") == raw;
    let instant = |stored: DateTime<Utc>| {
        DateTime::parse_from_rfc3339(raw).is_ok_and(|t| truncate_to_micros(t.to_utc()) == stored)
    };
    match field {
        F::Id => Uuid::parse_str(raw).is_ok_and(|id| id == current.id),
        F::OrganizationId => false,
        F::CreatedAt => instant(current.created_at),
        F::UpdatedAt => instant(current.updated_at),
        F::FirstName => raw == current.first_name,
        F::LastName => raw == current.last_name,
        F::MiddleName => optional(&current.middle_name),
        F::ExternalClientCode => optional(&current.external_client_code),
        F::DateOfBirth => {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok_and(|d| d == current.date_of_birth)
        }
        F::Gender => raw == current.gender.as_str(),
        F::KycLevel => raw == current.kyc_level.as_str(),
        F::KycStatus => raw == current.kyc_status.as_str(),
        F::Nationality => raw.eq_ignore_ascii_case(&current.nationality),
        F::BirthCountry => raw.eq_ignore_ascii_case(&current.birth_country),
        F::CountryOfTaxResidence => raw.eq_ignore_ascii_case(&current.country_of_tax_residence),
    }
}

/// Computes what an update does to `current`, or every reason it is refused.
pub fn plan(
    current: &Client,
    input: &UpdateInput,
    now: DateTime<Utc>,
) -> Result<UpdatePlan, Vec<FieldError>> {
    let mut errors = Errors::default();
    let mut next = current.clone();
    for (name, value) in &input.members {
        if let Some(field) = UpdateField::from_name(name) {
            apply(&mut errors, &mut next, field, value);
        } else if let Some(field) = ReadOnlyField::from_name(name) {
            if *value != Json::Null && !echo_matches(current, field, value) {
                errors.push(FieldError::new(
                    name.as_str(),
                    FieldCode::ImmutableField,
                    "cannot be changed by an update; send the stored value, null, or leave it out",
                ));
            }
        } else {
            errors.push(FieldError::new(
                name.as_str(),
                FieldCode::UnknownField,
                "is not a field of a person client",
            ));
        }
    }
    if next.is_blacklisted && next.blacklisted_comment.is_none() {
        errors.push(FieldError::new(
            UpdateField::BlacklistedComment.name(),
            FieldCode::BlacklistCommentRequired,
            "is required when is_blacklisted is true",
        ));
    }
    errors.into_result(|| {
        let changes: Vec<FieldChange> = UpdateField::ALL
            .iter()
            .filter_map(|&field| {
                let (old, new) = (value_of(current, field), value_of(&next, field));
                (old != new).then_some(FieldChange { field, old, new })
            })
            .collect();
        if changes.is_empty() {
            return UpdatePlan {
                client: current.clone(),
                changes,
            };
        }
        next.version = current.version + 1;
        next.updated_at = truncate_to_micros(now).max(current.updated_at);
        UpdatePlan {
            client: next,
            changes,
        }
    })
}

#[cfg(test)]
mod tests;
