//! The onset summaries kept in the write path agree with the ones derived afresh from the
//! records, whatever sequence of writes came before: random sessions (some backdated
//! before the first), ratings, amendments and retractions, each step checked.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::*;

fn at(hours_from_start: i64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-02-01T08:00:00Z").unwrap().with_timezone(&chrono::Utc);
    (start + chrono::Duration::minutes(hours_from_start * 60 / 4)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn rating(rng: &mut StdRng, when: i64) -> Value {
    match rng.random_range(0..3) {
        0 => rating_body(&at(when), rng.random_range(4..=36)),
        1 => json!({"instrument": "ocd_vas", "rated_at": at(when), "recall": "NOW", "items": {"1": rng.random_range(0..=100)}, "rater": "self", "collected_via": "app"}),
        _ => json!({"instrument": "ybocs_sr", "rated_at": at(when), "recall": "P24H", "total": rng.random_range(0..=40), "rater": "self", "collected_via": "app"}),
    }
}

async fn check(app: &TestApp, step: usize) -> onset::store::summaries::Check {
    let mut conn = app.state.pool.get().unwrap();
    let check = onset::store::summaries::verify(&mut conn).unwrap();
    assert!(check.mismatched.is_empty(), "after step {step}: stored summaries differ from the records for {:?}", check.mismatched);
    check
}

#[actix_rt::test]
async fn kept_summaries_match_the_records_after_any_writes() {
    let app = spawn_app().await;
    let admin = app.admin("Summary clinic").await;
    for seed in [7_u64, 11] {
        let mut rng = StdRng::seed_from_u64(seed);
        let patients = [app.patient(&admin).await, app.patient(&admin).await, app.patient(&admin).await];
        let (mut sessions, mut ratings): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for step in 0..70 {
            let patient = &patients[rng.random_range(0..patients.len())];
            // Quarter-hours from the start of February: sessions from day 1 on, ratings
            // from before them to weeks after, some sessions backdated before the others.
            let when = rng.random_range(0..4 * 24 * 30);
            let response = match rng.random_range(0..10) {
                0 | 1 => app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&at(when))).await,
                2..=5 => app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating(&mut rng, when)).await,
                6 if !ratings.is_empty() => {
                    let id = &ratings[rng.random_range(0..ratings.len())];
                    let patch = json!({"items": ybocs_items(rng.random_range(0..=40)), "rated_at": at(when), "reason": "re-scored"});
                    // Items of another instrument, or a retracted rating: refused, and nothing changes.
                    app.patch(&format!("/api/v1/assessments/{id}"), &admin.token, patch).await
                }
                7 if !ratings.is_empty() => app.delete(&format!("/api/v1/assessments/{}", ratings[rng.random_range(0..ratings.len())]), &admin.token, json!({"reason": "entered in error"})).await,
                8 if !sessions.is_empty() => {
                    let id = &sessions[rng.random_range(0..sessions.len())];
                    app.patch(&format!("/api/v1/infusions/{id}"), &admin.token, json!({"started_at": at(when), "reason": "the clock was wrong"})).await
                }
                9 if !sessions.is_empty() => app.delete(&format!("/api/v1/infusions/{}", sessions[rng.random_range(0..sessions.len())]), &admin.token, json!({"reason": "wrong patient"})).await,
                _ => app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating(&mut rng, when)).await,
            };
            assert!(response.status < 500, "{}", response.text);
            if response.status == 201 {
                let id = response.id();
                if response.body.get("drug").is_some() { sessions.push(id) } else { ratings.push(id) }
            }
            if step % 10 == 9 {
                check(&app, step).await;
            }
        }
    }
    let check = check(&app, 140).await;
    assert_eq!(check.patients, 6);
    assert!(check.summaries >= 3, "{check:?}");
    // Analytics read the kept summaries: the cohort is the patients they cover.
    let onset = app.get("/api/v1/analytics/onset?instrument=ybocs&endpoint=partial_response", &admin.token).await;
    assert_eq!(onset.status, 200, "{}", onset.text);
    let mut conn = app.state.pool.get().unwrap();
    let all = onset::store::summaries::CohortSlice { after: None, up_to: None, limit: 100 };
    let members = cohort_page_read_both_ways(&mut conn, admin.clinic_id, onset::domain::outcomes::Endpoint::PartialResponse, &Default::default(), all).members;
    assert_eq!(onset.body["n_patients"], members.len(), "{}", onset.text);
}

