//! The enumerations of the record. Their spellings are fixed by the partners' existing
//! documentation and are reproduced exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

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

string_enum!(
    /// Gender of the person.
    Gender { Male = "male", Female = "female" }
);

string_enum!(
    /// KYC Level - Defines the level of verification required
    KycLevel { FullKyc = "FULL_KYC", DocOnly = "DOC_ONLY", NotRequired = "NOT_REQUIRED" }
);

string_enum!(
    /// KYC Status - Where the client's verification stands
    KycStatus {
        NotStarted = "NOT_STARTED",
        Created = "CREATED",
        Processing = "PROCESSING",
        Aborted = "ABORTED",
        PendingReview = "PENDING_REVIEW",
        Validated = "VALIDATED",
        Declined = "DECLINED",
    }
);

string_enum!(
    /// Risk Level - Customer risk assessment
    RiskLevel { Low = "Low", Medium = "Medium", High = "High" }
);

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

    #[test]
    fn spellings_are_case_sensitive() {
        assert!("low".parse::<RiskLevel>().is_err());
        assert!("Male".parse::<Gender>().is_err());
        assert!("full_kyc".parse::<KycLevel>().is_err());
    }
}
