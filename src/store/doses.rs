//! Doses taken at home (DESIGN.md §10): single-use dose links, the patient's pre-dose
//! check, and the dose the patient records. Every gate is the server's: the page only
//! shows what these answer.

use chrono::{DateTime, Duration, DurationRound, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::assessments::AssessmentRecord;
use super::home_plans::{self, HomePlanRecord};
use super::infusions::InfusionRecord;
use super::invitations::{Question, question};
use super::records::{self, Kept};
use super::summaries::Course;
use super::{Actor, alerts, audit, clinics, webhooks};
use crate::auth::token::{new_refresh_token, refresh_token_hash};
use crate::db::schema::{dose_checks as c, dose_links as l};
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::domain::home::{Decision, NoGo, PreDose, VitalsLimits};
use crate::domain::infusion::{Drug, Guidance, InfusionInput, RecordedBy, Route};
use crate::domain::instruments::{Catalogue, Instrument};
use crate::domain::safety::{AlertKind, AlertLevel};
use crate::domain::scoring::{RatingInput, Recall};
use crate::domain::webhooks::Event;
use crate::error::{ApiError, ApiResult};

/// A go stands for this long: the dose is recorded within it, or the patient checks again.
const GO_LASTS: Duration = Duration::minutes(30);
/// Checks one link takes: enough to recheck a high reading a few times, never unbounded.
const MAX_CHECKS_PER_LINK: i64 = 20;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = l)]
struct LinkRow {
    id: DbUuid,
    clinic_id: DbUuid,
    plan_id: DbUuid,
    token_hash: String,
    expires_at: DbTime,
    created_at: DbTime,
    created_by: DbUuid,
    used_at: Option<DbTime>,
    infusion_id: Option<DbUuid>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = c)]
struct CheckRow {
    id: DbUuid,
    clinic_id: DbUuid,
    link_id: DbUuid,
    plan_id: DbUuid,
    checked_at: DbTime,
    systolic: i32,
    diastolic: i32,
    heart_rate: i32,
    monitor_present: bool,
    go: bool,
    reason: Option<String>,
    vas_assessment_id: Option<DbUuid>,
}

/// A dose link as issued: the token leaves the server here, once.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub home_plan_id: Uuid,
    /// `{public_url}/r/#<token>`: the patient's page, the token in the fragment.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A link for one dose under the plan, valid while the plan is. Earlier links stay usable:
/// a clinic may send the next dose's link ahead, and the plan's count and interval, not
/// the links, limit doses.
pub fn issue(conn: &mut Db, actor: &Actor, plan_id: Uuid, public_url: &str, now: DateTime<Utc>) -> ApiResult<Issued> {
    write_tx(conn, |conn| {
        let plan = HomePlanRecord::find(conn, actor.clinic_id, plan_id)?;
        if !plan.is_active() || now > plan.plan.ends_at {
            return Err(ApiError::Conflict("the plan is not in force: it was entered in error or has ended".into()));
        }
        if plan.plan.next_allowed_at(&plan.doses).is_none() {
            return Err(ApiError::Conflict("the plan has no dose left to take".into()));
        }
        let expires_at = clinics::link_expiry(conn, actor.clinic_id, plan.plan.ends_at, now)?;
        let token = new_refresh_token();
        let row = LinkRow {
            id: DbUuid(Uuid::now_v7()),
            clinic_id: DbUuid(actor.clinic_id),
            plan_id: DbUuid(plan_id),
            token_hash: refresh_token_hash(&token),
            expires_at: DbTime(expires_at),
            created_at: DbTime(now),
            created_by: DbUuid(actor.user_id),
            used_at: None,
            infusion_id: None,
        };
        let link_id = row.id.0;
        diesel::insert_into(l::table).values(row).execute(conn)?;
        let issued = Issued { home_plan_id: plan_id, url: format!("{public_url}/r/#{token}"), expires_at };
        // For the clinic's text or e-mail gateway, like a rating's link: ids, never a name.
        let data = json!({"home_plan_id": plan_id, "patient_id": plan.patient_id, "dose_link_id": link_id, "url": issued.url, "expires_at": expires_at});
        webhooks::emit(conn, actor.clinic_id, Event::InvitationCreated, data, now)?;
        audit::record(conn, actor.audit("dose_link.create", ENTITY, Some(plan_id), json!({"dose_link_id": link_id, "expires_at": expires_at})))?;
        Ok(issued)
    })
}

