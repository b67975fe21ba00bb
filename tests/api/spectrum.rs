//! The spectrum (DESIGN.md §9): built-in GAD-7, PCL-5, MADRS and craving VAS, and a
//! clinic's own instruments, through ratings, outcome rules, analytics in hours, exports,
//! the codebook, REDCap, links and FHIR.

use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const T0: &str = "2026-03-02T09:00:00Z";
const BEFORE: &str = "2026-03-01T09:00:00Z";

fn choice(code: &str, text: &str, reverse: bool) -> Value {
    let labels = ["Not at all", "A little", "Mostly", "Completely"];
    json!({"code": code, "short_label": code, "text": text, "type": "choice", "min": 0, "max": 3,
        "options": labels.iter().enumerate().map(|(v, l)| json!({"value": v, "label": l})).collect::<Vec<_>>(), "reverse": reverse})
}

/// A clinic's three-item scale: "calm" is worded the other way and scored reversed, so a
/// higher total is worse; 0–9; a response is a fall of 3 points, a partial one of 2, a
/// remission a total of 2 or less.
pub fn wellbeing_definition() -> Value {
    json!({
        "code": "x_wellbeing", "title": "Clinic well-being check", "name": "Well-being", "rater": "self",
        "recall_default": "NOW", "recalls": ["NOW", "P24H"], "self_reportable": true, "text_source": "bundled",
        "preamble": "How do you feel right now?",
        "items": [choice("calm", "I feel calm", true), choice("worried", "I feel worried", false), choice("tense", "I feel tense", false)],
        "scoring": "sum",
        "bands": [{"min": 0, "max": 2, "label": "settled"}, {"min": 3, "max": 5, "label": "unsettled"}, {"min": 6, "max": 9, "label": "distressed"}],
        "outcomes": {"rules": "definition", "direction": "higher_is_worse", "response": {"kind": "points", "threshold": 3}, "partial_response": {"kind": "points", "threshold": 2}, "remission": {"max": 2}}
    })
}

/// Answers scoring `total` on the well-being scale: worried and tense first, then calm
/// (reversed: answered 3 − its points) for what they leave.
fn wellbeing(at: &str, total: u32) -> Value {
    let worried = total.min(3);
    let tense = (total - worried).min(3);
    let calm = 3 - (total - worried - tense);
    json!({"instrument": "x_wellbeing", "rated_at": at, "recall": "NOW", "items": {"calm": calm, "worried": worried, "tense": tense}, "rater": "self", "collected_via": "app"})
}

fn madrs(at: &str, total: u32) -> Value {
    json!({"instrument": "madrs", "rated_at": at, "recall": "P7D", "total": total, "rater": "clinician", "collected_via": "interview"})
}

