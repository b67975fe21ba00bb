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
pub struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

/// A webhook receiver on loopback that answers 500 to the first `failures` requests, or
/// redirects every request to `redirect`.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
    redirect: Option<String>,
}

impl Receiver {
    pub fn start(failures: usize) -> Receiver {
        Receiver::serve(failures, None)
    }

    fn redirecting_to(target: &str) -> Receiver {
        Receiver::serve(0, Some(target.to_string()))
    }

    fn serve(failures: usize, redirect: Option<String>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/onset", listener.local_addr().unwrap());
        let receiver = Receiver { url, got: Arc::default(), failures: Arc::new(AtomicUsize::new(failures)), redirect };
        let shared = receiver.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let shared = shared.clone();
                async move {
                    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    shared.got.lock().unwrap().push(Received { id: header("webhook-id"), timestamp: header("webhook-timestamp"), signature: header("webhook-signature"), body: body.to_vec() });
                    if let Some(target) = &shared.redirect {
                        return HttpResponse::TemporaryRedirect().insert_header(("location", target.as_str())).finish();
                    }
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

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Verifies a message as a receiver would, written here from the specification rather
/// than with onset's own code: base64 HMAC-SHA256 of "id.timestamp.body".
pub fn verified(secret: &str, message: &Received) -> Value {
    let body = verified_signature(secret, message);
    let stamp: i64 = message.timestamp.parse().unwrap();
    assert!((Utc::now().timestamp() - stamp).abs() < 3600, "timestamp {stamp}");
    body
}

/// The signature alone, for tests whose clock has moved days from the real one (the
/// timestamp is the server's clock at sending).
pub fn verified_signature(secret: &str, message: &Received) -> Value {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", message.id, message.timestamp).as_bytes());
    mac.update(&message.body);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    assert!(message.signature.split(' ').any(|s| s == expected), "signature {} is not {expected}", message.signature);
    serde_json::from_slice(&message.body).unwrap()
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

    // At most four of one endpoint's deliveries are in flight at once: two rounds.
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 4);
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 1);
    // Sent side by side, they arrive in any order; their ids (UUID v7) say the order
    // they were written in.
    let mut got = receiver.got();
    got.sort_by(|a, b| a.id.cmp(&b.id));
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
        o::table.filter(o::event.eq("invitation.created")).select(o::payload).load(&mut **pool.get().unwrap()).unwrap()
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
    // The third review's ranges, IPv4-mapped forms, and a name that does not resolve: one
    // answer for all, so the answer tells nothing about the service's network.
    let mut answers = std::collections::BTreeSet::new();
    for url in [
        "https://[64:ff9b::a9fe:a9fe]/x", "https://[2002:a9fe:a9fe::1]/x", "https://[::a9fe:a9fe]/x", "https://[fec0::1]/x", "https://198.18.0.1/x",
        "https://198.19.255.255/x", "https://240.0.0.1/x", "https://192.0.0.170/x", "https://[::ffff:169.254.169.254]/x", "https://[::ffff:127.0.0.1]/x",
        "https://[::ffff:10.1.2.3]/x", "https://localhost/x", "https://no-such-host.invalid/x",
    ] {
        let refused = app.post("/api/v1/webhooks", &admin.token, json!({"url": url, "events": ["due.opened"]})).await;
        refused.assert_problem(422);
        answers.insert(refused.body["errors"].to_string());
    }
    assert_eq!(answers.len(), 1, "one generic answer: {answers:?}");
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

/// The deliveries of an endpoint, newest first.
async fn delivery_log(app: &TestApp, admin: &TestUser, hook: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/webhooks/{hook}/deliveries?limit=500"), &admin.token).await.body["items"].as_array().unwrap().clone()
}

/// An endpoint that answers 307 to an internal address: onset does not follow it, the
/// internal receiver sees nothing, and the attempt is a failure.
#[actix_rt::test]
async fn a_redirect_is_never_followed() {
    let inside = Receiver::start(0);
    let outside = Receiver::redirecting_to(&inside.url);
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": outside.url, "events": ["assessment.created"]})).await.id();
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0);
    assert!(inside.got().is_empty(), "the redirect was followed");
    let log = delivery_log(&app, &admin, &hook).await;
    assert_eq!((log[0]["status"].clone(), log[0]["last_status"].clone()), (json!("pending"), json!(307)), "{log:?}");
    assert!(log[0]["last_error"].as_str().unwrap().contains("redirect"));
}

/// A name that resolved to a public address when it was registered and resolves inside
/// the network now (DNS rebinding) is refused when onset connects: the address checked is
/// the address connected to. The listener on loopback sees no connection.
#[actix_rt::test]
async fn the_address_connected_to_is_the_address_checked() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_with(|c| c.webhook_allow_private = false).await;
    let admin = app.admin("North").await;
    // Registered as if it had passed the check: `localhost` now answers 127.0.0.1.
    let (clinic, user, sealed) = (admin.clinic_id, admin.id, app.state.sealer.seal("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    let hook = uuid::Uuid::now_v7();
    let pool = app.state.pool.clone();
    actix_web::web::block(move || {
        use diesel::prelude::*;
        use onset::db::schema::webhook_endpoints as e;
        use onset::db::{DbJsonOf, DbTime, DbUuid};
        diesel::insert_into(e::table)
            .values((e::id.eq(DbUuid(hook)), e::clinic_id.eq(DbUuid(clinic)), e::url.eq(format!("https://localhost:{port}/x")), e::events.eq(DbJsonOf(json!(["assessment.created"]))),
                e::secret.eq(sealed), e::active.eq(true), e::created_at.eq(DbTime(Utc::now())), e::created_by.eq(DbUuid(user))))
            .execute(&mut **pool.get().unwrap())
            .unwrap();
    })
    .await
    .unwrap();
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0);
    assert!(listener.accept().is_err(), "onset connected to a loopback address");
    let log = delivery_log(&app, &admin, &hook.to_string()).await;
    assert_eq!((log[0]["attempts"].clone(), log[0]["last_status"].clone()), (json!(1), Value::Null));
    assert_eq!(log[0]["last_error"], "must be an https URL whose host resolves only to public addresses", "the generic answer, no internal detail");
}

/// Clinic North's receiver accepts connections and never answers. Before, deliveries went
/// one after another, oldest first: South's alert waited behind each of North's for the
/// whole timeout. Now South's arrives while North's are still waiting, and North never
/// has more than four in flight, however many rounds start.
#[actix_rt::test]
async fn a_stalled_receiver_of_one_clinic_leaves_another_clinics_deliveries_on_time() {
    let stalled = TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_url = format!("http://{}/hooks", stalled.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in stalled.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let south_receiver = Receiver::start(0);
    let app = spawn_with(|c| c.webhook_timeout = StdDuration::from_secs(60)).await;
    let (north, south) = (app.admin("North").await, app.admin("South").await);
    let north_hook = app.post("/api/v1/webhooks", &north.token, json!({"url": stalled_url, "events": ["assessment.created"]})).await.id();
    app.post("/api/v1/webhooks", &south.token, json!({"url": south_receiver.url, "events": ["alert.raised"]})).await;
    let north_patient = app.patient(&north).await;
    for day in 1..=12 {
        app.post(&format!("/api/v1/patients/{north_patient}/assessments"), &north.token, rating_body(&format!("2026-03-{day:02}T09:00:00Z"), 20)).await;
    }
    let south_patient = app.patient(&south).await;
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(if i == 9 { 3 } else { 0 }))).collect();
    let phq9 = json!({"instrument": "phq9", "rated_at": "2026-03-12T10:00:00Z", "recall": "P14D", "items": items, "rater": "clinician", "collected_via": "interview"});
    app.post(&format!("/api/v1/patients/{south_patient}/assessments"), &south.token, phq9).await;

