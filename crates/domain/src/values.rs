//! Value types that parse instead of validate: once built, they hold a valid value.
//!
//! Every parser trims its input first (the contract says strings are trimmed) and reports why a
//! value is [`Invalid`]; the caller knows which field it was.

use std::fmt;

use chrono::NaiveDate;
use validator::ValidateEmail;

use crate::enums::{Gender, KycLevel, KycStatus, RiskLevel};
use crate::error::{FieldCode, Invalid};

/// Maximum lengths, in characters, of the free-text fields.
pub mod max_len {
    pub const NAME: usize = 100;
    pub const EMAIL: usize = 254;
    pub const ADDRESS: usize = 255;
    pub const CITY: usize = 100;
    pub const POSTCODE: usize = 20;
    pub const STATE_PROVINCE: usize = 100;
    pub const NOTE: usize = 2000;
    pub const REASON: usize = 2000;
    pub const PLANNED_AMOUNT: usize = 100;
    pub const EXTERNAL_CODE: usize = 100;

    /// The limit of a request member, by its name; `None` for members that are not free text.
    pub fn of(member: &str) -> Option<usize> {
        Some(match member {
            "first_name" | "middle_name" | "last_name" => NAME,
            "email" | "second_email" => EMAIL,
            "address" => ADDRESS,
            "city" => CITY,
            "postcode" => POSTCODE,
            "state_province" => STATE_PROVINCE,
            "kyc_note" | "blacklisted_comment" => NOTE,
            "planned_income" | "planned_expenditure" => PLANNED_AMOUNT,
            "external_client_code" => EXTERNAL_CODE,
            _ => return None,
        })
    }
}

/// A value of the record, parsed from the text a caller sent. Every parser trims first.
pub trait Value: Sized {
    fn parse(raw: &str) -> Result<Self, Invalid>;
}

/// A value of the record that is text, as the API and the store show it.
pub trait Text {
    fn as_str(&self) -> &str;
}

/// An optional text value as `Option<&str>`.
pub fn as_str<T: Text>(value: &Option<T>) -> Option<&str> {
    value.as_ref().map(Text::as_str)
}

/// A trimmed, non-empty text of at most `max` characters, without U+0000. The limit applies to
/// the text as sent, before trimming, as the spec's `maxLength` does.
pub fn text(raw: &str, max: usize) -> Result<String, Invalid> {
    let sent = raw.chars().count();
    if sent > max {
        return Err(Invalid::new(
            FieldCode::TooLong,
            format!("must be at most {max} characters (got {sent})"),
        ));
    }
    let value = raw.trim();
    if value.is_empty() {
        return Err(Invalid::new(FieldCode::Required, "must not be empty"));
    }
    // PostgreSQL text cannot hold U+0000. Other control characters are stored as sent.
    if value.contains('\0') {
        return Err(Invalid::new(
            FieldCode::InvalidCharacter,
            "must not contain U+0000 (NUL)",
        ));
    }
    Ok(value.to_owned())
}

/// Declares free-text values: trimmed, not blank, bounded, without U+0000.
macro_rules! bounded_text {
    ($($(#[$meta:meta])* $name:ident = $max:expr;)+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            /// A value read back from the store, which holds only parsed values: not checked
            /// again.
            pub fn from_store(value: String) -> Self {
                Self(value)
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl Text for $name {
            fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Value for $name {
            fn parse(raw: &str) -> Result<Self, Invalid> {
                text(raw, Self::MAX_CHARS).map(Self)
            }
        }
    )+};
}

bounded_text! {
    /// A first, middle or last name.
    Name = max_len::NAME;
    /// A street address.
    Address = max_len::ADDRESS;
    City = max_len::CITY;
    Postcode = max_len::POSTCODE;
    StateProvince = max_len::STATE_PROVINCE;
    /// A free-text note: the KYC note, the reason for a blacklisting.
    Note = max_len::NOTE;
    /// A planned yearly amount, free text (a range and a currency, say).
    PlannedAmount = max_len::PLANNED_AMOUNT;
    /// The organization's own reference for a client.
    ExternalCode = max_len::EXTERNAL_CODE;
    /// Why a KYC decision or a relationship change was made; kept in the history.
    Reason = max_len::REASON;
}

/// An email address: syntactically valid and at most 254 characters. The case is kept as given;
/// uniqueness is compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Value for Email {
    fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = text(raw, max_len::EMAIL)?;
        // The HTML5 grammar `validator` implements allows `user@localhost`; a customer's address
        // must be deliverable on the internet, so its domain needs a dot as well.
        let dotted_domain = value
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.contains('.') && !d.ends_with('.'));
        if value.validate_email() && dotted_domain {
            Ok(Self(value))
        } else {
            Err(Invalid::new(
                FieldCode::InvalidEmail,
                "must be a valid email address",
            ))
        }
    }
}

