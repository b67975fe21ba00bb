//! Onset analytics per cohort: time to an endpoint in hours from the first infusion
//! (Kaplan–Meier), the share meeting it by 4 h, 24 h, 7 d and 28 d, and the mean percent
//! change by hours since the most recent infusion. Researchers see a private view: small
//! cells suppressed, times on a coarse grid, nothing from which a hidden count follows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::instruments::Instrument;
use super::km::{self, Observation, Tally};
use super::outcomes::{DefinitionSet, Endpoint};
use super::trajectory::{RatingPoint, instrument_series};

/// One patient's data for one instrument: active infusion starts and active ratings. The
/// service reads each patient's observation and acute means from the kept summaries
/// (`store::summaries::onset_page`); the tests build cohorts from records.
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct CohortPatient {
    pub infusion_starts: Vec<DateTime<Utc>>,
    pub ratings: Vec<RatingPoint>,
}

/// Hours-since-infusion buckets of the acute curve: [from, to).
pub const ACUTE_BUCKETS: [(&str, f64, f64); 7] = [
    ("0-4h", 0.0, 4.0),
    ("4-24h", 4.0, 24.0),
    ("1-3d", 24.0, 72.0),
    ("3-7d", 72.0, 168.0),
    ("7-14d", 168.0, 336.0),
    ("14-28d", 336.0, 672.0),
    (">28d", 672.0, f64::INFINITY),
];

/// The horizons of `share_by`, in hours.
pub const SHARE_HORIZONS: [(&str, f64); 4] = [("4h", 4.0), ("24h", 24.0), ("7d", 168.0), ("28d", 672.0)];

/// One bucket of the acute curve. Each patient counts once: their ratings in the bucket
/// are averaged first, so `n` is a number of patients and no patient weighs more.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketStats {
    pub bucket: &'static str,
    pub n: u32,
    pub mean_percent_change: Option<f64>,
    /// Sample standard deviation (n − 1) of the patients' means; null below two patients.
    pub sd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CohortOnset {
    /// One per patient in the cohort: the event time, or the censoring time.
    pub observations: Vec<Observation>,
    pub acute_curve: Vec<BucketStats>,
}

impl CohortOnset {
    pub fn n_patients(&self) -> u32 {
        self.observations.len() as u32
    }
    pub fn n_events(&self) -> u32 {
        self.observations.iter().filter(|o| o.event).count() as u32
    }
}

/// What one patient contributes to the cohort analytics of one instrument, whatever the
/// endpoint: the hours from the first infusion to the first treated rating meeting each
/// endpoint, the hours to the last treated rating (the censoring time where an endpoint
/// is not met), and the patient's mean percent change in each acute bucket. onset keeps
/// it per patient (the onset summary), so that cohort analytics read one row a patient.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientOnset {
    pub instrument: Instrument,
    pub partial_response_hours: Option<f64>,
    pub response_hours: Option<f64>,
    pub remission_hours: Option<f64>,
    pub last_hours: f64,
    /// By `ACUTE_BUCKETS`: the mean of the patient's percent changes in the bucket.
    pub acute: [Option<f64>; ACUTE_BUCKETS.len()],
    /// The series' baseline total (a covariate of the Cox model).
    pub baseline_total: u32,
    /// How long relief lasted, for responders only (`None`: never at risk): hours from
    /// the first response to the first later rating below a partial response, or to the
    /// last rating (censored).
    pub loss_of_response: Option<Observation>,
    /// After a confirmed remission only: hours from the rating confirming it to the one
    /// completing the relapse rule's month, or to the last rating (censored).
    pub relapse: Option<Observation>,
}

impl PatientOnset {
    /// The patient's Kaplan–Meier observation for an endpoint: its first meeting, or a
    /// censoring at the last treated rating; for a durability endpoint, `None` where the
    /// patient was never at risk (no response, no confirmed remission). The onset report's
    /// query says the same in SQL (`store::summaries::observation_sql`).
    pub fn observation(&self, endpoint: Endpoint) -> Option<Observation> {
        let met = match endpoint {
            Endpoint::PartialResponse => self.partial_response_hours,
            Endpoint::Response => self.response_hours,
            Endpoint::Remission => self.remission_hours,
            Endpoint::LossOfResponse => return self.loss_of_response,
            Endpoint::Relapse => return self.relapse,
        };
        Some(match met {
            Some(time) => Observation { time, event: true },
            None => Observation { time: self.last_hours, event: false },
        })
    }
}