    let round = app.state.clone();
    actix_rt::spawn(async move { round.webhooks.run_once(&round).await });
    let mut waited = 0;
    while south_receiver.got().is_empty() && waited < 300 {
        actix_rt::time::sleep(StdDuration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(south_receiver.got().len(), 1, "South's alert.raised did not arrive while North's receiver stalled");
    // A second round while the first still waits on North: nothing more for North.
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0);
    assert!(accepted.load(Ordering::SeqCst) <= 4, "{} of North's deliveries in flight", accepted.load(Ordering::SeqCst));
    let log = delivery_log(&app, &north, &north_hook).await;
    assert_eq!(log.len(), 12);
    assert!(log.iter().all(|d| d["status"] == "pending" && d["delivered_at"].is_null()), "North's still wait: {log:?}");
}

/// An endpoint that keeps failing is left alone for a while after five failures in a
/// row, then probed with one delivery at a time.
#[actix_rt::test]
async fn a_failing_endpoint_trips_its_breaker() {
    let receiver = Receiver::start(usize::MAX);
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": receiver.url, "events": ["assessment.created"]})).await.id();
    let patient = app.patient(&admin).await;
    for day in 1..=5 {
        app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body(&format!("2026-03-{day:02}T09:00:00Z"), 20)).await;
    }
    let start = (app.state.clock.now() + Duration::seconds(1)).trunc_subsecs(0);
    app.state.clock.set(start);
    app.state.webhooks.run_once(&app.state).await.unwrap();
    app.state.webhooks.run_once(&app.state).await.unwrap();
    assert_eq!(receiver.got().len(), 5, "four, then the fifth");
    let endpoint = app.get(&format!("/api/v1/webhooks/{hook}"), &admin.token).await;
    assert_eq!(endpoint.body["consecutive_failures"], 5);
    assert_eq!(endpoint.body["paused_until"], json!(rfc3339(start + Duration::minutes(1)).replace(".000000Z", "Z")), "{}", endpoint.text);
    // The first four are due again after 5 s, but the breaker is open for a minute.
    app.state.clock.set(start + Duration::seconds(30));
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 0);
    assert_eq!(receiver.got().len(), 5, "nothing sent while the breaker is open");
    // A minute on: one probe, not four.
    app.state.clock.set(start + Duration::minutes(1));
    app.state.webhooks.run_once(&app.state).await.unwrap();
    assert_eq!(receiver.got().len(), 6);
    assert_eq!(app.get(&format!("/api/v1/webhooks/{hook}"), &admin.token).await.body["consecutive_failures"], 6);
}

