use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_rt::test]
async fn clinicians_create_read_and_update_patients() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let mut body = patient_body();
    body["external_id"] = json!("MRN-0001");
    let created = app.post("/api/v1/patients", &clinician.token, body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    let id = created.id();
    assert_eq!(created.header("location"), Some(format!("/api/v1/patients/{id}")));
    for field in ["display_name", "birth_date", "sex", "diagnosis", "research_consent", "external_id"] {
        assert_eq!(created.body[field], body[field], "{field}");
    }
    let read = app.get(&format!("/api/v1/patients/{id}"), &clinician.token).await;
    assert_eq!(read.body, created.body);
    assert_eq!(read.header("etag"), created.header("etag"));
    let updated = app.patch(&format!("/api/v1/patients/{id}"), &clinician.token, json!({"research_consent": false, "external_id": null})).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!((updated.body["research_consent"].clone(), updated.body["external_id"].clone()), (json!(false), Value::Null));
    assert_eq!(updated.body["display_name"], "Jane Roe");
    assert_eq!(updated.header("etag").as_deref(), Some("\"2\""));
    // external ids are unique per clinic
    app.post("/api/v1/patients", &clinician.token, body.clone()).await;
    app.post("/api/v1/patients", &clinician.token, body).await.assert_problem(409);
    let audit = app.get("/api/v1/audit?entity=patient", &admin.token).await;
    let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"patient.read") && actions.contains(&"patient.update"), "{actions:?}");
}

#[actix_rt::test]
async fn patient_validation_names_every_field() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let bad = app.post("/api/v1/patients", &admin.token, json!({"display_name": " ", "birth_date": "2999-01-01", "sex": "x", "diagnosis": "OCD"})).await;
    bad.assert_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["birth_date", "diagnosis", "display_name", "sex"]);
    let typed = app.post("/api/v1/patients", &admin.token, json!({"display_name": "A", "birth_date": "1990-01-01", "sex": "male", "diagnosis": "F42", "research_consent": "yes"})).await;
    assert_eq!(typed.error_fields(), vec!["research_consent"]);
    let server_owned = app.post("/api/v1/patients", &admin.token, json!({"id": "x", "display_name": "A", "birth_date": "1990-01-01", "sex": "male", "diagnosis": "F42"})).await;
    assert_eq!(server_owned.error_fields(), vec!["id"]);
    let id = app.patient(&admin).await;
    let bad_patch = app.patch(&format!("/api/v1/patients/{id}"), &admin.token, json!({"birth_date": "yesterday"})).await;
    assert_eq!(bad_patch.error_fields(), vec!["birth_date"]);
    let unknown_patch = app.patch(&format!("/api/v1/patients/{id}"), &admin.token, json!({"clinic_id": "x"})).await;
    assert_eq!(unknown_patch.error_fields(), vec!["clinic_id"]);
}

#[actix_rt::test]
async fn other_clinics_and_researchers_never_see_patients() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let researcher = app.user(&north, "researcher").await;
    let id = app.patient(&north).await;
    let path = format!("/api/v1/patients/{id}");
    app.get(&path, &south.token).await.assert_problem(404);
    app.patch(&path, &south.token, json!({"display_name": "Mine now"})).await.assert_problem(404);
    app.get(&format!("{path}/trajectory"), &south.token).await.assert_problem(404);
    assert_eq!(app.get("/api/v1/patients", &south.token).await.body["items"], json!([]));
    app.get(&path, &researcher.token).await.assert_problem(403);
    app.get("/api/v1/patients", &researcher.token).await.assert_problem(403);
    app.post("/api/v1/patients", &researcher.token, patient_body()).await.assert_problem(403);
    app.request(Method::GET, &path, None, None, &[]).await.assert_problem(401);
    app.get("/api/v1/patients/not-a-uuid", &north.token).await.assert_problem(404);
    assert_eq!(app.get(&path, &north.token).await.body["display_name"], "Jane Roe", "the owner still sees it unchanged");
}

