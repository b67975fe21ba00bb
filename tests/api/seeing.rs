//! Seeing and sharing: the SVG charts carry the numbers of the JSON they draw, the FHIR
//! view reads and pages like a FHIR server, REDCap's files import as REDCap reads them,
//! and the console is served under a policy without inline code.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

fn svg(text: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("the chart is not XML: {e}\n{text}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc
}

fn with_class<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants().filter(|n| n.attribute("class") == Some(class)).collect()
}

fn number(node: &roxmltree::Node, attribute: &str) -> f64 {
    node.attribute(attribute).unwrap_or_else(|| panic!("{attribute} missing")).parse().unwrap()
}

/// A patient with a baseline, two sessions and ratings from 40 minutes to two weeks.
async fn treated_patient(app: &TestApp, user: &TestUser, totals: &[(&str, u32)]) -> String {
    let patient = app.patient(user).await;
    for started in ["2026-03-02T08:00:00Z", "2026-03-05T08:00:00Z"] {
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &user.token, infusion_body(started)).await.status, 201);
    }
    for (at, total) in totals {
        let created = app.post(&format!("/api/v1/patients/{patient}/assessments"), &user.token, rating_body(at, *total)).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    patient
}

const COURSE: [(&str, u32); 5] =
    [("2026-03-01T08:00:00Z", 30), ("2026-03-02T08:40:00Z", 24), ("2026-03-02T12:00:00Z", 18), ("2026-03-03T08:00:00Z", 17), ("2026-03-16T08:00:00Z", 12)];

#[actix_rt::test]
async fn the_trajectory_chart_draws_the_trajectorys_numbers() {
    let app = spawn_app().await;
    let admin = app.admin("Chart clinic").await;
    let patient = treated_patient(&app, &admin, &COURSE).await;
    let json = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    let drawn = app.get(&format!("/api/v1/patients/{patient}/trajectory.svg"), &admin.token).await;
    assert_eq!(drawn.status, 200, "{}", drawn.text);
    assert!(drawn.content_type().starts_with("image/svg+xml"), "{}", drawn.content_type());
    assert_eq!(drawn.header("content-security-policy").as_deref(), Some("default-src 'none'"));
    let doc = svg(&drawn.text);
    let title = doc.descendants().find(|n| n.has_tag_name("title")).and_then(|n| n.text()).unwrap();
    assert_eq!(title, "Symptom trajectory");
    let desc = doc.descendants().find(|n| n.has_tag_name("desc")).and_then(|n| n.text()).unwrap();
    assert!(desc.contains("Y-BOCS") && desc.contains("2 sessions") && desc.contains("5 ratings"), "{desc}");

    // Every rating drawn is a rating of the trajectory, at its hours, with its total.
    let expected: BTreeMap<String, (Option<f64>, u64)> = json.body["series"][0]["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["assessment_id"].as_str().unwrap().to_string(), (r["hours_since_first_infusion"].as_f64(), r["total"].as_u64().unwrap())))
        .collect();
    let points: BTreeMap<String, (Option<f64>, u64)> = with_class(&doc, "rating")
        .iter()
        .map(|g| {
            let hours = g.attribute("data-hours").filter(|h| !h.is_empty()).map(|h| h.parse().unwrap());
            (g.attribute("data-assessment-id").unwrap().to_string(), (hours, number(g, "data-total") as u64))
        })
        .collect();
    assert_eq!(points, expected);
    assert_eq!(expected.len(), 5);
    // The baseline (30, the day before), both sessions (0 h and 72 h), the bands of Y-BOCS.
    assert_eq!(with_class(&doc, "baseline")[0].attribute("data-total"), Some("30"));
    let sessions: Vec<f64> = with_class(&doc, "session").iter().map(|g| number(g, "data-hours")).collect();
    assert_eq!(sessions, vec![0.0, 72.0]);
    assert_eq!(with_class(&doc, "band").len(), 5);
    // The 40-minute rating is an early improvement (20 % down) and says so in its title.
    let early: Vec<_> = with_class(&doc, "rating").into_iter().filter(|g| g.attribute("data-early-improvement") == Some("true")).collect();
    let flagged: Vec<&Value> = json.body["series"][0]["ratings"].as_array().unwrap().iter().filter(|r| r["early_improvement"] == json!(true)).collect();
    assert_eq!(early.len(), flagged.len());
    // The time axis runs from minutes to weeks, as text.
    let labels: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
    for label in ["10 min", "40 min", "4 h", "1 d", "7 d", "14 d", "before"] {
        assert!(labels.contains(&label), "{label} in {labels:?}");
    }
    // Nothing identifying is written into the picture.
    assert!(!drawn.text.contains("Jane Roe"));

    let empty = app.patient(&admin).await;
    let drawn = app.get(&format!("/api/v1/patients/{empty}/trajectory.svg"), &admin.token).await;
    assert!(with_class(&svg(&drawn.text), "rating").is_empty());
    assert!(drawn.text.contains("No ratings recorded yet."));
    let audit = app.get("/api/v1/audit?action=patient.trajectory", &admin.token).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 3, "{}", audit.text);
}