/// A patient's onset for one instrument from their active infusion starts (sorted) and
/// active ratings. `None` when the patient is outside the cohort: no baseline, or no
/// rating after the first infusion.
pub fn patient_onset(def: &DefinitionSet, instrument: Instrument, sorted_starts: &[DateTime<Utc>], ratings: &[RatingPoint]) -> Option<PatientOnset> {
    instrument_series(def, instrument, sorted_starts, ratings)?.fold.onset(instrument)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn sample_sd(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    (values.len() > 1).then(|| (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0)).sqrt())
}

/// Builds a cohort's onset figures patient by patient, so a large cohort can be read in
/// pages: only the observations (two numbers a patient) and the bucket values stay.
pub struct CohortAccumulator {
    observations: Vec<Observation>,
    by_bucket: Vec<Vec<f64>>,
}

impl CohortAccumulator {
    pub fn new() -> Self {
        CohortAccumulator { observations: Vec::new(), by_bucket: vec![Vec::new(); ACUTE_BUCKETS.len()] }
    }

    /// Adds a patient at risk of the endpoint: their observation of it and their mean
    /// percent change in each acute bucket.
    pub fn add(&mut self, observation: Observation, acute: [Option<f64>; ACUTE_BUCKETS.len()]) {
        self.observations.push(observation);
        for (bucket, value) in self.by_bucket.iter_mut().zip(acute) {
            bucket.extend(value);
        }
    }

    pub fn finish(self) -> CohortOnset {
        let acute_curve = ACUTE_BUCKETS
            .iter()
            .zip(self.by_bucket)
            .map(|((bucket, _, _), values)| BucketStats { bucket, n: values.len() as u32, mean_percent_change: mean(&values), sd: sample_sd(&values) })
            .collect();
        CohortOnset { observations: self.observations, acute_curve }
    }
}

/// A cohort's onset from its patients' records (the summaries derived here): the tests'
/// way in; the service reads the kept summaries.
#[cfg(test)]
pub fn cohort_onset(def: &'static DefinitionSet, instrument: Instrument, endpoint: Endpoint, patients: &[CohortPatient]) -> CohortOnset {
    let mut cohort = CohortAccumulator::new();
    for patient in patients {
        let mut starts = patient.infusion_starts.clone();
        starts.sort();
        // A durability endpoint's cohort is the patients at risk of it.
        if let Some(onset) = patient_onset(def, instrument, &starts, &patient.ratings)
            && let Some(observation) = onset.observation(endpoint)
        {
            cohort.add(observation, onset.acute);
        }
    }
    cohort.finish()
}

// ---------------------------------------------------------------------------------------
// The researcher's view. A count of 1 to k − 1 patients (k = the minimum cell) is never
// shown nor derivable. Kaplan–Meier counts are derivable from what a curve shows: the
// events of a step from its survival drop and at-risk (d = n (1 − S_i / S_i−1)), the
// censored from consecutive at-risk figures, the tail from n_patients. So the private curve
// is built from counts that are each 0 or ≥ k:
// 1. times are coarsened up to a grid (0.5 h to 24 h, 6 h to 7 d, then whole days);
// 2. consecutive grid steps are merged until the events and the censored of the merged
//    step are each 0 or ≥ k and the number still at risk after it is 0 or ≥ k;
// 3. what is left at the end (fewer than k still at risk) is folded into the last step
//    rather than dropped, since dropping it would leave n_patients − Σ shown = the hidden
//    count; where even that cannot be made safe, no curve is shown.

/// The researcher's time grid: an event or censoring time rounded up to it.
pub fn coarse_hours(hours: f64) -> f64 {
    let step = if hours <= 24.0 {
        0.5
    } else if hours <= 168.0 {
        6.0
    } else {
        24.0
    };
    (hours / step).ceil() * step
}