/// A page of a cohort read whole (`cohort_page`) and as the onset report reads it
/// (`onset_page`: the endpoint's observation and the acute means in SQL, the patients only
/// for a filter on them), which must agree member for member: the observation the query
/// selects is `PatientOnset::observation` of the whole summary, and a durability
/// endpoint's cohort is the patients at risk of it in both.
fn cohort_page_read_both_ways(
    conn: &mut onset::db::Db,
    clinic: uuid::Uuid,
    endpoint: onset::domain::outcomes::Endpoint,
    filter: &onset::store::summaries::CohortFilter,
    slice: onset::store::summaries::CohortSlice,
) -> onset::store::summaries::CohortPage<onset::store::summaries::Member> {
    use onset::store::summaries::{OnsetMember, cohort_page, onset_page};
    let ybocs = onset::domain::instruments::Instrument::named("ybocs");
    let whole = cohort_page(conn, clinic, ybocs, endpoint, filter, slice).unwrap();
    let onset = onset_page(conn, clinic, ybocs, endpoint, filter, slice).unwrap();
    assert_eq!(whole.next, onset.next);
    let expected: Vec<OnsetMember> =
        whole.members.iter().map(|m| OnsetMember { patient_id: m.patient_id, observation: m.onset.observation(endpoint).expect("at risk"), acute: m.onset.acute }).collect();
    assert_eq!(onset.members, expected, "{endpoint:?}");
    whole
}

/// Every member of a cohort read a page at a time, following each page's `next`, and how
/// many pages it took, read both ways for every endpoint (`cohort_page_read_both_ways`);
/// the members of the response endpoint's cohort.
fn cohort_in_pages(app: &TestApp, clinic: uuid::Uuid, sex: Option<onset::domain::patient::Sex>, consenting_only: bool, limit: i64) -> (Vec<uuid::Uuid>, usize) {
    use onset::domain::outcomes::Endpoint;
    use onset::store::summaries::{CohortFilter, CohortSlice};
    let filter = CohortFilter { sex, consenting_only, ..Default::default() };
    let mut conn = app.state.pool.get().unwrap();
    let mut response = None;
    for &endpoint in Endpoint::ALL {
        let (mut members, mut pages, mut after) = (Vec::new(), 0, None);
        loop {
            let page = cohort_page_read_both_ways(&mut conn, clinic, endpoint, &filter, CohortSlice { after, up_to: None, limit });
            pages += 1;
            members.extend(page.members.iter().map(|m| m.patient_id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if endpoint == Endpoint::Response {
            response = Some((members, pages));
        }
    }
    response.unwrap()
}

/// A cohort page reads the summaries and their patients apart and merges them in patient
/// order: a filter on the patient keeps exactly the patients it names, and a page whose
/// summaries the filter all leaves out still leads on to the next (fails if the cohort
/// were read in pages of members kept rather than of summaries read). The patients of a
/// page's id range are read `limit` at a time too, and a patient without a summary between
/// two with one pushes the second into the next read (fails if only the first is read).
#[actix_rt::test]
async fn a_cohort_read_in_pages_keeps_the_patients_its_filters_name_and_no_other() {
    use onset::domain::patient::Sex;
    let app = spawn_app().await;
    let admin = app.admin("Paged cohort clinic").await;
    let other = app.admin("Another clinic").await;
    // Ten patients, male and female in turn, the first four not consenting, and one
    // without a Y-BOCS rating (no summary).
    let mut summarised = Vec::new();
    for k in 0..10 {
        let sex = if k % 2 == 0 { Sex::Male } else { Sex::Female };
        let body = json!({"display_name": format!("Patient {k}"), "birth_date": "1980-01-01", "sex": sex.code(), "diagnosis": "F42.2", "research_consent": k >= 4});
        let patient = app.post("/api/v1/patients", &admin.token, body).await.id();
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body(&at(8))).await.status, 201);
        if k == 5 {
            continue;
        }
        for (when, total) in [(0, 30), (12, 12)] {
            assert_eq!(app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body(&at(when), total)).await.status, 201);
        }
        summarised.push((patient.parse::<uuid::Uuid>().unwrap(), sex, k >= 4));
    }
    summarised.sort_by_key(|(id, _, _)| *id);
    let with = |keep: &dyn Fn(Sex, bool) -> bool| summarised.iter().filter(|(_, sex, consents)| keep(*sex, *consents)).map(|(id, _, _)| *id).collect::<Vec<_>>();
    let all = with(&|_, _| true);
    // Another clinic's patient with a summary is never read.
    let outsider = app.patient(&other).await;
    app.post(&format!("/api/v1/patients/{outsider}/infusions"), &other.token, infusion_body(&at(8))).await;
    app.post(&format!("/api/v1/patients/{outsider}/assessments"), &other.token, rating_body(&at(0), 30)).await;
    app.post(&format!("/api/v1/patients/{outsider}/assessments"), &other.token, rating_body(&at(12), 12)).await;

    assert_eq!(cohort_in_pages(&app, admin.clinic_id, None, false, 100), (all.clone(), 1));
    assert_eq!(cohort_in_pages(&app, admin.clinic_id, None, false, 2).0, all, "nine summaries in pages of two");
    // Pages of two: the first two summaries are of patients not consenting, so the first
    // page keeps none, and the read goes on.
    let (female_consenting, pages) = cohort_in_pages(&app, admin.clinic_id, Some(Sex::Female), true, 2);
    assert_eq!(female_consenting, with(&|sex, consents| sex == Sex::Female && consents));
    assert_eq!(female_consenting.len(), 2);
    assert_eq!(pages, 5, "nine summaries, two a page");
    let (male, _) = cohort_in_pages(&app, admin.clinic_id, Some(Sex::Male), false, 3);
    assert_eq!(male, with(&|sex, _| sex == Sex::Male));
    assert_eq!(male.len(), 5);
}

