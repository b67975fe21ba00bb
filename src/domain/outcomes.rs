//! Outcome definitions as data. The default set follows Mataix-Cols et al., "Towards
//! an international expert consensus for defining treatment response, remission,
//! recovery and relapse in obsessive-compulsive disorder", World Psychiatry 2016;15:80–81.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::instruments::Instrument;

/// A named, versioned set of outcome rules; every derived flag names the set it used.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionSet {
    pub name: &'static str,
    /// The baseline is the last rating within this window before the first infusion.
    pub baseline_window: Duration,
    /// Percent reductions from baseline: response at ≥ 35 %, partial response at ≥ 25 %.
    pub response_reduction: f64,
    pub partial_reduction: f64,
    /// Remission: total ≤ 12, on these instruments only.
    pub remission_max_total: u32,
    pub remission_instruments: &'static [Instrument],
    /// When CGI-I is recorded, response also needs CGI-I ≤ 2 and partial response ≤ 3.
    pub cgi_i_response_max: u32,
    pub cgi_i_partial_max: u32,
    /// A criterion met this soon after the first infusion is "early improvement".
    pub early_window_hours: f64,
    /// Response or remission is confirmed when it holds at every rating for this long.
    pub confirmation_hours: f64,
    /// Relapse after confirmed response: total ≥ 13 with CGI-I ≥ 6 (if recorded),
    /// sustained this long; defined for the remission instruments only.
    pub relapse_min_total: u32,
    pub relapse_cgi_i_min: u32,
    pub relapse_sustained_hours: f64,
}

pub const CONSENSUS_2016: DefinitionSet = DefinitionSet {
    name: "consensus-2016",
    baseline_window: Duration::days(30),
    response_reduction: 35.0,
    partial_reduction: 25.0,
    remission_max_total: 12,
    remission_instruments: &[Instrument::Ybocs, Instrument::YbocsSr],
    cgi_i_response_max: 2,
    cgi_i_partial_max: 3,
    early_window_hours: 168.0,
    confirmation_hours: 168.0,
    relapse_min_total: 13,
    relapse_cgi_i_min: 6,
    relapse_sustained_hours: 30.0 * 24.0,
};

/// The highest level a rating meets; an endpoint is met by its level or a higher one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    None,
    PartialResponse,
    Response,
    Remission,
}

impl Criterion {
    pub fn code(self) -> &'static str {
        match self {
            Criterion::None => "none",
            Criterion::PartialResponse => "partial_response",
            Criterion::Response => "response",
            Criterion::Remission => "remission",
        }
    }
    pub fn parse_endpoint(s: &str) -> Option<Criterion> {
        [Criterion::PartialResponse, Criterion::Response, Criterion::Remission].into_iter().find(|c| c.code() == s)
    }
    pub fn meets(self, endpoint: Criterion) -> bool {
        self >= endpoint
    }
}

/// (baseline − score) / baseline × 100; undefined for a baseline of 0. Never rounded here.
pub fn percent_change(baseline: u32, score: u32) -> Option<f64> {
    (baseline > 0).then(|| (f64::from(baseline) - f64::from(score)) / f64::from(baseline) * 100.0)
}

impl DefinitionSet {
    pub fn has_remission(&self, instrument: Instrument) -> bool {
        self.remission_instruments.contains(&instrument)
    }

    /// The criterion a post-baseline rating meets.
    pub fn criterion(&self, instrument: Instrument, baseline: u32, total: u32, cgi_i: Option<u32>) -> Criterion {
        if self.has_remission(instrument) && total <= self.remission_max_total {
            return Criterion::Remission;
        }
        let Some(pct) = percent_change(baseline, total) else { return Criterion::None };
        let cgi_allows = |max: u32| cgi_i.is_none_or(|c| c <= max);
        if pct >= self.response_reduction && cgi_allows(self.cgi_i_response_max) {
            Criterion::Response
        } else if pct >= self.partial_reduction && cgi_allows(self.cgi_i_partial_max) {
            Criterion::PartialResponse
        } else {
            Criterion::None
        }
    }

    /// Whether a recorded CGI-I agrees with the level met (`None` when no CGI-I or no level).
    pub fn cgi_confirmed(&self, criterion: Criterion, cgi_i: Option<u32>) -> Option<bool> {
        let cgi_i = cgi_i?;
        match criterion {
            Criterion::None => None,
            Criterion::PartialResponse => Some(cgi_i <= self.cgi_i_partial_max),
            Criterion::Response | Criterion::Remission => Some(cgi_i <= self.cgi_i_response_max),
        }
    }

