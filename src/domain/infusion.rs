//! Infusion sessions: parsing, derived dose per kilogram, series numbers, and the
//! monitoring warnings (never errors) of the dosing guidance and the Spravato REMS.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::FieldError;
use super::fields::{bounded_int, free_text, from_value, one_of, parse_instant, parse_past_instant, required, vocabulary};
use super::rems::RemsRecord;

vocabulary!(Drug { Ketamine = "ketamine", Esketamine = "esketamine" });
vocabulary!(Route {
    Iv = "iv",
    Im = "im",
    Intranasal = "intranasal",
    Oral = "oral",
    Sublingual = "sublingual",
    Subcutaneous = "subcutaneous",
});
vocabulary!(Guidance { Guided = "guided", SelfGuided = "self_guided" });
vocabulary!(RecordedBy { Staff = "staff", Patient = "patient" });
vocabulary!(AdverseEvent {
    Nausea = "nausea",
    Vomiting = "vomiting",
    Dizziness = "dizziness",
    Headache = "headache",
    Hypertension = "hypertension",
    Hypotension = "hypotension",
    Tachycardia = "tachycardia",
    Bradycardia = "bradycardia",
    Desaturation = "desaturation",
    Dissociation = "dissociation",
    Sedation = "sedation",
    Anxiety = "anxiety",
    Agitation = "agitation",
    Hallucination = "hallucination",
    Confusion = "confusion",
    BlurredVision = "blurred_vision",
    Paresthesia = "paresthesia",
    Dysgeusia = "dysgeusia",
    UrinarySymptoms = "urinary_symptoms",
    Other = "other",
});

/// One vitals reading, `minute` counted from the start of dosing (negative before it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    pub minute: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systolic: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diastolic: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spo2: Option<u32>,
}

impl Vitals {
    pub fn has_blood_pressure(&self) -> bool {
        self.systolic.is_some() && self.diastolic.is_some()
    }

    fn check(&self, at: &str, errors: &mut Vec<FieldError>) {
        let mut range = |field: &str, value: Option<u32>, min: u32, max: u32| {
            if value.is_some_and(|v| !(min..=max).contains(&v)) {
                errors.push(FieldError::new(format!("{at}.{field}"), format!("must be from {min} to {max}")));
            }
        };
        range("systolic", self.systolic, 40, 300);
        range("diastolic", self.diastolic, 20, 200);
        range("heart_rate", self.heart_rate, 20, 250);
        range("spo2", self.spo2, 50, 100);
        if !(-1440..=1440).contains(&self.minute) {
            errors.push(FieldError::new(format!("{at}.minute"), "must be within a day of the dose (-1440 to 1440)"));
        }
    }
}

/// A session as a client sends it; every field optional so a merge patch can be laid over it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfusionInput {
    pub drug: Option<String>,
    pub route: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub discharged_at: Option<String>,
    pub dose_mg: Option<f64>,
    pub weight_kg: Option<f64>,
    pub dose_mg_per_kg: Option<f64>,
    pub guidance: Option<String>,
    pub lot_number: Option<String>,
    pub vitals: Option<Vec<Value>>,
    pub cadss_total: Option<Value>,
    pub moaas: Option<Value>,
    pub adverse_event_codes: Option<Vec<String>>,
    pub adverse_event_notes: Option<String>,
    pub notes: Option<String>,
    /// The REMS monitoring record's own fields (esketamine nasal sessions): see `domain::rems`.
    pub rems: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Infusion {
    pub drug: Drug,
    pub route: Route,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub discharged_at: Option<DateTime<Utc>>,
    pub dose_mg: f64,
    pub weight_kg: Option<f64>,
    pub dose_mg_per_kg: Option<f64>,
    pub guidance: Option<Guidance>,
    pub lot_number: Option<String>,
    pub vitals: Vec<Vitals>,
    pub cadss_total: Option<u32>,
    pub moaas: Option<u32>,
    pub adverse_event_codes: Vec<AdverseEvent>,
    pub adverse_event_notes: Option<String>,
    pub notes: Option<String>,
    /// The REMS patient monitoring record (esketamine nasal sessions).
    pub rems: Option<RemsRecord>,
    /// Who recorded it: staff, or the patient through a dose link (DESIGN.md §10). Never a
    /// client's to set: a parsed session is staff's, and an amendment keeps the original's.
    pub recorded_by: RecordedBy,
    /// The home plan a dose the patient recorded was taken under.
    pub home_plan_id: Option<Uuid>,
}

