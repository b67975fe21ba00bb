//! Each patient's trajectory: every rating placed in hours relative to the infusions,
//! measured against its baseline, and the onset summary per instrument.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::hours_between;
use super::instruments::Instrument;
use super::km::Observation;
use super::onset::{ACUTE_BUCKETS, PatientOnset};
use super::outcomes::{DefinitionSet, Endpoint, RelapseSign, Response, improvement};
use super::scoring::Recall;

/// An active rating, as the trajectory needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingPoint {
    pub id: Uuid,
    pub instrument: Instrument,
    pub rated_at: DateTime<Utc>,
    pub recall: Recall,
    pub total: u32,
    pub cgi_s: Option<u32>,
    pub cgi_i: Option<u32>,
    /// Whether the items were given (false for a paper total).
    pub itemised: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub assessment_id: Uuid,
    pub total: u32,
    pub rated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivedRating {
    pub assessment_id: Uuid,
    pub rated_at: DateTime<Utc>,
    pub total: u32,
    pub recall: Recall,
    pub short_recall: bool,
    pub hours_since_first_infusion: Option<f64>,
    pub hours_since_last_infusion: Option<f64>,
    pub infusion_number: u32,
    /// total − baseline (negative is improvement); null without a baseline or before treatment.
    pub change: Option<i64>,
    pub percent_change: Option<f64>,
    pub response: Option<Response>,
    /// Null for instruments without a remission cut-off, before treatment, without a baseline.
    pub remission: Option<bool>,
    pub early_improvement: Option<bool>,
    pub response_cgi_confirmed: Option<bool>,
    pub remission_cgi_confirmed: Option<bool>,
    /// A PHQ-9 given as a bare total below 25: whether item 9 (thoughts of death or
    /// self-harm) was endorsed is unknown, and the console says so.
    pub item_9_unknown: bool,
}

