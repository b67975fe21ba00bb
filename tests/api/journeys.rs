//! Self-guided journeys: protocols plan due ratings after each session, sessions moved or
//! retracted re-plan or cancel them, a rating in the window completes one, and the
//! scheduler (driven by the test's clock, never by sleeping) opens and misses them.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

/// The patient's due ratings, keyed by (session, instrument).
async fn due_of(app: &TestApp, user: &TestUser, patient: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/patients/{patient}/due?limit=500"), &user.token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.body["items"].as_array().unwrap().clone()
}

fn find<'a>(due: &'a [Value], session: &str, instrument: &str) -> &'a Value {
    due.iter().find(|d| d["infusion_id"] == session && d["instrument"] == instrument).unwrap_or_else(|| panic!("no {instrument} after {session} in {due:?}"))
}

#[actix_rt::test]
async fn a_protocol_plans_due_ratings_that_sessions_move_ratings_complete_and_time_opens_and_misses() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    let session = |started: DateTime<Utc>| {
        let body = {
            let mut b = infusion_body(&rfc3339(started));
            b["guidance"] = json!("self_guided");
            b
        };
        let (app, token, patient) = (&app, clinician.token.clone(), patient.clone());
        async move { app.post(&format!("/api/v1/patients/{patient}/infusions"), &token, body).await.id() }
    };
    // Session A three hours ago, B half an hour ago.
    let (a_start, b_start) = (now - Duration::hours(3), now - Duration::minutes(30));
    let a = session(a_start).await;
    let b = session(b_start).await;
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await;
    assert_eq!(protocol.status, 201, "{}", protocol.text);
    assert_eq!(protocol.body["items"][0]["offset"], "PT2H");
    let attached = app.post(&format!("/api/v1/patients/{patient}/protocols"), &clinician.token, json!({"protocol_id": protocol.id()})).await;
    assert_eq!(attached.status, 201, "{}", attached.text);
    assert_eq!((attached.body["planned"].clone(), attached.body["protocol_version"].clone()), (json!(4), json!(1)));
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &clinician.token, json!({"protocol_id": protocol.id()})).await.assert_problem(409);

    let due = due_of(&app, &clinician, &patient).await;
    assert_eq!(due.len(), 4);
    // A's +2 h VAS was due an hour ago, its window (±30 min) closed half an hour ago.
    let a_vas = find(&due, &a, "ocd_vas");
    assert_eq!((time(&a_vas["due_at"]), time(&a_vas["opens_at"]), time(&a_vas["closes_at"])), (a_start + Duration::hours(2), a_start + Duration::minutes(90), a_start + Duration::minutes(150)));
    assert_eq!(a_vas["status"], "missed");
    let a_day = find(&due, &a, "ybocs_sr");
    assert_eq!((time(&a_day["due_at"]), a_day["status"].clone(), a_day["recall"].clone()), (a_start + Duration::days(1), json!("scheduled"), json!("P24H")));
    let b_vas = find(&due, &b, "ocd_vas");
    assert_eq!((time(&b_vas["due_at"]), b_vas["status"].clone()), (b_start + Duration::hours(2), json!("scheduled")));

    // Moving B a quarter of an hour earlier moves its due ratings with it.
    let moved_start = b_start - Duration::minutes(15);
    let moved = app.patch(&format!("/api/v1/infusions/{b}"), &clinician.token, json!({"started_at": rfc3339(moved_start), "reason": "clock was wrong"})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let due = due_of(&app, &clinician, &patient).await;
    let b_vas = find(&due, &b, "ocd_vas");
    assert_eq!(time(&b_vas["due_at"]), moved_start + Duration::hours(2));
    assert_eq!(time(&find(&due, &b, "ybocs_sr")["due_at"]), moved_start + Duration::days(1));

    // A clinician's VAS rated inside A's closed window completes it, whoever entered it.
    let rating = json!({"instrument": "ocd_vas", "rated_at": rfc3339(a_start + Duration::minutes(100)), "recall": "NOW", "items": {"1": 40}, "rater": "clinician", "collected_via": "interview"});
    let rated = app.post(&format!("/api/v1/patients/{patient}/assessments"), &clinician.token, rating).await;
    assert_eq!(rated.status, 201, "{}", rated.text);
    let due = due_of(&app, &clinician, &patient).await;
    let a_vas = find(&due, &a, "ocd_vas");
    assert_eq!((a_vas["status"].clone(), a_vas["assessment_id"].clone()), (json!("completed"), json!(rated.id())));
    assert_eq!(find(&due, &b, "ocd_vas")["assessment_id"], Value::Null, "one rating completes one due rating");
    // Retracting that rating reopens the question: the window is closed, so missed again.
    let retracted = app.delete(&format!("/api/v1/assessments/{}", rated.id()), &clinician.token, json!({"reason": "wrong patient"})).await;
    assert_eq!(retracted.status, 200);
    assert_eq!(find(&due_of(&app, &clinician, &patient).await, &a, "ocd_vas")["status"], "missed");

    // The scheduler, at the test's clock: B's VAS window opens at +1 h 45 min.
    let opens = time(&b_vas["opens_at"]);
    app.state.clock.set(opens - Duration::seconds(1));
    assert_eq!(app.state.tick().await.unwrap().opened, 0);
    assert_eq!(find(&due_of(&app, &clinician, &patient).await, &b, "ocd_vas")["status"], "scheduled");
    app.state.clock.set(opens);
    let moved = app.state.tick().await.unwrap();
    assert_eq!((moved.opened, moved.missed), (1, 0));
    assert_eq!(find(&due_of(&app, &clinician, &patient).await, &b, "ocd_vas")["status"], "open");
    let open = app.get(&format!("/api/v1/due?status=open&limit=10"), &admin.token).await;
    assert_eq!(open.body["items"].as_array().unwrap().len(), 1, "{}", open.text);
    app.state.clock.set(time(&b_vas["closes_at"]) + Duration::microseconds(1));
    assert_eq!(app.state.tick().await.unwrap().missed, 1);
    assert_eq!(find(&due_of(&app, &clinician, &patient).await, &b, "ocd_vas")["status"], "missed");

    // Retracting session A cancels what is still due after it.
    let gone = app.delete(&format!("/api/v1/infusions/{a}"), &clinician.token, json!({"reason": "entered for the wrong patient"})).await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    let due = due_of(&app, &clinician, &patient).await;
    assert_eq!((find(&due, &a, "ocd_vas")["status"].clone(), find(&due, &a, "ybocs_sr")["status"].clone()), (json!("cancelled"), json!("cancelled")));
    // A session recorded after the attachment gets its own due ratings.
    let c = session(now - Duration::minutes(5)).await;
    let due = due_of(&app, &clinician, &patient).await;
    assert_eq!(due.len(), 6);
    assert_eq!(time(&find(&due, &c, "ocd_vas")["due_at"]), now - Duration::minutes(5) + Duration::hours(2));
    // Filters and paging.
    let cancelled = app.get(&format!("/api/v1/patients/{patient}/due?status=cancelled"), &admin.token).await;
    assert_eq!(cancelled.body["items"].as_array().unwrap().len(), 2);
    app.get("/api/v1/due?status=overdue", &admin.token).await.assert_problem(422);
    let first = app.get("/api/v1/due?limit=4", &admin.token).await;
    let rest = app.get(&format!("/api/v1/due?limit=4&cursor={}", first.body["next_cursor"].as_str().unwrap()), &admin.token).await;
    assert_eq!(first.body["items"].as_array().unwrap().len() + rest.body["items"].as_array().unwrap().len(), 6);
}

