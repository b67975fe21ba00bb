//! The instruments: item sets and ranges, totals, subscales and severity bands. Four
//! measure OCD (the Y-BOCS family and the VAS); two watch safety beside it (PHQ-9 for
//! depression, the C-SSRS screener for suicidality).
//!
//! Versions are never compared with each other: every series is per instrument.
//! Only item codes and neutral labels are shipped; the item wording is copyrighted.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::definitions::{self, Definition};

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
    /// onset's check-in after a dose taken at home (DESIGN.md §10).
    HomeCheckin,
}

/// A severity band: totals from `min` to `max` inclusive (from the definitions).
pub use super::definitions::BandDefinition as Band;
/// An item is asked exactly when an earlier item was answered a given value.
pub use super::definitions::Condition as EnableWhen;

/// An item as scoring reads it: its code, the highest score it takes, whether it counts
/// in the total, its neutral label, and the earlier answers it is asked after. Built from
/// the instrument's definition (`definitions`), the one source of items and ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub code: &'static str,
    pub max: u32,
    pub core: bool,
    pub label: &'static str,
    /// Asked only after these answers: then required, otherwise never answered. The
    /// C-SSRS screener's order ("If YES to 2, ask questions 3, 4, 5, and 6. If NO to 2,
    /// go directly to question 6") is written this way in its definition.
    pub enable_when: &'static [EnableWhen],
}

/// Each instrument's items, in `Instrument::ALL` order, from its current definition.
static ITEMS: LazyLock<Vec<Vec<Item>>> = LazyLock::new(|| {
    Instrument::ALL
        .iter()
        .map(|instrument| {
            instrument
                .definition()
                .items
                .iter()
                .map(|d| Item { code: d.code, max: d.max, core: d.counted, label: d.short_label, enable_when: &d.enable_when })
                .collect()
        })
        .collect()
});

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
    pub const ALL: [Instrument; 7] = [
        Instrument::Ybocs,
        Instrument::YbocsSr,
        Instrument::YbocsIi,
        Instrument::OcdVas,
        Instrument::Phq9,
        Instrument::CssrsScreen,
        Instrument::HomeCheckin,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Instrument::Ybocs => "ybocs",
            Instrument::YbocsSr => "ybocs_sr",
            Instrument::YbocsIi => "ybocs_ii",
            Instrument::OcdVas => "ocd_vas",
            Instrument::Phq9 => "phq9",
            Instrument::CssrsScreen => "cssrs_screen",
            Instrument::HomeCheckin => "home_checkin",
        }
    }

    pub fn parse(code: &str) -> Option<Instrument> {
        Instrument::ALL.into_iter().find(|i| i.code() == code)
    }

    /// The current definition: items, options, bands, wording where it may be shipped.
    pub fn definition(self) -> &'static Definition {
        definitions::current(self.code()).expect("every instrument has a built-in definition (checked at start-up)")
    }

    pub fn items(self) -> &'static [Item] {
        let index = Instrument::ALL.iter().position(|i| *i == self).expect("in ALL");
        &ITEMS[index]
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
        definitions::max_total(self.definition())
    }

    /// The total of validated items: the sum of the core items, or the C-SSRS risk.
    pub fn total_of(self, items: &std::collections::BTreeMap<String, u32>) -> u32 {
        match self.definition().scoring {
            definitions::Scoring::CssrsRisk => cssrs_risk(items),
            definitions::Scoring::Sum => self.core_items().map(|i| items.get(i.code).copied().unwrap_or(0)).sum(),
            definitions::Scoring::Concerns => definitions::CONCERNS.iter().filter(|(code, value)| items.get(*code) == Some(value)).count() as u32,
        }
    }

    /// Whether the OCD outcome rules (response, remission, relapse) apply: the Y-BOCS
    /// family and the VAS. The safety instruments are followed, not judged by them.
    pub fn measures_ocd(self) -> bool {
        matches!(self, Instrument::Ybocs | Instrument::YbocsSr | Instrument::YbocsIi | Instrument::OcdVas)
    }

    /// Whether change from baseline means anything: not for the C-SSRS risk level.
    pub fn has_percent_change(self) -> bool {
        self.definition().scoring == definitions::Scoring::Sum
    }

    /// Whether a patient may answer it alone, by a link (its definition says): the
    /// self-report forms and the visual analogue scale, never the clinician's interview.
    pub fn is_self_reportable(self) -> bool {
        self.definition().self_reportable
    }

    /// Whether a rating may be only a total (a paper record). Never the C-SSRS screener:
    /// its risk level depends on which answers were given, and a bare level cannot show
    /// that the screener's order was followed (DESIGN.md §6).
    /// The same holds for the check-in after a home dose: which concern it raised is in
    /// its answers.
    pub fn allows_bare_total(self) -> bool {
        self.definition().scoring == definitions::Scoring::Sum
    }

    /// Whether the instrument has obsession and compulsion subscales (items 1–5, 6–10).
    pub fn has_subscales(self) -> bool {
        matches!(self, Instrument::Ybocs | Instrument::YbocsSr | Instrument::YbocsIi)
    }

    pub fn bands(self) -> &'static [Band] {
        &self.definition().bands
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
