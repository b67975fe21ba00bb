//! Queries, one file per aggregate. Every query on clinical data filters on the clinic.

pub mod alerts;
pub mod assessments;
pub mod audit;
pub mod bulk;
pub mod clinic_instruments;
pub mod clinics;
pub mod fhir;
mod groups;
pub mod home_plans;
pub mod doses;
pub mod due;
pub mod instrument_texts;
pub mod invitations;
pub mod housekeeping;
pub mod idempotency;
pub mod mfa;
pub mod infusions;
pub mod password_resets;
pub mod patients;
pub mod protocols;
pub mod reactions;
pub mod records;
pub mod rems;
pub mod summaries;
pub mod research;
pub mod revisions;
pub mod tokens;
pub mod users;
pub mod webhooks;

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

/// Now, at the microsecond precision both databases keep.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Is the database there? (readiness)
pub fn ping(conn: &mut crate::db::Db) -> diesel::QueryResult<()> {
    crate::db::ping(conn)
}

/// A keyset page: rows after (or, newest first, before) the cursor's id, by id. Ids are
/// UUID v7, so id order is creation order and inserts never shift a page.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub after: Option<Uuid>,
}

/// Trims the one extra row a page query fetches and says where the next page starts.
pub fn split_page<T>(mut rows: Vec<T>, page: Page, id: impl Fn(&T) -> Uuid) -> (Vec<T>, Option<Uuid>) {
    let limit = page.limit as usize;
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(id);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// A stored value that does not parse back: the database holds what the service never
/// writes, so it is an internal error, never the client's.
pub(crate) fn stored<T>(what: &str, value: Option<T>) -> crate::error::ApiResult<T> {
    value.ok_or_else(|| crate::error::ApiError::Internal(format!("unreadable stored {what}")))
}

/// Who did something, for the audit log and the `*_by` columns.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account written into `created_by`/`updated_by`: the caller, or for a
    /// patient's self-report the clinician who sent the link.
    pub user_id: Uuid,
    pub clinic_id: Uuid,
    pub email: String,
    /// A patient answering through a link: the audit names no account as the actor.
    pub by_patient: bool,
}

impl Actor {
    /// A patient acting through a link (`via` names which kind): the clinician who issued
    /// it stands for the clinic in `*_by`, and the audit names no account.
    pub fn patient(issued_by: Uuid, clinic_id: Uuid, via: &str) -> Actor {
        Actor { user_id: issued_by, clinic_id, email: format!("patient ({via})"), by_patient: true }
    }
}
