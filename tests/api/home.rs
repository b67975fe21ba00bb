//! Doses taken at home (DESIGN.md §10): a plan, a dose link, the pre-dose check and its
//! gates (all the server's), the dose recorded as the patient's session with its ratings
//! planned from the moment it was taken, the alerts and webhooks that tell the clinic,
//! and the reminder at a window's midpoint. Time moves by the test's clock.

use awc::http::Method;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::webhooks::{Receiver, verified, verified_signature};

/// A plan from yesterday for a month: two sublingual doses at least three days apart.
fn plan_body(now: DateTime<Utc>) -> Value {
    json!({
        "drug": "ketamine", "route": "sublingual", "dose_mg": 200.0, "doses_allowed": 2, "min_interval": "P3D",
        "starts_at": rfc3339(now - Duration::days(1)), "ends_at": rfc3339(now + Duration::days(30)),
    })
}

const CALM: fn() -> Value = || json!({"systolic": 124, "diastolic": 78, "heart_rate": 72, "monitor_present": true});

struct Home {
    app: TestApp,
    admin: TestUser,
    clinician: TestUser,
    patient: String,
    now: DateTime<Utc>,
}

async fn home() -> Home {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    Home { app, admin, clinician, patient, now }
}

impl Home {
    async fn plan(&self, body: Value) -> Response {
        self.app.post(&format!("/api/v1/patients/{}/home-plans", self.patient), &self.clinician.token, body).await
    }

    /// A dose link's token, taken from the fragment of its URL.
    async fn link(&self, plan: &str) -> String {
        let issued = self.app.post(&format!("/api/v1/home-plans/{plan}/invitation"), &self.clinician.token, json!({})).await;
        assert_eq!(issued.status, 201, "{}", issued.text);
        let url = issued.body["url"].as_str().unwrap();
        assert!(url.contains("/r/#"), "the token travels in the fragment: {url}");
        url.rsplit_once('#').unwrap().1.to_string()
    }

    async fn public(&self, path: &str, body: Value) -> Response {
        self.app.request(Method::POST, path, None, Some(&body), &[]).await
    }

    async fn check(&self, token: &str, reading: Value) -> Response {
        let mut body = reading;
        body["token"] = json!(token);
        self.public("/api/v1/self-report/dose-check", body).await
    }

    async fn dose(&self, token: &str, taken_at: DateTime<Utc>) -> Response {
        self.public("/api/v1/self-report/dose", json!({"token": token, "taken_at": rfc3339(taken_at)})).await
    }

    async fn view(&self, plan: &str) -> Value {
        let shown = self.app.get(&format!("/api/v1/home-plans/{plan}"), &self.clinician.token).await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        shown.body
    }

    async fn sessions(&self) -> Vec<Value> {
        self.app.get(&format!("/api/v1/patients/{}/infusions", self.patient), &self.clinician.token).await.body["items"].as_array().unwrap().clone()
    }
}

async fn deliver_all(app: &TestApp) {
    while app.state.webhooks.run_once(&app.state).await.unwrap() > 0 {}
}

