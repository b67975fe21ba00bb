//! Instruments as definitions (DESIGN.md §8): the catalogue, the bundled PHQ-9 wording,
//! a clinic's licensed wording (checked, versioned, its own only), and the versions a
//! rating keeps.

use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

async fn put_text(app: &TestApp, user: &TestUser, instrument: &str, body: &Value) -> Response {
    app.request(Method::PUT, &format!("/api/v1/clinic/instruments/{instrument}/text"), Some(&user.token), Some(body), &[]).await
}

#[actix_rt::test]
async fn the_catalogue_ships_phq9_wording_and_only_codes_and_labels_of_licensed_instruments() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let researcher = app.user(&admin, "researcher").await;
    let listed = app.get("/api/v1/instruments", &researcher.token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let codes: Vec<&str> = listed.body["items"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["ybocs", "ybocs_sr", "ybocs_ii", "ocd_vas", "phq9", "cssrs_screen", "home_checkin", "gad7", "pcl5", "madrs", "craving_vas"]);
    let phq9 = app.get("/api/v1/instruments/phq9", &admin.token).await;
    assert_eq!((phq9.body["text_source"].clone(), phq9.body["version"].clone(), phq9.body["wording_available"].clone()), (json!("bundled"), json!(1), json!(true)));
    assert_eq!(phq9.body["preamble"], "Over the last 2 weeks, how often have you been bothered by any of the following problems?");
    assert_eq!(phq9.body["items"][0]["text"], "Little interest or pleasure in doing things");
    let anchors: Vec<&str> = phq9.body["items"][8]["options"].as_array().unwrap().iter().map(|o| o["label"].as_str().unwrap()).collect();
    assert_eq!(anchors, ["Not at all", "Several days", "More than half the days", "Nearly every day"]);
    assert_eq!(phq9.body["bands"][3], json!({"min": 15, "max": 19, "label": "moderately severe"}));
    // Licensed: codes, neutral labels and values, never wording.
    let ybocs_sr = app.get("/api/v1/instruments/ybocs_sr", &admin.token).await;
    assert_eq!((ybocs_sr.body["text_source"].clone(), ybocs_sr.body["wording_available"].clone(), ybocs_sr.body["preamble"].clone()), (json!("clinic"), json!(false), Value::Null));
    assert!(ybocs_sr.body["items"].as_array().unwrap().iter().all(|i| i["text"].is_null() && i["options"].as_array().unwrap().iter().all(|o| o["label"].is_null())));
    assert_eq!(ybocs_sr.body["items"][0]["short_label"], "obsessions: time");
    let cssrs = app.get("/api/v1/instruments/cssrs_screen", &admin.token).await;
    assert_eq!(cssrs.body["items"][2]["enable_when"], json!([{"item": "2", "equals": 1}]), "the screener's order is data");
    let vas = app.get("/api/v1/instruments/ocd_vas", &admin.token).await;
    assert_eq!((vas.body["items"][0]["type"].clone(), vas.body["items"][0]["anchors"].is_object()), (json!("vas"), true));
    app.get("/api/v1/instruments/hamd", &admin.token).await.assert_problem(404);
    app.get("/api/v1/instruments/x_unknown", &admin.token).await.assert_problem(404);
    app.request(Method::GET, "/api/v1/instruments", None, None, &[]).await.assert_problem(401);
}

