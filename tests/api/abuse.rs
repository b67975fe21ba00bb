//! Attacks a client can send, performed: each must fail cheaply and leave no trace
//! beyond what the audit should hold.

use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_rt::test]
async fn oversized_login_emails_are_refused_before_the_throttle_and_the_audit() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    for i in 0..5 {
        let huge = format!("{i}{}@x.org", "a".repeat(1 << 19));
        let refused = app.post("/api/v1/auth/login", "", json!({"email": huge, "password": "p".repeat(2000)})).await;
        refused.assert_problem(422);
        let mut fields = refused.error_fields();
        fields.sort();
        assert_eq!(fields, vec!["email", "password"]);
        assert!(refused.text.len() < 1_000, "the answer does not echo the input: {} bytes", refused.text.len());
    }
    let audit = app.get("/api/v1/audit?action=auth.login_failed", &admin.token).await;
    assert_eq!(audit.body["items"], json!([]), "nothing of the flood is stored");
    // a real account is still served
    let ok = app.post("/api/v1/auth/login", "", json!({"email": admin.email, "password": PASSWORD})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[actix_rt::test]
async fn hundreds_of_thousands_of_bad_elements_get_a_bounded_answer() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let mut session = infusion_body("2026-03-02T09:00:00Z");
    session["adverse_event_codes"] = Value::Array(vec![json!("x"); 200_000]);
    session["vitals"] = Value::Array(vec![json!({"minute": "x"}); 10_000]);
    let refused = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, session).await;
    refused.assert_problem(422);
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["adverse_event_codes", "vitals"], "one error per oversized list");
    let items: serde_json::Map<String, Value> = (0..60_000).map(|i| (format!("k{i}"), json!(1))).collect();
    let mut rating = rating_body("2026-03-01T09:00:00Z", 20);
    rating["items"] = Value::Object(items);
    let refused = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating).await;
    refused.assert_problem(422);
    assert_eq!(refused.error_fields(), vec!["items"]);
    // many distinct bad fields: the list is capped at 50 and the rest counted
    let mut wrong = rating_body("2026-03-01T09:00:00Z", 20);
    wrong["items"] = json!({"1": -1, "2": -1, "3": -1, "4": -1, "5": -1, "6": -1, "7": -1, "8": -1, "9": -1, "10": -1, "1b": -1, "6b": -1, "11": -1, "12": -1, "13": -1, "14": -1, "15": -1, "16": -1, "17": -1, "18": -1, "19": -1});
    let refused = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, wrong).await;
    assert_eq!(refused.error_fields().len(), 21);
    assert!(refused.text.len() < 4_000, "{} bytes", refused.text.len());
}

#[actix_rt::test]
async fn a_retraction_takes_its_reason_from_the_query_when_the_body_is_dropped() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let id = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await.id();
    let path = format!("/api/v1/assessments/{id}");
    let missing = app.request(Method::DELETE, &path, Some(&admin.token), None, &[]).await;
    missing.assert_problem(422);
    assert_eq!(missing.error_fields(), vec!["reason"]);
    let retracted = app.request(Method::DELETE, &format!("{path}?reason=entered%20twice"), Some(&admin.token), None, &[]).await;
    assert_eq!((retracted.status, retracted.body["status"].clone()), (200, json!("entered_in_error")), "{}", retracted.text);
    let revisions = app.get(&format!("{path}/revisions"), &admin.token).await;
    assert_eq!(revisions.body["items"][1]["reason"], "entered twice");
    app.request(Method::DELETE, &format!("{path}?colour=red"), Some(&admin.token), None, &[]).await.assert_problem(400);
}

#[actix_rt::test]
async fn api_answers_are_never_cached_sniffed_or_referred() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    for response in [
        app.get(&format!("/api/v1/patients/{patient}"), &admin.token).await,
        app.get("/api/v1/patients/not-an-id", &admin.token).await,
        app.request(Method::GET, "/api/v1/me", None, None, &[]).await,
    ] {
        assert_eq!(response.header("cache-control").as_deref(), Some("no-store"), "{}", response.status);
        assert_eq!(response.header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(response.header("referrer-policy").as_deref(), Some("no-referrer"));
    }
}

