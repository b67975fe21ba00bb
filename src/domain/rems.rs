//! The esketamine REMS patient monitoring record (DESIGN.md §6): what the SPRAVATO REMS
//! Patient Monitoring Form asks of each nasal-spray session, what is still missing, and
//! its deadline. onset prepares the record; submitting it to the REMS stays the clinic's act.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::FieldError;
use super::infusion::{Drug, Infusion, Route};

/// The form is due within 7 days of the session (DESIGN.md §6).
pub const DEADLINE_DAYS: i64 = 7;
/// The REMS asks for blood pressure at about 40 minutes: accept 30 to 50.
const BP_40_MIN: std::ops::RangeInclusive<i32> = 30..=50;
const MAX_MINUTE: u32 = 24 * 60;
/// "Patient must be monitored for at least 2 hours" (SPRAVATO REMS patient monitoring form).
const MIN_MONITORING_MINUTES: i32 = 120;
const MAX_MEDICINES: usize = 20;

/// Whether something happened during the session and, if so, when it began and ended
/// (minutes from the start of dosing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    pub occurred: bool,
    pub onset_minute: Option<u32>,
    pub resolved_minute: Option<u32>,
}

/// The parts of the record that are not already session fields (vitals, lot number).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemsRecord {
    pub sedation: Option<Episode>,
    pub dissociation: Option<Episode>,
    pub respiratory_depression: Option<bool>,
    pub serious_adverse_event: Option<bool>,
    /// Minutes from dosing until the patient was ready to leave.
    pub ready_to_leave_minutes: Option<u32>,
    /// Sedating or pressor medicines taken with the session; an empty list says none.
    pub concomitant_medications: Option<Vec<String>>,
    /// When the clinic submitted the form to the REMS.
    pub submitted_at: Option<DateTime<Utc>>,
}

impl RemsRecord {
    /// Checks ranges and order; field names are under `rems.`.
    pub fn check(&self, now: DateTime<Utc>, errors: &mut Vec<FieldError>) {
        for (name, episode) in [("sedation", &self.sedation), ("dissociation", &self.dissociation)] {
            let Some(e) = episode else { continue };
            let field = |part: &str| format!("rems.{name}.{part}");
            for (part, minute) in [("onset_minute", e.onset_minute), ("resolved_minute", e.resolved_minute)] {
                if minute.is_some_and(|m| m > MAX_MINUTE) {
                    errors.push(FieldError::new(field(part), format!("must be at most {MAX_MINUTE}")));
                }
                if !e.occurred && minute.is_some() {
                    errors.push(FieldError::new(field(part), "only when it occurred"));
                }
            }
            if let (Some(onset), Some(resolved)) = (e.onset_minute, e.resolved_minute) {
                if resolved < onset {
                    errors.push(FieldError::new(field("resolved_minute"), "must not be before onset_minute"));
                }
            }
        }
        if self.ready_to_leave_minutes.is_some_and(|m| m > MAX_MINUTE) {
            errors.push(FieldError::new("rems.ready_to_leave_minutes", format!("must be at most {MAX_MINUTE}")));
        }
        if let Some(medicines) = &self.concomitant_medications {
            if medicines.len() > MAX_MEDICINES {
                errors.push(FieldError::new("rems.concomitant_medications", format!("at most {MAX_MEDICINES} elements")));
            } else if let Some(i) = medicines.iter().position(|m| m.trim().is_empty() || m.chars().count() > 200) {
                errors.push(FieldError::new(format!("rems.concomitant_medications.{i}"), "must be 1 to 200 characters"));
            }
        }
        if self.submitted_at.is_some_and(|t| t > now + Duration::minutes(5)) {
            errors.push(FieldError::new("rems.submitted_at", "must not be in the future"));
        }
    }
}

/// Only esketamine nasal-spray sessions fall under the REMS.
pub fn applies(session: &Infusion) -> bool {
    session.drug == Drug::Esketamine && session.route == Route::Intranasal
}