impl Email {
    /// A value read back from the store, which holds only parsed values: not checked again.
    pub fn from_store(value: String) -> Self {
        Self(value)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl Text for Email {
    fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+`, then 2 to 15 digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Value for Phone {
    fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let digits = value.strip_prefix('+').unwrap_or("");
        let valid = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(value.to_owned()))
        } else if value.is_empty() {
            Err(Invalid::new(FieldCode::Required, "must not be empty"))
        } else {
            Err(Invalid::new(
                FieldCode::InvalidPhone,
                "must be an E.164 phone number such as +33612345678",
            ))
        }
    }
}

impl Phone {
    /// A value read back from the store, which holds only parsed values: not checked again.
    pub fn from_store(value: String) -> Self {
        Self(value)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl Text for Phone {
    fn as_str(&self) -> &str {
        &self.0
    }
}

/// An assigned ISO 3166-1 alpha-3 country code, stored upper case. Any case is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryCode(&'static str);

impl Value for CountryCode {
    fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new(FieldCode::Required, "must not be empty"));
        }
        // celes only knows assigned codes (plus the widely used XKX for Kosovo), so an
        // unassigned three-letter code such as `XYZ` is refused.
        match celes::Country::from_alpha3(value) {
            Ok(country) if value.len() == 3 => Ok(Self(country.alpha3)),
            _ => Err(Invalid::new(
                FieldCode::InvalidCountry,
                "must be an ISO 3166-1 alpha-3 country code such as FRA or USA",
            )),
        }
    }
}

impl CountryCode {
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// A code read back from the store; `None` for one that is not an assigned code.
    pub fn from_store(value: &str) -> Option<Self> {
        celes::Country::from_alpha3(value)
            .ok()
            .map(|country| Self(country.alpha3))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A calendar date written `YYYY-MM-DD`.
impl Value for NaiveDate {
    fn parse(raw: &str) -> Result<Self, Invalid> {
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
            Invalid::new(
                FieldCode::InvalidDate,
                "must be a calendar date such as 1990-04-21",
            )
        })
    }
}

/// The enumerations, by their fixed spellings.
macro_rules! enum_values {
    ($($name:ty),+) => {$(
        impl Value for $name {
            fn parse(raw: &str) -> Result<Self, Invalid> {
                raw.trim().parse().map_err(|_| {
                    Invalid::new(
                        FieldCode::InvalidEnum,
                        format!("must be one of {}", <$name>::expected()),
                    )
                })
            }
        }
    )+};
}

enum_values!(Gender, KycLevel, KycStatus, RiskLevel);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed() {
        assert_eq!(text("  Paris ", 100).unwrap(), "Paris");
    }

    #[test]
    fn nul_is_refused_and_other_control_characters_kept() {
        assert_eq!(
            text("Ada\u{0}", 100).unwrap_err().code,
            FieldCode::InvalidCharacter
        );
        let kept = "line 1\r\n\tline 2 \u{1b}[1m \u{85}";
        assert_eq!(text(kept, 100).unwrap(), kept.trim());
    }

    #[test]
    fn blank_text_is_required_error() {
        assert_eq!(text("   ", 100).unwrap_err().code, FieldCode::Required);
    }

    #[test]
    fn text_over_its_limit_is_too_long_counting_characters_not_bytes() {
        assert!(text(&"é".repeat(20), 20).is_ok());
        assert_eq!(
            text(&"é".repeat(21), 20).unwrap_err().code,
            FieldCode::TooLong
        );
    }

    #[test]
    fn email_accepts_valid_and_keeps_case() {
        assert_eq!(
            Email::parse(" Ada@Example.com ").unwrap().into_inner(),
            "Ada@Example.com"
        );
    }

    #[test]
    fn email_rejects_invalid_and_too_long() {
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "a da@example.com",
            "ada@localhost",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                FieldCode::InvalidEmail,
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long).unwrap_err().code, FieldCode::TooLong);
    }

    #[test]
    fn phone_accepts_e164() {
        assert_eq!(
            Phone::parse("+33612345678").unwrap().into_inner(),
            "+33612345678"
        );
        assert!(Phone::parse("+123456789012345").is_ok());
    }

    #[test]
    fn phone_rejects_non_e164() {
        for bad in [
            "0612345678",
            "+0612345678",
            "+33 6 12 34 56 78",
            "+1234567890123456",
            "+",
            "+3",
        ] {
            assert_eq!(
                Phone::parse(bad).unwrap_err().code,
                FieldCode::InvalidPhone,
                "{bad}"
            );
        }
    }

    #[test]
    fn country_accepts_any_case_and_stores_upper_case() {
        assert_eq!(CountryCode::parse("fra").unwrap().as_str(), "FRA");
        assert_eq!(CountryCode::parse("Usa").unwrap().as_str(), "USA");
    }

    #[test]
    fn country_rejects_unassigned_alpha2_and_names() {
        for bad in ["XYZ", "FR", "France", "FRAN", "F1A"] {
            assert_eq!(
                CountryCode::parse(bad).unwrap_err().code,
                FieldCode::InvalidCountry,
                "{bad}"
            );
        }
    }
}
