//! When a rating calls for a clinician's attention now: suicidality and worsening
//! (DESIGN.md §6). Pure rules; the store raises each alert once per cause.

use std::collections::BTreeMap;

use super::fields::vocabulary;
use super::instruments::{Instrument, cssrs_risk};

vocabulary!(AlertKind { Suicidality = "suicidality", Worsening = "worsening", Relapse = "relapse", RemsOverdue = "rems_overdue" });
vocabulary!(AlertLevel { Moderate = "moderate", High = "high" });
vocabulary!(AlertStatus { Open = "open", Acknowledged = "acknowledged" });

/// The crisis text a patient sees when an answer raises a suicidality alert, until the
/// clinic sets its own: it names no country's numbers, which a clinic knows and we do not.
pub const DEFAULT_CRISIS_TEXT: &str = "If you are thinking about ending your life or harming yourself, please do not wait: \
call your local emergency number or go to the nearest emergency department now, and tell your clinic.";

/// Suicidality from one rating, and how urgent:
/// - C-SSRS screener: its triage risk (Columbia Lighthouse Project, "C-SSRS Screener with
///   Triage Points"): moderate or high raises an alert of that level; low does not.
/// - PHQ-9 item 9 (thoughts of death or self-harm): any endorsement (≥ 1) raises one
///   (DESIGN.md §6). Simon et al., Psychiatr Serv 2013;64:1195–1202, found the risk of a
///   suicide attempt rising with each step of that answer, so onset grades it: "several
///   days" (1) moderate, "more than half the days" or "nearly every day" (2–3) high.
pub fn suicidality(instrument: Instrument, items: Option<&BTreeMap<String, u32>>) -> Option<AlertLevel> {
    let items = items?;
    match instrument {
        Instrument::CssrsScreen => match cssrs_risk(items) {
            3 => Some(AlertLevel::High),
            2 => Some(AlertLevel::Moderate),
            _ => None,
        },
        Instrument::Phq9 => match items.get("9").copied().unwrap_or(0) {
            0 => None,
            1 => Some(AlertLevel::Moderate),
            _ => Some(AlertLevel::High),
        },
        _ => None,
    }
}

/// Whether a rating on this instrument can raise a suicidality alert: only these ask
/// about it, so only their items need reading.
pub fn asks_about_suicide(instrument: Instrument) -> bool {
    matches!(instrument, Instrument::CssrsScreen | Instrument::Phq9)
}

/// Worsening (DESIGN.md §6): an OCD rating at least 25 % above the series' baseline, the
/// mirror of the consensus's 25 % partial-response threshold. `percent_change` is
/// improvement, so worsening is a change of −25 % or less.
pub fn worsening(instrument: Instrument, percent_change: Option<f64>) -> Option<AlertLevel> {
    (instrument.measures_ocd() && percent_change.is_some_and(|p| p <= -25.0)).then_some(AlertLevel::Moderate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
        pairs.iter().map(|(c, v)| (c.to_string(), *v)).collect()
    }

    #[test]
    fn cssrs_moderate_and_high_raise_low_does_not() {
        let level = |pairs: &[(&str, u32)]| suicidality(Instrument::CssrsScreen, Some(&answers(pairs)));
        assert_eq!(level(&[("1", 1), ("2", 1), ("6", 0)]), None, "low");
        assert_eq!(level(&[("1", 1), ("2", 1), ("3", 1), ("6", 0)]), Some(AlertLevel::Moderate));
        assert_eq!(level(&[("1", 0), ("2", 0), ("6", 1), ("6_recent", 0)]), Some(AlertLevel::Moderate), "behaviour long ago");
        assert_eq!(level(&[("1", 0), ("2", 0), ("6", 1), ("6_recent", 1)]), Some(AlertLevel::High), "behaviour in 3 months");
        assert_eq!(level(&[("1", 1), ("2", 1), ("4", 1), ("6", 0)]), Some(AlertLevel::High), "intent");
        assert_eq!(suicidality(Instrument::CssrsScreen, None), None, "a paper total has no answers to read");
    }

    #[test]
    fn phq9_item_9_raises_at_any_endorsement() {
        let level = |item9: u32| suicidality(Instrument::Phq9, Some(&answers(&[("1", 3), ("9", item9)])));
        assert_eq!([level(0), level(1), level(2), level(3)], [None, Some(AlertLevel::Moderate), Some(AlertLevel::High), Some(AlertLevel::High)]);
        assert_eq!(suicidality(Instrument::Ybocs, Some(&answers(&[("9", 4)]))), None, "item 9 of the Y-BOCS is not about suicide");
    }

    #[test]
    fn only_the_instruments_that_ask_about_suicide_can_raise_its_alert() {
        // Every item of every other instrument endorsed at its most: no suicidality alert,
        // so the safety check may leave their items unread.
        for instrument in Instrument::ALL.into_iter().filter(|i| !asks_about_suicide(*i)) {
            let everything: BTreeMap<String, u32> = instrument.items().iter().map(|item| (item.code.to_string(), item.max)).collect();
            assert_eq!(suicidality(instrument, Some(&everything)), None, "{instrument:?}");
        }
        assert!(asks_about_suicide(Instrument::Phq9) && asks_about_suicide(Instrument::CssrsScreen));
    }

    #[test]
    fn worsening_is_25_percent_above_baseline_exactly_included() {
        // Baseline 20: 25 is 25 % worse (raised), 24 is 20 % worse (not).
        let change = |score: u32| crate::domain::outcomes::percent_change(20, score);
        assert_eq!(worsening(Instrument::Ybocs, change(25)), Some(AlertLevel::Moderate));
        assert_eq!(worsening(Instrument::Ybocs, change(24)), None);
        assert_eq!(worsening(Instrument::OcdVas, change(30)), Some(AlertLevel::Moderate));
        assert_eq!(worsening(Instrument::Phq9, change(30)), None, "depression is watched through item 9, not this rule");
        assert_eq!(worsening(Instrument::Ybocs, None), None);
    }
}
