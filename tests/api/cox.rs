//! What predicts fast relief (DESIGN.md §11): the Cox model over the cohort's kept
//! summaries, against lifelines 0.30.3, its refusals and the researcher's private view;
//! and how long relief lasts (the durability endpoints).

use awc::http::Method;
use serde_json::json;

use crate::helpers::*;

const T0: &str = "2026-03-02T09:00:00Z";

fn hours_after_t0(hours: f64) -> String {
    rfc3339(time(&json!(T0)) + chrono::Duration::minutes((hours * 60.0) as i64))
}

/// Thirty patients, baseline Y-BOCS 30 the day before a first session at T0 of
/// `dose_mg_per_kg` 0.30–0.80 (i·7 mod 11 steps of 0.05), IM for every third, IV
/// otherwise; patient i rated at 1 + (i·17 mod 53) h (patient 29 at patient 1's time, a
/// tie), responding (18: a 40 % fall) unless i mod 5 = 4 (30: censored there).
async fn cohort(app: &TestApp, user: &TestUser) -> Vec<String> {
    let mut patients = Vec::new();
    for i in 0..30u32 {
        let patient = app.patient(user).await;
        let dose: f64 = format!("0.{:02}", 30 + ((i * 7) % 11) * 5).parse().unwrap();
        let route = if i % 3 == 0 { "im" } else { "iv" };
        let session = json!({"drug": "ketamine", "route": route, "started_at": T0, "dose_mg": 70.0 * dose, "weight_kg": 70.0, "dose_mg_per_kg": dose, "guidance": "guided"});
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &user.token, session).await.status, 201);
        let path = format!("/api/v1/patients/{patient}/assessments");
        assert_eq!(app.post(&path, &user.token, rating_body("2026-03-01T09:00:00Z", 30)).await.status, 201);
        let hours = f64::from(1 + ((if i == 29 { 1 } else { i }) * 17) % 53);
        let total = if i % 5 == 4 { 30 } else { 18 };
        assert_eq!(app.post(&path, &user.token, rating_body(&hours_after_t0(hours), total)).await.status, 201);
        patients.push(patient);
    }
    patients
}

