//! Outcome definitions as data. The default set follows Mataix-Cols D, Fernández de la
//! Cruz L, Nordsletten AE, et al. "Towards an international expert consensus for defining
//! treatment response, remission, recovery and relapse in obsessive-compulsive disorder."
//! World Psychiatry 2016;15:80–81 (PMC4780290).
//!
//! Response and remission are two separate questions, never one ladder: a Y-BOCS fall
//! from 16 to 12 is a remission and only a partial response.

use chrono::{DateTime, Duration, Utc};

use super::definitions::{ChangeKind, Direction, RuleFamily, Threshold};
use super::instruments::Instrument;
use super::fields::vocabulary;

/// A named, versioned set of outcome rules; every derived flag names the set it used.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionSet {
    pub name: &'static str,
    /// The baseline is the last rating within this window before the first infusion.
    pub baseline_window: Duration,
    /// Percent reductions from baseline: response at ≥ 35 %, partial response at ≥ 25 %.
    pub response_reduction: f64,
    pub partial_reduction: f64,
    /// When CGI-I is recorded, response also needs CGI-I ≤ 2 and partial response ≤ 3.
    pub cgi_i_response_max: u32,
    pub cgi_i_partial_max: u32,
    /// Remission: total ≤ 12 and, when recorded, CGI-S ≤ 2; on the instruments whose
    /// definitions carry the consensus cut-off (the Y-BOCS and its self-report).
    pub remission_max_total: u32,
    pub remission_cgi_s_max: u32,
    /// A response or remission met this soon after the first infusion is "early improvement".
    pub early_window_hours: f64,
    /// Response or remission is confirmed when it holds at every rating for this long.
    pub confirmation_hours: f64,
    /// Relapse after confirmed remission: total ≥ 13 and CGI-I ≥ 6, sustained this long.
    pub relapse_min_total: u32,
    pub relapse_cgi_i_min: u32,
    pub relapse_sustained_hours: f64,
}

pub const CONSENSUS_2016: DefinitionSet = DefinitionSet {
    name: "consensus-2016",
    baseline_window: Duration::days(30),
    // "Treatment response: a ≥35% reduction in Y-BOCS score plus a CGI-I rating of 1
    // ('very much improved') or 2 ('much improved'), lasting for at least one week."
    response_reduction: 35.0,
    cgi_i_response_max: 2,
    // "Partial response: a ≥25% but <35% reduction in Y-BOCS score plus a CGI-I rating of
    // at least 3 ('minimally improved'), lasting for at least one week."
    partial_reduction: 25.0,
    cgi_i_partial_max: 3,
    // "Remission: a score of ≤12 on the Y-BOCS plus a CGI-S score of 1 ('normal, not at all
    // ill') or 2 ('borderline mentally ill'), lasting for at least one week."
    remission_max_total: 12,
    remission_cgi_s_max: 2,
    early_window_hours: 168.0,
    confirmation_hours: 168.0,
    // "Relapse: ... no longer meeting the criteria of remission, with a Y-BOCS score ≥13 and
    // a CGI-I score of 6 ('much worse') or higher for at least one month" (after remission).
    relapse_min_total: 13,
    relapse_cgi_i_min: 6,
    relapse_sustained_hours: 30.0 * 24.0,
};

// A rating's response status: the reduction from baseline, gated by CGI-I when recorded.
vocabulary!(Response { None = "none", PartialResponse = "partial_response", Response = "response" });

// The endpoints of the onset analytics: how fast relief comes (the first three, from the
// first session) and how long it lasts (DESIGN.md §11: `loss_of_response` from the first
// response, `relapse` from the confirmation of remission).
vocabulary!(Endpoint {
    PartialResponse = "partial_response",
    Response = "response",
    Remission = "remission",
    LossOfResponse = "loss_of_response",
    Relapse = "relapse",
});