#[actix_rt::test]
async fn a_new_protocol_version_leaves_attached_patients_on_theirs() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await;
    let path = format!("/api/v1/protocols/{}", protocol.id());
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol.id()})).await;
    let items = json!([{"instrument": "ocd_vas", "offset": "PT40M", "window_before": "PT10M", "window_after": "PT10M", "recall": "NOW"}]);
    let changed = app.patch(&path, &admin.token, json!({"items": items})).await;
    assert_eq!((changed.status, changed.body["version"].clone()), (200, json!(2)), "{}", changed.text);
    let attachments = app.get(&format!("/api/v1/patients/{patient}/protocols"), &admin.token).await;
    assert_eq!(attachments.body["items"][0]["protocol_version"], 1);
    assert_eq!(attachments.body["items"][0]["items"].as_array().unwrap().len(), 2);
    let history = app.get(&format!("{path}/revisions"), &admin.token).await;
    assert_eq!(history.body["items"].as_array().unwrap().iter().map(|r| r["version"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    // Bad protocols name their fields.
    let bad = app.post("/api/v1/protocols", &admin.token, json!({"name": "x", "items": [{"instrument": "ybocs", "offset": "P1M", "window_before": "junk", "window_after": "PT1H", "recall": "P7D"}]})).await;
    bad.assert_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["items.0.offset", "items.0.window_before"]);
    let huge = app.post("/api/v1/protocols", &admin.token, json!({"name": "x", "items": vec![json!({}); 10_000]})).await;
    huge.assert_problem(422);
    assert_eq!(huge.error_fields(), ["items"]);
    // Another clinic's protocol cannot be attached: it does not exist for this clinic.
    let south = app.admin("South").await;
    let theirs = app.post("/api/v1/protocols", &south.token, protocol_body()).await;
    let refused = app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": theirs.id()})).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), ["protocol_id"]);
}

#[actix_rt::test]
async fn two_instances_on_one_database_move_each_due_rating_once() {
    let first = spawn_app().await;
    let url = first.state.config.database_url.clone();
    let second = spawn_with(|c| c.database_url = url).await;
    let admin = first.admin("North").await;
    let now = first.state.clock.now().trunc_subsecs(0);
    // Twenty items a few minutes apart, after ten sessions: two hundred due ratings.
    let items: Vec<Value> = (1..=20)
        .map(|i| json!({"instrument": "ocd_vas", "offset": format!("PT{}M", 60 + i), "window_before": "PT30M", "window_after": "PT30M", "recall": "NOW"}))
        .collect();
    let protocol = first.post("/api/v1/protocols", &admin.token, json!({"name": "dense", "items": items})).await.id();
    let patient = first.patient(&admin).await;
    for s in 0..10 {
        let body = infusion_body(&rfc3339(now - Duration::minutes(10 + s)));
        assert_eq!(first.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, body).await.status, 201);
    }
    let attached = second.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    assert_eq!(attached.body["planned"], 200, "{}", attached.text);
    for (at, expect) in [(now + Duration::hours(1), "open"), (now + Duration::hours(2), "missed")] {
        first.state.clock.set(at);
        second.state.clock.set(at);
        let mut moved = 0;
        for _ in 0..3 {
            let (a, b) = futures_util::future::join(first.state.tick(), second.state.tick()).await;
            let (a, b) = (a.unwrap(), b.unwrap());
            moved += a.opened + a.missed + b.opened + b.missed;
        }
        assert_eq!(moved, 200, "each due rating moved to {expect} exactly once across both instances");
        let listed = first.get(&format!("/api/v1/patients/{patient}/due?limit=500&status={expect}"), &admin.token).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 200);
    }
}

