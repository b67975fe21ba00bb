//! Infusion sessions, their series numbers and amendments.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::{Kept, patient_record_table};
use super::revisions::NewRevision;
use super::stored;
use crate::db::schema::infusions as i;
use crate::db::schema::patients as p;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid};
use crate::domain::RecordStatus;
use crate::domain::infusion::{Drug, Guidance, Infusion, InfusionInput, RecordedBy, Route, series_numbers};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::domain::instruments::Catalogue;

pub const ENTITY: &str = "infusion";

#[derive(Debug, Clone, Serialize)]
pub struct InfusionRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    #[serde(flatten)]
    pub session: Infusion,
    pub series_number: i32,
    pub status: RecordStatus,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
}

/// A session's row, read, inserted and overwritten whole.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = i, treat_none_as_null = true)]
pub struct InfusionRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    drug: String,
    route: String,
    guidance: Option<String>,
    started_at: DbTime,
    ended_at: Option<DbTime>,
    discharged_at: Option<DbTime>,
    dose_mg: f64,
    weight_kg: Option<f64>,
    dose_mg_per_kg: Option<f64>,
    series_number: i32,
    lot_number: Option<String>,
    vitals: DbJson,
    cadss_total: Option<i32>,
    moaas: Option<i32>,
    adverse_event_codes: DbJson,
    adverse_event_notes: Option<String>,
    notes: Option<String>,
    status: String,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
    rems: Option<DbJson>,
    /// Whether its REMS form is still to submit: an active esketamine nasal-spray session
    /// without `rems.submitted_at`. A column of its own, so the pending list and the
    /// overdue check filter in SQL and no submitted form can push one out of a page.
    rems_pending: bool,
    recorded_by: String,
    home_plan_id: Option<DbUuid>,
}

impl InfusionRow {
    pub fn new(clinic: Uuid, record: &InfusionRecord) -> Self {
        let s = &record.session;
        InfusionRow {
            id: DbUuid(record.id),
            clinic_id: DbUuid(clinic),
            patient_id: DbUuid(record.patient_id),
            drug: s.drug.code().into(),
            route: s.route.code().into(),
            guidance: s.guidance.map(|g| g.code().into()),
            started_at: DbTime(s.started_at),
            ended_at: s.ended_at.map(DbTime),
            discharged_at: s.discharged_at.map(DbTime),
            dose_mg: s.dose_mg,
            weight_kg: s.weight_kg,
            dose_mg_per_kg: s.dose_mg_per_kg,
            series_number: record.series_number,
            lot_number: s.lot_number.clone(),
            vitals: json_of(&s.vitals),
            cadss_total: s.cadss_total.map(|v| v as i32),
            moaas: s.moaas.map(|v| v as i32),
            adverse_event_codes: json_of(&s.adverse_event_codes),
            adverse_event_notes: s.adverse_event_notes.clone(),
            notes: s.notes.clone(),
            status: record.status.code().into(),
            version: record.version,
            created_at: DbTime(record.created_at),
            updated_at: DbTime(record.updated_at),
            created_by: DbUuid(record.created_by),
            updated_by: DbUuid(record.updated_by),
            rems: s.rems.as_ref().map(json_of),
            rems_pending: record.status == RecordStatus::Active && crate::domain::rems::applies(s) && s.rems.as_ref().is_none_or(|r| r.submitted_at.is_none()),
            recorded_by: s.recorded_by.code().into(),
            home_plan_id: s.home_plan_id.map(DbUuid),
        }
    }
}

/// The revision that keeps a version of a session.
pub fn revision(record: &InfusionRecord, reason: Option<&str>) -> NewRevision {
    NewRevision::of(ENTITY, record.id, record.version, record.updated_at, record, reason)
}

impl InfusionRow {
    /// Rows read together, as records.
    pub(crate) fn into_records(_conn: &mut Db, rows: Vec<Self>) -> ApiResult<Vec<InfusionRecord>> {
        rows.into_iter().map(Self::into_record).collect()
    }