#[actix_rt::test]
async fn if_match_guards_patient_updates() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let id = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{id}");
    let with = |etag: &'static str, name: &'static str| {
        let (app, path, token) = (&app, path.clone(), admin.token.clone());
        async move { app.request(Method::PATCH, &path, Some(&token), Some(&json!({"display_name": name})), &[("if-match", etag)]).await }
    };
    assert_eq!(with("\"1\"", "One").await.status, 200);
    with("\"1\"", "Two").await.assert_problem(412);
    with("W/\"2\"", "Two").await.assert_problem(412);
    assert_eq!(with("\"2\"", "Two").await.status, 200);
    assert_eq!(with("*", "Three").await.status, 200);
    assert_eq!(app.get(&path, &admin.token).await.body["display_name"], "Three");
}

#[actix_rt::test]
async fn if_match_can_be_required() {
    let app = spawn_with(|c| c.require_if_match = true).await;
    let admin = app.admin("North").await;
    let id = app.patient(&admin).await;
    app.patch(&format!("/api/v1/patients/{id}"), &admin.token, json!({"display_name": "X"})).await.assert_problem(428);
}

#[actix_rt::test]
async fn idempotent_retries_create_one_patient() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let post = |key: &'static str, body: Value| {
        let (app, token) = (&app, admin.token.clone());
        async move { app.request(Method::POST, "/api/v1/patients", Some(&token), Some(&body), &[("idempotency-key", key)]).await }
    };
    let first = post("retry-1", patient_body()).await;
    let again = post("retry-1", patient_body()).await;
    assert_eq!(first.status, 201);
    assert_eq!((again.status, again.body.clone(), again.header("etag"), again.header("location")), (201, first.body.clone(), first.header("etag"), first.header("location")));
    let mut changed = patient_body();
    changed["display_name"] = json!("Someone Else");
    let conflict = post("retry-1", changed.clone()).await;
    conflict.assert_problem(422);
    assert_eq!(conflict.error_fields(), vec!["Idempotency-Key"]);
    assert_eq!(post("retry-2", changed).await.status, 201);
    assert_eq!(app.get("/api/v1/patients", &admin.token).await.body["items"].as_array().unwrap().len(), 2);
    // keys belong to the caller: another user's same key is a new request
    let other = app.user(&admin, "clinician").await;
    let theirs = app.request(Method::POST, "/api/v1/patients", Some(&other.token), Some(&patient_body()), &[("idempotency-key", "retry-1")]).await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.id(), first.id());
}

#[actix_rt::test]
async fn concurrent_retries_with_one_key_create_one_patient() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let body = patient_body();
    let requests = (0..6).map(|_| app.request(Method::POST, "/api/v1/patients", Some(&admin.token), Some(&body), &[("idempotency-key", "burst")]));
    let responses = futures_util::future::join_all(requests).await;
    let ids: std::collections::HashSet<String> = responses.iter().map(|r| {
        assert_eq!(r.status, 201, "{}", r.text);
        r.id()
    }).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.get("/api/v1/patients", &admin.token).await.body["items"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn pagination_never_repeats_or_skips_under_inserts() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let mut expected = Vec::new();
    for _ in 0..5 {
        expected.push(app.patient(&admin).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/patients?limit=2&cursor={c}"),
            None => "/api/v1/patients?limit=2".to_string(),
        };
        let page = app.get(&path, &admin.token).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()));
        // a patient added while paging shows up once, at the end
        if seen.len() == 2 {
            expected.push(app.patient(&admin).await);
        }
        cursor = page.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, expected);
    app.get("/api/v1/patients?cursor=bm90LWEtY3Vyc29y", &admin.token).await.assert_problem(400);
    app.get("/api/v1/patients?limit=501", &admin.token).await.assert_problem(400);
    app.get("/api/v1/patients?limit=0", &admin.token).await.assert_problem(400);
}