pub fn deadline(session: &Infusion) -> DateTime<Utc> {
    session.started_at + Duration::days(DEADLINE_DAYS)
}

/// What the form still lacks, by name.
pub fn missing(session: &Infusion) -> Vec<&'static str> {
    let record = session.rems.clone().unwrap_or_default();
    let bp = |in_window: &dyn Fn(i32) -> bool| session.vitals.iter().any(|v| in_window(v.minute) && v.has_blood_pressure());
    let last_dose_minute = session.ended_at.map_or(0, |end| (end - session.started_at).num_minutes() as i32);
    let discharge_minute = session.discharged_at.map(|d| (d - session.started_at).num_minutes() as i32);
    let mut out = Vec::new();
    if !bp(&|m| m <= 0) {
        out.push("bp_before_dose");
    }
    if !bp(&|m| BP_40_MIN.contains(&m)) {
        out.push("bp_40_min");
    }
    // Before discharge: after the last dose and at or before the discharge, once known.
    if discharge_minute.is_none_or(|d| !bp(&|m| m > last_dose_minute.max(BP_40_MIN.end().to_owned()) && m <= d)) {
        out.push("bp_before_discharge");
    }
    // The REMS's goal: "Patients are monitored for at least two hours and until
    // resolution of sedation, dissociation and respiratory depression" (SPRAVATO REMS,
    // FDA); the form: "Patient must be monitored for at least 2 hours". So an episode
    // that occurred needs its onset and resolution, a resolution after discharge means
    // the patient left before it, and a discharge before 2 h after the first dose
    // (`started_at`) falls short of the minimum; each is listed, never assumed.
    if discharge_minute.is_some_and(|d| d < MIN_MONITORING_MINUTES) {
        out.push("discharged_before_2_hours");
    }
    for (episode, onset, resolved, after_discharge) in [
        (&record.sedation, "sedation_onset_minute", "sedation_resolved_minute", "sedation_resolved_after_discharge"),
        (&record.dissociation, "dissociation_onset_minute", "dissociation_resolved_minute", "dissociation_resolved_after_discharge"),
    ] {
        let Some(episode) = episode.as_ref().filter(|e| e.occurred) else { continue };
        if episode.onset_minute.is_none() {
            out.push(onset);
        }
        match (episode.resolved_minute, discharge_minute) {
            (None, _) => out.push(resolved),
            (Some(minute), Some(discharge)) if i64::from(minute) > i64::from(discharge) => out.push(after_discharge),
            _ => {}
        }
    }
    for (name, given) in [
        ("sedation", record.sedation.is_some()),
        ("dissociation", record.dissociation.is_some()),
        ("respiratory_depression", record.respiratory_depression.is_some()),
        ("serious_adverse_event", record.serious_adverse_event.is_some()),
        ("ready_to_leave_minutes", record.ready_to_leave_minutes.is_some()),
        ("concomitant_medications", record.concomitant_medications.is_some()),
        ("lot_number", session.lot_number.is_some()),
    ] {
        if !given {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::infusion::InfusionInput;
    use serde_json::json;

    fn session(vitals: serde_json::Value, rems: Option<RemsRecord>) -> Infusion {
        let input: InfusionInput = serde_json::from_value(json!({
            "drug": "esketamine", "route": "intranasal", "started_at": "2026-03-02T09:00:00Z",
            "discharged_at": "2026-03-02T11:30:00Z", "dose_mg": 56.0, "vitals": vitals, "lot_number": "L1"
        }))
        .unwrap();
        let mut s = input.parse(Utc::now()).unwrap();
        s.rems = rems;
        s
    }

    #[test]
    fn a_session_missing_the_40_minute_pressure_says_so() {
        let vitals = json!([{"minute": -5, "systolic": 120, "diastolic": 80}, {"minute": 140, "systolic": 125, "diastolic": 82}]);
        let s = session(vitals, None);
        let missing = missing(&s);
        assert!(missing.contains(&"bp_40_min") && !missing.contains(&"bp_before_dose") && !missing.contains(&"bp_before_discharge"), "{missing:?}");
        assert!(missing.contains(&"sedation") && !missing.contains(&"lot_number"));
        assert_eq!(deadline(&s), s.started_at + Duration::days(7));
        assert!(applies(&s));
    }

    fn complete(sedation: Episode, dissociation: Episode) -> RemsRecord {
        RemsRecord {
            sedation: Some(sedation),
            dissociation: Some(dissociation),
            respiratory_depression: Some(false),
            serious_adverse_event: Some(false),
            ready_to_leave_minutes: Some(125),
            concomitant_medications: Some(vec![]),
            submitted_at: None,
        }
    }

    /// FDA, SPRAVATO REMS: "Patients are monitored for at least two hours and until
    /// resolution of sedation, dissociation and respiratory depression". The session
    /// starts 09:00 and is discharged at 11:30 (minute 150).
    #[test]
    fn an_episode_needs_its_minutes_and_must_end_before_a_discharge_after_2_hours() {
        let vitals = json!([{"minute": 0, "systolic": 120, "diastolic": 80}, {"minute": 40, "systolic": 150, "diastolic": 90}, {"minute": 130, "systolic": 128, "diastolic": 84}]);
        let none = Episode { occurred: false, onset_minute: None, resolved_minute: None };
        let episode = |onset, resolved| Episode { occurred: true, onset_minute: onset, resolved_minute: resolved };
        let missing_with = |sedation, dissociation| missing(&session(vitals.clone(), Some(complete(sedation, dissociation))));
        assert_eq!(missing_with(episode(None, None), none.clone()), ["sedation_onset_minute", "sedation_resolved_minute"], "occurred is not enough");
        assert_eq!(missing_with(none.clone(), episode(Some(5), None)), ["dissociation_resolved_minute"]);
        assert_eq!(missing_with(none.clone(), episode(Some(5), Some(150))), Vec::<&str>::new(), "resolved at discharge: complete");
        assert_eq!(missing_with(none.clone(), episode(Some(5), Some(151))), ["dissociation_resolved_after_discharge"], "a minute after discharge");
        assert_eq!(missing_with(episode(Some(5), Some(200)), none.clone()), ["sedation_resolved_after_discharge"]);
        // Discharged at minute 119 and at 120: the 2-hour minimum, its edge included.
        let discharged_after = |minutes: i64| {
            let mut s = session(vitals.clone(), Some(complete(none.clone(), none.clone())));
            s.discharged_at = Some(s.started_at + Duration::minutes(minutes));
            missing(&s)
        };
        assert!(discharged_after(119).contains(&"discharged_before_2_hours"));
        assert!(!discharged_after(120).contains(&"discharged_before_2_hours"));
    }

    #[test]
    fn a_complete_record_misses_nothing_and_bad_minutes_are_named() {
        let vitals = json!([{"minute": 0, "systolic": 120, "diastolic": 80}, {"minute": 40, "systolic": 150, "diastolic": 90}, {"minute": 130, "systolic": 128, "diastolic": 84}]);
        let episode = |occurred| Some(Episode { occurred, onset_minute: occurred.then_some(10), resolved_minute: occurred.then_some(60) });
        let record = RemsRecord {
            sedation: episode(false),
            dissociation: episode(true),
            respiratory_depression: Some(false),
            serious_adverse_event: Some(false),
            ready_to_leave_minutes: Some(125),
            concomitant_medications: Some(vec![]),
            submitted_at: None,
        };
        assert_eq!(missing(&session(vitals, Some(record.clone()))), Vec::<&str>::new());
        let mut bad = record;
        bad.dissociation = Some(Episode { occurred: true, onset_minute: Some(60), resolved_minute: Some(10) });
        bad.sedation = Some(Episode { occurred: false, onset_minute: Some(5), resolved_minute: None });
        let mut errors = Vec::new();
        bad.check(Utc::now(), &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["rems.sedation.onset_minute", "rems.dissociation.resolved_minute"]);
    }
}