#[actix_rt::test]
async fn the_onset_chart_draws_the_kaplan_meier_rows_and_the_researcher_sees_the_private_view() {
    let app = spawn_app().await;
    let admin = app.admin("Cohort clinic").await;
    let researcher = app.user(&admin, "researcher").await;
    // Three responders at different times and one censored: too few for a researcher.
    for last in [15, 20, 12] {
        treated_patient(&app, &admin, &[("2026-03-01T08:00:00Z", 30), ("2026-03-02T12:00:00Z", 25), ("2026-03-09T08:00:00Z", last)]).await;
    }
    treated_patient(&app, &admin, &[("2026-03-01T08:00:00Z", 30), ("2026-03-03T08:00:00Z", 28)]).await;
    let json = app.get("/api/v1/analytics/onset?instrument=ybocs&endpoint=response", &admin.token).await;
    assert_eq!(json.body["n_patients"], 4, "{}", json.text);
    let drawn = app.get("/api/v1/analytics/onset.svg?instrument=ybocs&endpoint=response", &admin.token).await;
    assert_eq!(drawn.status, 200, "{}", drawn.text);
    let doc = svg(&drawn.text);
    let steps = with_class(&doc, "step");
    let rows = json.body["km"].as_array().unwrap();
    assert_eq!(steps.len(), rows.len());
    for (step, row) in steps.iter().zip(rows) {
        assert_eq!(number(step, "data-hours"), row["hours"].as_f64().unwrap());
        assert_eq!(number(step, "data-survival"), row["survival"].as_f64().unwrap());
        assert_eq!(number(step, "data-at-risk"), row["at_risk"].as_f64().unwrap());
        assert_eq!(number(step, "data-events"), row["events"].as_f64().unwrap());
        assert_eq!(number(step, "data-censored"), row["censored"].as_f64().unwrap());
        assert!((number(step, "data-reached") - (1.0 - row["survival"].as_f64().unwrap())).abs() < 1e-12);
    }
    assert_eq!(with_class(&doc, "censored").len(), rows.iter().filter(|r| r["censored"].as_u64() > Some(0)).count());
    assert_eq!(with_class(&doc, "confidence-band").len(), 1);
    let desc = doc.descendants().find(|n| n.has_tag_name("desc")).and_then(|n| n.text()).unwrap();
    assert!(desc.contains("4 patients"), "{desc}");

    // The researcher's view of four patients is suppressed: no curve, no count, a reason.
    let private = app.get("/api/v1/analytics/onset.svg?instrument=ybocs&endpoint=response", &researcher.token).await;
    assert_eq!(private.status, 200, "{}", private.text);
    let doc = svg(&private.text);
    assert!(with_class(&doc, "step").is_empty());
    assert_eq!(with_class(&doc, "suppressed").len(), 1);
    assert!(private.text.contains("fewer than 11 patients"), "{}", private.text);
    assert!(!private.text.contains("4 patients"));
    // Bad filters are the JSON's problems.
    let bad = app.get("/api/v1/analytics/onset.svg?instrument=phq9", &admin.token).await;
    bad.assert_problem(422);
}

fn fhir_ok(response: &Response, resource_type: &str) {
    assert_eq!(response.status, 200, "{}", response.text);
    assert!(response.content_type().starts_with("application/fhir+json"), "{}", response.content_type());
    assert_eq!(response.body["resourceType"], resource_type, "{}", response.text);
}

