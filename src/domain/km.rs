//! The Kaplan–Meier estimator with Greenwood's variance and a log(−log) confidence band,
//! giving the numbers lifelines' `KaplanMeierFitter` gives.
//!
//! Kaplan EL, Meier P. Nonparametric estimation from incomplete observations.
//! J Am Stat Assoc 1958;53:457–81:
//!     S(t) = Π_{t_i ≤ t} (1 − d_i / n_i)
//! where d_i events happen at t_i among the n_i still at risk (time ≥ t_i). Ties are taken
//! as standard: an event and a censoring at the same time both count the censored subject
//! as at risk (events before censorings).
//!
//! Greenwood M. The natural duration of cancer. Rep Public Health Med Subj 1926;33:
//!     Var[S(t)] = S(t)² Σ_{t_i ≤ t} d_i / (n_i (n_i − d_i))
//! The band is built on the log(−log S) scale (Kalbfleisch & Prentice 1980; lifelines'
//! "exponential Greenwood"), which keeps it inside [0, 1]:
//!     σ(t) = √(Σ d_i / (n_i (n_i − d_i))) / |log S(t)|
//!     bounds = exp(−exp(log(−log S(t)) ± z σ(t))),  z = Φ⁻¹(0.975).
//! The median's CI is where the band crosses ½ (as lifelines' `median_survival_times`
//! of the confidence interval), not Brookmeyer–Crowley.

use serde::Serialize;

/// Φ⁻¹(0.975), the 95 % two-sided normal quantile.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// One subject: the time it was followed and whether the event happened then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub time: f64,
    pub event: bool,
}

/// One distinct observed time (an event, a censoring, or both).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    pub hours: f64,
    pub at_risk: u32,
    pub events: u32,
    pub censored: u32,
    pub survival: f64,
    /// Null where the band is undefined (survival 0).
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub steps: Vec<Step>,
    pub median: Option<f64>,
    pub median_ci: (Option<f64>, Option<f64>),
}

fn band(survival: f64, greenwood_sum: f64) -> (Option<f64>, Option<f64>) {
    if survival >= 1.0 {
        return (Some(1.0), Some(1.0));
    }
    if survival <= 0.0 || !greenwood_sum.is_finite() {
        return (None, None);
    }
    let log_s = survival.ln();
    let sigma = greenwood_sum.sqrt() / log_s.abs();
    let centre = (-log_s).ln();
    let bound = |shift: f64| (-(centre + shift).exp()).exp();
    (Some(bound(Z_95 * sigma)), Some(bound(-Z_95 * sigma)))
}

/// Survival products land a rounding error off the exact value: 12/24 reached through
/// (23/24)(22/23)…(12/13) is 0.5000000000000001. A survival within this of ½ is ½.
const HALF_TOLERANCE: f64 = 1e-9;

/// The first time a step function falls to ½ or below.
fn crossing(steps: &[Step], value: impl Fn(&Step) -> Option<f64>) -> Option<f64> {
    steps.iter().find(|s| value(s).is_some_and(|v| v <= 0.5 + HALF_TOLERANCE)).map(|s| s.hours)
}

/// Events and censorings at one distinct time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    pub hours: f64,
    pub events: u32,
    pub censored: u32,
}

/// The distinct times of the observations, in order, with their events and censorings.
pub fn tally(observations: &[Observation]) -> Vec<Tally> {
    let mut sorted: Vec<Observation> = observations.iter().copied().filter(|o| o.time.is_finite()).collect();
    sorted.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut tallies: Vec<Tally> = Vec::new();
    for o in sorted {
        match tallies.last_mut() {
            Some(last) if last.hours == o.time => {}
            _ => tallies.push(Tally { hours: o.time, events: 0, censored: 0 }),
        }
        let last = tallies.last_mut().expect("pushed above");
        if o.event { last.events += 1 } else { last.censored += 1 }
    }
    tallies
}

pub fn estimate(observations: &[Observation]) -> Estimate {
    from_tallies(&tally(observations))
}

