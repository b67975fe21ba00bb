//! Pure clinical logic: plain data in, plain data out, no HTTP and no SQL.

pub mod anonymise;
pub mod chart;
pub mod cox;
pub mod definitions;
pub mod export;
pub mod fhir;
pub mod fields;
pub mod home;
pub mod infusion;
pub mod instruments;
pub mod km;
pub mod onset;
pub mod outcomes;
pub mod patient;
pub mod predictors;
pub mod protocol;
pub mod redcap;
pub mod reactions;
pub mod rems;
pub mod safety;
pub mod scoring;
pub mod trajectory;
pub mod user;
pub mod webhooks;

use serde::Serialize;

/// One field that failed validation; `field` is a dotted path such as `items.4`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Hours between two instants, fractional, negative when `to` precedes `from`.
pub fn hours_between(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> f64 {
    (to - from).num_microseconds().map(|us| us as f64 / 3_600_000_000.0).unwrap_or(f64::NAN)
}

fields::vocabulary!(RecordStatus { Active = "active", EnteredInError = "entered_in_error" });