fn outcome(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", response.text);
    assert!(response.content_type().starts_with("application/fhir+json"), "{}", response.content_type());
    assert_eq!(response.body["resourceType"], "OperationOutcome", "{}", response.text);
    assert_eq!(response.body["issue"][0]["code"], code, "{}", response.text);
}

/// Every entry of a search, following `next` links; asserts no page repeats an entry.
async fn all_pages(app: &TestApp, token: &str, first: &str) -> (Vec<Value>, usize) {
    let (mut entries, mut pages, mut seen) = (Vec::new(), 0, BTreeSet::new());
    let mut path = first.to_string();
    loop {
        let page = app.get(&path, token).await;
        fhir_ok(&page, "Bundle");
        assert_eq!(page.body["type"], "searchset");
        pages += 1;
        for entry in page.body["entry"].as_array().unwrap() {
            let id = entry["resource"]["id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "{id} repeated");
            assert!(entry["fullUrl"].as_str().unwrap().ends_with(&id));
            entries.push(entry["resource"].clone());
        }
        let next = page.body["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").map(|l| l["url"].as_str().unwrap().to_string());
        match next {
            Some(url) => path = url[url.find("/fhir/").unwrap()..].to_string(),
            None => return (entries, pages),
        }
    }
}

#[actix_rt::test]
async fn the_fhir_view_reads_searches_and_pages_within_the_clinic() {
    let app = spawn_app().await;
    let admin = app.admin("FHIR clinic").await;
    let clinician = app.user(&admin, "clinician").await;
    let researcher = app.user(&admin, "researcher").await;
    let other = app.admin("Other clinic").await;
    let patient = treated_patient(&app, &admin, &COURSE).await;
    let second = treated_patient(&app, &admin, &COURSE[..2]).await;
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(1))).collect();
    let phq9 = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, json!({"instrument": "phq9", "rated_at": "2026-03-04T08:00:00Z", "recall": "P14D", "items": items, "rater": "self", "collected_via": "app"})).await;
    let phq9 = phq9.id();

    let metadata = app.request(Method::GET, "/fhir/r4/metadata", None, None, &[]).await;
    fhir_ok(&metadata, "CapabilityStatement");
    assert_eq!(metadata.body["fhirVersion"], "4.0.1");

    let read = app.get(&format!("/fhir/r4/Patient/{patient}"), &clinician.token).await;
    fhir_ok(&read, "Patient");
    assert_eq!((read.body["gender"].as_str(), read.body["birthDate"].as_str(), read.body["name"][0]["text"].as_str()), (Some("female"), Some("1988-07-14"), Some("Jane Roe")));
    let observation = app.get(&format!("/fhir/r4/Observation/{phq9}"), &clinician.token).await;
    fhir_ok(&observation, "Observation");
    assert_eq!(observation.body["code"]["coding"][0], json!({"system": "http://loinc.org", "code": "44261-6", "display": "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"}));
    assert_eq!((observation.body["valueInteger"].as_u64(), observation.body["status"].as_str()), (Some(9), Some("final")));
    assert_eq!(observation.body["subject"]["reference"], format!("Patient/{patient}"));
    assert_eq!(observation.body["component"].as_array().unwrap().len(), 9);

    // Paging by three never repeats or skips: the union is every rating of the clinic.
    let (ratings, pages) = all_pages(&app, &admin.token, "/fhir/r4/Observation?_count=3").await;
    assert_eq!((ratings.len(), pages), (8, 3));
    let (mine, _) = all_pages(&app, &admin.token, &format!("/fhir/r4/Observation?patient=Patient/{second}")).await;
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|o| o["subject"]["reference"] == format!("Patient/{second}")));
    let (loinc, _) = all_pages(&app, &admin.token, "/fhir/r4/Observation?code=http://loinc.org|44261-6").await;
    assert_eq!(loinc.iter().map(|o| o["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![phq9.as_str()]);
    // Ratings of 2 March (the day of the first session): 08:40 and 12:00 for both patients.
    let (day, _) = all_pages(&app, &admin.token, "/fhir/r4/Observation?date=2026-03-02&code=ybocs").await;
    assert_eq!(day.len(), 3, "{day:?}");
    let (window, _) = all_pages(&app, &admin.token, "/fhir/r4/Observation?date=ge2026-03-02T12:00:00Z&date=lt2026-03-16").await;
    assert_eq!(window.len(), 3, "12:00 on the 2nd, the 3rd, the PHQ-9 on the 4th: {window:?}");
    let (sessions, _) = all_pages(&app, &admin.token, "/fhir/r4/MedicationAdministration?_count=1&code=6130").await;
    assert_eq!(sessions.len(), 4);
    assert!(sessions.iter().all(|s| s["dosage"]["dose"] == json!({"value": 35.0, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"})));
    assert!(sessions.iter().all(|s| s["dosage"]["route"]["coding"][0]["code"] == "47625008"));
    let (patients, _) = all_pages(&app, &admin.token, "/fhir/r4/Patient?_count=1").await;
    assert_eq!(patients.len(), 2);

    // A retracted rating stays, marked entered in error.
    let retracted = app.delete(&format!("/api/v1/assessments/{phq9}"), &admin.token, json!({"reason": "wrong patient"})).await;
    assert_eq!(retracted.status, 200, "{}", retracted.text);
    assert_eq!(app.get(&format!("/fhir/r4/Observation/{phq9}"), &admin.token).await.body["status"], "entered-in-error");

    // Another clinic: not found; a researcher: forbidden; no token: log in. All OperationOutcome.
    outcome(&app.get(&format!("/fhir/r4/Patient/{patient}"), &other.token).await, 404, "not-found");
    outcome(&app.get(&format!("/fhir/r4/Observation/{phq9}"), &other.token).await, 404, "not-found");
    let (theirs, _) = all_pages(&app, &other.token, &format!("/fhir/r4/Observation?patient={patient}")).await;
    assert!(theirs.is_empty());
    outcome(&app.get("/fhir/r4/Observation", &researcher.token).await, 403, "forbidden");
    let anonymous = app.request(Method::GET, "/fhir/r4/Patient", None, None, &[]).await;
    outcome(&anonymous, 401, "login");
    assert_eq!(anonymous.header("www-authenticate").as_deref(), Some("Bearer"));
    for bad in ["/fhir/r4/Observation?date=yesterday", "/fhir/r4/Observation?colour=red", "/fhir/r4/Patient?_count=0", "/fhir/r4/Observation?_cursor=nope", "/fhir/r4/Patient?_format=xml", &format!("/fhir/r4/Patient/{patient}?_format=xml"), "/fhir/r4/metadata?_format=xml"] {
        outcome(&app.get(bad, &admin.token).await, 400, "invalid");
    }
    outcome(&app.get("/fhir/r4/Encounter", &admin.token).await, 404, "not-found");
    outcome(&app.get("/fhir/r4/Patient/not-a-uuid", &admin.token).await, 404, "not-found");
    outcome(&app.request(Method::DELETE, &format!("/fhir/r4/Patient/{patient}"), Some(&admin.token), None, &[]).await, 405, "not-supported");
    // Every FHIR read is a read of the patient's record, audited.
    let audit = app.get("/api/v1/audit?action=patient.read", &admin.token).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.text);
    let searches = app.get("/api/v1/audit?action=fhir.observations.search", &admin.token).await;
    assert!(searches.body["items"].as_array().unwrap().len() >= 5, "{}", searches.text);
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    (header, rows)
}

/// A dictionary field as REDCap's importer checks a value against it.
struct Field {
    form: String,
    kind: String,
    choices: Vec<String>,
    validation: String,
}

impl Field {
    fn accepts(&self, value: &str) -> bool {
        if value.is_empty() {
            return true;
        }
        match (self.kind.as_str(), self.validation.as_str()) {
            ("yesno", _) => value == "0" || value == "1",
            ("dropdown", _) => self.choices.iter().any(|c| c == value),
            ("text", "integer") => value.parse::<i64>().is_ok(),
            ("text", "number") => value.parse::<f64>().is_ok_and(f64::is_finite),
            ("text", "") => true,
            _ => false,
        }
    }
}

#[actix_rt::test]
async fn redcap_imports_the_dictionary_and_the_records_unchanged() {
    let app = spawn_app().await;
    let admin = app.admin("REDCap clinic").await;
    let researcher = app.user(&admin, "researcher").await;
    let consenting = treated_patient(&app, &admin, &COURSE).await;
    let external = app.post("/api/v1/patients", &admin.token, json!({"display_name": "Withheld Person", "external_id": "MRN-77", "birth_date": "1970-01-02", "sex": "male", "diagnosis": "F42.1", "research_consent": false})).await.id();
    assert_eq!(app.post(&format!("/api/v1/patients/{external}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 20)).await.status, 201);

    let dictionary = app.get("/api/v1/exports/redcap/dictionary", &researcher.token).await;
    assert_eq!(dictionary.status, 200, "{}", dictionary.text);
    let (header, rows) = csv_rows(&dictionary.text);
    assert_eq!(
        header,
        [
            "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label", "Choices, Calculations, OR Slider Labels", "Field Note",
            "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
            "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?", "Field Annotation",
        ]
    );
    assert_eq!(rows[0][0], "record_id", "REDCap's first field is the record id");
    let fields: HashMap<String, Field> = rows
        .iter()
        .map(|r| {
            assert!(r[10].is_empty(), "{} is not an identifier", r[0]);
            assert!(!r[7].starts_with("date"), "{} is not a date", r[0]);
            let choices = r[5].split(" | ").filter(|c| !c.is_empty()).map(|c| c.split(", ").next().unwrap().to_string()).collect();
            (r[0].clone(), Field { form: r[1].clone(), kind: r[3].clone(), choices, validation: r[7].clone() })
        })
        .collect();

    let records = app.get("/api/v1/exports/redcap/records", &researcher.token).await;
    assert_eq!(records.status, 200, "{}", records.text);
    let (columns, rows) = csv_rows(&records.text);
    for column in &columns {
        assert!(fields.contains_key(column) || ["redcap_repeat_instrument", "redcap_repeat_instance"].contains(&column.as_str()), "{column} is not in the dictionary");
    }
    // One subject (the consenting one): its subject row, then five rating instances 1..5.
    assert_eq!(rows.len(), 6, "{}", records.text);
    let subjects: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(subjects.len(), 1);
    assert_eq!((rows[0][1].as_str(), rows[0][2].as_str()), ("", ""));
    let instances: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(instances, ["1", "2", "3", "4", "5"]);
    for row in &rows {
        for (column, value) in columns.iter().zip(row) {
            if let Some(field) = fields.get(column) {
                assert!(field.accepts(value), "{column} = {value:?} does not fit {} {}", field.kind, field.validation);
                // A repeating row carries only its form's fields, the subject row only the subject's.
                let form = if row[1].is_empty() { "subject" } else { "rating" };
                assert!(value.is_empty() || column == "record_id" || field.form == form, "{column} on a {form} row");
            }
        }
        let line = row.join(",");
        for identifying in ["Jane Roe", "1988-07-14", consenting.as_str(), "MRN-77", "Withheld", "2026-03"] {
            assert!(!line.contains(identifying), "{identifying} in {line}");
        }
    }
    let totals: Vec<&str> = rows[1..].iter().map(|r| r[columns.iter().position(|c| c == "total").unwrap()].as_str()).collect();
    assert_eq!(totals, ["30", "24", "18", "17", "12"]);
    let remission = columns.iter().position(|c| c == "remission").unwrap();
    assert_eq!(rows[5][remission], "1", "12 at day 14 is a remission, as REDCap's yes");

    for bad in ["format=ndjson", "changed_since=2026-01-01T00:00:00Z", "instrument=ybocs"] {
        app.get(&format!("/api/v1/exports/redcap/records?{bad}"), &researcher.token).await.assert_problem(422);
    }
    let audit = app.get("/api/v1/audit?action=export.download", &admin.token).await;
    assert_eq!(audit.body["items"][0]["detail"]["kind"], "redcap", "{}", audit.text);
}

#[actix_rt::test]
async fn the_console_is_served_under_a_policy_without_inline_code() {
    let app = spawn_app().await;
    let page = app.request(Method::GET, "/", None, None, &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    assert!(page.text.contains(r#"<script src="/console/app.js" defer></script>"#));
    assert!(!page.text.contains("<script>") && !page.text.contains(" style="), "no inline script or style");
    let script = app.request(Method::GET, "/console/app.js", None, None, &[]).await;
    assert!(script.content_type().starts_with("text/javascript"));
    // Tokens live in the page's memory, never in storage; server text is set as text.
    assert!(!script.text.contains("localStorage") && !script.text.contains("sessionStorage") && !script.text.contains("innerHTML"));
    let style = app.request(Method::GET, "/console/app.css", None, None, &[]).await;
    assert!(style.content_type().starts_with("text/css"));
}
