//! Instruments as data (DESIGN.md §8): one JSON file per instrument and version in
//! `src/domain/definitions/`, embedded in the binary, read with serde and checked at
//! start-up (`check_all`) and by a test. The item lists, ranges, answer options, the order
//! in which items are asked (`enable_when`) and the bands come from here, so one source
//! feeds validation, scoring, the catalogue, the patient's page and the contract; the
//! scoring and outcome rules stay code (`instruments`, `outcomes`, `safety`).
//!
//! Wording is shipped only where it is free to reproduce electronically (`text_source:
//! bundled`: PHQ-9, onset's own VAS). A licensed instrument (`text_source: clinic`: the
//! Y-BOCS family, the C-SSRS) ships codes, short neutral labels, option values and
//! scoring, never wording: the check refuses a licensed definition that carries any.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::fields::vocabulary;

vocabulary!(RaterKind { Clinician = "clinician", SelfReport = "self", Either = "either" });
vocabulary!(TextSource { Bundled = "bundled", Clinic = "clinic", NoText = "none" });
vocabulary!(ItemType { Choice = "choice", YesNo = "yes_no", Integer = "integer", Vas = "vas" });
vocabulary!(Scoring { Sum = "sum", CssrsRisk = "cssrs_risk", Concerns = "concerns" });
vocabulary!(Outcomes { OcdConsensus = "ocd_consensus", NoOutcomes = "none" });

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    pub holder: String,
    pub terms: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    pub value: u32,
    /// Null for a licensed instrument until the clinic supplies its wording.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchors {
    pub min_label: String,
    pub max_label: String,
}

/// Asked only when item `item` was answered `equals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub item: &'static str,
    pub equals: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDefinition {
    pub code: &'static str,
    pub short_label: &'static str,
    /// The question as the patient reads it; null where the wording is licensed.
    pub text: Option<String>,
    #[serde(rename = "type")]
    pub kind: ItemType,
    pub min: u32,
    pub max: u32,
    pub options: Vec<AnswerOption>,
    pub anchors: Option<Anchors>,
    /// Counted in the total (a `sum` instrument's core items).
    pub counted: bool,
    /// May be left out even when asked.
    pub optional: bool,
    pub enable_when: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandDefinition {
    pub min: u32,
    pub max: u32,
    pub label: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub code: &'static str,
    pub version: u32,
    pub title: String,
    pub rater: RaterKind,
    pub recall_default: String,
    pub recalls: Vec<String>,
    pub self_reportable: bool,
    pub text_source: TextSource,
    pub license: License,
    pub preamble: Option<String>,
    pub items: Vec<ItemDefinition>,
    pub scoring: Scoring,
    pub bands: Vec<BandDefinition>,
    pub outcomes: Outcomes,
    /// Where its items, bands and rules come from.
    pub sources: Vec<String>,
}

/// The built-in definitions, one file per instrument and version.
const FILES: &[(&str, &str)] = &[
    ("ybocs.v1.json", include_str!("definitions/ybocs.v1.json")),
    ("ybocs_sr.v1.json", include_str!("definitions/ybocs_sr.v1.json")),
    ("ybocs_ii.v1.json", include_str!("definitions/ybocs_ii.v1.json")),
    ("ocd_vas.v1.json", include_str!("definitions/ocd_vas.v1.json")),
    ("phq9.v1.json", include_str!("definitions/phq9.v1.json")),
    ("cssrs_screen.v1.json", include_str!("definitions/cssrs_screen.v1.json")),
    ("home_checkin.v1.json", include_str!("definitions/home_checkin.v1.json")),
];

/// Longest text a definition (or a clinic's wording) may hold in one place.
pub const MAX_TEXT_CHARS: usize = 2_000;

fn parse(name: &str, text: &'static str) -> Result<Definition, String> {
    serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))
}

/// Every built-in definition, parsed once. `check_all` runs before the server starts, so
/// a bad file stops the start-up with its name and fault rather than here.
static BUILT_IN: LazyLock<Vec<Definition>> = LazyLock::new(|| {
    FILES.iter().map(|(name, text)| parse(name, text).unwrap_or_else(|e| panic!("built-in instrument definition {e}"))).collect()
});

/// The built-in definitions, every version.
pub fn built_in() -> &'static [Definition] {
    &BUILT_IN
}