async fn rate(app: &TestApp, user: &TestUser, patient: &str, body: Value) -> Response {
    let r = app.post(&format!("/api/v1/patients/{patient}/assessments"), &user.token, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r
}

#[actix_rt::test]
async fn a_clinic_instrument_is_reverse_scored_versioned_and_its_own() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let south = app.admin("South").await;
    app.post("/api/v1/clinic/instruments", &clinician.token, wellbeing_definition()).await.assert_problem(403);
    app.request(Method::POST, "/api/v1/clinic/instruments", None, Some(&wellbeing_definition()), &[]).await.assert_problem(401);
    let made = app.post("/api/v1/clinic/instruments", &admin.token, wellbeing_definition()).await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!((made.body["kind"].clone(), made.body["version"].clone(), made.body["fhir_display"].clone()), (json!("clinic"), json!(1), json!("Clinic well-being check")));
    app.post("/api/v1/clinic/instruments", &admin.token, wellbeing_definition()).await.assert_problem(409);

    // calm 3 is worded the other way: 3 + 0 − 3 = 0; worried 2, tense 1: total 3.
    let patient = app.patient(&clinician).await;
    let first = rate(&app, &clinician, &patient, json!({"instrument": "x_wellbeing", "rated_at": BEFORE, "recall": "NOW", "items": {"calm": 3, "worried": 2, "tense": 1}, "rater": "self", "collected_via": "app"})).await;
    assert_eq!((first.body["total"].clone(), first.body["severity"].clone(), first.body["instrument_version"].clone()), (json!(3), json!("unsettled"), json!(1)));
    let calm_low = rate(&app, &clinician, &patient, json!({"instrument": "x_wellbeing", "rated_at": BEFORE, "recall": "NOW", "items": {"calm": 0, "worried": 0, "tense": 0}, "rater": "self", "collected_via": "app"})).await;
    assert_eq!(calm_low.body["total"], 3, "not calm at all scores 3");
    let wrong = app.post(&format!("/api/v1/patients/{patient}/assessments"), &clinician.token, json!({"instrument": "x_wellbeing", "rated_at": BEFORE, "recall": "P7D", "items": {"calm": 4, "worried": 0}, "rater": "self", "collected_via": "app"})).await;
    wrong.assert_problem(422);
    let mut fields = wrong.error_fields();
    fields.sort();
    assert_eq!(fields, ["items.calm", "items.tense"]);

    // The next version: a fourth item. The first rating keeps version 1 and its total.
    let mut next = wellbeing_definition();
    next["items"].as_array_mut().unwrap().push(choice("sleep", "I slept badly", false));
    next["bands"] = json!([{"min": 0, "max": 5, "label": "settled"}, {"min": 6, "max": 12, "label": "distressed"}]);
    let put = app.request(Method::PUT, "/api/v1/clinic/instruments/x_wellbeing", Some(&admin.token), Some(&next), &[]).await;
    assert_eq!((put.status, put.body["version"].clone()), (200, json!(2)), "{}", put.text);
    let second = rate(&app, &clinician, &patient, json!({"instrument": "x_wellbeing", "rated_at": BEFORE, "recall": "NOW", "items": {"calm": 3, "worried": 2, "tense": 1, "sleep": 3}, "rater": "self", "collected_via": "app"})).await;
    assert_eq!((second.body["total"].clone(), second.body["instrument_version"].clone(), second.body["severity"].clone()), (json!(6), json!(2), json!("distressed")));
    let kept = app.get(&format!("/api/v1/assessments/{}", first.id()), &clinician.token).await;
    assert_eq!((kept.body["total"].clone(), kept.body["instrument_version"].clone(), kept.body["severity"].clone()), (json!(3), json!(1), json!("unsettled")));
    // Amended after version 2, it is checked and scored under version 1, as taken.
    let amended = app.patch(&format!("/api/v1/assessments/{}", first.id()), &clinician.token, json!({"notes": "checked", "items": {"calm": 2, "worried": 2, "tense": 1}, "reason": "calm re-rated"})).await;
    assert_eq!(amended.status, 200, "{}", amended.text);
    assert_eq!((amended.body["total"].clone(), amended.body["instrument_version"].clone()), (json!(4), json!(1)), "calm 2 scores 1 under version 1");
    let versions = app.get("/api/v1/instruments/x_wellbeing/versions", &clinician.token).await;
    let numbers: Vec<i64> = versions.body["items"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 1]);
    let listed = app.get("/api/v1/instruments", &clinician.token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().last().unwrap()["code"], "x_wellbeing");

    // Another clinic knows nothing of it.
    app.get("/api/v1/instruments/x_wellbeing", &south.token).await.assert_problem(404);
    app.get("/api/v1/instruments/x_wellbeing/versions", &south.token).await.assert_problem(404);
    app.request(Method::PUT, "/api/v1/clinic/instruments/x_wellbeing", Some(&south.token), Some(&next), &[]).await.assert_problem(404);
    let theirs = app.patient(&south).await;
    let refused = app.post(&format!("/api/v1/patients/{theirs}/assessments"), &south.token, wellbeing(BEFORE, 3)).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), ["instrument"]);
    let south_list = app.get("/api/v1/instruments", &south.token).await;
    assert!(!south_list.text.contains("x_wellbeing"));
    // A built-in's definition is onset's.
    app.request(Method::PUT, "/api/v1/clinic/instruments/ybocs", Some(&admin.token), Some(&next), &[]).await.assert_problem(404);
}

