//! Doses taken at home (DESIGN.md §10): the plan a clinician writes, and the gates a
//! patient's pre-dose check and dose pass before a home dose is recorded. Pure rules;
//! the store reads the plan's doses and applies them.
//!
//! The gates follow what remote ketamine programmes check before each dose: blood
//! pressure and heart rate under the plan's limits (160/90 mmHg and 100/min unless the
//! clinician sets others: the usual pre-dose hold of at-home protocols, as DESIGN.md §10
//! has it), a sober adult present, no more doses than prescribed, and a minimum interval
//! between doses. Esketamine is refused: its REMS restricts administration to certified
//! healthcare settings under observation ("SPRAVATO is only available through a restricted
//! program ... administered ... in a healthcare setting"), so it is never taken at home.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::FieldError;
use super::fields::{bounded_int, free_text, one_of, parse_instant, required, vocabulary};
use super::infusion::{Drug, Route};
use super::protocol::IsoDuration;

vocabulary!(NoGo {
    VitalsOutOfRange = "vitals_out_of_range",
    MonitorAbsent = "monitor_absent",
    TooSoon = "too_soon",
    NoDosesLeft = "no_doses_left",
    PlanNotActive = "plan_not_active",
});

/// The routes a dose taken at home may use; the clinic's own (IV, IM, subcutaneous) never.
pub const HOME_ROUTES: [Route; 3] = [Route::Sublingual, Route::Oral, Route::Intranasal];

/// The vitals above which a dose is not taken: a reading equal to a limit passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VitalsLimits {
    pub systolic_max: u32,
    pub diastolic_max: u32,
    pub heart_rate_max: u32,
}

impl Default for VitalsLimits {
    /// 160/90 mmHg and 100 beats a minute (DESIGN.md §10, a common remote-treatment rule).
    fn default() -> Self {
        VitalsLimits { systolic_max: 160, diastolic_max: 90, heart_rate_max: 100 }
    }
}

/// A plan as a client sends it; every field optional so a merge patch can be laid over it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomePlanInput {
    pub drug: Option<String>,
    pub route: Option<String>,
    pub dose_mg: Option<f64>,
    pub doses_allowed: Option<Value>,
    pub min_interval: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub vitals_limits: Option<Value>,
    pub monitor_required: Option<bool>,
    pub protocol_id: Option<Uuid>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HomePlan {
    pub drug: Drug,
    pub route: Route,
    pub dose_mg: f64,
    pub doses_allowed: u32,
    pub min_interval: IsoDuration,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub vitals_limits: VitalsLimits,
    pub monitor_required: bool,
    pub protocol_id: Option<Uuid>,
    pub notes: Option<String>,
}

pub const MAX_DOSES: i64 = 24;
const MAX_DOSE_MG: f64 = 1_000.0;
/// A plan runs at most a year; it is renewed, not left open.
const MAX_PLAN_DAYS: i64 = 366;
/// Between an hour and 90 days between doses.
const MIN_INTERVAL: Duration = Duration::hours(1);
const MAX_INTERVAL_DAYS: i64 = 90;
const MAX_NOTES: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsInput {
    systolic_max: Option<Value>,
    diastolic_max: Option<Value>,
    heart_rate_max: Option<Value>,
}

fn limits(errors: &mut Vec<FieldError>, given: Option<&Value>) -> VitalsLimits {
    let default = VitalsLimits::default();
    let Some(value) = given.filter(|v| !v.is_null()) else { return default };
    let input: LimitsInput = match super::fields::from_value(value.clone()) {
        Ok(input) => input,
        Err(e) => {
            let field = if e.field == "body" { "vitals_limits".to_string() } else { format!("vitals_limits.{}", e.field.trim_start_matches('.')) };
            errors.push(FieldError::new(field, e.message));
            return default;
        }
    };
    // Limits a clinician could mean: never so low that no one doses, nor so high that the check means nothing.
    let mut one = |field: &str, v: Option<&Value>, min: i64, max: i64, fallback: u32| {
        bounded_int(errors, &format!("vitals_limits.{field}"), v, min, max).unwrap_or(fallback)
    };
    VitalsLimits {
        systolic_max: one("systolic_max", input.systolic_max.as_ref(), 100, 200, default.systolic_max),
        diastolic_max: one("diastolic_max", input.diastolic_max.as_ref(), 60, 120, default.diastolic_max),
        heart_rate_max: one("heart_rate_max", input.heart_rate_max.as_ref(), 60, 150, default.heart_rate_max),
    }
}