/// The current (highest) version of an instrument's definition.
pub fn current(code: &str) -> Option<&'static Definition> {
    BUILT_IN.iter().filter(|d| d.code == code).max_by_key(|d| d.version)
}

/// Parses and checks every built-in file; the faults found, by file.
pub fn check_all() -> Result<(), String> {
    let mut faults = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, text) in FILES {
        match parse(name, text) {
            Err(e) => faults.push(e),
            Ok(definition) => {
                if !seen.insert((definition.code, definition.version)) {
                    faults.push(format!("{name}: {} version {} is defined twice", definition.code, definition.version));
                }
                if !name.starts_with(&format!("{}.v{}.", definition.code, definition.version)) {
                    faults.push(format!("{name}: the file name must be {}.v{}.json", definition.code, definition.version));
                }
                faults.extend(check(&definition).into_iter().map(|fault| format!("{name}: {fault}")));
            }
        }
    }
    if faults.is_empty() { Ok(()) } else { Err(faults.join("; ")) }
}

/// What is wrong with a definition, if anything.
pub fn check(d: &Definition) -> Vec<String> {
    let mut faults = Vec::new();
    let mut codes = BTreeSet::new();
    let short = |t: &str| t.chars().count() <= MAX_TEXT_CHARS;
    if d.items.is_empty() {
        faults.push("has no items".to_string());
    }
    if !d.recalls.contains(&d.recall_default) {
        faults.push(format!("recall_default {} is not among its recalls", d.recall_default));
    }
    for item in &d.items {
        let at = format!("item {}", item.code);
        for condition in &item.enable_when {
            if !codes.contains(condition.item) {
                faults.push(format!("{at}: enable_when names {}, which is not asked before it", condition.item));
            }
        }
        if !codes.insert(item.code) {
            faults.push(format!("{at}: listed twice"));
        }
        if item.min > item.max {
            faults.push(format!("{at}: min above max"));
        }
        match item.kind {
            ItemType::Choice => {
                let values: Vec<u32> = item.options.iter().map(|o| o.value).collect();
                if values != (item.min..=item.max).collect::<Vec<_>>() {
                    faults.push(format!("{at}: its options must be every value from {} to {}, in order", item.min, item.max));
                }
            }
            ItemType::YesNo => {
                let expected = [(0, "No"), (1, "Yes")];
                if (item.min, item.max) != (0, 1) || item.options.iter().map(|o| (o.value, o.label.as_deref().unwrap_or(""))).ne(expected) {
                    faults.push(format!("{at}: a yes/no item is 0 \"No\" and 1 \"Yes\""));
                }
            }
            ItemType::Vas | ItemType::Integer => {
                if !item.options.is_empty() {
                    faults.push(format!("{at}: a {} item has no options", item.kind.code()));
                }
            }
        }
        if item.kind == ItemType::Vas && (item.anchors.is_none() || (item.min, item.max) != (0, 100)) {
            faults.push(format!("{at}: a VAS runs from 0 to 100 between two anchors"));
        }
        let worded = item.text.is_some() || item.options.iter().any(|o| o.label.is_some() && item.kind == ItemType::Choice);
        match d.text_source {
            TextSource::Bundled => {
                if item.text.is_none() || (item.kind == ItemType::Choice && item.options.iter().any(|o| o.label.is_none())) {
                    faults.push(format!("{at}: bundled wording needs the question and every option's label"));
                }
            }
            // Never ship wording we may not reproduce.
            TextSource::Clinic | TextSource::NoText => {
                if worded || item.anchors.is_some() {
                    faults.push(format!("{at}: a licensed instrument ships no wording (text, option labels, anchors)"));
                }
            }
        }
        let texts = item.text.iter().map(String::as_str).chain(item.options.iter().filter_map(|o| o.label.as_deref())).chain([item.short_label]);
        if texts.into_iter().any(|t| !short(t)) {
            faults.push(format!("{at}: a text over {MAX_TEXT_CHARS} characters"));
        }
    }
    if d.text_source != TextSource::Bundled && d.preamble.is_some() {
        faults.push("a licensed instrument ships no preamble".to_string());
    }
    let max_total = max_total(d);
    if !d.bands.is_empty() {
        for total in 0..=max_total {
            let covering = d.bands.iter().filter(|b| (b.min..=b.max).contains(&total)).count();
            if covering != 1 {
                faults.push(format!("bands: the total {total} falls in {covering} bands"));
                break;
            }
        }
        if d.bands.iter().any(|b| b.max > max_total) {
            faults.push(format!("bands: a band reaches past the highest total {max_total}"));
        }
    }
    faults
}

