//! Attacks found by the third security review (issue 25), one test per finding: each
//! fails on the build before its fix.

use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// 3,000 requests with made-up methods: before, each method became a label set of its own
/// (20,000 of them grew `/metrics` to 40 MB). Now they are counted as `other`.
#[actix_rt::test]
async fn junk_methods_leave_metrics_small() {
    let app = spawn_app().await;
    for i in 0..3_000 {
        let method = Method::from_bytes(format!("JUNK{i}").as_bytes()).unwrap();
        let answer = app.request(method, "/healthz", None, None, &[]).await;
        assert!(answer.status >= 400, "{}", answer.status);
    }
    let metrics = app.request(Method::GET, "/metrics", None, None, &[]).await;
    assert!(!metrics.text.contains("JUNK"), "a junk method became a label");
    let other: u64 = metrics
        .text
        .lines()
        .filter(|l| l.starts_with("onset_http_requests_total{method=\"other\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(other, 3_000, "every junk request is counted, as other");
    assert!(metrics.text.len() < 32 * 1024, "/metrics is {} bytes", metrics.text.len());
}

/// Before, the overdue check read the oldest 500 esketamine sessions of every clinic and
/// dropped the submitted ones afterwards: clinic A's 520 submitted forms hid clinic B's
/// overdue session from every tick.
#[actix_rt::test]
async fn an_overdue_session_behind_520_submitted_ones_alerts() {
    use chrono::{DateTime, Duration, Utc};
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let (north_patient, south_patient) = (app.patient(&north).await, app.patient(&south).await);
    let start: DateTime<Utc> = "2026-01-01T09:00:00Z".parse().unwrap();
    let session = |at: DateTime<Utc>, submitted: bool| {
        let mut body = json!({"drug": "esketamine", "route": "intranasal", "started_at": at.to_rfc3339(), "dose_mg": 56.0});
        if submitted {
            body["rems"] = json!({"submitted_at": (at + Duration::hours(3)).to_rfc3339()});
        }
        body
    };
    let north_sessions = format!("/api/v1/patients/{north_patient}/infusions");
    for chunk in (0..520).collect::<Vec<i64>>().chunks(8) {
        let posts = chunk.iter().map(|i| app.post(&north_sessions, &north.token, session(start + Duration::minutes(*i * 30), true)));
        for created in futures_util::future::join_all(posts).await {
            assert_eq!(created.status, 201, "{}", created.text);
        }
    }
    let late = app.post(&format!("/api/v1/patients/{south_patient}/infusions"), &south.token, session(start + Duration::days(20), false)).await.id();
    app.state.clock.set(start + Duration::days(28));
    assert_eq!(app.state.tick().await.unwrap().rems_overdue, 1);
    let alerts = app.get("/api/v1/alerts?kind=rems_overdue", &south.token).await;
    assert_eq!(alerts.body["items"].as_array().unwrap().len(), 1, "{}", alerts.text);
    assert_eq!(alerts.body["items"][0]["cause_id"], json!(late));
    assert!(app.get("/api/v1/alerts", &north.token).await.body["items"].as_array().unwrap().is_empty(), "North's submitted forms raise nothing");
    // The pending list pages like every list, in start order, and shows no submitted form.
    let unsubmitted: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..3 {
            let at = start + Duration::days(21) + Duration::hours(i);
            ids.push(app.post(&north_sessions, &north.token, session(at, false)).await.id());
        }
        ids
    };
    let first = app.get("/api/v1/rems/pending?limit=2", &north.token).await;
    let ids = |page: &Response| page.body["items"].as_array().unwrap().iter().map(|p| p["infusion_id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&first), unsubmitted[..2]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/api/v1/rems/pending?limit=2&cursor={cursor}"), &north.token).await;
    assert_eq!((ids(&second), second.body["next_cursor"].clone()), (unsubmitted[2..].to_vec(), Value::Null));
    app.get("/api/v1/rems/pending?limit=0", &north.token).await.assert_problem(400);
}

/// FHIR links come from ONSET_PUBLIC_URL: a client's `X-Forwarded-Host` or `Forwarded`
/// could otherwise point every `fullUrl` and `next` link of a Bundle at its own host.
#[actix_rt::test]
async fn fhir_links_ignore_forwarded_hosts() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-02T09:00:00Z", 18)).await;
    let auth = format!("Bearer {}", admin.token);
    let headers = [("authorization", auth.as_str()), ("x-forwarded-host", "evil.example"), ("x-forwarded-proto", "http"), ("forwarded", "host=evil.example;proto=http"), ("host", "evil.example")];
    let bundle = app.request(Method::GET, "/fhir/r4/Observation?_count=1", None, None, &headers).await;
    assert_eq!(bundle.status, 200, "{}", bundle.text);
    assert!(!bundle.text.contains("evil.example"), "{}", bundle.text);
    let next = bundle.body["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"].as_str().unwrap().to_string();
    assert!(next.starts_with("https://onset.example.org/fhir/r4/Observation?"), "{next}");
    assert!(bundle.body["entry"][0]["fullUrl"].as_str().unwrap().starts_with("https://onset.example.org/fhir/r4/Observation/"));
    let metadata = app.request(Method::GET, "/fhir/r4/metadata", None, None, &headers).await;
    assert_eq!(metadata.body["implementation"]["url"], "https://onset.example.org/fhir/r4");
}

