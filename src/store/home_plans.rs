//! Home plans (DESIGN.md §10), kept with their history like every clinical record, and
//! the doses taken under each: read from the sessions the patient recorded, so a dose
//! entered in error stops counting and nothing keeps a second count to drift.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::{Kept, patient_record_table};
use super::stored;
use crate::db::schema::{home_plans as h, infusions as i, protocols as p};
use crate::db::{Db, DbTime, DbUuid};
use crate::domain::RecordStatus;
use crate::domain::home::{HomePlan, HomePlanInput, VitalsLimits};
use crate::domain::infusion::{Drug, Route};
use crate::domain::protocol::IsoDuration;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::domain::instruments::Catalogue;

pub const ENTITY: &str = "home_plan";

#[derive(Debug, Clone, Serialize)]
pub struct HomePlanRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    #[serde(flatten)]
    pub plan: HomePlan,
    pub status: RecordStatus,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    /// When each active dose under the plan was taken (read with the plan, not kept in it).
    #[serde(skip)]
    pub doses: Vec<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = h, treat_none_as_null = true)]
pub struct HomePlanRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    drug: String,
    route: String,
    dose_mg: f64,
    doses_allowed: i32,
    min_interval: String,
    starts_at: DbTime,
    ends_at: DbTime,
    systolic_max: i32,
    diastolic_max: i32,
    heart_rate_max: i32,
    monitor_required: bool,
    protocol_id: Option<DbUuid>,
    notes: Option<String>,
    status: String,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
}

impl HomePlanRow {
    pub fn new(clinic: Uuid, r: &HomePlanRecord) -> Self {
        let plan = &r.plan;
        HomePlanRow {
            id: DbUuid(r.id),
            clinic_id: DbUuid(clinic),
            patient_id: DbUuid(r.patient_id),
            drug: plan.drug.code().into(),
            route: plan.route.code().into(),
            dose_mg: plan.dose_mg,
            doses_allowed: plan.doses_allowed as i32,
            min_interval: plan.min_interval.clone().into(),
            starts_at: DbTime(plan.starts_at),
            ends_at: DbTime(plan.ends_at),
            systolic_max: plan.vitals_limits.systolic_max as i32,
            diastolic_max: plan.vitals_limits.diastolic_max as i32,
            heart_rate_max: plan.vitals_limits.heart_rate_max as i32,
            monitor_required: plan.monitor_required,
            protocol_id: plan.protocol_id.map(DbUuid),
            notes: plan.notes.clone(),
            status: r.status.code().into(),
            version: r.version,
            created_at: DbTime(r.created_at),
            updated_at: DbTime(r.updated_at),
            created_by: DbUuid(r.created_by),
            updated_by: DbUuid(r.updated_by),
        }
    }

    /// Rows read together, as records.
    fn into_records(_conn: &mut Db, rows: Vec<Self>) -> ApiResult<Vec<HomePlanRecord>> {
        rows.into_iter().map(Self::into_record).collect()
    }

    fn into_record(self) -> ApiResult<HomePlanRecord> {
        let plan = HomePlan {
            drug: stored("drug", Drug::parse(&self.drug))?,
            route: stored("route", Route::parse(&self.route))?,
            dose_mg: self.dose_mg,
            doses_allowed: self.doses_allowed as u32,
            min_interval: stored("min_interval", IsoDuration::parse(&self.min_interval).ok())?,
            starts_at: self.starts_at.0,
            ends_at: self.ends_at.0,
            vitals_limits: VitalsLimits {
                systolic_max: self.systolic_max as u32,
                diastolic_max: self.diastolic_max as u32,
                heart_rate_max: self.heart_rate_max as u32,
            },
            monitor_required: self.monitor_required,
            protocol_id: self.protocol_id.map(|id| id.0),
            notes: self.notes,
        };
        Ok(HomePlanRecord {
            id: self.id.0,
            patient_id: self.patient_id.0,
            plan,
            status: stored("status", RecordStatus::parse(&self.status))?,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            created_by: self.created_by.0,
            updated_by: self.updated_by.0,
            doses: Vec::new(),
        })
    }
}

/// When each active dose of these plans was taken, by plan.
pub fn doses_of(conn: &mut Db, plans: &[Uuid]) -> ApiResult<HashMap<Uuid, Vec<DateTime<Utc>>>> {
    let ids: Vec<DbUuid> = plans.iter().copied().map(DbUuid).collect();
    let rows: Vec<(Option<DbUuid>, DbTime)> = i::table
        .filter(i::home_plan_id.eq_any(ids))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .select((i::home_plan_id, i::started_at))
        .load(conn)?;
    let mut by_plan: HashMap<Uuid, Vec<DateTime<Utc>>> = HashMap::new();
    for (plan, taken) in rows {
        if let Some(plan) = plan {
            by_plan.entry(plan.0).or_default().push(taken.0);
        }
    }
    Ok(by_plan)
}