/// A generated client once sent `research_consent: false` with every rename (the contract
/// declared a default). Consent changes only when a PATCH states it, and says so.
#[actix_rt::test]
async fn a_rename_never_changes_consent_and_a_consent_change_is_visible() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let id = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{id}");
    let created = app.get(&path, &admin.token).await;
    assert_eq!(created.body["research_consent"], true);
    let registered_at = created.body["research_consent_changed_at"].clone();
    assert_eq!(registered_at, created.body["created_at"]);

    let renamed = app.patch(&path, &admin.token, json!({"display_name": "Jane Doe"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!((renamed.body["display_name"].clone(), renamed.body["research_consent"].clone()), (json!("Jane Doe"), json!(true)));
    assert_eq!(renamed.body["research_consent_changed_at"], registered_at);

    let implied = app.patch(&path, &admin.token, json!({"display_name": "J. Doe", "research_consent": null})).await;
    implied.assert_problem(422);
    assert_eq!(implied.error_fields(), vec!["research_consent"]);
    assert_eq!(app.get(&path, &admin.token).await.body["display_name"], "Jane Doe", "nothing of a refused PATCH is written");

    let withdrawn = app.patch(&path, &admin.token, json!({"research_consent": false})).await;
    assert_eq!(withdrawn.body["research_consent"], false);
    assert_ne!(withdrawn.body["research_consent_changed_at"], registered_at);

    let audit = app.get("/api/v1/audit?action=patient.update", &admin.token).await;
    let details: Vec<Value> = audit.body["items"].as_array().unwrap().iter().map(|e| e["detail"].clone()).collect();
    assert_eq!(details[0], json!({"version": 3, "changed": ["research_consent"], "research_consent": false}));
    assert_eq!(details[1], json!({"version": 2, "changed": ["display_name"]}), "names the field, not its value");
    assert!(!audit.text.contains("Jane Doe"));
}

#[actix_rt::test]
async fn a_patients_history_is_kept_version_by_version_and_paged() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let id = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{id}");
    for (i, name) in ["Jane Doe", "Jane Smith", "J. Smith"].iter().enumerate() {
        let who = if i == 1 { &clinician } else { &admin };
        assert_eq!(app.patch(&path, &who.token, json!({"display_name": name})).await.status, 200);
    }
    assert_eq!(app.patch(&path, &admin.token, json!({"research_consent": false, "birth_date": "1988-07-15"})).await.status, 200);

    let all = app.get(&format!("{path}/revisions"), &clinician.token).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let items = all.body["items"].as_array().unwrap();
    let versions: Vec<i64> = items.iter().map(|r| r["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    let names: Vec<&str> = items.iter().map(|r| r["display_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Jane Roe", "Jane Doe", "Jane Smith", "J. Smith", "J. Smith"], "each version as it stood");
    assert_eq!(items[2]["changed_by"], json!(clinician.id));
    assert_eq!((items[3]["research_consent"].clone(), items[4]["research_consent"].clone()), (json!(true), json!(false)));
    assert_eq!((items[3]["birth_date"].clone(), items[4]["birth_date"].clone()), (json!("1988-07-14"), json!("1988-07-15")));
    assert_eq!(all.body["next_cursor"], Value::Null);

    // Two at a time: every version once, in order.
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = app.get(&format!("{path}/revisions?limit=2&cursor={cursor}"), &admin.token).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|r| r["version"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    // A cursor from another record's history names nothing here.
    let other = app.patient(&admin).await;
    app.patch(&format!("/api/v1/patients/{other}"), &admin.token, json!({"display_name": "X"})).await;
    let first = app.get(&format!("/api/v1/patients/{other}/revisions?limit=1"), &admin.token).await;
    let foreign = first.body["next_cursor"].as_str().unwrap();
    app.get(&format!("{path}/revisions?cursor={foreign}"), &admin.token).await.assert_problem(400);

    // The audit names what changed (never the values) and who read the history.
    let audit = app.get("/api/v1/audit?action=patient.update", &admin.token).await;
    let latest = audit.body["items"].as_array().unwrap().iter().find(|e| e["entity_id"] == json!(id)).unwrap();
    assert_eq!(latest["detail"]["changed"], json!(["birth_date", "research_consent"]));
    assert!(!audit.text.contains("1988-07-15"), "{}", audit.text);
    let read = app.get("/api/v1/audit?action=patient.revisions", &admin.token).await;
    assert!(read.body["items"].as_array().unwrap().len() >= 4, "{}", read.text);
}

#[actix_rt::test]
async fn a_list_read_records_which_patients_it_showed() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let ids: Vec<String> = vec![app.patient(&admin).await, app.patient(&admin).await, app.patient(&admin).await];
    let page = app.get("/api/v1/patients?limit=2", &admin.token).await;
    assert_eq!(page.status, 200);
    let audit = app.get("/api/v1/audit?action=patient.list", &admin.token).await;
    let detail = &audit.body["items"][0]["detail"];
    assert_eq!(detail["count"], 2);
    assert_eq!(detail["patient_ids"], json!(ids[..2]), "{}", audit.text);
}
