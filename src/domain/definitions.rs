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

use super::FieldError;
use super::fields::vocabulary;

vocabulary!(RaterKind { Clinician = "clinician", SelfReport = "self", Either = "either" });
vocabulary!(TextSource { Bundled = "bundled", Clinic = "clinic", NoText = "none" });
vocabulary!(ItemType { Choice = "choice", YesNo = "yes_no", Integer = "integer", Vas = "vas" });
vocabulary!(Scoring { Sum = "sum", Mean = "mean", CssrsRisk = "cssrs_risk", Concerns = "concerns" });
vocabulary!(Kind { BuiltIn = "built_in", Clinic = "clinic" });
// Which of the safety rules of DESIGN.md §6 and §10 a rating's answers are read by.
vocabulary!(SafetyRule { NoRule = "none", Phq9Item9 = "phq9_item_9", CssrsTriage = "cssrs_triage", HomeConcerns = "home_concerns" });
// Which rules judge a series: the OCD consensus (DESIGN.md §1, with its CGI gates, early
// improvement and relapse) for the Y-BOCS family and the OCD VAS; the definition's own
// thresholds (§9) for every other instrument that has any; none for the safety screens.
vocabulary!(RuleFamily { OcdConsensus = "ocd_consensus", Definition = "definition", NoOutcomes = "none" });
vocabulary!(Direction { HigherIsWorse = "higher_is_worse", HigherIsBetter = "higher_is_better" });
vocabulary!(ChangeKind { Percent = "percent", Points = "points" });

/// A change from baseline that counts: `threshold` percent of the baseline, or points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub kind: ChangeKind,
    pub threshold: f64,
}

/// Remission: a score at or below `max` (at or above `min` where higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemissionRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
}

/// How a series of this instrument is judged (DESIGN.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    pub rules: RuleFamily,
    pub direction: Direction,
    pub response: Option<Threshold>,
    #[serde(default)]
    pub partial_response: Option<Threshold>,
    #[serde(default)]
    pub remission: Option<RemissionRule>,
}

impl Outcomes {
    pub const NONE: Outcomes = Outcomes { rules: RuleFamily::NoOutcomes, direction: Direction::HigherIsWorse, response: None, partial_response: None, remission: None };

}

impl RuleFamily {
    pub fn is_judged(self) -> bool {
        self != RuleFamily::NoOutcomes
    }
}

/// A LOINC code and its display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loinc {
    pub code: String,
    pub display: String,
}

