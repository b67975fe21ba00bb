//! What cohort analytics and the research export read: demographics, session facts and
//! ratings, never names, external ids or notes.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::assessments::{PointColumns, stored_point};
use crate::db::schema::{assessments as a, clinics, infusions as i, patients as p};
use crate::db::{Db, DbTime, DbUuid};
use crate::domain::RecordStatus;
use crate::domain::infusion::{Drug, Guidance, Route};
use crate::domain::instruments::Instrument;
use crate::domain::patient::Sex;
use crate::domain::trajectory::RatingPoint;
use crate::error::ApiResult;

#[derive(Debug, Clone)]
pub struct Demographics {
    pub id: Uuid,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub diagnosis: String,
}

#[derive(Debug, Clone)]
pub struct SessionFact {
    pub patient_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub drug: Option<Drug>,
    pub route: Option<Route>,
    pub guidance: Option<Guidance>,
}

type DemographicsRow = (DbUuid, NaiveDate, String, String);

fn demographics(row: DemographicsRow) -> Demographics {
    let (id, birth_date, sex, diagnosis) = row;
    Demographics { id: id.0, birth_date, sex: Sex::parse(&sex).unwrap_or(Sex::Unknown), diagnosis }
}

/// A page of a cohort's inputs: patients (demographics only), their active sessions, and
/// their active ratings of one instrument, and nothing else.
pub struct CohortInputs {
    pub patients: Vec<Demographics>,
    pub sessions: Vec<SessionFact>,
    pub ratings: Vec<(Uuid, RatingPoint)>,
}

/// One page of a cohort: up to `limit` of the clinic's patients after `after` (by id),
/// with their active sessions and their active ratings of `instrument`.
pub fn cohort_page(
    conn: &mut Db,
    clinic: Uuid,
    instrument: Instrument,
    sex: Option<Sex>,
    consenting_only: bool,
    after: Option<Uuid>,
    limit: i64,
) -> ApiResult<CohortInputs> {
    let mut patients_query = p::table
        .filter(p::clinic_id.eq(DbUuid(clinic)))
        .select((p::id, p::birth_date, p::sex, p::diagnosis))
        .order(p::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(sex) = sex {
        patients_query = patients_query.filter(p::sex.eq(sex.code()));
    }
    if consenting_only {
        patients_query = patients_query.filter(p::research_consent.eq(true));
    }
    if let Some(after) = after {
        patients_query = patients_query.filter(p::id.gt(DbUuid(after)));
    }
    let patients: Vec<Demographics> = patients_query.load::<DemographicsRow>(conn)?.into_iter().map(demographics).collect();
    let Some(last) = patients.last().map(|p| DbUuid(p.id)) else {
        return Ok(CohortInputs { patients, sessions: Vec::new(), ratings: Vec::new() });
    };
    // The page's records are an id range, one contiguous stretch of each covering index
    // (an id list made PostgreSQL scan the whole clinic for every page).
    let first = after.map(DbUuid);
    let sessions: Vec<(DbUuid, DbTime, String, String, Option<String>)> = i::table
        .filter(i::clinic_id.eq(DbUuid(clinic)))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .filter(i::patient_id.le(last))
        .filter(i::patient_id.gt(first.unwrap_or(DbUuid(Uuid::nil()))))
        .select((i::patient_id, i::started_at, i::drug, i::route, i::guidance))
        .load(conn)?;
    let ratings: Vec<(DbUuid, PointColumns)> = a::table
        .filter(a::clinic_id.eq(DbUuid(clinic)))
        .filter(a::instrument.eq(instrument.code()))
        .filter(a::status.eq(RecordStatus::Active.code()))
        .filter(a::patient_id.le(last))
        .filter(a::patient_id.gt(first.unwrap_or(DbUuid(Uuid::nil()))))
        .select((a::patient_id, (a::id, a::instrument, a::rated_at, a::recall, a::total, a::cgi_s, a::cgi_i)))
        .load(conn)?;
    Ok(CohortInputs {
        patients,
        sessions: sessions
            .into_iter()
            .map(|(patient, started, drug, route, guidance)| SessionFact {
                patient_id: patient.0,
                started_at: started.0,
                drug: Drug::parse(&drug),
                route: Route::parse(&route),
                guidance: guidance.as_deref().and_then(Guidance::parse),
            })
            .collect(),
        ratings: ratings.into_iter().map(|(patient, columns)| Ok((patient.0, stored_point(columns)?))).collect::<ApiResult<_>>()?,
    })
}

/// A page of consenting patients by id, for the export (`clinic`: one, or all).
pub fn consenting_patients(conn: &mut Db, clinic: Option<Uuid>, after: Option<Uuid>, limit: i64) -> ApiResult<Vec<Demographics>> {
    let mut query = p::table
        .filter(p::research_consent.eq(true))
        .select((p::id, p::birth_date, p::sex, p::diagnosis))
        .order(p::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(clinic) = clinic {
        query = query.filter(p::clinic_id.eq(DbUuid(clinic)));
    }
    if let Some(after) = after {
        query = query.filter(p::id.gt(DbUuid(after)));
    }
    Ok(query.load::<DemographicsRow>(conn)?.into_iter().map(demographics).collect())
}

/// A clinic's id by its name (the offline export command).
pub fn clinic_by_name(conn: &mut Db, name: &str) -> ApiResult<Option<Uuid>> {
    Ok(clinics::table.filter(clinics::name.eq(name)).select(clinics::id).first::<DbUuid>(conn).optional()?.map(|id| id.0))
}

/// Every clinic's id (the offline export of every clinic audits one entry per clinic).
pub fn clinic_ids(conn: &mut Db) -> ApiResult<Vec<Uuid>> {
    Ok(clinics::table.select(clinics::id).order(clinics::id.asc()).load::<DbUuid>(conn)?.into_iter().map(|id| id.0).collect())
}