#[actix_rt::test]
async fn a_clinics_wording_is_checked_versioned_audited_and_its_own() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let south = app.admin("South").await;
    let complete = json!({"license_note": "Licence 42", "items": {
        "1": {"text": "Q1"}, "2": {"text": "Q2"}, "3": {"text": "Q3"}, "4": {"text": "Q4"}, "5": {"text": "Q5"}, "6": {"text": "Q6"}, "6_recent": {"text": "Q6r"}}});
    put_text(&app, &clinician, "cssrs_screen", &complete).await.assert_problem(403);
    put_text(&app, &admin, "hamd", &complete).await.assert_problem(404);
    let mut missing = complete.clone();
    missing["items"].as_object_mut().unwrap().remove("6_recent");
    missing["items"]["9"] = json!({"text": "an item it does not have"});
    missing["items"]["1"]["options"] = json!({"1": "Yes, really"});
    let refused = put_text(&app, &admin, "cssrs_screen", &missing).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), ["items.1.options.1", "items.6_recent", "items.9"]);
    let mut empty = complete.clone();
    empty["items"]["2"]["text"] = json!("  ");
    assert_eq!(put_text(&app, &admin, "cssrs_screen", &empty).await.error_fields(), ["items.2.text"]);
    let mut unknown_field = complete.clone();
    unknown_field["wording"] = json!("x");
    put_text(&app, &admin, "cssrs_screen", &unknown_field).await.assert_problem(422);
    assert_eq!(put_text(&app, &admin, "phq9", &complete).await.error_fields(), ["items"], "bundled wording is not replaced");
    // A choice item needs every option's label.
    let ybocs_sr = app.get("/api/v1/instruments/ybocs_sr", &admin.token).await;
    let mut items = serde_json::Map::new();
    for item in ybocs_sr.body["items"].as_array().unwrap() {
        items.insert(item["code"].as_str().unwrap().into(), json!({"text": "Q", "options": {"0": "a", "1": "b", "2": "c", "3": "d"}}));
    }
    let no_fourth = put_text(&app, &admin, "ybocs_sr", &json!({"items": items})).await;
    assert_eq!(no_fourth.error_fields().len(), 18, "each item's option 4: {}", no_fourth.text);
    assert!(no_fourth.error_fields().iter().all(|f| f.ends_with(".options.4")));

    let first = put_text(&app, &admin, "cssrs_screen", &complete).await;
    assert_eq!((first.status, first.body["text_version"].clone(), first.body["wording_available"].clone()), (200, json!(1), json!(true)), "{}", first.text);
    assert_eq!(first.body["items"][0]["text"], "Q1");
    let mut second = complete.clone();
    second["items"]["1"]["text"] = json!("Q1, second wording");
    assert_eq!(put_text(&app, &admin, "cssrs_screen", &second).await.body["text_version"], 2);
    let seen = app.get("/api/v1/instruments/cssrs_screen", &clinician.token).await;
    assert_eq!((seen.body["items"][0]["text"].clone(), seen.body["license_note"].clone()), (json!("Q1, second wording"), json!("Licence 42")));
    // Another clinic sees none of it.
    let theirs = app.get("/api/v1/instruments/cssrs_screen", &south.token).await;
    assert!(theirs.body["items"][0]["text"].is_null() && theirs.body["text_version"].is_null() && !theirs.text.contains("Q1"));
    assert!(!app.get("/api/v1/instruments", &south.token).await.text.contains("Q1"));
    let audit = app.get("/api/v1/audit?action=instrument.text_supply", &admin.token).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 2);
    assert!(!audit.text.contains("Q1"), "the wording stays out of the audit log");
}

