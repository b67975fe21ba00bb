use awc::http::Method;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

const T0: &str = "2026-03-02T09:00:00Z";

/// A patient with an optional baseline (30, a day before T0), an infusion at T0 and
/// ratings at the given hours after it.
async fn journey(app: &TestApp, user: &TestUser, baseline: bool, infusion: bool, ratings: &[(&str, u32)]) -> String {
    let patient = app.patient(user).await;
    if infusion {
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &user.token, infusion_body(T0)).await.status, 201);
    }
    let path = format!("/api/v1/patients/{patient}/assessments");
    if baseline {
        assert_eq!(app.post(&path, &user.token, rating_body("2026-03-01T09:00:00Z", 30)).await.status, 201);
    }
    for (at, total) in ratings {
        assert_eq!(app.post(&path, &user.token, rating_body(at, *total)).await.status, 201);
    }
    patient
}

/// Responders at 4 h and 24 h, one censored at 168 h; one patient without a baseline and
/// one without an infusion stay out of the cohort.
async fn cohort(app: &TestApp, user: &TestUser) {
    journey(app, user, true, true, &[("2026-03-02T13:00:00Z", 18)]).await;
    journey(app, user, true, true, &[("2026-03-02T13:00:00Z", 27), ("2026-03-03T09:00:00Z", 19)]).await;
    journey(app, user, true, true, &[("2026-03-02T13:00:00Z", 27), ("2026-03-09T09:00:00Z", 24)]).await;
    journey(app, user, false, true, &[("2026-03-02T13:00:00Z", 10)]).await;
    journey(app, user, true, false, &[]).await;
}

fn loglog_band(survival: f64, greenwood: f64) -> (f64, f64) {
    let sigma = greenwood.sqrt() / survival.ln().abs();
    let centre = (-survival.ln()).ln();
    ((-(centre + 1.959963984540054 * sigma).exp()).exp(), (-(centre - 1.959963984540054 * sigma).exp()).exp())
}

#[actix_rt::test]
async fn the_onset_curve_matches_the_hand_worked_cohort() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    cohort(&app, &admin).await;
    let r = app.get("/api/v1/analytics/onset?instrument=ybocs&endpoint=response", &admin.token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["n_patients"].clone(), r.body["n_events"].clone(), r.body["suppressed"].clone()), (json!(3), json!(2), json!(false)));
    assert_eq!((r.body["definition_set"].as_str(), r.body["endpoint"].as_str()), (Some("consensus-2016"), Some("response")));
    let km = r.body["km"].as_array().unwrap();
    assert_eq!(km_counts(&r.body), vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 0, 1)]);
    assert!(close(&km[0]["survival"], 2.0 / 3.0) && close(&km[1]["survival"], 1.0 / 3.0) && close(&km[2]["survival"], 1.0 / 3.0));
    let (lo, hi) = loglog_band(2.0 / 3.0, 1.0 / 6.0);
    assert!(close(&km[0]["ci_lower"], lo) && close(&km[0]["ci_upper"], hi), "{}", km[0]);
    let (lo, hi) = loglog_band(1.0 / 3.0, 1.0 / 6.0 + 1.0 / 2.0);
    assert!(close(&km[1]["ci_lower"], lo) && close(&km[1]["ci_upper"], hi), "{}", km[1]);
    assert_eq!(r.body["median_hours"], 24.0);
    assert!(close(&r.body["share_by"]["4h"], 1.0 / 3.0));
    assert!(close(&r.body["share_by"]["24h"], 2.0 / 3.0) && close(&r.body["share_by"]["7d"], 2.0 / 3.0));
    assert_eq!(r.body["share_by"]["28d"], Value::Null, "follow-up ends at 168 h");
    let bucket = |label: &str| r.body["acute_curve"].as_array().unwrap().iter().find(|b| b["bucket"] == label).unwrap().clone();
    let early = bucket("4-24h");
    assert_eq!(early["n"], 3);
    assert!(close(&early["mean_percent_change"], 20.0) && close(&early["sd"], 300f64.sqrt()), "{early}");
    assert_eq!(bucket("1-3d")["n"], 1);
    assert_eq!(bucket("7-14d")["n"], 1);
    assert_eq!((bucket("0-4h")["n"].clone(), bucket("0-4h")["mean_percent_change"].clone()), (json!(0), Value::Null));
    // partial response counts the same events; filters narrow the cohort
    let partial = app.get("/api/v1/analytics/onset?endpoint=partial_response", &admin.token).await;
    assert_eq!(partial.body["n_events"], 2);
    for (filter, n) in [("route=iv", 3), ("route=im", 0), ("drug=esketamine", 0), ("guidance=guided", 3), ("sex=female", 3), ("sex=male", 0), ("age_min=30&age_max=40", 3), ("age_min=40", 0), ("from=2026-03-02&to=2026-03-02", 3), ("from=2026-03-03", 0), ("to=2026-03-01", 0), ("to=9999-12-31", 3)] {
        let filtered = app.get(&format!("/api/v1/analytics/onset?{filter}"), &admin.token).await;
        assert_eq!(filtered.body["n_patients"], n, "{filter}: {}", filtered.text);
    }
    let audit = app.get("/api/v1/audit?action=analytics.onset", &admin.token).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 14);
    assert_eq!(audit.body["items"][0]["detail"]["filters"]["to"], "9999-12-31");
}