/// The estimate from tallies in time order; everyone counted in them is at risk at first.
pub fn from_tallies(tallies: &[Tally]) -> Estimate {
    let mut at_risk: u32 = tallies.iter().map(|t| t.events + t.censored).sum();
    let mut survival = 1.0;
    let mut greenwood_sum = 0.0;
    let mut steps = Vec::with_capacity(tallies.len());
    for &Tally { hours, events, censored } in tallies {
        if events > 0 {
            let (n, d) = (f64::from(at_risk), f64::from(events));
            survival *= 1.0 - d / n;
            greenwood_sum += if at_risk > events { d / (n * (n - d)) } else { f64::INFINITY };
        }
        let (ci_lower, ci_upper) = band(survival, greenwood_sum);
        steps.push(Step { hours, at_risk, events, censored, survival, ci_lower, ci_upper });
        at_risk -= events + censored;
    }
    let median = crossing(&steps, |s| Some(s.survival));
    // The lower band reaches ½ first, so it gives the lower end of the median's interval.
    // Where S reaches 0 the band is undefined, but it has certainly crossed ½.
    let band_at = |bound: Option<f64>, s: &Step| if s.survival <= 0.0 { Some(0.0) } else { bound };
    let median_ci = (crossing(&steps, |s| band_at(s.ci_lower, s)), crossing(&steps, |s| band_at(s.ci_upper, s)));
    Estimate { steps, median, median_ci }
}

impl Estimate {
    /// S(t): the survival of the last step at or before `t`.
    pub fn survival_at(&self, t: f64) -> f64 {
        self.steps.iter().take_while(|s| s.hours <= t).last().map_or(1.0, |s| s.survival)
    }