/// The highest total: the counted items' maxima summed, or the C-SSRS screener's highest
/// risk level (3, "high").
pub fn max_total(d: &Definition) -> u32 {
    match d.scoring {
        Scoring::Sum => d.items.iter().filter(|i| i.counted).map(|i| i.max).sum(),
        Scoring::CssrsRisk => 3,
        Scoring::Concerns => CONCERNS.len() as u32,
    }
}

/// The answers of a check-in after a home dose that need the clinic (DESIGN.md §10): a no
/// to feeling safe, a yes to asking to be contacted. A `concerns` total counts them.
pub const CONCERNS: [(&str, u32); 2] = [("safe", 0), ("contact", 1)];

/// A clinic's licensed wording for one instrument, as its admin sends it (DESIGN.md §8):
/// the question of every item and the label of every choice option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wording {
    /// What licence the clinic holds (shown to staff, never to patients).
    pub license_note: Option<String>,
    pub preamble: Option<String>,
    pub items: std::collections::BTreeMap<String, ItemWording>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemWording {
    pub text: String,
    /// Labels by option value; required for every option of a `choice` item.
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

/// Checks a clinic's wording against the definition: every item and every choice option
/// covered, nothing extra, every text bounded. The faults by field.
pub fn check_wording(d: &Definition, wording: &Wording) -> Vec<super::FieldError> {
    use super::FieldError;
    let mut errors = Vec::new();
    if d.text_source == TextSource::Bundled {
        errors.push(FieldError::new("items", format!("{}'s wording is bundled with onset: a clinic supplies wording for licensed instruments only", d.code)));
        return errors;
    }
    let bounded = |errors: &mut Vec<FieldError>, field: String, text: &str| {
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
            errors.push(FieldError::new(field, format!("must be 1 to {MAX_TEXT_CHARS} characters")));
        }
    };
    for (field, text) in [("license_note", &wording.license_note), ("preamble", &wording.preamble)] {
        if let Some(text) = text {
            bounded(&mut errors, field.to_string(), text);
        }
    }
    if wording.items.len() > d.items.len() * 2 {
        errors.push(FieldError::new("items", format!("{} has {} items", d.code, d.items.len())));
        return errors;
    }
    for item in &d.items {
        let field = format!("items.{}", item.code);
        let Some(given) = wording.items.get(item.code) else {
            errors.push(FieldError::new(field, "every item needs its wording"));
            continue;
        };
        bounded(&mut errors, format!("{field}.text"), &given.text);
        let values: Vec<String> = match item.kind {
            ItemType::Choice => item.options.iter().map(|o| o.value.to_string()).collect(),
            // Yes and No are the page's own; a VAS has no options.
            ItemType::YesNo | ItemType::Integer | ItemType::Vas => Vec::new(),
        };
        for value in &values {
            match given.options.get(value) {
                Some(label) => bounded(&mut errors, format!("{field}.options.{value}"), label),
                None => errors.push(FieldError::new(format!("{field}.options.{value}"), "every option needs its label")),
            }
        }
        for extra in given.options.keys().filter(|k| !values.contains(k)) {
            errors.push(FieldError::new(format!("{field}.options.{extra}"), format!("item {} has no option {extra:?}", item.code)));
        }
    }
    for extra in wording.items.keys().filter(|k| d.items.iter().all(|i| i.code != k.as_str())) {
        errors.push(FieldError::new(format!("items.{extra}"), format!("{} has no item {extra:?}", d.code)));
    }
    errors
}

