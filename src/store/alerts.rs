//! Safety alerts: raised inside the write that caused them, once per cause, listed for
//! the clinic and acknowledged with a note.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::assessments::AssessmentRecord;
use super::records::{Kept, audit_read};
use super::summaries::{Course, Extended};
use super::{Actor, Page, audit, split_page, stored, webhooks};
use crate::db::schema::alerts as t;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::domain::instruments::Instrument;
use crate::domain::outcomes::CONSENSUS_2016;
use crate::domain::safety::{AlertKind, AlertLevel, AlertStatus, CRISIS_KINDS, answers_can_alert, concern, worsening};
use crate::domain::trajectory::{RatingPoint, SeriesFold, instrument_series, instruments_of};
use crate::domain::webhooks::Event;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub kind: AlertKind,
    pub level: AlertLevel,
    /// The rating (or session) that raised it.
    pub cause_id: Uuid,
    pub detail: Value,
    pub status: AlertStatus,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<Uuid>,
    pub note: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = t)]
struct AlertRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    kind: String,
    level: String,
    cause_id: DbUuid,
    detail: DbJson,
    status: String,
    raised_at: DbTime,
    acknowledged_at: Option<DbTime>,
    acknowledged_by: Option<DbUuid>,
    note: Option<String>,
}

impl AlertRow {
    fn into_alert(self) -> ApiResult<Alert> {
        Ok(Alert {
            id: self.id.0,
            patient_id: self.patient_id.0,
            kind: stored("alert kind", AlertKind::parse(&self.kind))?,
            level: stored("alert level", AlertLevel::parse(&self.level))?,
            cause_id: self.cause_id.0,
            detail: self.detail.0,
            status: stored("alert status", AlertStatus::parse(&self.status))?,
            raised_at: self.raised_at.0,
            acknowledged_at: self.acknowledged_at.map(|t| t.0),
            acknowledged_by: self.acknowledged_by.map(|u| u.0),
            note: self.note,
        })
    }
}

/// Raises an alert unless its cause already raised one of this kind at this level or a
/// higher one (re-reading a rating, or amending it without raising its risk, raises
/// nothing new); an amendment that raises the risk raises a new open alert at the new
/// level, whatever became of the old one, which stays in the history (DESIGN.md §6).
/// Sends `alert.raised`. Returns whether it raised one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn raise(conn: &mut Db, clinic: Uuid, patient: Uuid, kind: AlertKind, level: AlertLevel, cause: Uuid, detail: Value, now: DateTime<Utc>) -> ApiResult<bool> {
    let raised: Vec<String> = t::table.filter(t::kind.eq(kind.code())).filter(t::cause_id.eq(DbUuid(cause))).select(t::level).load(conn)?;
    if raised.iter().any(|earlier| AlertLevel::parse(earlier).is_some_and(|earlier| earlier.rank() >= level.rank())) {
        return Ok(false);
    }
    let row = AlertRow {
        id: DbUuid(Uuid::now_v7()),
        clinic_id: DbUuid(clinic),
        patient_id: DbUuid(patient),
        kind: kind.code().into(),
        level: level.code().into(),
        cause_id: DbUuid(cause),
        detail: DbJsonOf(detail.clone()),
        status: AlertStatus::Open.code().into(),
        raised_at: DbTime(now),
        acknowledged_at: None,
        acknowledged_by: None,
        note: None,
    };
    let id = row.id.0;
    diesel::insert_into(t::table).values(row).execute(conn)?;
    let data = json!({"alert_id": id, "patient_id": patient, "kind": kind.code(), "level": level.code(), "cause_id": cause, "detail": detail});
    webhooks::emit(conn, clinic, Event::AlertRaised, data, now)?;
    Ok(true)
}

/// What a rating's answers raised: suicidality, or a concern after a home dose. Returns
/// the level raised now, if any.
pub fn check_rating(conn: &mut Db, clinic: Uuid, point: &RatingPoint, patient: Uuid, now: DateTime<Utc>) -> ApiResult<Option<AlertLevel>> {
    let (rating, instrument) = (point.id, point.instrument);
    if !answers_can_alert(instrument) {
        return Ok(None);
    }
    let record = AssessmentRecord::find(conn, clinic, rating)?;
    let scores = &record.rating.scores;
    let Some((kind, level)) = concern(instrument, scores.items(), scores.total()) else { return Ok(None) };
    let detail = json!({"instrument": instrument.code(), "total": point.total, "itemised": scores.items().is_some()});
    Ok(raise(conn, clinic, patient, kind, level, rating, detail, now)?.then_some(level))
}

/// What the patient's OCD series call for, judged whole after any change to their
/// sessions or ratings: a rating added before the first session, or a session moved,
/// changes the baseline and so every later rating's change, so worsening is judged for
/// every rating of the series, not only the one just written (DESIGN.md §6), like
/// relapse. Each worsening rating raises once; a rating that stops being worse keeps the
/// alert it raised (the history is never rewritten).
pub fn judge_series(conn: &mut Db, clinic: Uuid, patient: Uuid, course: &Course, now: DateTime<Utc>) -> ApiResult<()> {
    let starts = course.starts();
    let mut alerted: Option<HashSet<Uuid>> = None;
    for instrument in instruments_of(course.points()).into_iter().filter(|i| i.rules().is_judged()) {
        let Some(series) = instrument_series(&CONSENSUS_2016, instrument, &starts, course.points()) else { continue };
        for derived in &series.ratings {
            let Some(level) = worsening(instrument, derived.percent_change) else { continue };
            if alerted.is_none() {
                alerted = Some(raised_for(conn, patient, AlertKind::Worsening)?);
            }
            if alerted.as_ref().is_some_and(|causes| causes.contains(&derived.assessment_id)) {
                continue;
            }
            let detail = json!({"instrument": instrument.code(), "percent_change": derived.percent_change, "baseline_id": series.baseline.as_ref().map(|b| b.assessment_id)});
            raise(conn, clinic, patient, AlertKind::Worsening, level, derived.assessment_id, detail, now)?;
        }
        // Relapse (Mataix-Cols 2016, as DESIGN.md §1 applies it): raised once for the
        // remission it ends, whichever later rating established it.
        if let Some(remission) = series.summary.relapsed_remission {
            let detail = json!({"instrument": instrument.code(), "established_by": series.ratings.last().map(|r| r.assessment_id), "remission_confirmed_at_rating": remission});
            raise(conn, clinic, patient, AlertKind::Relapse, AlertLevel::Moderate, remission, detail, now)?;
        }
    }
    Ok(())
}