impl DerivedRating {
    pub fn meets(&self, endpoint: Endpoint) -> bool {
        endpoint.met(self.response, self.remission)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub hours_to_partial_response: Option<f64>,
    pub infusion_number_at_partial_response: Option<u32>,
    pub hours_to_response: Option<f64>,
    pub infusion_number_at_response: Option<u32>,
    pub response_confirmed: bool,
    pub hours_to_remission: Option<f64>,
    pub infusion_number_at_remission: Option<u32>,
    pub remission_confirmed: bool,
    /// Null before a confirmed remission and for instruments without remission.
    pub relapse: Option<bool>,
    /// Totals ≥ 13 lasted a month after remission but CGI-I was not recorded on them.
    pub relapse_undetermined: bool,
    /// After a relapse: the rating at which the remission it ended was confirmed. One
    /// remission, one relapse: the cause a relapse alert is raised for, once.
    #[serde(skip)]
    pub relapsed_remission: Option<Uuid>,
    /// Hours since the first session of the rating confirming remission, and of the one
    /// establishing relapse after it (the relapse endpoint's origin and event).
    #[serde(skip)]
    pub remission_confirmed_hours: Option<f64>,
    #[serde(skip)]
    pub relapse_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub instrument: Instrument,
    pub baseline: Option<Baseline>,
    pub ratings: Vec<DerivedRating>,
    pub summary: Summary,
    /// Every active rating of the series; the baseline and summary are judged on all.
    pub ratings_total: usize,
    /// The earliest ratings left out of `ratings` (`Trajectory::keep_latest`).
    pub earlier_ratings_omitted: usize,
    /// What the summary was folded from: the state onset keeps of the series.
    #[serde(skip)]
    pub fold: SeriesFold,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trajectory {
    pub definition_set: &'static str,
    pub first_infusion_at: Option<DateTime<Utc>>,
    pub series: Vec<Series>,
}

/// Where a moment falls among the infusions (their start times, in any order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InfusionContext {
    pub hours_since_first: Option<f64>,
    pub hours_since_last: Option<f64>,
    /// Sessions started at or before the moment.
    pub infusion_number: u32,
}

pub fn infusion_context(sorted_starts: &[DateTime<Utc>], at: DateTime<Utc>) -> InfusionContext {
    let number = sorted_starts.partition_point(|s| *s <= at);
    InfusionContext {
        hours_since_first: sorted_starts.first().map(|f| hours_between(*f, at)),
        hours_since_last: number.checked_sub(1).map(|i| hours_between(sorted_starts[i], at)),
        infusion_number: number as u32,
    }
}

/// Builds the trajectory from active infusion start times and active ratings.
pub fn trajectory(def: &'static DefinitionSet, infusion_starts: &[DateTime<Utc>], ratings: &[RatingPoint]) -> Trajectory {
    let mut starts = infusion_starts.to_vec();
    starts.sort();
    let first_infusion_at = starts.first().copied();
    let series = instruments_of(ratings).into_iter().filter_map(|instrument| instrument_series(def, instrument, &starts, ratings)).collect();
    Trajectory { definition_set: def.name, first_infusion_at, series }
}

/// The instruments the ratings were taken on, in catalogue order, each at the newest
/// version among them: a series is judged by the rules of its newest definition.
pub fn instruments_of(ratings: &[RatingPoint]) -> Vec<Instrument> {
    let mut newest: std::collections::BTreeMap<Instrument, Instrument> = std::collections::BTreeMap::new();
    for r in ratings {
        let kept = newest.entry(r.instrument).or_insert(r.instrument);
        if r.instrument.version() > kept.version() {
            *kept = r.instrument;
        }
    }
    newest.into_values().collect()
}

/// The one way a patient's series for an instrument is built (trajectory, analytics,
/// export): that instrument's ratings in time order, against sorted infusion starts.
/// `None` when the patient has no rating of the instrument.
pub fn instrument_series(def: &DefinitionSet, instrument: Instrument, sorted_starts: &[DateTime<Utc>], ratings: &[RatingPoint]) -> Option<Series> {
    let mut points: Vec<&RatingPoint> = ratings.iter().filter(|r| r.instrument == instrument).collect();
    if points.is_empty() {
        return None;
    }
    points.sort_by_key(|r| (r.rated_at, r.id));
    Some(series(def, instrument, sorted_starts, &points))
}

/// One instrument's series: `starts` sorted, `points` of that instrument sorted by time,
/// folded rating by rating (`SeriesFold`), the way a kept fold is extended by one rating.
fn series(def: &DefinitionSet, instrument: Instrument, starts: &[DateTime<Utc>], points: &[&RatingPoint]) -> Series {
    let mut fold = SeriesFold::new(instrument);
    let ratings: Vec<DerivedRating> = points.iter().map(|p| fold.push(def, instrument, starts, p)).collect();
    Series {
        instrument,
        baseline: fold.baseline.clone(),
        ratings_total: ratings.len(),
        earlier_ratings_omitted: 0,
        summary: fold.summary(instrument),
        ratings,
        fold,
    }
}

impl Trajectory {
    /// Keeps the latest `per_series` ratings of each series and says how many earlier
    /// ones were left out: a patient answering hourly for years must not make one answer
    /// (or one chart) of tens of megabytes. The baseline and the summary stay those of
    /// the whole series.
    pub fn keep_latest(&mut self, per_series: usize) {
        for series in &mut self.series {
            let omitted = series.ratings.len().saturating_sub(per_series);
            series.ratings.drain(..omitted);
            series.earlier_ratings_omitted += omitted;
        }
    }
}

/// Whether a condition has held at every rating for a span of time: the run of
/// consecutive ratings it holds on, and whether a run ever lasted long enough.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sustained {
    /// When the current run began (`None`: the last rating broke it).
    run_from: Option<DateTime<Utc>>,
    /// A run has lasted `hours`: what follows no longer matters.
    met: bool,
}

impl Sustained {
    /// Adds the next rating; true when the run reaches `hours` at this very rating.
    fn step(&mut self, at: DateTime<Utc>, holds: bool, hours: f64) -> bool {
        if self.met {
            return false;
        }
        if !holds {
            self.run_from = None;
            return false;
        }
        let from = *self.run_from.get_or_insert(at);
        self.met = super::hours_between(from, at) >= hours;
        self.met
    }
}

