//! Bulk writes for generated cohorts. Multi-row INSERTs do not compile through the
//! connection enum, so this is the one place that matches on the backend for them.

use diesel::prelude::*;
use uuid::Uuid;

use super::assessments::{self, AssessmentRecord, AssessmentRow};
use super::infusions::{self, InfusionRecord, InfusionRow};
use super::patients::{self, Patient, PatientRow};
use super::home_plans::{self, HomePlanRecord, HomePlanRow};
use super::revisions::{NewRevision, RevisionRow};
use super::Actor;
use crate::db::schema::{assessments as a, home_plans as h, infusions as i, patients as p, revisions as r};
use crate::db::{Db, write_tx};
use crate::domain::patient::PatientFields;
use crate::error::ApiResult;

/// Rows per INSERT: within SQLite's and PostgreSQL's limits on bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Generated records, each already in its final state; every version of each record
/// goes into the revisions table, as a hand-entered one would.
#[derive(Default)]
pub struct Cohort {
    pub patients: Vec<(Uuid, PatientFields, chrono::DateTime<chrono::Utc>)>,
    /// Plans for doses at home; their doses are among `infusions`.
    pub home_plans: Vec<HomePlanRecord>,
    pub infusions: Vec<InfusionRecord>,
    /// Each rating's versions, oldest first, each with the reason it was made (none for
    /// the first); the last is the rating as it stands.
    pub assessments: Vec<Vec<(AssessmentRecord, Option<String>)>>,
}

/// Inserts rows in statements of `ROWS_PER_STATEMENT`.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks($crate::store::bulk::ROWS_PER_STATEMENT) {
            match &mut *$conn {
                $crate::db::Db::Pg(c) => diesel::insert_into($table).values(chunk).execute(c)?,
                $crate::db::Db::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c)?,
            };
        }
    };
}
pub(crate) use insert_all;

/// Writes a cohort in one transaction.
pub fn insert(conn: &mut Db, actor: &Actor, cohort: &Cohort) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let registered: Vec<Patient> = cohort.patients.iter().map(|(id, fields, at)| Patient::registered(*id, fields.clone(), actor.user_id, *at)).collect();
        let rows: Vec<PatientRow> = registered.iter().map(|patient| PatientRow::new(actor.clinic_id, patient)).collect();
        insert_all!(conn, p::table, rows);
        let plans: Vec<HomePlanRow> = cohort.home_plans.iter().map(|plan| HomePlanRow::new(actor.clinic_id, plan)).collect();
        insert_all!(conn, h::table, plans);
        let sessions: Vec<InfusionRow> = cohort.infusions.iter().map(|s| InfusionRow::new(actor.clinic_id, s)).collect();
        insert_all!(conn, i::table, sessions);
        let ratings: Vec<AssessmentRow> =
            cohort.assessments.iter().filter_map(|versions| versions.last()).map(|(current, _)| AssessmentRow::new(actor.clinic_id, current)).collect();
        insert_all!(conn, a::table, ratings);
        let mut kept: Vec<RevisionRow> = registered.iter().map(|patient| RevisionRow::new(actor, patients::revision(patient))).collect();
        kept.extend(cohort.home_plans.iter().map(|plan| RevisionRow::new(actor, NewRevision::of(home_plans::ENTITY, plan.id, plan.version, plan.updated_at, plan, None))));
        kept.extend(cohort.infusions.iter().map(|s| RevisionRow::new(actor, infusions::revision(s, None))));
        for (version, reason) in cohort.assessments.iter().flatten() {
            kept.push(RevisionRow::new(actor, assessments::revision(version, reason.as_deref())));
        }
        insert_all!(conn, r::table, kept);
        Ok(())
    })
}