fn token_of(invitation: &Response) -> String {
    let url = invitation.body["url"].as_str().unwrap_or_else(|| panic!("{}", invitation.text));
    assert!(url.starts_with("https://onset.example.org/r/#"), "{url}");
    url.rsplit_once('#').unwrap().1.to_string()
}

#[actix_rt::test]
async fn a_patient_answers_once_by_link_and_every_unusable_link_looks_the_same() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    let started = now - Duration::hours(2);
    let session = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&rfc3339(started))).await.id();
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    let due = due_of(&app, &admin, &patient).await;
    let vas = find(&due, &session, "ocd_vas")["id"].as_str().unwrap().to_string();
    let day = find(&due, &session, "ybocs_sr")["id"].as_str().unwrap().to_string();
    assert_eq!(find(&due, &session, "ocd_vas")["status"], "open", "the +2 h window is open now");

    let first = app.post(&format!("/api/v1/due/{vas}/invitation"), &admin.token, json!({})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let first_token = token_of(&first);
    assert_eq!(time(&first.body["expires_at"]), started + Duration::minutes(150), "the link expires with the window");
    let second = app.post(&format!("/api/v1/due/{vas}/invitation"), &admin.token, json!({})).await;
    let token = token_of(&second);
    assert_ne!(token, first_token);
    assert!(token.len() >= 43, "at least 256 bits");

    let open = |token: String| {
        let app = &app;
        async move { app.request(awc::http::Method::POST, "/api/v1/self-report/open", None, Some(&json!({"token": token})), &[]).await }
    };
    let submit = |token: String, items: Value| {
        let app = &app;
        async move { app.request(awc::http::Method::POST, "/api/v1/self-report", None, Some(&json!({"token": token, "items": items})), &[]).await }
    };
    let asked = open(token.clone()).await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    assert_eq!((asked.body["instrument"].clone(), asked.body["recall"].clone()), (json!("ocd_vas"), json!("NOW")));
    let question = &asked.body["items"][0];
    assert_eq!((question["code"].clone(), question["type"].clone(), question["min"].clone(), question["max"].clone(), question["options"].clone(), question["enable_when"].clone()), (json!("1"), json!("vas"), json!(0), json!(100), json!([]), json!([])));
    assert!(question["text"].is_string() && question["anchors"]["min_label"].is_string() && question["anchors"]["max_label"].is_string(), "onset's own VAS wording: {question}");
    assert_eq!(asked.body["items"].as_array().unwrap().len(), 1);
    for private in [patient.as_str(), "Jane Roe", "1988-07-14", "North", &admin.email] {
        assert!(!asked.text.contains(private), "the link shows {private}: {}", asked.text);
    }
    assert_eq!(asked.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(asked.header("referrer-policy").as_deref(), Some("no-referrer"));

    // An answer out of range is refused with its field, and the link stays usable.
    let wrong = submit(token.clone(), json!({"1": 150})).await;
    wrong.assert_problem(422);
    assert_eq!(wrong.error_fields(), ["items.1"]);
    let sent = submit(token.clone(), json!({"1": 30})).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    assert_eq!(sent.body["received"], true);

    // The rating is the patient's own, completes the link's due rating, and is in the
    // trajectory and the export.
    let ratings = app.get(&format!("/api/v1/patients/{patient}/assessments"), &admin.token).await;
    let rating = &ratings.body["items"][0];
    assert_eq!((rating["rater"].clone(), rating["collected_via"].clone(), rating["total"].clone()), (json!("self"), json!("app"), json!(30)));
    let completed = find(&due_of(&app, &admin, &patient).await, &session, "ocd_vas").clone();
    assert_eq!((completed["status"].clone(), completed["assessment_id"].clone()), (json!("completed"), rating["id"].clone()));
    let trajectory = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    assert!(trajectory.text.contains(rating["id"].as_str().unwrap()), "{}", trajectory.text);
    let export = app.get("/api/v1/exports/assessments?format=ndjson&instrument=ocd_vas", &admin.token).await;
    assert!(export.text.contains("\"rater\":\"self\""), "{}", export.text);
    let used = app.get(&format!("/api/v1/audit?action=invitation.use"), &admin.token).await;
    assert_eq!(used.body["items"][0]["actor_id"], Value::Null, "a patient is not an account");

    // Used, revoked, unknown, and (for the day-1 link) not yet open or expired: one answer.
    // The Y-BOCS self-report's wording is licensed: no link until the clinic supplies it.
    let unworded = app.post(&format!("/api/v1/due/{day}/invitation"), &admin.token, json!({})).await;
    unworded.assert_problem(409);
    assert_eq!(unworded.body["type"], "urn:onset:problem:instrument-text-missing");
    assert!(unworded.body["detail"].as_str().unwrap().contains("ybocs_sr"));
    assert_eq!(app.supply_wording(&admin, "ybocs_sr").await.status, 200);
    let day_link = token_of(&app.post(&format!("/api/v1/due/{day}/invitation"), &admin.token, json!({})).await);
    let unknown = open("A".repeat(43)).await;
    unknown.assert_problem(404);
    let mut answers = vec![("unknown", unknown.text.clone())];
    answers.push(("used", open(token.clone()).await.text));
    answers.push(("used, submitted again", submit(token.clone(), json!({"1": 10})).await.text));
    answers.push(("revoked", open(first_token.clone()).await.text));
    answers.push(("not yet open", open(day_link.clone()).await.text));
    answers.push(("overlong", open("A".repeat(100_000)).await.text));
    app.state.clock.set(started + Duration::days(1));
    assert_eq!(open(day_link.clone()).await.status, 200, "the day-1 window is open now");
    app.state.clock.set(started + Duration::days(1) + Duration::hours(12) + Duration::seconds(1));
    answers.push(("expired", open(day_link.clone()).await.text));
    for (why, text) in &answers {
        assert_eq!(text, &unknown.text, "{why}");
    }
    assert_eq!(app.get("/api/v1/patients/{patient}/assessments".replace("{patient}", &patient).as_str(), &admin.token).await.body["items"].as_array().unwrap().len(), 1);
    // A clinician-rated instrument has no link, and neither does a settled due rating.
    app.post(&format!("/api/v1/due/{vas}/invitation"), &admin.token, json!({})).await.assert_problem(409);
}

#[actix_rt::test]
async fn the_patient_page_is_static_strict_and_uncached() {
    let app = spawn_app().await;
    let page = app.request(awc::http::Method::GET, "/r/", None, None, &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(page.header("referrer-policy").as_deref(), Some("no-referrer"));
    assert!(page.text.contains("<script src=\"/r/app.js\" defer></script>"));
    assert!(!page.text.contains("<script>") && !page.text.contains("style="), "no inline code the policy would block");
    assert!(page.text.contains("role=\"status\"") && page.text.contains("lang=\"en\""), "read out by screen readers");
    let script = app.request(awc::http::Method::GET, "/r/app.js", None, None, &[]).await;
    assert!(script.content_type().starts_with("text/javascript"));
    assert!(script.text.contains("location.hash") && script.text.contains("replaceState"), "the token is read from the fragment and dropped from the address bar");
}

#[actix_rt::test]
async fn the_demo_clinic_has_a_protocol_a_due_list_and_self_reported_points() {
    let app = spawn_app().await;
    let pool = app.state.pool.clone();
    let summary = actix_web::web::block(move || onset::demo::run(&pool, JWT_SECRET, 20, 3, |_, _| {}).unwrap()).await.unwrap();
    assert!(summary.due > 0);
    let (email, password) = onset::demo::admin_credentials(3, JWT_SECRET);
    let login = app.login(&email, &password).await;
    let admin = TestUser::from_login(&app, &email, &login).await;
    let completed = app.get("/api/v1/due?status=completed&limit=500", &admin.token).await;
    let completed = completed.body["items"].as_array().unwrap();
    assert!(!completed.is_empty());
    let due = &completed[0];
    let rating = app.get(&format!("/api/v1/assessments/{}", due["assessment_id"].as_str().unwrap()), &admin.token).await;
    assert_eq!((rating.body["rater"].clone(), rating.body["instrument"].clone()), (json!("self"), due["instrument"].clone()));
    assert!(time(&due["opens_at"]) <= time(&rating.body["rated_at"]) && time(&rating.body["rated_at"]) <= time(&due["closes_at"]));
    let all = app.get("/api/v1/due?limit=500", &admin.token).await;
    assert_eq!(all.body["items"].as_array().unwrap().len().min(500), summary.due.min(500));
}

#[actix_rt::test]
async fn a_clinic_can_make_patient_links_expire_before_the_window_closes() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let clinic = app.get("/api/v1/clinic", &clinician.token).await;
    assert_eq!((clinic.body["name"].clone(), clinic.body["invitation_lifetime_minutes"].clone()), (json!("North"), Value::Null));
    app.patch("/api/v1/clinic", &clinician.token, json!({"invitation_lifetime_minutes": 10})).await.assert_problem(403);
    for bad in [json!(2), json!(50_000), json!("ten"), json!(1.5)] {
        let refused = app.patch("/api/v1/clinic", &admin.token, json!({"invitation_lifetime_minutes": bad})).await;
        refused.assert_problem(422);
        assert_eq!(refused.error_fields(), ["invitation_lifetime_minutes"], "{bad}");
    }
    let set = app.patch("/api/v1/clinic", &admin.token, json!({"invitation_lifetime_minutes": 10})).await;
    assert_eq!(set.body["invitation_lifetime_minutes"], 10, "{}", set.text);
    assert_eq!(app.patch("/api/v1/clinic", &admin.token, json!({})).await.body["invitation_lifetime_minutes"], 10, "absent leaves it");

    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&rfc3339(now - Duration::hours(2)))).await;
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    let due = app.get("/api/v1/due?status=open", &admin.token).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let short = app.post(&format!("/api/v1/due/{due}/invitation"), &admin.token, json!({})).await;
    assert_eq!(time(&short.body["expires_at"]), now + Duration::minutes(10), "sooner than the window's close at +30 min");
    let token = short.body["url"].as_str().unwrap().rsplit_once('#').unwrap().1.to_string();
    app.state.clock.set(now + Duration::minutes(11));
    let expired = app.request(awc::http::Method::POST, "/api/v1/self-report/open", None, Some(&json!({"token": token})), &[]).await;
    expired.assert_problem(404);
    assert_eq!(app.patch("/api/v1/clinic", &admin.token, json!({"invitation_lifetime_minutes": null})).await.body["invitation_lifetime_minutes"], Value::Null);
    let long = app.post(&format!("/api/v1/due/{due}/invitation"), &admin.token, json!({})).await;
    assert_eq!(time(&long.body["expires_at"]), now + Duration::minutes(30), "with the window again");
}