const ENTITY: &str = home_plans::ENTITY;

/// The link and its plan, if the link can still be used at `now`; every other case is
/// the one answer every unusable link gets (404).
fn usable(conn: &mut Db, token: &str, now: DateTime<Utc>) -> ApiResult<(LinkRow, HomePlanRecord)> {
    let row = l::table.filter(l::token_hash.eq(refresh_token_hash(token))).select(LinkRow::as_select()).first(conn).optional()?;
    let row = row.filter(|r| r.used_at.is_none() && now <= r.expires_at.0).ok_or(ApiError::NotFound)?;
    let plan = HomePlanRecord::find(conn, row.clinic_id.0, row.plan_id.0)?;
    Ok((row, plan))
}

/// Who acts when a patient uses a dose link.
fn patient_of(link: &LinkRow) -> Actor {
    Actor::patient(link.created_by.0, link.clinic_id.0, "dose link")
}

/// What a dose link's page shows: the dose, the limits it is checked against, the
/// optional VAS; no name, no birth date, no clinic.
#[derive(Debug, Clone, Serialize)]
pub struct DoseView {
    pub kind: &'static str,
    pub drug: Drug,
    pub route: Route,
    pub dose_mg: f64,
    pub monitor_required: bool,
    pub vitals_limits: VitalsLimits,
    /// The OCD-VAS the patient may answer before the dose (its bundled wording).
    pub vas: Question,
    /// Until when a go just given still stands (the page goes on to "I took it").
    pub go_until: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

pub fn open(conn: &mut Db, token: &str, now: DateTime<Utc>) -> ApiResult<DoseView> {
    let (link, plan) = usable(conn, token, now)?;
    let go_until = last_go(conn, link.id, now)?.map(|check| check.checked_at.0 + GO_LASTS);
    let vas = Instrument::named("ocd_vas").definition();
    Ok(DoseView {
        kind: "dose",
        drug: plan.plan.drug,
        route: plan.plan.route,
        dose_mg: plan.plan.dose_mg,
        monitor_required: plan.plan.monitor_required,
        vitals_limits: plan.plan.vitals_limits,
        vas: question(&vas.items[0]),
        go_until,
        expires_at: link.expires_at.0,
    })
}

/// The latest go of a link still standing at `now`.
fn last_go(conn: &mut Db, link: DbUuid, now: DateTime<Utc>) -> ApiResult<Option<CheckRow>> {
    let latest: Option<CheckRow> = c::table.filter(c::link_id.eq(link)).order(c::checked_at.desc()).select(CheckRow::as_select()).first(conn).optional()?;
    Ok(latest.filter(|check| check.go && now - check.checked_at.0 <= GO_LASTS))
}

/// The pre-dose check as sent: the readings (already bounded) and the optional VAS.
pub struct CheckIn {
    pub reading: PreDose,
    pub vas: Option<u32>,
}

/// What the page is told after a check: go or no-go, and on a no-go the clinic's advice.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    #[serde(flatten)]
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// Hypertensive crisis: "blood pressure higher than 180/120 mm Hg" (Whelton et al., 2017
/// ACC/AHA guideline, section 11.2). A no-go at or past it is a high alert, below it a
/// moderate one.
fn blocked_level(reading: &PreDose) -> AlertLevel {
    if reading.systolic > 180 || reading.diastolic > 120 { AlertLevel::High } else { AlertLevel::Moderate }
}

/// Judges a pre-dose check against the plan and the doses taken, and keeps it. The VAS,
/// if given, is the session's pre-dose rating (a rating like any other, taken now). A
/// no-go for vitals raises `home_dose_blocked`; every no-go sends `home_dose.blocked`.
/// The link stays usable until it expires.
pub fn check(conn: &mut Db, token: &str, check_in: CheckIn, now: DateTime<Utc>) -> ApiResult<Checked> {
    write_tx(conn, |conn| {
        let (link, plan) = usable(conn, token, now)?;
        let checks: i64 = c::table.filter(c::link_id.eq(link.id)).count().get_result(conn)?;
        if checks >= MAX_CHECKS_PER_LINK {
            return Err(ApiError::Conflict("this link has been checked too many times: please contact your clinic".into()));
        }
        let patient = patient_of(&link);
        let decision = plan.plan.judge(plan.is_active(), &plan.doses, &check_in.reading, now);
        let vas_assessment_id = match check_in.vas {
            Some(value) => Some(pre_dose_rating(conn, &patient, plan.patient_id, value, now)?),
            None => None,
        };
        let reading = check_in.reading;
        let row = CheckRow {
            id: DbUuid(Uuid::now_v7()),
            clinic_id: link.clinic_id,
            link_id: DbUuid(link.id.0),
            plan_id: DbUuid(plan.id),
            checked_at: DbTime(now),
            systolic: reading.systolic as i32,
            diastolic: reading.diastolic as i32,
            heart_rate: reading.heart_rate as i32,
            monitor_present: reading.monitor_present,
            go: decision.go,
            reason: decision.reason.map(|r| r.code().to_string()),
            vas_assessment_id: vas_assessment_id.map(DbUuid),
        };
        let check_id = row.id.0;
        diesel::insert_into(c::table).values(row).execute(conn)?;
        let clinic = patient.clinic_id;
        let mut advice = None;
        if let Some(reason) = decision.reason {
            let vitals = json!({"systolic": reading.systolic, "diastolic": reading.diastolic, "heart_rate": reading.heart_rate});
            let data = json!({"home_plan_id": plan.id, "patient_id": plan.patient_id, "dose_check_id": check_id, "reason": reason.code(), "next_allowed_at": decision.next_allowed_at});
            webhooks::emit(conn, clinic, Event::HomeDoseBlocked, data, now)?;
            if reason == NoGo::VitalsOutOfRange {
                let detail = json!({"home_plan_id": plan.id, "vitals": vitals, "vitals_limits": plan.plan.vitals_limits});
                alerts::raise(conn, clinic, plan.patient_id, AlertKind::HomeDoseBlocked, blocked_level(&reading), check_id, detail, now)?;
            }
            advice = Some(clinics::find(conn, clinic)?.home_dose_advice);
        }
        let detail = json!({"dose_check_id": check_id, "go": decision.go, "reason": decision.reason.map(NoGo::code)});
        audit::record(conn, patient.audit("dose_link.check", ENTITY, Some(plan.id), detail))?;
        Ok(Checked { decision, advice })
    })
}

/// The OCD-VAS given with a check: the patient's own rating, right now.
fn pre_dose_rating(conn: &mut Db, patient: &Actor, patient_id: Uuid, value: u32, now: DateTime<Utc>) -> ApiResult<Uuid> {
    let items = [("1".to_string(), json!(value))].into_iter().collect();
    let input = RatingInput::self_reported(Instrument::named("ocd_vas"), Recall::Now, Some(items), None, now);
    let rating = input.parse(&Catalogue::built_in(), now).map_err(|errors| ApiError::Validation(errors.into_iter().map(|e| crate::domain::FieldError::new("vas", e.message)).collect()))?;
    let record: AssessmentRecord = records::create_within(conn, patient, patient_id, rating)?;
    Ok(record.id)
}

/// What the page is told once the dose is recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub recorded: bool,
    pub taken_at: DateTime<Utc>,
    pub doses_left: u32,
    pub next_allowed_at: Option<DateTime<Utc>>,
}

