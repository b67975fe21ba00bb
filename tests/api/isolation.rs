//! The tenant-isolation matrix: every secured operation of openapi.yaml, called with no
//! token, a forged token, each role it does not allow, and (for a record of another
//! clinic, or a list) by another clinic's user. The operations come from the contract,
//! so a new route cannot be added untested.

use std::collections::HashMap;

use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

/// The id of clinic North's record that a path's `{id}` names.
fn concrete(path: &str, ids: &HashMap<&str, String>) -> String {
    let kind = if path.starts_with("/api/v1/users/") {
        "user"
    } else if path.starts_with("/api/v1/infusions/") || path.starts_with("/fhir/r4/MedicationAdministration/") {
        "infusion"
    } else if path.starts_with("/api/v1/assessments/") || path.starts_with("/fhir/r4/Observation/") {
        "assessment"
    } else if path.starts_with("/api/v1/protocols/") {
        "protocol"
    } else if path.starts_with("/api/v1/due/") {
        "due"
    } else if path.starts_with("/api/v1/webhooks/") {
        "webhook"
    } else if path.starts_with("/api/v1/alerts/") {
        "alert"
    } else {
        "patient"
    };
    // A licensed built-in's wording is the clinic's; otherwise North's own instrument.
    let code = if path.ends_with("/text") { "ybocs_sr" } else { &ids["instrument"] };
    path.replace("{id}", &ids[kind]).replace("{code}", code)
}

/// A body that passes every check made before the clinic's records are looked up.
fn body_for(op: &Operation) -> Option<Value> {
    match op.method.as_str() {
        "GET" => None,
        _ => Some(json!({"reason": "isolation check"})),
    }
}