#[actix_rt::test]
async fn the_audit_log_cannot_be_rewritten_or_erased_even_with_a_connection() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let before = app.get("/api/v1/audit", &admin.token).await.body["items"].as_array().unwrap().len();
    assert!(before > 0);
    let mut pooled = app.state.pool.get().unwrap();
    let conn: &mut onset::db::Db = &mut pooled;
    for statement in ["UPDATE audit_events SET action = 'nothing.happened'", "DELETE FROM audit_events"] {
        let refused = diesel::sql_query(statement).execute(conn).expect_err(statement);
        assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
    }
    if app.state.pool.get().map(|c| matches!(**c, onset::db::Db::Pg(_))).unwrap() {
        // Without CASCADE the hash chain's foreign key refuses first; with it, the trigger.
        let refused = diesel::sql_query("TRUNCATE audit_events").execute(conn).expect_err("truncate");
        assert!(refused.to_string().contains("append-only") || refused.to_string().contains("foreign key"), "{refused}");
        for statement in ["TRUNCATE audit_events CASCADE", "TRUNCATE audit_chain"] {
            let refused = diesel::sql_query(statement).execute(conn).expect_err(statement);
            assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
        }
    }
    for statement in ["UPDATE audit_chain SET hash = 'x'", "DELETE FROM audit_chain"] {
        let refused = diesel::sql_query(statement).execute(conn).expect_err(statement);
        assert!(refused.to_string().contains("append-only"), "{statement}: {refused}");
    }
    drop(pooled);
    let after = app.get("/api/v1/audit", &admin.token).await;
    assert!(after.body["items"].as_array().unwrap().iter().all(|e| e["action"] != "nothing.happened"));
    assert!(after.body["items"].as_array().unwrap().len() >= before);
}

#[actix_rt::test]
async fn a_body_must_be_an_object_and_a_reason_is_given_once() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let positional = app.request(Method::PATCH, &format!("/api/v1/users/{}", clinician.id), Some(&admin.token), Some(&json!([false, null, null])), &[]).await;
    positional.assert_problem(422);
    assert_eq!(positional.error_fields(), vec!["body"]);
    assert_eq!(app.get("/api/v1/users", &admin.token).await.body["items"][1]["active"], true, "an array is not read as fields by position");
    let patient = app.patient(&admin).await;
    let id = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 20)).await.id();
    let both = app.request(Method::DELETE, &format!("/api/v1/assessments/{id}?reason=query"), Some(&admin.token), Some(&json!({"reason": "body"})), &[]).await;
    both.assert_problem(422);
    assert_eq!(both.error_fields(), vec!["reason"]);
}

#[actix_rt::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_login_bucket_and_nobody_else_can_claim_one() {
    let behind_proxy = spawn_with(|c| {
        c.login_per_address_per_minute = 2;
        c.login_per_account_per_minute = 1_000;
        c.trusted_proxies = onset::config::trusted_proxies(Some("127.0.0.1")).unwrap();
    })
    .await;
    assert_eq!([login_from(&behind_proxy, "203.0.113.5").await, login_from(&behind_proxy, "203.0.113.5").await], [401, 401]);
    assert_eq!(login_from(&behind_proxy, "203.0.113.5").await, 429, "the third attempt from one client");
    assert_eq!(login_from(&behind_proxy, "203.0.113.6").await, 401, "another client behind the same proxy is not throttled");
    assert_eq!(login_from(&behind_proxy, "203.0.113.6, 203.0.113.5").await, 429, "only the hop the proxy added counts");
    // IPv6 clients share their /64.
    assert_eq!([login_from(&behind_proxy, "2001:db8:1:2::1").await, login_from(&behind_proxy, "2001:db8:1:2::2").await], [401, 401]);
    assert_eq!(login_from(&behind_proxy, "2001:db8:1:2::3").await, 429);
    assert_eq!(login_from(&behind_proxy, "2001:db8:1:3::1").await, 401);

    // With no trusted proxy, the header is ignored: forging it buys no fresh bucket.
    let direct = spawn_with(|c| {
        c.login_per_address_per_minute = 2;
        c.login_per_account_per_minute = 1_000;
    })
    .await;
    assert_eq!([login_from(&direct, "198.51.100.1").await, login_from(&direct, "198.51.100.2").await], [401, 401]);
    assert_eq!(login_from(&direct, "198.51.100.3").await, 429);
}

async fn login_from(app: &TestApp, forwarded: &str) -> u16 {
    let body = json!({"email": "nobody@example.org", "password": "wrong password"});
    app.request(Method::POST, "/api/v1/auth/login", None, Some(&body), &[("x-forwarded-for", forwarded)]).await.status
}