impl HomePlanInput {
    pub fn parse(&self) -> Result<HomePlan, Vec<FieldError>> {
        let mut e = Vec::new();
        let drug = required(&mut e, "drug", &self.drug);
        let drug = one_of(&mut e, "drug", drug, Drug::parse, &Drug::codes());
        if drug == Some(Drug::Esketamine) {
            e.push(FieldError::new("drug", "esketamine is never taken at home: its REMS restricts it to certified healthcare settings"));
        }
        let route = required(&mut e, "route", &self.route);
        let route = one_of(&mut e, "route", route, |code| Route::parse(code).filter(|r| HOME_ROUTES.contains(r)), &HOME_ROUTES.map(Route::code));
        let dose_mg = match self.dose_mg {
            None => {
                e.push(FieldError::new("dose_mg", "required"));
                None
            }
            Some(d) if d > 0.0 && d <= MAX_DOSE_MG => Some(d),
            Some(_) => {
                e.push(FieldError::new("dose_mg", format!("must be greater than 0 and at most {MAX_DOSE_MG}")));
                None
            }
        };
        if self.doses_allowed.is_none() {
            e.push(FieldError::new("doses_allowed", "required"));
        }
        let doses_allowed = bounded_int(&mut e, "doses_allowed", self.doses_allowed.as_ref(), 1, MAX_DOSES);
        let min_interval = required(&mut e, "min_interval", &self.min_interval).and_then(|text| match IsoDuration::parse(text) {
            Ok(d) if d.length() >= MIN_INTERVAL && d.length() <= Duration::days(MAX_INTERVAL_DAYS) => Some(d),
            Ok(_) => {
                e.push(FieldError::new("min_interval", format!("must be from PT1H to P{MAX_INTERVAL_DAYS}D")));
                None
            }
            Err(message) => {
                e.push(FieldError::new("min_interval", message));
                None
            }
        });
        let mut instant = |field: &str, value: &Option<String>| required(&mut e, field, value).and_then(|t| parse_instant(field, t).map_err(|err| e.push(err)).ok());
        let starts_at = instant("starts_at", &self.starts_at);
        let ends_at = instant("ends_at", &self.ends_at);
        if let (Some(start), Some(end)) = (starts_at, ends_at) {
            if end <= start {
                e.push(FieldError::new("ends_at", "must be after starts_at"));
            } else if end - start > Duration::days(MAX_PLAN_DAYS) {
                e.push(FieldError::new("ends_at", format!("a plan runs at most {MAX_PLAN_DAYS} days")));
            }
        }
        let vitals_limits = limits(&mut e, self.vitals_limits.as_ref());
        let notes = free_text(&mut e, "notes", &self.notes, MAX_NOTES);
        match (drug, route, dose_mg, doses_allowed, min_interval, starts_at, ends_at) {
            (Some(drug), Some(route), Some(dose_mg), Some(doses_allowed), Some(min_interval), Some(starts_at), Some(ends_at)) if e.is_empty() => Ok(HomePlan {
                drug,
                route,
                dose_mg,
                doses_allowed,
                min_interval,
                starts_at,
                ends_at,
                vitals_limits,
                monitor_required: self.monitor_required.unwrap_or(true),
                protocol_id: self.protocol_id,
                notes,
            }),
            _ => Err(e),
        }
    }
}

/// A patient's pre-dose check-in as sent from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreDose {
    pub systolic: u32,
    pub diastolic: u32,
    pub heart_rate: u32,
    pub monitor_present: bool,
}

/// What a check or a dose is told: go, or the first reason not to and, when waiting
/// helps, when the next dose is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub go: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NoGo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_allowed_at: Option<DateTime<Utc>>,
}

impl Decision {
    fn go() -> Self {
        Decision { go: true, reason: None, next_allowed_at: None }
    }
    fn no(reason: NoGo, next_allowed_at: Option<DateTime<Utc>>) -> Self {
        Decision { go: false, reason: Some(reason), next_allowed_at }
    }
}

