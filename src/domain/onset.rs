//! Onset analytics per cohort: time to an endpoint in hours from the first infusion
//! (Kaplan–Meier), the share responding by 4 h, 24 h, 7 d and 28 d, and the mean percent
//! change by hours since the most recent infusion. Small cells are suppressed for
//! researchers.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::instruments::Instrument;
use super::km::{self, Observation};
use super::outcomes::{Criterion, DefinitionSet};
use super::trajectory::{DerivedRating, RatingPoint, series};

/// One patient's data for one instrument: active infusion starts and active ratings.
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

#[derive(Debug, Clone, PartialEq)]
pub struct BucketStats {
    pub bucket: &'static str,
    pub n: u32,
    pub mean_percent_change: Option<f64>,
    /// Sample standard deviation (n − 1); null below two ratings.
    pub sd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CohortOnset {
    pub n_patients: u32,
    pub n_events: u32,
    pub km: km::Estimate,
    pub acute_curve: Vec<BucketStats>,
}

/// What a patient contributes: an event time or a censoring time, and its post-infusion
/// ratings. `None` when the patient is outside the cohort (no baseline, or no rating
/// after the first infusion).
fn contribution(def: &'static DefinitionSet, instrument: Instrument, endpoint: Criterion, patient: &CohortPatient) -> Option<(Observation, Vec<DerivedRating>)> {
    let mut starts = patient.infusion_starts.clone();
    starts.sort();
    let mut points: Vec<&RatingPoint> = patient.ratings.iter().filter(|r| r.instrument == instrument).collect();
    points.sort_by_key(|r| (r.rated_at, r.id));
    let s = series(def, instrument, &starts, &points);
    s.baseline.as_ref()?;
    // After the first infusion and measured against the baseline: the criterion is set.
    let treated: Vec<DerivedRating> = s.ratings.into_iter().filter(|r| r.criterion.is_some()).collect();
    let hours = |r: &DerivedRating| r.hours_since_first_infusion.unwrap_or(0.0);
    let observation = match treated.iter().find(|r| r.criterion.is_some_and(|c| c.meets(endpoint))) {
        Some(first) => Observation { time: hours(first), event: true },
        None => Observation { time: hours(treated.last()?), event: false },
    };
    Some((observation, treated))
}

fn mean_and_sd(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.len() > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), sd)
}

/// Builds a cohort's onset figures patient by patient, so a large cohort can be read in
/// pages: only the observations (two numbers a patient) and the bucket values stay.
pub struct CohortAccumulator {
    def: &'static DefinitionSet,
    instrument: Instrument,
    endpoint: Criterion,
    observations: Vec<Observation>,
    by_bucket: Vec<Vec<f64>>,
}

impl CohortAccumulator {
    pub fn new(def: &'static DefinitionSet, instrument: Instrument, endpoint: Criterion) -> Self {
        CohortAccumulator { def, instrument, endpoint, observations: Vec::new(), by_bucket: vec![Vec::new(); ACUTE_BUCKETS.len()] }
    }

    pub fn add(&mut self, patient: &CohortPatient) {
        let Some((observation, treated)) = contribution(self.def, self.instrument, self.endpoint, patient) else { return };
        self.observations.push(observation);
        for rating in treated {
            let (Some(since_last), Some(pct)) = (rating.hours_since_last_infusion, rating.percent_change) else { continue };
            if let Some(i) = ACUTE_BUCKETS.iter().position(|(_, from, to)| since_last >= *from && since_last < *to) {
                self.by_bucket[i].push(pct);
            }
        }
    }

    pub fn finish(self) -> CohortOnset {
        let acute_curve = ACUTE_BUCKETS
            .iter()
            .zip(self.by_bucket)
            .map(|((bucket, _, _), values)| {
                let (mean_percent_change, sd) = mean_and_sd(&values);
                BucketStats { bucket, n: values.len() as u32, mean_percent_change, sd }
            })
            .collect();
        CohortOnset {
            n_patients: self.observations.len() as u32,
            n_events: self.observations.iter().filter(|o| o.event).count() as u32,
            km: km::estimate(&self.observations),
            acute_curve,
        }
    }
}

pub fn cohort_onset(def: &'static DefinitionSet, instrument: Instrument, endpoint: Criterion, patients: &[CohortPatient]) -> CohortOnset {
    let mut cohort = CohortAccumulator::new(def, instrument, endpoint);
    for patient in patients {
        cohort.add(patient);
    }
    cohort.finish()
}

