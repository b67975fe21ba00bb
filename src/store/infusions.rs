//! Infusion sessions, their series numbers and amendments.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::revisions::{self, NewRevision};
use super::{Actor, Page, audit, now, split_page, stored};
use crate::db::schema::infusions as i;
use crate::db::{Db, DbJson, DbTime, DbUuid, write_tx};
use crate::domain::RecordStatus;
use crate::domain::infusion::{Drug, Guidance, Infusion, Route, series_numbers};
use crate::error::{ApiError, ApiResult};

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

#[derive(Queryable, Selectable)]
#[diesel(table_name = i)]
struct InfusionRow {
    id: DbUuid,
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
}

/// The row a new session becomes.
#[derive(Insertable)]
#[diesel(table_name = i)]
pub struct NewInfusionRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    drug: &'static str,
    route: &'static str,
    guidance: Option<&'static str>,
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
    status: &'static str,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
}

impl NewInfusionRow {
    pub fn new(clinic: Uuid, record: &InfusionRecord) -> Self {
        let s = &record.session;
        NewInfusionRow {
            id: DbUuid(record.id),
            clinic_id: DbUuid(clinic),
            patient_id: DbUuid(record.patient_id),
            drug: s.drug.code(),
            route: s.route.code(),
            guidance: s.guidance.map(Guidance::code),
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
            status: record.status.code(),
            version: record.version,
            created_at: DbTime(record.created_at),
            updated_at: DbTime(record.updated_at),
            created_by: DbUuid(record.created_by),
            updated_by: DbUuid(record.updated_by),
        }
    }
}

/// The revision that keeps a version of a session.
pub fn revision(record: &InfusionRecord, reason: Option<&str>) -> NewRevision {
    NewRevision::of(ENTITY, record.id, record.version, record.updated_at, record, reason)
}

impl InfusionRow {
    fn into_record(self) -> ApiResult<InfusionRecord> {
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
    DbJson(serde_json::to_value(value).expect("plain data serialises"))
}

/// Gives the patient's active sessions their numbers by start time; a session added
/// or moved earlier renumbers the ones after it.
fn renumber(conn: &mut Db, patient: Uuid) -> QueryResult<()> {
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
    for (id, number) in series_numbers(&starts) {
        if current.get(&id) != Some(&number) {
            diesel::update(i::table.find(DbUuid(id))).set(i::series_number.eq(number)).execute(conn)?;
        }
    }
    Ok(())
}

/// The session if it belongs to the clinic; 404 otherwise.
pub fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<InfusionRecord> {
    let row = i::table
        .filter(i::id.eq(DbUuid(id)))
        .filter(i::clinic_id.eq(DbUuid(clinic)))
        .select(InfusionRow::as_select())
        .first(conn)
        .optional()?;
    row.ok_or(ApiError::NotFound)?.into_record()
}

/// Inside the caller's write transaction (see `idempotency::once`). The patient must
/// already be known to belong to the actor's clinic.
pub fn create(conn: &mut Db, actor: &Actor, patient: Uuid, s: &Infusion) -> ApiResult<InfusionRecord> {
    let at = now();
    let new = InfusionRecord {
        id: Uuid::now_v7(),
        patient_id: patient,
        session: s.clone(),
        series_number: 0, // numbered below, with the rest of the series
        status: RecordStatus::Active,
        version: 1,
        created_at: at,
        updated_at: at,
        created_by: actor.user_id,
        updated_by: actor.user_id,
    };
    diesel::insert_into(i::table).values(NewInfusionRow::new(actor.clinic_id, &new)).execute(conn)?;
    renumber(conn, patient)?;
    let record = find(conn, actor.clinic_id, new.id)?;
    revisions::record(conn, actor, revision(&record, None))?;
    audit::record(conn, actor.audit("infusion.create", ENTITY, Some(record.id), json!({"patient_id": patient})))?;
    Ok(record)
}

pub fn list(conn: &mut Db, clinic: Uuid, patient: Uuid, page: Page) -> ApiResult<(Vec<InfusionRecord>, Option<Uuid>)> {
    let mut query = i::table
        .filter(i::clinic_id.eq(DbUuid(clinic)))
        .filter(i::patient_id.eq(DbUuid(patient)))
        .select(InfusionRow::as_select())
        .order(i::id.asc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(i::id.gt(DbUuid(after)));
    }
    let records = query.load(conn)?.into_iter().map(InfusionRow::into_record).collect::<ApiResult<Vec<_>>>()?;
    Ok(split_page(records, page, |r| r.id))
}

/// Start times of the patient's active sessions.
pub fn active_starts(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<Vec<DateTime<Utc>>> {
    let starts: Vec<DbTime> = i::table
        .filter(i::clinic_id.eq(DbUuid(clinic)))
        .filter(i::patient_id.eq(DbUuid(patient)))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .order(i::started_at.asc())
        .select(i::started_at)
        .load(conn)?;
    Ok(starts.into_iter().map(|t| t.0).collect())
}

/// Saves a new version (amended fields, or a retraction) if the session is still at
/// `expected_version`; keeps the new version as a revision and renumbers the series.
pub fn save_version(
    conn: &mut Db,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    session: &Infusion,
    status: RecordStatus,
    reason: &str,
) -> ApiResult<InfusionRecord> {
    write_tx(conn, |conn| {
        let current = find(conn, actor.clinic_id, id)?;
        if current.version != expected_version {
            return Err(ApiError::PreconditionFailed);
        }
        if current.status != RecordStatus::Active {
            return Err(ApiError::Conflict("the session was entered in error and can no longer change".into()));
        }
        let s = session;
        // The version in the WHERE clause makes a concurrent amendment that committed
        // first win: on PostgreSQL this UPDATE then matches no row.
        let changed = diesel::update(i::table.find(DbUuid(id)).filter(i::version.eq(expected_version)))
            .set((
                (
                    i::drug.eq(s.drug.code()),
                    i::route.eq(s.route.code()),
                    i::guidance.eq(s.guidance.map(Guidance::code)),
                    i::started_at.eq(DbTime(s.started_at)),
                    i::ended_at.eq(s.ended_at.map(DbTime)),
                    i::discharged_at.eq(s.discharged_at.map(DbTime)),
                    i::dose_mg.eq(s.dose_mg),
                    i::weight_kg.eq(s.weight_kg),
                    i::dose_mg_per_kg.eq(s.dose_mg_per_kg),
                    i::lot_number.eq(&s.lot_number),
                ),
                (
                    i::vitals.eq(json_of(&s.vitals)),
                    i::cadss_total.eq(s.cadss_total.map(|v| v as i32)),
                    i::moaas.eq(s.moaas.map(|v| v as i32)),
                    i::adverse_event_codes.eq(json_of(&s.adverse_event_codes)),
                    i::adverse_event_notes.eq(&s.adverse_event_notes),
                    i::notes.eq(&s.notes),
                    i::status.eq(status.code()),
                    i::version.eq(expected_version + 1),
                    i::updated_at.eq(DbTime(now())),
                    i::updated_by.eq(DbUuid(actor.user_id)),
                ),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(ApiError::PreconditionFailed);
        }
        renumber(conn, current.patient_id)?;
        let record = find(conn, actor.clinic_id, id)?;
        revisions::record(conn, actor, revision(&record, Some(reason)))?;
        let action = if status == RecordStatus::Active { "infusion.amend" } else { "infusion.retract" };
        audit::record(conn, actor.audit(action, ENTITY, Some(id), json!({"version": record.version})))?;
        Ok(record)
    })
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