impl Endpoint {
    /// Whether a rating with this response status and remission flag meets the endpoint.
    /// `PartialResponse` is met by a partial or a full response; `Remission` by remission
    /// alone, whatever the response status. The durability endpoints are met by a course,
    /// never by one rating.
    pub fn met(self, response: Option<Response>, remission: Option<bool>) -> bool {
        match self {
            Endpoint::PartialResponse => matches!(response, Some(Response::PartialResponse | Response::Response)),
            Endpoint::Response => response == Some(Response::Response),
            Endpoint::Remission => remission == Some(true),
            Endpoint::LossOfResponse | Endpoint::Relapse => false,
        }
    }
}

/// What one rating shows against the relapse rule (after a confirmed remission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelapseSign {
    /// Total ≥ 13 with CGI-I ≥ 6: counts toward relapse.
    Worse,
    /// Total ≥ 13 without a CGI-I: the rule cannot be judged on this rating.
    Unjudged,
    /// Total ≤ 12, or CGI-I recorded below 6.
    No,
}

/// (baseline − score) / baseline × 100; undefined for a baseline of 0. Never rounded here.
pub fn percent_change(baseline: u32, score: u32) -> Option<f64> {
    (baseline > 0).then(|| (f64::from(baseline) - f64::from(score)) / f64::from(baseline) * 100.0)
}

/// Improvement from baseline in percent of the baseline, positive when better: where a
/// higher score is better (a clinic's well-being scale) the fall is a worsening.
pub fn improvement(instrument: Instrument, baseline: u32, score: u32) -> Option<f64> {
    let pct = percent_change(baseline, score)?;
    Some(match instrument.definition().outcomes.direction {
        Direction::HigherIsWorse => pct,
        Direction::HigherIsBetter => -pct,
    })
}

/// Whether a change from `baseline` to `score` reaches a definition's threshold: percent
/// of the baseline (never met from a baseline of 0) or points, in the better direction.
fn reaches(direction: Direction, threshold: Threshold, baseline: u32, score: u32) -> bool {
    let better = match direction {
        Direction::HigherIsWorse => f64::from(baseline) - f64::from(score),
        Direction::HigherIsBetter => f64::from(score) - f64::from(baseline),
    };
    match threshold.kind {
        ChangeKind::Points => better >= threshold.threshold,
        ChangeKind::Percent => baseline > 0 && better / f64::from(baseline) * 100.0 >= threshold.threshold,
    }
}

impl DefinitionSet {
    /// Whether the instrument's series has a remission status: a cut-off in its
    /// definition (DESIGN.md §1: the Y-BOCS and its self-report; §9: MADRS ≤ 10, a
    /// clinic's own).
    pub fn has_remission(&self, instrument: Instrument) -> bool {
        instrument.definition().outcomes.remission.is_some()
    }

    /// The response status of a post-baseline rating, by the instrument's rules:
    /// - the OCD consensus (`consensus_response`) for the Y-BOCS family and the OCD VAS;
    /// - otherwise the definition's own thresholds (DESIGN.md §9), percent or points,
    ///   with no CGI gate: the consensus's CGI-I conditions are OCD's (Mataix-Cols 2016).
    pub fn response(&self, instrument: Instrument, baseline: u32, total: u32, cgi_i: Option<u32>) -> Response {
        let outcomes = instrument.definition().outcomes;
        match outcomes.rules {
            RuleFamily::OcdConsensus => self.consensus_response(baseline, total, cgi_i),
            RuleFamily::NoOutcomes => Response::None,
            RuleFamily::Definition => {
                let met = |rule: Option<Threshold>| rule.is_some_and(|t| reaches(outcomes.direction, t, baseline, total));
                if met(outcomes.response) {
                    Response::Response
                } else if met(outcomes.partial_response) {
                    Response::PartialResponse
                } else {
                    Response::None
                }
            }
        }
    }

