//! Patients of a clinic.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::{Kept, audit_read};
use super::{assessments, infusions};
use super::revisions::NewRevision;
use super::{Actor, Page, split_page};
use crate::db::schema::patients as p;
use crate::db::{Db, DbTime, DbUuid};
use crate::domain::RecordStatus;
use crate::domain::patient::{PatientFields, PatientInput, Sex};
use crate::domain::trajectory::RatingPoint;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::domain::instruments::Catalogue;

/// What revisions and the audit call a patient.
pub const ENTITY: &str = "patient";

#[derive(Debug, Clone, Serialize)]
pub struct Patient {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: PatientFields,
    /// When `research_consent` was last set (at registration, or by a PATCH naming it).
    pub research_consent_changed_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub created_by: Uuid,
    #[serde(skip)]
    pub updated_by: Uuid,
}

/// A patient's row, read, inserted and overwritten whole.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = p, treat_none_as_null = true)]
pub struct PatientRow {
    id: DbUuid,
    clinic_id: DbUuid,
    external_id: Option<String>,
    display_name: String,
    birth_date: NaiveDate,
    sex: String,
    diagnosis: String,
    research_consent: bool,
    research_consent_changed_at: Option<DbTime>,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
}

impl PatientRow {
    pub fn new(clinic: Uuid, patient: &Patient) -> Self {
        let f = &patient.fields;
        PatientRow {
            id: DbUuid(patient.id),
            clinic_id: DbUuid(clinic),
            external_id: f.external_id.clone(),
            display_name: f.display_name.clone(),
            birth_date: f.birth_date,
            sex: f.sex.code().into(),
            diagnosis: f.diagnosis.clone(),
            research_consent: f.research_consent,
            research_consent_changed_at: Some(DbTime(patient.research_consent_changed_at)),
            version: patient.version,
            created_at: DbTime(patient.created_at),
            updated_at: DbTime(patient.updated_at),
            created_by: DbUuid(patient.created_by),
            updated_by: DbUuid(patient.updated_by),
        }
    }

    pub(crate) fn into_patient(self) -> Patient {
        Patient {
            id: self.id.0,
            fields: PatientFields {
                external_id: self.external_id,
                display_name: self.display_name,
                birth_date: self.birth_date,
                sex: Sex::parse(&self.sex).unwrap_or(Sex::Unknown),
                diagnosis: self.diagnosis,
                research_consent: self.research_consent,
            },
            research_consent_changed_at: self.research_consent_changed_at.unwrap_or(self.created_at).0,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            created_by: self.created_by.0,
            updated_by: self.updated_by.0,
        }
    }
}

impl Patient {
    /// A patient as registered by `by` at `at`: its first version.
    pub fn registered(id: Uuid, fields: PatientFields, by: Uuid, at: DateTime<Utc>) -> Patient {
        Patient { id, fields, research_consent_changed_at: at, version: 1, created_at: at, updated_at: at, created_by: by, updated_by: by }
    }
}

/// The version to keep of a patient as it now stands.
pub fn revision(patient: &Patient) -> NewRevision {
    NewRevision::of(ENTITY, patient.id, patient.version, patient.updated_at, patient, None)
}

impl Kept for Patient {
    type Fields = PatientFields;
    type Input = PatientInput;
    type Owner = ();
    const ENTITY: &'static str = ENTITY;
    const CHANGED: &'static str = "update";