/// A rating keeps the definition version it was taken under, and a self-report the
/// wording version its patient saw, after the wording changes; exports never carry the
/// clinic's wording.
#[actix_rt::test]
async fn ratings_keep_the_versions_they_were_taken_under() {
    use chrono::{Duration, SubsecRound};
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&(now - Duration::hours(2)).to_rfc3339())).await;
    let protocol = json!({"name": "Screens", "items": [
        {"instrument": "cssrs_screen", "offset": "PT2H", "window_before": "PT1H", "window_after": "PT1H", "recall": "P1M"},
        {"instrument": "cssrs_screen", "offset": "PT2H30M", "window_before": "PT1H", "window_after": "PT1H", "recall": "P1M"}]});
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    let due: Vec<String> = app.get("/api/v1/due?status=open", &admin.token).await.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(due.len(), 2);
    let answer = |token: String| {
        let app = &app;
        async move {
            let opened = app.request(Method::POST, "/api/v1/self-report/open", None, Some(&json!({"token": token})), &[]).await;
            let sent = app.request(Method::POST, "/api/v1/self-report", None, Some(&json!({"token": token, "items": {"1": 0, "2": 0, "6": 0}})), &[]).await;
            assert_eq!(sent.status, 201, "{}", sent.text);
            opened
        }
    };
    let link = |due: String| {
        let (app, token) = (&app, admin.token.clone());
        async move { app.post(&format!("/api/v1/due/{due}/invitation"), &token, json!({})).await.body["url"].as_str().unwrap().rsplit_once('#').unwrap().1.to_string() }
    };
    app.supply_wording(&admin, "cssrs_screen").await;
    let shown = answer(link(due[0].clone()).await).await;
    assert_eq!((shown.body["text_version"].clone(), shown.body["version"].clone(), shown.body["items"][0]["text"].clone()), (json!(1), json!(1), json!("Clinic question 1")));
    app.supply_wording(&admin, "cssrs_screen").await;
    let again = answer(link(due[1].clone()).await).await;
    assert_eq!(again.body["text_version"], 2);
    let ratings = app.get(&format!("/api/v1/patients/{patient}/assessments"), &admin.token).await;
    let versions: Vec<(Value, Value)> = ratings.body["items"].as_array().unwrap().iter().map(|r| (r["instrument_version"].clone(), r["text_version"].clone())).collect();
    assert_eq!(versions, [(json!(1), json!(1)), (json!(1), json!(2))], "each kept the wording it was asked in");
    // A rating staff enter has a definition version and no wording version.
    let staff = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!((staff.body["instrument_version"].clone(), staff.body["text_version"].clone()), (json!(1), Value::Null));
    let export = app.get("/api/v1/exports/assessments?format=ndjson&instrument=cssrs_screen", &admin.token).await;
    assert!(!export.text.contains("Clinic question"), "the clinic's wording is never exported");
    let rows: Vec<Value> = export.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let exported: Vec<(Value, Value)> = rows.iter().map(|r| (r["instrument_version"].clone(), r["text_version"].clone())).collect();
    assert_eq!(exported, [(json!(1), json!(1)), (json!(1), json!(2))], "the export names each rating's versions");
    let codebook = app.get("/api/v1/exports/codebook", &admin.token).await;
    assert!(codebook.text.contains("\"instrument_version\"") && codebook.text.contains("\"text_version\""), "{}", &codebook.text[..300]);
}

