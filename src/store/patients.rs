//! Patients of a clinic.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::revisions::{self, NewRevision};
use super::{Actor, Page, audit, now, split_page};
use crate::db::schema::patients as p;
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::domain::patient::{PatientFields, Sex};
use crate::error::{ApiError, ApiResult};

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
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = p)]
struct PatientRow {
    id: DbUuid,
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
}

impl PatientRow {
    fn into_patient(self) -> Patient {
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
        }
    }
}

fn duplicate_external_id(e: diesel::result::Error) -> ApiError {
    match ApiError::from(e) {
        ApiError::Conflict(_) => ApiError::Conflict("external_id is already used by another patient of this clinic".into()),
        other => other,
    }
}

/// The row a new patient becomes.
#[derive(Insertable)]
#[diesel(table_name = p)]
pub struct NewPatientRow {
    id: DbUuid,
    clinic_id: DbUuid,
    external_id: Option<String>,
    display_name: String,
    birth_date: NaiveDate,
    sex: &'static str,
    diagnosis: String,
    research_consent: bool,
    research_consent_changed_at: DbTime,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
}

impl NewPatientRow {
    pub fn new(actor: &Actor, id: Uuid, fields: &PatientFields, at: DateTime<Utc>) -> Self {
        NewPatientRow {
            id: DbUuid(id),
            clinic_id: DbUuid(actor.clinic_id),
            external_id: fields.external_id.clone(),
            display_name: fields.display_name.clone(),
            birth_date: fields.birth_date,
            sex: fields.sex.code(),
            diagnosis: fields.diagnosis.clone(),
            research_consent: fields.research_consent,
            research_consent_changed_at: DbTime(at),
            version: 1,
            created_at: DbTime(at),
            updated_at: DbTime(at),
            created_by: DbUuid(actor.user_id),
            updated_by: DbUuid(actor.user_id),
        }
    }
}

/// Inside the caller's write transaction (see `idempotency::once`).
pub fn create(conn: &mut Db, actor: &Actor, fields: &PatientFields) -> ApiResult<Patient> {
    let (id, at) = (Uuid::now_v7(), now());
    diesel::insert_into(p::table).values(NewPatientRow::new(actor, id, fields, at)).execute(conn).map_err(duplicate_external_id)?;
    audit::record(conn, actor.audit("patient.create", ENTITY, Some(id), json!({})))?;
    let patient = Patient::registered(id, fields.clone(), at);
    revisions::record(conn, actor, revision(&patient))?;
    Ok(patient)
}

/// What revisions and the audit call a patient.
pub const ENTITY: &str = "patient";

/// The version to keep of a patient as it now stands.
pub fn revision(patient: &Patient) -> NewRevision {
    NewRevision::of(ENTITY, patient.id, patient.version, patient.updated_at, patient, None)
}

impl Patient {
    /// A patient as registered at `at`: its first version.
    pub fn registered(id: Uuid, fields: PatientFields, at: DateTime<Utc>) -> Patient {
        Patient { id, fields, research_consent_changed_at: at, version: 1, created_at: at, updated_at: at }
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

pub fn exists(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<()> {
    let n: i64 = p::table.filter(p::id.eq(DbUuid(id))).filter(p::clinic_id.eq(DbUuid(clinic))).count().get_result(conn)?;
    if n == 1 { Ok(()) } else { Err(ApiError::NotFound) }
}

pub fn list(conn: &mut Db, clinic: Uuid, page: Page) -> ApiResult<(Vec<Patient>, Option<Uuid>)> {
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
    Ok(split_page(patients, page, |p| p.id))
}

/// Replaces the patient's fields if it is still at `expected_version` (else 412). The
/// audit names the fields that changed, never their values, except consent's new state.
pub fn update(conn: &mut Db, actor: &Actor, id: Uuid, current: &Patient, fields: &PatientFields) -> ApiResult<Patient> {
    let expected_version = current.version;
    let changed_fields = current.fields.changed_fields(fields);
    let consent_changed = changed_fields.contains(&"research_consent");
    let at = now();
    write_tx(conn, |conn| {
        let consent_changed_at = if consent_changed { DbTime(at) } else { DbTime(current.research_consent_changed_at) };
        let changed = diesel::update(
            p::table.filter(p::id.eq(DbUuid(id))).filter(p::clinic_id.eq(DbUuid(actor.clinic_id))).filter(p::version.eq(expected_version)),
        )
        .set((
            p::external_id.eq(&fields.external_id),
            p::display_name.eq(&fields.display_name),
            p::birth_date.eq(fields.birth_date),
            p::sex.eq(fields.sex.code()),
            p::diagnosis.eq(&fields.diagnosis),
            p::research_consent.eq(fields.research_consent),
            p::research_consent_changed_at.eq(Some(consent_changed_at)),
            p::version.eq(expected_version + 1),
            p::updated_at.eq(DbTime(at)),
            p::updated_by.eq(DbUuid(actor.user_id)),
        ))
        .execute(conn)
        .map_err(duplicate_external_id)?;
        if changed == 0 {
            exists(conn, actor.clinic_id, id)?;
            return Err(ApiError::PreconditionFailed);
        }
        let mut detail = json!({"version": expected_version + 1, "changed": changed_fields});
        if consent_changed {
            detail["research_consent"] = json!(fields.research_consent);
        }
        audit::record(conn, actor.audit("patient.update", "patient", Some(id), detail))?;
        let patient = find(conn, actor.clinic_id, id)?;
        revisions::record(conn, actor, revision(&patient))?;
        Ok(patient)
    })
}