#[actix_rt::test]
async fn a_dose_link_checks_in_goes_and_records_the_patients_session_with_its_ratings_planned_from_taken_at() {
    let h = home().await;
    let receiver = Receiver::start(0);
    let events = ["home_dose.recorded", "home_dose.blocked", "invitation.created"];
    let hook = h.app.post("/api/v1/webhooks", &h.admin.token, json!({"url": receiver.url, "events": events})).await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    let protocol = h.app.post("/api/v1/protocols", &h.admin.token, protocol_body()).await.id();
    let mut body = plan_body(h.now);
    body["protocol_id"] = json!(protocol);
    let plan = h.plan(body).await;
    assert_eq!(plan.status, 201, "{}", plan.text);
    assert_eq!(plan.body["vitals_limits"], json!({"systolic_max": 160, "diastolic_max": 90, "heart_rate_max": 100}), "the defaults");
    assert_eq!((plan.body["monitor_required"].clone(), plan.body["doses_used"].clone(), plan.body["doses_left"].clone()), (json!(true), json!(0), json!(2)));
    let plan = plan.id();
    let attached = h.app.get(&format!("/api/v1/patients/{}/protocols", h.patient), &h.clinician.token).await;
    assert_eq!(attached.body["items"][0]["protocol_id"], protocol.as_str(), "the plan's protocol is attached: {}", attached.text);

    let token = h.link(&plan).await;
    let opened = h.public("/api/v1/self-report/open", json!({"token": token})).await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    assert_eq!((opened.body["kind"].as_str(), opened.body["dose_mg"].as_f64(), opened.body["route"].as_str()), (Some("dose"), Some(200.0), Some("sublingual")));
    assert!(opened.body["vas"]["text"].as_str().is_some_and(|t| !t.is_empty()), "the VAS with its wording");
    assert!(!opened.text.contains(&h.patient), "no patient id on the page");

    // The dose needs a go first.
    let early = h.dose(&token, h.now).await;
    early.assert_problem(409);
    let mut reading = CALM();
    reading["vas"] = json!(62);
    let go = h.check(&token, reading).await;
    assert_eq!(go.status, 200, "{}", go.text);
    assert_eq!(go.body, json!({"go": true}));

    h.app.state.clock.advance(Duration::minutes(5));
    let taken_at = h.now + Duration::minutes(3);
    let recorded = h.dose(&token, taken_at).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    assert_eq!((recorded.body["doses_left"].clone(), time(&recorded.body["next_allowed_at"])), (json!(1), taken_at + Duration::days(3)));
    h.dose(&token, taken_at).await.assert_problem(404);

    let sessions = h.sessions().await;
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!((session["guidance"].as_str(), session["recorded_by"].as_str(), session["home_plan_id"].as_str()), (Some("self_guided"), Some("patient"), Some(plan.as_str())));
    assert_eq!((session["drug"].as_str(), session["route"].as_str(), session["dose_mg"].as_f64()), (Some("ketamine"), Some("sublingual"), Some(200.0)));
    assert_eq!(time(&session["started_at"]), taken_at);
    assert_eq!(session["vitals"], json!([{"minute": 0, "systolic": 124, "diastolic": 78, "heart_rate": 72}]));
    // An amendment by staff keeps who recorded it and under which plan.
    let amended = h.app.patch(&format!("/api/v1/infusions/{}", session["id"].as_str().unwrap()), &h.clinician.token, json!({"notes": "called the patient", "reason": "follow-up"})).await;
    assert_eq!((amended.status, amended.body["recorded_by"].as_str(), amended.body["home_plan_id"].as_str()), (200, Some("patient"), Some(plan.as_str())));

    // The VAS given with the check is a rating of the patient, before the dose.
    let ratings = h.app.get(&format!("/api/v1/patients/{}/assessments", h.patient), &h.clinician.token).await.body["items"].as_array().unwrap().clone();
    assert_eq!(ratings.len(), 1);
    assert_eq!((ratings[0]["instrument"].as_str(), ratings[0]["total"].as_u64(), ratings[0]["rater"].as_str()), (Some("ocd_vas"), Some(62), Some("self")));
    assert!(time(&ratings[0]["rated_at"]) <= taken_at);

    // The protocol's ratings count from the moment the dose was taken.
    let due = h.app.get(&format!("/api/v1/patients/{}/due", h.patient), &h.clinician.token).await.body["items"].as_array().unwrap().clone();
    let vas = due.iter().find(|d| d["instrument"] == "ocd_vas").expect("the +2 h VAS");
    assert_eq!(time(&vas["due_at"]), taken_at + Duration::hours(2));
    let day = due.iter().find(|d| d["instrument"] == "ybocs_sr").expect("the day-1 rating");
    assert_eq!(time(&day["due_at"]), taken_at + Duration::days(1));

    // A patient rated 40 min after the dose taken at home: the cohort filtered to
    // self-guided first sessions counts the hours from the moment it was taken.
    let later = json!({"instrument": "ocd_vas", "rated_at": rfc3339(taken_at + Duration::minutes(1)), "recall": "NOW", "items": {"1": 30}, "rater": "self", "collected_via": "app"});
    assert_eq!(h.app.post(&format!("/api/v1/patients/{}/assessments", h.patient), &h.clinician.token, later).await.status, 201);
    let cohort = |guidance: &str| format!("/api/v1/analytics/onset?instrument=ocd_vas&endpoint=response&guidance={guidance}");
    let onset = h.app.get(&cohort("self_guided"), &h.clinician.token).await;
    assert_eq!(onset.body["n_patients"], json!(1), "{}", onset.text);
    let hours = onset.body["km"].as_array().and_then(|rows| rows.iter().find(|r| r["events"].as_u64() > Some(0))).map(|r| r["hours"].as_f64().unwrap());
    assert!(hours.is_some_and(|h| (h - 1.0 / 60.0).abs() < 1e-6), "response a minute after taken_at: {}", onset.text);
    assert_eq!(h.app.get(&cohort("guided"), &h.clinician.token).await.body["n_patients"], json!(0));

    let shown = h.view(&plan).await;
    assert_eq!((shown["doses_used"].clone(), shown["doses_left"].clone()), (json!(1), json!(1)));
    assert_eq!((time(&shown["last_dose_at"]), time(&shown["next_allowed_at"])), (taken_at, taken_at + Duration::days(3)));

    deliver_all(&h.app).await;
    let bodies: Vec<Value> = receiver.got().iter().map(|m| verified(&secret, m)).collect();
    let recorded_event = bodies.iter().find(|b| b["type"] == "home_dose.recorded").unwrap_or_else(|| panic!("{bodies:?}"));
    assert_eq!(recorded_event["data"]["home_plan_id"], plan.as_str());
    assert_eq!(recorded_event["data"]["infusion_id"], session["id"]);
    assert_eq!(time(&recorded_event["data"]["taken_at"]), taken_at);
    let invited = bodies.iter().find(|b| b["type"] == "invitation.created").unwrap();
    assert!(invited["data"]["url"].as_str().unwrap().ends_with(&token), "the gateway gets the link");
    assert!(bodies.iter().all(|b| b["type"] != "home_dose.blocked"));
}

