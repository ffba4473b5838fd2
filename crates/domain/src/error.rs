//! Field-level errors: what is wrong with which field, in a vocabulary stable enough for partners
//! to branch on.

use std::fmt;

macro_rules! field_codes {
    ($($variant:ident = $code:literal, $when:literal;)+) => {
        /// Why one field was refused. The string forms are part of the public API (they appear in
        /// problem bodies), so they never change once published.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FieldCode { $($variant),+ }

        impl FieldCode {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            /// When the code is given, for the API's documentation.
            pub const fn when(self) -> &'static str {
                match self { $(Self::$variant => $when),+ }
            }
        }
    };
}

field_codes! {
    Required = "required", "a required field is missing, null or blank";
    InvalidType = "invalid_type", "the JSON value has the wrong type (a number where a string is expected, ...)";
    TooLong = "too_long", "the text is longer than the field allows";
    InvalidCharacter = "invalid_character", "the text holds U+0000, which PostgreSQL text cannot store";
    InvalidEmail = "invalid_email", "not an email address with a dotted domain";
    InvalidPhone = "invalid_phone", "not an E.164 phone number such as +33612345678";
    InvalidCountry = "invalid_country", "not an assigned ISO 3166-1 alpha-3 country code";
    InvalidDate = "invalid_date", "not a calendar date such as 1990-04-21";
    InvalidEnum = "invalid_enum", "a value outside the field's enumeration";
    Underage = "underage", "the person would be under 18 on the day of registration";
    ImmutableField = "immutable_field", "a field that cannot change after registration was sent with another value";
    ReadOnlyField = "read_only_field", "a field the server sets was sent on registration";
    UnknownField = "unknown_field", "a member that is not a field of a person client";
    BlacklistCommentRequired = "blacklisted_comment_required", "`is_blacklisted` is true without a `blacklisted_comment`";
    InvalidUrl = "invalid_url", "a webhook URL that is not an absolute `https` URL without credentials, whose host resolves to public addresses only";
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

/// Joins a member's name and the index of an item of its array in [`FieldError::field`].
pub const PATH_SEPARATOR: char = '\u{1f}';

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// An error about item `index` of the array in member `field` (pointer `/field/index`).
    pub fn item(field: &str, index: usize, code: FieldCode, message: impl Into<String>) -> Self {
        Self::new(format!("{field}{PATH_SEPARATOR}{index}"), code, message)
    }
}

/// Why a value was refused, before it is known which field it was sent for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: FieldCode,
    pub message: String,
}

impl Invalid {
    pub fn new(code: FieldCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The error, for the member `field`.
    pub fn at(self, field: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            code: self.code,
            message: self.message,
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

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }
}