const NEW_PASSWORD: &str = "a new passphrase, long enough";

/// Logout ends every session of the account at once: the other device's access token is
/// refused at its next request and its refresh token mints nothing.
#[actix_rt::test]
async fn logout_ends_every_access_token_and_refresh_family_at_once() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let other_device = TestUser::from_login(&app, &clinician.email, &app.login(&clinician.email, PASSWORD).await).await;
    assert_eq!(app.get("/api/v1/me", &other_device.token).await.status, 200);
    let out = app.request(Method::POST, "/api/v1/auth/logout", None, Some(&json!({"refresh_token": clinician.refresh_token})), &[]).await;
    assert_eq!(out.status, 204);
    for token in [&clinician.token, &other_device.token] {
        app.get("/api/v1/me", token).await.assert_problem(401);
    }
    let refreshed = app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": other_device.refresh_token})), &[]).await;
    refreshed.assert_problem(401);
    let again = TestUser::from_login(&app, &clinician.email, &app.login(&clinician.email, PASSWORD).await).await;
    assert_eq!(app.get("/api/v1/me", &again.token).await.status, 200, "a new login works");
}

/// A role changed and changed back still ends the tokens issued before: the generation
/// moves on, whatever the role is now.
#[actix_rt::test]
async fn a_role_changed_and_back_still_ends_the_old_token() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    for role in ["researcher", "clinician"] {
        assert_eq!(app.patch(&format!("/api/v1/users/{}", clinician.id), &admin.token, json!({"role": role})).await.status, 200);
    }
    app.get("/api/v1/me", &clinician.token).await.assert_problem(401);
}

/// DESIGN.md §12: a password change needs the current password, is throttled like a
/// login, ends every session (the old access token at once), and is audited without it.
#[actix_rt::test]
async fn a_password_change_needs_the_current_one_and_ends_every_session() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    app.request(Method::POST, "/api/v1/me/password", None, Some(&change(PASSWORD, NEW_PASSWORD)), &[]).await.assert_problem(401);
    let wrong = app.post("/api/v1/me/password", &clinician.token, change("not the password", NEW_PASSWORD)).await;
    wrong.assert_problem(422);
    assert_eq!(wrong.error_fields(), ["current_password"]);
    let weak = app.post("/api/v1/me/password", &clinician.token, change(PASSWORD, "short")).await;
    assert_eq!(weak.error_fields(), ["new_password"]);
    let same = app.post("/api/v1/me/password", &clinician.token, change(PASSWORD, PASSWORD)).await;
    assert_eq!(same.error_fields(), ["new_password"]);
    let unknown = app.post("/api/v1/me/password", &clinician.token, json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "role": "admin"})).await;
    unknown.assert_problem(422);
    let huge = app.post("/api/v1/me/password", &clinician.token, change(&"x".repeat(600_000), NEW_PASSWORD)).await;
    assert!(huge.status == 413 || huge.status == 422, "{}", huge.status);

    let changed = app.post("/api/v1/me/password", &clinician.token, change(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    app.get("/api/v1/me", &clinician.token).await.assert_problem(401);
    app.request(Method::POST, "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": clinician.refresh_token})), &[]).await.assert_problem(401);
    app.login(&clinician.email, PASSWORD).await.assert_problem(401);
    let fresh = TestUser::from_login(&app, &clinician.email, &app.login(&clinician.email, NEW_PASSWORD).await).await;
    let audit = app.get("/api/v1/audit?entity=user&limit=500", &admin.token).await;
    let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"user.password_change") && actions.contains(&"user.password_change_failed"), "{actions:?}");
    assert!(!audit.text.contains(NEW_PASSWORD) && !audit.text.contains(PASSWORD) && !audit.text.contains("not the password"));
    // Ten attempts a minute per account, like a login: a guesser with a stolen token is stopped.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.post("/api/v1/me/password", &fresh.token, change("a wrong guess here", "another passphrase 123")).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// An admin's single-use reset link: issued for the clinic's accounts only, the token in