#[actix_rt::test]
async fn every_gate_is_held_by_the_server() {
    let h = home().await;
    let receiver = Receiver::start(0);
    let hook = h.app.post("/api/v1/webhooks", &h.admin.token, json!({"url": receiver.url, "events": ["home_dose.blocked", "alert.raised"]})).await;
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    h.app.patch("/api/v1/clinic", &h.admin.token, json!({"home_dose_advice": "Do not dose. Call Dr North on 555 0100."})).await;
    let plan = h.plan(plan_body(h.now)).await.id();
    let first = h.link(&plan).await;
    let second = h.link(&plan).await;
    let third = h.link(&plan).await;

    // Vitals: one above a limit blocks, raises an alert, tells the gateway; the link stays usable.
    let high = h.check(&first, json!({"systolic": 161, "diastolic": 80, "heart_rate": 70, "monitor_present": true})).await;
    assert_eq!(high.status, 200, "{}", high.text);
    assert_eq!((high.body["go"].clone(), high.body["reason"].as_str()), (json!(false), Some("vitals_out_of_range")));
    assert_eq!(high.body["advice"], "Do not dose. Call Dr North on 555 0100.");
    h.dose(&first, h.now).await.assert_problem(409);
    let alerts = h.app.get(&format!("/api/v1/alerts?patient_id={}", h.patient), &h.clinician.token).await;
    let blocked: Vec<&Value> = alerts.body["items"].as_array().unwrap().iter().filter(|a| a["kind"] == "home_dose_blocked").collect();
    assert_eq!(blocked.len(), 1, "{}", alerts.text);
    assert_eq!((blocked[0]["level"].as_str(), blocked[0]["detail"]["vitals"]["systolic"].as_u64()), (Some("moderate"), Some(161)));
    let crisis = h.check(&first, json!({"systolic": 150, "diastolic": 121, "heart_rate": 70, "monitor_present": true})).await;
    assert_eq!(crisis.body["reason"], "vitals_out_of_range");
    let levels: Vec<String> = h.app.get("/api/v1/alerts?kind=home_dose_blocked", &h.clinician.token).await.body["items"].as_array().unwrap().iter().map(|a| a["level"].as_str().unwrap().to_string()).collect();
    assert_eq!(levels, ["high", "moderate"], "past 180/120 is a hypertensive crisis");
    for (reading, limit) in [(json!({"systolic": 160, "diastolic": 90, "heart_rate": 100}), "at the limits"), (json!({"heart_rate": 101}), "pulse")] {
        let mut body = CALM();
        body.as_object_mut().unwrap().extend(reading.as_object().unwrap().clone());
        let judged = h.check(&first, body).await;
        assert_eq!(judged.body["go"], json!(limit == "at the limits"), "{limit}: {}", judged.text);
    }
    let alone = h.check(&first, json!({"systolic": 120, "diastolic": 80, "heart_rate": 70, "monitor_present": false})).await;
    assert_eq!(alone.body["reason"], "monitor_absent");
    assert!(alone.body.get("advice").is_some());

    // A go, then the dose: the next link is too soon, with the time it is allowed.
    assert_eq!(h.check(&first, CALM()).await.body["go"], json!(true));
    assert_eq!(h.dose(&first, h.now).await.status, 201);
    let soon = h.check(&second, CALM()).await;
    assert_eq!((soon.body["reason"].as_str(), time(&soon.body["next_allowed_at"])), (Some("too_soon"), h.now + Duration::days(3)));
    h.app.state.clock.advance(Duration::days(3));
    assert_eq!(h.check(&second, CALM()).await.body["go"], json!(true), "exactly the interval later");
    // A go stands for 30 minutes, and taken_at lies between the check and now.
    h.app.state.clock.advance(Duration::minutes(10));
    let at = h.now + Duration::days(3);
    h.dose(&second, at - Duration::minutes(2)).await.assert_problem(422);
    h.dose(&second, at + Duration::minutes(20)).await.assert_problem(422);
    h.app.state.clock.advance(Duration::minutes(21));
    h.dose(&second, at + Duration::minutes(5)).await.assert_problem(409);
    assert_eq!(h.check(&second, CALM()).await.body["go"], json!(true));
    let recorded = h.dose(&second, at + Duration::minutes(31)).await;
    assert_eq!((recorded.status, recorded.body["doses_left"].clone(), recorded.body["next_allowed_at"].clone()), (201, json!(0), Value::Null));
    // Every dose used: the third link is told so, and no new link is issued.
    h.app.state.clock.advance(Duration::days(4));
    let none_left = h.check(&third, CALM()).await;
    assert_eq!(none_left.body["reason"], "no_doses_left");
    h.app.post(&format!("/api/v1/home-plans/{plan}/invitation"), &h.clinician.token, json!({})).await.assert_problem(409);

    // A plan not yet in force, and one entered in error.
    let mut later = plan_body(h.app.state.clock.now());
    later["starts_at"] = json!(rfc3339(h.app.state.clock.now() + Duration::days(2)));
    let later = h.plan(later).await.id();
    let early = h.link(&later).await;
    assert_eq!(h.check(&early, CALM()).await.body["reason"], "plan_not_active");
    let retracted = h.app.delete(&format!("/api/v1/home-plans/{later}"), &h.clinician.token, json!({"reason": "wrong patient"})).await;
    assert_eq!((retracted.status, retracted.body["status"].as_str(), retracted.body["next_allowed_at"].clone()), (200, Some("entered_in_error"), Value::Null));
    h.app.state.clock.advance(Duration::days(3));
    assert_eq!(h.check(&early, CALM()).await.body["reason"], "plan_not_active");

    deliver_all(&h.app).await;
    let bodies: Vec<Value> = receiver.got().iter().map(|m| verified_signature(&secret, m)).collect();
    let reasons: Vec<&str> = bodies.iter().filter(|b| b["type"] == "home_dose.blocked").map(|b| b["data"]["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.iter().filter(|r| **r == "vitals_out_of_range").count(), 3, "{reasons:?}");
    for reason in ["monitor_absent", "too_soon", "no_doses_left", "plan_not_active"] {
        assert!(reasons.contains(&reason), "{reason} in {reasons:?}");
    }
    assert_eq!(bodies.iter().filter(|b| b["type"] == "alert.raised" && b["data"]["kind"] == "home_dose_blocked").count(), 3, "161, 150/121 and a pulse of 101");
}

#[actix_rt::test]
async fn bad_plans_and_bad_checks_are_refused_by_field_and_a_dead_link_answers_like_any_other() {
    let h = home().await;
    let mut esketamine = plan_body(h.now);
    esketamine["drug"] = json!("esketamine");
    esketamine["route"] = json!("intranasal");
    let refused = h.plan(esketamine).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), ["drug"]);
    let mut bad = plan_body(h.now);
    bad["doses_allowed"] = json!(25);
    bad["min_interval"] = json!("P1M");
    bad["vitals_limits"] = json!({"systolic_max": 300});
    bad["protocol_id"] = json!(uuid::Uuid::now_v7());
    let refused = h.plan(bad).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), ["doses_allowed", "min_interval", "vitals_limits.systolic_max"]);
    let mut stranger = plan_body(h.now);
    stranger["protocol_id"] = json!(uuid::Uuid::now_v7());
    assert_eq!(h.plan(stranger).await.error_fields(), ["protocol_id"]);

    let plan = h.plan(plan_body(h.now)).await.id();
    let token = h.link(&plan).await;
    let bad_reading = h.check(&token, json!({"systolic": 400, "diastolic": "high", "monitor_present": true, "vas": 101})).await;
    bad_reading.assert_problem(422);
    assert_eq!(bad_reading.error_fields(), ["systolic", "diastolic", "heart_rate", "vas"]);
    h.public("/api/v1/self-report/dose", json!({"token": token})).await.assert_problem(422);
    h.public("/api/v1/self-report/dose", json!({"token": token, "taken_at": "yesterday"})).await.assert_problem(422);
    let unknown = h.check("x".repeat(43).as_str(), CALM()).await;
    unknown.assert_problem(404);
    let expired_text = unknown.text.clone();
    // Nothing was recorded by the refused requests.
    assert!(h.sessions().await.is_empty());
    let checks = h.app.get(&format!("/api/v1/patients/{}/assessments", h.patient), &h.clinician.token).await;
    assert_eq!(checks.body["items"], json!([]));
    // A link past the plan's end is unusable: the same answer as an unknown one.
    h.app.state.clock.advance(Duration::days(31));
    let expired = h.check(&token, CALM()).await;
    assert_eq!((expired.status, expired.text), (404, expired_text));
}