#[actix_rt::test]
async fn a_backdated_session_moves_every_hour_of_the_summary() {
    let app = spawn_app().await;
    let admin = app.admin("Backdated clinic").await;
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T08:00:00Z")).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-03T08:00:00Z", 18)).await;
    let km = |body: &Value| (body["km"][0]["hours"].as_f64(), body["n_events"].as_u64());
    let before = app.get("/api/v1/analytics/onset?instrument=ybocs", &admin.token).await;
    assert_eq!(km(&before.body), (Some(24.0), Some(1)), "{}", before.text);
    // A session entered late, a day before the first: the response now came at 48 h.
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-01T08:30:00Z")).await;
    let after = app.get("/api/v1/analytics/onset?instrument=ybocs", &admin.token).await;
    assert_eq!(km(&after.body), (Some(47.5), Some(1)), "{}", after.text);
}

#[actix_rt::test]
async fn concurrent_writes_to_one_patient_all_land_in_the_summary() {
    let app = spawn_app().await;
    let admin = app.admin("Busy clinic").await;
    let patient = app.patient(&admin).await;
    app.post(&format!("/api/v1/patients/{patient}/assessments"), &admin.token, rating_body("2026-03-01T08:00:00Z", 30)).await;
    app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T08:00:00Z")).await;
    // Sixteen ratings of one patient at once: each write derives the summary from the
    // records the others committed, and none is refused for writing the same summary.
    let writes = (0..16).map(|i| {
        let (app, token, patient) = (&app, admin.token.clone(), patient.clone());
        async move { app.post(&format!("/api/v1/patients/{patient}/assessments"), &token, rating_body(&format!("2026-03-{:02}T08:00:00Z", 3 + i), 29 - i)).await }
    });
    for response in futures_util::future::join_all(writes).await {
        assert_eq!(response.status, 201, "{}", response.text);
    }
    check(&app, 16).await;
    let onset = app.get("/api/v1/analytics/onset?instrument=ybocs&endpoint=response", &admin.token).await;
    // The last rating (29 − 15 = 14, 53 % down on day 17) is in: the response came at 13.
    assert_eq!(onset.body["n_events"], 1, "{}", onset.text);
}