impl HomePlan {
    /// When the next dose may be taken, given the times of the doses already taken under
    /// the plan: the later of the plan's start and the last dose plus the interval; none
    /// once every dose is used or the plan has ended.
    pub fn next_allowed_at(&self, doses: &[DateTime<Utc>]) -> Option<DateTime<Utc>> {
        if doses.len() as u32 >= self.doses_allowed {
            return None;
        }
        let after_last = doses.iter().max().map(|last| *last + self.min_interval.length());
        let next = after_last.map_or(self.starts_at, |t| t.max(self.starts_at));
        (next <= self.ends_at).then_some(next)
    }

    /// Whether a dose may be taken at `at`, before anything the patient reports: the plan
    /// in force, a dose left, and no other dose closer than the interval (on either side:
    /// a dose recorded with a later time counts as much as an earlier one).
    pub fn allows_dose(&self, active: bool, doses: &[DateTime<Utc>], at: DateTime<Utc>) -> Decision {
        if !active || at < self.starts_at || at > self.ends_at {
            return Decision::no(NoGo::PlanNotActive, None);
        }
        if doses.len() as u32 >= self.doses_allowed {
            return Decision::no(NoGo::NoDosesLeft, None);
        }
        let interval = self.min_interval.length();
        if doses.iter().any(|d| (at - *d).abs() < interval) {
            return Decision::no(NoGo::TooSoon, self.next_allowed_at(doses));
        }
        Decision::go()
    }

    /// The pre-dose check: the plan's own gates first, then the patient's vitals against
    /// the limits (a reading equal to a limit passes), then the sober monitor.
    pub fn judge(&self, active: bool, doses: &[DateTime<Utc>], check: &PreDose, at: DateTime<Utc>) -> Decision {
        let plan = self.allows_dose(active, doses, at);
        if !plan.go {
            return plan;
        }
        let l = &self.vitals_limits;
        if check.systolic > l.systolic_max || check.diastolic > l.diastolic_max || check.heart_rate > l.heart_rate_max {
            return Decision::no(NoGo::VitalsOutOfRange, None);
        }
        if self.monitor_required && !check.monitor_present {
            return Decision::no(NoGo::MonitorAbsent, None);
        }
        Decision::go()
    }

    pub fn to_input(&self) -> HomePlanInput {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        HomePlanInput {
            drug: Some(self.drug.code().into()),
            route: Some(self.route.code().into()),
            dose_mg: Some(self.dose_mg),
            doses_allowed: Some(Value::from(self.doses_allowed)),
            min_interval: Some(self.min_interval.clone().into()),
            starts_at: Some(time(self.starts_at)),
            ends_at: Some(time(self.ends_at)),
            vitals_limits: Some(serde_json::to_value(self.vitals_limits).expect("plain data serialises")),
            monitor_required: Some(self.monitor_required),
            protocol_id: self.protocol_id,
            notes: self.notes.clone(),
        }
    }
}