#[actix_rt::test]
async fn a_clinic_definition_is_checked_by_field_and_bounded() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let refused = |mut change: Box<dyn FnMut(&mut Value)>| {
        let app = &app;
        let token = admin.token.clone();
        let mut body = wellbeing_definition();
        change(&mut body);
        async move {
            let r = app.post("/api/v1/clinic/instruments", &token, body).await;
            r.assert_problem(422);
            r.error_fields()
        }
    };
    assert_eq!(refused(Box::new(|b| b["code"] = json!("wellbeing"))).await, ["code"], "a clinic code starts x_");
    assert_eq!(refused(Box::new(|b| b["code"] = json!("ybocs"))).await, ["code"]);
    assert_eq!(refused(Box::new(|b| b["outcomes"]["rules"] = json!("ocd_consensus"))).await, ["outcomes.rules"]);
    assert_eq!(refused(Box::new(|b| b["scoring"] = json!("cssrs_risk"))).await, ["scoring"]);
    assert_eq!(refused(Box::new(|b| b["outcomes"]["remission"] = json!({"max": 10}))).await, ["definition"], "remission outside 0-9");
    assert_eq!(refused(Box::new(|b| b["outcomes"]["partial_response"]["threshold"] = json!(5))).await, ["definition"], "partial above response");
    assert_eq!(refused(Box::new(|b| b["items"][1]["max"] = json!(25))).await, ["items.1.max"], "a choice has at most 20 options");
    assert_eq!(refused(Box::new(|b| b["kind"] = json!("built_in"))).await, ["kind"]);
    assert_eq!(refused(Box::new(|b| b["bands"] = json!([{"min": 0, "max": 3, "label": "low"}]))).await, ["definition"], "bands cover every total");
    assert_eq!(refused(Box::new(|b| b["text_source"] = json!("clinic"))).await, ["text_source", "self_reportable"], "a clinic's scale is its own wording, which a patient needs");
    let many: Vec<Value> = (0..101).map(|i| choice(&format!("i{i}"), "q", false)).collect();
    assert_eq!(refused(Box::new(move |b| b["items"] = json!(many.clone()))).await, ["items"], "at most 100 items");
    assert_eq!(refused(Box::new(|b| b["title"] = json!("x".repeat(2001)))).await, ["title"]);
    let unknown = app.post("/api/v1/clinic/instruments", &admin.token, json!({"code": "x_a", "colour": "blue"})).await;
    unknown.assert_problem(422);
    let huge = app.raw(Method::POST, "/api/v1/clinic/instruments", Some(&admin.token), "application/json", vec![b' '; 3 << 20]).await;
    huge.assert_problem(413);
    assert_eq!(app.get("/api/v1/instruments", &admin.token).await.body["items"].as_array().unwrap().len(), 11, "nothing was kept");
}

/// Patients with an infusion at T0: one responding at 4 h, one at 24 h, one censored at
/// 168 h (a partial response only), as on the Y-BOCS (research.rs), on `rating`.
async fn cohort(app: &TestApp, user: &TestUser, baseline: (&str, u32), rating: fn(&str, u32) -> Value, later: [&[(&str, u32)]; 3]) -> Vec<String> {
    let mut patients = Vec::new();
    for ratings in later {
        let patient = app.patient(user).await;
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &user.token, infusion_body(T0)).await.status, 201);
        rate(app, user, &patient, rating(baseline.0, baseline.1)).await;
        for (at, total) in ratings {
            rate(app, user, &patient, rating(at, *total)).await;
        }
        patients.push(patient);
    }
    patients
}

