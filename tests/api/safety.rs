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
    let moderate = app.post(&ratings, &admin.token, cssrs("2026-03-01T10:00:00Z", json!({"1": 1, "2": 1, "3": 1, "4": 0, "5": 0, "6": 0}))).await;
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
    assert_eq!(app.supply_wording(&admin, "cssrs_screen").await.status, 200);
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

// ---- Clinical safety rules, second pass (issue 24) ----

/// The `alert.raised` events written to the outbox, oldest first: what webhooks carry.
async fn alert_events(app: &TestApp) -> Vec<Value> {
    let pool = app.state.pool.clone();
    let payloads: Vec<onset::db::DbJson> = actix_web::web::block(move || {
        use diesel::prelude::*;
        use onset::db::schema::outbox as o;
        o::table.filter(o::event.eq("alert.raised")).order(o::id.asc()).select(o::payload).load(&mut **pool.get().unwrap()).unwrap()
    })
    .await
    .unwrap();
    payloads.into_iter().map(|p| p.0["data"].clone()).collect()
}

/// A clinic with a webhook subscribed to `alert.raised` (never delivered in these tests),
/// its admin and a patient.
async fn watched_clinic(app: &TestApp) -> (TestUser, String) {
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": "http://127.0.0.1:9/hooks", "events": ["alert.raised"]})).await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let patient = app.patient(&admin).await;
    (admin, patient)
}

/// A self-report link for a C-SSRS screener due now, and its token.
async fn cssrs_link(app: &TestApp, admin: &TestUser, patient: &str) -> String {
    use chrono::{Duration, SubsecRound};
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&(now - Duration::hours(2)).to_rfc3339())).await;
    let protocol = json!({"name": "Safety check", "items": [{"instrument": "cssrs_screen", "offset": "PT2H", "window_before": "PT1H", "window_after": "PT1H", "recall": "P1M"}]});
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    let due = app.get("/api/v1/due?status=open", &admin.token).await.body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(app.supply_wording(admin, "cssrs_screen").await.status, 200);
    let link = app.post(&format!("/api/v1/due/{due}/invitation"), &admin.token, json!({})).await;
    link.body["url"].as_str().unwrap().rsplit_once('#').unwrap().1.to_string()
}

async fn self_report(app: &TestApp, body: Value) -> Response {
    app.request(awc::http::Method::POST, "/api/v1/self-report", None, Some(&body), &[]).await
}

/// Columbia Lighthouse Project, "C-SSRS Screener with Triage Points": "If YES to 2, ask
/// questions 3, 4, 5, and 6. If NO to 2, go directly to question 6." A screener is never
/// a bare total: on the clinician's API and through a patient's link, each refusal names
/// the item, raises nothing and leaves the link usable.
#[actix_rt::test]
async fn a_cssrs_out_of_order_or_as_a_bare_total_is_refused_on_every_path() {
    let app = spawn_app().await;
    let (admin, patient) = watched_clinic(&app).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let cases: [(Value, Value, &[&str]); 4] = [
        (json!({"1": 1, "2": 1, "6": 0}), Value::Null, &["items.3", "items.4", "items.5"]),
        (json!({"1": 0, "2": 0, "4": 1, "6": 0}), Value::Null, &["items.4"]),
        (json!({"1": 0, "2": 0, "6": 0, "6_recent": 1}), Value::Null, &["items.6_recent"]),
        (Value::Null, json!(3), &["items"]),
    ];
    for (items, total, named) in &cases {
        let mut body = cssrs("2026-03-01T10:00:00Z", items.clone());
        body["total"] = total.clone();
        let refused = app.post(&ratings, &admin.token, body).await;
        refused.assert_problem(422);
        assert_eq!(refused.error_fields(), *named, "{items} {total}");
    }
    let token = cssrs_link(&app, &admin, &patient).await;
    let opened = app.request(awc::http::Method::POST, "/api/v1/self-report/open", None, Some(&json!({"token": token})), &[]).await;
    let follow_ups: Vec<(String, Value)> = opened.body["items"].as_array().unwrap().iter().map(|i| (i["code"].as_str().unwrap().to_string(), i["enable_when"].clone())).collect();
    assert_eq!(follow_ups[2], ("3".to_string(), json!([{"item": "2", "equals": 1}])), "the page is told what item 3 follows");
    assert_eq!(follow_ups[6], ("6_recent".to_string(), json!([{"item": "6", "equals": 1}])));
    for (items, total, named) in &cases {
        let refused = self_report(&app, json!({"token": token, "items": items, "total": total})).await;
        refused.assert_problem(422);
        assert_eq!(refused.error_fields(), *named, "link: {items} {total}");
    }
    assert!(alerts_of(&app, &admin, "").await.is_empty() && alert_events(&app).await.is_empty(), "nothing stored, nothing raised");
    // The link still works: the screener asked in order is taken and alerts.
    let answered = self_report(&app, json!({"token": token, "items": {"1": 1, "2": 1, "3": 0, "4": 1, "5": 0, "6": 0}})).await;
    assert_eq!(answered.status, 201, "{}", answered.text);
    assert!(answered.body["crisis_text"].is_string(), "intent is high risk: the crisis text at once");
    let raised = alert_events(&app).await;
    assert_eq!((raised.len(), raised[0]["level"].clone()), (1, json!("high")));
}