impl HomePlanRecord {
    pub fn is_active(&self) -> bool {
        self.status == RecordStatus::Active
    }
}

impl Kept for HomePlanRecord {
    type Fields = HomePlan;
    type Input = HomePlanInput;
    type Owner = Uuid;
    const ENTITY: &'static str = ENTITY;

    patient_record_table!(h, HomePlanRow);

    fn parse(input: &HomePlanInput, _catalogue: &Catalogue, _now: DateTime<Utc>) -> Result<HomePlan, Vec<FieldError>> {
        input.parse()
    }
    fn to_input(&self) -> HomePlanInput {
        self.plan.to_input()
    }
    /// Reads each plan's doses, so a view can say how many are used and when the next is allowed.
    fn annotate(conn: &mut Db, mut records: Vec<Self>) -> ApiResult<Vec<Self>> {
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        let mut doses = doses_of(conn, &ids)?;
        for record in &mut records {
            record.doses = doses.remove(&record.id).unwrap_or_default();
        }
        Ok(records)
    }
    /// The plan with what staff need at a glance: doses used and left, the last dose and
    /// when the next is allowed (null when none is: every dose used, or the plan over).
    fn view(&self) -> Value {
        let mut view = serde_json::to_value(self).expect("plain data serialises");
        let used = self.doses.len() as u32;
        view["doses_used"] = json!(used);
        view["doses_left"] = json!(self.plan.doses_allowed.saturating_sub(used));
        view["last_dose_at"] = json!(self.doses.iter().max());
        view["next_allowed_at"] = json!(if self.is_active() { self.plan.next_allowed_at(&self.doses) } else { None });
        view
    }
    fn new(id: Uuid, patient: Uuid, plan: HomePlan, by: Uuid, at: DateTime<Utc>) -> Self {
        HomePlanRecord {
            id,
            patient_id: patient,
            plan,
            status: RecordStatus::Active,
            version: 1,
            created_at: at,
            updated_at: at,
            created_by: by,
            updated_by: by,
            doses: Vec::new(),
        }
    }
    fn next(&self, plan: HomePlan, status: RecordStatus, by: Uuid, at: DateTime<Utc>) -> Self {
        HomePlanRecord { plan, status, version: self.version + 1, updated_at: at, updated_by: by, ..self.clone() }
    }
    /// A plan's protocol must be one of the clinic's (422 naming the field).
    fn check_references(&self, conn: &mut Db, clinic: Uuid) -> ApiResult<()> {
        if let Some(protocol) = self.plan.protocol_id {
            let found: i64 = p::table.filter(p::id.eq(DbUuid(protocol))).filter(p::clinic_id.eq(DbUuid(clinic))).count().get_result(conn)?;
            if found == 0 {
                return Err(ApiError::invalid("protocol_id", "no such protocol in this clinic"));
            }
        }
        Ok(())
    }
    fn created_detail(&self) -> Value {
        json!({"patient_id": self.patient_id, "doses_allowed": self.plan.doses_allowed})
    }
}

/// The plan a dose link is for, locked until the transaction ends (PostgreSQL's row lock;
/// SQLite's write lock already serialises writers), with its doses read after the lock:
/// two doses racing on one plan are judged one after the other, never both against the
/// count before either.
pub fn lock(conn: &mut Db, clinic: Uuid, plan: Uuid) -> ApiResult<HomePlanRecord> {
    diesel::update(h::table.find(DbUuid(plan)).filter(h::clinic_id.eq(DbUuid(clinic)))).set(h::version.eq(h::version)).execute(conn)?;
    HomePlanRecord::find(conn, clinic, plan)
}

/// A plan's protocol is attached to its patient when the plan is made or changed, unless
/// it already is: its ratings are then planned after each dose (DESIGN.md §10), and after
/// the patient's clinic sessions too, as a protocol attached by hand would be.
pub fn follow_protocol(conn: &mut Db, actor: &super::Actor, plan: Uuid, patient: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    let record = HomePlanRecord::find(conn, actor.clinic_id, plan)?;
    let Some(protocol) = record.plan.protocol_id.filter(|_| record.is_active()) else { return Ok(()) };
    if super::due::is_attached(conn, patient, protocol)? {
        return Ok(());
    }
    let protocol = super::protocols::Protocol::find(conn, actor.clinic_id, protocol)?;
    super::due::attach_within(conn, actor, patient, &protocol, now).map(|_| ())
}
