//! The update rules of `PUT /api/v1/clients/person/{id}`, as one pure function: [`plan`] takes the
//! stored client and an [`UpdatePatch`] of valid values and returns either the list of field
//! changes (with the next version of the client) or every reason the update is refused.
//!
//! - [`Patch::Keep`] keeps a field, [`Patch::Set`] gives it a new value, [`Patch::Clear`] empties
//!   an optional field and is an error for a required one.
//! - Read-only fields may be sent back ([`Echoes`]) when they equal the stored value.
//! - `is_blacklisted` true needs a `blacklisted_comment`, in the update or already stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::client::{truncate_to_micros, Client};
use crate::enums::{Gender, KycLevel, KycStatus, RiskLevel};
use crate::error::{Errors, FieldCode, FieldError};
use crate::values::{
    as_str, Address, City, CountryCode, Email, Note, Phone, PlannedAmount, Postcode, StateProvince,
    Text,
};

/// What an update does to one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The stored value stays.
    #[default]
    Keep,
    /// An optional field becomes `null`.
    Clear,
    /// A new value.
    Set(T),
}

/// A read-only field sent back with an update: a value of its type, or one that cannot be the
/// stored value (a wrong type, an unreadable date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Echo<T> {
    Value(T),
    Unreadable,
}

/// An update of a person client: one [`Patch`] per updatable field, and the read-only fields the
/// caller sent back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdatePatch {
    pub address: Patch<Address>,
    pub blacklisted_comment: Patch<Note>,
    pub blocked: Patch<bool>,
    pub city: Patch<City>,
    pub country_code: Patch<CountryCode>,
    pub email: Patch<Email>,
    pub is_blacklisted: Patch<bool>,
    pub kyc_note: Patch<Note>,
    pub mobile_phone_number: Patch<Phone>,
    pub planned_expenditure: Patch<PlannedAmount>,
    pub planned_income: Patch<PlannedAmount>,
    pub postcode: Patch<Postcode>,
    pub risk_level: Patch<RiskLevel>,
    pub second_email: Patch<Email>,
    pub second_mobile_phone_number: Patch<Phone>,
    pub state_province: Patch<StateProvince>,
    pub echoes: Echoes,
}

/// The fields an update cannot change (identity, server-owned, or set once at registration),
/// as sent back by the caller; `None` when not sent. Texts are trimmed, and an empty text stands
/// for no value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Echoes {
    pub id: Option<Echo<Uuid>>,
    pub organization_id: Option<Echo<i64>>,
    pub created_at: Option<Echo<DateTime<Utc>>>,
    pub updated_at: Option<Echo<DateTime<Utc>>>,
    pub first_name: Option<Echo<String>>,
    pub middle_name: Option<Echo<String>>,
    pub last_name: Option<Echo<String>>,
    pub date_of_birth: Option<Echo<NaiveDate>>,
    pub gender: Option<Echo<Gender>>,
    pub nationality: Option<Echo<CountryCode>>,
    pub birth_country: Option<Echo<CountryCode>>,
    pub country_of_tax_residence: Option<Echo<CountryCode>>,
    pub kyc_level: Option<Echo<KycLevel>>,
    pub kyc_status: Option<Echo<KycStatus>>,
    pub external_client_code: Option<Echo<String>>,
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
        }
    };
}

field_names!(
    /// The 16 fields an update may change.
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
}

/// The value of an update field on a client.
pub fn value_of(client: &Client, field: UpdateField) -> FieldValue {
    use UpdateField as F;
    let text = |value: &dyn Text| FieldValue::Text(value.as_str().to_owned());
    match field {
        F::Address => text(&client.address),
        F::City => text(&client.city),
        F::Postcode => text(&client.postcode),
        F::CountryCode => FieldValue::Text(client.country_code.as_str().to_owned()),
        F::Email => text(&client.email),
        F::Blocked => FieldValue::Bool(client.blocked),
        F::IsBlacklisted => FieldValue::Bool(client.is_blacklisted),
        F::RiskLevel => FieldValue::Text(client.risk_level.as_str().to_owned()),
        F::BlacklistedComment => as_str(&client.blacklisted_comment).into(),
        F::KycNote => as_str(&client.kyc_note).into(),
        F::MobilePhoneNumber => as_str(&client.mobile_phone_number).into(),
        F::SecondMobilePhoneNumber => as_str(&client.second_mobile_phone_number).into(),
        F::SecondEmail => as_str(&client.second_email).into(),
        F::StateProvince => as_str(&client.state_province).into(),
        F::PlannedIncome => as_str(&client.planned_income).into(),
        F::PlannedExpenditure => as_str(&client.planned_expenditure).into(),
    }
}