/// At most ten active endpoints a clinic; the eleventh is refused until one is retired.
#[actix_rt::test]
async fn a_clinic_has_at_most_ten_active_endpoints() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let created = app.post("/api/v1/webhooks", &admin.token, json!({"url": format!("http://127.0.0.1:9/{i}"), "events": ["due.opened"]})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        ids.push(created.id());
    }
    app.post("/api/v1/webhooks", &admin.token, json!({"url": "http://127.0.0.1:9/11", "events": ["due.opened"]})).await.assert_problem(409);
    app.delete(&format!("/api/v1/webhooks/{}", ids[0]), &admin.token, json!({})).await;
    assert_eq!(app.post("/api/v1/webhooks", &admin.token, json!({"url": "http://127.0.0.1:9/11", "events": ["due.opened"]})).await.status, 201);
    let other = app.admin("South").await;
    assert_eq!(app.post("/api/v1/webhooks", &other.token, json!({"url": "http://127.0.0.1:9/s", "events": ["due.opened"]})).await.status, 201, "per clinic");
}

/// The signing secret is sealed at rest: not in the endpoint's row, and (on SQLite) not
/// anywhere in the database file or its WAL; deliveries still verify with it.
#[actix_rt::test]
async fn no_webhook_secret_bytes_in_the_database() {
    let receiver = Receiver::start(0);
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": receiver.url, "events": ["assessment.created"]})).await;
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    let key_text = secret.strip_prefix("whsec_").unwrap().to_string();
    let pool = app.state.pool.clone();
    let stored: Vec<String> = actix_web::web::block(move || {
        use diesel::prelude::*;
        use onset::db::schema::webhook_endpoints as e;
        e::table.select(e::secret).load(&mut **pool.get().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert!(stored[0].starts_with("sealed1:") && !stored[0].contains(&key_text), "{}", stored[0]);
    if let Some(file) = app.state.config.database_url.strip_prefix("sqlite://") {
        let key = base64::engine::general_purpose::STANDARD.decode(&key_text).unwrap();
        for path in [file.to_string(), format!("{file}-wal")] {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            assert!(!holds(key_text.as_bytes()) && !holds(&key), "{path} holds the secret");
        }
    }
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 1);
    verified(&secret, &receiver.got()[0]);
}

/// Settled messages and their deliveries go after the retention period; pending ones stay.
#[actix_rt::test]
async fn settled_webhook_messages_are_purged_after_their_retention() {
    let receiver = Receiver::start(0);
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let hook = app.post("/api/v1/webhooks", &admin.token, json!({"url": receiver.url, "events": ["assessment.created"]})).await.id();
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!(app.state.webhooks.run_once(&app.state).await.unwrap(), 1);
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-02T09:00:00Z", 20)).await;
    let purge_at = |days: i64| {
        let pool = app.state.pool.clone();
        actix_web::web::block(move || onset::store::housekeeping::purge(&mut pool.get().unwrap(), onset::store::now() + Duration::days(days), Duration::days(7)).unwrap())
    };
    let early = purge_at(6).await.unwrap();
    assert_eq!((early.webhook_deliveries, early.webhook_messages), (0, 0), "within the retention");
    let late = purge_at(8).await.unwrap();
    assert_eq!((late.webhook_deliveries, late.webhook_messages), (1, 1), "the delivered one; the pending one stays");
    let log = delivery_log(&app, &admin, &hook).await;
    assert_eq!((log.len(), log[0]["status"].clone()), (1, json!("pending")));
}