    /// A rating that would count toward relapse: total ≥ 13 and CGI-I ≥ 6 when recorded.
    pub fn relapse_rating(&self, total: u32, cgi_i: Option<u32>) -> bool {
        total >= self.relapse_min_total && cgi_i.is_none_or(|c| c >= self.relapse_cgi_i_min)
    }

    /// The baseline among `(rated_at, index)` candidates of one instrument: the last one
    /// strictly before the first infusion and no older than the window.
    pub fn baseline_index(&self, first_infusion: DateTime<Utc>, rated: &[DateTime<Utc>]) -> Option<usize> {
        let earliest = first_infusion - self.baseline_window;
        rated
            .iter()
            .enumerate()
            .filter(|(_, t)| **t < first_infusion && **t >= earliest)
            .max_by_key(|(i, t)| (**t, *i))
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &DefinitionSet = &CONSENSUS_2016;

    #[test]
    fn percent_change_is_exact_and_undefined_at_zero() {
        assert_eq!(percent_change(30, 18), Some(40.0));
        assert_eq!(percent_change(30, 33), Some(-10.0));
        assert_eq!(percent_change(0, 5), None);
        assert!((percent_change(3, 2).unwrap() - 100.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn criterion_thresholds() {
        let y = Instrument::Ybocs;
        // baseline 40: 35 % is 26, 25 % is 30
        assert_eq!(D.criterion(y, 40, 26, None), Criterion::Response);
        assert_eq!(D.criterion(y, 40, 27, None), Criterion::PartialResponse);
        assert_eq!(D.criterion(y, 40, 30, None), Criterion::PartialResponse);
        assert_eq!(D.criterion(y, 40, 31, None), Criterion::None);
        assert_eq!(D.criterion(y, 40, 12, None), Criterion::Remission);
        assert_eq!(D.criterion(y, 40, 13, None), Criterion::Response);
        // remission is absolute: a baseline of 14 falling to 12 is remission
        assert_eq!(D.criterion(y, 14, 12, None), Criterion::Remission);
        assert_eq!(D.criterion(Instrument::YbocsSr, 20, 12, None), Criterion::Remission);
    }

    #[test]
    fn remission_only_on_ybocs_and_ybocs_sr() {
        assert_eq!(D.criterion(Instrument::YbocsIi, 40, 12, None), Criterion::Response);
        assert_eq!(D.criterion(Instrument::YbocsIi, 14, 12, None), Criterion::None);
        assert_eq!(D.criterion(Instrument::OcdVas, 80, 10, None), Criterion::Response);
        assert_eq!(D.criterion(Instrument::OcdVas, 80, 60, None), Criterion::PartialResponse);
    }

    #[test]
    fn cgi_i_gates_response_and_partial_response() {
        let y = Instrument::Ybocs;
        assert_eq!(D.criterion(y, 40, 20, Some(2)), Criterion::Response);
        assert_eq!(D.criterion(y, 40, 20, Some(3)), Criterion::PartialResponse);
        assert_eq!(D.criterion(y, 40, 20, Some(4)), Criterion::None);
        assert_eq!(D.criterion(y, 40, 28, Some(3)), Criterion::PartialResponse);
        assert_eq!(D.criterion(y, 40, 28, Some(4)), Criterion::None);
        assert_eq!(D.cgi_confirmed(Criterion::Response, Some(2)), Some(true));
        assert_eq!(D.cgi_confirmed(Criterion::Remission, Some(4)), Some(false));
        assert_eq!(D.cgi_confirmed(Criterion::Response, None), None);
        assert_eq!(D.cgi_confirmed(Criterion::None, Some(1)), None);
    }

    #[test]
    fn endpoints_are_met_by_higher_levels() {
        assert!(Criterion::Remission.meets(Criterion::Response));
        assert!(Criterion::Response.meets(Criterion::PartialResponse));
        assert!(!Criterion::PartialResponse.meets(Criterion::Response));
        assert!(!Criterion::None.meets(Criterion::PartialResponse));
    }

    #[test]
    fn relapse_rating_needs_cgi_i_when_recorded() {
        assert!(D.relapse_rating(13, None));
        assert!(!D.relapse_rating(12, None));
        assert!(D.relapse_rating(20, Some(6)));
        assert!(!D.relapse_rating(20, Some(5)));
    }

    #[test]
    fn baseline_is_the_last_rating_inside_the_window() {
        let first = DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&Utc);
        let days = |d: i64| first - Duration::days(d);
        let rated = [days(40), days(10), days(2), first, first + Duration::hours(4)];
        assert_eq!(D.baseline_index(first, &rated), Some(2));
        assert_eq!(D.baseline_index(first, &[days(31), first]), None);
        assert_eq!(D.baseline_index(first, &[days(30)]), Some(0));
        assert_eq!(D.baseline_index(first, &[first]), None, "a rating at the infusion's start is not before it");
    }
}
