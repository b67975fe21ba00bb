//! When a rating calls for a clinician's attention now: suicidality and worsening
//! (DESIGN.md §6). Pure rules; the store raises each alert once per cause.

use std::collections::BTreeMap;

use super::definitions::SafetyRule;
use super::fields::vocabulary;
use super::instruments::{Instrument, cssrs_risk};

vocabulary!(AlertKind {
    Suicidality = "suicidality",
    Worsening = "worsening",
    Relapse = "relapse",
    RemsOverdue = "rems_overdue",
    HomeDoseBlocked = "home_dose_blocked",
    HomeDoseConcern = "home_dose_concern",
});
vocabulary!(AlertLevel { Moderate = "moderate", High = "high" });
impl AlertLevel {
    /// How urgent: an amendment that raises a rating's risk to a higher level raises a new
    /// alert at it (DESIGN.md §6), so levels are ordered.
    pub fn rank(self) -> u8 {
        match self {
            AlertLevel::Moderate => 1,
            AlertLevel::High => 2,
        }
    }
}
vocabulary!(AlertStatus { Open = "open", Acknowledged = "acknowledged" });

/// The crisis text a patient sees when an answer raises a suicidality alert, until the
/// clinic sets its own: it names no country's numbers, which a clinic knows and we do not.
pub const DEFAULT_CRISIS_TEXT: &str = "If you are thinking about ending your life or harming yourself, please do not wait: \
call your local emergency number or go to the nearest emergency department now, and tell your clinic.";

/// What a patient sees when a pre-dose check at home says no, until the clinic sets its
/// own (it knows its on-call number; we do not).
pub const DEFAULT_HOME_DOSE_ADVICE: &str = "Do not take your dose now. Your clinic has been told. \
If you feel unwell, have chest pain, a severe headache or trouble breathing, call your local emergency number now; \
otherwise contact your clinic before trying again.";

/// Suicidality from one rating, and how urgent:
/// - C-SSRS screener: its triage risk (Columbia Lighthouse Project, "C-SSRS Screener with
///   Triage Points"): moderate or high raises an alert of that level; low does not. A
///   screener is never stored as a bare total now; one stored before that rule is read by
///   its level, so it can still alert.
/// - PHQ-9 item 9 (thoughts of death or self-harm): any endorsement (≥ 1) raises one
///   (DESIGN.md §6). Simon et al., Psychiatr Serv 2013;64:1195–1202, found the risk of a
///   suicide attempt rising with each step of that answer, so onset grades it: "several
///   days" (1) moderate, "more than half the days" or "nearly every day" (2–3) high.
///   A bare PHQ-9 total still says something about item 9: the other eight items score
///   at most 8 × 3 = 24 (Kroenke 2001: nine items, each 0–3), so a total of 25 or more
///   proves item 9 ≥ total − 24: 25 is at least "several days" (moderate), 26 and 27 at
///   least "more than half the days" (high). Below 25 item 9 is unknown
///   (`item_9_unknown`), never taken as 0.
pub fn suicidality(instrument: Instrument, items: Option<&BTreeMap<String, u32>>, total: u32) -> Option<AlertLevel> {
    let item_9_at_least = |items: Option<&BTreeMap<String, u32>>| match items {
        Some(items) => items.get("9").copied().unwrap_or(0),
        None => total.saturating_sub(PHQ9_TOTAL_WITHOUT_ITEM_9),
    };
    match instrument.definition().safety {
        SafetyRule::CssrsTriage => match items.map_or(total, cssrs_risk) {
            3 => Some(AlertLevel::High),
            2 => Some(AlertLevel::Moderate),
            _ => None,
        },
        SafetyRule::Phq9Item9 => match item_9_at_least(items) {
            0 => None,
            1 => Some(AlertLevel::Moderate),
            _ => Some(AlertLevel::High),
        },
        _ => None,
    }
}

/// The most the PHQ-9's items 1–8 can add up to: eight items, each at most 3.
const PHQ9_TOTAL_WITHOUT_ITEM_9: u32 = 24;

/// Whether a rating leaves PHQ-9 item 9 unknown: a bare total below 25 (a higher one
/// proves an endorsement, see `suicidality`). The console shows it, so a paper total of
/// 20 is never read as "no thoughts of self-harm".
pub fn item_9_unknown(instrument: Instrument, itemised: bool, total: u32) -> bool {
    instrument.definition().safety == SafetyRule::Phq9Item9 && !itemised && total <= PHQ9_TOTAL_WITHOUT_ITEM_9
}

/// Whether a rating on this instrument can raise a suicidality alert: only these ask
/// about it, so only their items need reading.
pub fn asks_about_suicide(instrument: Instrument) -> bool {
    matches!(instrument.definition().safety, SafetyRule::CssrsTriage | SafetyRule::Phq9Item9)
}

/// A check-in after a home dose (DESIGN.md §10): a no to "I feel safe now" is high (the
/// patient is alone with a dissociative drug and says they are not safe); a yes to "I
/// would like the clinic to contact me" alone is moderate. Either shows the crisis text.
pub fn home_concern(items: &BTreeMap<String, u32>) -> Option<AlertLevel> {
    if items.get("safe") == Some(&0) {
        Some(AlertLevel::High)
    } else if items.get("contact") == Some(&1) {
        Some(AlertLevel::Moderate)
    } else {
        None
    }
}

/// What a rating's answers raise at once, whatever path brought it in: suicidality from
/// the PHQ-9 or the C-SSRS, a home-dose concern from the check-in.
pub fn concern(instrument: Instrument, items: Option<&BTreeMap<String, u32>>, total: u32) -> Option<(AlertKind, AlertLevel)> {
    match instrument.definition().safety {
        SafetyRule::HomeConcerns => items.and_then(home_concern).map(|level| (AlertKind::HomeDoseConcern, level)),
        _ => suicidality(instrument, items, total).map(|level| (AlertKind::Suicidality, level)),
    }
}