/// DESIGN.md §6: "An amendment that raises a rating's risk raises a new open alert at
/// the new level (the old one stays in the history)"; lowering raises nothing.
#[actix_rt::test]
async fn an_amendment_that_raises_the_risk_raises_a_new_alert_and_lowering_raises_none() {
    let app = spawn_app().await;
    let (admin, patient) = watched_clinic(&app).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    // C-SSRS: a method (moderate), acknowledged; then amended to intent (high).
    let screen = app.post(&ratings, &admin.token, cssrs("2026-03-01T10:00:00Z", json!({"1": 1, "2": 1, "3": 1, "4": 0, "5": 0, "6": 0}))).await;
    assert_eq!(screen.body["severity"], "moderate", "{}", screen.text);
    let first = alerts_of(&app, &admin, "").await;
    assert_eq!((first.len(), first[0]["level"].clone()), (1, json!("moderate")));
    let acknowledged = app.post(&format!("/api/v1/alerts/{}/acknowledge", first[0]["id"].as_str().unwrap()), &admin.token, json!({"note": "Safety plan made."})).await;
    assert_eq!(acknowledged.status, 200, "{}", acknowledged.text);
    let path = format!("/api/v1/assessments/{}", screen.id());
    let higher = app.patch(&path, &admin.token, json!({"items": {"4": 1}, "reason": "intent disclosed on review"})).await;
    assert_eq!(higher.body["severity"], "high", "{}", higher.text);
    let history = alerts_of(&app, &admin, "&kind=suicidality").await;
    let levels: Vec<(Value, Value)> = history.iter().map(|a| (a["level"].clone(), a["status"].clone())).collect();
    assert_eq!(levels, [(json!("high"), json!("open")), (json!("moderate"), json!("acknowledged"))], "newest first: both kept");
    assert!(history.iter().all(|a| a["cause_id"] == json!(screen.id())));
    // Lowering to low (no to 2: items 3–5 must go, as the screener asks) raises nothing;
    // leaving them in is refused by name.
    let kept = app.patch(&path, &admin.token, json!({"items": {"2": 0}, "reason": "misheard"})).await;
    assert_eq!(kept.error_fields(), ["items.3", "items.4", "items.5"]);
    let lower = app.patch(&path, &admin.token, json!({"items": {"2": 0, "3": null, "4": null, "5": null}, "reason": "misheard"})).await;
    assert_eq!((lower.status, lower.body["severity"].clone()), (200, json!("low")), "{}", lower.text);
    // Raised again to high: the cause already raised a high alert, so nothing new.
    app.patch(&path, &admin.token, json!({"items": {"2": 1, "3": 0, "4": 1, "5": 0}, "reason": "restored"})).await;
    assert_eq!(alerts_of(&app, &admin, "&kind=suicidality").await.len(), 2);

    // PHQ-9 item 9 from 1 (moderate) to 3 (high): a new alert, with its webhook.
    let phq = app.post(&ratings, &admin.token, phq9("2026-03-02T09:00:00Z", 1, 1)).await;
    app.patch(&format!("/api/v1/assessments/{}", phq.id()), &admin.token, json!({"items": {"9": 3}, "reason": "corrected"})).await;
    app.patch(&format!("/api/v1/assessments/{}", phq.id()), &admin.token, json!({"items": {"9": 2}, "reason": "corrected again"})).await;
    let of_phq: Vec<Value> = alerts_of(&app, &admin, "").await.into_iter().filter(|a| a["cause_id"] == json!(phq.id())).map(|a| a["level"].clone()).collect();
    assert_eq!(of_phq, [json!("high"), json!("moderate")]);
    let events: Vec<(Value, Value)> = alert_events(&app).await.iter().map(|e| (e["cause_id"].clone(), e["level"].clone())).collect();
    assert_eq!(events, [(json!(screen.id()), json!("moderate")), (json!(screen.id()), json!("high")), (json!(phq.id()), json!("moderate")), (json!(phq.id()), json!("high"))]);
}

