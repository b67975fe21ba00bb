use serde_json::{Value, json};

use crate::helpers::*;

/// A patient's journey whose every derived value was worked out by hand:
/// first infusion 2026-03-02T09:00Z, then sessions at +48 h, +96 h and +14 d;
/// Y-BOCS baseline 30 three days before, ratings at +4 h, +24 h, +7 d, +14 d, +28 d.
#[actix_rt::test]
async fn a_full_journey_matches_the_hand_worked_trajectory() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let sessions = format!("/api/v1/patients/{patient}/infusions");
    for start in ["2026-03-06T09:00:00Z", "2026-03-02T09:00:00Z", "2026-03-16T09:00:00Z", "2026-03-04T09:00:00Z"] {
        assert_eq!(app.post(&sessions, &admin.token, infusion_body(start)).await.status, 201);
    }
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    let rate = |at: &'static str, total: u32, recall: &'static str, cgi: Value| {
        let (app, ratings, token) = (&app, ratings.clone(), admin.token.clone());
        async move {
            let mut body = rating_body(at, total);
            body["recall"] = json!(recall);
            for (name, value) in cgi.as_object().unwrap() {
                body[name] = value.clone();
            }
            let created = app.post(&ratings, &token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            created.id()
        }
    };
    let none = || json!({});
    let too_old = rate("2026-01-21T09:00:00Z", 34, "P7D", none()).await;
    let baseline = rate("2026-02-27T09:00:00Z", 30, "P7D", none()).await;
    let h4 = rate("2026-03-02T13:00:00Z", 24, "P24H", none()).await;
    let h24 = rate("2026-03-03T09:00:00Z", 20, "P24H", json!({"cgi_i": 3})).await;
    let mistaken = rate("2026-03-04T09:00:00Z", 5, "P7D", none()).await;
    let d7 = rate("2026-03-09T09:00:00Z", 18, "P7D", none()).await;
    let d14 = rate("2026-03-16T09:00:00Z", 12, "P7D", json!({"cgi_s": 2})).await;
    let d28 = rate("2026-03-30T09:00:00Z", 10, "P7D", json!({"cgi_s": 2, "cgi_i": 1})).await;
    let retracted = app.delete(&format!("/api/v1/assessments/{mistaken}"), &admin.token, json!({"reason": "wrong patient"})).await;
    assert_eq!(retracted.status, 200);
    let vas = |at: &'static str, score: u32| {
        let (app, ratings, token) = (&app, ratings.clone(), admin.token.clone());
        async move {
            let body = json!({"instrument": "ocd_vas", "rated_at": at, "recall": "NOW", "items": {"1": score}, "rater": "self", "collected_via": "app"});
            assert_eq!(app.post(&ratings, &token, body).await.status, 201);
        }
    };
    vas("2026-03-02T08:00:00Z", 80).await;
    vas("2026-03-02T09:40:00Z", 44).await;

    let t = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["patient_id"], patient);
    assert_eq!(t.body["definition_set"], "consensus-2016");
    assert_eq!(t.body["first_infusion_at"], "2026-03-02T09:00:00Z");
    let series = t.body["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    let y = &series[0];
    assert_eq!(y["instrument"], "ybocs");
    assert_eq!(y["baseline"], json!({"assessment_id": baseline, "total": 30, "rated_at": "2026-02-27T09:00:00Z"}));
    let rows = y["ratings"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["assessment_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![too_old.as_str(), baseline.as_str(), h4.as_str(), h24.as_str(), d7.as_str(), d14.as_str(), d28.as_str()], "the retracted rating is gone");

    // hours since first, hours since last, infusion number, change, percent change,
    // response, remission, early, response_cgi_confirmed, remission_cgi_confirmed
    type Row = (f64, Option<f64>, u64, Option<i64>, Option<f64>, Option<&'static str>, Option<bool>, Option<bool>, Option<bool>, Option<bool>);
    let expected: [Row; 7] = [
        (-40.0 * 24.0, None, 0, None, None, None, None, None, None, None),
        (-72.0, None, 0, None, None, None, None, None, None, None),
        (4.0, Some(4.0), 1, Some(-6), Some(20.0), Some("none"), Some(false), Some(false), None, None),
        // 33 % with CGI-I 3: a partial response, which is not early improvement
        (24.0, Some(24.0), 1, Some(-10), Some(100.0 / 3.0), Some("partial_response"), Some(false), Some(false), Some(true), None),
        (168.0, Some(72.0), 3, Some(-12), Some(40.0), Some("response"), Some(false), Some(false), None, None),
        (336.0, Some(0.0), 4, Some(-18), Some(60.0), Some("response"), Some(true), Some(false), None, Some(true)),
        (672.0, Some(336.0), 4, Some(-20), Some(200.0 / 3.0), Some("response"), Some(true), Some(false), Some(true), Some(true)),
    ];
    for (row, (since_first, since_last, number, change, pct, response, remission, early, response_cgi, remission_cgi)) in rows.iter().zip(expected) {
        let label = row["assessment_id"].as_str().unwrap();
        assert!(close(&row["hours_since_first_infusion"], since_first), "{label}: {row}");
        assert_eq!(row["hours_since_last_infusion"].as_f64(), since_last, "{label}: {row}");
        assert_eq!(row["infusion_number"].as_u64(), Some(number), "{label}: {row}");
        assert_eq!(row["change"].as_i64(), change, "{label}: {row}");
        match pct {
            Some(p) => assert!(close(&row["percent_change"], p), "{label}: {row}"),
            None => assert!(row["percent_change"].is_null(), "{label}: {row}"),
        }
        assert_eq!(row["response"].as_str(), response, "{label}: {row}");
        assert_eq!(row["remission"].as_bool(), remission, "{label}: {row}");
        assert_eq!(row["early_improvement"].as_bool(), early, "{label}: {row}");
        assert_eq!(row["response_cgi_confirmed"].as_bool(), response_cgi, "{label}: {row}");
        assert_eq!(row["remission_cgi_confirmed"].as_bool(), remission_cgi, "{label}: {row}");
    }
    assert_eq!(rows[2]["short_recall"], true);
    assert_eq!(rows[2]["recall"], "P24H");
    assert_eq!(rows[4]["short_recall"], false);
    assert_eq!(
        y["summary"],
        json!({
            "hours_to_partial_response": 24.0, "infusion_number_at_partial_response": 1,
            "hours_to_response": 168.0, "infusion_number_at_response": 3, "response_confirmed": true,
            "hours_to_remission": 336.0, "infusion_number_at_remission": 4, "remission_confirmed": true,
            "relapse": false, "relapse_undetermined": false
        })
    );

    let v = &series[1];
    assert_eq!(v["instrument"], "ocd_vas");
    assert_eq!(v["baseline"]["total"], 80);
    let after = &v["ratings"][1];
    assert!(close(&after["hours_since_first_infusion"], 40.0 / 60.0), "{after}");
    assert!(close(&after["percent_change"], 45.0));
    assert_eq!((after["response"].as_str(), after["remission"].as_bool(), after["early_improvement"].as_bool()), (Some("response"), None, Some(true)));
    assert!(close(&v["summary"]["hours_to_response"], 40.0 / 60.0));
    assert_eq!(v["summary"]["hours_to_remission"], Value::Null);
    assert_eq!(v["summary"]["relapse"], Value::Null);

    let audit = app.get("/api/v1/audit?action=patient.trajectory", &admin.token).await;
    assert_eq!(audit.body["items"][0]["entity_id"], patient);
}

#[actix_rt::test]
async fn a_patient_without_ratings_has_an_empty_trajectory() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let t = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    assert_eq!(t.body, json!({"patient_id": patient, "definition_set": "consensus-2016", "first_infusion_at": null, "series": []}));
}

/// How many trajectory reads the app answered as kept, by its metrics.
async fn kept(app: &TestApp) -> u64 {
    let metrics = app.request(awc::http::Method::GET, "/metrics", None, None, &[]).await;
    let line = metrics.text.lines().find(|l| l.starts_with("onset_trajectories_answered_as_kept_total ")).expect("the counter is in /metrics");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A trajectory read of an unchanged course is answered as last rendered (`api::renderings`),
/// and every change of the course, by any path, shows at the next read: a new rating, an
/// amendment, a retraction, a new session; the chart the same. Each read is audited.
#[actix_rt::test]
async fn a_kept_trajectory_is_answered_only_while_the_course_is_unchanged() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{patient}/trajectory");
    let chart = format!("/api/v1/patients/{patient}/trajectory.svg");
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await.status, 201);
    assert_eq!(app.post(&ratings, &admin.token, rating_body("2026-02-27T09:00:00Z", 30)).await.status, 201);
    let later = app.post(&ratings, &admin.token, rating_body("2026-03-03T09:00:00Z", 20)).await.id();
    let totals = |t: &Value| t["series"][0]["ratings"].as_array().unwrap().iter().map(|r| r["total"].as_u64().unwrap()).collect::<Vec<_>>();
    let audited = || async { app.get("/api/v1/audit?action=patient.trajectory&limit=200", &admin.token).await.body["items"].as_array().unwrap().len() };

    let first = app.get(&path, &admin.token).await;
    assert_eq!(kept(&app).await, 0);
    let again = app.get(&path, &admin.token).await;
    assert_eq!(kept(&app).await, 1, "the second read is answered as kept");
    assert_eq!((again.status, again.text.clone()), (200, first.text.clone()));
    assert_eq!(totals(&again.body), [30, 20]);
    assert_eq!(audited().await, 2, "a kept answer is audited as a read all the same");
    let drawn = app.get(&chart, &admin.token).await;
    assert_eq!(app.get(&chart, &admin.token).await.text, drawn.text);

    // A new rating.
    assert_eq!(app.post(&ratings, &admin.token, rating_body("2026-03-09T09:00:00Z", 14)).await.status, 201);
    assert_eq!(totals(&app.get(&path, &admin.token).await.body), [30, 20, 14]);
    let redrawn = app.get(&chart, &admin.token).await;
    assert_ne!(redrawn.text, drawn.text, "the chart shows the new rating");
    // An amendment.
    let amended = app.patch(&format!("/api/v1/assessments/{later}"), &admin.token, json!({"items": ybocs_items(22), "reason": "misread"})).await;
    assert_eq!(amended.status, 200, "{}", amended.text);
    assert_eq!(totals(&app.get(&path, &admin.token).await.body), [30, 22, 14]);
    // A retraction.
    assert_eq!(app.delete(&format!("/api/v1/assessments/{later}"), &admin.token, json!({"reason": "wrong patient"})).await.status, 200);
    assert_eq!(totals(&app.get(&path, &admin.token).await.body), [30, 14]);
    // A new session, earlier than the first: every rating's hours move.
    assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-01T09:00:00Z")).await.status, 201);
    let moved = app.get(&path, &admin.token).await;
    assert_eq!(moved.body["first_infusion_at"], "2026-03-01T09:00:00Z");
    assert_eq!(moved.body["series"][0]["ratings"][1]["hours_since_first_infusion"], json!(192.0));
    assert_ne!(app.get(&chart, &admin.token).await.text, redrawn.text);
    // Another clinic's caller is not answered what was kept.
    let other = app.admin("South").await;
    app.get(&path, &other.token).await.assert_problem(404);
}

/// Two instances on one database, each keeping what it rendered: a rating written through
/// one shows at the next read through the other.
#[actix_rt::test]
async fn a_write_through_another_instance_shows_in_what_this_one_kept() {
    let app = spawn_app().await;
    let database_url = app.state.config.database_url.clone();
    let other = spawn_with(move |config| config.database_url = database_url).await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{patient}/trajectory");
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    assert_eq!(app.post(&ratings, &admin.token, rating_body("2026-02-27T09:00:00Z", 30)).await.status, 201);
    let count = |t: &Value| t["series"][0]["ratings_total"].clone();
    assert_eq!(count(&app.get(&path, &admin.token).await.body), 1);
    assert_eq!(count(&app.get(&path, &admin.token).await.body), 1);
    assert_eq!(kept(&app).await, 1, "the second read was answered as kept");

    assert_eq!(other.post(&ratings, &admin.token, rating_body("2026-03-03T09:00:00Z", 20)).await.status, 201);
    assert_eq!(count(&app.get(&path, &admin.token).await.body), 2);
    assert_eq!(kept(&app).await, 1, "not answered from what was kept");
}

/// A course naming a clinic's own scale is rendered afresh at every read: it is judged by
/// the clinic's current definition, which a new version changes without the patient's
/// records changing. Version 1 counts a total of 2 as remission, version 2 only 1 or less.
#[actix_rt::test]
async fn a_course_on_a_clinics_own_scale_follows_its_current_definition() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    assert_eq!(app.post("/api/v1/clinic/instruments", &admin.token, crate::spectrum::wellbeing_definition()).await.status, 201);
    let patient = app.patient(&admin).await;
    let path = format!("/api/v1/patients/{patient}/trajectory");
    assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await.status, 201);
    // calm is worded the other way (3 − its points): 0 + 3 + 3 = 6, then 0 + 2 + 0 = 2.
    for (at, items) in [("2026-03-01T09:00:00Z", json!({"calm": 3, "worried": 3, "tense": 3})), ("2026-03-03T09:00:00Z", json!({"calm": 3, "worried": 2, "tense": 0}))] {
        let body = json!({"instrument": "x_wellbeing", "rated_at": at, "recall": "NOW", "items": items, "rater": "self", "collected_via": "app"});
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, body).await.status, 201);
    }
    let after = |t: &Value| (t["series"][0]["ratings"][1]["total"].clone(), t["series"][0]["ratings"][1]["remission"].clone());
    assert_eq!(after(&app.get(&path, &admin.token).await.body), (json!(2), json!(true)));
    assert_eq!(after(&app.get(&path, &admin.token).await.body), (json!(2), json!(true)));
    assert_eq!(kept(&app).await, 0, "never answered as kept");

    let mut stricter = crate::spectrum::wellbeing_definition();
    stricter["outcomes"]["remission"] = json!({"max": 1});
    let put = app.request(awc::http::Method::PUT, "/api/v1/clinic/instruments/x_wellbeing", Some(&admin.token), Some(&stricter), &[]).await;
    assert_eq!((put.status, put.body["version"].clone()), (200, json!(2)), "{}", put.text);
    assert_eq!(after(&app.get(&path, &admin.token).await.body), (json!(2), json!(false)));
}