/// A series' summary and onset folded rating by rating, in time order: everything its
/// rules read of the ratings before the next one (the baseline, the runs towards
/// confirmation and relapse, the first meetings, the acute sums). onset keeps it per
/// patient and instrument, so that a rating later than every other of its series is judged
/// from the fold and itself alone, never from the whole course; the full series is the
/// same fold from the start (`series`), so the two cannot disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesFold {
    /// The version of the definition the series is judged by.
    pub version: u32,
    /// The last rating folded in, (rated at, id): only a later one extends the fold.
    pub last: Option<(DateTime<Utc>, Uuid)>,
    /// The last rating before the first session and within the window: the baseline
    /// once a treated rating follows it.
    pub baseline: Option<Baseline>,
    /// (hours since the first session, session number) of the first rating meeting each.
    partial_response: Option<(f64, u32)>,
    response: Option<(f64, u32)>,
    remission: Option<(f64, u32)>,
    response_held: Sustained,
    remission_held: Sustained,
    /// The rating confirming remission (a week of ratings in remission) and its hours.
    remission_confirmed: Option<(Uuid, Option<f64>)>,
    /// After a confirmed remission: totals ≥ 13 with CGI-I ≥ 6 for a month, and the same
    /// where CGI-I may be missing (undetermined); the hours of the rating completing it.
    relapse_worse: Sustained,
    relapse_maybe: Sustained,
    relapse_hours: Option<f64>,
    /// Hours of the last treated rating (measured against the baseline).
    last_treated_hours: Option<f64>,
    /// Hours of the first treated response, and of the first later rating below a
    /// partial response (relief lost).
    first_response_hours: Option<f64>,
    lost_hours: Option<f64>,
    /// Per `ACUTE_BUCKETS`: the sum and number of percent changes in the bucket.
    acute_sums: Vec<f64>,
    acute_counts: Vec<u32>,
}

impl SeriesFold {
    pub fn new(instrument: Instrument) -> SeriesFold {
        let buckets = ACUTE_BUCKETS.len();
        SeriesFold {
            version: instrument.version(),
            last: None,
            baseline: None,
            partial_response: None,
            response: None,
            remission: None,
            response_held: Sustained::default(),
            remission_held: Sustained::default(),
            remission_confirmed: None,
            relapse_worse: Sustained::default(),
            relapse_maybe: Sustained::default(),
            relapse_hours: None,
            last_treated_hours: None,
            first_response_hours: None,
            lost_hours: None,
            acute_sums: vec![0.0; buckets],
            acute_counts: vec![0; buckets],
        }
    }

    /// Whether `point` extends this fold: a rating of the version the series is judged by,
    /// later (by time, then id) than every rating folded in. Anything else (a backdated
    /// rating, a newer definition) is folded again from the start.
    pub fn extends(&self, point: &RatingPoint) -> bool {
        point.instrument.version() == self.version && self.last.is_none_or(|last| (point.rated_at, point.id) > last)
    }

    /// Folds in the next rating (in time order) and returns it derived: placed among the
    /// sessions (`starts`, sorted) and measured against the baseline.
    pub fn push(&mut self, def: &DefinitionSet, instrument: Instrument, starts: &[DateTime<Utc>], p: &RatingPoint) -> DerivedRating {
        self.last = Some((p.rated_at, p.id));
        let first = starts.first().copied();
        // The baseline: the last rating strictly before the first session, no older than
        // the window (`DefinitionSet::baseline_index`); a later candidate replaces it.
        if let Some(first) = first
            && def.baseline_index(first, &[p.rated_at]).is_some()
        {
            self.baseline = Some(Baseline { assessment_id: p.id, total: p.total, rated_at: p.rated_at });
        }
        let context = infusion_context(starts, p.rated_at);
        let treated = first.is_some_and(|f| p.rated_at >= f);
        // Change is followed for every instrument but the C-SSRS risk level; outcome rules
        // judge only the instruments whose definitions carry some.
        let changed = self.baseline.as_ref().filter(|_| treated && instrument.has_percent_change());
        let base = changed.filter(|_| instrument.rules().is_judged());
        let response = base.map(|b| def.response(instrument, b.total, p.total, p.cgi_i));
        let remission = base.and_then(|_| def.remission(instrument, p.total, p.cgi_s));
        // DESIGN §1: "A response or remission met within the first 7 days after the first
        // infusion (168 h), or on a rating whose recall is shorter than a week, is flagged
        // early improvement"; a partial response is neither, so it is not flagged.
        let early = response.map(|r| {
            (r == Response::Response || remission == Some(true))
                && (p.recall.is_short() || context.hours_since_first.is_some_and(|h| h < def.early_window_hours))
        });
        let derived = DerivedRating {
            assessment_id: p.id,
            rated_at: p.rated_at,
            total: p.total,
            recall: p.recall,
            short_recall: p.recall.is_short(),
            hours_since_first_infusion: context.hours_since_first,
            hours_since_last_infusion: context.hours_since_last,
            infusion_number: context.infusion_number,
            change: changed.map(|b| i64::from(p.total) - i64::from(b.total)),
            percent_change: changed.and_then(|b| improvement(instrument, b.total, p.total)),
            response,
            remission,
            early_improvement: early,
            response_cgi_confirmed: base.and_then(|b| def.response_cgi_confirmed(instrument, b.total, p.total, p.cgi_i)),
            remission_cgi_confirmed: base.and_then(|_| def.remission_cgi_confirmed(instrument, p.cgi_s)),
            item_9_unknown: super::safety::item_9_unknown(instrument, p.itemised, p.total),
        };
        self.judge(def, instrument, p, &derived);
        derived
    }

