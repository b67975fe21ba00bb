//! Safety instruments beside the OCD ones: PHQ-9 and the C-SSRS screener are scored,
//! banded and followed over time, never judged by the OCD outcome rules.

use serde_json::{Value, json};

use crate::helpers::*;

fn phq9(rated_at: &str, item: u32, item9: u32) -> Value {
    let items: serde_json::Map<String, Value> = (1..=9).map(|i| (i.to_string(), json!(if i == 9 { item9 } else { item }))).collect();
    json!({"instrument": "phq9", "rated_at": rated_at, "recall": "P14D", "items": items, "rater": "self", "collected_via": "app"})
}

fn cssrs(rated_at: &str, answers: Value) -> Value {
    json!({"instrument": "cssrs_screen", "rated_at": rated_at, "recall": "P1M", "items": answers, "rater": "clinician", "collected_via": "interview"})
}

#[actix_rt::test]
async fn phq9_and_the_cssrs_screener_are_scored_banded_and_followed_over_time() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let patient = app.patient(&admin).await;
    let ratings = format!("/api/v1/patients/{patient}/assessments");
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await;
    // Baseline 18 (moderately severe), then 9 (mild) a day after the first session.
    let before = app.post(&ratings, &admin.token, phq9("2026-03-01T09:00:00Z", 2, 2)).await;
    assert_eq!((before.status, before.body["total"].clone(), before.body["severity"].clone()), (201, json!(18), json!("moderately severe")), "{}", before.text);
    let after = app.post(&ratings, &admin.token, phq9("2026-03-03T09:00:00Z", 1, 1)).await;
    assert_eq!((after.body["total"].clone(), after.body["severity"].clone()), (json!(9), json!("mild")));
    let out_of_range = app.post(&ratings, &admin.token, phq9("2026-03-03T10:00:00Z", 4, 0)).await;
    out_of_range.assert_problem(422);

    // C-SSRS: a method is moderate risk; behaviour within three months is high.
    let moderate = app.post(&ratings, &admin.token, cssrs("2026-03-01T10:00:00Z", json!({"1": 1, "2": 1, "3": 1, "6": 0}))).await;
    assert_eq!((moderate.status, moderate.body["total"].clone(), moderate.body["severity"].clone()), (201, json!(2), json!("moderate")), "{}", moderate.text);
    let when = app.post(&ratings, &admin.token, cssrs("2026-03-03T10:00:00Z", json!({"1": 0, "2": 0, "6": 1}))).await;
    when.assert_problem(422);
    assert_eq!(when.error_fields(), ["items.6_recent"]);
    let high = app.post(&ratings, &admin.token, cssrs("2026-03-03T10:00:00Z", json!({"1": 0, "2": 0, "6": 1, "6_recent": 1}))).await;
    assert_eq!(high.body["severity"], "high");
    let yes_no = app.post(&ratings, &admin.token, cssrs("2026-03-03T11:00:00Z", json!({"1": 2, "2": 0, "6": 0}))).await;
    assert_eq!(yes_no.error_fields(), ["items.1"], "answers are yes (1) or no (0)");

    let trajectory = app.get(&format!("/api/v1/patients/{patient}/trajectory"), &admin.token).await;
    let series = trajectory.body["series"].as_array().unwrap();
    let of = |code: &str| series.iter().find(|s| s["instrument"] == code).unwrap_or_else(|| panic!("no {code} in {series:?}")).clone();
    let depression = of("phq9");
    let last = depression["ratings"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["percent_change"], 50.0, "18 to 9 is half");
    assert_eq!((last["response"].clone(), last["remission"].clone()), (Value::Null, Value::Null), "the OCD rules do not judge depression");
    let risk = of("cssrs_screen");
    let totals: Vec<i64> = risk["ratings"].as_array().unwrap().iter().map(|r| r["total"].as_i64().unwrap()).collect();
    assert_eq!(totals, [2, 3], "risk over time");
    assert!(risk["ratings"].as_array().unwrap().iter().all(|r| r["percent_change"].is_null()), "a risk level has no percent change");
    // Onset analytics stay with the OCD instruments.
    app.get("/api/v1/analytics/onset?instrument=phq9", &admin.token).await.assert_problem(422);
    // The export carries both, with C-SSRS 6_recent.
    let export = app.get("/api/v1/exports/assessments?format=ndjson&instrument=cssrs_screen", &admin.token).await;
    assert!(export.text.contains("\"item_6_recent\":1"), "{}", export.text);
}
