//! What FHIR R4 calls onset's records, and the search parameters it reads: pure parts of
//! the read-only FHIR view, independent of HTTP and SQL.
//!
//! Codes: PHQ-9 is LOINC 44261-6; the Y-BOCS family, the OCD VAS and the C-SSRS
//! screener have no LOINC code confirmed for their onset form, so they are coded in
//! onset's own code system (`INSTRUMENT_SYSTEM`), as DESIGN §7 says. Ketamine is RxNorm
//! ingredient 6130; esketamine is coded as RxNorm 2201623 ("esketamine Nasal Spray",
//! the clinical drug form the nasal product is) only when given intranasally, otherwise
//! in onset's drug system alone. Routes are SNOMED CT "route of administration" codes.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::infusion::{Drug, Route};
use super::instruments::Instrument;

pub const LOINC: &str = "http://loinc.org";
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const INSTRUMENT_SYSTEM: &str = "urn:onset:fhir:CodeSystem:instrument";
pub const ITEM_SYSTEM: &str = "urn:onset:fhir:CodeSystem:item";
pub const DRUG_SYSTEM: &str = "urn:onset:fhir:CodeSystem:drug";

/// A coding: system, code, display.
pub type Coding = (&'static str, &'static str, &'static str);

pub fn instrument_display(instrument: Instrument) -> &'static str {
    &instrument.definition().fhir_display
}

/// An instrument's codings: onset's own always, LOINC where one is confirmed.
pub fn instrument_codings(instrument: Instrument) -> Vec<Coding> {
    let own = (INSTRUMENT_SYSTEM, instrument.code(), instrument_display(instrument));
    match &instrument.definition().loinc_total {
        Some(loinc) => vec![(LOINC, loinc.as_str(), instrument_display(instrument)), own],
        None => vec![own],
    }
}

pub fn drug_codings(drug: Drug, route: Route) -> Vec<Coding> {
    let own = (DRUG_SYSTEM, drug.code(), drug.code());
    match (drug, route) {
        (Drug::Ketamine, _) => vec![(RXNORM, "6130", "ketamine"), own],
        (Drug::Esketamine, Route::Intranasal) => vec![(RXNORM, "2201623", "esketamine Nasal Spray"), own],
        (Drug::Esketamine, _) => vec![own],
    }
}

pub fn route_coding(route: Route) -> Coding {
    match route {
        Route::Iv => (SNOMED, "47625008", "Intravenous route"),
        Route::Im => (SNOMED, "78421000", "Intramuscular route"),
        Route::Intranasal => (SNOMED, "46713006", "Nasal route"),
        Route::Oral => (SNOMED, "26643006", "Oral route"),
        Route::Sublingual => (SNOMED, "37839007", "Sublingual route"),
        Route::Subcutaneous => (SNOMED, "34206005", "Subcutaneous route"),
    }
}

/// A token search value: `code`, `system|code`, or `|code` (no system).
fn token(value: &str) -> (Option<&str>, &str) {
    match value.split_once('|') {
        Some((system, code)) => (Some(system), code),
        None => (None, value),
    }
}

/// The items a `code` search names, from a list of codings; a value matching nothing
/// matches nothing (it is not an error: searches for unknown codes are empty).
pub fn matching<T: Copy + PartialEq>(values: &str, candidates: &[T], codings: impl Fn(T) -> Vec<Coding>) -> Vec<T> {
    let mut found = Vec::new();
    for value in values.split(',') {
        let (system, code) = token(value);
        for candidate in candidates {
            let hit = codings(*candidate).iter().any(|(s, c, _)| *c == code && system.is_none_or(|wanted| wanted.is_empty() || wanted == *s));
            if hit && !found.contains(candidate) {
                found.push(*candidate);
            }
        }
    }
    found
}

/// A half-open time range `[from, until)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Both ranges at once (repeated search parameters are ANDed).
    pub fn and(self, other: TimeRange) -> TimeRange {
        TimeRange { from: self.from.max(other.from), until: min_some(self.until, other.until) }
    }
}

fn min_some(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The instants a date value covers at its precision: a year, a month, a day, or an
/// instant (a dateTime with a time zone, to the second or finer).
fn covered(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let day = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?).into();
    let start_of = |d: NaiveDate| -> Option<DateTime<Utc>> { day(d) };
    match value.len() {
        4 => {
            let year = value.parse::<i32>().ok()?;
            Some((start_of(NaiveDate::from_ymd_opt(year, 1, 1)?)?, start_of(NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)?)?))
        }
        7 => {
            let first = NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok()?;
            let next = first.checked_add_months(chrono::Months::new(1))?;
            Some((start_of(first)?, start_of(next)?))
        }
        10 => {
            let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
            Some((start_of(date)?, start_of(date.succ_opt()?)?))
        }
        _ => {
            let at = DateTime::parse_from_rfc3339(value).ok()?.with_timezone(&Utc);
            // An instant given to the second covers that second.
            let whole_second = at.timestamp_subsec_nanos() == 0 && !value.contains('.');
            let width = if whole_second { Duration::seconds(1) } else { Duration::microseconds(1) };
            Some((at, at + width))
        }
    }
}

