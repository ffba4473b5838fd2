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
    Address, City, CountryCode, Email, Note, Phone, PlannedAmount, Postcode, StateProvince,
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

/// Applies a patch of a field that always has a value: clearing it is refused.
fn required<T, S>(
    errors: &mut Errors,
    field: UpdateField,
    patch: Patch<T>,
    slot: &mut S,
    stored: impl FnOnce(T) -> S,
) {
    match patch {
        Patch::Keep => {}
        Patch::Set(value) => *slot = stored(value),
        Patch::Clear => errors.push(FieldError::new(
            field.name(),
            FieldCode::Required,
            "is required and cannot be cleared; send null or leave it out to keep the current value",
        )),
    }
}

/// Applies a patch of an optional field.
fn optional<T>(patch: Patch<T>, slot: &mut Option<String>, stored: impl FnOnce(T) -> String) {
    match patch {
        Patch::Keep => {}
        Patch::Set(value) => *slot = Some(stored(value)),
        Patch::Clear => *slot = None,
    }
}

/// A country sent back, as the code it is stored as.
fn code(sent: &Option<Echo<CountryCode>>) -> Option<Echo<String>> {
    sent.as_ref().map(|echo| match echo {
        Echo::Value(code) => Echo::Value(code.as_str().to_owned()),
        Echo::Unreadable => Echo::Unreadable,
    })
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
        let text = |s: &str| s.to_owned();
        let optional = |s: &Option<String>| s.clone().unwrap_or_default();
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
            optional(&current.middle_name),
        );
        same(e, "last_name", &self.last_name, text(&current.last_name));
        same(
            e,
            "date_of_birth",
            &self.date_of_birth,
            current.date_of_birth,
        );
        same(e, "gender", &self.gender, current.gender);
        same(
            e,
            "nationality",
            &code(&self.nationality),
            text(&current.nationality),
        );
        same(
            e,
            "birth_country",
            &code(&self.birth_country),
            text(&current.birth_country),
        );
        let tax_residence = text(&current.country_of_tax_residence);
        let sent = code(&self.country_of_tax_residence);
        same(e, "country_of_tax_residence", &sent, tax_residence);
        same(e, "kyc_level", &self.kyc_level, current.kyc_level);
        same(e, "kyc_status", &self.kyc_status, current.kyc_status);
        let code = optional(&current.external_client_code);
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
    let country = |code: CountryCode| code.as_str().to_owned();
    required(
        e,
        F::Address,
        patch.address,
        &mut next.address,
        Address::into_inner,
    );
    optional(
        patch.blacklisted_comment,
        &mut next.blacklisted_comment,
        Note::into_inner,
    );
    required(e, F::Blocked, patch.blocked, &mut next.blocked, |b| b);
    required(e, F::City, patch.city, &mut next.city, City::into_inner);
    required(
        e,
        F::CountryCode,
        patch.country_code,
        &mut next.country_code,
        country,
    );
    required(e, F::Email, patch.email, &mut next.email, Email::into_inner);
    required(
        e,
        F::IsBlacklisted,
        patch.is_blacklisted,
        &mut next.is_blacklisted,
        |b| b,
    );
    optional(patch.kyc_note, &mut next.kyc_note, Note::into_inner);
    optional(
        patch.mobile_phone_number,
        &mut next.mobile_phone_number,
        Phone::into_inner,
    );
    optional(
        patch.planned_expenditure,
        &mut next.planned_expenditure,
        PlannedAmount::into_inner,
    );
    optional(
        patch.planned_income,
        &mut next.planned_income,
        PlannedAmount::into_inner,
    );
    required(
        e,
        F::Postcode,
        patch.postcode,
        &mut next.postcode,
        Postcode::into_inner,
    );
    required(
        e,
        F::RiskLevel,
        patch.risk_level,
        &mut next.risk_level,
        |r| r,
    );
    optional(
        patch.second_email,
        &mut next.second_email,
        Email::into_inner,
    );
    let second_mobile = &mut next.second_mobile_phone_number;
    optional(
        patch.second_mobile_phone_number,
        second_mobile,
        Phone::into_inner,
    );
    optional(
        patch.state_province,
        &mut next.state_province,
        StateProvince::into_inner,
    );
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
