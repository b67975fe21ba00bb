//! The instruments: item sets and ranges, totals, subscales and severity bands, read from
//! their definitions (`definitions`): the built-in ones (the Y-BOCS family and the OCD VAS;
//! GAD-7, PCL-5, MADRS and the craving VAS across the spectrum; the PHQ-9 and C-SSRS
//! screener for safety) and a clinic's own (DESIGN.md §9). Nothing here names one
//! instrument except the C-SSRS's triage rule, which is its scoring.
//!
//! Versions are never compared with each other: every series is per instrument.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

use serde::{Serialize, Serializer};

use super::definitions::{self, Definition, Kind, RuleFamily, Scoring};

/// An instrument: a handle on one definition, the current one when the handle was taken
/// (a built-in's newest version, or a clinic instrument's newest). Cheap to copy; equal,
/// hashed and ordered by its code (built-ins in catalogue order, then clinic instruments),
/// since versions are never compared with each other: every series is per code.
#[derive(Clone, Copy)]
pub struct Instrument(&'static Entry);

/// A definition with the item list scoring reads, built once.
pub struct Entry {
    definition: &'static Definition,
    items: Vec<Item>,
    rank: usize,
}

/// A severity band: totals from `min` to `max` inclusive (from the definitions).
pub use super::definitions::BandDefinition as Band;
/// An item is asked exactly when an earlier item was answered a given value.
pub use super::definitions::Condition as EnableWhen;

/// An item as scoring reads it: its code, its range, whether it counts in the total and
/// is scored reversed, its neutral label, and the earlier answers it is asked after.
/// Built from the instrument's definition (`definitions`), the one source of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub code: &'static str,
    pub min: u32,
    pub max: u32,
    pub core: bool,
    pub reverse: bool,
    pub label: &'static str,
    /// Asked only after these answers: then required, otherwise never answered. The
    /// C-SSRS screener's order ("If YES to 2, ask questions 3, 4, 5, and 6. If NO to 2,
    /// go directly to question 6") is written this way in its definition.
    pub enable_when: &'static [EnableWhen],
}

impl Item {
    /// The points an answer scores: the answer, or max + min − answer when reversed.
    pub fn points(self, answer: u32) -> u32 {
        if self.reverse { (self.max + self.min).saturating_sub(answer) } else { answer }
    }
}

fn entry(definition: &'static Definition, rank: usize) -> Entry {
    let items = definition
        .items
        .iter()
        .map(|d| Item { code: &d.code, min: d.min, max: d.max, core: d.counted, reverse: d.reverse, label: &d.short_label, enable_when: &d.enable_when })
        .collect();
    Entry { definition, items, rank }
}

/// The built-in instruments, each at its current version, in catalogue order.
static BUILT_IN: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    let mut codes: Vec<&str> = Vec::new();
    for d in definitions::built_in() {
        if !codes.contains(&d.code.as_str()) {
            codes.push(&d.code);
        }
    }
    codes.iter().enumerate().map(|(rank, code)| entry(definitions::current(code).expect("listed"), rank)).collect()
});

/// A clinic instrument's version: (clinic, code, version).
type ClinicKey = (uuid::Uuid, String, u32);

/// Clinic instruments' definitions, by clinic, code and version. A stored version never
/// changes, so each is built once and kept for the life of the process; how many a clinic
/// may hold is bounded (`definitions::MAX_CLINIC_INSTRUMENTS` instruments of at most
/// `MAX_CLINIC_VERSIONS` versions), and so is what this keeps.
static CLINIC: LazyLock<Mutex<HashMap<ClinicKey, &'static Entry>>> = LazyLock::new(Default::default);

fn clinic_entries() -> std::sync::MutexGuard<'static, HashMap<ClinicKey, &'static Entry>> {
    // The map is only ever inserted into whole entries: a panic elsewhere leaves it sound.
    CLINIC.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The instruments a clinic may name: the built-in ones and its own, each at its current
/// version. Parsing a code never reads the database: the store builds the catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    instruments: Vec<Instrument>,
}

impl Catalogue {
    pub fn built_in() -> Catalogue {
        Catalogue { instruments: Instrument::built_in().collect() }
    }

    /// The built-in instruments and a clinic's own (their current versions).
    pub fn with_clinic(own: impl IntoIterator<Item = Instrument>) -> Catalogue {
        let mut catalogue = Catalogue::built_in();
        catalogue.instruments.extend(own);
        catalogue
    }

    pub fn parse(&self, code: &str) -> Option<Instrument> {
        self.instruments.iter().copied().find(|i| i.code() == code)
    }