/// The definition as a clinic sees it: for a licensed instrument, with the clinic's
/// wording laid in when it has supplied some (`None`: texts and labels stay null).
pub fn with_wording(d: &Definition, wording: Option<&Wording>) -> Definition {
    let mut shown = d.clone();
    let Some(wording) = wording.filter(|_| d.text_source == TextSource::Clinic) else { return shown };
    shown.preamble = wording.preamble.clone();
    for item in &mut shown.items {
        if let Some(given) = wording.items.get(item.code) {
            item.text = Some(given.text.clone());
            for option in item.options.iter_mut().filter(|_| item.kind == ItemType::Choice) {
                option.label = given.options.get(&option.value.to_string()).cloned();
            }
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_definition_is_valid() {
        check_all().unwrap();
        assert_eq!(built_in().len(), FILES.len());
    }

    #[test]
    fn licensed_wording_is_never_shipped_and_bundled_wording_is_complete() {
        let phq9 = current("phq9").unwrap();
        assert_eq!(phq9.text_source, TextSource::Bundled);
        assert_eq!(phq9.items[8].text.as_deref(), Some("Thoughts that you would be better off dead or of hurting yourself in some way"));
        let anchors: Vec<&str> = phq9.items[0].options.iter().map(|o| o.label.as_deref().unwrap()).collect();
        assert_eq!(anchors, ["Not at all", "Several days", "More than half the days", "Nearly every day"]);
        for code in ["ybocs", "ybocs_sr", "ybocs_ii", "cssrs_screen"] {
            let d = current(code).unwrap();
            assert_eq!(d.text_source, TextSource::Clinic, "{code}");
            assert!(d.preamble.is_none() && d.items.iter().all(|i| i.text.is_none()), "{code}");
        }
        // A licensed definition that slipped in a question is refused.
        let mut leaked = current("ybocs_sr").unwrap().clone();
        leaked.items[0].text = Some("a question".into());
        assert!(check(&leaked).iter().any(|f| f.contains("ships no wording")));
    }

    fn wording_for(d: &Definition) -> Wording {
        let items = d
            .items
            .iter()
            .map(|i| {
                let options = if i.kind == ItemType::Choice { i.options.iter().map(|o| (o.value.to_string(), format!("label {}", o.value))).collect() } else { Default::default() };
                (i.code.to_string(), ItemWording { text: format!("question {}", i.code), options })
            })
            .collect();
        Wording { license_note: Some("licence 42".into()), preamble: Some("In the past week".into()), items }
    }

    #[test]
    fn a_clinics_wording_covers_every_item_and_option_and_nothing_else() {
        let d = current("ybocs_sr").unwrap();
        let complete = wording_for(d);
        assert!(check_wording(d, &complete).is_empty());
        let fields = |w: &Wording| check_wording(d, w).into_iter().map(|e| e.field).collect::<Vec<_>>();
        let mut missing = complete.clone();
        missing.items.remove("16");
        missing.items.get_mut("3").unwrap().options.remove("4");
        assert_eq!(fields(&missing), ["items.3.options.4", "items.16"]);
        let mut extra = complete.clone();
        extra.items.insert("17".into(), ItemWording { text: "global severity".into(), options: Default::default() });
        extra.items.get_mut("1").unwrap().options.insert("5".into(), "more".into());
        extra.items.get_mut("2").unwrap().text = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(fields(&extra), ["items.1.options.5", "items.2.text", "items.17"]);
        let phq9 = current("phq9").unwrap();
        assert_eq!(check_wording(phq9, &wording_for(phq9)).len(), 1, "bundled wording is not replaced");
        let shown = with_wording(d, Some(&complete));
        assert_eq!((shown.items[2].text.as_deref(), shown.items[2].options[4].label.as_deref()), (Some("question 3"), Some("label 4")));
        assert_eq!(shown.preamble.as_deref(), Some("In the past week"));
        assert_eq!(with_wording(d, None), *d);
        // The C-SSRS's yes/no items need only their question.
        let cssrs = current("cssrs_screen").unwrap();
        assert!(check_wording(cssrs, &wording_for(cssrs)).is_empty());
    }

    #[test]
    fn a_broken_definition_is_named() {
        let mut d = current("cssrs_screen").unwrap().clone();
        d.items[2].enable_when = vec![Condition { item: "6", equals: 1 }];
        d.items.push(d.items[0].clone());
        d.bands.pop();
        let faults = check(&d);
        assert!(faults.iter().any(|f| f.contains("item 3: enable_when names 6")), "{faults:?}");
        assert!(faults.iter().any(|f| f.contains("item 1: listed twice")), "{faults:?}");
        assert!(faults.iter().any(|f| f.contains("the total 3 falls in 0 bands")), "{faults:?}");
    }
}
