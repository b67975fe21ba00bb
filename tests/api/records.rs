use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::*;

fn codes(record: &Value) -> Vec<String> {
    record["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_string()).collect()
}

#[actix_rt::test]
async fn infusions_derive_dose_per_kg_series_numbers_and_warnings() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let sessions = format!("/api/v1/patients/{patient}/infusions");
    let second = app.post(&sessions, &admin.token, infusion_body("2026-03-03T09:00:00Z")).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body["dose_mg_per_kg"], 0.5);
    assert_eq!(second.body["series_number"], 1);
    assert_eq!(codes(&second.body), Vec::<String>::new());
    // entered later but given earlier: it becomes session 1 and the other moves to 2
    let first = app.post(&sessions, &admin.token, infusion_body("2026-03-01T09:00:00Z")).await;
    assert_eq!(first.body["series_number"], 1);
    let second_now = app.get(&format!("/api/v1/infusions/{}", second.id()), &admin.token).await;
    assert_eq!(second_now.body["series_number"], 2);
    let esketamine = app.post(&sessions, &admin.token, json!({
        "drug": "esketamine", "route": "intranasal", "started_at": "2026-03-05T09:00:00Z", "dose_mg": 60,
        "discharged_at": "2026-03-05T10:00:00Z", "vitals": [{"minute": 40, "heart_rate": 80}],
        "cadss_total": 12, "moaas": 4, "adverse_event_codes": ["nausea", "dissociation"], "lot_number": "L-77"
    })).await;
    assert_eq!(esketamine.status, 201, "{}", esketamine.text);
    assert_eq!(codes(&esketamine.body), vec!["esketamine_dose_nonstandard", "rems_bp_before_dose_missing", "rems_bp_40_min_missing", "rems_spo2_missing", "rems_early_discharge"]);
    assert_eq!(esketamine.body["series_number"], 3);
    assert_eq!(esketamine.body["adverse_event_codes"], json!(["nausea", "dissociation"]));
    let high = app.post(&sessions, &admin.token, json!({"drug": "ketamine", "route": "iv", "started_at": "2026-03-07T09:00:00Z", "dose_mg": 105, "weight_kg": 70})).await;
    assert_eq!(codes(&high.body), vec!["iv_dose_out_of_range"]);
    assert_eq!(codes(&app.get(&format!("/api/v1/infusions/{}", high.id()), &admin.token).await.body), vec!["iv_dose_out_of_range"], "warnings on read too");
    // retracting session 1 renumbers the rest
    let retract = app.delete(&format!("/api/v1/infusions/{}", first.id()), &admin.token, json!({"reason": "wrong patient"})).await;
    assert_eq!(retract.body["status"], "entered_in_error");
    assert_eq!(app.get(&format!("/api/v1/infusions/{}", second.id()), &admin.token).await.body["series_number"], 1);
    let list = app.get(&sessions, &admin.token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 4, "retracted records stay listed");
}

#[actix_rt::test]
async fn infusion_validation_names_fields() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let bad = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, json!({
        "drug": "psilocybin", "route": "iv", "started_at": "2026-03-01T09:00:00Z", "ended_at": "2026-03-01T08:00:00Z",
        "dose_mg": 35, "weight_kg": 70, "dose_mg_per_kg": 0.9, "cadss_total": 93, "vitals": [{"minute": 5, "spo2": 120}]
    })).await;
    bad.assert_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["cadss_total", "dose_mg_per_kg", "drug", "ended_at", "vitals.0.spo2"]);
    let unknown = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, json!({"series_number": 4})).await;
    assert_eq!(unknown.error_fields(), vec!["series_number"]);
}