const MAX_TEXT: usize = 10_000;
const MAX_VITALS: usize = 500;
/// As many as there are codes.
const MAX_ADVERSE_EVENTS: usize = 20;

/// The list if it has at most `max` elements; else one error and nothing to check further.
fn within<'a, T>(errors: &mut Vec<FieldError>, field: &str, list: &'a [T], max: usize) -> &'a [T] {
    if list.len() > max {
        errors.push(FieldError::new(field, format!("at most {max} elements")));
        return &[];
    }
    list
}
const MIN_WEIGHT_KG: f64 = 0.5;
const MAX_DOSE_PER_KG: f64 = 50.0;
/// A given mg/kg must agree with dose / weight within 1 %.
const DOSE_PER_KG_TOLERANCE: f64 = 0.01;

fn optional_instant(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    value.as_deref().and_then(|t| parse_past_instant(field, t, now).map_err(|e| errors.push(e)).ok())
}

fn positive(errors: &mut Vec<FieldError>, field: &str, value: Option<f64>, max: f64) -> Option<f64> {
    let v = value?;
    if !(v > 0.0 && v <= max) {
        errors.push(FieldError::new(field, format!("must be greater than 0 and at most {max}")));
    }
    Some(v)
}

impl InfusionInput {
    pub fn parse(&self, now: DateTime<Utc>) -> Result<Infusion, Vec<FieldError>> {
        let mut e = Vec::new();
        let drug = required(&mut e, "drug", &self.drug);
        let drug = one_of(&mut e, "drug", drug, Drug::parse, &Drug::codes());
        let route = required(&mut e, "route", &self.route);
        let route = one_of(&mut e, "route", route, Route::parse, &Route::codes());
        let guidance = one_of(&mut e, "guidance", self.guidance.as_deref(), Guidance::parse, &Guidance::codes());
        let started_at = required(&mut e, "started_at", &self.started_at)
            .and_then(|t| parse_past_instant("started_at", t, now).map_err(|err| e.push(err)).ok());
        // An end or discharge may be recorded ahead of time only by mistake; both must follow the start.
        let ended_at = self.ended_at.as_deref().and_then(|t| parse_instant("ended_at", t).map_err(|err| e.push(err)).ok());
        let discharged_at = optional_instant(&mut e, "discharged_at", &self.discharged_at, now + Duration::days(1));
        for (field, later) in [("ended_at", ended_at), ("discharged_at", discharged_at)] {
            if let (Some(start), Some(later)) = (started_at, later) {
                if later < start {
                    e.push(FieldError::new(field, "must not be before started_at"));
                }
            }
        }
        if self.dose_mg.is_none() {
            e.push(FieldError::new("dose_mg", "required"));
        }
        let dose_mg = positive(&mut e, "dose_mg", self.dose_mg, 2000.0);
        let weight_kg = self.weight_kg;
        if weight_kg.is_some_and(|w| !(MIN_WEIGHT_KG..=500.0).contains(&w)) {
            e.push(FieldError::new("weight_kg", format!("must be from {MIN_WEIGHT_KG} to 500")));
        }
        let given_per_kg = positive(&mut e, "dose_mg_per_kg", self.dose_mg_per_kg, MAX_DOSE_PER_KG);
        let dose_mg_per_kg = match (dose_mg, weight_kg, given_per_kg) {
            (Some(dose), Some(weight), given) if weight >= MIN_WEIGHT_KG => {
                let derived = dose / weight;
                if derived > MAX_DOSE_PER_KG {
                    e.push(FieldError::new("dose_mg", format!("dose_mg / weight_kg = {derived:.1} mg/kg is beyond any plausible dose")));
                }
                if given.is_some_and(|g| (g - derived).abs() > derived * DOSE_PER_KG_TOLERANCE) {
                    e.push(FieldError::new("dose_mg_per_kg", format!("disagrees with dose_mg / weight_kg = {derived:.4}")));
                }
                Some(derived)
            }
            (_, _, given) => given,
        };
        // Lengths are checked before elements: an oversized list gets one error, not one per
        // element (a 1 MiB body holds 500,000 of them).
        let vitals_given = within(&mut e, "vitals", self.vitals.as_deref().unwrap_or_default(), MAX_VITALS);
        let vitals: Vec<Vitals> = vitals_given
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match serde_json::from_value::<Vitals>(v.clone()) {
                Ok(vitals) => {
                    vitals.check(&format!("vitals.{i}"), &mut e);
                    Some(vitals)
                }
                Err(err) => {
                    e.push(FieldError::new(format!("vitals.{i}"), format!("invalid reading: {err}")));
                    None
                }
            })
            .collect();
        let cadss_total = bounded_int(&mut e, "cadss_total", self.cadss_total.as_ref(), 0, 92);
        let moaas = bounded_int(&mut e, "moaas", self.moaas.as_ref(), 0, 5);
        let mut adverse_event_codes = Vec::new();
        let codes_given = within(&mut e, "adverse_event_codes", self.adverse_event_codes.as_deref().unwrap_or_default(), MAX_ADVERSE_EVENTS);
        for (i, code) in codes_given.iter().enumerate() {
            match AdverseEvent::parse(code) {
                Some(ae) if !adverse_event_codes.contains(&ae) => adverse_event_codes.push(ae),
                Some(_) => {}
                None => e.push(FieldError::new(
                    format!("adverse_event_codes.{i}"),
                    format!("must be one of: {}", AdverseEvent::codes().join(", ")),
                )),
            }
        }
        let lot_number = free_text(&mut e, "lot_number", &self.lot_number, 100);
        let adverse_event_notes = free_text(&mut e, "adverse_event_notes", &self.adverse_event_notes, MAX_TEXT);
        let notes = free_text(&mut e, "notes", &self.notes, MAX_TEXT);
        let rems = match self.rems.as_ref().filter(|v| !v.is_null()) {
            None => None,
            Some(value) => match from_value::<RemsRecord>(value.clone()) {
                Ok(record) => {
                    record.check(now, &mut e);
                    Some(record)
                }
                Err(err) => {
                    let field = if err.field == "body" { "rems".to_string() } else { format!("rems.{}", err.field.trim_start_matches('.')) };
                    e.push(FieldError::new(field, err.message));
                    None
                }
            },
        };
        match (drug, route, started_at, dose_mg) {
            (Some(drug), Some(route), Some(started_at), Some(dose_mg)) if e.is_empty() => Ok(Infusion {
                drug,
                route,
                started_at,
                ended_at,
                discharged_at,
                dose_mg,
                weight_kg,
                dose_mg_per_kg,
                guidance,
                lot_number,
                vitals,
                cadss_total,
                moaas,
                adverse_event_codes,
                adverse_event_notes,
                notes,
                rems,
                recorded_by: RecordedBy::Staff,
                home_plan_id: None,
            }),
            _ => Err(e),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
}

fn warn(code: &'static str, message: impl Into<String>) -> Warning {
    Warning { code, message: message.into() }
}

/// Esketamine's approved nasal doses.
const ESKETAMINE_DOSES_MG: [f64; 3] = [28.0, 56.0, 84.0];
/// The REMS asks for blood pressure at about 40 minutes: accept 30 to 50.
const BP_40_MIN_WINDOW: std::ops::RangeInclusive<i32> = 30..=50;

impl Infusion {
    pub fn to_input(&self) -> InfusionInput {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        InfusionInput {
            drug: Some(self.drug.code().into()),
            route: Some(self.route.code().into()),
            started_at: Some(time(self.started_at)),
            ended_at: self.ended_at.map(time),
            discharged_at: self.discharged_at.map(time),
            dose_mg: Some(self.dose_mg),
            weight_kg: self.weight_kg,
            // Derived from dose and weight when both are known; only a bare mg/kg is the client's.
            dose_mg_per_kg: if self.weight_kg.is_some() { None } else { self.dose_mg_per_kg },
            guidance: self.guidance.map(|g| g.code().into()),
            lot_number: self.lot_number.clone(),
            vitals: Some(self.vitals.iter().map(|v| serde_json::to_value(v).expect("vitals serialise")).collect()),
            cadss_total: self.cadss_total.map(Value::from),
            moaas: self.moaas.map(Value::from),
            adverse_event_codes: Some(self.adverse_event_codes.iter().map(|a| a.code().to_string()).collect()),
            adverse_event_notes: self.adverse_event_notes.clone(),
            notes: self.notes.clone(),
            rems: self.rems.as_ref().map(|r| serde_json::to_value(r).expect("plain data serialises")),
        }
    }