#[actix_rt::test]
async fn every_secured_operation_refuses_outsiders() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let north_clinician = app.user(&north, "clinician").await;
    let north_researcher = app.user(&north, "researcher").await;
    let south = app.admin("South").await;
    let south_clinician = app.user(&south, "clinician").await;
    let south_researcher = app.user(&south, "researcher").await;
    let patient = app.patient(&north).await;
    let assessment = app.post(&format!("/api/v1/patients/{patient}/assessments"), &north.token, rating_body("2026-03-01T08:00:00Z", 30)).await.id();
    let infusion = app.post(&format!("/api/v1/patients/{patient}/infusions"), &north.token, infusion_body("2026-03-02T08:00:00Z")).await.id();
    let protocol = app.post("/api/v1/protocols", &north.token, protocol_body()).await.id();
    let attached = app.post(&format!("/api/v1/patients/{patient}/protocols"), &north.token, json!({"protocol_id": protocol})).await;
    assert_eq!(attached.body["planned"], 2, "{}", attached.text);
    let due = app.get(&format!("/api/v1/patients/{patient}/due"), &north.token).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(if i == 9 { 2 } else { 1 }))).collect();
    let phq9 = json!({"instrument": "phq9", "rated_at": "2026-03-03T08:00:00Z", "recall": "P14D", "items": items, "rater": "self", "collected_via": "app"});
    assert_eq!(app.post(&format!("/api/v1/patients/{patient}/assessments"), &north.token, phq9).await.status, 201);
    let alert = app.get("/api/v1/alerts", &north.token).await.body["items"][0]["id"].as_str().expect("an alert was raised").to_string();
    let webhook = app.post("/api/v1/webhooks", &north.token, json!({"url": "http://127.0.0.1:9/hook", "events": ["due.opened"]})).await.id();
    let own = app.post("/api/v1/clinic/instruments", &north.token, crate::spectrum::wellbeing_definition()).await;
    assert_eq!(own.status, 201, "{}", own.text);
    let ids: HashMap<&str, String> = [
        ("patient", patient.clone()),
        ("assessment", assessment.clone()),
        ("infusion", infusion),
        ("user", north_clinician.id.to_string()),
        ("protocol", protocol),
        ("due", due),
        ("webhook", webhook),
        ("alert", alert),
        ("instrument", "x_wellbeing".to_string()),
    ]
    .into();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": north.id, "role": "admin", "clinic": north.clinic_id, "iat": 1_900_000_000, "exp": 4_000_000_000u64, "iss": "onset", "aud": "onset-api"}),
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's secret, but long enough"),
    )
    .unwrap();
    let north_by_role: HashMap<&str, &TestUser> = [("admin", &north), ("clinician", &north_clinician), ("researcher", &north_researcher)].into();
    let south_by_role: HashMap<&str, &TestUser> = [("admin", &south), ("clinician", &south_clinician), ("researcher", &south_researcher)].into();

    let (mut secured, mut checks) = (0, 0);
    for op in operations() {
        let Some(roles) = &op.roles else { continue };
        secured += 1;
        let path = concrete(&op.path, &ids);
        let body = body_for(&op);
        let call = |token: Option<String>| {
            let (app, path, body, m) = (&app, path.clone(), body.clone(), method(&op.method));
            async move { app.request(m, &path, token.as_deref(), body.as_ref(), &[]).await }
        };
        let label = format!("{} {}", op.method, op.path);
        for token in [None, Some(forged.clone()), Some("not.a.jwt".to_string())] {
            let response = call(token).await;
            assert_eq!(response.status, 401, "{label} without a valid token: {}", response.text);
            checks += 1;
        }
        for (role, user) in &north_by_role {
            let response = call(Some(user.token.clone())).await;
            if roles.iter().any(|r| r == role) {
                assert_ne!(response.status, 403, "{label} as {role} is allowed by the contract: {}", response.text);
            } else {
                assert_eq!(response.status, 403, "{label} as {role}: {}", response.text);
            }
            checks += 1;
        }
        // Another clinic, with an allowed role: a record of North does not exist for it,
        // and a list, analytics or export shows nothing of North.
        for role in roles {
            let response = call(Some(south_by_role[role.as_str()].token.clone())).await;
            checks += 1;
            if op.path.contains("{id}") || (op.path.contains("{code}") && !op.path.ends_with("/text")) {
                assert_eq!(response.status, 404, "{label} as South's {role}: {}", response.text);
                continue;
            }
            for leak in [&patient, &assessment, &north.email, &north_clinician.email, &"x_wellbeing".to_string()] {
                assert!(!response.text.contains(leak.as_str()), "{label} as South's {role} shows North's {leak}: {}", response.text);
            }
            if response.status == 200 && op.method == "GET" {
                match op.path.as_str() {
                    "/api/v1/patients" => assert_eq!(response.body["items"], json!([])),
                    "/fhir/r4/Patient" | "/fhir/r4/Observation" | "/fhir/r4/MedicationAdministration" => assert_eq!(response.body["entry"], json!([])),
                    "/api/v1/analytics/onset" => assert_eq!(response.body["n_patients"], 0),
                    "/api/v1/exports/assessments" | "/api/v1/exports/infusions" => assert_eq!(response.text.lines().count(), 1, "header only"),
                    _ => {}
                }
            }
        }
    }
    // Nothing South did reached North's records: every change there was North's own.
    let mut cursor = String::new();
    let north_users = [north.id.to_string(), north_clinician.id.to_string(), north_researcher.id.to_string()];
    loop {
        let page = app.get(&format!("/api/v1/audit?limit=500{cursor}"), &north.token).await;
        for event in page.body["items"].as_array().unwrap() {
            if let Some(actor) = event["actor_id"].as_str() {
                assert!(north_users.contains(&actor.to_string()), "{event}");
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert!(secured >= 26, "{secured} secured operations");
    eprintln!("isolation matrix: {secured} secured operations, {checks} checks");
}

#[test]
fn every_secured_operation_declares_its_roles() {
    let missing: Vec<String> = operations()
        .into_iter()
        .filter(|op| {
            let public = op.path.starts_with("/api/v1/auth/") || op.path.starts_with("/api/v1/self-report") || op.path.starts_with("/r/") || op.path.starts_with("/console/");
            op.roles.is_none() && !(public || ["/", "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/fhir/r4/metadata"].contains(&op.path.as_str()))
        })
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    assert!(missing.is_empty(), "operations without x-roles: {missing:?}");
}