#[actix_rt::test]
async fn a_cohort_is_read_whole_when_the_pool_has_one_connection_to_give() {
    // Cohorts are read by two readers when two connections are free: with one, one reader
    // reads every slice, rather than waiting for a second that only it could free.
    let app = spawn_with(|c| c.pool_size = 1).await;
    let admin = app.admin("North").await;
    cohort(&app, &admin).await;
    let r = app.get("/api/v1/analytics/onset?instrument=ybocs&endpoint=response", &admin.token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["n_patients"].clone(), r.body["n_events"].clone()), (json!(3), json!(2)));
    assert_eq!(km_counts(&r.body), vec![(4.0, 3, 1, 0), (24.0, 2, 1, 0), (168.0, 1, 0, 1)]);
}

#[actix_rt::test]
async fn analytics_input_is_validated() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let bad = app.get("/api/v1/analytics/onset?instrument=hamd&endpoint=cure&route=rectal&age_min=old&from=someday", &admin.token).await;
    bad.assert_problem(422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["age_min", "endpoint", "from", "instrument", "route"]);
    assert_eq!(app.get("/api/v1/analytics/onset?instrument=ocd_vas&endpoint=remission", &admin.token).await.error_fields(), vec!["endpoint"]);
    // The cohort's query compares dates as bounds on stored times, whose years have four
    // digits: a year beyond is refused, not read as a bound that keeps everyone.
    for far in ["from=%2B10000-01-01", "to=%2B10000-01-01", "from=-0001-01-01"] {
        assert_eq!(app.get(&format!("/api/v1/analytics/onset?{far}"), &admin.token).await.error_fields(), vec![&far[..far.find('=').unwrap()]], "{far}");
    }
    app.get("/api/v1/analytics/onset?colour=blue", &admin.token).await.assert_problem(400);
    app.request(Method::GET, "/api/v1/analytics/onset", None, None, &[]).await.assert_problem(401);
}

/// What an attacker computes from a curve: each row's events from its survival drop and
/// at-risk (d = n (1 − S_i / S_i−1)), its censored from consecutive at-risk figures, and
/// whoever is left after the last row from `n_patients`.
fn derivable_counts(report: &Value) -> Vec<i64> {
    let km = report["km"].as_array().unwrap();
    let n = report["n_patients"].as_i64().unwrap();
    let mut counts = vec![n];
    let (mut previous, mut accounted) = (1.0, 0);
    for (i, row) in km.iter().enumerate() {
        let at_risk = row["at_risk"].as_i64().unwrap();
        let survival = row["survival"].as_f64().unwrap();
        let events = (at_risk as f64 * (1.0 - survival / previous)).round() as i64;
        let next = km.get(i + 1).map_or(0, |r| r["at_risk"].as_i64().unwrap());
        counts.extend([at_risk, events, at_risk - events - next]);
        accounted += at_risk - next;
        previous = survival;
    }
    counts.push(n - accounted);
    counts
}

