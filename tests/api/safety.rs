//! Safety instruments beside the OCD ones: PHQ-9 and the C-SSRS screener are scored,
//! banded and followed over time, never judged by the OCD outcome rules.

use serde_json::{Value, json};

use crate::helpers::*;

fn phq9(rated_at: &str, item: u32, item9: u32) -> Value {
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(if i == 9 { item9 } else { item }))).collect();
    json!({"instrument": "phq9", "rated_at": rated_at, "recall": "P14D", "items": items, "rater": "self", "collected_via": "app"})
}

fn cssrs(rated_at: &str, answers: Value) -> Value {
    json!({"instrument": "cssrs_screen", "rated_at": rated_at, "recall": "P1M", "items": answers, "rater": "clinician", "collected_via": "interview"})
}

#[actix_rt::test]
async fn phq9_and_the_cssrs_screener_are_scored_banded_and_followed_over_time() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await;
    // Baseline 18 (moderately severe), then 9 (mild) a day after the first session.
    let before = app.post(&ratings, &admin.token, phq9("2026-03-01T09:00:00Z", 2, 2)).await;
    assert_eq!((before.status, before.body["total"].clone(), before.body["severity"].clone()), (201, json!(18), json!("moderately severe")), "{}", before.text);
    let after = app.post(&ratings, &admin.token, phq9("2026-03-03T09:00:00Z", 1, 1)).await;
    assert_eq!((after.body["total"].clone(), after.body["severity"].clone()), (json!(9), json!("mild")));
    let out_of_range = app.post(&ratings, &admin.token, phq9("2026-03-03T10:00:00Z", 4, 0)).await;
    out_of_range.assert_problem(422);

    // C-SSRS: a method is moderate risk; behaviour within three months is high.
    let moderate = app.post(&ratings, &admin.token, cssrs("2026-03-01T10:00:00Z", json!({"1": 1, "2": 1, "3": 1, "6": 0}))).await;
    assert_eq!((moderate.status, moderate.body["total"].clone(), moderate.body["severity"].clone()), (201, json!(2), json!("moderate")), "{}", moderate.text);
    let when = app.post(&ratings, &admin.token, cssrs("2026-03-03T10:00:00Z", json!({"1": 0, "2": 0, "6": 1}))).await;
    when.assert_problem(422);
    assert_eq!(when.error_fields(), ["items.6_recent"]);
    let high = app.post(&ratings, &admin.token, cssrs("2026-03-03T10:00:00Z", json!({"1": 0, "2": 0, "6": 1, "6_recent": 1}))).await;
    assert_eq!(high.body["severity"], "high");
    let yes_no = app.post(&ratings, &admin.token, cssrs("2026-03-03T11:00:00Z", json!({"1": 2, "2": 0, "6": 0}))).await;
    assert_eq!(yes_no.error_fields(), ["items.1"], "answers are yes (1) or no (0)");

    let trajectory = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    let series = trajectory.body["series"].as_array().unwrap();
    let of = |code: &str| series.iter().find(|s| s["instrument"] == code).unwrap_or_else(|| panic!("no {code} in {series:?}")).clone();
    let depression = of("phq9");
    let last = depression["ratings"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["percent_change"], 50.0, "18 to 9 is half");
    assert_eq!((last["response"].clone(), last["remission"].clone()), (Value::Null, Value::Null), "the OCD rules do not judge depression");
    let risk = of("cssrs_screen");
    let totals: Vec<i64> = risk["ratings"].as_array().unwrap().iter().map(|r| r["total"].as_i64().unwrap()).collect();
    assert_eq!(totals, [2, 3], "risk over time");
    assert!(risk["ratings"].as_array().unwrap().iter().all(|r| r["percent_change"].is_null()), "a risk level has no percent change");
    // Onset analytics stay with the OCD instruments.
    app.get("/api/v1/analytics/onset?instrument=phq9", &admin.token).await.assert_problem(422);
    // The export carries both, with C-SSRS 6_recent.
    let export = app.get("/api/v1/exports/assessments?format=ndjson&instrument=cssrs_screen", &admin.token).await;
    assert!(export.text.contains("\"item_6_recent\":1"), "{}", export.text);
}

async fn alerts_of(app: &TestApp, user: &TestUser, query: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/alerts?limit=500{query}"), &user.token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.body["items"].as_array().unwrap().clone()
}