/// Bounds of what a home blood pressure cuff or pulse reading can be: beyond them the
/// reading is a typing slip, refused with 422 rather than judged.
pub fn check_reading(errors: &mut Vec<FieldError>, field: &str, value: Option<&Value>, min: i64, max: i64) -> Option<u32> {
    if value.is_none_or(Value::is_null) {
        errors.push(FieldError::new(field, "required"));
        return None;
    }
    bounded_int(errors, field, value, min, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        parse_instant("t", text).unwrap()
    }

    fn plan() -> HomePlan {
        HomePlanInput {
            drug: Some("ketamine".into()),
            route: Some("sublingual".into()),
            dose_mg: Some(200.0),
            doses_allowed: Some(json!(2)),
            min_interval: Some("P3D".into()),
            starts_at: Some("2026-06-01T00:00:00Z".into()),
            ends_at: Some("2026-06-30T00:00:00Z".into()),
            ..Default::default()
        }
        .parse()
        .unwrap()
    }

    const CALM: PreDose = PreDose { systolic: 120, diastolic: 80, heart_rate: 70, monitor_present: true };

    #[test]
    fn a_plan_defaults_to_160_90_and_100_with_a_monitor() {
        let p = plan();
        assert_eq!(p.vitals_limits, VitalsLimits { systolic_max: 160, diastolic_max: 90, heart_rate_max: 100 });
        assert!(p.monitor_required);
        let again = p.to_input().parse().unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn esketamine_and_clinic_routes_are_refused_and_every_field_is_named() {
        let input = HomePlanInput {
            drug: Some("esketamine".into()),
            route: Some("iv".into()),
            dose_mg: Some(0.0),
            doses_allowed: Some(json!(25)),
            min_interval: Some("PT30M".into()),
            starts_at: Some("2026-06-01T00:00:00Z".into()),
            ends_at: Some("2026-05-01T00:00:00Z".into()),
            vitals_limits: Some(json!({"systolic_max": 250, "pulse": 3})),
            ..Default::default()
        };
        let mut fields: Vec<String> = input.parse().unwrap_err().into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(fields, ["dose_mg", "doses_allowed", "drug", "ends_at", "min_interval", "route", "vitals_limits.pulse"]);
        let limits = HomePlanInput { vitals_limits: Some(json!({"systolic_max": 250})), ..plan().to_input() };
        assert_eq!(limits.parse().unwrap_err()[0].field, "vitals_limits.systolic_max");
        assert_eq!(HomePlanInput::default().parse().unwrap_err().len(), 7, "drug, route, dose, count, interval, start, end");
    }

    #[test]
    fn vitals_at_the_limit_pass_and_one_above_blocks() {
        let p = plan();
        let now = at("2026-06-02T10:00:00Z");
        let judge = |check: PreDose| p.judge(true, &[], &check, now);
        assert!(judge(PreDose { systolic: 160, diastolic: 90, heart_rate: 100, ..CALM }).go, "160/90 and 100 are within the limits");
        for high in [PreDose { systolic: 161, ..CALM }, PreDose { diastolic: 91, ..CALM }, PreDose { heart_rate: 101, ..CALM }] {
            assert_eq!(judge(high).reason, Some(NoGo::VitalsOutOfRange), "{high:?}");
        }
        assert_eq!(judge(PreDose { monitor_present: false, ..CALM }).reason, Some(NoGo::MonitorAbsent));
        let alone = HomePlan { monitor_required: false, ..p.clone() };
        assert!(alone.judge(true, &[], &PreDose { monitor_present: false, ..CALM }, now).go);
        // High blood pressure and no monitor: the vitals are named (they raise the alert).
        assert_eq!(judge(PreDose { systolic: 190, monitor_present: false, ..CALM }).reason, Some(NoGo::VitalsOutOfRange));
    }

    #[test]
    fn the_interval_counts_from_each_dose_either_side() {
        let p = plan();
        let first = at("2026-06-02T10:00:00Z");
        // P3D after 06-02 10:00 is 06-05 10:00: one microsecond before is too soon.
        let just_before = at("2026-06-05T09:59:59.999999Z");
        let d = p.allows_dose(true, &[first], just_before);
        assert_eq!((d.reason, d.next_allowed_at), (Some(NoGo::TooSoon), Some(at("2026-06-05T10:00:00Z"))));
        assert!(p.allows_dose(true, &[first], at("2026-06-05T10:00:00Z")).go, "exactly the interval later");
        // A dose recorded for a later time blocks an earlier one too.
        assert_eq!(p.allows_dose(true, &[first], at("2026-06-01T12:00:00Z")).reason, Some(NoGo::TooSoon));
        let second = at("2026-06-08T10:00:00Z");
        assert_eq!(p.allows_dose(true, &[first, second], at("2026-06-20T10:00:00Z")).reason, Some(NoGo::NoDosesLeft));
        assert_eq!(p.next_allowed_at(&[first, second]), None);
        assert_eq!(p.next_allowed_at(&[]), Some(p.starts_at));
    }

    #[test]
    fn a_plan_is_in_force_from_its_start_to_its_end_and_while_active() {
        let p = plan();
        assert!(p.allows_dose(true, &[], p.starts_at).go && p.allows_dose(true, &[], p.ends_at).go, "both ends included");
        for (active, t) in [(true, p.starts_at - Duration::seconds(1)), (true, p.ends_at + Duration::seconds(1)), (false, at("2026-06-10T00:00:00Z"))] {
            assert_eq!(p.allows_dose(active, &[], t).reason, Some(NoGo::PlanNotActive));
        }
        // A dose whose interval would end after the plan has no next time.
        assert_eq!(p.next_allowed_at(&[at("2026-06-28T00:00:00Z")]), None);
    }
}