#[actix_rt::test]
async fn no_hidden_count_can_be_worked_back_from_the_researchers_view() {
    let app = spawn_with(|c| c.min_cell = 3).await;
    let admin = app.admin("North").await;
    let researcher = app.user(&admin, "researcher").await;
    // ten consenting patients: three respond at 4 h, three at 24 h, three are censored
    // at 168 h, and one lone responder at 30 h is the cell to hide
    for _ in 0..3 {
        journey(&app, &admin, true, true, &[("2026-03-02T13:00:00Z", 18)]).await;
        journey(&app, &admin, true, true, &[("2026-03-02T13:00:00Z", 27), ("2026-03-03T09:00:00Z", 18)]).await;
        journey(&app, &admin, true, true, &[("2026-03-02T13:00:00Z", 27), ("2026-03-09T09:00:00Z", 27)]).await;
    }
    journey(&app, &admin, true, true, &[("2026-03-02T13:00:00Z", 27), ("2026-03-03T15:00:00Z", 18)]).await;
    // and one who did not consent: the researcher never counts them
    let refuser = journey(&app, &admin, true, true, &[("2026-03-02T13:00:00Z", 18)]).await;
    let patch = app.request(Method::PATCH, &format!("/api/v1/patients/{refuser}"), Some(&admin.token), Some(&json!({"research_consent": false})), &[]).await;
    assert_eq!(patch.status, 200, "{}", patch.text);

    let exact = app.get("/api/v1/analytics/onset", &admin.token).await;
    assert_eq!(exact.body["n_patients"], 11);
    let lone = exact.body["km"].as_array().unwrap().iter().find(|r| r["hours"] == 30.0).unwrap().clone();
    assert_eq!((lone["at_risk"].clone(), lone["events"].clone()), (json!(4), json!(1)), "the exact view shows the lone responder");
    assert!(derivable_counts(&exact.body).iter().any(|c| (1..3).contains(c)));

    let private = app.get("/api/v1/analytics/onset", &researcher.token).await;
    assert_eq!(private.status, 200, "{}", private.text);
    assert_eq!((private.body["n_patients"].clone(), private.body["n_events"].clone()), (json!(10), json!(7)), "consenting patients only");
    let counts = derivable_counts(&private.body);
    assert!(counts.iter().all(|c| *c == 0 || *c >= 3), "a hidden count is derivable: {counts:?} from {}", private.body["km"]);
    let rows: Vec<(f64, i64, i64, i64)> = private.body["km"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["hours"].as_f64().unwrap(), r["at_risk"].as_i64().unwrap(), r["events"].as_i64().unwrap(), r["censored"].as_i64().unwrap()))
        .collect();
    // 4 h: 3 of 10. After 24 h only 4 remain at risk and the lone 30 h event cannot
    // stand alone, so the tail folds back into the 24 h step: 4 events, 3 censored by 168 h.
    assert_eq!(rows, vec![(4.0, 10, 3, 0), (168.0, 7, 4, 3)]);
    for row in private.body["acute_curve"].as_array().unwrap() {
        let n = row["n"].as_i64();
        assert!(n.is_none_or(|n| n == 0 || n >= 3), "{row}");
        if row["suppressed"] == true {
            assert_eq!((row["n"].clone(), row["mean_percent_change"].clone(), row["sd"].clone()), (Value::Null, Value::Null, Value::Null));
        }
    }
    // the acute curve counts patients: 10 in 4–24 h, though two rated twice in 1–3 d
    let bucket = |label: &str| private.body["acute_curve"].as_array().unwrap().iter().find(|b| b["bucket"] == label).unwrap().clone();
    assert_eq!((bucket("4-24h")["n"].clone(), bucket("1-3d")["n"].clone()), (json!(10), json!(4)));

    // coarse filters only: whole months and 5-year bands
    let fine = app.get("/api/v1/analytics/onset?from=2026-03-02&to=2026-03-20&age_min=31&age_max=40", &researcher.token).await;
    fine.assert_problem(422);
    let mut fields = fine.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["age_max", "age_min", "from", "to"]);
    let coarse = app.get("/api/v1/analytics/onset?from=2026-03-01&to=2026-03-31&age_min=35&age_max=39", &researcher.token).await;
    assert_eq!((coarse.status, coarse.body["n_patients"].clone()), (200, json!(10)), "{}", coarse.text);
    assert_eq!(app.get("/api/v1/analytics/onset?from=2026-03-02", &admin.token).await.status, 200, "admins keep exact filters");

    let south = app.admin("South").await;
    assert_eq!(app.get("/api/v1/analytics/onset", &south.token).await.body["n_patients"], 0);
}

