//! The research export's columns: one definition gives each column's name, type, unit,
//! allowed values, meaning, and how its value is taken from a row. The exports and the
//! codebook both read it, so they cannot drift apart.

use std::sync::Arc;

use serde::Serialize;

use super::anonymise::round_to;
use super::infusion::{AdverseEvent, Drug, Guidance, Infusion, Route};
use super::outcomes::Response;
use super::patient::Sex;
use super::scoring::{CollectedVia, Rater, Rating, Recall};
use super::trajectory::DerivedRating;

/// One cell; `Null` is an empty CSV cell and a JSON null.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Num(f64),
    Bool(bool),
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    fn text_owned(s: Option<String>) -> Cell {
        s.map_or(Cell::Null, Cell::Text)
    }
    fn int(v: Option<impl Into<i64>>) -> Cell {
        v.map_or(Cell::Null, |v| Cell::Int(v.into()))
    }
    /// Rounded for display to `decimals`.
    fn num(v: Option<f64>, decimals: i32) -> Cell {
        v.filter(|v| v.is_finite()).map_or(Cell::Null, |v| Cell::Num(round_to(v, decimals)))
    }
    fn opt_text(v: Option<&str>) -> Cell {
        v.map_or(Cell::Null, Cell::text)
    }

    /// The CSV form: empty for absent values.
    pub fn to_csv(&self) -> String {
        let mut text = String::new();
        self.write_csv(&mut text);
        text
    }

    /// The cell's CSV text, appended to `out` (before the CSV writer quotes it).
    /// Numbers are written by itoa and zmij, which serde_json writes them with too (so the
    /// two formats agree digit for digit); by way of `fmt` they cost an export a tenth of
    /// its time.
    pub fn write_csv(&self, out: &mut String) {
        match self {
            Cell::Null => {}
            Cell::Text(s) => out.push_str(s),
            Cell::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Cell::Num(f) if f.is_finite() => out.push_str(zmij::Buffer::new().format_finite(*f)),
            // What the NDJSON export writes of a number JSON cannot hold.
            Cell::Num(_) => out.push_str("null"),
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Text(s) => serde_json::Value::from(s.as_str()),
            Cell::Int(i) => serde_json::Value::from(*i),
            Cell::Num(f) => serde_json::Value::from(*f),
            Cell::Bool(b) => serde_json::Value::from(*b),
        }
    }
}

/// What is exported of a patient: never a name, id, date or free text.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub subject_id: String,
    pub age_at_first_infusion: Option<u32>,
    pub sex: Sex,
    pub diagnosis: String,
}

/// One rating row.
#[derive(Debug, Clone)]
pub struct RatingRow {
    pub subject: Arc<Subject>,
    pub definition_set: &'static str,
    pub rating: Rating,
    /// The rating's part scores in its definition's order, worked out once for the three
    /// columns that show them.
    pub subscales: Vec<(&'static str, u32)>,
    /// The definition version the rating was taken under.
    pub instrument_version: u32,
    /// For a self-report, the version of the clinic's wording shown (never the wording).
    pub text_version: Option<u32>,
    pub derived: DerivedRating,
    pub baseline_total: Option<u32>,
}

impl RatingRow {
    fn subscale(&self, code: &str) -> Option<u32> {
        self.subscales.iter().find(|(c, _)| *c == code).map(|(_, v)| *v)
    }
}

/// One session row.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub subject: Arc<Subject>,
    pub session: Infusion,
    pub series_number: i32,
    pub hours_since_first_infusion: Option<f64>,
}

pub struct Column<R> {
    pub name: &'static str,
    pub kind: &'static str,
    pub unit: Option<&'static str>,
    pub allowed_values: fn() -> Option<Vec<&'static str>>,
    pub description: &'static str,
    pub value: fn(&R) -> Cell,
}

/// What the codebook says of a column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDoc {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub unit: Option<&'static str>,
    pub allowed_values: Option<Vec<&'static str>>,
    pub description: &'static str,
}

impl<R> Column<R> {
    pub fn doc(&self) -> ColumnDoc {
        ColumnDoc { name: self.name, kind: self.kind, unit: self.unit, allowed_values: (self.allowed_values)(), description: self.description }
    }
}

fn any() -> Option<Vec<&'static str>> {
    None
}
fn booleans() -> Option<Vec<&'static str>> {
    Some(vec!["true", "false"])
}
fn sexes() -> Option<Vec<&'static str>> {
    Some(Sex::codes())
}
fn recalls() -> Option<Vec<&'static str>> {
    Some(Recall::ALL.iter().map(|r| r.code()).collect())
}
fn responses() -> Option<Vec<&'static str>> {
    Some(Response::codes())
}

macro_rules! column {
    ($name:literal, $kind:literal, $unit:expr, $allowed:expr, $description:literal, $value:expr) => {
        Column { name: $name, kind: $kind, unit: $unit, allowed_values: $allowed, description: $description, value: $value }
    };
}