    pub(crate) fn into_record(self) -> ApiResult<InfusionRecord> {
        let session = Infusion {
            drug: stored("drug", Drug::parse(&self.drug))?,
            route: stored("route", Route::parse(&self.route))?,
            started_at: self.started_at.0,
            ended_at: self.ended_at.map(|t| t.0),
            discharged_at: self.discharged_at.map(|t| t.0),
            dose_mg: self.dose_mg,
            weight_kg: self.weight_kg,
            dose_mg_per_kg: self.dose_mg_per_kg,
            guidance: self.guidance.as_deref().and_then(Guidance::parse),
            lot_number: self.lot_number,
            vitals: stored("vitals", serde_json::from_value(self.vitals.0).ok())?,
            cadss_total: self.cadss_total.map(|v| v as u32),
            moaas: self.moaas.map(|v| v as u32),
            adverse_event_codes: stored("adverse events", serde_json::from_value(self.adverse_event_codes.0).ok())?,
            adverse_event_notes: self.adverse_event_notes,
            notes: self.notes,
            rems: match self.rems {
                Some(json) => Some(stored("REMS record", serde_json::from_value(json.0).ok())?),
                None => None,
            },
            recorded_by: stored("recorded_by", RecordedBy::parse(&self.recorded_by))?,
            home_plan_id: self.home_plan_id.map(|id| id.0),
        };
        Ok(InfusionRecord {
            id: self.id.0,
            patient_id: self.patient_id.0,
            session,
            series_number: self.series_number,
            status: stored("status", RecordStatus::parse(&self.status))?,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            created_by: self.created_by.0,
            updated_by: self.updated_by.0,
        })
    }
}

fn json_of<T: Serialize>(value: &T) -> DbJson {
    DbJsonOf(serde_json::to_value(value).expect("plain data serialises"))
}

/// Gives the patient's active sessions their numbers by start time; a session added
/// or moved earlier renumbers the ones after it.
fn renumber(conn: &mut Db, patient: Uuid) -> QueryResult<std::collections::HashMap<Uuid, i32>> {
    // Serialise renumbering per patient: on PostgreSQL this no-op update holds the
    // patient's row until commit, so a concurrent session's numbering waits and then
    // sees this one (SQLite's write lock already serialises writers).
    diesel::update(crate::db::schema::patients::table.find(DbUuid(patient)))
        .set(crate::db::schema::patients::version.eq(crate::db::schema::patients::version))
        .execute(conn)?;
    let sessions: Vec<(DbUuid, DbTime, i32)> = i::table
        .filter(i::patient_id.eq(DbUuid(patient)))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .select((i::id, i::started_at, i::series_number))
        .load(conn)?;
    let current: std::collections::HashMap<Uuid, i32> = sessions.iter().map(|(id, _, n)| (id.0, *n)).collect();
    let starts: Vec<(Uuid, DateTime<Utc>)> = sessions.iter().map(|(id, t, _)| (id.0, t.0)).collect();
    let numbers = series_numbers(&starts);
    for (id, number) in &numbers {
        if current.get(id) != Some(number) {
            diesel::update(i::table.find(DbUuid(*id))).set(i::series_number.eq(number)).execute(conn)?;
        }
    }
    Ok(numbers.into_iter().collect())
}



