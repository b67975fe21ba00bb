use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn admins_manage_their_clinics_accounts() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let body = json!({"email": "New.Clinician@North.org", "password": PASSWORD, "name": "Dr New", "role": "clinician"});
    let created = app.post("/api/v1/users", &admin.token, body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["email"], "new.clinician@north.org");
    assert_eq!(created.body["role"], "clinician");
    assert_eq!(created.header("location"), Some(format!("/api/v1/users/{}", created.id())));
    assert!(!created.text.contains("argon2"));
    app.post("/api/v1/users", &admin.token, body).await.assert_problem(409);
    let list = app.get("/api/v1/users", &admin.token).await;
    let emails: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, vec![admin.email.as_str(), "new.clinician@north.org"]);
    let renamed = app.patch(&format!("/api/v1/users/{}", created.id()), &admin.token, json!({"name": "Dr Renamed", "role": "researcher"})).await;
    assert_eq!((renamed.body["name"].as_str(), renamed.body["role"].as_str()), (Some("Dr Renamed"), Some("researcher")));
    let audit = app.get("/api/v1/audit?entity=user", &admin.token).await;
    let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["user.update", "user.create", "user.create"], "newest first");
}

#[actix_rt::test]
async fn account_input_is_validated_by_field() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let bad = app.post("/api/v1/users", &admin.token, json!({"email": "not-an-email", "password": "short", "name": "", "role": "superuser"})).await;
    bad.assert_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "password", "role"]);
    let unknown = app.post("/api/v1/users", &admin.token, json!({"email": "a@b.org", "password": PASSWORD, "name": "A", "role": "admin", "clinic_id": admin.clinic_id})).await;
    assert_eq!(unknown.error_fields(), vec!["clinic_id"]);
}

#[actix_rt::test]
async fn only_admins_manage_accounts_and_only_their_own_clinics() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let clinician = app.user(&north, "clinician").await;
    let researcher = app.user(&north, "researcher").await;
    for caller in [&clinician, &researcher] {
        app.get("/api/v1/users", &caller.token).await.assert_problem(403);
        app.post("/api/v1/users", &caller.token, json!({"email": "x@y.org", "password": PASSWORD, "name": "X", "role": "admin"})).await.assert_problem(403);
        app.patch(&format!("/api/v1/users/{}", caller.id), &caller.token, json!({"role": "admin"})).await.assert_problem(403);
        app.get("/api/v1/audit", &caller.token).await.assert_problem(403);
    }
    app.patch(&format!("/api/v1/users/{}", clinician.id), &south.token, json!({"active": false})).await.assert_problem(404);
    let south_list = app.get("/api/v1/users", &south.token).await;
    assert_eq!(south_list.body["items"].as_array().unwrap().len(), 1);
    let south_audit = app.get("/api/v1/audit", &south.token).await;
    assert!(!south_audit.text.contains(&north.email), "{}", south_audit.text);
}

#[actix_rt::test]
async fn the_last_admin_cannot_be_disabled_or_demoted() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let path = format!("/api/v1/users/{}", admin.id);
    app.patch(&path, &admin.token, json!({"active": false})).await.assert_problem(409);
    app.patch(&path, &admin.token, json!({"role": "clinician"})).await.assert_problem(409);
    let second = app.user(&admin, "admin").await;
    assert_eq!(app.patch(&path, &second.token, json!({"role": "clinician"})).await.status, 200);
}

#[actix_rt::test]
async fn user_changes_honour_if_match() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let path = format!("/api/v1/users/{}", clinician.id);
    let first = app.patch(&path, &admin.token, json!({"name": "One"})).await;
    let etag = first.header("etag").unwrap();
    assert_eq!(app.patch(&path, &admin.token, json!({"name": "Two"})).await.status, 200);
    let stale = app.request(awc::http::Method::PATCH, &path, Some(&admin.token), Some(&json!({"name": "Three"})), &[("if-match", &etag)]).await;
    stale.assert_problem(412);
}

#[actix_rt::test]
async fn audit_filters_and_pages_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    for _ in 0..3 {
        app.patient(&admin).await;
    }
    let page1 = app.get("/api/v1/audit?action=patient.create&limit=2", &admin.token).await;
    assert_eq!(page1.body["items"].as_array().unwrap().len(), 2, "{}", page1.text);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_string();
    let page2 = app.get(&format!("/api/v1/audit?action=patient.create&limit=2&cursor={cursor}"), &admin.token).await;
    assert_eq!(page2.body["items"].as_array().unwrap().len(), 1);
    assert!(page2.body["next_cursor"].is_null());
    let first_at = page1.body["items"][0]["at"].as_str().unwrap().to_string();
    let last_at = page2.body["items"][0]["at"].as_str().unwrap().to_string();
    assert!(first_at >= last_at);
    let by_actor = app.get(&format!("/api/v1/audit?actor={}&entity=patient", admin.id), &admin.token).await;
    assert_eq!(by_actor.body["items"].as_array().unwrap().len(), 3);
    let future = app.get("/api/v1/audit?from=2999-01-01T00:00:00Z", &admin.token).await;
    assert_eq!(future.body["items"].as_array().unwrap().len(), 0);
    app.get("/api/v1/audit?from=yesterday", &admin.token).await.assert_problem(400);
    app.get("/api/v1/audit?actor=me", &admin.token).await.assert_problem(400);
    app.get("/api/v1/audit?colour=blue", &admin.token).await.assert_problem(400);
}