/// Whether a rating on this instrument can raise an alert by its answers alone.
pub fn answers_can_alert(instrument: Instrument) -> bool {
    instrument.definition().safety != SafetyRule::NoRule
}

/// The alerts after which the patient sees the clinic's crisis text at once.
pub const CRISIS_KINDS: [AlertKind; 2] = [AlertKind::Suicidality, AlertKind::HomeDoseConcern];

/// Worsening (DESIGN.md §6): a rating at least 25 % worse than the series' baseline, the
/// mirror of the consensus's 25 % partial-response threshold, on every instrument judged
/// by outcome rules (the condition being treated, OCD or across the spectrum, §9).
/// `percent_change` is improvement, so worsening is a change of −25 % or less.
pub fn worsening(instrument: Instrument, percent_change: Option<f64>) -> Option<AlertLevel> {
    (instrument.rules().is_judged() && percent_change.is_some_and(|p| p <= -25.0)).then_some(AlertLevel::Moderate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
        pairs.iter().map(|(c, v)| (c.to_string(), *v)).collect()
    }

    #[test]
    fn cssrs_moderate_and_high_raise_low_does_not() {
        let level = |pairs: &[(&str, u32)]| suicidality(Instrument::named("cssrs_screen"), Some(&answers(pairs)), cssrs_risk(&answers(pairs)));
        assert_eq!(level(&[("1", 1), ("2", 1), ("6", 0)]), None, "low");
        assert_eq!(level(&[("1", 1), ("2", 1), ("3", 1), ("6", 0)]), Some(AlertLevel::Moderate));
        assert_eq!(level(&[("1", 0), ("2", 0), ("6", 1), ("6_recent", 0)]), Some(AlertLevel::Moderate), "behaviour long ago");
        assert_eq!(level(&[("1", 0), ("2", 0), ("6", 1), ("6_recent", 1)]), Some(AlertLevel::High), "behaviour in 3 months");
        assert_eq!(level(&[("1", 1), ("2", 1), ("4", 1), ("6", 0)]), Some(AlertLevel::High), "intent");
        assert_eq!(suicidality(Instrument::named("cssrs_screen"), None, 3), Some(AlertLevel::High), "a level stored bare before the rule");
        assert_eq!(suicidality(Instrument::named("cssrs_screen"), None, 1), None);
    }

    #[test]
    fn phq9_item_9_raises_at_any_endorsement() {
        let level = |item9: u32| suicidality(Instrument::named("phq9"), Some(&answers(&[("1", 3), ("9", item9)])), 3 + item9);
        assert_eq!([level(0), level(1), level(2), level(3)], [None, Some(AlertLevel::Moderate), Some(AlertLevel::High), Some(AlertLevel::High)]);
        assert_eq!(suicidality(Instrument::named("ybocs"), Some(&answers(&[("9", 4)])), 4), None, "item 9 of the Y-BOCS is not about suicide");
    }

    #[test]
    fn a_bare_phq9_total_alerts_from_25_and_leaves_item_9_unknown_below() {
        // Items 1–8 at "nearly every day" (3) make 24: 25 needs item 9 ≥ 1, 26 needs ≥ 2.
        let bare = |total: u32| suicidality(Instrument::named("phq9"), None, total);
        assert_eq!([bare(0), bare(24), bare(25), bare(26), bare(27)], [None, None, Some(AlertLevel::Moderate), Some(AlertLevel::High), Some(AlertLevel::High)]);
        assert!(item_9_unknown(Instrument::named("phq9"), false, 24) && item_9_unknown(Instrument::named("phq9"), false, 0));
        assert!(!item_9_unknown(Instrument::named("phq9"), false, 25), "25 proves item 9");
        assert!(!item_9_unknown(Instrument::named("phq9"), true, 10), "itemised: item 9 was answered");
        assert!(!item_9_unknown(Instrument::named("ybocs"), false, 10));
    }

    #[test]
    fn only_the_instruments_that_ask_about_suicide_can_raise_its_alert() {
        // Every item of every other instrument endorsed at its most: no suicidality alert,
        // so the safety check may leave their items unread.
        for instrument in Instrument::built_in().filter(|i| !asks_about_suicide(*i)) {
            let everything: BTreeMap<String, u32> = instrument.items().iter().map(|item| (item.code.to_string(), item.max)).collect();
            let total = instrument.total_of(&everything);
            assert_eq!(suicidality(instrument, Some(&everything), total), None, "{instrument:?}");
            assert_eq!(suicidality(instrument, None, instrument.max_total()), None, "{instrument:?} bare");
        }
        assert!(asks_about_suicide(Instrument::named("phq9")) && asks_about_suicide(Instrument::named("cssrs_screen")));
    }

    #[test]
    fn worsening_is_25_percent_above_baseline_exactly_included() {
        // Baseline 20: 25 is 25 % worse (raised), 24 is 20 % worse (not).
        let change = |score: u32| crate::domain::outcomes::percent_change(20, score);
        assert_eq!(worsening(Instrument::named("ybocs"), change(25)), Some(AlertLevel::Moderate));
        assert_eq!(worsening(Instrument::named("ybocs"), change(24)), None);
        assert_eq!(worsening(Instrument::named("ocd_vas"), change(30)), Some(AlertLevel::Moderate));
        assert_eq!(worsening(Instrument::named("phq9"), change(30)), None, "depression is watched through item 9, not this rule");
        assert_eq!(worsening(Instrument::named("ybocs"), None), None);
    }
}
