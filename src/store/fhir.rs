//! The FHIR view's searches: a clinic's patients, ratings and sessions by patient, code,
//! clinical time and last update, in keyset pages by id. They only read, so a replica may
//! serve them; each is audited on the primary with the ids it showed (`audit_search`)
//! before it is answered.

use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::assessments::{AssessmentRecord, AssessmentRow};
use super::infusions::{InfusionRecord, InfusionRow};
use super::patients::{Patient, PatientRow};
use super::records::audit_read;
use super::{Actor, Page, split_page};
use crate::db::schema::{assessments, infusions, patients};
use crate::db::{Db, DbTime, DbUuid};
use crate::domain::fhir::TimeRange;
use crate::domain::infusion::Drug;
use crate::domain::instruments::Instrument;
use crate::error::ApiResult;

/// What a search asks for; `codes: Some(empty)` matches nothing.
#[derive(Debug, Clone)]
pub struct Search<Code> {
    pub patient: Option<Uuid>,
    pub codes: Option<Vec<Code>>,
    /// The clinical time: when a rating was taken, when a session started.
    pub date: TimeRange,
    pub last_updated: TimeRange,
    pub page: Page,
}

/// One search of a patient record table; `$time` is its clinical time, `$code` the
/// column the `code` parameter names.
macro_rules! search_records {
    ($name:ident, $table:ident, $row:ident, $record:ty, $code_type:ty, $code:ident, $time:ident $(, only $only:expr)?) => {
        pub fn $name(conn: &mut Db, actor: &Actor, search: &Search<$code_type>) -> ApiResult<(Vec<$record>, Option<Uuid>)> {
            use $table as t;
            let mut query = t::table
                .filter(t::clinic_id.eq(DbUuid(actor.clinic_id)))
                .select($row::as_select())
                .order(t::id.asc())
                .limit(search.page.limit + 1)
                .into_boxed();
            $(query = query.filter($only);)?
            if let Some(patient) = search.patient {
                query = query.filter(t::patient_id.eq(DbUuid(patient)));
            }
            if let Some(codes) = &search.codes {
                query = query.filter(t::$code.eq_any(codes.iter().map(|c| c.code().to_string()).collect::<Vec<_>>()));
            }
            if let Some(from) = search.date.from {
                query = query.filter(t::$time.ge(DbTime(from)));
            }
            if let Some(until) = search.date.until {
                query = query.filter(t::$time.lt(DbTime(until)));
            }
            if let Some(from) = search.last_updated.from {
                query = query.filter(t::updated_at.ge(DbTime(from)));
            }
            if let Some(until) = search.last_updated.until {
                query = query.filter(t::updated_at.lt(DbTime(until)));
            }
            if let Some(after) = search.page.after {
                query = query.filter(t::id.gt(DbUuid(after)));
            }
            let rows = query.load(conn)?;
            let records = $row::into_records(conn, rows)?;
            Ok(split_page(records, search.page, |r| r.id))
        }
    };
}

search_records!(observations, assessments, AssessmentRow, AssessmentRecord, Instrument, instrument, rated_at);
// Only ratings whose items were given have answers to show as a QuestionnaireResponse.
search_records!(questionnaire_responses, assessments, AssessmentRow, AssessmentRecord, Instrument, instrument, rated_at, only assessments::items.is_not_null());
search_records!(administrations, infusions, InfusionRow, InfusionRecord, Drug, drug, started_at);

/// The clinic's patients, by last update.
pub fn patients(conn: &mut Db, actor: &Actor, last_updated: TimeRange, page: Page) -> ApiResult<(Vec<Patient>, Option<Uuid>)> {
    use patients as p;
    let mut query = p::table
        .filter(p::clinic_id.eq(DbUuid(actor.clinic_id)))
        .select(PatientRow::as_select())
        .order(p::id.asc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(from) = last_updated.from {
        query = query.filter(p::updated_at.ge(DbTime(from)));
    }
    if let Some(until) = last_updated.until {
        query = query.filter(p::updated_at.lt(DbTime(until)));
    }
    if let Some(after) = page.after {
        query = query.filter(p::id.gt(DbUuid(after)));
    }
    Ok(split_page(query.load(conn)?.into_iter().map(PatientRow::into_patient).collect(), page, |p: &Patient| p.id))
}

/// Who saw which records through FHIR, like every other read of a patient's record.
pub fn audit_search(conn: &mut Db, actor: &Actor, what: &str, patient: Option<Uuid>, shown: Vec<Uuid>) -> ApiResult<()> {
    let entity = if patient.is_some() { "patient" } else { "fhir" };
    audit_read(conn, actor, format!("fhir.{what}.search"), entity, patient, json!({"count": shown.len(), "ids": shown}))
}