#[actix_rt::test]
async fn ratings_are_scored_and_validated_by_item() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let mut body = rating_body("2026-03-01T08:00:00Z", 27);
    body["items"]["1b"] = json!(3);
    body["cgi_s"] = json!(5);
    let created = app.post(&ratings, &admin.token, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!((created.body["total"].clone(), created.body["obsessions"].clone(), created.body["compulsions"].clone()), (json!(27), json!(15), json!(12)));
    assert_eq!(created.body["severity"], "severe");
    assert_eq!(created.body["status"], "active");
    assert_eq!(created.body["items"]["1b"], 3);
    let paper = app.post(&ratings, &admin.token, json!({"instrument": "ybocs_ii", "rated_at": "2026-03-01T08:00:00Z", "recall": "P7D", "total": 30, "rater": "clinician", "collected_via": "paper"})).await;
    assert_eq!((paper.body["total"].clone(), paper.body["severity"].clone(), paper.body["obsessions"].clone()), (json!(30), json!("moderate"), Value::Null), "Pinciotti 2025: 22–34 is moderate");
    let vas = app.post(&ratings, &admin.token, json!({"instrument": "ocd_vas", "rated_at": "2026-03-01T08:00:00Z", "recall": "NOW", "items": {"1": 64}, "rater": "self", "collected_via": "app"})).await;
    assert_eq!((vas.body["total"].clone(), vas.body["short_recall"].clone()), (json!(64), json!(true)));
    let mut bad = rating_body("2026-03-01T08:00:00Z", 20);
    bad["items"]["4"] = json!(5);
    bad["items"].as_object_mut().unwrap().remove("7");
    bad["total"] = json!(20);
    let refused = app.post(&ratings, &admin.token, bad).await;
    refused.assert_problem(422);
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["items.4", "items.7"]);
    let mut disagreeing = rating_body("2026-03-01T08:00:00Z", 20);
    disagreeing["total"] = json!(21);
    assert_eq!(app.post(&ratings, &admin.token, disagreeing).await.error_fields(), vec!["total"]);
    let nothing = app.post(&ratings, &admin.token, json!({"instrument": "ybocs", "rated_at": "soon", "recall": "P3D", "rater": "nurse", "collected_via": "fax", "cgi_i": 9})).await;
    let mut fields = nothing.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["cgi_i", "collected_via", "items", "rated_at", "rater", "recall"]);
    let server_owned = app.post(&ratings, &admin.token, json!({"obsessions": 3})).await;
    assert_eq!(server_owned.error_fields(), vec!["obsessions"]);
}

#[actix_rt::test]
async fn amendments_need_a_reason_and_keep_every_version() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let patient = app.patient(&admin).await;
    let created = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    let path = format!("/api/v1/assessments/{}", created.id());
    app.patch(&path, &clinician.token, json!({"items": {"4": 0}})).await.assert_problem(422);
    let amended = app.patch(&path, &clinician.token, json!({"items": {"4": 0}, "reason": "item 4 misread"})).await;
    assert_eq!(amended.status, 200, "{}", amended.text);
    assert_eq!((amended.body["total"].clone(), amended.body["version"].clone()), (json!(27), json!(2)));
    assert_eq!(amended.body["updated_by"], clinician.id.to_string());
    let retracted = app.delete(&path, &clinician.token, json!({"reason": "duplicate entry"})).await;
    assert_eq!(retracted.body["status"], "entered_in_error");
    assert_eq!(retracted.body["total"], 27, "nothing erased");
    app.delete(&path, &clinician.token, json!({})).await.assert_problem(422);
    app.patch(&path, &clinician.token, json!({"items": {"4": 1}, "reason": "again"})).await.assert_problem(409);
    let revisions = app.get(&format!("{path}/revisions"), &admin.token).await;
    let items = revisions.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", revisions.text);
    let summary: Vec<(i64, i64, &str, Value)> = items.iter().map(|r| (r["version"].as_i64().unwrap(), r["total"].as_i64().unwrap(), r["status"].as_str().unwrap(), r["reason"].clone())).collect();
    assert_eq!(summary, vec![(1, 30, "active", Value::Null), (2, 27, "active", json!("item 4 misread")), (3, 27, "entered_in_error", json!("duplicate entry"))]);
    assert_eq!(items[0]["items"]["4"], 3);
    assert_eq!(items[1]["changed_by"], clinician.id.to_string());
    assert!(items[1]["changed_at"].is_string());
}

