//! Crash safety: the real binary takes concurrent writes, is killed with SIGKILL in the
//! middle of them, and restarts on the same database. Every rating acknowledged with
//! 201 must be there, and every rating that is there must be whole (its first revision
//! and its audit entry were written in the same transaction).

use std::cell::RefCell;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_onset");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(database_url: &str, port: u16) -> Child {
    Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("ONSET_BIND", format!("127.0.0.1:{port}"))
        .env("ONSET_JWT_SECRET", std::str::from_utf8(JWT_SECRET).unwrap())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the onset binary starts")
}

async fn wait_until_up(client: &awc::Client, base: &str) {
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("onset did not come up at {base}");
}

async fn send(client: &awc::Client, method: &str, url: String, token: &str, body: Option<Value>) -> Option<(u16, Value)> {
    let request = client.request(awc::http::Method::from_bytes(method.as_bytes()).unwrap(), url).insert_header(("authorization", format!("Bearer {token}")));
    let mut response = match body {
        Some(body) => request.send_json(&body).await.ok()?,
        None => request.send().await.ok()?,
    };
    let bytes = response.body().limit(16 << 20).await.ok()?;
    Some((response.status().as_u16(), serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

async fn login(client: &awc::Client, base: &str) -> String {
    let mut response = client.post(format!("{base}/api/v1/auth/login")).send_json(&json!({"email": "admin@crash.example.org", "password": PASSWORD})).await.unwrap();
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().expect("logged in").to_string()
}

#[actix_rt::test]
async fn acknowledged_writes_survive_kill_9() {
    let database_url = fresh_database_url();
    let created = Command::new(BIN)
        .args(["create-admin", "--clinic", "Crash clinic", "--email", "admin@crash.example.org"])
        .env("DATABASE_URL", &database_url)
        .env("ONSET_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let client = awc::Client::builder().timeout(Duration::from_secs(5)).finish();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&database_url, port);
    wait_until_up(&client, &base).await;
    let token = login(&client, &base).await;
    let (_, patient) = send(&client, "POST", format!("{base}/api/v1/patients"), &token, Some(patient_body())).await.unwrap();
    let patient = patient["id"].as_str().unwrap().to_string();

    let acknowledged: Rc<RefCell<Vec<String>>> = Rc::default();
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let (client, base, token, patient, acknowledged) = (client.clone(), base.clone(), token.clone(), patient.clone(), acknowledged.clone());
            actix_rt::spawn(async move {
                for n in 0u32.. {
                    let body = rating_body("2026-03-01T08:00:00Z", (writer * 3 + n) % 40);
                    match send(&client, "POST", format!("{base}/api/v1/patients/{patient}/assessments"), &token, Some(body)).await {
                        Some((201, created)) => acknowledged.borrow_mut().push(created["id"].as_str().unwrap().to_string()),
                        Some((status, body)) => panic!("a write failed with {status}: {body}"),
                        None => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    for writer in writers {
        writer.await.expect("writers saw only 201s until the kill");
    }
    let acknowledged = acknowledged.borrow().clone();
    assert!(acknowledged.len() > 20, "only {} writes before the kill", acknowledged.len());

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut restarted = serve(&database_url, port);
    wait_until_up(&client, &base).await;
    let token = login(&client, &base).await;
    let mut stored = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = send(&client, "GET", format!("{base}/api/v1/patients/{patient}/assessments?limit=500{cursor}"), &token, None).await.unwrap();
        assert_eq!(status, 200);
        stored.extend(page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let missing: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(stored.len() <= acknowledged.len() + 8, "at most one unacknowledged write per writer");
    for id in &stored {
        let (status, revisions) = send(&client, "GET", format!("{base}/api/v1/assessments/{id}/revisions"), &token, None).await.unwrap();
        assert_eq!((status, revisions["items"].as_array().map(Vec::len)), (200, Some(1)), "{id} is whole");
    }
    let (_, audit) = send(&client, "GET", format!("{base}/api/v1/audit?action=assessment.create&limit=500"), &token, None).await.unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), stored.len().min(500));
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    eprintln!("crash safety: {} acknowledged writes checked after kill -9 ({} stored)", acknowledged.len(), stored.len());
}