#[actix_rt::test]
async fn a_small_cohort_shows_researchers_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let researcher = app.user(&admin, "researcher").await;
    cohort(&app, &admin).await;
    let hidden = app.get("/api/v1/analytics/onset", &researcher.token).await;
    assert_eq!((hidden.body["suppressed"].clone(), hidden.body["km"].clone(), hidden.body["n_patients"].clone()), (json!(true), json!([]), Value::Null));
    assert_eq!((hidden.body["median_hours"].clone(), hidden.body["share_by"]["24h"].clone(), hidden.body["acute_curve"].clone()), (Value::Null, Value::Null, json!([])));
    let exact = app.get("/api/v1/analytics/onset", &admin.token).await;
    assert_eq!(exact.body["n_patients"], 3, "clinicians and admins see exact counts");
}

fn subject(patient: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(EXPORT_KEY).unwrap();
    mac.update(patient.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

fn ndjson_rows(text: &str) -> Vec<serde_json::Map<String, Value>> {
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap().as_object().unwrap().clone()).collect()
}

fn as_csv(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[actix_rt::test]
async fn the_export_is_pseudonymised_and_both_formats_agree() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let researcher = app.user(&admin, "researcher").await;
    // an old, consenting patient with identifying details everywhere
    let mut old = patient_body();
    old["birth_date"] = json!("1930-01-15");
    old["display_name"] = json!("Ada Identifiable");
    old["external_id"] = json!("MRN-SECRET-1");
    let old = app.post("/api/v1/patients", &admin.token, old).await.id();
    let mut session = infusion_body(T0);
    session["lot_number"] = json!("LOT-SECRET-9");
    session["notes"] = json!("NOTE-SECRET session");
    session["adverse_event_codes"] = json!(["nausea", "dizziness"]);
    session["ended_at"] = json!("2026-03-02T09:40:00Z");
    assert_eq!(app.post(&format!("/api/v1/patients/{old}/infusions"), &admin.token, session).await.status, 201);
    let ratings = format!("/api/v1/patients/{old}/assessments");
    let mut baseline = rating_body("2026-03-01T09:00:00Z", 30);
    baseline["notes"] = json!("NOTE-SECRET rating");
    app.post(&ratings, &admin.token, baseline).await;
    app.post(&ratings, &admin.token, rating_body("2026-03-02T13:00:00Z", 18)).await;
    let retracted = app.post(&ratings, &admin.token, rating_body("2026-03-02T15:00:00Z", 2)).await.id();
    app.delete(&format!("/api/v1/assessments/{retracted}"), &admin.token, json!({"reason": "wrong patient"})).await;
    let vas = json!({"instrument": "ocd_vas", "rated_at": "2026-03-02T10:00:00Z", "recall": "NOW", "items": {"1": 40}, "rater": "self", "collected_via": "app"});
    app.post(&ratings, &admin.token, vas).await;
    // a patient who did not consent
    let mut refuser = patient_body();
    refuser["research_consent"] = json!(false);
    let refuser = app.post("/api/v1/patients", &admin.token, refuser).await.id();
    app.post(&format!("/api/v1/patients/{refuser}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 25)).await;

    let codebook = app.get("/api/v1/exports/codebook", &researcher.token).await;
    assert_eq!(codebook.status, 200, "{}", codebook.text);
    let columns = |kind: &str| -> Vec<String> { codebook.body[kind].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect() };
    for column in codebook.body["assessments"].as_array().unwrap().iter().chain(codebook.body["infusions"].as_array().unwrap()) {
        assert!(column["type"].is_string() && !column["description"].as_str().unwrap().is_empty(), "{column}");
    }

    let csv = app.get("/api/v1/exports/assessments?format=csv", &researcher.token).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.content_type().starts_with("text/csv"));
    let ndjson = app.get("/api/v1/exports/assessments?format=ndjson", &researcher.token).await;
    assert_eq!(ndjson.content_type(), "application/x-ndjson");
    for leak in ["Ada", "Identifiable", "MRN-SECRET", "LOT-SECRET", "NOTE-SECRET", "2026-", "1930", &old, &refuser] {
        assert!(!csv.text.contains(leak) && !ndjson.text.contains(leak), "{leak} leaked");
    }
    let (header, rows) = csv_rows(&csv.text);
    assert_eq!(header, columns("assessments"));
    assert_eq!(rows.len(), 3, "baseline, 4 h and the VAS; not the retracted rating nor the refuser: {}", csv.text);
    let objects = ndjson_rows(&ndjson.text);
    assert_eq!(objects.len(), rows.len());
    for ((row, object), line) in rows.iter().zip(&objects).zip(ndjson.text.lines()) {
        let positions: Vec<usize> = header.iter().map(|name| line.find(&format!("\"{name}\":")).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "keys in codebook order: {line}");
        assert_eq!(object.len(), header.len());
        let values: Vec<String> = header.iter().map(|name| as_csv(&object[name])).collect();
        assert_eq!(&values, row, "both formats agree");
    }
    let cell = |row: &Vec<String>, name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    let after = rows.iter().find(|r| cell(r, "total") == "18").unwrap();
    assert_eq!(cell(after, "subject_id"), subject(&old));
    assert_eq!(cell(after, "age_at_first_infusion"), "90");
    assert_eq!(cell(after, "hours_since_first_infusion"), "4.0");
    assert_eq!(cell(after, "percent_change"), "40.0");
    assert_eq!(cell(after, "baseline_total"), "30");
    assert_eq!((cell(after, "response"), cell(after, "remission")), ("response".to_string(), "false".to_string()));
    assert_eq!(cell(after, "early_improvement"), "true");
    assert_eq!(cell(after, "definition_set"), "consensus-2016");
    let baseline_row = rows.iter().find(|r| cell(r, "total") == "30").unwrap();
    assert_eq!((cell(baseline_row, "hours_since_first_infusion"), cell(baseline_row, "response")), ("-24.0".to_string(), String::new()));

    let only_vas = app.get("/api/v1/exports/assessments?format=ndjson&instrument=ocd_vas", &researcher.token).await;
    let vas_rows = ndjson_rows(&only_vas.text);
    assert_eq!(vas_rows.len(), 1);
    assert_eq!((vas_rows[0]["total"].clone(), vas_rows[0]["obsessions"].clone(), vas_rows[0]["short_recall"].clone()), (json!(40), Value::Null, json!(true)));
    let none_changed = app.get("/api/v1/exports/assessments?changed_since=2999-01-01T00:00:00Z", &researcher.token).await;
    assert_eq!(csv_rows(&none_changed.text).1.len(), 0);

    let sessions = app.get("/api/v1/exports/infusions?format=csv", &researcher.token).await;
    let (header, rows) = csv_rows(&sessions.text);
    assert_eq!(header, columns("infusions"));
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0][header.iter().position(|h| h == name).unwrap()].clone();
    assert_eq!((cell("subject_id"), cell("dose_mg_per_kg"), cell("duration_minutes"), cell("adverse_event_codes")), (subject(&old), "0.5".into(), "40.0".into(), "nausea;dizziness".into()));
    assert!(!sessions.text.contains("LOT-SECRET"));

    let audit = app.get("/api/v1/audit?action=export.download", &admin.token).await;
    let events = audit.body["items"].as_array().unwrap();
    assert_eq!(events.len(), 5, "{}", audit.text);
    assert_eq!(events[0]["detail"]["kind"], "infusions");
    assert_eq!(events[0]["detail"]["filters"], json!({"format": "csv"}));
    // The end of each export is audited with what left: its rows.
    let sent = app.get("/api/v1/audit?action=export.sent", &admin.token).await;
    let sent = sent.body["items"].as_array().unwrap();
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert_eq!((sent[0]["detail"]["kind"].clone(), sent[0]["detail"]["rows"].clone()), (json!("infusions"), json!(1)));
}

#[actix_rt::test]
async fn exports_are_for_researchers_and_admins_of_the_clinic_only() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T09:00:00Z", 25)).await;
    for path in ["/api/v1/exports/assessments", "/api/v1/exports/infusions", "/api/v1/exports/codebook"] {
        app.get(path, &clinician.token).await.assert_problem(403);
        app.request(Method::GET, path, None, None, &[]).await.assert_problem(401);
    }
    assert_eq!(csv_rows(&app.get("/api/v1/exports/assessments", &admin.token).await.text).1.len(), 1);
    let south = app.admin("South").await;
    let theirs = app.get("/api/v1/exports/assessments", &south.token).await;
    assert_eq!(csv_rows(&theirs.text).1.len(), 0, "another clinic's export is empty");
    app.get("/api/v1/exports/assessments?format=xlsx", &admin.token).await.assert_problem(422);
    assert_eq!(app.get("/api/v1/exports/infusions?instrument=ybocs", &admin.token).await.error_fields(), vec!["instrument"]);
    let keyless = spawn_with(|c| c.export_key = None).await;
    let keyless_admin = keyless.admin("North").await;
    keyless.get("/api/v1/exports/assessments", &keyless_admin.token).await.assert_problem(503);
}