/// With the roles of `docker-compose.yml` (deploy/postgres/app-role.sql): the owner
/// migrates, the service runs as a role that can write rows but not disarm the audit.
#[actix_rt::test]
async fn the_service_role_of_the_deployment_writes_rows_but_cannot_disarm_the_audit() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(server) = std::env::var("ONSET_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else { return };
    let database_url = fresh_database_url();
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let (owner, service) = (format!("owner_{suffix}"), format!("app_{suffix}"));
    let with_user = |url: &str, user: &str| url.replacen("://postgres@", &format!("://{user}@"), 1);
    let mut admin = PgConnection::establish(&server).unwrap();
    let database = database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    diesel::sql_query(format!("CREATE ROLE \"{owner}\" LOGIN")).execute(&mut admin).unwrap();
    diesel::sql_query(format!("ALTER DATABASE {database} OWNER TO \"{owner}\"")).execute(&mut admin).unwrap();
    let mut in_database = PgConnection::establish(&database_url).unwrap();
    diesel::sql_query(format!("ALTER SCHEMA public OWNER TO \"{owner}\"")).execute(&mut in_database).unwrap();
    // The deployment's script, with psql's variables filled in as psql would.
    let script = include_str!("../../deploy/postgres/app-role.sql")
        .replace(":\"app\"", &format!("\"{service}\""))
        .replace(":\"owner\"", &format!("\"{owner}\""))
        .replace(":'app_password'", "'unused under trust'");
    // Run as the image's POSTGRES_USER runs it: a superuser, in onset's database.
    diesel::connection::SimpleConnection::batch_execute(&mut in_database, &script).unwrap();
    let mut as_owner = PgConnection::establish(&with_user(&database_url, &owner)).unwrap();
    let mut migrating = onset::db::connect(&with_user(&database_url, &owner), 1).unwrap().get().unwrap();
    onset::db::migrate(&mut migrating).unwrap();

    let service_url = with_user(&database_url, &service);
    let app = spawn_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), |c| {
        c.database_url = service_url.clone();
        c.migrate_on_start = false;
    })
    .await;
    let admin_user = app.admin("North").await;
    let patient = app.patient(&admin_user).await;
    let rated = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin_user.token, rating_body("2026-03-01T09:00:00Z", 20)).await;
    assert_eq!(rated.status, 201, "{}", rated.text);

    let mut as_service = PgConnection::establish(&service_url).unwrap();
    for statement in [
        "DROP TRIGGER audit_events_no_update_or_delete ON audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TABLE audit_events",
        "CREATE TABLE shadow (id int)",
    ] {
        let refused = diesel::sql_query(statement).execute(&mut as_service).expect_err(statement);
        assert!(refused.to_string().contains("must be owner") || refused.to_string().contains("permission denied"), "{statement}: {refused}");
    }
    let refused = diesel::sql_query("UPDATE audit_events SET action = 'x'").execute(&mut as_service).expect_err("update");
    assert!(refused.to_string().contains("append-only"), "{refused}");
    // An old schema is refused at start rather than served half-migrated.
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)")
        .execute(&mut as_owner)
        .unwrap();
    let mut config = test_config(service_url.clone());
    config.migrate_on_start = false;
    let refused = actix_web::web::block(move || onset::prepare(config).err()).await.unwrap();
    assert!(refused.as_deref().unwrap_or("").contains("onset migrate"), "{refused:?}");
}

#[actix_rt::test]
async fn the_sqlite_files_are_private_and_a_shared_secret_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("onset-files-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir(&dir).unwrap();
    let database = dir.join("clinic.db");
    let onset = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_onset")).args(args).env("DATABASE_URL", &database).env_remove("ONSET_JWT_SECRET").output().unwrap()
    };
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // demo-data writes through WAL and, without ONSET_JWT_SECRET, makes the secret file.
    let seeded = onset(&["demo-data", "--patients", "3"]);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let secret = dir.join("clinic.db.jwt-secret");
    for file in [database.clone(), secret.clone()] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for suffix in ["-wal", "-shm"] {
        let file = dir.join(format!("clinic.db{suffix}"));
        if file.exists() {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    // A database file someone made world-readable is narrowed on the next start.
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(onset(&["migrate"]).status.success());
    assert_eq!(mode(&database), 0o600);
    // A secret others can read is refused, and nothing is served with it.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
    let refused = onset(&["demo-data", "--print-admin"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("chmod 600"), "{message}");
    assert!(refused.stdout.is_empty(), "no password printed with a shared secret");
    std::fs::remove_dir_all(&dir).unwrap();
}