#[actix_rt::test]
async fn madrs_and_a_clinic_instrument_are_judged_by_their_rules_and_analysed_in_hours() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    // MADRS, baseline 30: response is a fall of 50 % (to 15 or less), remission 10 or less.
    // 15 at 4 h (50 %: a response); 20 at 4 h (33 %), 14 at 24 h (53 %); 20, then 16 at
    // 168 h (47 %: none, censored at 168 h).
    let madrs_patients = cohort(&app, &admin, (BEFORE, 30), madrs, [&[("2026-03-02T13:00:00Z", 15)], &[("2026-03-02T13:00:00Z", 20), ("2026-03-03T09:00:00Z", 14)], &[("2026-03-02T13:00:00Z", 20), ("2026-03-09T09:00:00Z", 16)]]).await;
    let r = app.get("/api/v1/analytics/onset?instrument=madrs&endpoint=response", &admin.token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["n_patients"].clone(), r.body["n_events"].clone(), r.body["instrument"].clone()), (json!(3), json!(2), json!("madrs")));
    assert_eq!(km_counts(&r.body), vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 0, 1)]);
    let km = r.body["km"].as_array().unwrap();
    assert!(close(&km[0]["survival"], 2.0 / 3.0) && close(&km[1]["survival"], 1.0 / 3.0) && close(&km[2]["survival"], 1.0 / 3.0), "{km:?}");
    assert_eq!(r.body["median_hours"], 24.0);
    // Remission: none of them reached 10 or less.
    let remission = app.get("/api/v1/analytics/onset?instrument=madrs&endpoint=remission", &admin.token).await;
    assert_eq!((remission.status, remission.body["n_events"].clone()), (200, json!(0)), "{}", remission.text);
    let trajectory = app.get(&format!("/api/v1/patients/{}/trajectory", madrs_patients[0]), &admin.token).await;
    let series = &trajectory.body["series"][0];
    assert_eq!((series["instrument"].clone(), series["ratings"][1]["response"].clone(), series["ratings"][1]["remission"].clone()), (json!("madrs"), json!("response"), json!(false)));
    assert_eq!((series["ratings"][1]["percent_change"].clone(), series["summary"]["relapse"].clone()), (json!(50.0), Value::Null), "no relapse rule outside OCD");
    // 10 is a remission, 11 is not (Hawley 2002, as DESIGN.md §9 sets).
    let edge = app.post(&format!("/api/v1/patients/{}/assessments", madrs_patients[2]), &admin.token, madrs("2026-03-10T09:00:00Z", 10)).await;
    assert_eq!(edge.status, 201);
    let t = app.get(&format!("/api/v1/patients/{}/trajectory", madrs_patients[2]), &admin.token).await;
    let last = t.body["series"][0]["ratings"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["remission"].clone(), last["response"].clone()), (json!(true), json!("response")));

    // The clinic's scale, baseline 8: 5 at 4 h (a fall of 3); 7, then 4 at 24 h; 7, then
    // 6 at 168 h (a fall of 2: a partial response, censored for response).
    assert_eq!(app.post("/api/v1/clinic/instruments", &admin.token, wellbeing_definition()).await.status, 201);
    cohort(&app, &admin, (BEFORE, 8), wellbeing, [&[("2026-03-02T13:00:00Z", 5)], &[("2026-03-02T13:00:00Z", 7), ("2026-03-03T09:00:00Z", 4)], &[("2026-03-02T13:00:00Z", 7), ("2026-03-09T09:00:00Z", 6)]]).await;
    let own = app.get("/api/v1/analytics/onset?instrument=x_wellbeing&endpoint=response", &admin.token).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(km_counts(&own.body), vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 0, 1)]);
    let partial = app.get("/api/v1/analytics/onset?instrument=x_wellbeing&endpoint=partial_response", &admin.token).await;
    assert_eq!(km_counts(&partial.body), vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 1, 0)], "the third patient's fall of 2 at 168 h is a partial response");
    let svg = app.get("/api/v1/analytics/onset.svg?instrument=x_wellbeing", &admin.token).await;
    assert!(svg.text.contains("Well-being"), "the chart names the clinic's scale");
    // Not another clinic's; not an instrument without outcome rules.
    let south = app.admin("South").await;
    assert_eq!(app.get("/api/v1/analytics/onset?instrument=x_wellbeing", &south.token).await.error_fields(), ["instrument"]);
    assert_eq!(app.get("/api/v1/analytics/onset?instrument=craving_vas", &admin.token).await.error_fields(), ["instrument"]);
    assert_eq!(app.get("/api/v1/analytics/onset?instrument=gad7&endpoint=remission", &admin.token).await.error_fields(), ["endpoint"]);
}

fn pcl5(at: &str, answers: [u32; 20]) -> Value {
    let items: serde_json::Map<String, Value> = answers.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), json!(v))).collect();
    json!({"instrument": "pcl5", "rated_at": at, "recall": "P1M", "items": items, "rater": "self", "collected_via": "app"})
}