#[actix_rt::test]
async fn amending_a_rating_within_its_window_keeps_its_due_rating_and_retracting_passes_it_on() {
    use chrono::SubsecRound;
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    let start = now - Duration::hours(3);
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&rfc3339(start))).await;
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    let vas = |minutes: i64, score: u32| {
        let body = json!({"instrument": "ocd_vas", "rated_at": rfc3339(start + Duration::minutes(minutes)), "recall": "NOW", "items": {"1": score}, "rater": "self", "collected_via": "app"});
        let (app, token, patient) = (&app, admin.token.clone(), patient.clone());
        async move { app.post(&format!("/api/v1/patients/{patient}/assessments"), &token, body).await.id() }
    };
    // Two VAS ratings inside the +2 h window (1:30 to 2:30): the earlier completes it.
    let first = vas(100, 40).await;
    let second = vas(130, 35).await;
    let completed = || {
        let (app, admin, patient) = (&app, &admin, patient.clone());
        async move { due_of(app, admin, &patient).await.into_iter().find(|d| d["instrument"] == "ocd_vas").unwrap()["assessment_id"].clone() }
    };
    assert_eq!(completed().await, json!(first));
    // Amended inside the window, it keeps its due rating.
    app.patch(&format!("/api/v1/assessments/{first}"), &admin.token, json!({"notes": "checked", "reason": "note"})).await;
    assert_eq!(completed().await, json!(first));
    // Retracted, it hands the due rating to the other rating in the window.
    app.delete(&format!("/api/v1/assessments/{first}"), &admin.token, json!({"reason": "duplicate"})).await;
    assert_eq!(completed().await, json!(second));
}

