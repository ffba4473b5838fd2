//! The client-records domain: the `Client` aggregate (a client of one organization together with
//! the person it describes), the value types that can only hold valid data, and the rules for
//! registering and updating a person client.
//!
//! Everything here is pure: no clock, no database, no HTTP, no JSON. Callers parse what they
//! receive into the value types of [`values`] (each of which can only hold a valid value), pass
//! the current time and the stored record in, and get back the next record or the complete list
//! of field errors.

pub mod chain;
pub mod client;
pub mod enums;
pub mod error;
pub mod history;
pub mod lifecycle;
pub mod register;
pub mod update;
pub mod values;

pub use client::Client;
pub use enums::{Gender, KycLevel, KycStatus, RiskLevel};
pub use error::{FieldCode, FieldError, Invalid};
pub use register::{DateOfBirth, Registration};
pub use update::{
    plan, Echo, Echoes, FieldChange, FieldValue, Patch, UpdateField, UpdatePatch, UpdatePlan,
};
pub use values::Value;
