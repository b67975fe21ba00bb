//! Webhooks: a receiver on loopback gets each event signed as Standard Webhooks defines,
//! a failing receiver gets the event again with backoff (driven by the test's clock), a
//! private address is refused without the override, and an event written with its change
//! survives the server being killed before delivery.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use chrono::{Duration, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

/// A webhook receiver on loopback that answers 500 to the first `failures` requests.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(failures: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/onset", listener.local_addr().unwrap());
        let receiver = Receiver { url, got: Arc::default(), failures: Arc::new(AtomicUsize::new(failures)) };
        let shared = receiver.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let shared = shared.clone();
                async move {
                    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    shared.got.lock().unwrap().push(Received { id: header("webhook-id"), timestamp: header("webhook-timestamp"), signature: header("webhook-signature"), body: body.to_vec() });
                    let failing = shared.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                    if failing { HttpResponse::InternalServerError().finish() } else { HttpResponse::NoContent().finish() }
                }
            }))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .run();
        actix_rt::spawn(server);
        receiver
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Verifies a message as a receiver would, written here from the specification rather
/// than with onset's own code: base64 HMAC-SHA256 of "id.timestamp.body".
fn verified(secret: &str, message: &Received) -> Value {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", message.id, message.timestamp).as_bytes());
    mac.update(&message.body);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    assert!(message.signature.split(' ').any(|s| s == expected), "signature {} is not {expected}", message.signature);
    let stamp: i64 = message.timestamp.parse().unwrap();
    assert!((Utc::now().timestamp() - stamp).abs() < 3600, "timestamp {stamp}");
    serde_json::from_slice(&message.body).unwrap()
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[actix_rt::test]
async fn a_receiver_gets_each_event_signed_and_without_names() {
    let receiver = Receiver::start(0);
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": receiver.url, "events": ["due.opened", "invitation.created", "assessment.created", "alert.raised"]})).await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let shown = app.get(&format!("/api/v1/webhooks/{}", hook.id()), &admin.token).await;
    assert!(shown.body.get("secret").is_none() && !shown.text.contains(&secret), "the secret is shown once");

    let patient = app.patient(&admin).await;
    let now = app.state.clock.now().trunc_subsecs(0);
    app.state.clock.set(now);
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&rfc3339(now - Duration::hours(1)))).await;
    let protocol = app.post("/api/v1/protocols", &admin.token, protocol_body()).await.id();
    app.post(&format!("/api/v1/patients/{patient}/protocols"), &admin.token, json!({"protocol_id": protocol})).await;
    // The VAS window opens at +1 h 30 min; the scheduler opens it at the test's clock.
    app.state.clock.set(now + Duration::minutes(31));
    assert_eq!(app.state.tick().await.unwrap().opened, 1);
    let due = app.get("/api/v1/due?status=open", &admin.token).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let invitation = app.post(&format!("/api/v1/due/{due}/invitation"), &admin.token, json!({})).await;
    let token = invitation.body["url"].as_str().unwrap().rsplit_once('#').unwrap().1.to_string();
    let sent = app.request(awc::http::Method::POST, "/api/v1/self-report", None, Some(&json!({"token": token, "items": {"1": 25}})), &[]).await;
    assert_eq!(sent.status, 201, "{}", sent.text);

    // A PHQ-9 endorsing item 9 raises a suicidality alert, sent as alert.raised.
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(if i == 9 { 2 } else { 0 }))).collect();
    let phq9 = json!({"instrument": "phq9", "rated_at": rfc3339(now), "recall": "P14D", "items": items, "rater": "clinician", "collected_via": "interview"});
    assert_eq!(app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, phq9).await.status, 201);

    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 5);
    let got = receiver.got();
    assert_eq!(got.len(), 5);
    let bodies: Vec<Value> = got.iter().map(|m| verified(&secret, m)).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["due.opened", "invitation.created", "assessment.created", "assessment.created", "alert.raised"]);
    assert_eq!((bodies[4]["data"]["kind"].clone(), bodies[4]["data"]["level"].clone()), (json!("suicidality"), json!("high")));
    assert_eq!(bodies[0]["data"]["due_id"], json!(due));
    assert_eq!(bodies[1]["data"]["url"], invitation.body["url"], "the link, for the clinic's text or e-mail gateway");
    assert_eq!(bodies[2]["data"]["patient_id"], json!(patient));
    for (message, body) in got.iter().zip(&bodies) {
        let text = String::from_utf8_lossy(&message.body);
        assert!(!text.contains("Jane Roe") && !text.contains("1988-07-14"), "ids only: {text}");
        assert!(body["timestamp"].is_string());
    }
    let log = app.get(&format!("/api/v1/webhooks/{}/deliveries", hook.id()), &admin.token).await;
    let log = log.body["items"].as_array().unwrap();
    assert!(log.iter().all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["last_status"] == 204), "{log:?}");
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0, "nothing is sent twice");
    // Once sent, the outbox no longer holds the patient's usable link.
    let pool = app.state.pool.clone();
    let kept: Vec<onset::db::DbJson> = actix_web::web::block(move || {
        use diesel::prelude::*;
        use onset::db::schema::outbox as o;
        o::table.filter(o::event.eq("invitation.created")).select(o::payload).load(&mut pool.get().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].0["data"].get("url").is_none() && kept[0].0["data"]["due_id"] == json!(due), "{:?}", kept[0].0);
}