#[actix_rt::test]
async fn pcl5_clusters_and_cut_point_and_its_ten_point_response() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(T0)).await;
    // B 1–5 all 2 = 10; C 6–7 all 3 = 6; D 8–14 all 1 = 7; E 15–20 all 2 = 12: total 35.
    let mut answers = [0u32; 20];
    for (i, a) in answers.iter_mut().enumerate() {
        *a = match i + 1 { 1..=5 => 2, 6..=7 => 3, 8..=14 => 1, _ => 2 };
    }
    let baseline = rate(&app, &admin, &patient, pcl5(BEFORE, answers)).await;
    assert_eq!((baseline.body["total"].clone(), baseline.body["severity"].clone()), (json!(35), json!("probable PTSD")));
    assert_eq!(baseline.body["subscales"], json!({"B": 10, "C": 6, "D": 7, "E": 12}));
    // 33 is the cut-point (National Center for PTSD: "between 31-33"; DESIGN.md §9: 33):
    // item 20 from 2 to 0 makes 33, item 19 from 2 to 1 then 32.
    answers[19] = 0;
    let at_33 = rate(&app, &admin, &patient, pcl5("2026-03-02T10:00:00Z", answers)).await;
    assert_eq!((at_33.body["total"].clone(), at_33.body["severity"].clone()), (json!(33), json!("probable PTSD")));
    answers[18] = 1;
    let at_32 = rate(&app, &admin, &patient, pcl5("2026-03-02T11:00:00Z", answers)).await;
    assert_eq!((at_32.body["total"].clone(), at_32.body["severity"].clone()), (json!(32), json!("below the probable PTSD cut-point")));
    // A fall of 10 points from the baseline (35) is a response; 9 is not.
    answers = [1; 20];
    let later = rate(&app, &admin, &patient, pcl5("2026-03-02T13:00:00Z", answers)).await;
    assert_eq!((later.body["total"].clone(), later.body["severity"].clone()), (json!(20), json!("below the probable PTSD cut-point")));
    let mut nine = [1u32; 20];
    for a in nine.iter_mut().take(6) {
        *a = 2;
    }
    let t = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    let ratings = t.body["series"][0]["ratings"].as_array().unwrap().clone();
    assert_eq!(ratings.last().unwrap()["response"], "response");
    assert_eq!(rate(&app, &admin, &patient, pcl5("2026-03-02T14:00:00Z", nine)).await.body["total"], 26);
    let t = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    let last = t.body["series"][0]["ratings"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["change"].clone(), last["response"].clone()), (json!(-9), json!("none")), "a fall of 9 is no response");
}

