//! What a write to a clinical record sets off inside its own transaction.
//!
//! The store reports each write as a `Written`; `plan` says which reactions it calls for,
//! and the store carries them out before the transaction commits, so a reaction is never
//! lost and never runs for a write that rolled back. Due ratings completed by a rating,
//! alerts raised by a worsening or an endorsed suicidality item, and outbox events for
//! webhooks are the reactions planned here as they are built; today no write calls for one.

use uuid::Uuid;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Amended,
    Retracted,
}

/// One committed-to-be write: which record, whose, at which version, and how it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub entity: &'static str,
    pub id: Uuid,
    pub patient_id: Uuid,
    pub version: i32,
    pub change: Change,
}

/// A consequence of a write that the store carries out in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {}

/// The reactions a write calls for.
pub fn plan(_written: &Written) -> Vec<Reaction> {
    Vec::new()
}