#[actix_rt::test]
async fn a_failing_receiver_gets_the_event_again_with_backoff() {
    let receiver = Receiver::start(3);
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": receiver.url, "events": ["assessment.created"]})).await.id();
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    let start = app.state.clock.now();
    app.state.clock.set(start);
    let log = || {
        let (app, token, path) = (&app, admin.token.clone(), format!("/api/v1/webhooks/{hook}/deliveries"));
        async move { app.get(&path, &token).await.body["items"][0].clone() }
    };
    // Fails at once, then after 5 s and after 5 min; the wait before each retry is the
    // backoff, so a retry asked for early is not made.
    for (failed, wait) in [(1, Duration::seconds(5)), (2, Duration::minutes(5)), (3, Duration::minutes(30))] {
        assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0);
        let entry = log().await;
        assert_eq!((entry["status"].clone(), entry["attempts"].clone(), entry["last_status"].clone()), (json!("pending"), json!(failed), json!(500)), "{entry}");
        let next = chrono::DateTime::parse_from_rfc3339(entry["next_attempt_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
        assert_eq!(next, app.state.clock.now() + wait);
        app.state.clock.set(next - Duration::seconds(1));
        assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0);
        assert_eq!(receiver.got().len(), failed as usize, "not before its time");
        app.state.clock.set(next);
    }
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 1, "the fourth try succeeds");
    let entry = log().await;
    assert_eq!((entry["status"].clone(), entry["attempts"].clone()), (json!("delivered"), json!(4)));
    let got = receiver.got();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|m| m.id == got[0].id), "one message id for every retry");
    assert_eq!(got[0].body, got[3].body);
}

#[actix_rt::test]
async fn webhooks_never_reach_private_addresses_without_the_override() {
    let app = spawn_with(|c| c.webhook_allow_private = false).await;
    let admin = app.admin("North").await;
    for url in ["http://10.0.0.1/hook", "https://127.0.0.1/hook", "https://localhost:8443/hook", "https://[::1]/hook", "https://169.254.169.254/latest", "ftp://example.org/x", "not a url"] {
        let refused = app.post("/api/v1/webhooks", &admin.token, json!({"url": url, "events": ["due.opened"]})).await;
        refused.assert_problem(422);
        assert_eq!(refused.error_fields(), ["url"], "{url}: {}", refused.text);
    }
    let bad_events = app.post("/api/v1/webhooks", &admin.token, json!({"url": "https://127.0.0.1/x", "events": ["due.opened", "due.opened", "everything"]})).await;
    let mut fields = bad_events.error_fields();
    fields.sort();
    assert_eq!(fields, ["events.1", "events.2", "url"]);
    let clinician = app.user(&admin, "clinician").await;
    app.post("/api/v1/webhooks", &clinician.token, json!({"url": "https://hooks.example.org/x", "events": ["due.opened"]})).await.assert_problem(403);
}

const BIN: &str = env!("CARGO_BIN_EXE_onset");

#[actix_rt::test]
async fn an_event_written_with_its_change_survives_a_kill_before_delivery() {
    let receiver = Receiver::start(0);
    let database_url = fresh_database_url();
    let created = Command::new(BIN)
        .args(["create-admin", "--clinic", "Hook clinic", "--email", "admin@hooks.example.org"])
        .env("DATABASE_URL", &database_url)
        .env("ONSET_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let serve = |tick_ms: &str| {
        Command::new(BIN)
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("ONSET_BIND", format!("127.0.0.1:{port}"))
            .env("ONSET_JWT_SECRET", std::str::from_utf8(JWT_SECRET).unwrap())
            .env("ONSET_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("ONSET_WEBHOOK_TICK_MS", tick_ms)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::builder().timeout(StdDuration::from_secs(10)).finish();
    let up = || async {
        for _ in 0..100 {
            if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            actix_rt::time::sleep(StdDuration::from_millis(100)).await;
        }
        panic!("onset did not come up");
    };
    // First life: no delivery round runs (an hour between rounds, the first one before the
    // event exists), so the event can only be in the outbox when the server dies.
    let mut server = serve("3600000");
    up().await;
    let mut login = client.post(format!("{base}/api/v1/auth/login")).send_json(&json!({"email": "admin@hooks.example.org", "password": PASSWORD})).await.unwrap();
    let token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    let post = |path: String, body: Value| {
        let (client, token) = (&client, token.clone());
        async move { client.post(path).insert_header(("authorization", format!("Bearer {token}"))).send_json(&body).await.unwrap().json::<Value>().await.unwrap() }
    };
    let hook = post(format!("{base}/api/v1/webhooks"), json!({"url": receiver.url, "events": ["assessment.created"]})).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let patient = post(format!("{base}/api/v1/patients"), patient_body()).await["id"].as_str().unwrap().to_string();
    let rating = post(format!("{base}/api/v1/patients/{patient}/assessments"), rating_body("2026-03-01T09:00:00Z", 20)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(receiver.got().is_empty());
    // Second life: delivery rounds every 100 ms find the event in the outbox.
    let mut server = serve("100");
    up().await;
    let mut waited = 0;
    while receiver.got().is_empty() && waited < 100 {
        actix_rt::time::sleep(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    server.kill().unwrap();
    let got = receiver.got();
    assert_eq!(got.len(), 1, "the event was delivered after the restart");
    let body = verified(&secret, &got[0]);
    assert_eq!((body["type"].clone(), body["data"]["assessment_id"].clone()), (json!("assessment.created"), rating["id"].clone()));
}