/// Applies a patch of a field that always has a value: clearing it is refused.
fn required<T>(errors: &mut Errors, field: UpdateField, patch: Patch<T>, slot: &mut T) {
    match patch {
        Patch::Keep => {}
        Patch::Set(value) => *slot = value,
        Patch::Clear => errors.push(FieldError::new(
            field.name(),
            FieldCode::Required,
            "is required and cannot be cleared; send null or leave it out to keep the current value",
        )),
    }
}

/// Applies a patch of an optional field.
fn optional<T>(patch: Patch<T>, slot: &mut Option<T>) {
    match patch {
        Patch::Keep => {}
        Patch::Set(value) => *slot = Some(value),
        Patch::Clear => *slot = None,
    }
}

impl Echoes {
    /// Records an `immutable_field` error for every field sent back with another value.
    fn check(&self, current: &Client, errors: &mut Errors) {
        fn same<T: PartialEq>(errors: &mut Errors, field: &str, sent: &Option<Echo<T>>, stored: T) {
            if let Some(sent) = sent {
                if *sent != Echo::Value(stored) {
                    errors.push(FieldError::new(
                        field,
                        FieldCode::ImmutableField,
                        "cannot be changed by an update; send the stored value, null, or leave it out",
                    ));
                }
            }
        }
        let text = |value: &dyn Text| value.as_str().to_owned();
        let optional = |value: Option<&str>| value.unwrap_or_default().to_owned();
        let e = errors;
        same(e, "id", &self.id, current.id);
        same(
            e,
            "organization_id",
            &self.organization_id,
            current.organization_id.into(),
        );
        same(e, "created_at", &self.created_at, current.created_at);
        same(e, "updated_at", &self.updated_at, current.updated_at);
        same(e, "first_name", &self.first_name, text(&current.first_name));
        same(
            e,
            "middle_name",
            &self.middle_name,
            optional(as_str(&current.middle_name)),
        );
        same(e, "last_name", &self.last_name, text(&current.last_name));
        same(
            e,
            "date_of_birth",
            &self.date_of_birth,
            current.date_of_birth,
        );
        same(e, "gender", &self.gender, current.gender);
        same(e, "nationality", &self.nationality, current.nationality);
        same(
            e,
            "birth_country",
            &self.birth_country,
            current.birth_country,
        );
        let tax_residence = current.country_of_tax_residence;
        same(
            e,
            "country_of_tax_residence",
            &self.country_of_tax_residence,
            tax_residence,
        );
        same(e, "kyc_level", &self.kyc_level, current.kyc_level);
        same(e, "kyc_status", &self.kyc_status, current.kyc_status);
        let code = optional(as_str(&current.external_client_code));
        same(e, "external_client_code", &self.external_client_code, code);
    }
}

/// Computes what an update does to `current`, or every reason it is refused: field errors in
/// field order, then `blacklisted_comment_required`.
pub fn plan(
    current: &Client,
    patch: UpdatePatch,
    now: DateTime<Utc>,
) -> Result<UpdatePlan, Vec<FieldError>> {
    use UpdateField as F;
    let mut errors = Errors::default();
    let mut next = current.clone();
    let e = &mut errors;
    required(e, F::Address, patch.address, &mut next.address);
    optional(patch.blacklisted_comment, &mut next.blacklisted_comment);
    required(e, F::Blocked, patch.blocked, &mut next.blocked);
    required(e, F::City, patch.city, &mut next.city);
    required(
        e,
        F::CountryCode,
        patch.country_code,
        &mut next.country_code,
    );
    required(e, F::Email, patch.email, &mut next.email);
    required(
        e,
        F::IsBlacklisted,
        patch.is_blacklisted,
        &mut next.is_blacklisted,
    );
    optional(patch.kyc_note, &mut next.kyc_note);
    optional(patch.mobile_phone_number, &mut next.mobile_phone_number);
    optional(patch.planned_expenditure, &mut next.planned_expenditure);
    optional(patch.planned_income, &mut next.planned_income);
    required(e, F::Postcode, patch.postcode, &mut next.postcode);
    required(e, F::RiskLevel, patch.risk_level, &mut next.risk_level);
    optional(patch.second_email, &mut next.second_email);
    optional(
        patch.second_mobile_phone_number,
        &mut next.second_mobile_phone_number,
    );
    optional(patch.state_province, &mut next.state_province);
    patch.echoes.check(current, e);
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