/// Coarsened and merged tallies in which every count is 0 or ≥ `k`, or `None`.
pub fn private_tallies(observations: &[Observation], k: u32) -> Option<Vec<Tally>> {
    let safe = |c: u32| c == 0 || c >= k;
    let coarse: Vec<Observation> = observations.iter().map(|o| Observation { time: coarse_hours(o.time), event: o.event }).collect();
    let mut remaining: u32 = observations.len() as u32;
    let mut merged: Vec<Tally> = Vec::new();
    let mut open: Option<Tally> = None;
    for t in km::tally(&coarse) {
        let acc = open.get_or_insert(Tally { hours: t.hours, events: 0, censored: 0 });
        acc.hours = t.hours;
        acc.events += t.events;
        acc.censored += t.censored;
        let after = remaining - acc.events - acc.censored;
        if safe(acc.events) && safe(acc.censored) && safe(after) {
            remaining = after;
            merged.push(open.take().expect("set above"));
        }
    }
    // Fold an unsafe remainder back into the steps before it until the sums are safe.
    while let Some(mut tail) = open.take() {
        let Some(previous) = merged.pop() else {
            return None;
        };
        tail.events += previous.events;
        tail.censored += previous.censored;
        if safe(tail.events) && safe(tail.censored) {
            merged.push(tail);
        } else {
            open = Some(tail);
        }
    }
    Some(merged)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmRow {
    pub hours: f64,
    pub at_risk: Option<u32>,
    pub events: Option<u32>,
    pub censored: Option<u32>,
    pub survival: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// True in the researcher's view: this row is an interval on the coarse grid ending
    /// at `hours`, its counts merged so that none is between 1 and the minimum cell − 1.
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcuteRow {
    pub bucket: &'static str,
    /// Patients with a rating in the bucket.
    pub n: Option<u32>,
    pub mean_percent_change: Option<f64>,
    pub sd: Option<f64>,
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnsetReport {
    pub n_patients: Option<u32>,
    pub n_events: Option<u32>,
    /// No curve is shown: the cohort is under the minimum cell, or no grouping of it
    /// keeps every count safe.
    pub suppressed: bool,
    pub km: Vec<KmRow>,
    pub median_hours: Option<f64>,
    pub median_ci: [Option<f64>; 2],
    pub share_by: std::collections::BTreeMap<&'static str, Option<f64>>,
    pub acute_curve: Vec<AcuteRow>,
}

fn km_report(estimate: &km::Estimate, merged: bool) -> (Vec<KmRow>, Option<f64>, [Option<f64>; 2], std::collections::BTreeMap<&'static str, Option<f64>>) {
    let rows = estimate
        .steps
        .iter()
        .map(|s| KmRow {
            hours: s.hours,
            at_risk: Some(s.at_risk),
            events: Some(s.events),
            censored: Some(s.censored),
            survival: s.survival,
            ci_lower: s.ci_lower,
            ci_upper: s.ci_upper,
            suppressed: merged,
        })
        .collect();
    let share_by = SHARE_HORIZONS.iter().map(|(label, hours)| (*label, estimate.share_by(*hours))).collect();
    (rows, estimate.median, [estimate.median_ci.0, estimate.median_ci.1], share_by)
}

/// `min_cell`: `Some(k)` is the researcher's private view; `None` the exact one.
pub fn report(cohort: &CohortOnset, min_cell: Option<u32>) -> OnsetReport {
    let small = |n: u32| min_cell.is_some_and(|k| n >= 1 && n < k);
    let acute_curve: Vec<AcuteRow> = cohort
        .acute_curve
        .iter()
        .map(|b| {
            let hidden = small(b.n);
            AcuteRow {
                bucket: b.bucket,
                n: (!hidden).then_some(b.n),
                mean_percent_change: b.mean_percent_change.filter(|_| !hidden),
                sd: b.sd.filter(|_| !hidden),
                suppressed: hidden,
            }
        })
        .collect();
    let whole_cohort_small = small(cohort.n_patients());
    let tallies = match min_cell {
        None => Some(km::tally(&cohort.observations)),
        Some(_) if whole_cohort_small => None,
        Some(k) => private_tallies(&cohort.observations, k),
    };
    let Some(tallies) = tallies else {
        return OnsetReport {
            n_patients: (!whole_cohort_small).then_some(cohort.n_patients()),
            n_events: None,
            suppressed: true,
            km: Vec::new(),
            median_hours: None,
            median_ci: [None, None],
            share_by: SHARE_HORIZONS.iter().map(|(label, _)| (*label, None)).collect(),
            acute_curve: if whole_cohort_small { Vec::new() } else { acute_curve },
        };
    };
    let estimate = km::from_tallies(&tallies);
    let (km, median_hours, median_ci, share_by) = km_report(&estimate, min_cell.is_some());
    OnsetReport {
        n_patients: Some(cohort.n_patients()),
        n_events: Some(cohort.n_events()),
        suppressed: false,
        km,
        median_hours,
        median_ci,
        share_by,
        acute_curve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outcomes::CONSENSUS_2016;
    use crate::domain::scoring::Recall;
    use chrono::Duration;
    use uuid::Uuid;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn patient(ratings: &[(f64, u32)]) -> CohortPatient {
        CohortPatient {
            infusion_starts: vec![t0(), t0() + Duration::hours(48)],
            ratings: ratings
                .iter()
                .map(|(h, total)| RatingPoint {
                    id: Uuid::now_v7(),
                    instrument: Instrument::named("ybocs"),
                    rated_at: t0() + Duration::minutes((h * 60.0) as i64),
                    recall: Recall::Week,
                    total: *total,
                    cgi_s: None,
                    cgi_i: None,
                    itemised: true,
                })
                .collect(),
        }
    }

    /// Four patients with baseline 30: responders at 4 h and 24 h, one censored at 168 h,
    /// one without a baseline (left out).
    fn cohort() -> Vec<CohortPatient> {
        vec![
            patient(&[(-24.0, 30), (4.0, 18), (24.0, 15)]),
            patient(&[(-24.0, 30), (4.0, 27), (24.0, 19)]),
            patient(&[(-24.0, 30), (4.0, 27), (168.0, 24)]),
            patient(&[(4.0, 10)]),
        ]
    }

    fn onset(endpoint: Endpoint, patients: &[CohortPatient]) -> CohortOnset {
        cohort_onset(&CONSENSUS_2016, Instrument::named("ybocs"), endpoint, patients)
    }

    #[test]
    fn a_patients_onset_by_hand() {
        // Sessions at 0 h and 48 h; baseline 30. 40 min: 22 (26.7 %, partial); 48 h: 19
        // (36.7 %, response); 72 h: 12 (60 %, response and remission, total ≤ 12).
        let p = patient(&[(-24.0, 30), (2.0 / 3.0, 22), (48.0, 19), (72.0, 12)]);
        let onset = patient_onset(&CONSENSUS_2016, Instrument::named("ybocs"), &p.infusion_starts, &p.ratings).unwrap();
        assert_eq!((onset.partial_response_hours, onset.response_hours, onset.remission_hours), (Some(40.0 / 60.0), Some(48.0), Some(72.0)));
        assert_eq!(onset.last_hours, 72.0);
        // By hours since the most recent session: 40 min → 0-4 h; 48 h is 0 h after the
        // second session → 0-4 h as well; 72 h is 24 h after it → 1-3 d.
        let pct = |total: f64| (30.0 - total) / 30.0 * 100.0;
        assert_eq!(onset.acute[0], Some((pct(22.0) + pct(19.0)) / 2.0));
        assert_eq!(onset.acute[2], Some(pct(12.0)));
        assert_eq!(onset.acute.iter().filter(|a| a.is_some()).count(), 2);
        assert_eq!(onset.observation(Endpoint::Response), Some(Observation { time: 48.0, event: true }));
        // Never meeting an endpoint is a censoring at the last treated rating.
        let slow = patient(&[(-24.0, 30), (4.0, 27), (168.0, 24)]);
        let slow = patient_onset(&CONSENSUS_2016, Instrument::named("ybocs"), &slow.infusion_starts, &slow.ratings).unwrap();
        assert_eq!(slow.observation(Endpoint::PartialResponse), Some(Observation { time: 168.0, event: false }));
        // No baseline: outside the cohort.
        let unmeasured = patient(&[(4.0, 10)]);
        assert!(patient_onset(&CONSENSUS_2016, Instrument::named("ybocs"), &unmeasured.infusion_starts, &unmeasured.ratings).is_none());
    }

    /// Loss of response (DESIGN.md §11): baseline 30; response first at 24 h (18: 40 %);
    /// 48 h 21 (30 %: still a partial response); 96 h 24 (20 %: below partial) is the loss,
    /// 72 h after the first response. A patient still responding is censored at the last
    /// rating; a patient who never responded is not at risk.
    #[test]
    fn loss_of_response_by_hand() {
        let onset = |ratings: &[(f64, u32)]| {
            let p = patient(ratings);
            patient_onset(&CONSENSUS_2016, Instrument::named("ybocs"), &p.infusion_starts, &p.ratings).unwrap()
        };
        let lost = onset(&[(-24.0, 30), (4.0, 27), (24.0, 18), (48.0, 21), (96.0, 24), (120.0, 15)]);
        assert_eq!(lost.observation(Endpoint::LossOfResponse), Some(Observation { time: 72.0, event: true }));
        let kept = onset(&[(-24.0, 30), (24.0, 18), (48.0, 21), (168.0, 19)]);
        assert_eq!(kept.observation(Endpoint::LossOfResponse), Some(Observation { time: 144.0, event: false }));
        let never = onset(&[(-24.0, 30), (24.0, 21), (168.0, 20)]);
        assert_eq!(never.observation(Endpoint::LossOfResponse), None);
        assert_eq!(never.observation(Endpoint::Relapse), None, "no confirmed remission, no relapse at risk");
    }

    /// Relapse (Mataix-Cols 2016, DESIGN.md §1): remission (≤ 12) at 24 h and 192 h
    /// confirms it at 192 h (168 h apart); then ≥ 13 with CGI-I ≥ 6 from 360 h to 1,080 h
    /// (720 h, a month) establishes relapse at 1,080 h: 888 h after the confirmation.
    #[test]
    fn relapse_by_hand() {
        let mut p = patient(&[(-24.0, 30), (24.0, 10), (192.0, 11), (360.0, 20), (720.0, 22), (1080.0, 24)]);
        for r in p.ratings.iter_mut().filter(|r| r.total >= 13 && r.rated_at > t0()) {
            r.cgi_i = Some(6);
        }
        let onset = patient_onset(&CONSENSUS_2016, Instrument::named("ybocs"), &p.infusion_starts, &p.ratings).unwrap();
        assert_eq!(onset.observation(Endpoint::Relapse), Some(Observation { time: 888.0, event: true }));
        // CGI-I 5 on the last: the month is not complete; censored at the last rating.
        p.ratings.last_mut().unwrap().cgi_i = Some(5);
        let onset = patient_onset(&CONSENSUS_2016, Instrument::named("ybocs"), &p.infusion_starts, &p.ratings).unwrap();
        assert_eq!(onset.observation(Endpoint::Relapse), Some(Observation { time: 888.0, event: false }));
    }

    #[test]
    fn event_and_censoring_times_by_hand() {
        let c = onset(Endpoint::Response, &cohort());
        assert_eq!((c.n_patients(), c.n_events()), (3, 2));
        let km = km::estimate(&c.observations);
        let steps: Vec<(f64, u32, u32, u32)> = km.steps.iter().map(|s| (s.hours, s.at_risk, s.events, s.censored)).collect();
        assert_eq!(steps, vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 0, 1)]);
        assert!((km.steps[1].survival - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(km.median, Some(24.0));
        assert!((km.share_by(4.0).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // partial response (≥ 25 %): patient 3 reaches 20 % only, so the same events
        assert_eq!(onset(Endpoint::PartialResponse, &cohort()).n_events(), 2);
        // remission (≤ 12): nobody gets there
        let remission = onset(Endpoint::Remission, &cohort());
        assert_eq!((remission.n_patients(), remission.n_events()), (3, 0));
    }

    #[test]
    fn remission_and_response_are_separate_endpoints() {
        // 16 → 12 at 24 h: remission (and a partial response), not a response.
        let patients = [patient(&[(-1.0, 16), (24.0, 12)])];
        assert_eq!(onset(Endpoint::Remission, &patients).observations, vec![Observation { time: 24.0, event: true }]);
        assert_eq!(onset(Endpoint::PartialResponse, &patients).n_events(), 1);
        assert_eq!(onset(Endpoint::Response, &patients).observations, vec![Observation { time: 24.0, event: false }]);
    }

    #[test]
    fn acute_curve_counts_patients_by_hours_since_the_last_infusion() {
        let mut patients = cohort();
        // a second 4–24 h rating for the first patient: 40 % and 50 % average to 45 %
        patients[0] = patient(&[(-24.0, 30), (4.0, 18), (5.0, 15), (24.0, 15)]);
        let c = onset(Endpoint::Response, &patients);
        let b = |label: &str| c.acute_curve.iter().find(|b| b.bucket == label).unwrap().clone();
        assert_eq!(b("0-4h").n, 0);
        let early = b("4-24h");
        assert_eq!(early.n, 3, "three patients, four ratings");
        // patients' means 45 %, 10 %, 10 %: mean 21.67, sd √(((23.33)² + 2 (11.67)²) / 2)
        assert!((early.mean_percent_change.unwrap() - 65.0 / 3.0).abs() < 1e-9);
        assert!((early.sd.unwrap() - (((70.0f64 / 3.0).powi(2) + 2.0 * (35.0f64 / 3.0).powi(2)) / 2.0).sqrt()).abs() < 1e-9);
        assert_eq!(b("1-3d").n, 2);
        // 168 h is 120 h after the second infusion: 3–7 d, 20 %, a lone patient has no SD
        let late = b("3-7d");
        assert_eq!((late.n, late.sd), (1, None));
        assert!((late.mean_percent_change.unwrap() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn the_grid_is_half_hours_then_six_hours_then_days() {
        assert_eq!(coarse_hours(0.0), 0.0);
        assert_eq!(coarse_hours(0.67), 1.0);
        assert_eq!(coarse_hours(24.0), 24.0);
        assert_eq!(coarse_hours(24.1), 30.0);
        assert_eq!(coarse_hours(168.0), 168.0);
        assert_eq!(coarse_hours(168.5), 192.0);
    }

    #[test]
    fn small_cohorts_show_researchers_nothing() {
        let c = onset(Endpoint::Response, &cohort());
        let hidden = report(&c, Some(11));
        assert!(hidden.suppressed && hidden.km.is_empty() && hidden.acute_curve.is_empty());
        assert_eq!((hidden.n_patients, hidden.n_events, hidden.median_hours), (None, None, None));
        assert!(hidden.share_by.values().all(Option::is_none));
        let exact = report(&c, None);
        assert!(!exact.suppressed);
        assert_eq!(exact.km[0].at_risk, Some(3));
        assert_eq!(exact.share_by["24h"], Some(2.0 / 3.0));
        assert_eq!(exact.share_by["28d"], None, "follow-up ends at 168 h");
    }

    /// Observations at `hours` with events and censorings, repeated.
    fn many(groups: &[(f64, u32, u32)]) -> CohortOnset {
        let observations = groups
            .iter()
            .flat_map(|&(time, events, censored)| {
                (0..events).map(move |_| Observation { time, event: true }).chain((0..censored).map(move |_| Observation { time, event: false }))
            })
            .collect();
        CohortOnset { observations, acute_curve: Vec::new() }
    }

    /// What an attacker computes from a researcher's curve: the events of each row from the
    /// survival drop and the at-risk, the censored from consecutive at-risk figures, and
    /// what is left after the last row from n_patients. Every one must be 0 or ≥ k.
    fn derivable_counts(r: &OnsetReport) -> Vec<i64> {
        let n = i64::from(r.n_patients.unwrap());
        let mut counts = vec![n, i64::from(r.n_events.unwrap())];
        let mut previous_survival = 1.0;
        let mut seen = 0;
        for (i, row) in r.km.iter().enumerate() {
            let at_risk = i64::from(row.at_risk.unwrap());
            let events = (at_risk as f64 * (1.0 - row.survival / previous_survival)).round() as i64;
            let left = r.km.get(i + 1).map_or(0, |next| i64::from(next.at_risk.unwrap()));
            counts.extend([at_risk, events, at_risk - events - left]);
            previous_survival = row.survival;
            seen += at_risk - left;
        }
        counts.push(n - seen);
        counts
    }

    #[test]
    fn no_hidden_count_can_be_worked_back_from_the_researchers_curve() {
        // 58 patients: 12 events at 1 h and 12 at 2 h, 15 censored at 3 h, 11 events at
        // 30 h (8 left at risk), 5 censored at 100 h and 3 at 200 h.
        let c = many(&[(0.7, 12, 0), (2.0, 12, 0), (3.0, 0, 15), (30.0, 11, 0), (100.0, 0, 5), (200.0, 0, 3)]);
        let exact = report(&c, None);
        assert!(derivable_counts(&exact).iter().any(|c| (1..11).contains(c)), "the exact view has small cells");
        let private = report(&c, Some(11));
        assert!(!private.suppressed);
        let counts = derivable_counts(&private);
        assert!(counts.iter().all(|c| *c == 0 || *c >= 11), "{counts:?} from {:?}", private.km);
        assert_eq!((private.n_patients, private.n_events), (Some(58), Some(35)));
        // rows: 1 h (0.7 on the grid), 2 h, then 8 left at risk after 30 h: the tail
        // (11 events, 8 censored) is folded back into the 3 h row, ending at day 9 (200 h
        // on the grid)
        let rows: Vec<_> = private.km.iter().map(|r| (r.hours, r.at_risk.unwrap(), r.events.unwrap(), r.censored.unwrap())).collect();
        assert_eq!(rows, vec![(1.0, 58, 12, 0), (2.0, 46, 12, 0), (216.0, 34, 11, 23)]);
        // every row is on the grid and has at least k at risk
        assert!(private.km.iter().all(|r| r.at_risk.unwrap() >= 11 && r.suppressed && coarse_hours(r.hours) == r.hours));
    }

    #[test]
    fn a_cohort_that_cannot_be_grouped_safely_has_no_curve() {
        // 15 patients, 4 events: any curve shows a count of 4.
        let c = many(&[(1.0, 4, 0), (2.0, 0, 11)]);
        let private = report(&c, Some(11));
        assert!(private.suppressed && private.km.is_empty());
        assert_eq!((private.n_patients, private.n_events, private.median_hours), (Some(15), None, None));
    }

    #[test]
    fn researchers_see_no_statistic_in_a_small_acute_cell() {
        let mut c = many(&[(1.0, 0, 20)]);
        c.acute_curve = vec![
            BucketStats { bucket: "0-4h", n: 3, mean_percent_change: Some(40.0), sd: Some(2.0) },
            BucketStats { bucket: "4-24h", n: 12, mean_percent_change: Some(30.0), sd: Some(5.0) },
        ];
        let private = report(&c, Some(11));
        assert_eq!(private.acute_curve[0], AcuteRow { bucket: "0-4h", n: None, mean_percent_change: None, sd: None, suppressed: true });
        assert_eq!(private.acute_curve[1].mean_percent_change, Some(30.0));
        assert_eq!(report(&c, None).acute_curve[0].n, Some(3));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn the_private_curve_never_reveals_a_small_count(data in prop::collection::vec((0u32..400, any::<bool>()), 11..120)) {
                let observations = data.iter().map(|(t, e)| Observation { time: f64::from(*t) / 2.0, event: *e }).collect();
                let c = CohortOnset { observations, acute_curve: Vec::new() };
                let private = report(&c, Some(11));
                if !private.suppressed {
                    let counts = derivable_counts(&private);
                    prop_assert!(counts.iter().all(|c| *c == 0 || *c >= 11), "{:?}", counts);
                    prop_assert_eq!(private.n_events, Some(c.n_events()));
                }
            }
        }
    }
}
