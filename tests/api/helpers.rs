//! A fresh database and a fresh app per test, driven over real HTTP.
//!
//! SQLite by default (a temporary file); PostgreSQL when ONSET_TEST_DATABASE_URL names a
//! server, each test in a database of its own.

use std::net::TcpListener;

use actix_web::web;
use awc::http::{Method, header::HeaderMap};
use diesel::{Connection, PgConnection, RunQueryDsl};
use onset::auth::{Role, password};
use onset::config::Config;
use onset::state::AppState;
use onset::store::users::{self, NewUser};
use serde_json::{Value, json};
use uuid::Uuid;

pub const JWT_SECRET: &[u8] = b"test secret that is at least thirty-two bytes long";
pub const EXPORT_KEY: &[u8] = b"export key that is at least thirty-two bytes long";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    pub state: web::Data<AppState>,
    client: awc::Client,
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub email: String,
    pub token: String,
    pub refresh_token: String,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.text)).to_string()
    }
    /// The field names of a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        assert_eq!(self.content_type(), "application/problem+json", "{}", self.text);
        self.body["errors"].as_array().map(|e| e.iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()).unwrap_or_default()
    }
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.content_type(), "application/problem+json", "{}", self.text);
        assert_eq!(self.body["status"], json!(status), "{}", self.text);
        assert!(self.body["type"].is_string() && self.body["title"].is_string(), "{}", self.text);
    }
}

/// A new, empty, migrated database for one test.
pub fn fresh_database_url() -> String {
    match std::env::var("ONSET_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(server) => {
            // The test server is local: no TLS, so libpq never initialises OpenSSL, whose
            // clean-up at process exit can race the threads of apps still winding down.
            let server = if server.contains("sslmode=") {
                server
            } else {
                format!("{server}{}sslmode=disable", if server.contains('?') { '&' } else { '?' })
            };
            let name = format!("onset_test_{}", Uuid::now_v7().simple());
            let mut admin = PgConnection::establish(&server).expect("ONSET_TEST_DATABASE_URL must reach PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create test database");
            let (base, query) = match server.split_once('?') {
                Some((base, query)) => (base.to_string(), format!("?{query}")),
                None => (server.clone(), String::new()),
            };
            let root = base.rsplit_once('/').map(|(root, _)| root.to_string()).unwrap_or(base);
            format!("{root}/{name}{query}")
        }
        None => std::env::temp_dir().join(format!("onset-test-{}.db", Uuid::now_v7())).to_string_lossy().into_owned(),
    }
}

pub fn test_config(database_url: String) -> Config {
    Config {
        bind: "127.0.0.1:0".into(),
        database_url,
        read_database_url: None,
        jwt_secret: JWT_SECRET.to_vec(),
        export_key: Some(EXPORT_KEY.to_vec()),
        cors_origins: vec!["https://app.example.org".into()],
        min_cell: 11,
        require_if_match: false,
        login_per_account_per_minute: 10,
        login_per_address_per_minute: 10_000,
        pool_size: 4,
        export_concurrency: 2,
        export_send_timeout: std::time::Duration::from_secs(60),
        request_timeout: std::time::Duration::from_secs(30),
        trusted_proxies: Vec::new(),
        migrate_on_start: true,
        scheduler_tick: std::time::Duration::from_secs(3600),
        public_url: "https://onset.example.org".into(),
        self_report_per_address_per_minute: 10_000,
        webhook_allow_private: true,
        webhook_tick: std::time::Duration::from_secs(3600),
        webhook_timeout: std::time::Duration::from_secs(10),
        webhook_retention_days: 7,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(TcpListener::bind("127.0.0.1:0").unwrap(), adjust).await
}

pub async fn spawn_on(listener: TcpListener, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(fresh_database_url());
    adjust(&mut config);
    let state = web::block(move || onset::prepare(config)).await.unwrap().expect("app prepares");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = onset::start(listener, state.clone(), 1).expect("server starts");
    actix_rt::spawn(server);
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(60)).finish();
    TestApp { address, state, client }
}