#[actix_rt::test]
async fn two_clinicians_amending_one_rating_get_one_success_and_one_412() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let (a, b) = (app.user(&admin, "clinician").await, app.user(&admin, "clinician").await);
    let patient = app.patient(&admin).await;
    let created = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    let path = format!("/api/v1/assessments/{}", created.id());
    let etag = app.get(&path, &a.token).await.header("etag").unwrap();
    let amend = |token: String, item: u32| {
        let (app, path, etag) = (&app, path.clone(), etag.clone());
        async move { app.request(Method::PATCH, &path, Some(&token), Some(&json!({"items": {"1": item}, "reason": "review"})), &[("if-match", &etag)]).await }
    };
    let (first, second) = futures_util::future::join(amend(a.token.clone(), 0), amend(b.token.clone(), 4)).await;
    let mut statuses = vec![first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, vec![200, 412], "{} / {}", first.text, second.text);
    assert_eq!(app.get(&path, &a.token).await.body["version"], 2);
}

#[actix_rt::test]
async fn records_are_hidden_from_other_clinics_and_researchers() {
    let app = spawn_app().await;
    let north = app.admin("North").await;
    let south = app.admin("South").await;
    let researcher = app.user(&north, "researcher").await;
    let patient = app.patient(&north).await;
    let rating = app.post(&format!("/api/v1/patients/{patient}/assessments"), &north.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    let session = app.post(&format!("/api/v1/patients/{patient}/infusions"), &north.token, infusion_body("2026-03-02T08:00:00Z")).await;
    for (collection, id) in [("assessments", rating.id()), ("infusions", session.id())] {
        let one = format!("/api/v1/{collection}/{id}");
        let many = format!("/api/v1/patients/{patient}/{collection}");
        for caller in [&south, &researcher] {
            let expected = if caller.email == south.email { 404 } else { 403 };
            app.get(&one, &caller.token).await.assert_problem(expected);
            app.get(&format!("{one}/revisions"), &caller.token).await.assert_problem(expected);
            app.patch(&one, &caller.token, json!({"notes": "x", "reason": "y"})).await.assert_problem(expected);
            app.delete(&one, &caller.token, json!({"reason": "y"})).await.assert_problem(expected);
            app.get(&many, &caller.token).await.assert_problem(expected);
        }
        app.post(&many, &south.token, rating_body("2026-03-01T08:00:00Z", 30)).await.assert_problem(404);
        app.request(Method::GET, &one, None, None, &[]).await.assert_problem(401);
        assert_eq!(app.get(&one, &north.token).await.body["version"], 1, "nothing changed");
    }
}

#[actix_rt::test]
async fn idempotent_rating_retries_create_one_record() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{patient}/assessments");
    let body = rating_body("2026-03-01T08:00:00Z", 30);
    let first = app.request(Method::POST, &path, Some(&admin.token), Some(&body), &[("idempotency-key", "k1")]).await;
    let again = app.request(Method::POST, &path, Some(&admin.token), Some(&body), &[("idempotency-key", "k1")]).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.id(), again.id());
    assert_eq!(app.get(&path, &admin.token).await.body["items"].as_array().unwrap().len(), 1);
    let other = app.request(Method::POST, &path, Some(&admin.token), Some(&rating_body("2026-03-01T08:00:00Z", 31)), &[("idempotency-key", "k1")]).await;
    other.assert_problem(422);
}