/// The same ratings, written in time order (each extends its series' kept fold and is
/// judged from it alone) and in reverse (each one backdated, so every series is derived
/// again from the whole course): the same alerts, the same summary, and the kept folds
/// agree with the records at every step.
#[actix_rt::test]
async fn ratings_judged_from_the_kept_fold_raise_what_a_whole_course_raises() {
    let app = spawn_app().await;
    let admin = app.admin("Fold clinic").await;
    // Baseline 30 the day before the session; a remission (≤ 12 with CGI-S 2) held for a
    // week; a rating 27 % worse than baseline; then a month of totals ≥ 13 with CGI-I 6:
    // a relapse of the remission confirmed on day 8.
    let course: [(&str, u32, Option<u32>, Option<u32>); 9] = [
        ("2026-01-01T09:00:00Z", 30, None, None),
        ("2026-01-02T13:00:00Z", 18, None, None),
        ("2026-01-03T09:00:00Z", 10, Some(2), Some(1)),
        ("2026-01-10T09:00:00Z", 11, Some(2), Some(1)),
        ("2026-01-14T09:00:00Z", 38, None, Some(7)),
        ("2026-01-22T09:00:00Z", 22, None, Some(6)),
        ("2026-02-05T09:00:00Z", 23, None, Some(6)),
        ("2026-02-21T09:00:00Z", 24, None, Some(6)),
        ("2026-02-25T09:00:00Z", 25, None, Some(6)),
    ];
    let body = |(at, total, cgi_s, cgi_i): (&str, u32, Option<u32>, Option<u32>)| {
        let mut body = rating_body(at, total);
        body["cgi_s"] = json!(cgi_s);
        body["cgi_i"] = json!(cgi_i);
        body
    };
    let (in_order, reversed) = (app.patient(&admin).await, app.patient(&admin).await);
    for patient in [&in_order, &reversed] {
        let session = app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-01-02T09:00:00Z")).await;
        assert_eq!(session.status, 201, "{}", session.text);
    }
    for (step, rating) in course.iter().enumerate() {
        let written = app.post(&format!("/api/v1/patients/{in_order}/assessments"), &admin.token, body(*rating)).await;
        assert_eq!(written.status, 201, "{}", written.text);
        check(&app, step).await;
    }
    for (step, rating) in course.iter().rev().enumerate() {
        let written = app.post(&format!("/api/v1/patients/{reversed}/assessments"), &admin.token, body(*rating)).await;
        assert_eq!(written.status, 201, "{}", written.text);
        check(&app, 100 + step).await;
    }
    let alerts = |patient: String| {
        let app = &app;
        let token = admin.token.clone();
        async move {
            let listed = app.get(&format!("/api/v1/alerts?limit=100&patient_id={patient}"), &token).await;
            assert_eq!(listed.status, 200, "{}", listed.text);
            let mut kinds: Vec<(String, String)> = listed.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["kind"].as_str().unwrap().to_string(), a["level"].as_str().unwrap().to_string()))
                .collect();
            kinds.sort();
            kinds
        }
    };
    let raised = alerts(in_order.clone()).await;
    assert_eq!(
        raised,
        [("relapse".to_string(), "moderate".to_string()), ("worsening".to_string(), "moderate".to_string())],
        "one worsening (38 against 30), one relapse"
    );
    assert_eq!(alerts(reversed.clone()).await, raised, "written backwards, judged whole: the same alerts");
    let mut conn = app.state.pool.get().unwrap();
    let all = onset::store::summaries::CohortSlice { after: None, up_to: None, limit: 100 };
    let members = cohort_page_read_both_ways(&mut conn, admin.clinic_id, onset::domain::outcomes::Endpoint::Response, &Default::default(), all).members;
    assert_eq!(members.len(), 2);
    // Both relapsed: the relapse endpoint's cohort is both, read both ways alike.
    let relapse = cohort_page_read_both_ways(&mut conn, admin.clinic_id, onset::domain::outcomes::Endpoint::Relapse, &Default::default(), all).members;
    assert_eq!(relapse.len(), 2);
    assert_eq!(members[0].onset, members[1].onset, "the same summary from the fold as from the whole course");
    let onset = &members[0].onset;
    // Hours from the session (Jan 2, 09:00): 18 of 30 at 4 h is a response (40 %, no CGI-I
    // given); 10 with CGI-S 2 at 24 h a remission, confirmed a week later at 192 h; the
    // month of relapse runs from Jan 14 and is complete at the Feb 21 rating (1,200 h).
    assert_eq!((onset.response_hours, onset.remission_hours, onset.last_hours), (Some(4.0), Some(24.0), 1296.0));
    assert_eq!(onset.relapse.map(|o| (o.time, o.event)), Some((1008.0, true)), "from the confirmation to the rating completing the month");
}

