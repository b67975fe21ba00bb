//! The instruments: item sets and ranges, totals, subscales and severity bands. Four
//! measure OCD (the Y-BOCS family and the VAS); two watch safety beside it (PHQ-9 for
//! depression, the C-SSRS screener for suicidality).
//!
//! Versions are never compared with each other: every series is per instrument.
//! Only item codes and neutral labels are shipped; the item wording is copyrighted.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// Y-BOCS clinician interview (Goodman 1989).
    Ybocs,
    /// Y-BOCS self-report (Steketee 1996).
    YbocsSr,
    /// Y-BOCS-II (Storch 2010).
    YbocsIi,
    /// OCD visual analogue scale, "right now".
    OcdVas,
    /// Patient Health Questionnaire-9 (Kroenke, Spitzer & Williams 2001), free to use.
    Phq9,
    /// Columbia Suicide Severity Rating Scale, screener (Posner 2011), free to use.
    CssrsScreen,
}

/// A severity band: totals from `min` to `max` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub min: u32,
    pub max: u32,
    pub label: &'static str,
}

const fn band(min: u32, max: u32, label: &'static str) -> Band {
    Band { min, max, label }
}

/// Default bands, as data so that a clinic can be given its own table.
pub const YBOCS_BANDS: &[Band] = &[
    band(0, 7, "subclinical"),
    band(8, 15, "mild"),
    band(16, 23, "moderate"),
    band(24, 31, "severe"),
    band(32, 40, "extreme"),
];
/// Y-BOCS-II severity bands: Pinciotti CM et al., "Establishing Y-BOCS-II severity
/// benchmarks", J Affect Disord 2025;390:119719: 0–14 subclinical, 15–21 mild,
/// 22–34 moderate, 35–50 severe.
pub const YBOCS_II_BANDS: &[Band] =
    &[band(0, 14, "subclinical"), band(15, 21, "mild"), band(22, 34, "moderate"), band(35, 50, "severe")];

/// PHQ-9 severity: Kroenke K, Spitzer RL, Williams JBW, "The PHQ-9", J Gen Intern Med
/// 2001;16:606–613: "PHQ-9 scores of 5, 10, 15, and 20 represented mild, moderate,
/// moderately severe, and severe depression".
pub const PHQ9_BANDS: &[Band] =
    &[band(0, 4, "minimal"), band(5, 9, "mild"), band(10, 14, "moderate"), band(15, 19, "moderately severe"), band(20, 27, "severe")];

/// C-SSRS screener: its "total" is the triage risk level (`cssrs_risk`), banded by name.
pub const CSSRS_BANDS: &[Band] = &[band(0, 0, "none"), band(1, 1, "low"), band(2, 2, "moderate"), band(3, 3, "high")];

/// An item: its code, the highest score it takes, whether it counts in the total, and
/// the earlier answer it is asked after, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub code: &'static str,
    pub max: u32,
    pub core: bool,
    pub label: &'static str,
    /// Asked only after this answer: then required, otherwise never answered.
    pub enable_when: Option<EnableWhen>,
}

/// An item is asked exactly when item `item` was answered `equals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EnableWhen {
    pub item: &'static str,
    pub equals: u32,
}

const fn core(code: &'static str, max: u32, label: &'static str) -> Item {
    Item { code, max, core: true, label, enable_when: None }
}
const fn optional(code: &'static str, max: u32, label: &'static str) -> Item {
    Item { code, max, core: false, label, enable_when: None }
}
/// A yes/no question asked only after a yes to `after`.
const fn after_yes_to(after: &'static str, code: &'static str, label: &'static str) -> Item {
    Item { code, max: 1, core: false, label, enable_when: Some(EnableWhen { item: after, equals: 1 }) }
}

macro_rules! ybocs_core_items {
    ($max:expr) => {
        [
            core("1", $max, "obsessions: time"),
            core("2", $max, "obsessions: interference"),
            core("3", $max, "obsessions: distress"),
            core("4", $max, "obsessions: resistance"),
            core("5", $max, "obsessions: control"),
            core("6", $max, "compulsions: time"),
            core("7", $max, "compulsions: interference"),
            core("8", $max, "compulsions: distress"),
            core("9", $max, "compulsions: resistance"),
            core("10", $max, "compulsions: control"),
        ]
    };
}

const YBOCS_CORE: [Item; 10] = ybocs_core_items!(4);