    /// Dosing and monitoring warnings; a session is never refused for them.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        if self.route == Route::Iv {
            match self.dose_mg_per_kg {
                Some(per_kg) if !(0.1..=1.0).contains(&per_kg) => out.push(warn(
                    "iv_dose_out_of_range",
                    format!("IV dose of {per_kg:.2} mg/kg is outside the usual 0.1–1.0 mg/kg"),
                )),
                None => out.push(warn("iv_dose_per_kg_unknown", "IV dose cannot be checked without weight_kg")),
                _ => {}
            }
        }
        // Spravato (esketamine nasal spray) prescribing information and REMS: the fixed
        // 28/56/84 mg doses and the monitoring rules are those of the nasal spray. IV
        // esketamine (off-label) is dosed by weight and gets the mg/kg check above instead.
        if self.drug == Drug::Esketamine && self.route == Route::Intranasal {
            if !ESKETAMINE_DOSES_MG.iter().any(|d| (self.dose_mg - d).abs() < 1e-9) {
                out.push(warn("esketamine_dose_nonstandard", format!("esketamine dose of {} mg is not 28, 56 or 84 mg", self.dose_mg)));
            }
            if !self.vitals.iter().any(|v| v.minute <= 0 && v.has_blood_pressure()) {
                out.push(warn("rems_bp_before_dose_missing", "no blood pressure recorded before dosing"));
            }
            if !self.vitals.iter().any(|v| BP_40_MIN_WINDOW.contains(&v.minute) && v.has_blood_pressure()) {
                out.push(warn("rems_bp_40_min_missing", "no blood pressure recorded at about 40 minutes after dosing"));
            }
            // "Monitor patients for at least 2 hours after each SPRAVATO administration" and
            // pulse oximetry during that post-dose monitoring: both count from the last
            // administration, which is `ended_at` when the session records it.
            let last_dose = self.ended_at.unwrap_or(self.started_at);
            let last_dose_minute = (last_dose - self.started_at).num_minutes();
            if !self.vitals.iter().any(|v| v.spo2.is_some() && i64::from(v.minute) >= last_dose_minute) {
                out.push(warn("rems_spo2_missing", "no pulse oximetry recorded during the observation after the last administration"));
            }
            if let Some(discharged) = self.discharged_at {
                if discharged - last_dose < Duration::hours(2) {
                    out.push(warn("rems_early_discharge", "discharged less than 2 hours after the last administration"));
                }
            }
        }
        out
    }
}