    /// The consensus response status. "≥ 35 % with CGI-I 3" is a partial
    /// response: the consensus asks CGI-I ≤ 2 for response, ≤ 3 for partial response; the
    /// CGI-I part applies only where it was recorded (onset's reading: many records lack it).
    pub fn consensus_response(&self, baseline: u32, total: u32, cgi_i: Option<u32>) -> Response {
        let Some(pct) = percent_change(baseline, total) else { return Response::None };
        let cgi_allows = |max: u32| cgi_i.is_none_or(|c| c <= max);
        if pct >= self.response_reduction && cgi_allows(self.cgi_i_response_max) {
            Response::Response
        } else if pct >= self.partial_reduction && cgi_allows(self.cgi_i_partial_max) {
            Response::PartialResponse
        } else {
            Response::None
        }
    }

    /// Remission, independent of the baseline and of the response status. Null for
    /// instruments without a cut-off.
    /// - OCD consensus: total ≤ 12 and, when recorded, CGI-S ≤ 2 (the definition's cut-off
    ///   is the consensus's, checked at start-up).
    /// - Otherwise the definition's cut-off: at most `max` (at least `min` where a higher
    ///   score is better), with no CGI gate.
    pub fn remission(&self, instrument: Instrument, total: u32, cgi_s: Option<u32>) -> Option<bool> {
        let rule = instrument.definition().outcomes.remission?;
        Some(match instrument.rules() {
            RuleFamily::OcdConsensus => total <= self.remission_max_total && cgi_s.is_none_or(|c| c <= self.remission_cgi_s_max),
            _ => rule.max.is_none_or(|max| total <= max) && rule.min.is_none_or(|min| total >= min),
        })
    }

    /// Whether a recorded CGI-I corroborates the level the reduction alone reaches: CGI-I
    /// ≤ 2 for a ≥ 35 % fall, ≤ 3 for ≥ 25 %; false for a smaller fall. Null without CGI-I.
    pub fn response_cgi_confirmed(&self, instrument: Instrument, baseline: u32, total: u32, cgi_i: Option<u32>) -> Option<bool> {
        let cgi_i = cgi_i.filter(|_| instrument.measures_ocd())?;
        let pct = percent_change(baseline, total).unwrap_or(0.0);
        Some(if pct >= self.response_reduction {
            cgi_i <= self.cgi_i_response_max
        } else if pct >= self.partial_reduction {
            cgi_i <= self.cgi_i_partial_max
        } else {
            false
        })
    }

    /// Whether a recorded CGI-S is in the remission range (1–2). Null without CGI-S, and
    /// for instruments without remission.
    pub fn remission_cgi_confirmed(&self, instrument: Instrument, cgi_s: Option<u32>) -> Option<bool> {
        let cgi_s = cgi_s.filter(|_| self.has_remission(instrument) && instrument.measures_ocd())?;
        Some(cgi_s <= self.remission_cgi_s_max)
    }