/// Kroenke, Spitzer & Williams 2001: nine items, each 0–3. Items 1–8 reach at most 24,
/// so a bare total of 25 proves item 9 ≥ 1 (moderate), 26 proves ≥ 2 (high); at 24 or
/// below item 9 is unknown, and the rating and its trajectory row say so.
#[actix_rt::test]
async fn a_bare_phq9_total_alerts_from_25_and_says_item_9_is_unknown_below() {
    let app = spawn_app().await;
    let (admin, patient) = watched_clinic(&app).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let bare = |at: &str, total: u32| json!({"instrument": "phq9", "rated_at": at, "recall": "P14D", "total": total, "rater": "clinician", "collected_via": "paper"});
    let unknown = app.post(&ratings, &admin.token, bare("2026-03-01T09:00:00Z", 24)).await;
    assert_eq!((unknown.status, unknown.body["item_9_unknown"].clone()), (201, json!(true)), "{}", unknown.text);
    assert!(alerts_of(&app, &admin, "").await.is_empty(), "24 proves nothing about item 9");
    let proven = app.post(&ratings, &admin.token, bare("2026-03-02T09:00:00Z", 25)).await;
    assert_eq!(proven.body["item_9_unknown"], false);
    let most = app.post(&ratings, &admin.token, bare("2026-03-03T09:00:00Z", 26)).await;
    let itemised = app.post(&ratings, &admin.token, phq9("2026-03-04T09:00:00Z", 1, 0)).await;
    assert_eq!(itemised.body["item_9_unknown"], false, "item 9 answered no");
    let raised: Vec<(Value, Value)> = alerts_of(&app, &admin, "&kind=suicidality").await.iter().map(|a| (a["cause_id"].clone(), a["level"].clone())).collect();
    assert_eq!(raised, [(json!(most.id()), json!("high")), (json!(proven.id()), json!("moderate"))]);
    assert_eq!(alert_events(&app).await.len(), 2);
    let trajectory = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    let rows = trajectory.body["series"].as_array().unwrap().iter().find(|s| s["instrument"] == "phq9").unwrap()["ratings"].clone();
    let flags: Vec<Value> = rows.as_array().unwrap().iter().map(|r| r["item_9_unknown"].clone()).collect();
    assert_eq!(flags, [json!(true), json!(false), json!(false), json!(false)]);
    assert_eq!(app.get(&format!("/api/v1/assessments/{}", unknown.id()), &admin.token).await.body["item_9_unknown"], true);
}