    /// The summary's and onset's part of folding in a rating.
    fn judge(&mut self, def: &DefinitionSet, instrument: Instrument, p: &RatingPoint, r: &DerivedRating) {
        let when = r.hours_since_first_infusion.map(|h| (h, r.infusion_number));
        for (first, endpoint) in
            [(&mut self.partial_response, Endpoint::PartialResponse), (&mut self.response, Endpoint::Response), (&mut self.remission, Endpoint::Remission)]
        {
            if first.is_none() && r.meets(endpoint) {
                *first = when;
            }
        }
        self.response_held.step(p.rated_at, r.meets(Endpoint::Response), def.confirmation_hours);
        let confirmed_before = self.remission_confirmed.is_some();
        if def.has_remission(instrument) && self.remission_held.step(p.rated_at, r.meets(Endpoint::Remission), def.confirmation_hours) {
            self.remission_confirmed = Some((p.id, r.hours_since_first_infusion));
        }
        // Relapse per the consensus (Mataix-Cols 2016, as DESIGN.md §1 applies it), for the
        // OCD instruments only: after a confirmed remission, every rating over ≥ 1 month
        // with total ≥ 13 and CGI-I ≥ 6. The rating confirming remission starts no run.
        if instrument.measures_ocd() {
            let sign = def.relapse_sign(p.total, p.cgi_i);
            if self.relapse_worse.step(p.rated_at, confirmed_before && sign == RelapseSign::Worse, def.relapse_sustained_hours) {
                self.relapse_hours = r.hours_since_first_infusion;
            }
            // The same month of totals ≥ 13 where some ratings lack CGI-I: the rule cannot
            // be judged either way ("relapse cannot be judged: relapse is null").
            self.relapse_maybe.step(p.rated_at, confirmed_before && sign != RelapseSign::No, def.relapse_sustained_hours);
        }
        // What the onset summary keeps of treated ratings (measured against the baseline).
        if r.response.is_none() {
            return;
        }
        let hours = r.hours_since_first_infusion.unwrap_or(0.0);
        self.last_treated_hours = Some(hours);
        if let (Some(since_last), Some(pct)) = (r.hours_since_last_infusion, r.percent_change)
            && let Some(i) = ACUTE_BUCKETS.iter().position(|(_, from, to)| since_last >= *from && since_last < *to)
        {
            self.acute_sums[i] += pct;
            self.acute_counts[i] += 1;
        }
        // DESIGN.md §11: "among responders: hours from the first response to the first
        // later rating below partial response".
        if self.first_response_hours.is_none() {
            if r.meets(Endpoint::Response) {
                self.first_response_hours = Some(hours);
            }
        } else if self.lost_hours.is_none() && !r.meets(Endpoint::PartialResponse) {
            self.lost_hours = Some(hours);
        }
    }

    /// (relapse, undetermined): null before a confirmed remission and for instruments
    /// other than the OCD ones.
    fn relapse(&self, instrument: Instrument) -> (Option<bool>, bool) {
        if !instrument.measures_ocd() || self.remission_confirmed.is_none() {
            return (None, false);
        }
        if self.relapse_worse.met {
            (Some(true), false)
        } else if self.relapse_maybe.met {
            (None, true)
        } else {
            (Some(false), false)
        }
    }