/// One `date`/`_lastUpdated` search value: an optional prefix (`eq`, `ge`, `gt`, `le`,
/// `lt`) and a date of any precision. FHIR R4 §3.1.1.5.7 / §2.21.1.1.2: `eq` matches
/// times within the value's range, `ge` from its start, `gt` after its end, `le` up to
/// its end, `lt` before its start.
pub fn date_param(value: &str) -> Result<TimeRange, String> {
    let (prefix, date) = match value.get(..2) {
        Some(p @ ("eq" | "ge" | "gt" | "le" | "lt")) => (p, &value[2..]),
        Some("ne" | "sa" | "eb" | "ap") => return Err(format!("the prefix of {value:?} is not supported; use eq, ge, gt, le or lt")),
        _ => ("eq", value),
    };
    let (start, end) = covered(date).ok_or_else(|| format!("{date:?} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) or dateTime with a time zone"))?;
    Ok(match prefix {
        "ge" => TimeRange { from: Some(start), until: None },
        "gt" => TimeRange { from: Some(end), until: None },
        "le" => TimeRange { from: None, until: Some(end) },
        "lt" => TimeRange { from: None, until: Some(start) },
        _ => TimeRange { from: Some(start), until: Some(end) },
    })
}

/// A `patient` reference: `Patient/{id}` or a bare id.
pub fn patient_reference(value: &str) -> Option<uuid::Uuid> {
    let id = value.strip_prefix("Patient/").unwrap_or(value);
    uuid::Uuid::parse_str(id).ok()
}

