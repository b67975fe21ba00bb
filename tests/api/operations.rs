//! Running it for real (DESIGN.md §12): a backup taken while clinicians write holds every
//! rating acknowledged before it began and passes the restore check; a damaged copy fails
//! it; PostgreSQL is pointed to its own tools.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_onset");

fn onset(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(BIN).args(args).env("DATABASE_URL", database_url).env("RUST_LOG", "error").output().unwrap()
}

#[actix_rt::test]
async fn a_backup_taken_while_eight_writers_post_holds_every_acknowledged_rating() {
    let app = spawn_app().await;
    let database_url = app.state.config.database_url.clone();
    let work = std::env::temp_dir().join(format!("onset-backup-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&work).unwrap();
    let copy = work.join("copy.db");
    if database_url.starts_with("postgres") {
        let refused = onset(&["backup", "--to", copy.to_str().unwrap()], &database_url);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && said.contains("pg_dump") && said.contains("pg_basebackup"), "{said}");
        assert!(!copy.exists());
        return;
    }
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (app_address, token, patient, acknowledged, stop) = (app.address.clone(), admin.token.clone(), patient.clone(), acknowledged.clone(), stop.clone());
        writers.push(actix_rt::spawn(async move {
            let client = awc::Client::builder().timeout(std::time::Duration::from_secs(30)).finish();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 400 {
                let at = format!("2026-0{}-{:02}T{:02}:{:02}:00Z", 1 + writer % 8, 1 + n % 28, n % 24, writer);
                let mut sent = client
                    .post(format!("{app_address}/api/v1/patients/{patient}/assessments"))
                    .insert_header(("authorization", format!("Bearer {token}")))
                    .send_json(&rating_body(&at, 20))
                    .await
                    .unwrap();
                if sent.status() == 201 {
                    let body: serde_json::Value = sent.json().await.unwrap();
                    acknowledged.lock().unwrap().push(body["id"].as_str().unwrap().to_string());
                }
                n += 1;
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 80 {
        actix_rt::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Everything acknowledged before the backup began must be in it.
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let (url, target) = (database_url.clone(), copy.clone());
    let backed = actix_web::web::block(move || onset(&["backup", "--to", target.to_str().unwrap()], &url)).await.unwrap();
    let during = acknowledged.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(backed.status.success(), "{}", String::from_utf8_lossy(&backed.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let checked = onset(&["restore-check", copy.to_str().unwrap()], "unused");
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{report}{}", String::from_utf8_lossy(&checked.stderr));
    assert!(report.contains("ok: integrity, foreign keys and schema version check out") && report.contains("assessments: "), "{report}");
    let in_copy: Vec<String> = {
        use diesel::prelude::*;
        let mut conn = diesel::SqliteConnection::establish(&format!("file:{}?mode=ro", copy.display())).unwrap();
        diesel::sql_query("SELECT id AS line FROM assessments").load::<Line>(&mut conn).unwrap().into_iter().map(|l| l.line).collect()
    };
    let missing: Vec<&String> = before.iter().filter(|id| !in_copy.contains(id)).collect();
    assert!(missing.is_empty(), "{} acknowledged ratings missing from the backup: {missing:?}", missing.len());
    eprintln!("backup: {} ratings acknowledged before it began, {during} while it ran, {} in the copy", before.len(), in_copy.len());
    // The restore as the README gives it: check the copy, put it where the database
    // lives, start onset on it; the clinic logs in and finds every rating of the copy.
    let restored = work.join("restored.db");
    std::fs::copy(&copy, &restored).unwrap();
    let again = spawn_with(|c| c.database_url = format!("sqlite://{}", restored.display())).await;
    let login = again.login(&admin.email, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.body["access_token"].as_str().unwrap();
    let listed = again.get(&format!("/api/v1/patients/{patient}/assessments?limit=500"), token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), in_copy.len());
    // A second backup to the same path is refused: a copy is never overwritten.
    assert!(!onset(&["backup", "--to", copy.to_str().unwrap()], &database_url).status.success());
    // A damaged copy fails the check, naming what is wrong.
    let damaged = work.join("damaged.db");
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0x5a);
    std::fs::write(&damaged, bytes).unwrap();
    let failed = onset(&["restore-check", damaged.to_str().unwrap()], "unused");
    assert!(!failed.status.success(), "{}", String::from_utf8_lossy(&failed.stdout));
    assert!(String::from_utf8_lossy(&failed.stdout).contains("fault:"));
    let not_there = onset(&["restore-check", work.join("none.db").to_str().unwrap()], "unused");
    assert!(!not_there.status.success());
    let _ = std::fs::remove_dir_all(&work);
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// DESIGN.md §12: every audit entry carries the SHA-256 of the previous entry of its
/// clinic and its own content. `onset audit-verify` passes on an untouched log, and names
/// the first entry that no longer fits once someone with the database's keys edits one
/// (the append-only trigger dropped first, as an owner could). On SQLite the edit is made
/// on a copy; on PostgreSQL in the test's own database.
#[actix_rt::test]
async fn the_audit_hash_chain_names_the_first_entry_edited_outside_onset() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let patient = app.patient(&north).await;
    for day in 1..=5 {
        app.post(&format!("/api/v1/patients/{patient}/assessments"), &north.token, rating_body(&format!("2026-03-{day:02}T09:00:00Z"), 20)).await;
    }
    app.patient(&south).await;
    app.login("nobody@nowhere.example", "wrong password 123").await;
    let database_url = app.state.config.database_url.clone();
    let verified = onset(&["audit-verify"], &database_url);
    let said = String::from_utf8_lossy(&verified.stdout).to_string();
    assert!(verified.status.success(), "{said}{}", String::from_utf8_lossy(&verified.stderr));
    assert!(said.contains("ok: every audit event fits its chain") && said.contains("3 chains"), "North, South and the events of no clinic: {said}");
    // The event to edit: North's third rating's audit entry.
    let audit = app.get("/api/v1/audit?action=assessment.create&limit=500", &north.token).await;
    let events: Vec<String> = audit.body["items"].as_array().unwrap().iter().rev().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    let edited = events[2].clone();
    let target_url = if database_url.starts_with("postgres") {
        let mut pooled = app.state.pool.get().unwrap();
        let conn: &mut onset::db::Db = &mut pooled;
        diesel::sql_query("DROP TRIGGER audit_events_no_update_or_delete ON audit_events").execute(conn).unwrap();
        diesel::sql_query(format!("UPDATE audit_events SET actor_email = 'someone.else@example.org' WHERE id = '{edited}'")).execute(conn).unwrap();
        database_url.clone()
    } else {
        let copy = std::env::temp_dir().join(format!("onset-audit-{}.db", uuid::Uuid::now_v7().simple()));
        assert!(onset(&["backup", "--to", copy.to_str().unwrap()], &database_url).status.success());
        let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(copy.to_str().unwrap()).unwrap();
        diesel::sql_query("DROP TRIGGER audit_events_no_update").execute(&mut conn).unwrap();
        diesel::sql_query(format!("UPDATE audit_events SET actor_email = 'someone.else@example.org' WHERE id = '{edited}'")).execute(&mut conn).unwrap();
        format!("sqlite://{}", copy.display())
    };
    let broken = onset(&["audit-verify"], &target_url);
    let said = String::from_utf8_lossy(&broken.stdout);
    assert!(!broken.status.success(), "{said}");
    assert!(said.contains(&format!("event {edited} (link")) && said.contains("does not fit"), "{said}");
    assert_eq!(said.matches("fault:").count(), 1, "only North's chain is broken: {said}");
}

/// Reads that come at once are audited together on PostgreSQL (one lock of the chain's
/// head and one commit for a group): each read is still audited exactly once, in its
/// clinic's chain, beside writes that extend the same chain, and the chains verify.
#[actix_rt::test]
async fn reads_at_once_are_each_audited_once_and_the_chains_still_verify() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let (north_patient, south_patient) = (app.patient(&north).await, app.patient(&south).await);
    let app = &app;
    let reads = (0..48).map(|i| {
        let (token, patient) = if i % 3 == 0 { (&south.token, &south_patient) } else { (&north.token, &north_patient) };
        let path = format!("/api/v1/patients/{patient}/trajectory");
        async move { app.get(&path, token).await }
    });
    let writes = (1..=6).map(|day| {
        let path = format!("/api/v1/patients/{north_patient}/assessments");
        let token = &north.token;
        async move { app.post(&path, token, rating_body(&format!("2026-03-{day:02}T09:00:00Z"), 20)).await }
    });
    let (read, written) = futures_util::future::join(futures_util::future::join_all(reads), futures_util::future::join_all(writes)).await;
    assert!(read.iter().all(|r| r.status == 200) && written.iter().all(|r| r.status == 201));
    for (user, patient, expected) in [(&north, &north_patient, 32), (&south, &south_patient, 16)] {
        let audit = app.get("/api/v1/audit?action=patient.trajectory&limit=500", &user.token).await;
        let items = audit.body["items"].as_array().unwrap();
        assert_eq!(items.len(), expected, "{}", audit.body);
        assert!(items.iter().all(|e| e["entity_id"] == patient.as_str()));
        let mut ids: Vec<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), expected);
    }
    let verified = onset(&["audit-verify"], &app.state.config.database_url);
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && said.contains("ok: every audit event fits its chain"), "{said}");
}

/// An event written straight into the table (not through onset) is in no chain, and a
/// later start or migration does not chain it quietly: `audit-verify` names it.
#[actix_rt::test]
async fn an_audit_event_added_outside_onset_is_named_and_never_chained_later() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let forged = uuid::Uuid::now_v7();
    {
        let mut pooled = app.state.pool.get().unwrap();
        let conn: &mut onset::db::Db = &mut pooled;
        let at = if matches!(conn, onset::db::Db::Pg(_)) { "now()" } else { "'2026-03-01T09:00:00Z'" };
        diesel::sql_query(format!(
            "INSERT INTO audit_events (id, clinic_id, actor_email, action, entity, detail, at) VALUES ('{forged}', '{}', 'x@example.org', 'patient.read', 'patient', '{{}}', {at})",
            admin.clinic_id
        ))
        .execute(conn)
        .unwrap();
    }
    let database_url = app.state.config.database_url.clone();
    assert!(onset(&["migrate"], &database_url).status.success());
    let verified = onset(&["audit-verify"], &database_url);
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(!verified.status.success() && said.contains(&format!("event {forged} is in no chain")), "{said}");
}