    pub fn summary(&self, instrument: Instrument) -> Summary {
        let (relapse, relapse_undetermined) = self.relapse(instrument);
        // Where the source and DESIGN.md differ: Mataix-Cols 2016 defines partial response
        // as a ≥ 25 % but < 35 % reduction "lasting for at least one week", like response
        // and remission. DESIGN.md §1 gives a `partial_response` status per rating and a
        // summary that says, for response and remission only, whether it was confirmed;
        // partial response has no confirmation here and is counted from its first rating.
        // Left as DESIGN.md has it (issue 24): a partial response in these hours is an
        // early signal, and what lasts a week is what `response_confirmed` and
        // `remission_confirmed` report.
        Summary {
            hours_to_partial_response: self.partial_response.map(|(h, _)| h),
            infusion_number_at_partial_response: self.partial_response.map(|(_, n)| n),
            hours_to_response: self.response.map(|(h, _)| h),
            infusion_number_at_response: self.response.map(|(_, n)| n),
            response_confirmed: self.response_held.met,
            hours_to_remission: self.remission.map(|(h, _)| h),
            infusion_number_at_remission: self.remission.map(|(_, n)| n),
            remission_confirmed: self.remission_confirmed.is_some(),
            relapse,
            relapse_undetermined,
            relapsed_remission: self.remission_confirmed.filter(|_| relapse == Some(true)).map(|(id, _)| id),
            remission_confirmed_hours: self.remission_confirmed.and_then(|(_, hours)| hours),
            relapse_hours: self.relapse_hours.filter(|_| relapse == Some(true)),
        }
    }