/// the fragment, usable once within 24 hours, ending every session of the account.
#[actix_rt::test]
async fn a_reset_link_sets_a_password_once_and_ends_every_session() {
    use chrono::Duration;
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let path = format!("/api/v1/users/{}/password-reset", clinician.id);
    app.post(&path, &clinician.token, json!({})).await.assert_problem(403);
    app.post(&path, &app.admin("South").await.token, json!({})).await.assert_problem(404);
    let first = app.post(&path, &admin.token, json!({})).await;
    let issued = app.post(&path, &admin.token, json!({})).await;
    assert_eq!(issued.status, 201, "{}", issued.text);
    let url = issued.body["url"].as_str().unwrap();
    assert!(url.starts_with("https://onset.example.org/#reset="), "{url}");
    let token_of = |r: &Response| r.body["url"].as_str().unwrap().rsplit_once("#reset=").unwrap().1.to_string();
    let (old_token, token) = (token_of(&first), token_of(&issued));
    let reset = |token: &str, password: &str| {
        let body = json!({"token": token, "new_password": password});
        let app = &app;
        async move { app.request(Method::POST, "/api/v1/auth/password-reset", None, Some(&body), &[]).await }
    };
    let revoked = reset(&old_token, NEW_PASSWORD).await;
    revoked.assert_problem(404);
    let unknown = reset("no-such-token", NEW_PASSWORD).await;
    assert_eq!((unknown.status, unknown.body["detail"].clone()), (404, revoked.body["detail"].clone()), "every unusable link looks the same");
    assert_eq!(reset(&token, "short").await.error_fields(), ["new_password"]);
    assert_eq!(reset(&token, NEW_PASSWORD).await.status, 204);
    app.get("/api/v1/me", &clinician.token).await.assert_problem(401);
    assert_eq!(app.login(&clinician.email, NEW_PASSWORD).await.status, 200);
    reset(&token, "yet another passphrase").await.assert_problem(404);
    // A day later an unused link no longer works.
    let late = app.post(&path, &admin.token, json!({})).await;
    app.state.clock.set(app.state.clock.now() + Duration::hours(24) + Duration::seconds(1));
    reset(&token_of(&late), "yet another passphrase").await.assert_problem(404);
    let audit = app.get("/api/v1/audit?entity=user&limit=500", &admin.token).await;
    assert!(audit.text.contains("user.password_reset_issue") && audit.text.contains("\"user.password_reset\""));
    assert!(!audit.text.contains(&token) && !audit.text.contains(NEW_PASSWORD), "no token, no password in the audit log");
}

/// A patient with 20,000 ratings: the trajectory lists each series' latest ratings and
/// says how many it left out, judged on all of them; the chart draws the latest 1,000.
#[actix_rt::test]
async fn a_patient_with_20000_ratings_gets_a_bounded_trajectory() {
    use chrono::{DateTime, Duration, Utc};
    use onset::domain::RecordStatus;
    use onset::domain::scoring::RatingInput;
    use onset::store::assessments::AssessmentRecord;
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient: uuid::Uuid = app.patient(&admin).await.parse().unwrap();
    let first: DateTime<Utc> = "2024-01-01T09:00:00Z".parse().unwrap();
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&first.to_rfc3339())).await;
    // An hourly VAS for 20,000 hours, through the bulk path: the first, an hour before
    // the session, is the baseline (80); every later one is 40–59, a response or partial.
    let now = Utc::now();
    let cohort = onset::store::bulk::Cohort {
        assessments: (0..20_000i64)
            .map(|hour| {
                let input = RatingInput {
                    instrument: Some("ocd_vas".into()),
                    rated_at: Some((first + Duration::hours(hour - 1)).to_rfc3339()),
                    recall: Some("NOW".into()),
                    items: Some([("1".to_string(), json!(if hour == 0 { 80 } else { 40 + hour % 20 }))].into()),
                    rater: Some("self".into()),
                    collected_via: Some("app".into()),
                    ..RatingInput::default()
                };
                let record = AssessmentRecord::new(uuid::Uuid::now_v7(), patient, input.parse(&onset::domain::instruments::Catalogue::built_in(), now).unwrap(), RecordStatus::Active, 1, (now, now), (admin.id, admin.id));
                vec![(record, None)]
            })
            .collect(),
        ..Default::default()
    };
    let actor = onset::store::Actor { user_id: admin.id, clinic_id: admin.clinic_id, email: admin.email.clone(), by_patient: false };
    let pool = app.state.pool.clone();
    actix_web::web::block(move || onset::store::bulk::insert(&mut pool.get().unwrap(), &actor, &cohort).unwrap()).await.unwrap();

    let path = format!("/api/v1/patients/{patient}/trajectory");
    let listed = app.get(&path, &admin.token).await;
    assert_eq!(listed.status, 200, "{}", &listed.text[..200.min(listed.text.len())]);
    let series = &listed.body["series"][0];
    assert_eq!((series["ratings"].as_array().unwrap().len(), series["ratings_total"].clone(), series["earlier_ratings_omitted"].clone()), (1_000, json!(20_000), json!(19_000)));
    assert_eq!(series["baseline"]["total"], 80, "the baseline is judged on the whole series");
    assert!(series["summary"]["hours_to_response"].as_f64().is_some_and(|h| h < 2.0), "the first response, an hour after the session, is in the summary");
    assert!(listed.text.len() < 1_000_000, "{} bytes", listed.text.len());
    let most = app.get(&format!("{path}?limit=5000"), &admin.token).await;
    assert_eq!(most.body["series"][0]["ratings"].as_array().unwrap().len(), 5_000);
    for bad in ["0", "5001", "all"] {
        app.get(&format!("{path}?limit={bad}"), &admin.token).await.assert_problem(400);
    }
    let chart = app.get(&format!("{path}.svg"), &admin.token).await;
    assert_eq!(chart.status, 200);
    assert!(chart.text.contains("1000 ratings (the latest of each instrument; 19000 earlier ones are not drawn)"), "{}", &chart.text[..600]);
}