#[actix_rt::test]
async fn the_command_line_export_is_audited_in_each_clinic_before_it_writes() {
    let app = spawn_app().await;
    let (north, south) = (app.admin("North").await, app.admin("South").await);
    let patient = app.patient(&north).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &north.token, rating_body("2026-03-01T09:00:00Z", 25)).await;
    let run = |args: &[&str], key: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_onset"))
            .arg("export")
            .args(args)
            .env("DATABASE_URL", &app.state.config.database_url)
            .env("ONSET_EXPORT_KEY", key)
            .env("USER", "night-operator")
            .output()
            .unwrap()
    };
    let key = std::str::from_utf8(EXPORT_KEY).unwrap();
    let every = run(&["--kind", "assessments"], key);
    assert!(every.status.success(), "{}", String::from_utf8_lossy(&every.stderr));
    assert_eq!(String::from_utf8_lossy(&every.stdout).lines().count(), 2, "a header and the one rating");
    // A clinic's own instrument, read by a process that has never seen its definition.
    assert_eq!(app.post("/api/v1/clinic/instruments", &north.token, crate::spectrum::wellbeing_definition()).await.status, 201);
    let own = json!({"instrument": "x_wellbeing", "rated_at": "2026-03-01T10:00:00Z", "recall": "NOW", "items": {"calm": 0, "worried": 1, "tense": 1}, "rater": "self", "collected_via": "app"});
    assert_eq!(app.post(&format!("/api/v1/patients/{patient}/assessments"), &north.token, own).await.status, 201);
    let theirs = run(&["--kind", "assessments", "--clinic", "North", "--instrument", "x_wellbeing", "--format", "ndjson"], key);
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    let row: Value = serde_json::from_str(String::from_utf8_lossy(&theirs.stdout).lines().next().unwrap()).unwrap();
    assert_eq!((row["instrument"].clone(), row["total"].clone(), row["instrument_version"].clone()), (json!("x_wellbeing"), json!(5), json!(1)));
    assert!(!run(&["--kind", "assessments", "--instrument", "x_wellbeing"], key).status.success(), "a clinic's own needs its clinic");
    let only_south = run(&["--kind", "infusions", "--clinic", "South"], key);
    assert!(only_south.status.success());

    let seen = |admin: &TestUser| {
        let admin = admin.clone();
        let app = &app;
        async move { app.get("/api/v1/audit?action=export.command_line", &admin.token).await.body["items"].as_array().unwrap().clone() }
    };
    let north_events = seen(&north).await;
    assert_eq!(north_events.len(), 2, "{north_events:?}");
    assert_eq!(north_events[1]["detail"]["every_clinic"], true);
    assert_eq!(north_events[1]["detail"]["operator"], "night-operator");
    assert_eq!(north_events[1]["actor_id"], Value::Null);
    let south_events = seen(&south).await;
    assert_eq!(south_events.len(), 2, "{south_events:?}");
    assert_eq!(south_events[0]["detail"]["kind"], "infusions");
}

