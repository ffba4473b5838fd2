//! The enumerations of the record. Their spellings are fixed by the partners' existing
//! documentation and are reproduced exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The string forms of an enum, in one place: `ALL`, `as_str`, `FromStr`, `Display`. The serde
/// and OpenAPI names come from the enum's own attributes (derive macros do not see through a
/// `macro_rules!` literal); a test checks that both agree.
macro_rules! string_forms {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Gender of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}
string_forms!(Gender { Male = "male", Female = "female" });

/// KYC Level - Defines the level of verification required
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KycLevel {
    FullKyc,
    DocOnly,
    NotRequired,
}
string_forms!(KycLevel { FullKyc = "FULL_KYC", DocOnly = "DOC_ONLY", NotRequired = "NOT_REQUIRED" });

/// KYC Status - Where the client's verification stands
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KycStatus {
    NotStarted,
    Created,
    Processing,
    Aborted,
    PendingReview,
    Validated,
    Declined,
}
string_forms!(KycStatus {
    NotStarted = "NOT_STARTED",
    Created = "CREATED",
    Processing = "PROCESSING",
    Aborted = "ABORTED",
    PendingReview = "PENDING_REVIEW",
    Validated = "VALIDATED",
    Declined = "DECLINED",
});

/// Risk Level - Customer risk assessment
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}
string_forms!(RiskLevel { Low = "Low", Medium = "Medium", High = "High" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_exactly() {
        for level in RiskLevel::ALL {
            assert_eq!(level.as_str().parse::<RiskLevel>(), Ok(*level));
        }
        assert_eq!("FULL_KYC".parse::<KycLevel>(), Ok(KycLevel::FullKyc));
        assert_eq!(
            "PENDING_REVIEW".parse::<KycStatus>(),
            Ok(KycStatus::PendingReview)
        );
    }

    fn serde_agrees_with_as_str<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for value in all {
            let json = serde_json::to_value(value).unwrap();
            assert_eq!(json, as_str(*value), "serde and as_str disagree");
        }
    }

    #[test]
    fn serde_names_are_the_contract_spellings() {
        serde_agrees_with_as_str(Gender::ALL, Gender::as_str);
        serde_agrees_with_as_str(KycLevel::ALL, KycLevel::as_str);
        serde_agrees_with_as_str(KycStatus::ALL, KycStatus::as_str);
        serde_agrees_with_as_str(RiskLevel::ALL, RiskLevel::as_str);
    }

    #[test]
    fn spellings_are_case_sensitive() {
        assert!("low".parse::<RiskLevel>().is_err());
        assert!("Male".parse::<Gender>().is_err());
        assert!("full_kyc".parse::<KycLevel>().is_err());
    }
}