/// Series numbers: the n-th active session of a patient by start time (ties by id).
pub fn series_numbers(sessions: &[(Uuid, DateTime<Utc>)]) -> Vec<(Uuid, i32)> {
    let mut ordered = sessions.to_vec();
    ordered.sort_by_key(|(id, start)| (*start, *id));
    ordered.into_iter().enumerate().map(|(i, (id, _))| (id, i as i32 + 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn esketamine() -> InfusionInput {
        InfusionInput {
            drug: Some("esketamine".into()),
            route: Some("intranasal".into()),
            started_at: Some("2026-05-01T09:00:00Z".into()),
            discharged_at: Some("2026-05-01T11:05:00Z".into()),
            dose_mg: Some(56.0),
            vitals: Some(vec![
                json!({"minute": -5, "systolic": 128, "diastolic": 80, "spo2": 98}),
                json!({"minute": 40, "systolic": 141, "diastolic": 88, "heart_rate": 80, "spo2": 97}),
            ]),
            ..Default::default()
        }
    }

    fn codes(i: &Infusion) -> Vec<&'static str> {
        i.warnings().into_iter().map(|w| w.code).collect()
    }

    #[test]
    fn a_monitored_esketamine_session_has_no_warnings() {
        let s = esketamine().parse(now()).unwrap();
        assert_eq!(codes(&s), Vec::<&str>::new());
        assert_eq!(s.to_input().parse(now()).unwrap(), s);
    }

    #[test]
    fn rems_warnings() {
        let mut input = esketamine();
        input.dose_mg = Some(60.0);
        input.vitals = Some(vec![json!({"minute": 10, "systolic": 130, "diastolic": 85})]);
        input.discharged_at = Some("2026-05-01T10:30:00Z".into());
        let s = input.parse(now()).unwrap();
        assert_eq!(codes(&s), vec!["esketamine_dose_nonstandard", "rems_bp_before_dose_missing", "rems_bp_40_min_missing", "rems_spo2_missing", "rems_early_discharge"]);
    }

    #[test]
    fn spo2_before_dosing_alone_is_not_monitoring() {
        let mut input = esketamine();
        input.vitals = Some(vec![
            json!({"minute": -5, "systolic": 128, "diastolic": 80, "spo2": 98}),
            json!({"minute": 40, "systolic": 141, "diastolic": 88}),
        ]);
        assert_eq!(codes(&input.parse(now()).unwrap()), vec!["rems_spo2_missing"]);
    }

    #[test]
    fn the_observation_counts_from_the_last_administration() {
        // Dosing 09:00–09:10; discharged 11:05 is 1 h 55 min after the last spray.
        let mut input = esketamine();
        input.ended_at = Some("2026-05-01T09:10:00Z".into());
        assert_eq!(codes(&input.parse(now()).unwrap()), vec!["rems_early_discharge"]);
        input.discharged_at = Some("2026-05-01T11:10:00Z".into());
        assert_eq!(codes(&input.parse(now()).unwrap()), Vec::<&str>::new(), "exactly 2 h after the last administration");
        // pulse oximetry only before the last spray (minute 5 < 10) is not the observation
        input.vitals = Some(vec![
            json!({"minute": -5, "systolic": 128, "diastolic": 80}),
            json!({"minute": 5, "spo2": 97}),
            json!({"minute": 40, "systolic": 141, "diastolic": 88}),
        ]);
        assert_eq!(codes(&input.parse(now()).unwrap()), vec!["rems_spo2_missing"]);
    }

    #[test]
    fn iv_esketamine_is_checked_per_kg_not_against_the_nasal_doses() {
        let input = InfusionInput {
            drug: Some("esketamine".into()),
            route: Some("iv".into()),
            started_at: Some("2026-05-01T09:00:00Z".into()),
            dose_mg: Some(35.0),
            weight_kg: Some(70.0),
            ..Default::default()
        };
        assert_eq!(codes(&input.parse(now()).unwrap()), Vec::<&str>::new(), "0.5 mg/kg IV, no REMS rules");
        let heavy = InfusionInput { dose_mg: Some(84.0), weight_kg: Some(60.0), ..input };
        assert_eq!(codes(&heavy.parse(now()).unwrap()), vec!["iv_dose_out_of_range"], "1.4 mg/kg");
    }

    #[test]
    fn iv_dose_per_kg_is_derived_and_checked() {
        let input = InfusionInput {
            drug: Some("ketamine".into()),
            route: Some("iv".into()),
            started_at: Some("2026-05-01T09:00:00Z".into()),
            dose_mg: Some(35.0),
            weight_kg: Some(70.0),
            ..Default::default()
        };
        let s = input.parse(now()).unwrap();
        assert_eq!(s.dose_mg_per_kg, Some(0.5));
        assert!(codes(&s).is_empty());
        let high = InfusionInput { dose_mg: Some(105.0), ..input.clone() }.parse(now()).unwrap();
        assert_eq!(codes(&high), vec!["iv_dose_out_of_range"]);
        let low = InfusionInput { dose_mg: Some(6.0), ..input.clone() }.parse(now()).unwrap();
        assert_eq!(codes(&low), vec!["iv_dose_out_of_range"]);
        assert!(InfusionInput { dose_mg_per_kg: Some(0.504), ..input.clone() }.parse(now()).is_ok());
        let err = InfusionInput { dose_mg_per_kg: Some(0.51), ..input.clone() }.parse(now()).unwrap_err();
        assert_eq!(err[0].field, "dose_mg_per_kg");
    }

    #[test]
    fn every_field_is_validated_by_name() {
        let input = InfusionInput {
            drug: Some("psilocybin".into()),
            route: Some("rectal".into()),
            started_at: Some("2026-05-01T09:00:00Z".into()),
            ended_at: Some("2026-05-01T08:00:00Z".into()),
            dose_mg: Some(-1.0),
            weight_kg: Some(0.0),
            guidance: Some("none".into()),
            cadss_total: Some(json!(93)),
            moaas: Some(json!(6)),
            vitals: Some(vec![json!({"minute": 0, "spo2": 101}), json!({"minute": "x"})]),
            adverse_event_codes: Some(vec!["nausea".into(), "bad".into()]),
            ..Default::default()
        };
        let mut fields: Vec<String> = input.parse(now()).unwrap_err().into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(fields, vec!["adverse_event_codes.1", "cadss_total", "dose_mg", "drug", "ended_at", "guidance", "moaas", "route", "vitals.0.spo2", "vitals.1", "weight_kg"]);
        let missing = InfusionInput::default().parse(now()).unwrap_err();
        let fields: Vec<&str> = missing.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["drug", "route", "started_at", "dose_mg"]);
    }

    #[test]
    fn series_numbers_follow_start_time() {
        let t = |h: i64| now() - Duration::hours(h);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        // c was entered last but started first: it becomes session 1
        let numbers = series_numbers(&[(a, t(48)), (b, t(24)), (c, t(72))]);
        assert_eq!(numbers, vec![(c, 1), (a, 2), (b, 3)]);
        assert!(series_numbers(&[]).is_empty());
    }
}