/// Y-BOCS and its self-report: 10 core items plus the optional ones, stored and
/// range-checked but never counted.
const YBOCS_ITEMS: &[Item] = &[
    YBOCS_CORE[0], YBOCS_CORE[1], YBOCS_CORE[2], YBOCS_CORE[3], YBOCS_CORE[4],
    YBOCS_CORE[5], YBOCS_CORE[6], YBOCS_CORE[7], YBOCS_CORE[8], YBOCS_CORE[9],
    optional("1b", 4, "obsession-free interval"),
    optional("6b", 4, "compulsion-free interval"),
    optional("11", 4, "insight"),
    optional("12", 4, "avoidance"),
    optional("13", 4, "indecisiveness"),
    optional("14", 4, "overvalued responsibility"),
    optional("15", 4, "slowness"),
    optional("16", 4, "doubting"),
    optional("17", 6, "global severity"),
    optional("18", 6, "global improvement"),
    optional("19", 3, "reliability"),
];
/// Y-BOCS self-report: the same items without 17–19, the interviewer's global judgements
/// (severity, improvement, reliability), which a patient cannot rate of themselves.
const YBOCS_SR_ITEMS: &[Item] = YBOCS_ITEMS.split_at(YBOCS_ITEMS.len() - 3).0;

/// Y-BOCS-II (Storch 2010): item 4 is the obsession-free interval, which replaced
/// resistance against obsessions; items score 0–5.
const YBOCS_II_ITEMS: &[Item] = &{
    let mut items = ybocs_core_items!(5);
    items[3] = core("4", 5, "obsessions: obsession-free interval");
    items
};
const VAS_ITEMS: &[Item] = &[core("1", 100, "OCD severity right now")];
/// PHQ-9: nine items, 0 (not at all) to 3 (nearly every day), over the past two weeks.
const PHQ9_ITEMS: &[Item] = &[
    core("1", 3, "little interest or pleasure"),
    core("2", 3, "feeling down or hopeless"),
    core("3", 3, "sleep"),
    core("4", 3, "tiredness or little energy"),
    core("5", 3, "appetite"),
    core("6", 3, "feeling bad about oneself"),
    core("7", 3, "concentration"),
    core("8", 3, "moving or speaking slowly, or restlessness"),
    core("9", 3, "thoughts of death or self-harm"),
];
/// The C-SSRS screener: yes (1) or no (0). Its order is a rule (Columbia Lighthouse
/// Project, "C-SSRS Screener with Triage Points": "If YES to 2, ask questions 3, 4, 5,
/// and 6. If NO to 2, go directly to question 6"): items 3–5 are answered exactly when
/// item 2 is yes. `6_recent` says whether the behaviour of item 6 was in the past 3
/// months, answered exactly when item 6 is yes ("If YES, ask: Was this within the past
/// 3 months?").
const CSSRS_ITEMS: &[Item] = &[
    core("1", 1, "wish to be dead"),
    core("2", 1, "suicidal thoughts"),
    after_yes_to("2", "3", "thoughts of a method"),
    after_yes_to("2", "4", "intent"),
    after_yes_to("2", "5", "a plan"),
    core("6", 1, "suicidal behaviour, ever"),
    after_yes_to("6", "6_recent", "suicidal behaviour in the past 3 months"),
];

/// The C-SSRS screener's triage risk (Columbia Lighthouse Project, "C-SSRS Screener with
/// Triage Points"): yes to 1 or 2 only is low; yes to 3, or behaviour (6) more than 3
/// months ago, is moderate; yes to 4 or 5, or behaviour within 3 months, is high.
/// 0 none, 1 low, 2 moderate, 3 high.
pub fn cssrs_risk(items: &std::collections::BTreeMap<String, u32>) -> u32 {
    let yes = |code: &str| items.get(code).copied().unwrap_or(0) == 1;
    if yes("4") || yes("5") || (yes("6") && yes("6_recent")) {
        3
    } else if yes("3") || yes("6") {
        2
    } else if yes("1") || yes("2") {
        1
    } else {
        0
    }
}

impl Instrument {
    pub const ALL: [Instrument; 6] =
        [Instrument::Ybocs, Instrument::YbocsSr, Instrument::YbocsIi, Instrument::OcdVas, Instrument::Phq9, Instrument::CssrsScreen];