/// FHIR instants are RFC 3339 with a zone; onset's are UTC.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn dates_cover_their_precision_and_prefixes_bound_them() {
        // A day: eq is that day, ge from its start, gt after its end, le to its end, lt before it.
        assert_eq!(date_param("2026-03-14").unwrap(), TimeRange { from: at("2026-03-14T00:00:00Z"), until: at("2026-03-15T00:00:00Z") });
        assert_eq!(date_param("ge2026-03-14").unwrap(), TimeRange { from: at("2026-03-14T00:00:00Z"), until: None });
        assert_eq!(date_param("gt2026-03-14").unwrap(), TimeRange { from: at("2026-03-15T00:00:00Z"), until: None });
        assert_eq!(date_param("le2026-03-14").unwrap(), TimeRange { from: None, until: at("2026-03-15T00:00:00Z") });
        assert_eq!(date_param("lt2026-03-14").unwrap(), TimeRange { from: None, until: at("2026-03-14T00:00:00Z") });
        // A month, a year (December rolls into the next year), an instant.
        assert_eq!(date_param("2026-12").unwrap(), TimeRange { from: at("2026-12-01T00:00:00Z"), until: at("2027-01-01T00:00:00Z") });
        assert_eq!(date_param("2026").unwrap(), TimeRange { from: at("2026-01-01T00:00:00Z"), until: at("2027-01-01T00:00:00Z") });
        assert_eq!(date_param("ge2026-03-14T10:00:00+01:00").unwrap().from, at("2026-03-14T09:00:00Z"));
        assert_eq!(date_param("2026-03-14T10:00:00Z").unwrap().until, at("2026-03-14T10:00:01Z"));
        for bad in ["2026-13", "yesterday", "ne2026", "ap2026-01-01", "2026-02-30", "2026-03-14T10:00:00"] {
            assert!(date_param(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_dates_are_anded() {
        let range = date_param("ge2026-01-01").unwrap().and(date_param("lt2026-02-01").unwrap());
        assert_eq!(range, TimeRange { from: at("2026-01-01T00:00:00Z"), until: at("2026-02-01T00:00:00Z") });
    }

    #[test]
    fn codes_match_with_or_without_their_system() {
        let all: Vec<Instrument> = Instrument::built_in().collect();
        assert_eq!(matching("44261-6", &all, instrument_codings), vec![Instrument::named("phq9")]);
        assert_eq!(matching("http://loinc.org|44261-6", &all, instrument_codings), vec![Instrument::named("phq9")]);
        assert_eq!(matching(&format!("{INSTRUMENT_SYSTEM}|ybocs,ocd_vas"), &all, instrument_codings), vec![Instrument::named("ybocs"), Instrument::named("ocd_vas")]);
        assert_eq!(matching("|ybocs_sr", &all, instrument_codings), vec![Instrument::named("ybocs_sr")]);
        assert!(matching("http://loinc.org|ybocs", &all, instrument_codings).is_empty());
        assert!(matching("nothing", &all, instrument_codings).is_empty());
        assert_eq!(matching("6130", &[Drug::Ketamine, Drug::Esketamine], |d| drug_codings(d, Route::Iv)), vec![Drug::Ketamine]);
    }

    #[test]
    fn patient_references() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(patient_reference(&format!("Patient/{id}")), Some(id));
        assert_eq!(patient_reference(&id.to_string()), Some(id));
        assert_eq!(patient_reference("Group/1"), None);
    }
}

/// The answers of onset's questionnaires: an item's option values (`0`, `1`, …).
pub const ANSWER_SYSTEM: &str = "urn:onset:fhir:CodeSystem:answer";

/// A `Questionnaire`'s id: the code with `_` written `-` (a FHIR id allows only letters,
/// digits, `-` and `.`) and its version, e.g. `ybocs-sr.1` (DESIGN.md §8).
pub fn questionnaire_id(code: &str, version: u32) -> String {
    format!("{}.{version}", code.replace('_', "-"))
}

/// The instrument code and version a `Questionnaire` id names.
pub fn parse_questionnaire_id(id: &str) -> Option<(String, u32)> {
    let (code, version) = id.rsplit_once('.')?;
    Some((code.replace('-', "_"), version.parse().ok()?))
}

/// A definition (with the clinic's wording laid in, where it may see it) as a FHIR R4
/// `Questionnaire` under the canonical `{base}/Questionnaire/{code}`: each item its
/// question (or its neutral label where no wording exists), its answers as codings, and
/// the answers it follows as `enableWhen`. LOINC only where verified: the PHQ-9 panel
/// 44249-1.
pub fn questionnaire(d: &super::definitions::Definition, base: &str) -> serde_json::Value {
    use super::definitions::ItemType;
    use serde_json::json;
    let answer = |value: u32, label: Option<&str>| {
        let mut coding = json!({"system": ANSWER_SYSTEM, "code": value.to_string()});
        if let Some(label) = label {
            coding["display"] = json!(label);
        }
        coding
    };
    let items: Vec<serde_json::Value> = d
        .items
        .iter()
        .map(|item| {
            let mut q = json!({
                "linkId": item.code,
                "text": item.text.clone().unwrap_or_else(|| item.short_label.to_string()),
                "type": match item.kind { ItemType::Choice | ItemType::YesNo => "choice", ItemType::Integer | ItemType::Vas => "integer" },
                // Asked only when enabled; required then unless optional.
                "required": !item.optional,
            });
            if !item.options.is_empty() {
                q["answerOption"] = item.options.iter().map(|o| json!({"valueCoding": answer(o.value, o.label.as_deref())})).collect();
            }
            if !item.enable_when.is_empty() {
                q["enableWhen"] = item.enable_when.iter().map(|w| json!({"question": w.item, "operator": "=", "answerCoding": answer(w.equals, None)})).collect();
                if item.enable_when.len() > 1 {
                    q["enableBehavior"] = json!("all");
                }
            }
            q
        })
        .collect();
    let mut resource = json!({
        "resourceType": "Questionnaire",
        "id": questionnaire_id(&d.code, d.version),
        "url": format!("{base}/Questionnaire/{}", d.code),
        "version": d.version.to_string(),
        "name": d.code,
        "title": d.title,
        "status": "active",
        "subjectType": ["Patient"],
        "copyright": format!("{}: {}", d.license.holder, d.license.terms),
        "item": items,
    });
    if let Some(panel) = &d.loinc_panel {
        resource["code"] = json!([{"system": LOINC, "code": panel.code, "display": panel.display}]);
    }
    if let Some(preamble) = &d.preamble {
        resource["description"] = json!(preamble);
    }
    resource
}

/// A `QuestionnaireResponse`'s `questionnaire`: the definition's canonical URL and the
/// version the rating was taken under.
pub fn questionnaire_canonical(base: &str, instrument: Instrument, version: u32) -> String {
    format!("{base}/Questionnaire/{}|{version}", instrument.code())
}

/// The instrument (and version, if given) a `questionnaire` search value names: a
/// canonical URL under `base`, optionally `|version`.
pub fn questionnaire_param(value: &str, base: &str) -> Option<(String, Option<u32>)> {
    let (url, version) = match value.split_once('|') {
        Some((url, version)) => (url, Some(version.parse().ok()?)),
        None => (value, None),
    };
    let code = url.strip_prefix(base)?.strip_prefix("/Questionnaire/")?;
    Some((code.to_string(), version))
}

/// An itemised rating's answers as a `QuestionnaireResponse` to its definition version: a
/// coding for each choice or yes/no answer, an integer for a VAS or a number, in the
/// definition's order; no wording (the canonical questionnaire holds it).
pub fn questionnaire_response(d: &super::definitions::Definition, items: &std::collections::BTreeMap<String, u32>) -> Vec<serde_json::Value> {
    use super::definitions::ItemType;
    use serde_json::json;
    d.items
        .iter()
        .filter_map(|item| {
            let value = *items.get(&item.code)?;
            let answer = match item.kind {
                ItemType::Choice | ItemType::YesNo => {
                    let label = item.options.iter().find(|o| o.value == value).and_then(|o| o.label.clone());
                    let mut coding = json!({"system": ANSWER_SYSTEM, "code": value.to_string()});
                    if let Some(label) = label.filter(|_| item.kind == ItemType::YesNo || d.text_source == super::definitions::TextSource::Bundled) {
                        coding["display"] = json!(label);
                    }
                    json!({"valueCoding": coding})
                }
                ItemType::Integer | ItemType::Vas => json!({"valueInteger": value}),
            };
            Some(json!({"linkId": item.code, "answer": [answer]}))
        })
        .collect()
}

#[cfg(test)]
mod questionnaire_tests {
    use super::*;

    #[test]
    fn questionnaire_ids_follow_the_fhir_id_rule_and_read_back() {
        assert_eq!(questionnaire_id("ybocs_sr", 1), "ybocs-sr.1");
        assert_eq!(parse_questionnaire_id("ybocs-sr.1"), Some(("ybocs_sr".to_string(), 1)));
        assert_eq!(parse_questionnaire_id("cssrs-screen.12"), Some(("cssrs_screen".to_string(), 12)));
        for bad in ["ybocs_sr", "ybocs-sr.x", ""] {
            assert_eq!(parse_questionnaire_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_questionnaire_search_value_names_an_instrument_under_this_base() {
        let base = "https://onset.example.org/fhir/r4";
        assert_eq!(questionnaire_param("https://onset.example.org/fhir/r4/Questionnaire/phq9", base), Some(("phq9".to_string(), None)));
        assert_eq!(questionnaire_param("https://onset.example.org/fhir/r4/Questionnaire/ybocs_sr|1", base), Some(("ybocs_sr".to_string(), Some(1))));
        for other in ["https://elsewhere.example/fhir/r4/Questionnaire/phq9", "https://onset.example.org/fhir/r4/Questionnaire/phq9|x"] {
            assert_eq!(questionnaire_param(other, base), None, "{other}");
        }
        assert_eq!(questionnaire_canonical(base, Instrument::named("phq9"), 1), "https://onset.example.org/fhir/r4/Questionnaire/phq9|1");
    }

    #[test]
    fn a_response_answers_in_the_definitions_order_with_codings_and_integers() {
        let answers = |pairs: &[(&str, u32)]| pairs.iter().map(|(c, v)| (c.to_string(), *v)).collect();
        let phq9 = questionnaire_response(crate::domain::definitions::current("phq9").unwrap(), &answers(&[("9", 2), ("1", 0)]));
        assert_eq!(phq9[0]["linkId"], "1");
        assert_eq!(phq9[1]["answer"][0]["valueCoding"], serde_json::json!({"system": ANSWER_SYSTEM, "code": "2", "display": "More than half the days"}));
        let ybocs = questionnaire_response(crate::domain::definitions::current("ybocs_sr").unwrap(), &answers(&[("1", 3)]));
        assert_eq!(ybocs[0]["answer"][0]["valueCoding"], serde_json::json!({"system": ANSWER_SYSTEM, "code": "3"}), "no licensed label");
        let vas = questionnaire_response(crate::domain::definitions::current("ocd_vas").unwrap(), &answers(&[("1", 37)]));
        assert_eq!(vas[0]["answer"][0], serde_json::json!({"valueInteger": 37}));
    }

    #[test]
    fn a_questionnaire_keeps_the_order_rule_and_ships_no_licensed_wording() {
        let cssrs = questionnaire(crate::domain::definitions::current("cssrs_screen").unwrap(), "https://onset.example.org/fhir/r4");
        assert_eq!(cssrs["url"], "https://onset.example.org/fhir/r4/Questionnaire/cssrs_screen");
        assert_eq!(cssrs["item"][2]["enableWhen"][0], serde_json::json!({"question": "2", "operator": "=", "answerCoding": {"system": ANSWER_SYSTEM, "code": "1"}}));
        assert_eq!(cssrs["item"][0]["text"], "wish to be dead", "the neutral label, not the licensed question");
        let phq9 = questionnaire(crate::domain::definitions::current("phq9").unwrap(), "b");
        assert_eq!(phq9["item"][0]["answerOption"][3]["valueCoding"]["display"], "Nearly every day");
        assert_eq!(phq9["code"][0]["code"], "44249-1");
    }
}
