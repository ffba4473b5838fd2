//! The field errors of one request body, in the order the contract gives them.

use domain::update::Patch;
use domain::{FieldCode, FieldError};

use super::{Field, PatchField};

/// Collects the field errors of a body in the order the contract gives them: problems with a
/// member's presence or JSON type first, in member order, then the value rules in the order the
/// body declares its fields.
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    members: Vec<FieldError>,
    values: Vec<FieldError>,
}

impl Refusals {
    pub fn push(&mut self, error: FieldError) {
        if matches!(
            error.code,
            FieldCode::InvalidType | FieldCode::UnknownField | FieldCode::ReadOnlyField
        ) {
            self.members.push(error);
        } else {
            self.values.push(error);
        }
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        errors.into_iter().for_each(|e| self.push(e));
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.values.is_empty()
    }

    /// A required member: no value is `required`.
    pub fn required<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        match field.0 {
            Ok(Some(value)) => Some(value),
            Ok(None) => {
                self.push(FieldError::new(name, FieldCode::Required, "is required"));
                None
            }
            Err(invalid) => {
                self.push(invalid.at(name));
                None
            }
        }
    }

    pub fn optional<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        field.0.unwrap_or_else(|invalid| {
            self.push(invalid.at(name));
            None
        })
    }

    /// An update member; a refused one keeps the field, so that the other rules still run.
    pub fn patch<T>(&mut self, name: &str, field: PatchField<T>) -> Patch<T> {
        field.0.unwrap_or_else(|invalid| {
            self.push(invalid.at(name));
            Patch::Keep
        })
    }

    /// An update's errors, these and the domain's alike, in member order; then
    /// `blacklisted_comment_required`, which is about two members.
    pub fn with_domain_rules(self, domain: Vec<FieldError>) -> Vec<FieldError> {
        let (rules, fields): (Vec<FieldError>, Vec<FieldError>) = domain
            .into_iter()
            .partition(|e| e.code == FieldCode::BlacklistCommentRequired);
        let mut errors = self.members;
        errors.extend(self.values);
        errors.extend(fields);
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        errors.extend(rules);
        errors
    }

    /// Every error: member errors by member name, then value errors in declaration order.
    pub fn into_vec(mut self) -> Vec<FieldError> {
        self.members.sort_by(|a, b| a.field.cmp(&b.field));
        self.members.extend(self.values);
        self.members
    }
}

/// Takes the body member named like the struct field: `take!(refusals.required(body.email))`.
macro_rules! take {
    ($refusals:ident . $how:ident ( $body:ident . $field:ident )) => {
        $refusals.$how(stringify!($field), $body.$field)
    };
}
pub(crate) use take;