#[actix_rt::test]
async fn invalid_amendments_are_422_even_when_stale_and_implausible_doses_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let created = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    let path = format!("/api/v1/assessments/{}", created.id());
    let long = json!({"notes": "x".repeat(10_001), "reason": "typo"});
    let stale = app.request(Method::PATCH, &path, Some(&admin.token), Some(&long), &[("if-match", "\"7\"")]).await;
    stale.assert_problem(422);
    assert_eq!(stale.error_fields(), vec!["notes"]);
    let sessions = format!("/api/v1/patients/{patient}/infusions");
    let absurd = app.post(&sessions, &admin.token, json!({"drug": "ketamine", "route": "im", "started_at": "2026-03-01T08:00:00Z", "dose_mg": 40, "weight_kg": 1e-300})).await;
    assert_eq!(absurd.error_fields(), vec!["weight_kg"]);
    let overdose = app.post(&sessions, &admin.token, json!({"drug": "ketamine", "route": "im", "started_at": "2026-03-01T08:00:00Z", "dose_mg": 2000, "weight_kg": 1})).await;
    assert_eq!(overdose.error_fields(), vec!["dose_mg"]);
    let cleared = app.post(&sessions, &admin.token, json!({"drug": "ketamine", "route": "im", "started_at": "2026-03-01T08:00:00Z", "dose_mg": 40, "vitals": null, "adverse_event_codes": null})).await;
    assert_eq!((cleared.status, cleared.body["vitals"].clone()), (201, json!([])));
}

#[actix_rt::test]
async fn concurrent_unpinned_amendments_each_land_once_as_their_own_version() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let created = app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    let path = format!("/api/v1/assessments/{}", created.id());
    // Without If-Match, a change that loses the race is applied again on the version that won.
    let amend = |n: usize| {
        let (app, path, token) = (&app, path.clone(), admin.token.clone());
        async move { app.request(Method::PATCH, &path, Some(&token), Some(&json!({"notes": format!("note {n}"), "reason": format!("edit {n}")})), &[]).await.status }
    };
    let statuses = futures_util::future::join_all((0..4).map(amend)).await;
    assert_eq!(statuses, vec![200; 4]);
    let history = app.get(&format!("{path}/revisions"), &admin.token).await;
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|r| r["version"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    let mut reasons: Vec<&str> = items[1..].iter().map(|r| r["reason"].as_str().unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons, ["edit 0", "edit 1", "edit 2", "edit 3"], "each change kept once");
    let current = app.get(&path, &admin.token).await;
    assert_eq!(current.body["version"], 5);
    assert_eq!(current.body["notes"], items[4]["notes"], "the record is its last revision");
    let audit = app.get("/api/v1/audit?action=assessment.amend", &admin.token).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 4, "one audit entry per change");
}

#[actix_rt::test]
async fn sixteen_concurrent_writers_all_succeed() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{patient}/assessments");
    let writers = (0..16u32).map(|w| {
        let (app, path, token) = (&app, path.clone(), admin.token.clone());
        async move {
            let mut statuses = Vec::new();
            for n in 0..10u32 {
                let created = app.post(&path, &token, rating_body("2026-03-01T08:00:00Z", (w + n) % 40)).await;
                if created.status != 201 {
                    eprintln!("{}", created.text);
                }
                statuses.push(created.status);
                if n % 3 == 0 {
                    let session = app.post(&format!("/api/v1/patients/{}/infusions", path.split('/').nth(4).unwrap()), &token, infusion_body("2026-03-02T08:00:00Z")).await;
                    statuses.push(session.status);
                }
            }
            statuses
        }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(writers).await.into_iter().flatten().collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let list = app.get(&format!("{path}?limit=500"), &admin.token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 160);
    let sessions = app.get(&format!("/api/v1/patients/{patient}/infusions?limit=500"), &admin.token).await;
    let mut numbers: Vec<i64> = sessions.body["items"].as_array().unwrap().iter().map(|s| s["series_number"].as_i64().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=64).collect::<Vec<i64>>(), "concurrent sessions are numbered 1..n without gaps or repeats");
}