    pub fn code(self) -> &'static str {
        match self {
            Instrument::Ybocs => "ybocs",
            Instrument::YbocsSr => "ybocs_sr",
            Instrument::YbocsIi => "ybocs_ii",
            Instrument::OcdVas => "ocd_vas",
            Instrument::Phq9 => "phq9",
            Instrument::CssrsScreen => "cssrs_screen",
        }
    }

    pub fn parse(code: &str) -> Option<Instrument> {
        Instrument::ALL.into_iter().find(|i| i.code() == code)
    }

    pub fn items(self) -> &'static [Item] {
        match self {
            Instrument::Ybocs => YBOCS_ITEMS,
            Instrument::YbocsSr => YBOCS_SR_ITEMS,
            Instrument::YbocsIi => YBOCS_II_ITEMS,
            Instrument::OcdVas => VAS_ITEMS,
            Instrument::Phq9 => PHQ9_ITEMS,
            Instrument::CssrsScreen => CSSRS_ITEMS,
        }
    }

    pub fn item(self, code: &str) -> Option<Item> {
        self.items().iter().copied().find(|i| i.code == code)
    }

    pub fn core_items(self) -> impl Iterator<Item = Item> {
        self.items().iter().copied().filter(|i| i.core)
    }

    /// The highest possible total: the sum of the core items' maxima (the C-SSRS
    /// screener's is its highest risk level).
    pub fn max_total(self) -> u32 {
        match self {
            Instrument::CssrsScreen => 3,
            _ => self.core_items().map(|i| i.max).sum(),
        }
    }

    /// The total of validated items: the sum of the core items, or the C-SSRS risk.
    pub fn total_of(self, items: &std::collections::BTreeMap<String, u32>) -> u32 {
        match self {
            Instrument::CssrsScreen => cssrs_risk(items),
            _ => self.core_items().map(|i| items.get(i.code).copied().unwrap_or(0)).sum(),
        }
    }

    /// Whether the OCD outcome rules (response, remission, relapse) apply: the Y-BOCS
    /// family and the VAS. The safety instruments are followed, not judged by them.
    pub fn measures_ocd(self) -> bool {
        matches!(self, Instrument::Ybocs | Instrument::YbocsSr | Instrument::YbocsIi | Instrument::OcdVas)
    }

    /// Whether change from baseline means anything: not for the C-SSRS risk level.
    pub fn has_percent_change(self) -> bool {
        self != Instrument::CssrsScreen
    }

    /// Whether a patient may answer it alone, by a link: the self-report forms and the
    /// visual analogue scale, never the clinician-rated interview.
    pub fn is_self_reportable(self) -> bool {
        matches!(self, Instrument::OcdVas | Instrument::YbocsSr | Instrument::Phq9 | Instrument::CssrsScreen)
    }

    /// Whether a rating may be only a total (a paper record). Never the C-SSRS screener:
    /// its risk level depends on which answers were given, and a bare level cannot show
    /// that the screener's order was followed (DESIGN.md §6).
    pub fn allows_bare_total(self) -> bool {
        self != Instrument::CssrsScreen
    }

    /// Whether the instrument has obsession and compulsion subscales (items 1–5, 6–10).
    pub fn has_subscales(self) -> bool {
        matches!(self, Instrument::Ybocs | Instrument::YbocsSr | Instrument::YbocsIi)
    }

    pub fn bands(self) -> &'static [Band] {
        match self {
            Instrument::Ybocs | Instrument::YbocsSr => YBOCS_BANDS,
            Instrument::YbocsIi => YBOCS_II_BANDS,
            Instrument::OcdVas => &[],
            Instrument::Phq9 => PHQ9_BANDS,
            Instrument::CssrsScreen => CSSRS_BANDS,
        }
    }

    /// The severity label of a total, if the instrument has bands.
    pub fn severity(self, total: u32) -> Option<&'static str> {
        self.bands().iter().find(|b| (b.min..=b.max).contains(&total)).map(|b| b.label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for i in Instrument::ALL {
            assert_eq!(Instrument::parse(i.code()), Some(i));
        }
        assert_eq!(Instrument::parse("YBOCS"), None);
    }

    fn answers(pairs: &[(&str, u32)]) -> std::collections::BTreeMap<String, u32> {
        pairs.iter().map(|(c, v)| (c.to_string(), *v)).collect()
    }

    #[test]
    fn phq9_bands_at_every_edge() {
        // Kroenke 2001: 5, 10, 15 and 20 start mild, moderate, moderately severe, severe.
        let cases = [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
            (15, "moderately severe"), (19, "moderately severe"), (20, "severe"), (27, "severe")];
        for (total, label) in cases {
            assert_eq!(Instrument::Phq9.severity(total), Some(label), "{total}");
        }
        assert_eq!(Instrument::Phq9.max_total(), 27);
        assert_eq!(Instrument::Phq9.total_of(&answers(&[("1", 3), ("9", 1), ("5", 2)])), 6);
    }

    #[test]
    fn cssrs_risk_follows_each_triage_rule() {
        let risk = |pairs: &[(&str, u32)]| cssrs_risk(&answers(pairs));
        assert_eq!(risk(&[("1", 0), ("2", 0), ("6", 0)]), 0, "no to everything");
        assert_eq!(risk(&[("1", 1), ("2", 0), ("6", 0)]), 1, "wish to be dead only: low");
        assert_eq!(risk(&[("1", 1), ("2", 1), ("3", 0), ("4", 0), ("5", 0), ("6", 0)]), 1, "thoughts without method: low");
        assert_eq!(risk(&[("1", 1), ("2", 1), ("3", 1), ("4", 0), ("5", 0), ("6", 0)]), 2, "a method: moderate");
        assert_eq!(risk(&[("1", 0), ("2", 0), ("6", 1), ("6_recent", 0)]), 2, "behaviour over 3 months ago: moderate");
        assert_eq!(risk(&[("1", 0), ("2", 0), ("6", 1), ("6_recent", 1)]), 3, "behaviour within 3 months: high");
        assert_eq!(risk(&[("1", 1), ("2", 1), ("4", 1), ("6", 0)]), 3, "intent: high");
        assert_eq!(risk(&[("1", 1), ("2", 1), ("5", 1), ("6", 0)]), 3, "a plan: high");
        assert_eq!(risk(&[("1", 0), ("2", 0), ("6", 0), ("6_recent", 1)]), 0, "6_recent means nothing without 6");
        assert_eq!(Instrument::CssrsScreen.severity(3), Some("high"));
        assert_eq!(Instrument::CssrsScreen.max_total(), 3);
    }

    #[test]
    fn totals_and_item_counts() {
        assert_eq!(Instrument::Ybocs.max_total(), 40);
        assert_eq!(Instrument::YbocsSr.max_total(), 40);
        assert_eq!(Instrument::YbocsIi.max_total(), 50);
        assert_eq!(Instrument::OcdVas.max_total(), 100);
        assert_eq!(Instrument::Ybocs.core_items().count(), 10);
        assert_eq!(Instrument::Ybocs.items().len(), 21);
        assert_eq!(Instrument::YbocsIi.items().len(), 10);
    }

    #[test]
    fn the_self_report_has_no_clinician_judgements() {
        assert_eq!(Instrument::YbocsSr.items().len(), 18);
        for code in ["17", "18", "19"] {
            assert!(Instrument::YbocsSr.item(code).is_none() && Instrument::Ybocs.item(code).is_some(), "{code}");
        }
        assert_eq!(Instrument::YbocsSr.item("16").map(|i| i.max), Some(4));
    }

    #[test]
    fn ybocs_ii_item_4_is_the_obsession_free_interval() {
        assert_eq!(Instrument::YbocsIi.item("4").map(|i| (i.label, i.max, i.core)), Some(("obsessions: obsession-free interval", 5, true)));
        assert_eq!(Instrument::Ybocs.item("4").map(|i| i.label), Some("obsessions: resistance"));
    }

    #[test]
    fn bands_cover_every_total_exactly_once() {
        for i in [Instrument::Ybocs, Instrument::YbocsSr, Instrument::YbocsIi] {
            for total in 0..=i.max_total() {
                let n = i.bands().iter().filter(|b| (b.min..=b.max).contains(&total)).count();
                assert_eq!(n, 1, "{i:?} total {total}");
            }
        }
    }

    #[test]
    fn band_edges() {
        let y = Instrument::Ybocs;
        let cases = [(0, "subclinical"), (7, "subclinical"), (8, "mild"), (15, "mild"), (16, "moderate"),
            (23, "moderate"), (24, "severe"), (31, "severe"), (32, "extreme"), (40, "extreme")];
        for (total, label) in cases {
            assert_eq!(y.severity(total), Some(label), "ybocs {total}");
            assert_eq!(Instrument::YbocsSr.severity(total), Some(label));
        }
        let ii = Instrument::YbocsIi;
        for (total, label) in [(0, "subclinical"), (14, "subclinical"), (15, "mild"), (21, "mild"), (22, "moderate"),
            (34, "moderate"), (35, "severe"), (50, "severe")] {
            assert_eq!(ii.severity(total), Some(label), "ybocs_ii {total}");
        }
        assert_eq!(Instrument::OcdVas.severity(50), None);
        assert_eq!(y.severity(41), None);
    }
}