#[actix_rt::test]
async fn links_of_one_patient_answered_at_once_all_land() {
    // Each answer completes a due rating and reads the patient's course: on PostgreSQL two of
    // them once locked those rows in opposite orders and one died in a deadlock.
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    for _ in 0..8 {
        app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&rfc3339(now - Duration::hours(2)))).await;
    }
    let open: Vec<String> = due_of(&app, &admin, &patient).await.iter().filter(|d| d["instrument"] == "ocd_vas" && d["status"] == "open").map(|d| d["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(open.len(), 8, "one open VAS rating after each session");
    let mut tokens = Vec::new();
    for due in &open {
        tokens.push(token_of(&app.post(&format!("/api/v1/due/{due}/invitation"), &admin.token, json!({})).await));
    }
    let answers = tokens.iter().enumerate().map(|(i, token)| {
        let app = &app;
        async move { app.request(awc::http::Method::POST, "/api/v1/self-report", None, Some(&json!({"token": token, "items": {"1": 10 * i}})), &[]).await }
    });
    for answer in futures_util::future::join_all(answers).await {
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    let completed = due_of(&app, &admin, &patient).await.iter().filter(|d| d["instrument"] == "ocd_vas" && d["status"] == "completed").count();
    assert_eq!(completed, 8, "every answer completed a due rating");
}