    /// The cumulative share with the event by `t`: 1 − S(t); unknown (None) beyond the
    /// last follow-up, where the curve says nothing, and for an empty cohort.
    pub fn share_by(&self, t: f64) -> Option<f64> {
        let last = self.steps.last()?;
        (t <= last.hours).then(|| 1.0 - self.survival_at(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(time: f64, event: bool) -> Observation {
        Observation { time, event }
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    /// Freireich et al. 1963 (Gehan 1965), the 6-MP arm of the leukaemia remission trial:
    /// the textbook example (Kleinbaum & Klein, Survival Analysis, ch. 2). Survival and
    /// log(−log) bands as R's survfit(conf.type = "log-log") and lifelines print them.
    #[test]
    fn freireich_6mp_arm() {
        let events = [6.0, 6.0, 6.0, 7.0, 10.0, 13.0, 16.0, 22.0, 23.0];
        let censored = [6.0, 9.0, 10.0, 11.0, 17.0, 19.0, 20.0, 25.0, 32.0, 32.0, 34.0, 35.0];
        let data: Vec<Observation> = events.iter().map(|t| obs(*t, true)).chain(censored.iter().map(|t| obs(*t, false))).collect();
        let km = estimate(&data);
        let at = |t: f64| *km.steps.iter().find(|s| s.hours == t).unwrap();
        let expected = [
            (6.0, 21, 3, 1, 0.857143, 0.620, 0.952),
            (7.0, 17, 1, 0, 0.806723, 0.563, 0.923),
            (10.0, 15, 1, 1, 0.752941, 0.503, 0.889),
            (13.0, 12, 1, 0, 0.690196, 0.432, 0.849),
            (16.0, 11, 1, 0, 0.627451, 0.368, 0.805),
            (22.0, 7, 1, 0, 0.537815, 0.268, 0.747),
            (23.0, 6, 1, 0, 0.448179, 0.188, 0.680),
        ];
        for (t, n, d, c, s, lo, hi) in expected {
            let step = at(t);
            assert_eq!((step.at_risk, step.events, step.censored), (n, d, c), "t = {t}");
            assert!(close(step.survival, s, 5e-7), "S({t}) = {}", step.survival);
            assert!(close(step.ci_lower.unwrap(), lo, 5e-4), "lower({t}) = {:?}", step.ci_lower);
            assert!(close(step.ci_upper.unwrap(), hi, 5e-4), "upper({t}) = {:?}", step.ci_upper);
        }
        let nine = at(9.0);
        assert_eq!((nine.events, nine.censored, nine.survival), (0, 1, at(7.0).survival), "a censoring does not move S");
        assert_eq!(km.steps.len(), 16);
        assert_eq!(km.median, Some(23.0));
        assert_eq!(km.median_ci, (Some(13.0), None));
        assert!(close(km.share_by(12.0).unwrap(), 1.0 - 0.752941, 5e-7));
        assert_eq!(km.share_by(5.9), Some(0.0));
        assert_eq!(km.share_by(35.0).map(|v| close(v, 1.0 - 0.448179, 5e-7)), Some(true), "the last follow-up");
        assert_eq!(km.share_by(35.5), None, "nothing is known beyond the last follow-up");
    }

    /// Greenwood by hand at the first step: 3 of 21 fail.
    #[test]
    fn greenwood_band_by_hand() {
        let s: f64 = 18.0 / 21.0;
        let sum: f64 = 3.0 / (21.0 * 18.0);
        let sigma = sum.sqrt() / s.ln().abs();
        let lower = (-((-s.ln()).ln() + Z_95 * sigma).exp()).exp();
        let (lo, hi) = band(s, sum);
        assert!(close(lo.unwrap(), lower, 1e-12));
        assert!(close(lo.unwrap(), 0.619718, 1e-6) && close(hi.unwrap(), 0.951552, 1e-6), "{lo:?} {hi:?}");
    }

    #[test]
    fn no_censoring_is_the_empirical_survival() {
        let km = estimate(&[obs(1.0, true), obs(2.0, true), obs(3.0, true), obs(4.0, true)]);
        let survival: Vec<f64> = km.steps.iter().map(|s| s.survival).collect();
        assert_eq!(survival, vec![0.75, 0.5, 0.25, 0.0]);
        assert_eq!(km.median, Some(2.0));
        assert_eq!((km.steps[3].ci_lower, km.steps[3].ci_upper), (None, None), "undefined at S = 0");
        assert_eq!(km.share_by(4.0), Some(1.0));
        assert_eq!(km.share_by(10.0), None);
    }

    /// 24 events at hours 1…24: S(12) = 12/24 exactly, though the product of
    /// (1 − 1/24)(1 − 1/23)…(1 − 1/13) in floating point is 0.5000000000000001.
    #[test]
    fn the_median_is_where_survival_reaches_exactly_one_half() {
        let km = estimate(&(1..=24).map(|h| obs(f64::from(h), true)).collect::<Vec<_>>());
        assert!(km.steps[11].survival > 0.5, "the rounding this test is about: {}", km.steps[11].survival);
        assert_eq!(km.median, Some(12.0));
        let odd = estimate(&(1..=5).map(|h| obs(f64::from(h), true)).collect::<Vec<_>>());
        assert_eq!(odd.median, Some(3.0), "S(2) = 0.6, S(3) = 0.4");
    }

    #[test]
    fn tallies_group_ties_in_time_order() {
        let t = tally(&[obs(2.0, false), obs(1.0, true), obs(2.0, true), obs(2.0, true)]);
        assert_eq!(t, vec![Tally { hours: 1.0, events: 1, censored: 0 }, Tally { hours: 2.0, events: 2, censored: 1 }]);
        assert_eq!(from_tallies(&t).steps[1].at_risk, 3);
    }

    #[test]
    fn all_censored_stays_at_one() {
        let km = estimate(&[obs(5.0, false), obs(9.0, false), obs(9.0, false)]);
        assert!(km.steps.iter().all(|s| s.survival == 1.0 && s.events == 0));
        assert_eq!(km.steps.iter().map(|s| s.censored).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!((km.median, km.median_ci), (None, (None, None)));
        assert_eq!(km.steps[0].ci_lower, Some(1.0));
    }

    #[test]
    fn ties_count_the_censored_as_at_risk() {
        // at t = 2: one event and one censoring among four at risk
        let km = estimate(&[obs(1.0, false), obs(2.0, true), obs(2.0, false), obs(3.0, true), obs(4.0, false)]);
        let two = km.steps[1];
        assert_eq!((two.at_risk, two.events, two.censored), (4, 1, 1));
        assert_eq!(two.survival, 0.75);
        assert_eq!(km.steps[2].at_risk, 2);
        assert_eq!(km.steps[2].survival, 0.375);
        assert_eq!(km.median, Some(3.0));
    }

    #[test]
    fn a_single_subject() {
        let event = estimate(&[obs(7.5, true)]);
        assert_eq!(event.steps, vec![Step { hours: 7.5, at_risk: 1, events: 1, censored: 0, survival: 0.0, ci_lower: None, ci_upper: None }]);
        assert_eq!(event.median, Some(7.5));
        let censored = estimate(&[obs(7.5, false)]);
        assert_eq!(censored.steps[0].survival, 1.0);
        assert_eq!(censored.median, None);
        assert!(estimate(&[]).steps.is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn survival_steps_down_inside_its_band(data in prop::collection::vec((0u32..500, any::<bool>()), 0..200)) {
                let observations: Vec<Observation> = data.iter().map(|(t, e)| obs(f64::from(*t) / 4.0, *e)).collect();
                let km = estimate(&observations);
                let mut previous = 1.0;
                let mut at_risk = observations.len() as u32 + 1;
                for step in &km.steps {
                    prop_assert!(step.survival <= previous && step.survival >= 0.0);
                    prop_assert!(step.at_risk < at_risk);
                    if let (Some(lo), Some(hi)) = (step.ci_lower, step.ci_upper) {
                        prop_assert!(lo <= step.survival + 1e-12 && step.survival <= hi + 1e-12, "{:?}", step);
                    }
                    previous = step.survival;
                    at_risk = step.at_risk;
                }
                let counted: u32 = km.steps.iter().map(|s| s.events + s.censored).sum();
                prop_assert_eq!(counted as usize, observations.len());
            }
        }
    }
}