#[actix_rt::test]
async fn a_self_reported_cssrs_with_intent_raises_a_high_alert_and_shows_the_crisis_text() {
    use chrono::{Duration, SubsecRound};
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let set = app.patch("/api/v1/clinic", &admin.token, json!({"crisis_text": "Call North Clinic's crisis line: 0800 000 000."})).await;
    assert_eq!(set.status, 200, "{}", set.text);
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    let started = (now - Duration::hours(2)).to_rfc3339();
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&started)).await;
    let protocol = json!({"name": "Safety check", "items": [{"instrument": "cssrs_screen", "offset": "PT2H", "window_before": "PT1H", "window_after": "PT1H", "recall": "P1M"}]});
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    let due = app.get("/api/v1/due?status=open", &admin.token).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let link = app.post(&format!("/api/v1/due/{due}/invitation"), &admin.token, json!({})).await;
    let token = link.body["url"].as_str().unwrap().rsplit_once('#').unwrap().1.to_string();
    let asked = app.request(awc::http::Method::POST, "/api/v1/self-report/open", None, Some(&json!({"token": token})), &[]).await;
    let codes: Vec<&str> = asked.body["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["1", "2", "3", "4", "5", "6", "6_recent"], "the follow-up questions are offered too");

    let answers = json!({"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0});
    let sent = app.request(awc::http::Method::POST, "/api/v1/self-report", None, Some(&json!({"token": token, "items": answers})), &[]).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    assert_eq!(sent.body["crisis_text"], "Call North Clinic's crisis line: 0800 000 000.");
    let alerts = alerts_of(&app, &admin, "&status=open").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["kind"].clone(), alerts[0]["level"].clone(), alerts[0]["patient_id"].clone()), (json!("suicidality"), json!("high"), json!(patient)));
}

#[actix_rt::test]
async fn phq9_item_9_raises_one_alert_per_cause_which_a_clinician_acknowledges_with_a_note() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let researcher = app.user(&admin, "researcher").await;
    let patient = app.patient(&admin).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let quiet = app.post(&ratings, &clinician.token, phq9("2026-03-01T09:00:00Z", 1, 0)).await;
    assert_eq!(quiet.status, 201);
    assert!(alerts_of(&app, &clinician, "").await.is_empty(), "no item 9, no alert");
    let rated = app.post(&ratings, &clinician.token, phq9("2026-03-02T09:00:00Z", 1, 1)).await;
    let alerts = alerts_of(&app, &clinician, "&kind=suicidality").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["level"].clone(), alerts[0]["cause_id"].clone()), (json!("moderate"), json!(rated.id())));
    // Amending the rating (or reading it again) raises nothing new.
    let amended = app.patch(&format!("/api/v1/assessments/{}", rated.id()), &clinician.token, json!({"notes": "called the patient", "reason": "note added"})).await;
    assert_eq!(amended.status, 200, "{}", amended.text);
    app.get(&format!("/api/v1/patients/{patient}/trajectory"), &clinician.token).await;
    assert_eq!(alerts_of(&app, &clinician, "").await.len(), 1, "one alert per cause");

    let id = alerts[0]["id"].as_str().unwrap();
    let path = format!("/api/v1/alerts/{id}/acknowledge");
    let silent = app.post(&path, &clinician.token, json!({"note": "  "})).await;
    silent.assert_problem(422);
    assert_eq!(silent.error_fields(), ["note"]);
    app.post(&path, &researcher.token, json!({"note": "seen"})).await.assert_problem(403);
    app.get("/api/v1/alerts", &researcher.token).await.assert_problem(403);
    let south = app.admin("South").await;
    app.post(&path, &south.token, json!({"note": "seen"})).await.assert_problem(404);
    assert!(alerts_of(&app, &south, "").await.is_empty());
    let done = app.post(&path, &clinician.token, json!({"note": "Phoned the patient; safety plan reviewed."})).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!((done.body["status"].clone(), done.body["acknowledged_by"].clone()), (json!("acknowledged"), json!(clinician.id)));
    app.post(&path, &clinician.token, json!({"note": "again"})).await.assert_problem(409);
    assert!(alerts_of(&app, &clinician, "&status=open").await.is_empty());
    let audited = app.get("/api/v1/audit?action=alert.acknowledge", &admin.token).await;
    assert_eq!(audited.body["items"][0]["actor_id"], json!(clinician.id));
    assert!(!audited.text.contains("safety plan"), "the note stays out of the audit log");
}

#[actix_rt::test]
async fn an_ocd_rating_25_percent_above_baseline_raises_worsening() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    app.post(&ratings, &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await;
    let slightly = app.post(&ratings, &admin.token, rating_body("2026-03-03T09:00:00Z", 24)).await;
    assert_eq!(slightly.status, 201);
    assert!(alerts_of(&app, &admin, "&kind=worsening").await.is_empty(), "20 % worse is not yet");
    let worse = app.post(&ratings, &admin.token, rating_body("2026-03-04T09:00:00Z", 25)).await;
    let alerts = alerts_of(&app, &admin, "&kind=worsening").await;
    assert_eq!(alerts.len(), 1, "exactly 25 % worse raises one");
    assert_eq!((alerts[0]["cause_id"].clone(), alerts[0]["detail"]["percent_change"].clone()), (json!(worse.id()), json!(-25.0)));
}

