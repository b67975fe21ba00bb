//! The esketamine REMS monitoring record: each session's form with what it lacks, the
//! clinic's sessions still to submit with their deadlines, and `rems_overdue` alerts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::infusions::{self, InfusionRecord, RemsScope};
use super::records::{Kept, audit_read};
use super::{Actor, Page, alerts, split_page};
use crate::db::Db;
use crate::domain::infusion::Vitals;
use crate::domain::rems::{DEADLINE_DAYS, RemsRecord, applies, deadline, missing};
use crate::domain::safety::{AlertKind, AlertLevel};
use crate::error::{ApiError, ApiResult};

/// A session's REMS patient monitoring form as onset prepares it.
#[derive(Debug, Clone, Serialize)]
pub struct RemsForm {
    pub infusion_id: Uuid,
    pub patient_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub discharged_at: Option<DateTime<Utc>>,
    pub dose_mg: f64,
    pub lot_number: Option<String>,
    pub vitals: Vec<Vitals>,
    pub record: RemsRecord,
    pub deadline: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// What the form still lacks; empty when it is complete.
    pub missing: Vec<&'static str>,
}

fn form_of(session: &InfusionRecord) -> RemsForm {
    let s = &session.session;
    let record = s.rems.clone().unwrap_or_default();
    RemsForm {
        infusion_id: session.id,
        patient_id: session.patient_id,
        started_at: s.started_at,
        discharged_at: s.discharged_at,
        dose_mg: s.dose_mg,
        lot_number: s.lot_number.clone(),
        vitals: s.vitals.clone(),
        submitted_at: record.submitted_at,
        record,
        deadline: deadline(s),
        missing: missing(s),
    }
}

/// One session's form, audited as a read of the patient's record; 409 for a session the
/// REMS does not cover.
pub fn form(conn: &mut Db, actor: &Actor, id: Uuid) -> ApiResult<RemsForm> {
    let session = InfusionRecord::find(conn, actor.clinic_id, id)?;
    if !applies(&session.session) {
        return Err(ApiError::Conflict("only esketamine nasal-spray sessions have a REMS monitoring form".into()));
    }
    audit_read(conn, actor, "infusion.rems_form".into(), "infusion", Some(id), json!({}))?;
    Ok(form_of(&session))
}

/// A session still to submit.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub infusion_id: Uuid,
    pub patient_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub overdue: bool,
    pub missing: Vec<&'static str>,
}

/// A page of the clinic's sessions whose form is not yet submitted, oldest first;
/// audited.
pub fn pending(conn: &mut Db, actor: &Actor, page: Page, now: DateTime<Utc>) -> ApiResult<(Vec<Pending>, Option<Uuid>)> {
    let after = infusions::rems_cursor(conn, actor.clinic_id, page.after)?;
    let sessions = infusions::rems_unsubmitted(conn, RemsScope::Clinic { clinic: actor.clinic_id, after, limit: page.limit + 1 })?;
    let items: Vec<Pending> = sessions
        .iter()
        .map(|(_, s)| {
            let form = form_of(s);
            Pending { infusion_id: s.id, patient_id: s.patient_id, started_at: form.started_at, deadline: form.deadline, overdue: form.deadline < now, missing: form.missing }
        })
        .collect();
    let listed = split_page(items, page, |p| p.infusion_id);
    audit_read(conn, actor, "rems.pending".into(), "infusion", None, json!({"count": listed.0.len()}))?;
    Ok(listed)
}

/// Overdue sessions alerted per tick: a backlog is worked off over a few ticks.
const OVERDUE_BATCH: i64 = 500;

/// Raises `rems_overdue` once for each session past its deadline unsubmitted (the
/// scheduler's tick). Sessions already alerted are left out by the query itself, so an
/// idle tick reads nothing.
pub fn raise_overdue(conn: &mut Db, now: DateTime<Utc>) -> ApiResult<usize> {
    let mut raised = 0;
    let scope = RemsScope::OverdueBefore { started_before: now - chrono::Duration::days(DEADLINE_DAYS), limit: OVERDUE_BATCH };
    for (clinic, session) in infusions::rems_unsubmitted(conn, scope)? {
        let due = deadline(&session.session);
        if due < now {
            let detail = json!({"infusion_id": session.id, "deadline": due, "missing": missing(&session.session)});
            raised += usize::from(alerts::raise(conn, clinic, session.patient_id, AlertKind::RemsOverdue, AlertLevel::Moderate, session.id, detail, now)?);
        }
    }
    Ok(raised)
}
