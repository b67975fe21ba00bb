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