/// Start times of the active sessions of one of the clinic's patients, in order; not
/// found when the patient is not the clinic's. One statement, the patient left-joined to
/// their sessions, where the owner check and the sessions were two round trips.
pub fn active_starts(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<Vec<DateTime<Utc>>> {
    let rows: Vec<Option<DbTime>> = p::table
        .left_join(i::table.on(i::patient_id.eq(p::id).and(i::status.eq(RecordStatus::Active.code()))))
        .filter(p::id.eq(DbUuid(patient)))
        .filter(p::clinic_id.eq(DbUuid(clinic)))
        .order(i::started_at.asc())
        .select(i::started_at.nullable())
        .load(conn)?;
    if rows.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(rows.into_iter().flatten().map(|t| t.0).collect())
}

impl InfusionRecord {
    fn version_of(&self, session: Infusion, status: RecordStatus, version: i32, at: DateTime<Utc>, by: Uuid) -> Self {
        InfusionRecord { session, status, version, updated_at: at, updated_by: by, ..self.clone() }
    }
}

impl Kept for InfusionRecord {
    type Fields = Infusion;
    type Input = InfusionInput;
    type Owner = Uuid;
    const ENTITY: &'static str = ENTITY;

    patient_record_table!(i, InfusionRow);

    fn parse(input: &InfusionInput, _catalogue: &Catalogue, now: DateTime<Utc>) -> Result<Infusion, Vec<FieldError>> {
        input.parse(now)
    }
    fn to_input(&self) -> InfusionInput {
        self.session.to_input()
    }
    /// The session with the dosing and REMS warnings it raises.
    fn view(&self) -> Value {
        let mut view = serde_json::to_value(self).expect("plain data serialises");
        view["warnings"] = serde_json::to_value(self.session.warnings()).expect("plain data serialises");
        view
    }
    fn new(id: Uuid, patient: Uuid, session: Infusion, by: Uuid, at: DateTime<Utc>) -> Self {
        InfusionRecord {
            id,
            patient_id: patient,
            session,
            series_number: 0, // numbered in `settle`, with the rest of the series
            status: RecordStatus::Active,
            version: 1,
            created_at: at,
            updated_at: at,
            created_by: by,
            updated_by: by,
        }
    }
    fn next(&self, session: Infusion, status: RecordStatus, by: Uuid, at: DateTime<Utc>) -> Self {
        // Who recorded it and under which plan are facts of its origin, not content to amend.
        let session = Infusion { recorded_by: self.session.recorded_by, home_plan_id: self.session.home_plan_id, ..session };
        self.version_of(session, status, self.version + 1, at, by)
    }
    /// A session added, moved or retracted renumbers the patient's series.
    fn settle(mut self, conn: &mut Db, _clinic: Uuid) -> ApiResult<Self> {
        let numbers = renumber(conn, self.patient_id)?;
        if let Some(number) = numbers.get(&self.id) {
            self.series_number = *number;
        }
        Ok(self)
    }
    fn created_detail(&self) -> Value {
        json!({"patient_id": self.patient_id})
    }
}

/// Active sessions of the given patients (a page of the research export).
pub fn for_export(conn: &mut Db, patients: &[Uuid]) -> ApiResult<Vec<InfusionRecord>> {
    let ids: Vec<DbUuid> = patients.iter().copied().map(DbUuid).collect();
    i::table
        .filter(i::patient_id.eq_any(ids))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .select(InfusionRow::as_select())
        .order((i::patient_id.asc(), i::started_at.asc()))
        .load(conn)?
        .into_iter()
        .map(InfusionRow::into_record)
        .collect()
}

/// The start of each active session of these patients, by patient then start: all that
/// the ratings exports need of sessions (to place a rating in the course).
pub fn starts_for_export(conn: &mut Db, patients: &[Uuid]) -> ApiResult<Vec<(Uuid, DateTime<Utc>)>> {
    let ids: Vec<DbUuid> = patients.iter().copied().map(DbUuid).collect();
    Ok(i::table
        .filter(i::patient_id.eq_any(ids))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .select((i::patient_id, i::started_at))
        .order((i::patient_id.asc(), i::started_at.asc()))
        .load::<(DbUuid, DbTime)>(conn)?
        .into_iter()
        .map(|(patient, started_at)| (patient.0, started_at.0))
        .collect())
}

/// Which unsubmitted REMS sessions to read.
pub enum RemsScope {
    /// A page of a clinic's, for its pending list, in start order: after the session
    /// `after` (its start time, then id), at most `limit`.
    Clinic { clinic: Uuid, after: Option<(DateTime<Utc>, Uuid)>, limit: i64 },
    /// Every clinic's sessions started before this instant and not yet alerted, at most
    /// `limit` (the scheduler's overdue check). Each one read is one to alert, so a batch
    /// always makes progress and no clinic's submitted history hides another's session.
    OverdueBefore { started_before: DateTime<Utc>, limit: i64 },
}

/// Active esketamine nasal-spray sessions whose REMS form is not yet submitted, with
/// their clinic, oldest first, filtered wholly in SQL (`rems_pending`).
pub fn rems_unsubmitted(conn: &mut Db, scope: RemsScope) -> ApiResult<Vec<(Uuid, InfusionRecord)>> {
    use crate::db::schema::alerts as al;
    type Row = (DbUuid, InfusionRow);
    let mut query = i::table.filter(i::rems_pending).order((i::started_at.asc(), i::id.asc())).select((i::clinic_id, InfusionRow::as_select())).into_boxed();
    match scope {
        RemsScope::Clinic { clinic, after, limit } => {
            query = query.filter(i::clinic_id.eq(DbUuid(clinic))).limit(limit);
            if let Some((at, id)) = after {
                query = query.filter(i::started_at.gt(DbTime(at)).or(i::started_at.eq(DbTime(at)).and(i::id.gt(DbUuid(id)))));
            }
        }
        RemsScope::OverdueBefore { started_before, limit } => {
            let alerted = al::table.filter(al::kind.eq("rems_overdue")).filter(al::cause_id.eq(i::id));
            query = query.filter(i::started_at.lt(DbTime(started_before))).filter(diesel::dsl::not(diesel::dsl::exists(alerted))).limit(limit);
        }
    }
    let rows: Vec<Row> = query.load(conn)?;
    rows.into_iter().map(|(clinic, row)| Ok((clinic.0, row.into_record()?))).collect()
}

/// Where a page of a clinic's pending list starts: the start time of the session the
/// cursor names (404-free: a cursor naming nothing in the clinic starts from the top).
pub fn rems_cursor(conn: &mut Db, clinic: Uuid, after: Option<Uuid>) -> ApiResult<Option<(DateTime<Utc>, Uuid)>> {
    let Some(id) = after else { return Ok(None) };
    let started: Option<DbTime> = i::table.filter(i::id.eq(DbUuid(id))).filter(i::clinic_id.eq(DbUuid(clinic))).select(i::started_at).first(conn).optional()?;
    Ok(started.map(|t| (t.0, id)))
}