// ---------------------------------------------------------------------------------------
// The report as the API shows it, with small cells suppressed for researchers.

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmRow {
    pub hours: f64,
    pub at_risk: Option<u32>,
    pub events: Option<u32>,
    pub censored: Option<u32>,
    pub survival: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    /// A count in this row was withheld (between 1 and the minimum cell size − 1).
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcuteRow {
    pub bucket: &'static str,
    pub n: Option<u32>,
    pub mean_percent_change: Option<f64>,
    pub sd: Option<f64>,
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnsetReport {
    pub n_patients: Option<u32>,
    pub n_events: Option<u32>,
    /// The whole cohort is under the minimum cell size: no curve is shown.
    pub suppressed: bool,
    pub km: Vec<KmRow>,
    pub median_hours: Option<f64>,
    pub median_ci: [Option<f64>; 2],
    pub share_by: std::collections::BTreeMap<&'static str, Option<f64>>,
    pub acute_curve: Vec<AcuteRow>,
}

/// `min_cell`: `Some(k)` hides every count from 1 to k − 1 (researchers); `None` shows all.
pub fn report(cohort: &CohortOnset, min_cell: Option<u32>) -> OnsetReport {
    let small = |n: u32| min_cell.is_some_and(|k| n >= 1 && n < k);
    let shown = |n: u32| (!small(n)).then_some(n);
    if small(cohort.n_patients) {
        return OnsetReport {
            n_patients: None,
            n_events: None,
            suppressed: true,
            km: Vec::new(),
            median_hours: None,
            median_ci: [None, None],
            share_by: SHARE_HORIZONS.iter().map(|(label, _)| (*label, None)).collect(),
            acute_curve: Vec::new(),
        };
    }
    let km = cohort
        .km
        .steps
        .iter()
        .map(|s| KmRow {
            hours: s.hours,
            at_risk: shown(s.at_risk),
            events: shown(s.events),
            censored: shown(s.censored),
            survival: s.survival,
            ci_lower: s.ci_lower,
            ci_upper: s.ci_upper,
            suppressed: small(s.at_risk) || small(s.events) || small(s.censored),
        })
        .collect();
    let acute_curve = cohort
        .acute_curve
        .iter()
        .map(|b| AcuteRow { bucket: b.bucket, n: shown(b.n), mean_percent_change: b.mean_percent_change, sd: b.sd, suppressed: small(b.n) })
        .collect();
    OnsetReport {
        n_patients: Some(cohort.n_patients),
        n_events: shown(cohort.n_events),
        suppressed: false,
        km,
        median_hours: cohort.km.median,
        median_ci: [cohort.km.median_ci.0, cohort.km.median_ci.1],
        share_by: SHARE_HORIZONS.iter().map(|(label, hours)| (*label, (cohort.n_patients > 0).then(|| cohort.km.share_by(*hours)))).collect(),
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
                    instrument: Instrument::Ybocs,
                    rated_at: t0() + Duration::minutes((h * 60.0) as i64),
                    recall: Recall::Week,
                    total: *total,
                    cgi_i: None,
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

    #[test]
    fn event_and_censoring_times_by_hand() {
        let c = cohort_onset(&CONSENSUS_2016, Instrument::Ybocs, Criterion::Response, &cohort());
        assert_eq!((c.n_patients, c.n_events), (3, 2));
        let steps: Vec<(f64, u32, u32, u32)> = c.km.steps.iter().map(|s| (s.hours, s.at_risk, s.events, s.censored)).collect();
        assert_eq!(steps, vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 0, 1)]);
        assert!((c.km.steps[1].survival - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.km.median, Some(24.0));
        assert!((c.km.share_by(4.0) - 1.0 / 3.0).abs() < 1e-12);
        // partial response (≥ 25 %): patient 3 reaches 20 % only, so the same events
        let partial = cohort_onset(&CONSENSUS_2016, Instrument::Ybocs, Criterion::PartialResponse, &cohort());
        assert_eq!(partial.n_events, 2);
        let remission = cohort_onset(&CONSENSUS_2016, Instrument::Ybocs, Criterion::Remission, &cohort());
        assert_eq!(remission.n_events, 0);
        assert_eq!(remission.km.steps.iter().map(|s| s.censored).sum::<u32>(), 3);
    }

    #[test]
    fn acute_curve_by_hours_since_the_last_infusion() {
        let c = cohort_onset(&CONSENSUS_2016, Instrument::Ybocs, Criterion::Response, &cohort());
        let b = |label: &str| c.acute_curve.iter().find(|b| b.bucket == label).unwrap().clone();
        // 0–4 h is empty: the 4 h ratings fall in 4–24 h, with 40 %, 10 % and 10 %
        assert_eq!(b("0-4h").n, 0);
        let early = b("4-24h");
        assert_eq!(early.n, 3);
        assert!((early.mean_percent_change.unwrap() - 20.0).abs() < 1e-9);
        assert!((early.sd.unwrap() - 300f64.sqrt()).abs() < 1e-9);
        // 24 h ratings are 24 h after the first and only infusion so far: 50 % and 36.7 %
        assert_eq!(b("1-3d").n, 2);
        // 168 h is 120 h after the second infusion: 3–7 d, 20 %, a lone rating has no SD
        let late = b("3-7d");
        assert_eq!((late.n, late.sd), (1, None));
        assert!((late.mean_percent_change.unwrap() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn researchers_see_no_small_cells() {
        let c = cohort_onset(&CONSENSUS_2016, Instrument::Ybocs, Criterion::Response, &cohort());
        let hidden = report(&c, Some(11));
        assert!(hidden.suppressed && hidden.km.is_empty() && hidden.acute_curve.is_empty());
        assert_eq!((hidden.n_patients, hidden.median_hours), (None, None));
        let exact = report(&c, None);
        assert!(!exact.suppressed);
        assert_eq!(exact.km[0].at_risk, Some(3));
        assert_eq!(exact.share_by["24h"], Some(2.0 / 3.0));
        // 24 responders and 3 censored at 168 h
        let base = cohort();
        let large: Vec<CohortPatient> = (0..12).flat_map(|_| base[..2].to_vec()).chain((0..3).map(|_| base[2].clone())).collect();
        let masked = report(&cohort_onset(&CONSENSUS_2016, Instrument::Ybocs, Criterion::Response, &large), Some(11));
        assert_eq!((masked.n_patients, masked.n_events), (Some(27), Some(24)));
        let first = &masked.km[0];
        assert_eq!((first.at_risk, first.events, first.censored, first.suppressed), (Some(27), Some(12), Some(0), false));
        let last = masked.km.last().unwrap();
        assert_eq!((last.at_risk, last.events, last.censored, last.suppressed), (None, Some(0), None, true), "{last:?}");
        let empty = masked.acute_curve.iter().find(|b| b.bucket == "0-4h").unwrap();
        assert_eq!((empty.n, empty.suppressed), (Some(0), false));
    }
}