#[actix_rt::test]
async fn doses_racing_on_one_plan_record_one() {
    let h = home().await;
    let plan = h.plan(plan_body(h.now)).await.id();
    // Eight links, each with its go, posted at once: the plan allows two doses three days
    // apart, so exactly one of these is recorded.
    let mut tokens = Vec::new();
    for _ in 0..8 {
        let token = h.link(&plan).await;
        assert_eq!(h.check(&token, CALM()).await.body["go"], json!(true));
        tokens.push(token);
    }
    let answers = futures_util::future::join_all(tokens.iter().map(|t| h.dose(t, h.now))).await;
    let recorded = answers.iter().filter(|a| a.status == 201).count();
    let refused: Vec<&Response> = answers.iter().filter(|a| a.status == 409).collect();
    assert_eq!((recorded, refused.len()), (1, 7), "{:?}", answers.iter().map(|a| &a.text).collect::<Vec<_>>());
    for answer in refused {
        assert_eq!((answer.body["type"].as_str(), answer.body["reason"].as_str()), (Some("urn:onset:problem:dose-refused"), Some("too_soon")), "{}", answer.text);
        assert_eq!(time(&answer.body["next_allowed_at"]), h.now + Duration::days(3));
    }
    assert_eq!(h.sessions().await.len(), 1);
    assert_eq!(h.view(&plan).await["doses_used"], json!(1));
}