#[actix_rt::test]
async fn the_export_codebook_and_redcap_dictionary_carry_every_instrument_and_version() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    assert_eq!(app.post("/api/v1/clinic/instruments", &admin.token, wellbeing_definition()).await.status, 201);
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(T0)).await;
    rate(&app, &admin, &patient, wellbeing(BEFORE, 8)).await;
    let mut next = wellbeing_definition();
    next["title"] = json!("Clinic well-being check, second wording");
    app.request(Method::PUT, "/api/v1/clinic/instruments/x_wellbeing", Some(&admin.token), Some(&next), &[]).await;
    rate(&app, &admin, &patient, wellbeing("2026-03-02T13:00:00Z", 5)).await;
    rate(&app, &admin, &patient, pcl5("2026-03-02T13:00:00Z", [1; 20])).await;
    let export = app.get("/api/v1/exports/assessments?format=ndjson", &admin.token).await;
    assert_eq!(export.status, 200, "{}", export.text);
    let rows: Vec<Value> = export.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let own: Vec<(Value, Value, Value, Value)> = rows.iter().filter(|r| r["instrument"] == "x_wellbeing").map(|r| (r["instrument_version"].clone(), r["total"].clone(), r["response"].clone(), r["other_items"].clone())).collect();
    assert_eq!(own, [(json!(1), json!(8), Value::Null, json!("calm=1;tense=3;worried=3")), (json!(2), json!(5), json!("response"), json!("calm=3;tense=2;worried=3"))]);
    let ptsd = rows.iter().find(|r| r["instrument"] == "pcl5").unwrap();
    assert_eq!(ptsd["subscales"], "B=5;C=2;D=7;E=6");
    assert!(ptsd["other_items"].as_str().unwrap().ends_with("19=1;20=1"), "{ptsd}");
    assert!(!export.text.contains("I feel calm"), "no wording in the export");
    let only = app.get("/api/v1/exports/assessments?format=ndjson&instrument=x_wellbeing", &admin.token).await;
    assert_eq!(only.text.lines().count(), 2);

    let codebook = app.get("/api/v1/exports/codebook", &admin.token).await;
    let described: Vec<(String, i64)> = codebook.body["instruments"].as_array().unwrap().iter().map(|i| (i["code"].as_str().unwrap().to_string(), i["version"].as_i64().unwrap())).collect();
    for wanted in [("pcl5", 1), ("madrs", 1), ("gad7", 1), ("craving_vas", 1), ("x_wellbeing", 2), ("x_wellbeing", 1)] {
        assert!(described.contains(&(wanted.0.to_string(), wanted.1)), "{wanted:?} in {described:?}");
    }
    let own_doc = codebook.body["instruments"].as_array().unwrap().iter().find(|i| i["code"] == "x_wellbeing").unwrap();
    assert_eq!((own_doc["items"][0]["reverse"].clone(), own_doc["outcomes"]["response"].clone()), (json!(true), json!({"kind": "points", "threshold": 3.0})));
    assert!(!codebook.text.contains("I feel calm"));

    let dictionary = app.get("/api/v1/exports/redcap/dictionary", &admin.token).await;
    let line = dictionary.text.lines().find(|l| l.starts_with("instrument,")).unwrap().to_string();
    assert!(line.contains("dropdown") && line.contains("x_wellbeing, x_wellbeing") && line.contains("madrs, madrs"), "{line}");
    let south = app.admin("South").await;
    assert!(!app.get("/api/v1/exports/redcap/dictionary", &south.token).await.text.contains("x_wellbeing"));
    assert!(!app.get("/api/v1/exports/codebook", &south.token).await.text.contains("x_wellbeing"));
    let records = app.get("/api/v1/exports/redcap/records", &admin.token).await;
    assert!(records.text.lines().any(|l| l.contains("x_wellbeing")), "{}", records.text);
}

#[actix_rt::test]
async fn a_clinic_instrument_is_asked_by_a_link_and_read_in_fhir() {
    use chrono::{Duration, SubsecRound};
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    assert_eq!(app.post("/api/v1/clinic/instruments", &admin.token, wellbeing_definition()).await.status, 201);
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&rfc3339(now - Duration::hours(2)))).await;
    let protocol = json!({"name": "Own", "items": [{"instrument": "x_wellbeing", "offset": "PT2H", "window_before": "PT1H", "window_after": "PT1H", "recall": "NOW"}]});
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol).await;
    assert_eq!(protocol.status, 201, "{}", protocol.text);
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol.id()})).await;
    let due = app.get("/api/v1/due?status=open", &admin.token).await.body["items"][0].clone();
    assert_eq!(due["instrument"], "x_wellbeing");
    let url = app.post(&format!("/api/v1/due/{}/invitation", due["id"].as_str().unwrap()), &admin.token, json!({})).await.body["url"].as_str().unwrap().to_string();
    let token = url.rsplit_once('#').unwrap().1.to_string();
    let opened = app.request(Method::POST, "/api/v1/self-report/open", None, Some(&json!({"token": token})), &[]).await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    assert_eq!((opened.body["title"].clone(), opened.body["items"][0]["text"].clone(), opened.body["items"][0]["options"][3]["label"].clone()), (json!("Clinic well-being check"), json!("I feel calm"), json!("Completely")));
    let sent = app.request(Method::POST, "/api/v1/self-report", None, Some(&json!({"token": token, "items": {"calm": 1, "worried": 1, "tense": 0}})), &[]).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let kept = app.get(&format!("/api/v1/patients/{patient}/assessments"), &admin.token).await;
    assert_eq!((kept.body["items"][0]["total"].clone(), kept.body["items"][0]["rater"].clone()), (json!(3), json!("self")), "calm 1 scores 2");

    let observations = app.get(&format!("/fhir/r4/Observation?patient={patient}&code=x_wellbeing"), &admin.token).await;
    assert_eq!(observations.body["entry"].as_array().unwrap().len(), 1, "{}", observations.text);
    assert_eq!(observations.body["entry"][0]["resource"]["code"]["text"], "Clinic well-being check");
    let questionnaire = app.get("/fhir/r4/Questionnaire/x-wellbeing.1", &admin.token).await;
    assert_eq!((questionnaire.status, questionnaire.body["item"][0]["text"].clone()), (200, json!("I feel calm")), "{}", questionnaire.text);
    let south = app.admin("South").await;
    assert_eq!(app.get("/fhir/r4/Questionnaire/x-wellbeing.1", &south.token).await.status, 404);
    let responses = app.get(&format!("/fhir/r4/QuestionnaireResponse?patient={patient}"), &admin.token).await;
    assert_eq!(responses.body["entry"][0]["resource"]["questionnaire"], "https://onset.example.org/fhir/r4/Questionnaire/x_wellbeing|1");
    let chart = app.get(&format!("/api/v1/patients/{patient}/trajectory.svg"), &admin.token).await;
    assert!(chart.text.contains("Well-being"), "the chart's panel names the clinic's scale");
}