macro_rules! item_column {
    ($code:literal, $name:literal) => {
        column!($name, "integer", Some("points"), any, "Score of the item (Y-BOCS family, PHQ-9 items 1-9, VAS item 1; C-SSRS screener items 1-6 and 6_recent, 1 yes, 0 no); empty when not answered.", |r: &RatingRow| {
            Cell::int(r.rating.scores.items().and_then(|items| items.get($code).copied()))
        })
    };
}

/// The items with a column of their own (`item_column!` below; a test keeps the two one list).
const ITEM_COLUMNS: [&str; 11] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "6_recent"];

/// `a=1;b=2`, or empty.
fn pairs<'a>(pairs: impl Iterator<Item = (&'a str, u32)>) -> Option<String> {
    let joined: Vec<String> = pairs.map(|(code, value)| format!("{code}={value}")).collect();
    (!joined.is_empty()).then(|| joined.join(";"))
}

pub const RATING_COLUMNS: &[Column<RatingRow>] = &[
    column!("subject_id", "string", None, any, "Pseudonymous subject: lowercase hex HMAC-SHA256 of the patient id under the export key.", |r: &RatingRow| Cell::text(r.subject.subject_id.as_str())),
    column!("definition_set", "string", None, || Some(vec!["consensus-2016"]), "Outcome definitions used for baseline, percent change, response and remission.", |r: &RatingRow| Cell::text(r.definition_set)),
    column!("instrument", "string", None, any, "Rating instrument: a built-in code or the clinic's own (x_...), each described under `instruments` in the codebook; instruments are never comparable with each other.", |r: &RatingRow| Cell::text(r.rating.instrument.code())),
    column!("instrument_version", "integer", None, any, "Version of the instrument's definition the rating was taken under (scores are never recomputed when a definition changes).", |r: &RatingRow| Cell::Int(i64::from(r.instrument_version))),
    column!("text_version", "integer", None, any, "For a self-report of a licensed instrument, the version of the clinic's wording the patient saw (the wording itself is never exported); empty otherwise.", |r: &RatingRow| Cell::int(r.text_version)),
    column!("recall", "string", None, recalls, "Recall window of the rating (ISO 8601 duration, or NOW).", |r: &RatingRow| Cell::text(r.rating.recall.code())),
    column!("short_recall", "boolean", None, booleans, "Recall shorter than the standard week.", |r: &RatingRow| Cell::Bool(r.rating.recall.is_short())),
    column!("hours_since_first_infusion", "number", Some("hours"), any, "Hours from the start of the first infusion to the rating, to 0.01; negative before it; empty without infusions.", |r: &RatingRow| Cell::num(r.derived.hours_since_first_infusion, 2)),
    column!("hours_since_last_infusion", "number", Some("hours"), any, "Hours from the start of the most recent infusion at or before the rating, to 0.01.", |r: &RatingRow| Cell::num(r.derived.hours_since_last_infusion, 2)),
    column!("infusion_number", "integer", Some("sessions"), any, "Sessions started at or before the rating.", |r: &RatingRow| Cell::Int(i64::from(r.derived.infusion_number))),
    column!("total", "integer", Some("points"), any, "Total score (sum of core items 1-10; the single VAS item; PHQ-9 items 1-9; for the C-SSRS screener the triage risk, 0 none, 1 low, 2 moderate, 3 high).", |r: &RatingRow| Cell::Int(i64::from(r.rating.scores.total()))),
    column!("obsessions", "integer", Some("points"), any, "Obsessions subscale, items 1-5 (Y-BOCS family, when itemised).", |r: &RatingRow| Cell::int(r.subscale("obsessions"))),
    column!("compulsions", "integer", Some("points"), any, "Compulsions subscale, items 6-10 (Y-BOCS family, when itemised).", |r: &RatingRow| Cell::int(r.subscale("compulsions"))),
    column!("subscales", "string", None, any, "Every part score the instrument's definition names (Y-BOCS obsessions and compulsions, PCL-5 clusters B-E, a clinic instrument's own), as code=score pairs joined by ';', when itemised.", |r: &RatingRow| Cell::text_owned(pairs(r.subscales.iter().copied()))),
    column!("other_items", "string", None, any, "The answers to items without a column of their own (PCL-5 items 11-20, the Y-BOCS optional items, a clinic instrument's), as code=answer pairs joined by ';', when itemised.", |r: &RatingRow| Cell::text_owned(pairs(r.rating.scores.items().into_iter().flatten().filter(|(code, _)| !ITEM_COLUMNS.contains(&code.as_str())).map(|(c, v)| (c.as_str(), *v))))),
    item_column!("1", "item_1"),
    item_column!("2", "item_2"),
    item_column!("3", "item_3"),
    item_column!("4", "item_4"),
    item_column!("5", "item_5"),
    item_column!("6", "item_6"),
    item_column!("7", "item_7"),
    item_column!("8", "item_8"),
    item_column!("9", "item_9"),
    item_column!("10", "item_10"),
    item_column!("6_recent", "item_6_recent"),
    column!("cgi_s", "integer", Some("points"), any, "Clinical Global Impression - Severity, 1-7.", |r: &RatingRow| Cell::int(r.rating.cgi_s)),
    column!("cgi_i", "integer", Some("points"), any, "Clinical Global Impression - Improvement, 1-7.", |r: &RatingRow| Cell::int(r.rating.cgi_i)),
    column!("rater", "string", None, || Some(Rater::codes()), "Who rated.", |r: &RatingRow| Cell::text(r.rating.rater.code())),
    column!("collected_via", "string", None, || Some(CollectedVia::codes()), "How the rating was collected.", |r: &RatingRow| Cell::text(r.rating.collected_via.code())),
    column!("baseline_total", "integer", Some("points"), any, "Total of the series' baseline: the last rating within 30 days before the first infusion.", |r: &RatingRow| Cell::int(r.baseline_total)),
    column!("percent_change", "number", Some("percent"), any, "(baseline - total) / baseline x 100, to 0.01; positive is improvement; empty before treatment or without a baseline.", |r: &RatingRow| Cell::num(r.derived.percent_change, 2)),
    column!("response", "string", None, responses, "Response status: response (>= 35 % reduction and, when recorded, CGI-I <= 2), partial_response (>= 25 % and, when recorded, CGI-I <= 3), none; empty before treatment or without a baseline.", |r: &RatingRow| Cell::opt_text(r.derived.response.map(Response::code))),
    column!("remission", "boolean", None, booleans, "Remission: total <= 12 and, when recorded, CGI-S <= 2 (ybocs, ybocs_sr only); independent of response; empty for other instruments, before treatment or without a baseline.", |r: &RatingRow| r.derived.remission.map_or(Cell::Null, Cell::Bool)),
    column!("response_cgi_confirmed", "boolean", None, booleans, "Whether the recorded CGI-I corroborates the level the reduction reaches (<= 2 for >= 35 %, <= 3 for >= 25 %); empty without CGI-I.", |r: &RatingRow| r.derived.response_cgi_confirmed.map_or(Cell::Null, Cell::Bool)),
    column!("remission_cgi_confirmed", "boolean", None, booleans, "Whether the recorded CGI-S is 1-2; empty without CGI-S or for instruments without remission.", |r: &RatingRow| r.derived.remission_cgi_confirmed.map_or(Cell::Null, Cell::Bool)),
    column!("early_improvement", "boolean", None, booleans, "A response or remission met within 168 h of the first infusion or on a short recall: not yet a consensus response.", |r: &RatingRow| r.derived.early_improvement.map_or(Cell::Null, Cell::Bool)),
    column!("age_at_first_infusion", "integer", Some("years"), any, "Age at the first infusion in whole years; 90 and over reported as 90.", |r: &RatingRow| Cell::int(r.subject.age_at_first_infusion)),
    column!("sex", "string", None, sexes, "Sex.", |r: &RatingRow| Cell::text(r.subject.sex.code())),
    column!("diagnosis", "string", None, any, "ICD-10 diagnosis code.", |r: &RatingRow| Cell::text(r.subject.diagnosis.as_str())),
];