/// FHIR `Questionnaire` per definition version: found by id, url, name and version; the
/// clinic's licensed wording to that clinic only; none of it for researchers.
#[actix_rt::test]
async fn each_definition_is_a_fhir_questionnaire_with_its_clinics_wording_only() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let researcher = app.user(&north, "researcher").await;
    app.supply_wording(&north, "cssrs_screen").await;
    let read = app.get("/fhir/r4/Questionnaire/cssrs-screen.1", &north.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!((read.body["url"].clone(), read.body["version"].clone()), (json!("https://onset.example.org/fhir/r4/Questionnaire/cssrs_screen"), json!("1")));
    assert_eq!(read.body["item"][0]["text"], "Clinic question 1");
    assert_eq!(read.body["item"][3]["enableWhen"][0]["question"], "2");
    let theirs = app.get("/fhir/r4/Questionnaire/cssrs-screen.1", &south.token).await;
    assert_eq!(theirs.body["item"][0]["text"], "wish to be dead", "another clinic sees the neutral label");
    assert!(!theirs.text.contains("Clinic question"));
    let all = app.get("/fhir/r4/Questionnaire", &north.token).await;
    let ids: Vec<&str> = all.body["entry"].as_array().unwrap().iter().map(|e| e["resource"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ybocs.1", "ybocs-sr.1", "ybocs-ii.1", "ocd-vas.1", "phq9.1", "cssrs-screen.1", "home-checkin.1", "gad7.1", "pcl5.1", "madrs.1", "craving-vas.1"]);
    assert!(all.body["entry"][1]["fullUrl"].as_str().unwrap().ends_with("/Questionnaire/ybocs-sr.1"));
    let by_url = app.get("/fhir/r4/Questionnaire?url=https%3A%2F%2Fonset.example.org%2Ffhir%2Fr4%2FQuestionnaire%2Fphq9&version=1", &north.token).await;
    assert_eq!(by_url.body["entry"].as_array().unwrap().len(), 1);
    assert_eq!(by_url.body["entry"][0]["resource"]["code"][0]["code"], "44249-1");
    assert_eq!(app.get("/fhir/r4/Questionnaire?name=ocd_vas&version=2", &north.token).await.body["entry"], json!([]));
    for (path, token, status) in [
        ("/fhir/r4/Questionnaire?title=x", &north.token, 400),
        ("/fhir/r4/Questionnaire/hamd.1", &north.token, 404),
        ("/fhir/r4/Questionnaire/phq9.2", &north.token, 404),
        ("/fhir/r4/Questionnaire", &researcher.token, 403),
    ] {
        let refused = app.get(path, token).await;
        assert_eq!((refused.status, refused.body["resourceType"].clone()), (status, json!("OperationOutcome")), "{path}: {}", refused.text);
    }
}

/// Every itemised rating is a `QuestionnaireResponse` to its definition version, named by
/// its Observation's `derivedFrom`; a paper total has none.
#[actix_rt::test]
async fn itemised_ratings_are_questionnaire_responses_to_their_definition_version() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let patient = app.patient(&north).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(if i == 9 { 0 } else { 1 }))).collect();
    let phq9 = app.post(&ratings, &north.token, json!({"instrument": "phq9", "rated_at": "2026-03-01T09:00:00Z", "recall": "P14D", "items": items, "rater": "self", "collected_via": "app"})).await.id();
    let ybocs = app.post(&ratings, &north.token, rating_body("2026-03-02T09:00:00Z", 20)).await.id();
    let paper = app.post(&ratings, &north.token, json!({"instrument": "ybocs", "rated_at": "2026-03-03T09:00:00Z", "recall": "P7D", "total": 18, "rater": "clinician", "collected_via": "paper"})).await.id();
    let read = app.get(&format!("/fhir/r4/QuestionnaireResponse/{phq9}"), &north.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!((read.body["questionnaire"].clone(), read.body["status"].clone(), read.body["subject"]["reference"].clone()), (json!("https://onset.example.org/fhir/r4/Questionnaire/phq9|1"), json!("completed"), json!(format!("Patient/{patient}"))));
    assert_eq!(read.body["item"][0], json!({"linkId": "1", "answer": [{"valueCoding": {"system": "urn:onset:fhir:CodeSystem:answer", "code": "1", "display": "Several days"}}]}));
    let observation = app.get(&format!("/fhir/r4/Observation/{phq9}"), &north.token).await;
    assert_eq!(observation.body["derivedFrom"], json!([{"reference": format!("QuestionnaireResponse/{phq9}")}]));
    let paper_observation = app.get(&format!("/fhir/r4/Observation/{paper}"), &north.token).await;
    assert!(paper_observation.body.get("derivedFrom").is_none());
    for (path, token, status) in [
        (format!("/fhir/r4/QuestionnaireResponse/{paper}"), &north.token, 404),
        (format!("/fhir/r4/QuestionnaireResponse/{phq9}"), &south.token, 404),
        (format!("/fhir/r4/QuestionnaireResponse?code={}", "x"), &north.token, 400),
    ] {
        assert_eq!(app.get(&path, token).await.status, status, "{path}");
    }
    let ids = |response: &Response| response.body["entry"].as_array().unwrap().iter().map(|e| e["resource"]["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let all = app.get(&format!("/fhir/r4/QuestionnaireResponse?patient={patient}"), &north.token).await;
    assert_eq!(ids(&all), [phq9.clone(), ybocs.clone()], "the paper total has no response");
    let by_questionnaire = app.get("/fhir/r4/QuestionnaireResponse?questionnaire=https%3A%2F%2Fonset.example.org%2Ffhir%2Fr4%2FQuestionnaire%2Fybocs%7C1", &north.token).await;
    assert_eq!(ids(&by_questionnaire), std::slice::from_ref(&ybocs));
    let elsewhere = app.get("/fhir/r4/QuestionnaireResponse?questionnaire=https%3A%2F%2Fother.example%2FQuestionnaire%2Fybocs", &north.token).await;
    assert_eq!(ids(&elsewhere), Vec::<String>::new());
    let authored = app.get("/fhir/r4/QuestionnaireResponse?authored=ge2026-03-02", &north.token).await;
    assert_eq!(ids(&authored), [ybocs]);
    assert_eq!(ids(&app.get("/fhir/r4/QuestionnaireResponse", &south.token).await), Vec::<String>::new());
}