#[actix_rt::test]
async fn the_cox_model_matches_lifelines_on_a_cohort_with_a_tie_and_a_categorical_covariate() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    cohort(&app, &admin).await;
    let r = app.get("/api/v1/analytics/cox?instrument=ybocs&endpoint=response&covariates=dose_mg_per_kg,route", &admin.token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["n_patients"].clone(), r.body["n_events"].clone(), r.body["n_excluded"].clone()), (json!(30), json!(24), json!(0)));
    assert_eq!(r.body["levels"][0]["reference"], "iv", "the commonest route is the reference");
    let terms = r.body["terms"].as_array().unwrap();
    let names: Vec<&str> = terms.iter().map(|t| t["term"].as_str().unwrap()).collect();
    assert_eq!(names, ["dose_mg_per_kg", "route=im"]);
    // lifelines 0.30.3: CoxPHFitter().fit(df, "T", "E", fit_options={"precision": 1e-12})
    // on the same thirty rows (dose, route_im), Efron ties.
    let lifelines = [("dose_mg_per_kg", -3.9497405127582406, 1.6781573296808259, 0.018591729377131206), ("route=im", -1.038084958210027, 0.5106226163468659, 0.04205466402265361)];
    for (term, (name, coef, se, p)) in terms.iter().zip(lifelines) {
        assert_eq!(term["term"], name);
        assert!(within(&term["coef"], coef, 1e-6) && within(&term["se"], se, 1e-6) && within(&term["p"], p, 1e-6), "{term}");
        assert!(within(&term["hazard_ratio"], coef.exp(), 1e-6));
        assert!(within(&term["ci_lower"], coef - 1.959963984540054 * se, 1e-6) && within(&term["ci_upper"], coef + 1.959963984540054 * se, 1e-6));
        assert!(within(&term["hazard_ratio_ci"][0], (coef - 1.959963984540054 * se).exp(), 1e-6) && within(&term["hazard_ratio_ci"][1], (coef + 1.959963984540054 * se).exp(), 1e-6));
    }
    assert!(within(&r.body["log_likelihood"], -52.95090697414737, 1e-6), "{}", r.body["log_likelihood"]);
    // proportional_hazard_test(cph, df, time_transform="rank"): 2.496989 (p 0.114064) and
    // 2.170442 (p 0.140686).
    assert!(within(&terms[0]["ph_test"]["statistic"], 2.496989, 1e-4) && within(&terms[0]["ph_test"]["p"], 0.114064, 1e-4), "{}", terms[0]["ph_test"]);
    assert!(within(&terms[1]["ph_test"]["statistic"], 2.170442, 1e-4) && within(&terms[1]["ph_test"]["p"], 0.140686, 1e-4), "{}", terms[1]["ph_test"]);
    assert!(within(&r.body["concordance"], 0.7688953488372093, 1e-9), "{}", r.body["concordance"]);
    let audited = app.get("/api/v1/audit?action=analytics.cox", &admin.token).await;
    assert_eq!(audited.body["items"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn a_model_is_refused_with_its_reason() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    let clinician = app.user(&admin, "clinician").await;
    let researcher = app.user(&admin, "researcher").await;
    cohort(&app, &admin).await;
    let reason = |r: &Response| r.body["errors"][0]["message"].as_str().unwrap_or_default().to_string();
    let unknown = app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg,shoe_size", &clinician.token).await;
    unknown.assert_problem(422);
    assert!(reason(&unknown).contains("shoe_size"), "{}", unknown.text);
    app.get("/api/v1/analytics/cox", &clinician.token).await.assert_problem(422);
    // 24 events for three terms (dose, route=im, baseline): under 10 a term.
    let few = app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg,route,baseline_total", &clinician.token).await;
    few.assert_problem(422);
    assert!(reason(&few).contains("24 events for 3 terms") && reason(&few).contains("Peduzzi"), "{}", few.text);
    // Every patient's guidance is guided: one level, nothing to compare.
    let one = app.get("/api/v1/analytics/cox?covariates=guidance", &clinician.token).await;
    assert!(reason(&one).contains("one level"), "{}", one.text);
    // Every baseline is 30: a constant covariate.
    let constant = app.get("/api/v1/analytics/cox?covariates=baseline_total", &clinician.token).await;
    assert!(reason(&constant).contains("constant"), "{}", constant.text);
    // Researchers: the minimum cell (11) on every level; IM holds 10 patients.
    let private = app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg,route", &researcher.token).await;
    private.assert_problem(422);
    assert!(reason(&private).contains("route=im") && reason(&private).contains("never merged"), "{}", private.text);
    let dose_only = app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg", &researcher.token).await;
    assert_eq!(dose_only.status, 200, "{}", dose_only.text);
    assert!(!dose_only.text.contains("patient_id"), "nothing per patient");
    app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg&from=2026-03-02", &researcher.token).await.assert_problem(422);
    app.request(Method::GET, "/api/v1/analytics/cox?covariates=route", None, None, &[]).await.assert_problem(401);
    app.get("/api/v1/analytics/onset?covariates=route", &clinician.token).await.assert_problem(422);
    // Another clinic's cohort is empty: nothing to fit.
    let south = app.admin("South").await;
    let theirs = app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg", &south.token).await;
    theirs.assert_problem(422);
    assert!(reason(&theirs).contains("0 events"), "{}", theirs.text);
}

#[actix_rt::test]
async fn loss_of_response_is_a_kaplan_meier_of_the_responders() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    // Baseline 30. A: responds at 24 h (18), 21 at 48 h (partial), 24 at 96 h (below
    // partial): lost 72 h after. B: responds at 4 h, still at 168 h: censored at 164 h.
    // C: never responds: not at risk.
    let series: [&[(f64, u32)]; 3] = [&[(24.0, 18), (48.0, 21), (96.0, 24)], &[(4.0, 18), (168.0, 19)], &[(24.0, 25)]];
    for ratings in series {
        let patient = app.patient(&admin).await;
        app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(T0)).await;
        let path = format!("/api/v1/patients/{patient}/assessments");
        app.post(&path, &admin.token, rating_body("2026-03-01T09:00:00Z", 30)).await;
        for (hours, total) in ratings {
            assert_eq!(app.post(&path, &admin.token, rating_body(&hours_after_t0(*hours), *total)).await.status, 201);
        }
    }
    let r = app.get("/api/v1/analytics/onset?endpoint=loss_of_response", &admin.token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["n_patients"].clone(), r.body["n_events"].clone()), (json!(2), json!(1)));
    assert_eq!(km_counts(&r.body), vec![(72.0, 2, 1, 0), (164.0, 1, 0, 1)]);
    assert!(within(&r.body["km"][0]["survival"], 0.5, 1e-12));
    // Relapse is the consensus's, after its remission: not defined for the VAS.
    assert_eq!(app.get("/api/v1/analytics/onset?instrument=ocd_vas&endpoint=relapse", &admin.token).await.error_fields(), ["endpoint"]);
    let relapse = app.get("/api/v1/analytics/onset?endpoint=relapse", &admin.token).await;
    assert_eq!((relapse.status, relapse.body["n_patients"].clone()), (200, json!(0)), "no confirmed remission: nobody at risk");
}

#[actix_rt::test]
async fn the_forest_plot_draws_the_models_hazard_ratios() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    cohort(&app, &admin).await;
    let model = app.get("/api/v1/analytics/cox?covariates=dose_mg_per_kg,route", &admin.token).await;
    let svg = app.get("/api/v1/analytics/cox.svg?covariates=dose_mg_per_kg,route", &admin.token).await;
    assert!(svg.status == 200 && svg.content_type().starts_with("image/svg+xml"), "{}", svg.text);
    assert_eq!(svg.text.matches(r#"<g class="term""#).count(), 2);
    let im = &model.body["terms"][1];
    let drawn = format!(r#"data-term="route=im" data-hazard-ratio="{}""#, im["hazard_ratio"].as_f64().unwrap());
    assert!(svg.text.contains(&drawn), "{drawn} in {}", svg.text);
    assert!(svg.text.contains("route against iv"));
    app.get("/api/v1/analytics/cox.svg?covariates=baseline_total", &admin.token).await.assert_problem(422);
}