pub const SESSION_COLUMNS: &[Column<SessionRow>] = &[
    column!("subject_id", "string", None, any, "Pseudonymous subject: lowercase hex HMAC-SHA256 of the patient id under the export key.", |r: &SessionRow| Cell::text(r.subject.subject_id.as_str())),
    column!("series_number", "integer", Some("sessions"), any, "The n-th session of the patient by start time.", |r: &SessionRow| Cell::Int(i64::from(r.series_number))),
    column!("hours_since_first_infusion", "number", Some("hours"), any, "Hours from the start of the first infusion to the start of this one, to 0.01.", |r: &SessionRow| Cell::num(r.hours_since_first_infusion, 2)),
    column!("drug", "string", None, || Some(Drug::codes()), "Drug given.", |r: &SessionRow| Cell::text(r.session.drug.code())),
    column!("route", "string", None, || Some(Route::codes()), "Route of administration.", |r: &SessionRow| Cell::text(r.session.route.code())),
    column!("guidance", "string", None, || Some(Guidance::codes()), "Psychological guidance during the session.", |r: &SessionRow| Cell::opt_text(r.session.guidance.map(Guidance::code))),
    column!("dose_mg", "number", Some("mg"), any, "Dose given.", |r: &SessionRow| Cell::num(Some(r.session.dose_mg), 4)),
    column!("weight_kg", "number", Some("kg"), any, "Body weight at the session.", |r: &SessionRow| Cell::num(r.session.weight_kg, 2)),
    column!("dose_mg_per_kg", "number", Some("mg/kg"), any, "Dose per kilogram, to 0.0001.", |r: &SessionRow| Cell::num(r.session.dose_mg_per_kg, 4)),
    column!("duration_minutes", "number", Some("minutes"), any, "From the start to the end of dosing, to 0.01.", |r: &SessionRow| {
        Cell::num(r.session.ended_at.map(|end| (end - r.session.started_at).num_seconds() as f64 / 60.0), 2)
    }),
    column!("cadss_total", "integer", Some("points"), any, "Clinician-Administered Dissociative States Scale total (23 items, 0-92).", |r: &SessionRow| Cell::int(r.session.cadss_total)),
    column!("moaas", "integer", Some("points"), any, "Lowest Modified Observer's Assessment of Alertness/Sedation observed, 0-5.", |r: &SessionRow| Cell::int(r.session.moaas)),
    column!("adverse_event_codes", "string", None, || Some(AdverseEvent::codes()), "Adverse event codes, separated by ';'.", |r: &SessionRow| {
        Cell::Text(r.session.adverse_event_codes.iter().map(|a| a.code()).collect::<Vec<_>>().join(";"))
    }),
    column!("age_at_first_infusion", "integer", Some("years"), any, "Age at the first infusion in whole years; 90 and over reported as 90.", |r: &SessionRow| Cell::int(r.subject.age_at_first_infusion)),
    column!("sex", "string", None, sexes, "Sex.", |r: &SessionRow| Cell::text(r.subject.sex.code())),
    column!("diagnosis", "string", None, any, "ICD-10 diagnosis code.", |r: &SessionRow| Cell::text(r.subject.diagnosis.as_str())),
];


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_items_leave_out_exactly_the_items_with_a_column() {
        let with_column: Vec<String> = RATING_COLUMNS.iter().filter_map(|c| c.name.strip_prefix("item_")).map(str::to_string).collect();
        assert_eq!(with_column, ITEM_COLUMNS.map(str::to_string).to_vec());
    }

    #[test]
    fn columns_are_in_the_contracted_order() {
        let names: Vec<&str> = RATING_COLUMNS.iter().map(|c| c.name).collect();
        let mut expected = vec!["subject_id", "definition_set", "instrument", "instrument_version", "text_version", "recall", "short_recall", "hours_since_first_infusion", "hours_since_last_infusion", "infusion_number", "total", "obsessions", "compulsions", "subscales", "other_items"];
        let mut items: Vec<String> = (1..=10).map(|i| format!("item_{i}")).collect();
        items.push("item_6_recent".into());
        expected.extend(items.iter().map(String::as_str));
        expected.extend(["cgi_s", "cgi_i", "rater", "collected_via", "baseline_total", "percent_change", "response", "remission", "response_cgi_confirmed", "remission_cgi_confirmed", "early_improvement", "age_at_first_infusion", "sex", "diagnosis"]);
        assert_eq!(names, expected);
        let names: Vec<&str> = SESSION_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, vec!["subject_id", "series_number", "hours_since_first_infusion", "drug", "route", "guidance", "dose_mg", "weight_kg", "dose_mg_per_kg", "duration_minutes", "cadss_total", "moaas", "adverse_event_codes", "age_at_first_infusion", "sex", "diagnosis"]);
    }

    #[test]
    fn cells_render_the_same_in_both_formats() {
        for (cell, csv, json) in [
            (Cell::Null, "", serde_json::Value::Null),
            (Cell::Int(3), "3", serde_json::json!(3)),
            (Cell::Num(-72.5), "-72.5", serde_json::json!(-72.5)),
            (Cell::Num(4.0), "4.0", serde_json::json!(4.0)),
            (Cell::Num(0.1 + 0.2), "0.30000000000000004", serde_json::json!(0.1 + 0.2)),
            (Cell::Num(1e21), "1e+21", serde_json::json!(1e21)),
            (Cell::Int(-9_007_199_254_740_993), "-9007199254740993", serde_json::json!(-9_007_199_254_740_993i64)),
            (Cell::Bool(true), "true", serde_json::json!(true)),
            (Cell::Text("a;b".into()), "a;b", serde_json::json!("a;b")),
        ] {
            assert_eq!(cell.to_csv(), csv);
            assert_eq!(cell.to_json(), json);
            if !matches!(cell, Cell::Text(_) | Cell::Null) {
                assert_eq!(cell.to_json().to_string(), csv, "a CSV cell has the NDJSON cell's digits");
            }
        }
        assert_eq!(Cell::num(Some(100.0 / 3.0), 2), Cell::Num(33.33));
        assert_eq!(Cell::num(Some(f64::NAN), 2), Cell::Null);
    }
}
