//! Field-level errors: what is wrong with which field, in a vocabulary stable enough for partners
//! to branch on.

use std::fmt;

/// Why one field was refused. The string forms are part of the public API (they appear in
/// problem bodies), so they never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldCode {
    /// A required field is missing, null or blank.
    Required,
    /// The JSON value has the wrong type (a number where a string is expected, ...).
    InvalidType,
    /// The text is longer than the field allows.
    TooLong,
    /// The text holds U+0000, which PostgreSQL cannot store.
    InvalidCharacter,
    InvalidEmail,
    InvalidPhone,
    InvalidCountry,
    InvalidDate,
    /// A value outside an enumeration.
    InvalidEnum,
    /// The person would be under 18 on the day of registration.
    Underage,
    /// A field that cannot change after creation was sent with a different value.
    ImmutableField,
    /// A field the server sets was sent on registration.
    ReadOnlyField,
    /// A field that exists in neither the request nor the response shape.
    UnknownField,
    /// `is_blacklisted = true` without a `blacklisted_comment`.
    BlacklistCommentRequired,
}

impl FieldCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::InvalidType => "invalid_type",
            Self::TooLong => "too_long",
            Self::InvalidCharacter => "invalid_character",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidPhone => "invalid_phone",
            Self::InvalidCountry => "invalid_country",
            Self::InvalidDate => "invalid_date",
            Self::InvalidEnum => "invalid_enum",
            Self::Underage => "underage",
            Self::ImmutableField => "immutable_field",
            Self::ReadOnlyField => "read_only_field",
            Self::UnknownField => "unknown_field",
            Self::BlacklistCommentRequired => "blacklisted_comment_required",
        }
    }
}

impl fmt::Display for FieldCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused field. `field` is the top-level JSON member name; the API turns it into a JSON
/// pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: FieldCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Collects field errors so that a request is answered with all of them at once.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value of a successful parse; records the error of a failed one.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }
}
