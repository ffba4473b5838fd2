//! The client-records domain: the `Client` aggregate (a client of one organization together with
//! the person it describes), the value types that can only hold valid data, and the rules for
//! registering and updating a person client.
//!
//! Everything here is pure: no clock, no database, no HTTP. Callers pass the current time and the
//! stored record in, and get back either a validated value or the complete list of field errors.

pub mod client;
pub mod enums;
pub mod error;
pub mod history;
pub mod register;
pub mod update;
pub mod values;

pub use client::Client;
pub use enums::{Gender, KycLevel, KycStatus, RiskLevel};
pub use error::{FieldCode, FieldError};
pub use register::{NewClient, Registration};
pub use update::{
    plan, FieldChange, FieldValue, Json, Patch, ReadOnlyField, UpdateField, UpdateInput, UpdatePlan,
};
