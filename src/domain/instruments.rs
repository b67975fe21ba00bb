//! The four instruments: item sets and ranges, totals, subscales and severity bands.
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

/// An item: its code, the highest score it takes, and whether it counts in the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub code: &'static str,
    pub max: u32,
    pub core: bool,
    pub label: &'static str,
}

const fn core(code: &'static str, max: u32, label: &'static str) -> Item {
    Item { code, max, core: true, label }
}
const fn optional(code: &'static str, max: u32, label: &'static str) -> Item {
    Item { code, max, core: false, label }
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

impl Instrument {
    pub const ALL: [Instrument; 4] = [Instrument::Ybocs, Instrument::YbocsSr, Instrument::YbocsIi, Instrument::OcdVas];

    pub fn code(self) -> &'static str {
        match self {
            Instrument::Ybocs => "ybocs",
            Instrument::YbocsSr => "ybocs_sr",
            Instrument::YbocsIi => "ybocs_ii",
            Instrument::OcdVas => "ocd_vas",
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
        }
    }

    pub fn item(self, code: &str) -> Option<Item> {
        self.items().iter().copied().find(|i| i.code == code)
    }

    pub fn core_items(self) -> impl Iterator<Item = Item> {
        self.items().iter().copied().filter(|i| i.core)
    }

    /// The highest possible total: the sum of the core items' maxima.
    pub fn max_total(self) -> u32 {
        self.core_items().map(|i| i.max).sum()
    }

    /// Whether the instrument has obsession and compulsion subscales (items 1–5, 6–10).
    /// Whether a patient may answer it alone, by a link: the self-report forms and the
    /// visual analogue scale, never the clinician-rated interview.
    pub fn is_self_reportable(self) -> bool {
        matches!(self, Instrument::OcdVas | Instrument::YbocsSr)
    }

    pub fn has_subscales(self) -> bool {
        self != Instrument::OcdVas
    }

    pub fn bands(self) -> &'static [Band] {
        match self {
            Instrument::Ybocs | Instrument::YbocsSr => YBOCS_BANDS,
            Instrument::YbocsIi => YBOCS_II_BANDS,
            Instrument::OcdVas => &[],
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