/// Migration 000028 moved a summary's acute means from one JSON array to a column each.
/// Taken back to the array and forward again, every kept summary still equals the one
/// derived afresh from the records, to the last bit (percent changes from a baseline of
/// 29, such as 100 × 8 / 29, have no short decimals), and analytics answer the same.
#[actix_rt::test]
async fn the_acute_means_move_between_json_and_their_columns_exactly() {
    let app = spawn_app().await;
    let admin = app.admin("North").await;
    // A baseline of 29 the day before a session at 09:00, then ratings 1 h, 2 h, 6 h, 30 h,
    // 200 h and 800 h after it: five of the seven buckets, one of them averaging two ratings.
    for totals in [[21, 26, 17, 23, 12, 9], [28, 24, 19, 25, 14, 11], [27, 22, 28, 20, 16, 13]] {
        let patient = app.patient(&admin).await;
        let path = format!("/api/v1/patients/{patient}/assessments");
        assert_eq!(app.post(&path, &admin.token, rating_body("2026-03-01T09:00:00Z", 29)).await.status, 201);
        assert_eq!(app.post(&format!("/api/v1/patients/{patient}/infusions"), &admin.token, infusion_body("2026-03-02T09:00:00Z")).await.status, 201);
        let start = time(&json!("2026-03-02T09:00:00Z"));
        for (hours, total) in [1, 2, 6, 30, 200, 800].into_iter().zip(totals) {
            let rated = app.post(&path, &admin.token, rating_body(&rfc3339(start + chrono::Duration::hours(hours)), total)).await;
            assert_eq!(rated.status, 201, "{}", rated.text);
        }
    }
    let before = app.get("/api/v1/analytics/onset?instrument=ybocs", &admin.token).await;
    assert_eq!(before.status, 200, "{}", before.text);
    let means: Vec<f64> = before.body["acute_curve"].as_array().unwrap().iter().filter_map(|b| b["mean_percent_change"].as_f64()).collect();
    assert_eq!(means.len(), 5, "{}", before.text);

    let mut conn = app.state.pool.get().unwrap();
    let (down, up) = match **conn {
        onset::db::Db::Pg(_) => (
            include_str!("../../migrations/postgres/2026-12-13-000028_acute_columns/down.sql"),
            include_str!("../../migrations/postgres/2026-12-13-000028_acute_columns/up.sql"),
        ),
        onset::db::Db::Sqlite(_) => (
            include_str!("../../migrations/sqlite/2026-12-13-000028_acute_columns/down.sql"),
            include_str!("../../migrations/sqlite/2026-12-13-000028_acute_columns/up.sql"),
        ),
    };
    diesel::connection::SimpleConnection::batch_execute(&mut **conn, down).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Kept {
        #[diesel(sql_type = diesel::sql_types::Text)]
        acute: String,
    }
    let kept: Vec<Kept> = diesel::RunQueryDsl::load(diesel::sql_query("SELECT CAST(acute AS TEXT) AS acute FROM onset_summaries"), &mut **conn).unwrap();
    assert_eq!(kept.len(), 3);
    for array in &kept {
        let means: Vec<Option<f64>> = serde_json::from_str(&array.acute).unwrap();
        assert_eq!((means.len(), means.iter().flatten().count()), (7, 5), "{means:?}");
        // Written again as onset wrote it before the columns (serde_json's shortest
        // digits), which is what the migration met in a clinic's database.
        let update = match **conn {
            onset::db::Db::Pg(_) => "UPDATE onset_summaries SET acute = CAST($1 AS jsonb) WHERE CAST(acute AS TEXT) = $2",
            onset::db::Db::Sqlite(_) => "UPDATE onset_summaries SET acute = $1 WHERE acute = $2",
        };
        let rewritten = diesel::RunQueryDsl::execute(
            diesel::sql_query(update).bind::<diesel::sql_types::Text, _>(serde_json::to_string(&means).unwrap()).bind::<diesel::sql_types::Text, _>(&array.acute),
            &mut **conn,
        )
        .unwrap();
        assert_eq!(rewritten, 1);
    }
    diesel::connection::SimpleConnection::batch_execute(&mut **conn, up).unwrap();
    drop(conn);

    check(&app, 0).await;
    let after = app.get("/api/v1/analytics/onset?instrument=ybocs", &admin.token).await;
    assert_eq!(after.body, before.body);
}
