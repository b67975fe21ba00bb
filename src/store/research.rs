//! What the research export reads of patients: demographics, never names, external ids
//! or notes (cohort analytics read the onset summaries, `store::summaries`).

use chrono::NaiveDate;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{clinics, patients as p};
use crate::db::{Db, DbUuid};
use crate::domain::patient::Sex;
use crate::error::ApiResult;

#[derive(Debug, Clone)]
pub struct Demographics {
    pub id: Uuid,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub diagnosis: String,
}

type DemographicsRow = (DbUuid, NaiveDate, String, String);

fn demographics(row: DemographicsRow) -> Demographics {
    let (id, birth_date, sex, diagnosis) = row;
    Demographics { id: id.0, birth_date, sex: Sex::parse(&sex).unwrap_or(Sex::Unknown), diagnosis }
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