    /// The catalogue with `instrument` at its own version in place of its code's current
    /// one: what an amendment of a rating taken under that version is parsed against.
    pub fn pinned(mut self, instrument: Instrument) -> Catalogue {
        self.instruments.retain(|i| *i != instrument);
        self.instruments.push(instrument);
        self
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.instruments.iter().map(|i| i.code()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = Instrument> + '_ {
        self.instruments.iter().copied()
    }
}

/// The C-SSRS screener's triage risk (Columbia Lighthouse Project, "C-SSRS Screener with
/// Triage Points"): yes to 1 or 2 only is low; yes to 3, or behaviour (6) more than 3
/// months ago, is moderate; yes to 4 or 5, or behaviour within 3 months, is high.
/// 0 none, 1 low, 2 moderate, 3 high.
pub fn cssrs_risk(items: &BTreeMap<String, u32>) -> u32 {
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

impl PartialEq for Instrument {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}
impl Eq for Instrument {}
impl std::hash::Hash for Instrument {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code().hash(state)
    }
}
impl Ord for Instrument {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.rank, self.code()).cmp(&(other.0.rank, other.code()))
    }
}
impl PartialOrd for Instrument {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl std::fmt::Debug for Instrument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.v{}", self.code(), self.version())
    }
}
impl Serialize for Instrument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl Instrument {
    /// Every built-in instrument, in catalogue order.
    pub fn built_in() -> impl Iterator<Item = Instrument> {
        BUILT_IN.iter().map(Instrument)
    }