    /// A rating against the relapse rule: total ≥ 13 and CGI-I ≥ 6 ("much worse").
    pub fn relapse_sign(&self, total: u32, cgi_i: Option<u32>) -> RelapseSign {
        match cgi_i {
            _ if total < self.relapse_min_total => RelapseSign::No,
            None => RelapseSign::Unjudged,
            Some(c) if c >= self.relapse_cgi_i_min => RelapseSign::Worse,
            Some(_) => RelapseSign::No,
        }
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
    use crate::domain::definitions;

    /// MADRS (DESIGN.md §9): response a fall of ≥ 50 %, remission a total ≤ 10 (Hawley
    /// 2002); no CGI gate, whatever CGI was recorded.
    #[test]
    fn madrs_response_and_remission_at_their_edges() {
        let madrs = Instrument::named("madrs");
        assert_eq!(D.response(madrs, 30, 15, Some(7)), Response::Response, "50 % exactly, CGI-I not read");
        assert_eq!(D.response(madrs, 30, 16, None), Response::None, "46.7 %: no partial response is defined");
        assert_eq!(D.response(madrs, 0, 0, None), Response::None, "no percent from a baseline of 0");
        assert_eq!(D.remission(madrs, 10, Some(7)), Some(true));
        assert_eq!(D.remission(madrs, 11, Some(1)), Some(false));
        assert_eq!(D.response_cgi_confirmed(madrs, 30, 10, Some(1)), None, "the CGI confirmations are the OCD consensus's");
    }

    /// PCL-5: a fall of ≥ 10 points (National Center for PTSD: "10 points as a minimum
    /// threshold for determining whether the improvement is clinically meaningful");
    /// GAD-7: ≥ 4 points (Toussaint 2020: "MCID was estimated 4 points").
    #[test]
    fn points_rules_at_their_edges() {
        let (pcl5, gad7) = (Instrument::named("pcl5"), Instrument::named("gad7"));
        assert_eq!(D.response(pcl5, 45, 35, None), Response::Response);
        assert_eq!(D.response(pcl5, 45, 36, None), Response::None);
        assert_eq!(D.response(pcl5, 5, 0, None), Response::None, "a fall of 5 from 5 is 100 % but not 10 points");
        assert_eq!(D.response(gad7, 12, 8, None), Response::Response);
        assert_eq!(D.response(gad7, 12, 9, None), Response::None);
        assert_eq!((D.remission(pcl5, 0, None), D.remission(gad7, 0, None)), (None, None));
        assert_eq!(D.response(Instrument::named("craving_vas"), 80, 0, None), Response::None, "the craving VAS is followed, not judged");
    }

    /// A clinic's scale where higher is better: improvement is a rise, remission a floor.
    #[test]
    fn a_clinic_scale_where_higher_is_better() {
        let body = serde_json::json!({
            "code": "x_outcomes_better", "title": "t", "name": "n", "rater": "self", "recall_default": "NOW", "recalls": ["NOW"],
            "self_reportable": false, "text_source": "none",
            "items": [{"code": "a", "short_label": "a", "type": "integer", "min": 0, "max": 20}],
            "scoring": "sum", "bands": [],
            "outcomes": {"rules": "definition", "direction": "higher_is_better", "response": {"kind": "percent", "threshold": 50}, "partial_response": {"kind": "percent", "threshold": 25}, "remission": {"min": 15}}
        });
        let better = Instrument::of_clinic(uuid::Uuid::nil(), definitions::clinic_definition(body, None).unwrap());
        assert_eq!(D.response(better, 8, 12, None), Response::Response, "a rise of 50 %");
        assert_eq!(D.response(better, 8, 11, None), Response::PartialResponse, "37.5 %");
        assert_eq!(D.response(better, 8, 9, None), Response::None, "12.5 %");
        assert_eq!(D.response(better, 8, 4, None), Response::None, "a fall is a worsening");
        assert_eq!(improvement(better, 8, 4), Some(-50.0));
        assert_eq!((D.remission(better, 15, None), D.remission(better, 14, None)), (Some(true), Some(false)));
    }

    use super::*;

    const D: &DefinitionSet = &CONSENSUS_2016;
    fn y() -> Instrument {
        Instrument::named("ybocs")
    }

    #[test]
    fn percent_change_is_exact_and_undefined_at_zero() {
        assert_eq!(percent_change(30, 18), Some(40.0));
        assert_eq!(percent_change(30, 33), Some(-10.0));
        assert_eq!(percent_change(0, 5), None);
        assert!((percent_change(3, 2).unwrap() - 100.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn response_thresholds_at_their_edges() {
        // baseline 40: 35 % is 26, 25 % is 30
        assert_eq!(D.response(y(), 40, 26, None), Response::Response);
        assert_eq!(D.response(y(), 40, 27, None), Response::PartialResponse);
        assert_eq!(D.response(y(), 40, 30, None), Response::PartialResponse);
        assert_eq!(D.response(y(), 40, 31, None), Response::None);
        assert_eq!(D.response(y(), 0, 0, None), Response::None, "no percent change from a baseline of 0");
    }

    #[test]
    fn remission_is_a_separate_question_from_response() {
        // 16 → 12: a 25 % fall is a partial response only, and 12 is a remission.
        assert_eq!(D.response(y(), 16, 12, None), Response::PartialResponse);
        assert_eq!(D.remission(y(), 12, None), Some(true));
        // 14 → 12: 14.3 %, no response at all, yet a remission.
        assert_eq!(D.response(y(), 14, 12, None), Response::None);
        assert_eq!(D.remission(y(), 12, None), Some(true));
        // 16 → 12 with CGI-I 5: no response; remission does not look at CGI-I.
        assert_eq!(D.response(y(), 16, 12, Some(5)), Response::None);
        // 30 → 10 with CGI-S 5: a response, but no remission.
        assert_eq!(D.response(y(), 30, 10, None), Response::Response);
        assert_eq!(D.remission(y(), 10, Some(5)), Some(false));
        assert_eq!(D.remission(y(), 10, Some(2)), Some(true));
        assert_eq!(D.remission(y(), 13, Some(1)), Some(false));
        assert_eq!(D.remission(Instrument::named("ybocs_sr"), 12, None), Some(true));
    }

    #[test]
    fn remission_only_on_ybocs_and_ybocs_sr() {
        assert_eq!(D.remission(Instrument::named("ybocs_ii"), 5, Some(1)), None);
        assert_eq!(D.remission(Instrument::named("ocd_vas"), 5, None), None);
        assert_eq!(D.remission_cgi_confirmed(Instrument::named("ocd_vas"), Some(1)), None);
    }

    #[test]
    fn cgi_i_gates_response_and_partial_response() {
        assert_eq!(D.response(y(), 40, 20, Some(2)), Response::Response);
        assert_eq!(D.response(y(), 40, 20, Some(3)), Response::PartialResponse, "≥ 35 % with CGI-I 3");
        assert_eq!(D.response(y(), 40, 20, Some(4)), Response::None);
        assert_eq!(D.response(y(), 40, 28, Some(3)), Response::PartialResponse);
        assert_eq!(D.response(y(), 40, 28, Some(4)), Response::None);
    }

    #[test]
    fn cgi_confirmation_flags() {
        assert_eq!(D.response_cgi_confirmed(y(), 40, 20, Some(2)), Some(true));
        assert_eq!(D.response_cgi_confirmed(y(), 40, 20, Some(3)), Some(false), "a 50 % fall needs CGI-I ≤ 2");
        assert_eq!(D.response_cgi_confirmed(y(), 40, 28, Some(3)), Some(true));
        assert_eq!(D.response_cgi_confirmed(y(), 40, 35, Some(1)), Some(false), "12.5 % is no response to confirm");
        assert_eq!(D.response_cgi_confirmed(y(), 40, 20, None), None);
        assert_eq!(D.remission_cgi_confirmed(y(), Some(2)), Some(true));
        assert_eq!(D.remission_cgi_confirmed(y(), Some(3)), Some(false));
        assert_eq!(D.remission_cgi_confirmed(y(), None), None);
    }

    #[test]
    fn endpoints() {
        let r = |x| Some(x);
        assert!(Endpoint::PartialResponse.met(r(Response::PartialResponse), None));
        assert!(Endpoint::PartialResponse.met(r(Response::Response), None));
        assert!(!Endpoint::Response.met(r(Response::PartialResponse), Some(true)), "remission is not a response");
        assert!(Endpoint::Remission.met(r(Response::None), Some(true)));
        assert!(!Endpoint::Remission.met(r(Response::Response), Some(false)));
        assert!(!Endpoint::PartialResponse.met(None, None));
    }

    #[test]
    fn relapse_signs() {
        assert_eq!(D.relapse_sign(13, Some(6)), RelapseSign::Worse);
        assert_eq!(D.relapse_sign(12, Some(7)), RelapseSign::No);
        assert_eq!(D.relapse_sign(20, Some(5)), RelapseSign::No);
        assert_eq!(D.relapse_sign(20, None), RelapseSign::Unjudged);
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