/// Items summed into a part score of their own (the Y-BOCS obsessions and compulsions,
/// the PCL-5 symptom clusters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscale {
    pub code: String,
    pub label: String,
    pub items: Vec<String>,
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub item: String,
    pub equals: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDefinition {
    pub code: String,
    pub short_label: String,
    /// The question as the patient reads it; null where the wording is licensed.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(rename = "type")]
    pub kind: ItemType,
    pub min: u32,
    pub max: u32,
    #[serde(default)]
    pub options: Vec<AnswerOption>,
    #[serde(default)]
    pub anchors: Option<Anchors>,
    /// Counted in the total (a `sum` instrument's core items).
    #[serde(default = "counted")]
    pub counted: bool,
    /// May be left out even when asked.
    #[serde(default)]
    pub optional: bool,
    /// Scored max − answer (a clinic instrument's positively worded items).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    #[serde(default)]
    pub enable_when: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandDefinition {
    pub min: u32,
    pub max: u32,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub code: String,
    pub version: u32,
    #[serde(default = "built_in_kind")]
    pub kind: Kind,
    pub title: String,
    /// The short name charts and tables show.
    pub name: String,
    /// The display of its total in FHIR (the LOINC display where a LOINC code is given);
    /// a clinic's instrument that gives none shows its title.
    #[serde(default)]
    pub fhir_display: String,
    pub rater: RaterKind,
    pub recall_default: String,
    pub recalls: Vec<String>,
    pub self_reportable: bool,
    pub text_source: TextSource,
    #[serde(default = "own_license")]
    pub license: License,
    #[serde(default)]
    pub preamble: Option<String>,
    pub items: Vec<ItemDefinition>,
    pub scoring: Scoring,
    #[serde(default)]
    pub subscales: Vec<Subscale>,
    pub bands: Vec<BandDefinition>,
    pub outcomes: Outcomes,
    /// Which safety rule reads its answers (`safety`).
    #[serde(default = "no_safety_rule")]
    pub safety: SafetyRule,
    /// The LOINC panel of the questionnaire, only where verified (DESIGN.md §8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loinc_panel: Option<Loinc>,
    /// The LOINC code of the total, only where verified (DESIGN.md §8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loinc_total: Option<String>,
    /// Where its items, bands and rules come from.
    #[serde(default)]
    pub sources: Vec<String>,
}

fn counted() -> bool {
    true
}

fn own_license() -> License {
    License { holder: "the clinic".into(), terms: "The clinic's own instrument, for its own patients.".into(), url: None }
}

fn no_safety_rule() -> SafetyRule {
    SafetyRule::NoRule
}

fn built_in_kind() -> Kind {
    Kind::BuiltIn
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
    ("gad7.v1.json", include_str!("definitions/gad7.v1.json")),
    ("pcl5.v1.json", include_str!("definitions/pcl5.v1.json")),
    ("madrs.v1.json", include_str!("definitions/madrs.v1.json")),
    ("craving_vas.v1.json", include_str!("definitions/craving_vas.v1.json")),
];

/// Longest text a definition (or a clinic's wording) may hold in one place.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// A clinic's own instruments are coded `x_<name>` (DESIGN.md §9), so that they can never
/// take the code of a built-in, present or future.
pub fn is_clinic_code(code: &str) -> bool {
    code.starts_with("x_")
}

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
                if !seen.insert((definition.code.clone(), definition.version)) {
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
            if !codes.contains(condition.item.as_str()) {
                faults.push(format!("{at}: enable_when names {}, which is not asked before it", condition.item));
            }
        }
        if !codes.insert(item.code.as_str()) {
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
        let texts = item.text.iter().map(String::as_str).chain(item.options.iter().filter_map(|o| o.label.as_deref())).chain([item.short_label.as_str()]);
        if texts.into_iter().any(|t| !short(t)) {
            faults.push(format!("{at}: a text over {MAX_TEXT_CHARS} characters"));
        }
    }
    faults.extend(check_outcomes(d));
    if d.subscales.iter().any(|part| part.items.iter().any(|code| !d.items.iter().any(|i| i.code == *code))) {
        faults.push("subscales: a subscale names an item the instrument lacks".to_string());
    }
    if d.text_source != TextSource::Bundled && d.preamble.is_some() {
        faults.push("a licensed instrument ships no preamble".to_string());
    }
    let (min_total, max_total) = (min_total(d), max_total(d));
    if !d.bands.is_empty() {
        for total in min_total..=max_total {
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

/// The most instruments a clinic may define, and versions of each (bounded, since every
/// version read is kept in memory for the life of the process).
pub const MAX_CLINIC_INSTRUMENTS: usize = 50;
pub const MAX_CLINIC_VERSIONS: usize = 50;
/// The most items a clinic instrument has, and options an item has (DESIGN.md §9).
pub const MAX_ITEMS: usize = 100;
pub const MAX_OPTIONS: usize = 20;
/// The most bands and subscales: generous for any published scale.
const MAX_PARTS: usize = 20;

/// Faults of the outcome rules against the instrument's range and rule family.
fn check_outcomes(d: &Definition) -> Vec<String> {
    let mut faults = Vec::new();
    let o = &d.outcomes;
    let (min_total, max_total) = (min_total(d), max_total(d));
    match o.rules {
        RuleFamily::NoOutcomes => {
            if o.response.is_some() || o.partial_response.is_some() || o.remission.is_some() {
                faults.push("outcomes: rules none carries no thresholds".to_string());
            }
        }
        RuleFamily::OcdConsensus => {
            // The numbers shown are the consensus's (outcomes::CONSENSUS_2016), which
            // decides; a file that said otherwise would mislead whoever reads it.
            let c = &super::outcomes::CONSENSUS_2016;
            let percent = |t: f64| Some(Threshold { kind: ChangeKind::Percent, threshold: t });
            if o.response != percent(c.response_reduction) || o.partial_response != percent(c.partial_reduction) || o.direction != Direction::HigherIsWorse {
                faults.push("outcomes: the OCD consensus is a 35 % response and a 25 % partial response, higher being worse".to_string());
            }
            if o.remission.is_some_and(|r| r != RemissionRule { max: Some(c.remission_max_total), min: None }) {
                faults.push("outcomes: the OCD consensus remission is a total of 12 or less".to_string());
            }
        }
        RuleFamily::Definition => {
            if o.response.is_none() {
                faults.push("outcomes: rules by definition need a response threshold".to_string());
            }
            for (name, rule) in [("response", o.response), ("partial_response", o.partial_response)] {
                let Some(t) = rule else { continue };
                let ceiling = match t.kind {
                    ChangeKind::Percent => 100.0,
                    ChangeKind::Points => f64::from(max_total - min_total),
                };
                if !(t.threshold.is_finite() && t.threshold > 0.0 && t.threshold <= ceiling) {
                    faults.push(format!("outcomes.{name}: the threshold must be above 0 and at most {ceiling}"));
                }
            }
            if let (Some(full), Some(partial)) = (o.response, o.partial_response) {
                if full.kind != partial.kind || partial.threshold >= full.threshold {
                    faults.push("outcomes.partial_response: a partial response is a smaller change of the same kind as a response".to_string());
                }
            }
            if let Some(r) = o.remission {
                let (wanted, given) = match o.direction {
                    Direction::HigherIsWorse => ("max", r.max.filter(|_| r.min.is_none())),
                    Direction::HigherIsBetter => ("min", r.min.filter(|_| r.max.is_none())),
                };
                match given {
                    None => faults.push(format!("outcomes.remission: gives {wanted} only, as the direction {} asks", o.direction.code())),
                    Some(cut) if !(min_total..=max_total).contains(&cut) => faults.push(format!("outcomes.remission: {cut} is outside the scores {min_total} to {max_total}")),
                    Some(_) => {}
                }
            }
        }
    }
    faults
}

/// A clinic's own definition as its admin sends it (DESIGN.md §9): the built-ins' format,
/// `kind` and `version` set by onset; `code` fixed by the path on a new version. The
/// faults by field: the built-ins' checks plus the bounds and what only onset may use.
pub fn clinic_definition(mut body: serde_json::Value, code: Option<&str>) -> Result<Definition, Vec<FieldError>> {
    let Some(fields) = body.as_object_mut() else { return Err(vec![FieldError::new("body", "must be a JSON object")]) };
    if fields.get("kind").is_some_and(|v| !v.is_null() && v.as_str() != Some("clinic")) {
        return Err(vec![FieldError::new("kind", "is set by onset (clinic)")]);
    }
    fill_clinic_defaults(fields)?;
    fields.insert("kind".into(), "clinic".into());
    fields.insert("version".into(), 1.into());
    if let Some(code) = code {
        match fields.get("code").and_then(|c| c.as_str()) {
            Some(given) if given != code => return Err(vec![FieldError::new("code", format!("is {code}, the instrument this version belongs to"))]),
            _ => {
                fields.insert("code".into(), code.into());
            }
        }
    }
    if let Some(items) = fields.get("items").and_then(|i| i.as_array()).filter(|i| i.len() > MAX_ITEMS) {
        return Err(vec![FieldError::new("items", format!("{} items: at most {MAX_ITEMS}", items.len()))]);
    }
    let mut d: Definition = super::fields::from_value(body).map_err(|e| vec![e])?;
    // Shown as its title where none is given (filled once the title is checked).
    let own_display = !d.fhir_display.trim().is_empty();
    let mut errors: Vec<FieldError> = Vec::new();
    let mut fault = |field: &str, message: String| errors.push(FieldError::new(field, message));
    let valid_code = d.code.len() <= 42 && is_clinic_code(&d.code) && d.code.len() > 2 && d.code[2..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_code {
        fault("code", "must be x_ followed by 1 to 40 lower-case letters, digits or _".into());
    }
    if !matches!(d.scoring, Scoring::Sum | Scoring::Mean) {
        fault("scoring", "must be sum or mean".into());
    }
    if d.outcomes.rules == RuleFamily::OcdConsensus {
        fault("outcomes.rules", "must be definition or none: the OCD consensus is bound to the Y-BOCS family".into());
    }
    if d.safety != SafetyRule::NoRule || d.loinc_total.is_some() || d.loinc_panel.is_some() {
        fault("safety", "onset's safety rules and LOINC codes belong to the built-in instruments".into());
    }
    if d.text_source == TextSource::Clinic {
        fault("text_source", "must be bundled (the clinic's own wording) or none (entered by staff)".into());
    }
    if d.self_reportable && d.text_source != TextSource::Bundled {
        fault("self_reportable", "a patient answers only worded questions: text_source bundled".into());
    }
    for (field, text) in [("title", &d.title), ("name", &d.name), ("fhir_display", &d.fhir_display), ("license.holder", &d.license.holder), ("license.terms", &d.license.terms)] {
        if field == "fhir_display" && !own_display {
            continue;
        }
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
            fault(field, format!("must be 1 to {MAX_TEXT_CHARS} characters"));
        }
    }
    let bounded = [("sources", d.sources.len()), ("bands", d.bands.len()), ("subscales", d.subscales.len()), ("recalls", d.recalls.len())];
    for (field, n) in bounded {
        if n > MAX_PARTS {
            fault(field, format!("at most {MAX_PARTS}"));
        }
    }
    if d.recalls.iter().any(|r| super::scoring::Recall::parse(r).is_none()) {
        fault("recalls", format!("each one of: {}", super::scoring::Recall::codes().join(", ")));
    }
    let long = d.sources.iter().chain(d.bands.iter().map(|b| &b.label)).chain(d.subscales.iter().map(|s| &s.label)).any(|t| t.trim().is_empty() || t.chars().count() > MAX_TEXT_CHARS);
    if long {
        fault("sources", format!("every source, band and subscale label is 1 to {MAX_TEXT_CHARS} characters"));
    }
    let counted: Vec<&ItemDefinition> = d.items.iter().filter(|i| i.counted).collect();
    if counted.is_empty() {
        fault("items", "at least one item is counted in the score".into());
    }
    for (index, item) in d.items.iter().enumerate() {
        let at = |name: &str| format!("items.{index}.{name}");
        if item.code.is_empty() || item.code.len() > 40 || !item.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            fault(&at("code"), "1 to 40 letters, digits or _".into());
        }
        if item.short_label.trim().is_empty() {
            fault(&at("short_label"), "required".into());
        }
        let span = item.max.saturating_sub(item.min) as usize + 1;
        match item.kind {
            ItemType::Choice if span > MAX_OPTIONS => fault(&at("max"), format!("a choice has at most {MAX_OPTIONS} options")),
            ItemType::Integer if item.max > 1_000 => fault(&at("max"), "at most 1000".into()),
            _ => {}
        }
        if item.reverse && (!item.counted || !matches!(item.kind, ItemType::Choice | ItemType::Integer | ItemType::Vas)) {
            fault(&at("reverse"), "only a counted item's score is reversed".into());
        }
    }
    if d.scoring == Scoring::Mean && counted.windows(2).any(|w| (w[0].min, w[0].max) != (w[1].min, w[1].max)) {
        fault("scoring", "a mean is taken over items of one range: give the counted items the same min and max".into());
    }
    if d.scoring == Scoring::Sum && counted.iter().map(|i| u64::from(i.max)).sum::<u64>() > 100_000 {
        fault("items", "the highest total must be at most 100000".into());
    }
    let codes: Vec<&str> = d.items.iter().map(|i| i.code.as_str()).collect();
    for (index, part) in d.subscales.iter().enumerate() {
        if part.items.is_empty() || part.items.len() > MAX_ITEMS || part.items.iter().any(|c| !codes.contains(&c.as_str())) {
            fault(&format!("subscales.{index}.items"), "lists items of this instrument".into());
        }
    }
    if !own_display {
        d.fhir_display = d.title.clone();
    }
    if errors.is_empty() {
        errors.extend(check(&d).into_iter().map(|f| FieldError::new("definition", f)));
    }
    if errors.is_empty() { Ok(d) } else { Err(errors) }
}

/// What a clinic may leave out of its definition, filled as the catalogue shows it; what
/// the catalogue shows beside a definition (its version, the wording flags) is ignored, so
/// a definition read from `GET /api/v1/instruments/{code}` can be sent back changed. The
/// scoring may also be given as `{method: sum|mean, items: [...], reverse: [...]}`: the
/// items listed are counted, those under `reverse` scored reversed.
fn fill_clinic_defaults(fields: &mut serde_json::Map<String, serde_json::Value>) -> Result<(), Vec<FieldError>> {
    use serde_json::{Value, json};
    for shown in ["version", "wording_available", "text_version", "license_note"] {
        fields.remove(shown);
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if let Some(title) = text(fields.get("title")) {
        fields.entry("name").or_insert(json!(title));
    }
    let recall_default = text(fields.get("recall_default"));
    let recalls = fields.get("recalls").cloned();
    match (recall_default, recalls) {
        (None, None) => {
            fields.insert("recall_default".into(), json!("P7D"));
            fields.insert("recalls".into(), json!(["P7D"]));
        }
        (Some(default), None) => {
            fields.insert("recalls".into(), json!([default]));
        }
        (None, Some(Value::Array(list))) if !list.is_empty() => {
            fields.insert("recall_default".into(), list[0].clone());
        }
        _ => {}
    }
    fields.entry("rater").or_insert(json!("either"));
    fields.entry("bands").or_insert(json!([]));
    if let Some(Value::Array(items)) = fields.get_mut("items") {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            let values: Vec<u64> = item.get("options").and_then(Value::as_array).map(|o| o.iter().filter_map(|o| o.get("value").and_then(Value::as_u64)).collect()).unwrap_or_default();
            if !values.is_empty() {
                item.entry("type").or_insert(json!("choice"));
                item.entry("min").or_insert(json!(values.iter().min()));
                item.entry("max").or_insert(json!(values.iter().max()));
            }
            item.entry("type").or_insert(json!("integer"));
            if let Some(code) = text(item.get("code")) {
                let label = text(item.get("text")).map_or(code, |t| t.chars().take(80).collect());
                item.entry("short_label").or_insert(json!(label));
            }
        }
    }
    let worded = fields.get("items").and_then(Value::as_array).is_some_and(|items| items.iter().all(|i| i.get("text").is_some_and(Value::is_string)));
    fields.entry("text_source").or_insert(json!(if worded { "bundled" } else { "none" }));
    let self_reportable = fields.get("text_source") == Some(&json!("bundled")) && fields.get("rater") != Some(&json!("clinician"));
    fields.entry("self_reportable").or_insert(json!(self_reportable));
    if let Some(Value::Object(scoring)) = fields.get("scoring").cloned() {
        let listed = |key: &str| -> Vec<String> { scoring.get(key).and_then(Value::as_array).map(|l| l.iter().filter_map(|c| c.as_str().map(str::to_string)).collect()).unwrap_or_default() };
        let (counted, reversed) = (listed("items"), listed("reverse"));
        let method = ["method", "kind", "type"].iter().find_map(|k| text(scoring.get(*k))).unwrap_or_else(|| "sum".into());
        let items = fields.get_mut("items").and_then(Value::as_array_mut);
        let codes: Vec<String> = items.iter().flat_map(|items| items.iter()).filter_map(|i| text(i.get("code"))).collect();
        if let Some(unknown) = counted.iter().chain(&reversed).find(|c| !codes.contains(c)) {
            return Err(vec![FieldError::new("scoring.items", format!("names {unknown:?}, which is not an item"))]);
        }
        for item in items.into_iter().flatten().filter_map(Value::as_object_mut) {
            let code = text(item.get("code")).unwrap_or_default();
            if !counted.is_empty() {
                item.insert("counted".into(), json!(counted.contains(&code)));
            }
            if reversed.contains(&code) {
                item.insert("reverse".into(), json!(true));
            }
        }
        fields.insert("scoring".into(), json!(method));
    }
    match fields.get_mut("outcomes") {
        None | Some(Value::Null) => {
            fields.insert("outcomes".into(), json!({"rules": "none", "direction": "higher_is_worse", "response": null}));
        }
        Some(Value::Object(outcomes)) => {
            let judged = outcomes.get("response").is_some_and(|r| !r.is_null());
            outcomes.entry("rules").or_insert(json!(if judged { "definition" } else { "none" }));
            outcomes.entry("direction").or_insert(json!("higher_is_worse"));
            outcomes.entry("response").or_insert(Value::Null);
        }
        _ => {}
    }
    Ok(())
}

/// The highest total: the counted items' maxima summed, or the C-SSRS screener's highest
/// risk level (3, "high").
pub fn max_total(d: &Definition) -> u32 {
    let counted = || d.items.iter().filter(|i| i.counted);
    match d.scoring {
        Scoring::Sum => counted().map(|i| i.max).sum(),
        Scoring::Mean => counted().map(|i| i.max).max().unwrap_or(0),
        Scoring::CssrsRisk => 3,
        Scoring::Concerns => CONCERNS.len() as u32,
    }
}

/// The lowest total: the counted items' minima summed (their common minimum for `mean`).
pub fn min_total(d: &Definition) -> u32 {
    let counted = || d.items.iter().filter(|i| i.counted);
    match d.scoring {
        Scoring::Sum => counted().map(|i| i.min).sum(),
        Scoring::Mean => counted().map(|i| i.min).min().unwrap_or(0),
        Scoring::CssrsRisk | Scoring::Concerns => 0,
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
pub fn check_wording(d: &Definition, wording: &Wording) -> Vec<FieldError> {
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
        let Some(given) = wording.items.get(&item.code) else {
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
    for extra in wording.items.keys().filter(|k| d.items.iter().all(|i| i.code != **k)) {
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
        if let Some(given) = wording.items.get(&item.code) {
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
        d.items[2].enable_when = vec![Condition { item: "6".into(), equals: 1 }];
        d.items.push(d.items[0].clone());
        d.bands.pop();
        let faults = check(&d);
        assert!(faults.iter().any(|f| f.contains("item 3: enable_when names 6")), "{faults:?}");
        assert!(faults.iter().any(|f| f.contains("item 1: listed twice")), "{faults:?}");
        assert!(faults.iter().any(|f| f.contains("the total 3 falls in 0 bands")), "{faults:?}");
    }
}