#[actix_rt::test]
async fn a_long_export_keeps_every_consenting_patient_once_and_in_id_order() {
    // Patients are read 200 at a time, and two loaders take the pages in turn:
    // 520 demo patients (about 440 consenting) make several pages for each.
    let app = spawn_app().await;
    let pool = app.state.pool.clone();
    actix_web::web::block(move || onset::demo::run(&pool, JWT_SECRET, 520, 11, |_, _| {}).unwrap()).await.unwrap();
    let (email, password) = onset::demo::admin_credentials(11, JWT_SECRET);
    let login = app.login(&email, &password).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let admin = TestUser::from_login(&app, &email, &login).await;
    let mut consenting: Vec<String> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get(&format!("/api/v1/patients?limit=500{cursor}"), &admin.token).await;
        let items = page.body["items"].as_array().unwrap();
        consenting.extend(items.iter().filter(|p| p["research_consent"] == json!(true)).map(|p| p["id"].as_str().unwrap().to_string()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert!(consenting.len() > 2 * 200, "{} consenting patients make fewer than three pages", consenting.len());
    consenting.sort();

    for format in ["csv", "ndjson"] {
        let export = app.get(&format!("/api/v1/exports/assessments?format={format}"), &admin.token).await;
        assert_eq!(export.status, 200, "{}", export.text);
        let subjects: Vec<String> = match format {
            "csv" => {
                let (header, rows) = csv_rows(&export.text);
                let column = header.iter().position(|h| h == "subject_id").unwrap();
                rows.into_iter().map(|row| row[column].clone()).collect()
            }
            _ => ndjson_rows(&export.text).iter().map(|row| row["subject_id"].as_str().unwrap().to_string()).collect(),
        };
        // Each patient's rows are one run, and the runs follow the patients' ids.
        let mut runs: Vec<String> = Vec::new();
        for subject in subjects {
            if runs.last() != Some(&subject) {
                runs.push(subject);
            }
        }
        let expected: Vec<String> = consenting.iter().map(|id| subject(id)).filter(|s| runs.contains(s)).collect();
        let first_difference = runs.iter().zip(&expected).position(|(run, patient)| run != patient);
        assert_eq!((first_difference, runs.len()), (None, expected.len()), "{format}: a patient's rows split, repeated or out of order");
        assert!(runs.len() * 10 >= consenting.len() * 9, "{format}: {} of {} consenting patients exported", runs.len(), consenting.len());
    }
}