#[actix_rt::test]
async fn a_short_definition_is_filled_and_a_read_one_can_be_sent_back() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    // The least a clinic writes: items with their answers; the scoring as the items it
    // sums and those it reverses; outcome rules without their family.
    let short = json!({
        "code": "x_mood", "title": "Mood check",
        "items": [
            {"code": "low", "text": "I feel low", "options": [{"value": 0, "label": "No"}, {"value": 1, "label": "A bit"}, {"value": 2, "label": "Very"}]},
            {"code": "hopeful", "text": "I feel hopeful", "options": [{"value": 0, "label": "No"}, {"value": 1, "label": "A bit"}, {"value": 2, "label": "Very"}]},
            {"code": "note", "text": "Anything else, 0 to 10", "min": 0, "max": 10, "optional": true}
        ],
        "scoring": {"method": "sum", "items": ["low", "hopeful"], "reverse": ["hopeful"]},
        "outcomes": {"response": {"kind": "points", "threshold": 2}}
    });
    let made = app.post("/api/v1/clinic/instruments", &admin.token, short).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let d = &made.body;
    assert_eq!((d["name"].clone(), d["recalls"].clone(), d["text_source"].clone(), d["self_reportable"].clone()), (json!("Mood check"), json!(["P7D"]), json!("bundled"), json!(true)));
    assert_eq!((d["items"][0]["type"].clone(), d["items"][0]["max"].clone(), d["items"][1]["reverse"].clone(), d["items"][2]["counted"].clone()), (json!("choice"), json!(2), json!(true), json!(false)));
    assert_eq!((d["scoring"].clone(), d["outcomes"]["rules"].clone()), (json!("sum"), json!("definition")));
    let patient = app.patient(&admin).await;
    // low 2, hopeful 0 (reversed: 2): 4; the note is not counted.
    let rated = rate(&app, &admin, &patient, json!({"instrument": "x_mood", "rated_at": BEFORE, "recall": "P7D", "items": {"low": 2, "hopeful": 0, "note": 9}, "rater": "self", "collected_via": "app"})).await;
    assert_eq!(rated.body["total"], 4);
    // What the catalogue shows, sent back with a new title: the next version.
    let mut read = app.get("/api/v1/instruments/x_mood", &admin.token).await.body;
    read["title"] = json!("Mood check, reworded");
    let put = app.request(Method::PUT, "/api/v1/clinic/instruments/x_mood", Some(&admin.token), Some(&read), &[]).await;
    assert_eq!((put.status, put.body["version"].clone(), put.body["title"].clone()), (200, json!(2), json!("Mood check, reworded")), "{}", put.text);
    let unknown = app.post("/api/v1/clinic/instruments", &admin.token, json!({"code": "x_bad", "title": "t", "items": [{"code": "a", "min": 0, "max": 3}], "scoring": {"method": "sum", "items": ["b"]}})).await;
    unknown.assert_problem(422);
    assert_eq!(unknown.error_fields(), ["scoring.items"]);
}