#[actix_rt::test]
async fn a_check_in_after_a_home_dose_that_is_not_safe_alerts_the_clinic_and_shows_the_crisis_text() {
    let h = home().await;
    let protocol = json!({"name": "After a home dose", "items": [
        {"instrument": "home_checkin", "offset": "PT2H", "window_before": "PT30M", "window_after": "PT2H", "recall": "NOW"},
    ]});
    let protocol = h.app.post("/api/v1/protocols", &h.admin.token, protocol).await;
    assert_eq!(protocol.status, 201, "{}", protocol.text);
    let mut body = plan_body(h.now);
    body["protocol_id"] = json!(protocol.id());
    let plan = h.plan(body).await.id();
    let token = h.link(&plan).await;
    h.check(&token, CALM()).await;
    assert_eq!(h.dose(&token, h.now).await.status, 201);
    h.app.state.clock.advance(Duration::hours(2));
    h.app.state.tick().await.unwrap();
    let due = h.app.get("/api/v1/due?status=open", &h.clinician.token).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let issued = h.app.post(&format!("/api/v1/due/{due}/invitation"), &h.clinician.token, json!({})).await;
    let link = issued.body["url"].as_str().unwrap().rsplit_once('#').unwrap().1.to_string();
    let opened = h.public("/api/v1/self-report/open", json!({"token": link})).await;
    assert_eq!((opened.body["kind"].as_str(), opened.body["items"].as_array().map(Vec::len)), (Some("rating"), Some(8)), "{}", opened.text);
    let answers = json!({"safe": 1, "nausea": 1, "vomiting": 0, "dizziness": 0, "confusion": 0, "anxiety": 0, "other": 0, "contact": 1});
    let sent = h.public("/api/v1/self-report", json!({"token": link, "items": answers})).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    assert!(sent.body["crisis_text"].as_str().is_some_and(|t| !t.is_empty()), "asking to be contacted shows the crisis text");
    // By the clinician's hand too: not safe is high.
    let unsafe_answers = json!({"safe": 0, "nausea": 0, "vomiting": 0, "dizziness": 1, "confusion": 1, "anxiety": 1, "other": 0, "contact": 0});
    let rating = json!({"instrument": "home_checkin", "rated_at": rfc3339(h.now), "recall": "NOW", "items": unsafe_answers, "rater": "self", "collected_via": "phone"});
    let rated = h.app.post(&format!("/api/v1/patients/{}/assessments", h.patient), &h.clinician.token, rating.clone()).await;
    assert_eq!((rated.status, rated.body["total"].as_u64()), (201, Some(1)), "{}", rated.text);
    let mut bare = rating;
    bare.as_object_mut().unwrap().remove("items");
    bare["total"] = json!(1);
    h.app.post(&format!("/api/v1/patients/{}/assessments", h.patient), &h.clinician.token, bare).await.assert_problem(422);
    let alerts = h.app.get("/api/v1/alerts?kind=home_dose_concern", &h.clinician.token).await;
    let levels: Vec<&str> = alerts.body["items"].as_array().unwrap().iter().map(|a| a["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["high", "moderate"], "{}", alerts.text);
    // An amendment is a path into the data too: a calm check-in amended to "not safe" alerts.
    let calm = json!({"safe": 1, "nausea": 0, "vomiting": 0, "dizziness": 0, "confusion": 0, "anxiety": 0, "other": 0, "contact": 0});
    let rating = json!({"instrument": "home_checkin", "rated_at": rfc3339(h.now), "recall": "NOW", "items": calm, "rater": "self", "collected_via": "phone"});
    let calm = h.app.post(&format!("/api/v1/patients/{}/assessments", h.patient), &h.clinician.token, rating).await.id();
    let before = h.app.get("/api/v1/alerts?kind=home_dose_concern", &h.clinician.token).await.body["items"].as_array().unwrap().len();
    let amended = h.app.patch(&format!("/api/v1/assessments/{calm}"), &h.clinician.token, json!({"items": {"safe": 0}, "reason": "the patient called back"})).await;
    assert_eq!(amended.status, 200, "{}", amended.text);
    let after = h.app.get("/api/v1/alerts?kind=home_dose_concern", &h.clinician.token).await;
    assert_eq!(after.body["items"].as_array().unwrap().len(), before + 1);
    assert_eq!((after.body["items"][0]["cause_id"].as_str(), after.body["items"][0]["level"].as_str()), (Some(calm.as_str()), Some("high")));
}

#[actix_rt::test]
async fn an_open_rating_still_not_completed_at_its_windows_midpoint_is_reminded_of_once() {
    let h = home().await;
    let receiver = Receiver::start(0);
    let hook = h.app.post("/api/v1/webhooks", &h.admin.token, json!({"url": receiver.url, "events": ["due.reminder"]})).await;
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    let protocol = h.app.post("/api/v1/protocols", &h.admin.token, protocol_body()).await.id();
    h.app.post(&format!("/api/v1/patients/{}/protocols", h.patient), &h.clinician.token, json!({"protocol_id": protocol})).await;
    let session = h.app.post(&format!("/api/v1/patients/{}/infusions", h.patient), &h.clinician.token, infusion_body(&rfc3339(h.now))).await.id();
    // The +2 h VAS is open from 1 h 30 to 2 h 30: its midpoint is +2 h.
    h.app.state.clock.set(h.now + Duration::minutes(100));
    let first = h.app.state.tick().await.unwrap();
    assert_eq!((first.opened, first.reminded), (1, 0));
    h.app.state.clock.set(h.now + Duration::minutes(119) + Duration::seconds(59));
    assert_eq!(h.app.state.tick().await.unwrap().reminded, 0, "not before the midpoint");
    // Amending the session without moving it keeps the reminder where it is.
    h.app.patch(&format!("/api/v1/infusions/{session}"), &h.clinician.token, json!({"notes": "n", "reason": "note"})).await;
    h.app.state.clock.set(h.now + Duration::hours(2));
    assert_eq!(h.app.state.tick().await.unwrap().reminded, 1, "at the midpoint");
    h.app.state.clock.set(h.now + Duration::minutes(140));
    assert_eq!(h.app.state.tick().await.unwrap().reminded, 0, "once");
    deliver_all(&h.app).await;
    let bodies: Vec<Value> = receiver.got().iter().map(|m| verified_signature(&secret, m)).collect();
    assert_eq!(bodies.len(), 1);
    assert_eq!((bodies[0]["type"].as_str(), bodies[0]["data"]["instrument"].as_str(), bodies[0]["data"]["infusion_id"].as_str()), (Some("due.reminder"), Some("ocd_vas"), Some(session.as_str())));
}

#[actix_rt::test]
async fn home_plans_are_the_clinics_own() {
    let h = home().await;
    let plan = h.plan(plan_body(h.now)).await.id();
    let other = h.app.admin("South").await;
    let researcher = h.app.user(&h.admin, "researcher").await;
    for path in [format!("/api/v1/home-plans/{plan}"), format!("/api/v1/home-plans/{plan}/revisions"), format!("/api/v1/patients/{}/home-plans", h.patient)] {
        h.app.get(&path, &other.token).await.assert_problem(404);
        h.app.get(&path, &researcher.token).await.assert_problem(403);
        h.app.request(Method::GET, &path, None, None, &[]).await.assert_problem(401);
    }
    h.app.post(&format!("/api/v1/home-plans/{plan}/invitation"), &other.token, json!({})).await.assert_problem(404);
    h.app.post(&format!("/api/v1/patients/{}/home-plans", h.patient), &other.token, plan_body(h.now)).await.assert_problem(404);
    let amended = h.app.patch(&format!("/api/v1/home-plans/{plan}"), &h.clinician.token, json!({"doses_allowed": 3, "reason": "extended"})).await;
    assert_eq!((amended.status, amended.body["doses_left"].clone(), amended.body["version"].clone()), (200, json!(3), json!(2)), "{}", amended.text);
    let listed = h.app.get(&format!("/api/v1/patients/{}/home-plans", h.patient), &h.clinician.token).await;
    assert_eq!((listed.body["items"][0]["doses_allowed"].clone(), listed.body["items"][0]["doses_used"].clone()), (json!(3), json!(0)));
    let history = h.app.get(&format!("/api/v1/home-plans/{plan}/revisions"), &h.clinician.token).await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(2));
}