/// DESIGN.md §6: "worsening is re-judged for a patient's ratings when their baseline
/// changes, like relapse": a baseline entered late, or a session moved, flags the earlier
/// ratings it makes ≥ 25 % worse.
#[actix_rt::test]
async fn worsening_is_judged_again_when_a_late_baseline_or_a_moved_session_changes_it() {
    let app = spawn_app().await;
    let (admin, patient) = watched_clinic(&app).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let session = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await.id();
    let day_two = app.post(&ratings, &admin.token, rating_body("2026-03-03T09:00:00Z", 25)).await.id();
    let day_three = app.post(&ratings, &admin.token, rating_body("2026-03-04T09:00:00Z", 24)).await.id();
    assert!(alerts_of(&app, &admin, "").await.is_empty(), "no baseline, no change, no worsening");
    // The baseline, entered late: 20 makes day two's 25 exactly 25 % worse, day three's 24 not.
    app.post(&ratings, &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    let worse = alerts_of(&app, &admin, "&kind=worsening").await;
    assert_eq!(worse.len(), 1);
    assert_eq!((worse[0]["cause_id"].clone(), worse[0]["detail"]["percent_change"].clone()), (json!(day_two), json!(-25.0)));
    // A day-one rating of 19 before the session is moved later makes it the baseline:
    // 24 is now 26 % worse. The session moves; day three is judged again.
    app.post(&ratings, &admin.token, rating_body("2026-03-02T12:00:00Z", 19)).await;
    assert_eq!(alerts_of(&app, &admin, "&kind=worsening").await.len(), 1, "still after the session: not the baseline");
    let moved = app.patch(&format!("/api/v1/infusions/{session}"), &admin.token, json!({"started_at": "2026-03-02T15:00:00Z", "reason": "time corrected"})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let causes: Vec<Value> = alerts_of(&app, &admin, "&kind=worsening").await.iter().map(|a| a["cause_id"].clone()).collect();
    assert_eq!(causes, [json!(day_three), json!(day_two)], "newest first; the earlier alert stays");
    assert_eq!(alert_events(&app).await.len(), 2, "each with its webhook");
    // Judged again on every later write, nothing is raised twice.
    app.post(&ratings, &admin.token, rating_body("2026-03-05T09:00:00Z", 10)).await;
    assert_eq!(alerts_of(&app, &admin, "&kind=worsening").await.len(), 2);
}

/// FDA, SPRAVATO REMS: "Patients are monitored for at least two hours and until
/// resolution of sedation, dissociation and respiratory depression".
#[actix_rt::test]
async fn the_rems_form_needs_episode_minutes_a_resolution_before_discharge_and_two_hours() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let session = |discharged: &str, sedation: Value, dissociation: Value| json!({
        "drug": "esketamine", "route": "intranasal", "started_at": "2026-03-02T09:00:00Z", "discharged_at": discharged,
        "dose_mg": 56.0, "lot_number": "SPR-001",
        "vitals": [{"minute": -5, "systolic": 122, "diastolic": 78}, {"minute": 40, "systolic": 135, "diastolic": 85}, {"minute": 105, "systolic": 128, "diastolic": 80}],
        "rems": {"sedation": sedation, "dissociation": dissociation, "respiratory_depression": false, "serious_adverse_event": false, "ready_to_leave_minutes": 100, "concomitant_medications": []}
    });
    let missing = |body: Value| {
        let (app, token, patient) = (&app, admin.token.clone(), patient.clone());
        async move {
            let created = app.post(&format!("/api/v1/patients/{patient}/infusions"), &token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            app.get(&format!("/api/v1/infusions/{}/rems-form", created.id()), &token).await.body["missing"].clone()
        }
    };
    let no = json!({"occurred": false});
    assert_eq!(missing(session("2026-03-02T11:00:00Z", json!({"occurred": true}), no.clone())).await, json!(["sedation_onset_minute", "sedation_resolved_minute"]), "occurred alone is incomplete");
    assert_eq!(missing(session("2026-03-02T11:00:00Z", no.clone(), json!({"occurred": true, "onset_minute": 5, "resolved_minute": 121}))).await, json!(["dissociation_resolved_after_discharge"]), "discharged at minute 120, resolved at 121");
    assert_eq!(missing(session("2026-03-02T11:00:00Z", no.clone(), json!({"occurred": true, "onset_minute": 5, "resolved_minute": 120}))).await, json!([]), "resolved at discharge, 2 h after the dose: complete");
    assert_eq!(missing(session("2026-03-02T10:59:00Z", no.clone(), no.clone())).await, json!(["discharged_before_2_hours"]), "a minute short of 2 hours");
}