impl TestApp {
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let mut response = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        }
        .expect("request is answered");
        let bytes = response.body().limit(64 << 20).await.expect("body is read");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response { status: response.status().as_u16(), headers: response.headers().clone(), text, body }
    }

    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Response {
        let mut request = self.client.request(method, format!("{}{}", self.address, path)).insert_header(("content-type", content_type));
        if let Some(token) = token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        let mut response = request.send_body(body).await.expect("request is answered");
        let bytes = response.body().limit(64 << 20).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response { status: response.status().as_u16(), headers: response.headers().clone(), text, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None, &[]).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(&body), &[]).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(&body), &[]).await
    }
    pub async fn delete(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::DELETE, path, Some(token), Some(&body), &[]).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.request(Method::POST, "/api/v1/auth/login", None, Some(&json!({"email": email, "password": password})), &[]).await
    }

    /// The admin of a clinic, created the way `onset create-admin` does it, and logged in.
    pub async fn admin(&self, clinic: &str) -> TestUser {
        let email = format!("admin-{}@{}.example.org", Uuid::now_v7().simple(), clinic.to_lowercase());
        let pool = self.state.pool.clone();
        let (clinic, address) = (clinic.to_string(), email.clone());
        web::block(move || {
            let admin = NewUser { email: address, name: "Admin".into(), role: Role::Admin, password_hash: password::hash(PASSWORD) };
            users::create_clinic_with_admin(&mut pool.get().unwrap(), &clinic, admin).unwrap()
        })
        .await
        .unwrap();
        self.logged_in(&email).await
    }

    /// A user of `role` in the admin's clinic, created through the API and logged in.
    pub async fn user(&self, admin: &TestUser, role: &str) -> TestUser {
        let email = format!("{role}-{}@example.org", Uuid::now_v7().simple());
        let created = self.post("/api/v1/users", &admin.token, json!({"email": email, "password": PASSWORD, "name": "Dr Test", "role": role})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        self.logged_in(&email).await
    }

    async fn logged_in(&self, email: &str) -> TestUser {
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        TestUser::from_login(self, email, &login).await
    }

    /// Supplies placeholder wording for a licensed instrument as the clinic's admin would
    /// paste its licensed text: every item's question and every choice option's label,
    /// built from the catalogue (no licensed wording is in the tests).
    pub async fn supply_wording(&self, admin: &TestUser, instrument: &str) -> Response {
        let definition = self.get(&format!("/api/v1/instruments/{instrument}"), &admin.token).await;
        assert_eq!(definition.status, 200, "{}", definition.text);
        let items: serde_json::Map<String, Value> = definition.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let code = item["code"].as_str().unwrap();
                let options: serde_json::Map<String, Value> = match item["type"].as_str() {
                    Some("choice") => item["options"].as_array().unwrap().iter().map(|o| (o["value"].to_string(), json!(format!("Clinic label {}", o["value"])))).collect(),
                    _ => serde_json::Map::new(),
                };
                (code.to_string(), json!({"text": format!("Clinic question {code}"), "options": options}))
            })
            .collect();
        let body = json!({"license_note": "test licence", "preamble": "Clinic preamble", "items": items});
        self.request(Method::PUT, &format!("/api/v1/clinic/instruments/{instrument}/text"), Some(&admin.token), Some(&body), &[]).await
    }

    pub async fn patient(&self, user: &TestUser) -> String {
        let created = self.post("/api/v1/patients", &user.token, patient_body()).await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.id()
    }
}

impl TestUser {
    /// The user a successful login answered for.
    pub async fn from_login(app: &TestApp, email: &str, login: &Response) -> TestUser {
        let me = app.get("/api/v1/me", login.body["access_token"].as_str().unwrap()).await;
        TestUser {
            id: me.body["id"].as_str().unwrap().parse().unwrap(),
            clinic_id: me.body["clinic_id"].as_str().unwrap().parse().unwrap(),
            email: email.to_string(),
            token: login.body["access_token"].as_str().unwrap().to_string(),
            refresh_token: login.body["refresh_token"].as_str().unwrap().to_string(),
        }
    }

}