    /// What the patient contributes to cohort analytics on this series: `None` outside
    /// the cohort (no baseline, or no rating after the first session measured against it).
    pub fn onset(&self, instrument: Instrument) -> Option<PatientOnset> {
        let baseline = self.baseline.as_ref()?;
        let last_hours = self.last_treated_hours?;
        let mut acute = [None; ACUTE_BUCKETS.len()];
        for ((slot, sum), n) in acute.iter_mut().zip(&self.acute_sums).zip(&self.acute_counts) {
            *slot = (*n > 0).then(|| sum / f64::from(*n));
        }
        let summary = self.summary(instrument);
        Some(PatientOnset {
            instrument,
            partial_response_hours: self.partial_response.map(|(h, _)| h),
            response_hours: self.response.map(|(h, _)| h),
            remission_hours: self.remission.map(|(h, _)| h),
            last_hours,
            acute,
            baseline_total: baseline.total,
            loss_of_response: self.first_response_hours.map(|from| match self.lost_hours {
                Some(lost) => Observation { time: lost - from, event: true },
                None => Observation { time: last_hours - from, event: false },
            }),
            // After a confirmed remission only: to the rating completing the relapse
            // rule's month, or to the last rating (censored).
            relapse: summary.remission_confirmed_hours.map(|from| match summary.relapse_hours {
                Some(at) => Observation { time: at - from, event: true },
                None => Observation { time: last_hours - from, event: false },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outcomes::CONSENSUS_2016;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn rating(hours: f64, total: u32) -> RatingPoint {
        RatingPoint {
            id: Uuid::now_v7(),
            instrument: Instrument::named("ybocs"),
            rated_at: t0() + Duration::minutes((hours * 60.0) as i64),
            recall: Recall::Week,
            total,
            cgi_s: None,
            cgi_i: None,
            itemised: true,
        }
    }

    fn with_cgi(mut r: RatingPoint, cgi_s: Option<u32>, cgi_i: Option<u32>) -> RatingPoint {
        r.cgi_s = cgi_s;
        r.cgi_i = cgi_i;
        r
    }

    fn only_series(t: &Trajectory) -> &Series {
        assert_eq!(t.series.len(), 1);
        &t.series[0]
    }

    fn summary(ratings: &[RatingPoint]) -> Summary {
        only_series(&trajectory(&CONSENSUS_2016, &[t0()], ratings)).summary.clone()
    }

    #[test]
    fn keeping_the_latest_ratings_keeps_the_whole_series_summary() {
        // Baseline 20 a day before the first session, then 30 ratings, the 3rd a response.
        let mut ratings = vec![rating(-24.0, 20)];
        ratings.extend((1..=30).map(|h| rating(f64::from(h), if h == 3 { 10 } else { 18 })));
        let mut t = trajectory(&CONSENSUS_2016, &[t0()], &ratings);
        let whole = only_series(&t).clone();
        t.keep_latest(5);
        let kept = only_series(&t);
        assert_eq!((kept.ratings.len(), kept.ratings_total, kept.earlier_ratings_omitted), (5, 31, 26));
        assert_eq!(kept.ratings.last(), whole.ratings.last(), "the latest are kept");
        assert_eq!((&kept.summary, &kept.baseline), (&whole.summary, &whole.baseline), "judged on the whole series");
        assert_eq!(kept.summary.hours_to_response, Some(3.0));
        t.keep_latest(100);
        assert_eq!(only_series(&t).ratings.len(), 5, "nothing comes back");
    }

    #[test]
    fn hours_and_infusion_numbers() {
        let starts = [t0(), t0() + Duration::days(2), t0() + Duration::days(4)];
        let c = infusion_context(&starts, t0() + Duration::hours(50));
        assert_eq!(c, InfusionContext { hours_since_first: Some(50.0), hours_since_last: Some(2.0), infusion_number: 2 });
        let before = infusion_context(&starts, t0() - Duration::hours(3));
        assert_eq!(before, InfusionContext { hours_since_first: Some(-3.0), hours_since_last: None, infusion_number: 0 });
        let at_start = infusion_context(&starts, t0() + Duration::days(2));
        assert_eq!(at_start.infusion_number, 2, "a session started at the rating's time counts");
        assert_eq!(infusion_context(&[], t0()).hours_since_first, None);
    }

    #[test]
    fn a_journey_with_early_and_confirmed_response() {
        let ratings = vec![
            rating(-24.0 * 40.0, 34), // outside the window: not the baseline
            rating(-48.0, 30),        // baseline
            rating(4.0, 24),          // 20 %: none
            rating(24.0, 18),         // 40 %: response, early
            rating(24.0 * 7.0, 19),   // 36.7 %: response, not early (168 h is past the window)
            rating(24.0 * 14.0, 12),  // 60 %: response and remission
            rating(24.0 * 28.0, 10),  // response and remission
        ];
        let t = trajectory(&CONSENSUS_2016, &[t0(), t0() + Duration::days(3)], &ratings);
        let s = only_series(&t);
        assert_eq!(s.baseline.as_ref().unwrap().total, 30);
        let r = &s.ratings;
        assert_eq!((r[0].response, r[0].remission), (None, None));
        assert_eq!(r[1].change, None, "the baseline precedes treatment");
        assert_eq!((r[2].response, r[2].remission), (Some(Response::None), Some(false)));
        assert_eq!(r[2].change, Some(-6));
        assert!((r[2].percent_change.unwrap() - 20.0).abs() < 1e-12);
        assert_eq!((r[3].response, r[3].early_improvement), (Some(Response::Response), Some(true)));
        assert_eq!(r[3].infusion_number, 1);
        assert_eq!((r[4].response, r[4].early_improvement), (Some(Response::Response), Some(false)));
        assert_eq!(r[4].hours_since_last_infusion, Some(96.0));
        assert_eq!((r[5].response, r[5].remission), (Some(Response::Response), Some(true)));
        let m = &s.summary;
        assert_eq!((m.hours_to_partial_response, m.infusion_number_at_partial_response), (Some(24.0), Some(1)));
        assert_eq!((m.hours_to_response, m.infusion_number_at_response), (Some(24.0), Some(1)));
        assert_eq!((m.hours_to_remission, m.infusion_number_at_remission), (Some(336.0), Some(2)));
        assert!(m.response_confirmed);
        assert!(m.remission_confirmed, "336 h → 672 h is two weeks of remission");
        assert_eq!((m.relapse, m.relapse_undetermined), (Some(false), false));
    }

    #[test]
    fn sixteen_to_twelve_is_a_remission_and_only_a_partial_response() {
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(-1.0, 16), rating(24.0, 12)]);
        let r = &only_series(&t).ratings[1];
        assert_eq!((r.response, r.remission), (Some(Response::PartialResponse), Some(true)));
        assert_eq!(r.early_improvement, Some(true), "a remission within 168 h is early improvement");
        let m = &only_series(&t).summary;
        assert_eq!((m.hours_to_partial_response, m.hours_to_response, m.hours_to_remission), (Some(24.0), None, Some(24.0)));
    }

    #[test]
    fn thirty_to_ten_with_cgi_s_five_is_no_remission() {
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(-1.0, 30), with_cgi(rating(24.0, 10), Some(5), None)]);
        let r = &only_series(&t).ratings[1];
        assert_eq!((r.response, r.remission, r.remission_cgi_confirmed), (Some(Response::Response), Some(false), Some(false)));
    }

    #[test]
    fn a_partial_response_is_not_early_improvement() {
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(-1.0, 40), rating(24.0, 28)]);
        let r = &only_series(&t).ratings[1];
        assert_eq!((r.response, r.early_improvement), (Some(Response::PartialResponse), Some(false)));
    }

    #[test]
    fn no_baseline_means_no_status() {
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(24.0, 10)]);
        let s = only_series(&t);
        assert_eq!(s.baseline, None);
        assert_eq!((s.ratings[0].response, s.ratings[0].remission, s.ratings[0].percent_change), (None, None, None));
        assert_eq!(s.summary.hours_to_response, None);
        let none = trajectory(&CONSENSUS_2016, &[], &[rating(0.0, 10)]);
        assert_eq!(none.first_infusion_at, None);
        assert_eq!(only_series(&none).ratings[0].hours_since_first_infusion, None);
    }

    #[test]
    fn a_baseline_of_zero_has_no_percent_change() {
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(-1.0, 0), rating(5.0, 0)]);
        let r = &only_series(&t).ratings[1];
        assert_eq!((r.change, r.percent_change), (Some(0), None));
        assert_eq!((r.response, r.remission), (Some(Response::None), Some(true)));
    }

    #[test]
    fn short_recall_is_early_improvement_at_any_time() {
        let mut late = rating(24.0 * 20.0, 15);
        late.recall = Recall::Day;
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(-1.0, 30), late]);
        let r = &only_series(&t).ratings[1];
        assert_eq!((r.response, r.short_recall, r.early_improvement), (Some(Response::Response), true, Some(true)));
    }

    #[test]
    fn response_needs_seven_days_at_every_rating_to_be_confirmed() {
        let broken = [rating(-1.0, 30), rating(24.0, 18), rating(96.0, 25), rating(24.0 * 8.0, 18)];
        assert!(!summary(&broken).response_confirmed);
        let short = [rating(-1.0, 30), rating(24.0, 18), rating(24.0 * 7.0 + 23.0, 18)];
        assert!(!summary(&short).response_confirmed);
        let held = [rating(-1.0, 30), rating(24.0, 18), rating(24.0 * 8.0, 18)];
        assert!(summary(&held).response_confirmed);
    }

    #[test]
    fn a_stable_responder_who_never_remitted_cannot_relapse() {
        // 30 → 18 (40 %) for two months: a confirmed response, never a remission.
        let ratings: Vec<_> = std::iter::once(rating(-1.0, 30)).chain((1..=9).map(|w| rating(24.0 * 7.0 * f64::from(w), 18))).collect();
        let m = summary(&ratings);
        assert!(m.response_confirmed && !m.remission_confirmed);
        assert_eq!((m.relapse, m.relapse_undetermined), (None, false));
    }

    /// Remission confirmed by day 8, then totals ≥ 13 from day 20 on.
    fn remitted_then_worse(cgi_i: Option<u32>, last_day: f64) -> Vec<RatingPoint> {
        vec![
            rating(-1.0, 30),
            rating(24.0, 10),
            rating(24.0 * 8.0, 10),
            with_cgi(rating(24.0 * 20.0, 22), None, cgi_i),
            with_cgi(rating(24.0 * last_day, 24), None, cgi_i),
        ]
    }

    #[test]
    fn relapse_after_confirmed_remission_needs_a_month_of_cgi_i_six() {
        let m = summary(&remitted_then_worse(Some(6), 49.0));
        assert_eq!((m.relapse, m.relapse_undetermined), (Some(false), false), "29 days is not a month");
        assert_eq!(m.relapsed_remission, None);
        let points = remitted_then_worse(Some(6), 50.0);
        let m = summary(&points);
        assert_eq!((m.relapse, m.relapse_undetermined), (Some(true), false), "day 20 → day 50: 30 days");
        assert_eq!(m.relapsed_remission, Some(points[2].id), "the remission confirmed on day 8 is the one that ended");
        let m = summary(&remitted_then_worse(Some(5), 50.0));
        assert_eq!((m.relapse, m.relapse_undetermined), (Some(false), false), "CGI-I 5 is not 'much worse'");
        let m = summary(&remitted_then_worse(None, 50.0));
        assert_eq!((m.relapse, m.relapse_undetermined), (None, true), "without CGI-I it cannot be judged");
    }

    #[test]
    fn instruments_are_separate_series_with_their_own_baselines() {
        let mut vas = rating(-2.0, 80);
        vas.instrument = Instrument::named("ocd_vas");
        let mut vas_after = rating(2.0, 40);
        vas_after.instrument = Instrument::named("ocd_vas");
        let t = trajectory(&CONSENSUS_2016, &[t0()], &[rating(-1.0, 30), vas, vas_after, rating(4.0, 28)]);
        assert_eq!(t.series.len(), 2);
        assert_eq!(t.series[0].instrument, Instrument::named("ybocs"));
        assert_eq!(t.series[0].baseline.as_ref().unwrap().total, 30);
        assert_eq!(t.series[1].baseline.as_ref().unwrap().total, 80);
        assert_eq!((t.series[1].ratings[1].response, t.series[1].ratings[1].remission), (Some(Response::Response), None));
        assert_eq!(t.series[1].summary.relapse, None);
        assert_eq!(t.series[1].summary.hours_to_response, Some(2.0));
    }

    /// A series folded one rating at a time, through the fold's stored form (JSON) between
    /// ratings as a write keeps it, is the series derived whole at every step: 300 seeded
    /// courses of totals, CGI and times (some before the first session, some tied), on the
    /// Y-BOCS (consensus rules, relapse) and the MADRS (a definition's rules).
    #[test]
    fn a_fold_extended_rating_by_rating_is_the_whole_series_at_every_step() {
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let starts = [t0(), t0() + Duration::days(2), t0() + Duration::days(9)];
        for course in 0..300 {
            let instrument = Instrument::named(if course % 3 == 2 { "madrs" } else { "ybocs" });
            let mut hours = -(next(24 * 20) as f64);
            let mut points = Vec::new();
            for _ in 0..40 {
                // Now and then a second rating at the same minute (ordered by id).
                if next(8) != 0 {
                    hours += next(24 * 6) as f64 * 0.5;
                }
                let mut point =
                    with_cgi(rating(hours, next(41) as u32), [None, Some(2), Some(4)][next(3) as usize], [None, Some(1), Some(6), Some(7)][next(4) as usize]);
                point.instrument = instrument;
                points.push(point);
            }
            let mut kept = serde_json::to_string(&SeriesFold::new(instrument)).unwrap();
            for k in 1..=points.len() {
                let mut fold: SeriesFold = serde_json::from_str(&kept).unwrap();
                assert!(fold.extends(&points[k - 1]), "course {course}, rating {k}: later than every other");
                let derived = fold.push(&CONSENSUS_2016, instrument, &starts, &points[k - 1]);
                kept = serde_json::to_string(&fold).unwrap();
                let whole = instrument_series(&CONSENSUS_2016, instrument, &starts, &points[..k]).unwrap();
                assert_eq!(fold, whole.fold, "course {course}, rating {k}");
                assert_eq!(Some(&derived), whole.ratings.last(), "course {course}, rating {k}");
                assert_eq!(fold.summary(instrument), whole.summary, "course {course}, rating {k}");
                assert_eq!(fold.onset(instrument), crate::domain::onset::patient_onset(&CONSENSUS_2016, instrument, &starts, &points[..k]));
            }
        }
    }

    /// Only a rating later than every other (by time, then id) of the version the series
    /// is judged by extends a fold; any other is derived again from the whole course.
    #[test]
    fn a_fold_is_extended_only_by_a_later_rating_of_its_version() {
        let mut fold = SeriesFold::new(Instrument::named("ybocs"));
        let first = rating(1.0, 20);
        fold.push(&CONSENSUS_2016, Instrument::named("ybocs"), &[t0()], &first);
        let mut tied = rating(1.0, 20);
        assert!(fold.extends(&tied), "the same minute, a later id (UUID v7)");
        tied.id = Uuid::nil();
        assert!(!fold.extends(&tied), "the same minute, an earlier id");
        assert!(!fold.extends(&first), "the rating itself");
        assert!(!fold.extends(&rating(0.5, 20)), "backdated");
        let mut newer = rating(2.0, 20);
        fold.version += 1;
        newer.instrument = Instrument::named("ybocs");
        assert!(!fold.extends(&newer), "judged by another version of the definition");
    }
}