/// What a rating that extended its series' fold calls for: it alone can have become worse
/// than baseline (the baseline and every earlier rating are as they were), and the relapse
/// it may have completed is raised once, for the remission it ends (as `judge_series`).
pub fn judge_extended(conn: &mut Db, clinic: Uuid, patient: Uuid, instrument: Instrument, extended: &Extended, now: DateTime<Utc>) -> ApiResult<()> {
    let rating = &extended.rating;
    if let Some(level) = worsening(instrument, rating.percent_change) {
        let detail = json!({"instrument": instrument.code(), "percent_change": rating.percent_change, "baseline_id": extended.after.baseline.as_ref().map(|b| b.assessment_id)});
        raise(conn, clinic, patient, AlertKind::Worsening, level, rating.assessment_id, detail, now)?;
    }
    let relapsed = |fold: &SeriesFold| fold.summary(instrument).relapsed_remission;
    if let (None, Some(remission)) = (relapsed(&extended.before), relapsed(&extended.after)) {
        let detail = json!({"instrument": instrument.code(), "established_by": rating.assessment_id, "remission_confirmed_at_rating": remission});
        raise(conn, clinic, patient, AlertKind::Relapse, AlertLevel::Moderate, remission, detail, now)?;
    }
    Ok(())
}

/// The causes that already raised an alert of this kind for the patient.
fn raised_for(conn: &mut Db, patient: Uuid, kind: AlertKind) -> ApiResult<HashSet<Uuid>> {
    let causes: Vec<DbUuid> = t::table.filter(t::patient_id.eq(DbUuid(patient))).filter(t::kind.eq(kind.code())).select(t::cause_id).load(conn)?;
    Ok(causes.into_iter().map(|c| c.0).collect())
}

/// Whether a rating raised an alert after which the patient sees the crisis text.
pub fn raised_crisis(conn: &mut Db, rating: Uuid) -> ApiResult<bool> {
    let kinds = CRISIS_KINDS.map(AlertKind::code);
    let n: i64 = t::table.filter(t::kind.eq_any(kinds)).filter(t::cause_id.eq(DbUuid(rating))).count().get_result(conn)?;
    Ok(n > 0)
}

/// Which alerts a list shows.
#[derive(Debug, Default, Clone)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub kind: Option<AlertKind>,
    pub patient: Option<Uuid>,
}

/// The clinic's alerts, newest first; audited.
pub fn list(conn: &mut Db, actor: &Actor, filter: &AlertFilter, page: Page) -> ApiResult<(Vec<Alert>, Option<Uuid>)> {
    let mut query = t::table.filter(t::clinic_id.eq(DbUuid(actor.clinic_id))).select(AlertRow::as_select()).order(t::id.desc()).limit(page.limit + 1).into_boxed();
    if let Some(before) = page.after {
        query = query.filter(t::id.lt(DbUuid(before)));
    }
    if let Some(status) = filter.status {
        query = query.filter(t::status.eq(status.code()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(t::kind.eq(kind.code()));
    }
    if let Some(patient) = filter.patient {
        query = query.filter(t::patient_id.eq(DbUuid(patient)));
    }
    let alerts = query.load(conn)?.into_iter().map(AlertRow::into_alert).collect::<ApiResult<Vec<_>>>()?;
    let listed = split_page(alerts, page, |a| a.id);
    audit_read(conn, actor, "alert.list".into(), "patient", filter.patient, json!({"count": listed.0.len()}))?;
    Ok(listed)
}

fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Alert> {
    let row = t::table.filter(t::id.eq(DbUuid(id))).filter(t::clinic_id.eq(DbUuid(clinic))).select(AlertRow::as_select()).first(conn).optional()?;
    row.ok_or(ApiError::NotFound)?.into_alert()
}

/// A clinician has seen the alert and says what was done (409 if already acknowledged).
pub fn acknowledge(conn: &mut Db, actor: &Actor, id: Uuid, note: ApiResult<String>, now: DateTime<Utc>) -> ApiResult<Alert> {
    write_tx(conn, |conn| {
        find(conn, actor.clinic_id, id)?;
        let note = note?;
        let changed = diesel::update(t::table.find(DbUuid(id)).filter(t::status.eq(AlertStatus::Open.code())))
            .set((
                t::status.eq(AlertStatus::Acknowledged.code()),
                t::acknowledged_at.eq(Some(DbTime(now))),
                t::acknowledged_by.eq(Some(DbUuid(actor.user_id))),
                t::note.eq(Some(note)),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(ApiError::Conflict("the alert was already acknowledged".into()));
        }
        audit::record(conn, actor.audit("alert.acknowledge", "alert", Some(id), json!({})))?;
        find(conn, actor.clinic_id, id)
    })
}