/// Records the dose: a go within the last 30 minutes is required, and `taken_at` lies
/// between that check (to the minute: the page's clock shows minutes) and now. The plan is
/// locked and judged again at `taken_at` with the doses recorded meanwhile, so of two doses
/// racing on one plan one is recorded and the other refused (409). The session is the
/// plan's drug, route and dose, self-guided, started at `taken_at`, with the check's vitals
/// at minute 0, recorded by the patient under the plan; it plans the protocol's ratings
/// from `taken_at` like any session.
pub fn dose(conn: &mut Db, token: &str, taken_at: DateTime<Utc>, now: DateTime<Utc>) -> ApiResult<Recorded> {
    write_tx(conn, |conn| {
        let (link, plan) = usable(conn, token, now)?;
        let Some(go) = last_go(conn, DbUuid(link.id.0), now)? else {
            return Err(ApiError::Conflict("no go from a pre-dose check in the last 30 minutes: check in first".into()));
        };
        let checked_minute = go.checked_at.0.duration_trunc(Duration::minutes(1)).unwrap_or(go.checked_at.0);
        if taken_at < checked_minute {
            return Err(ApiError::invalid("taken_at", "must not be before the pre-dose check"));
        }
        // The page's clock and the server's may differ by a little, never by more.
        if taken_at > now + Duration::minutes(1) {
            return Err(ApiError::invalid("taken_at", "must not be in the future"));
        }
        // The patient's course first, then the plan: the order every write of the patient's
        // records takes, so a dose and a plan's amendment never wait on each other.
        Course::lock(conn, link.clinic_id.0, plan.patient_id)?;
        let plan = home_plans::lock(conn, link.clinic_id.0, plan.id)?;
        let allowed = plan.plan.allows_dose(plan.is_active(), &plan.doses, taken_at);
        if let Some(reason) = allowed.reason {
            return Err(ApiError::DoseRefused { reason, next_allowed_at: allowed.next_allowed_at });
        }
        let claimed = diesel::update(l::table.find(link.id).filter(l::used_at.is_null())).set(l::used_at.eq(Some(DbTime(now)))).execute(conn)?;
        if claimed == 0 {
            return Err(ApiError::NotFound);
        }
        let patient = patient_of(&link);
        let session = InfusionInput {
            drug: Some(plan.plan.drug.code().into()),
            route: Some(plan.plan.route.code().into()),
            started_at: Some(taken_at.to_rfc3339()),
            dose_mg: Some(plan.plan.dose_mg),
            guidance: Some(Guidance::SelfGuided.code().into()),
            vitals: Some(vec![json!({"minute": 0, "systolic": go.systolic, "diastolic": go.diastolic, "heart_rate": go.heart_rate})]),
            ..InfusionInput::default()
        };
        let mut session = session.parse(now + Duration::minutes(1)).map_err(ApiError::Validation)?;
        session.recorded_by = RecordedBy::Patient;
        session.home_plan_id = Some(plan.id);
        // The link, the event and the link's audit entry go before the session's audit
        // entry, which locks the clinic's audit chain until the commit.
        let link_used = |conn: &mut Db, record: &InfusionRecord| -> ApiResult<Recorded> {
            diesel::update(l::table.find(link.id)).set(l::infusion_id.eq(Some(DbUuid(record.id)))).execute(conn)?;
            let mut doses = plan.doses.clone();
            doses.push(taken_at);
            let doses_left = plan.plan.doses_allowed.saturating_sub(doses.len() as u32);
            let next_allowed_at = plan.plan.next_allowed_at(&doses);
            let data = json!({"home_plan_id": plan.id, "patient_id": plan.patient_id, "infusion_id": record.id, "taken_at": taken_at, "doses_left": doses_left});
            webhooks::emit(conn, patient.clinic_id, Event::HomeDoseRecorded, data, now)?;
            audit::record(conn, patient.audit("dose_link.use", ENTITY, Some(plan.id), json!({"infusion_id": record.id, "dose_check_id": go.id.0})))?;
            Ok(Recorded { recorded: true, taken_at, doses_left, next_allowed_at })
        };
        let (_, recorded) = records::create_within_and(conn, &patient, plan.patient_id, session, link_used)?;
        Ok(recorded)
    })
}