    /// The built-in codes, for "must be one of" errors.
    pub fn built_in_codes() -> Vec<&'static str> {
        Instrument::built_in().map(|i| i.code()).collect()
    }

    /// A built-in instrument by its code.
    pub fn parse(code: &str) -> Option<Instrument> {
        BUILT_IN.iter().find(|e| e.definition.code == code).map(Instrument)
    }

    /// A built-in instrument the code relies on by name (the OCD VAS a dose check asks).
    pub fn named(code: &str) -> Instrument {
        Instrument::parse(code).unwrap_or_else(|| panic!("{code} is a built-in instrument"))
    }

    /// A clinic's instrument at one stored version of its definition: a version never
    /// changes, so the first definition given for it is the one kept.
    pub fn of_clinic(clinic: uuid::Uuid, definition: Definition) -> Instrument {
        let key = (clinic, definition.code.clone(), definition.version);
        let entry = *clinic_entries().entry(key).or_insert_with(|| {
            let definition: &'static Definition = Box::leak(Box::new(definition));
            Box::leak(Box::new(entry(definition, usize::MAX)))
        });
        Instrument(entry)
    }

    /// A clinic instrument's version, if this process has read it already.
    pub fn kept(clinic: uuid::Uuid, code: &str, version: u32) -> Option<Instrument> {
        clinic_entries().get(&(clinic, code.to_string(), version)).map(|e| Instrument(e))
    }

    /// The instrument a stored rating names: a built-in by its code, a clinic's by its
    /// code and the version the rating was taken under (read beforehand by the store).
    pub fn stored(clinic: uuid::Uuid, code: &str, version: u32) -> Option<Instrument> {
        if definitions::is_clinic_code(code) { Instrument::kept(clinic, code, version) } else { Instrument::parse(code) }
    }

    pub fn code(self) -> &'static str {
        &self.0.definition.code
    }

    pub fn version(self) -> u32 {
        self.0.definition.version
    }

    pub fn is_clinic(self) -> bool {
        self.0.definition.kind == Kind::Clinic
    }

    /// The definition: items, options, bands, rules, wording where it may be shipped.
    pub fn definition(self) -> &'static Definition {
        self.0.definition
    }

    pub fn items(self) -> &'static [Item] {
        &self.0.items
    }

    pub fn item(self, code: &str) -> Option<Item> {
        self.items().iter().copied().find(|i| i.code == code)
    }

    pub fn core_items(self) -> impl Iterator<Item = Item> {
        self.items().iter().copied().filter(|i| i.core)
    }

    /// The highest possible score: the core items' maxima summed (their highest mean for a
    /// `mean` scale), the C-SSRS screener's highest risk level, the check-in's concerns.
    pub fn max_total(self) -> u32 {
        definitions::max_total(self.definition())
    }

    /// The lowest possible score: the core items' minima summed (or their lowest mean).
    pub fn min_total(self) -> u32 {
        definitions::min_total(self.definition())
    }

    /// The score of validated items: the sum of the core items' points, their mean
    /// (rounded half up to a whole point, as onset keeps whole scores), the C-SSRS risk,
    /// or the check-in's concerns.
    pub fn total_of(self, items: &BTreeMap<String, u32>) -> u32 {
        let points = || self.core_items().filter_map(|i| items.get(i.code).map(|a| i.points(*a)));
        match self.definition().scoring {
            Scoring::CssrsRisk => cssrs_risk(items),
            Scoring::Sum => points().sum(),
            Scoring::Mean => {
                let (sum, n) = points().fold((0u32, 0u32), |(s, n), p| (s + p, n + 1));
                if n == 0 { 0 } else { (2 * sum + n) / (2 * n) }
            }
            Scoring::Concerns => definitions::CONCERNS.iter().filter(|(code, value)| items.get(*code) == Some(value)).count() as u32,
        }
    }

    /// Whether the series is judged by outcome rules (response, remission), and which.
    pub fn rules(self) -> RuleFamily {
        self.definition().outcomes.rules
    }

    /// Whether the OCD consensus rules (response, remission, relapse, with their CGI
    /// gates) apply: the Y-BOCS family and the VAS, as their definitions say.
    pub fn measures_ocd(self) -> bool {
        self.rules() == RuleFamily::OcdConsensus
    }

    /// Whether change from baseline means anything: not for the C-SSRS risk level.
    pub fn has_percent_change(self) -> bool {
        matches!(self.definition().scoring, Scoring::Sum | Scoring::Mean)
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
        self.has_percent_change()
    }

    pub fn bands(self) -> &'static [Band] {
        &self.definition().bands
    }

    /// The severity label of a total, if the instrument has bands.
    pub fn severity(self, total: u32) -> Option<&'static str> {
        self.bands().iter().find(|b| (b.min..=b.max).contains(&total)).map(|b| b.label.as_str())
    }

    /// The part scores of an itemised rating (Y-BOCS obsessions and compulsions, PCL-5
    /// clusters), by code, in the definition's order.
    pub fn subscales_of(self, items: &BTreeMap<String, u32>) -> Vec<(&'static str, u32)> {
        self.definition()
            .subscales
            .iter()
            .map(|s| (s.code.as_str(), s.items.iter().filter_map(|code| self.item(code).and_then(|i| items.get(code).map(|a| i.points(*a)))).sum()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for i in Instrument::built_in() {
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
            assert_eq!(Instrument::named("phq9").severity(total), Some(label), "{total}");
        }
        assert_eq!(Instrument::named("phq9").max_total(), 27);
        assert_eq!(Instrument::named("phq9").total_of(&answers(&[("1", 3), ("9", 1), ("5", 2)])), 6);
    }

    fn named(code: &str) -> Instrument {
        Instrument::named(code)
    }

    #[test]
    fn gad7_bands_at_every_edge() {
        // Spitzer 2006: "Scores of 5, 10, and 15 are taken as the cut-off points for mild,
        // moderate, and severe anxiety, respectively."
        for (total, label) in [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe"), (21, "severe")] {
            assert_eq!(named("gad7").severity(total), Some(label), "{total}");
        }
        assert_eq!((named("gad7").max_total(), named("gad7").items().len()), (21, 7));
    }

    #[test]
    fn pcl5_cut_point_and_clusters() {
        // National Center for PTSD: "a PCL-5 cutoff score between 31-33 is indicative of
        // probable PTSD"; DESIGN.md §9 takes 33.
        let pcl5 = named("pcl5");
        for (total, label) in [(0, "below the probable PTSD cut-point"), (32, "below the probable PTSD cut-point"), (33, "probable PTSD"), (80, "probable PTSD")] {
            assert_eq!(pcl5.severity(total), Some(label), "{total}");
        }
        // Clusters B 1–5, C 6–7, D 8–14, E 15–20 (Weathers 2013): item n answered n % 5.
        let items: BTreeMap<String, u32> = (1..=20).map(|n| (n.to_string(), n % 5)).collect();
        assert_eq!(pcl5.subscales_of(&items), [("B", 1 + 2 + 3 + 4), ("C", 1 + 2), ("D", 3 + 4 + 0 + 1 + 2 + 3 + 4), ("E", 0 + 1 + 2 + 3 + 4 + 0)]);
        assert_eq!(pcl5.total_of(&items), 40);
    }

    #[test]
    fn madrs_is_ten_items_of_zero_to_six_and_ships_no_wording() {
        let madrs = named("madrs");
        assert_eq!((madrs.max_total(), madrs.items().len(), madrs.is_self_reportable()), (60, 10, false));
        assert!(madrs.definition().items.iter().all(|i| i.text.is_none()));
        assert_eq!(madrs.severity(30), None, "no bands are set by DESIGN.md");
    }

    fn clinic(scoring: &str, reverse: bool) -> Instrument {
        let body = serde_json::json!({
            "code": format!("x_unit_{scoring}_{reverse}"), "title": "t", "name": "n", "rater": "self", "recall_default": "NOW", "recalls": ["NOW"],
            "self_reportable": false, "text_source": "none",
            "items": [{"code": "a", "short_label": "a", "type": "integer", "min": 1, "max": 7, "reverse": reverse},
                      {"code": "b", "short_label": "b", "type": "integer", "min": 1, "max": 7}],
            "scoring": scoring, "bands": [], "outcomes": {"rules": "none", "direction": "higher_is_worse", "response": null}
        });
        let definition = definitions::clinic_definition(body, None).unwrap();
        Instrument::of_clinic(uuid::Uuid::nil(), definition)
    }

    #[test]
    fn a_clinic_scale_sums_or_averages_with_reversed_items() {
        let answers = |a: u32, b: u32| -> BTreeMap<String, u32> { [("a".to_string(), a), ("b".to_string(), b)].into() };
        // Reversed on 1–7: 7 + 1 − answer; a = 2 scores 6.
        assert_eq!(clinic("sum", true).total_of(&answers(2, 3)), 6 + 3);
        assert_eq!(clinic("sum", false).total_of(&answers(2, 3)), 5);
        assert_eq!((clinic("sum", true).min_total(), clinic("sum", true).max_total()), (2, 14));
        // The mean, rounded half up: (6 + 3) / 2 = 4.5 → 5; (2 + 3) / 2 = 2.5 → 3; 7 and 6 → 6.5 → 7.
        assert_eq!(clinic("mean", true).total_of(&answers(2, 3)), 5);
        assert_eq!(clinic("mean", false).total_of(&answers(2, 3)), 3);
        assert_eq!(clinic("mean", false).total_of(&answers(7, 6)), 7);
        assert_eq!(clinic("mean", false).total_of(&answers(1, 2)), 2);
        assert_eq!((clinic("mean", false).min_total(), clinic("mean", false).max_total()), (1, 7));
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
        assert_eq!(Instrument::named("cssrs_screen").severity(3), Some("high"));
        assert_eq!(Instrument::named("cssrs_screen").max_total(), 3);
    }

    #[test]
    fn totals_and_item_counts() {
        assert_eq!(Instrument::named("ybocs").max_total(), 40);
        assert_eq!(Instrument::named("ybocs_sr").max_total(), 40);
        assert_eq!(Instrument::named("ybocs_ii").max_total(), 50);
        assert_eq!(Instrument::named("ocd_vas").max_total(), 100);
        assert_eq!(Instrument::named("ybocs").core_items().count(), 10);
        assert_eq!(Instrument::named("ybocs").items().len(), 21);
        assert_eq!(Instrument::named("ybocs_ii").items().len(), 10);
    }

    #[test]
    fn the_self_report_has_no_clinician_judgements() {
        assert_eq!(Instrument::named("ybocs_sr").items().len(), 18);
        for code in ["17", "18", "19"] {
            assert!(Instrument::named("ybocs_sr").item(code).is_none() && Instrument::named("ybocs").item(code).is_some(), "{code}");
        }
        assert_eq!(Instrument::named("ybocs_sr").item("16").map(|i| i.max), Some(4));
    }

    #[test]
    fn ybocs_ii_item_4_is_the_obsession_free_interval() {
        assert_eq!(Instrument::named("ybocs_ii").item("4").map(|i| (i.label, i.max, i.core)), Some(("obsessions: obsession-free interval", 5, true)));
        assert_eq!(Instrument::named("ybocs").item("4").map(|i| i.label), Some("obsessions: resistance"));
    }

    #[test]
    fn bands_cover_every_total_exactly_once() {
        for i in [Instrument::named("ybocs"), Instrument::named("ybocs_sr"), Instrument::named("ybocs_ii")] {
            for total in 0..=i.max_total() {
                let n = i.bands().iter().filter(|b| (b.min..=b.max).contains(&total)).count();
                assert_eq!(n, 1, "{i:?} total {total}");
            }
        }
    }

    #[test]
    fn band_edges() {
        let y = Instrument::named("ybocs");
        let cases = [(0, "subclinical"), (7, "subclinical"), (8, "mild"), (15, "mild"), (16, "moderate"),
            (23, "moderate"), (24, "severe"), (31, "severe"), (32, "extreme"), (40, "extreme")];
        for (total, label) in cases {
            assert_eq!(y.severity(total), Some(label), "ybocs {total}");
            assert_eq!(Instrument::named("ybocs_sr").severity(total), Some(label));
        }
        let ii = Instrument::named("ybocs_ii");
        for (total, label) in [(0, "subclinical"), (14, "subclinical"), (15, "mild"), (21, "mild"), (22, "moderate"),
            (34, "moderate"), (35, "severe"), (50, "severe")] {
            assert_eq!(ii.severity(total), Some(label), "ybocs_ii {total}");
        }
        assert_eq!(Instrument::named("ocd_vas").severity(50), None);
        assert_eq!(y.severity(41), None);
    }
}