/// An instant as the API writes it (RFC 3339, microseconds, `Z`).
/// A JSON number within `tolerance` of `expected` (strictly).
pub fn within(v: &Value, expected: f64, tolerance: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < tolerance)
}

/// A JSON number equal to a hand-worked figure but for the last bits of a float.
pub fn close(v: &Value, expected: f64) -> bool {
    within(v, expected, 1e-9)
}

/// A Kaplan–Meier report's rows as (hours, at risk, events, censored).
pub fn km_counts(report: &Value) -> Vec<(f64, u64, u64, u64)> {
    report["km"].as_array().unwrap().iter().map(|s| (s["hours"].as_f64().unwrap(), s["at_risk"].as_u64().unwrap(), s["events"].as_u64().unwrap(), s["censored"].as_u64().unwrap())).collect()
}

pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An instant the API answered with.
pub fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("not a time: {value}"))).unwrap().with_timezone(&chrono::Utc)
}

pub fn patient_body() -> Value {
    json!({"display_name": "Jane Roe", "birth_date": "1988-07-14", "sex": "female", "diagnosis": "F42.2", "research_consent": true})
}

/// Y-BOCS items summing to `total` (spread over the ten core items).
pub fn ybocs_items(total: u32) -> Value {
    let mut items = serde_json::Map::new();
    for i in 1..=10u32 {
        let share = total / 10 + u32::from(i <= total % 10);
        items.insert(i.to_string(), json!(share));
    }
    Value::Object(items)
}

pub fn rating_body(rated_at: &str, total: u32) -> Value {
    json!({"instrument": "ybocs", "rated_at": rated_at, "recall": "P7D", "items": ybocs_items(total), "rater": "clinician", "collected_via": "interview"})
}

/// A protocol of two self-reported ratings: the VAS at +2 h (±30 min) and the Y-BOCS
/// self-report at day 1 (2 h before to 12 h after).
pub fn protocol_body() -> Value {
    json!({"name": "Hours and a day", "items": [
        {"instrument": "ocd_vas", "offset": "PT2H", "window_before": "PT30M", "window_after": "PT30M", "recall": "NOW"},
        {"instrument": "ybocs_sr", "offset": "P1D", "window_before": "PT2H", "window_after": "PT12H", "recall": "P24H"},
    ]})
}

pub fn infusion_body(started_at: &str) -> Value {
    json!({"drug": "ketamine", "route": "iv", "started_at": started_at, "dose_mg": 35.0, "weight_kg": 70.0, "guidance": "guided"})
}

/// An operation of openapi.yaml: its method, path, `x-roles` (none when public) and its
/// own lines (not its path's `parameters`).
pub struct Operation {
    pub method: String,
    pub path: String,
    pub roles: Option<Vec<String>>,
    pub text: String,
}

/// Every operation of the contract, read from openapi.yaml's `paths`.
pub fn operations() -> Vec<Operation> {
    let mut ops: Vec<Operation> = Vec::new();
    let (mut in_paths, mut path) = (false, String::new());
    // Whether the lines now read belong to the last operation (not to a path's own
    // `parameters`, nor to the next path).
    let mut in_operation = false;
    for line in onset::api::health::OPENAPI.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            (path, in_operation) = (format!("/{}", p.trim_end().trim_end_matches(':')), false);
        } else if let Some(key) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
            let method = key.strip_suffix(':').filter(|m| ["get", "post", "patch", "delete", "put"].contains(m));
            in_operation = method.is_some();
            if let Some(method) = method {
                ops.push(Operation { method: method.to_uppercase(), path: path.clone(), roles: None, text: String::new() });
            }
        } else if in_operation && let Some(op) = ops.last_mut() {
            if let Some(roles) = line.trim().strip_prefix("x-roles: [").and_then(|r| r.strip_suffix(']')) {
                op.roles = Some(roles.split(',').map(|r| r.trim().to_string()).collect());
            }
            op.text.push_str(line);
            op.text.push('\n');
        }
    }
    ops
}