    fn parse(input: &PatientInput, _catalogue: &Catalogue, now: DateTime<Utc>) -> Result<PatientFields, Vec<FieldError>> {
        input.parse(now.date_naive())
    }
    fn to_input(&self) -> PatientInput {
        self.fields.to_input()
    }
    fn id(&self) -> Uuid {
        self.id
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn status(&self) -> RecordStatus {
        RecordStatus::Active
    }
    fn patient_id(&self) -> Option<Uuid> {
        Some(self.id)
    }
    fn check_owner(_conn: &mut Db, _clinic: Uuid, _owner: ()) -> ApiResult<()> {
        Ok(())
    }
    fn owner_id(_owner: ()) -> Option<Uuid> {
        None
    }
    fn list(conn: &mut Db, clinic: Uuid, _owner: (), page: Page) -> ApiResult<(Vec<Self>, Option<Uuid>)> {
        list(conn, clinic, page)
    }
    fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self> {
        find(conn, clinic, id)
    }
    fn new(id: Uuid, _owner: (), fields: PatientFields, by: Uuid, at: DateTime<Utc>) -> Self {
        Patient::registered(id, fields, by, at)
    }
    fn next(&self, fields: PatientFields, _status: RecordStatus, by: Uuid, at: DateTime<Utc>) -> Self {
        // Consent's timestamp moves only when consent itself changes.
        let consent_changed = fields.research_consent != self.fields.research_consent;
        Patient {
            research_consent_changed_at: if consent_changed { at } else { self.research_consent_changed_at },
            fields,
            version: self.version + 1,
            updated_at: at,
            updated_by: by,
            ..self.clone()
        }
    }
    fn insert(&self, conn: &mut Db, clinic: Uuid) -> ApiResult<()> {
        diesel::insert_into(p::table).values(PatientRow::new(clinic, self)).execute(conn).map_err(duplicate_external_id)?;
        Ok(())
    }
    fn overwrite(&self, conn: &mut Db, clinic: Uuid, expected: i32) -> ApiResult<bool> {
        let row = PatientRow::new(clinic, self);
        let changed = diesel::update(p::table.find(DbUuid(self.id)).filter(p::clinic_id.eq(DbUuid(clinic))).filter(p::version.eq(expected)))
            .set(&row)
            .execute(conn)
            .map_err(duplicate_external_id)?;
        Ok(changed == 1)
    }
    fn created_detail(&self) -> Value {
        json!({})
    }
    /// The fields that changed, never their values, except consent's new state.
    fn changed_detail(&self, before: &Self) -> Value {
        let changed = before.fields.changed_fields(&self.fields);
        let mut detail = json!({"version": self.version, "changed": changed});
        if changed.contains(&"research_consent") {
            detail["research_consent"] = json!(self.fields.research_consent);
        }
        detail
    }
}

fn duplicate_external_id(e: diesel::result::Error) -> ApiError {
    match ApiError::from(e) {
        ApiError::Conflict(_) => ApiError::Conflict("external_id is already used by another patient of this clinic".into()),
        other => other,
    }
}

/// The patient if it belongs to the clinic; 404 otherwise, whether or not it exists elsewhere.
pub fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Patient> {
    let row = p::table
        .filter(p::id.eq(DbUuid(id)))
        .filter(p::clinic_id.eq(DbUuid(clinic)))
        .select(PatientRow::as_select())
        .first(conn)
        .optional()?;
    row.map(PatientRow::into_patient).ok_or(ApiError::NotFound)
}

/// The patient's `course_stamp`, which each write of their records draws anew
/// (`summaries::Course::lock`); 404 unless the patient is the clinic's.
pub fn course_stamp(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<i64> {
    let stamp = p::table.filter(p::id.eq(DbUuid(id))).filter(p::clinic_id.eq(DbUuid(clinic))).select(p::course_stamp).first(conn).optional()?;
    stamp.ok_or(ApiError::NotFound)
}

pub fn exists(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<()> {
    let n: i64 = p::table.filter(p::id.eq(DbUuid(id))).filter(p::clinic_id.eq(DbUuid(clinic))).count().get_result(conn)?;
    if n == 1 { Ok(()) } else { Err(ApiError::NotFound) }
}

fn list(conn: &mut Db, clinic: Uuid, page: Page) -> ApiResult<(Vec<Patient>, Option<Uuid>)> {
    let mut query = p::table
        .filter(p::clinic_id.eq(DbUuid(clinic)))
        .select(PatientRow::as_select())
        .order(p::id.asc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(p::id.gt(DbUuid(after)));
    }
    let patients = query.load(conn)?.into_iter().map(PatientRow::into_patient).collect();
    Ok(split_page(patients, page, |p: &Patient| p.id))
}

/// What a trajectory is drawn from: the start of each active session and each active
/// rating as the outcome rules read it. Not audited: `audit_course` on the primary before
/// it is shown (a chart's course may come from a replica).
pub fn course(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<(Vec<DateTime<Utc>>, Vec<RatingPoint>)> {
    // Not found here when the patient is not the clinic's.
    let starts = infusions::active_starts(conn, clinic, id)?;
    let points = assessments::active_points(conn, clinic, id)?;
    Ok((starts, points))
}

pub fn audit_course(conn: &mut Db, actor: &Actor, id: Uuid) -> ApiResult<()> {
    audit_read(conn, actor, "patient.trajectory".into(), ENTITY, Some(id), json!({}))
}