#[actix_rt::test]
async fn an_esketamine_session_missing_its_40_minute_pressure_is_pending_then_overdue() {
    use chrono::{DateTime, Duration, Utc};
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let session = json!({
        "drug": "esketamine", "route": "intranasal", "started_at": "2026-03-02T09:00:00Z", "discharged_at": "2026-03-02T11:15:00Z",
        "dose_mg": 56.0, "lot_number": "SPR-001",
        "vitals": [{"minute": -5, "systolic": 122, "diastolic": 78}, {"minute": 125, "systolic": 128, "diastolic": 80, "spo2": 98}],
        "rems": {"sedation": {"occurred": false}, "dissociation": {"occurred": true, "onset_minute": 10, "resolved_minute": 70},
                 "respiratory_depression": false, "serious_adverse_event": false, "ready_to_leave_minutes": 130, "concomitant_medications": []}
    });
    let created = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, session).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.id();
    let form = app.get(&format!("/api/v1/infusions/{id}/rems-form"), &admin.token).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_eq!(form.body["missing"], json!(["bp_40_min"]), "only the 40-minute pressure is missing");
    assert_eq!(form.body["deadline"], "2026-03-09T09:00:00Z");
    let pending = app.get("/api/v1/rems/pending", &admin.token).await;
    let items = pending.body["items"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["infusion_id"].clone(), items[0]["missing"].clone()), (1, json!(id), json!(["bp_40_min"])));

    // A ketamine session has no REMS form.
    let ketamine = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-03T09:00:00Z")).await.id();
    app.get(&format!("/api/v1/infusions/{ketamine}/rems-form"), &admin.token).await.assert_problem(409);
    // Bad REMS fields are named.
    let bad = app.patch(&format!("/api/v1/infusions/{id}"), &admin.token, json!({"rems": {"dissociation": {"occurred": true, "onset_minute": 70, "resolved_minute": 10}}, "reason": "typo"})).await;
    bad.assert_problem(422);
    assert_eq!(bad.error_fields(), ["rems.dissociation.resolved_minute"]);

    // Seven days on, the scheduler raises rems_overdue once.
    let deadline: DateTime<Utc> = "2026-03-09T09:00:00Z".parse().unwrap();
    app.state.clock.set(deadline - Duration::seconds(1));
    assert_eq!(app.state.tick().await.unwrap().rems_overdue, 0);
    app.state.clock.set(deadline + Duration::seconds(1));
    assert_eq!(app.state.tick().await.unwrap().rems_overdue, 1);
    assert_eq!(app.state.tick().await.unwrap().rems_overdue, 0, "once per session");
    let overdue = alerts_of(&app, &admin, "&kind=rems_overdue").await;
    assert_eq!((overdue.len(), overdue[0]["cause_id"].clone()), (1, json!(id)));
    assert_eq!(app.get("/api/v1/rems/pending", &admin.token).await.body["items"][0]["overdue"], true);
    // Submitting the form takes the session off the pending list.
    let submitted = app.patch(&format!("/api/v1/infusions/{id}"), &admin.token, json!({"rems": {"submitted_at": "2026-03-02T12:00:00Z"}, "reason": "submitted to the REMS"})).await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    assert!(app.get("/api/v1/rems/pending", &admin.token).await.body["items"].as_array().unwrap().is_empty());
}

#[actix_rt::test]
async fn a_relapse_after_confirmed_remission_raises_one_alert() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-01-02T09:00:00Z")).await;
    let rate = |at: &str, total: u32, cgi_s: Option<u32>, cgi_i: Option<u32>| {
        let mut body = rating_body(at, total);
        body["cgi_s"] = json!(cgi_s);
        body["cgi_i"] = json!(cgi_i);
        let (app, token, path) = (&app, admin.token.clone(), ratings.clone());
        async move { app.post(&path, &token, body).await }
    };
    rate("2026-01-01T09:00:00Z", 30, None, None).await;
    rate("2026-01-03T09:00:00Z", 10, Some(2), Some(1)).await;
    let confirmed = rate("2026-01-10T09:00:00Z", 10, Some(2), Some(1)).await;
    rate("2026-01-22T09:00:00Z", 22, None, Some(6)).await;
    assert!(alerts_of(&app, &admin, "&kind=relapse").await.is_empty(), "not yet a month");
    rate("2026-02-21T09:00:00Z", 24, None, Some(6)).await;
    let relapse = alerts_of(&app, &admin, "&kind=relapse").await;
    assert_eq!(relapse.len(), 1, "a month of totals ≥ 13 with CGI-I 6 after remission");
    assert_eq!(relapse[0]["cause_id"], json!(confirmed.id()), "the remission it ended");
    rate("2026-02-25T09:00:00Z", 25, None, Some(6)).await;
    assert_eq!(alerts_of(&app, &admin, "&kind=relapse").await.len(), 1, "one relapse, one alert");
}
