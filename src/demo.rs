//! `onset demo-data`: a realistic synthetic cohort in its own clinic, the same for the
//! same seed. Patients follow one of five courses (early responders, late responders,
//! partial responders, non-responders, dropouts) through twice- to thrice-weekly
//! ketamine or esketamine sessions, rated at clinic-like times: VAS at +40 min, +2 h
//! and +4 h after every session, a short-recall Y-BOCS the day after the first, and
//! weekly Y-BOCS. About 2 % of ratings are retracted.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use crate::auth::{Role, password};
use crate::db::Pool;
use crate::domain::RecordStatus;
use crate::domain::infusion::{AdverseEvent, Drug, Guidance, Infusion, RecordedBy, Route, Vitals};
use crate::domain::instruments::{Catalogue, Instrument};
use crate::domain::patient::{PatientFields, Sex};
use crate::domain::scoring::{CollectedVia, Rater, Rating, Recall, score};
use crate::store::assessments::AssessmentRecord;
use crate::store::bulk::{self, Cohort};
use crate::domain::home::HomePlanInput;
use crate::store::home_plans::HomePlanRecord;
use crate::store::infusions::InfusionRecord;
use crate::store::records::Kept;
use crate::store::users::{self, NewUser};
use crate::db::write_tx;
use crate::domain::protocol::{ProtocolFields, ProtocolInput, ProtocolItemInput};
use crate::domain::rems::{Episode, RemsRecord};
use crate::store::protocols::Protocol;
use crate::store::{Actor, due, records, research};

/// Patients written per transaction.
const PATIENTS_PER_BATCH: u32 = 500;

/// The demo clinic's admin: the email and a password derived from the seed and the
/// installation's secret (`ONSET_JWT_SECRET`, or the secret file beside a SQLite
/// database). Whoever runs `onset` can print it again with `--print-admin`; someone who
/// knows the seed and this source, but not the secret, cannot compute it.
pub fn admin_credentials(seed: u64, installation_secret: &[u8]) -> (String, String) {
    let mut mac = Hmac::<Sha256>::new_from_slice(installation_secret).expect("any key length");
    mac.update(b"onset demo admin password\0");
    mac.update(&seed.to_be_bytes());
    let password = format!("demo-{}", &hex::encode(mac.finalize().into_bytes())[..16]);
    (format!("admin@demo-{seed}.onset.example"), password)
}

pub fn clinic_name(seed: u64) -> String {
    format!("Demo Clinic (seed {seed})")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Course {
    Early,
    Late,
    Partial,
    NonResponder,
    Dropout,
}

impl Course {
    fn draw(rng: &mut StdRng) -> Course {
        match rng.random_range(0..100) {
            0..35 => Course::Early,
            35..55 => Course::Late,
            55..70 => Course::Partial,
            70..90 => Course::NonResponder,
            _ => Course::Dropout,
        }
    }

    /// The sustained share of symptoms relieved `days` after the first infusion.
    fn relief(self, days: f64, strength: f64) -> f64 {
        let ramp = |full_at: f64, level: f64| level * (days / full_at).clamp(0.0, 1.0);
        strength
            * match self {
                Course::Early => ramp(2.0, 0.55),
                Course::Late => ramp(4.0, 0.15) + ramp(21.0, 0.35),
                Course::Partial => ramp(7.0, 0.30),
                Course::NonResponder => ramp(7.0, 0.08),
                Course::Dropout => ramp(3.0, 0.10),
            }
    }

    /// The extra, transient relief in the hours right after a session (what the VAS sees).
    fn acute(self, hours_after: f64) -> f64 {
        let peak = match self {
            Course::Early => 0.45,
            Course::Late | Course::Partial => 0.30,
            Course::NonResponder | Course::Dropout => 0.12,
        };
        peak * (-hours_after / 6.0).exp()
    }
}

struct Generator {
    rng: StdRng,
    clock_ms: u64,
}

impl Generator {
    /// Ids are UUID v7 with a deterministic clock, so the same seed gives the same ids.
    fn id(&mut self) -> Uuid {
        self.clock_ms += 1;
        let random: [u8; 10] = self.rng.random();
        uuid::Builder::from_unix_timestamp_millis(self.clock_ms, &random).into_uuid()
    }

    fn items(&mut self, instrument: Instrument, total: u32) -> BTreeMap<String, Value> {
        let core: Vec<(&str, u32)> = instrument.core_items().map(|i| (i.code, i.max)).collect();
        let mut values = vec![0u32; core.len()];
        let mut left = total.min(core.iter().map(|c| c.1).sum());
        while left > 0 {
            let i = self.rng.random_range(0..core.len());
            if values[i] < core[i].1 {
                values[i] += 1;
                left -= 1;
            }
        }
        core.iter().zip(values).map(|((code, _), v)| (code.to_string(), Value::from(v))).collect()
    }
}

struct PatientPlan {
    id: Uuid,
    first: DateTime<Utc>,
    course: Course,
    strength: f64,
    baseline: f64,
    vas_baseline: f64,
    starts: Vec<DateTime<Utc>>,
}

fn rating(g: &mut Generator, instrument: Instrument, at: DateTime<Utc>, recall: Recall, total: u32, cgi_i: Option<u32>, rater: Rater, via: CollectedVia) -> Rating {
    let items = g.items(instrument, total);
    let scores = score(instrument, Some(&items), None).expect("generated items are in range");
    Rating { instrument, rated_at: at, recall, scores, cgi_s: None, cgi_i, rater, collected_via: via, notes: None }
}

fn session(g: &mut Generator, start: DateTime<Utc>, drug: Drug, route: Route, weight: f64, guidance: Guidance) -> Infusion {
    let rng = &mut g.rng;
    let (dose_mg, minutes) = match (drug, route) {
        (Drug::Esketamine, _) => (if rng.random_bool(0.5) { 56.0 } else { 84.0 }, 5),
        (_, Route::Iv) => ((weight * 0.5 * 10.0).round() / 10.0, 40),
        (_, Route::Im) => ((weight * rng.random_range(0.5..0.75) * 10.0).round() / 10.0, 1),
        _ => ((weight * 1.0).round(), 1),
    };
    let bp = |rng: &mut StdRng, minute: i32, rise: u32| Vitals {
        minute,
        systolic: Some(rng.random_range(112..132) + rise),
        diastolic: Some(rng.random_range(70..84) + rise / 2),
        heart_rate: Some(rng.random_range(60..88)),
        spo2: Some(rng.random_range(95..=99)),
    };
    let (rise_at_40, rise_at_120) = (rng.random_range(5..25), rng.random_range(0..8));
    let vitals = vec![bp(rng, -5, 0), bp(rng, 40, rise_at_40), bp(rng, 120, rise_at_120)];
    let mut adverse_event_codes = Vec::new();
    for (code, chance) in [(AdverseEvent::Nausea, 0.12), (AdverseEvent::Dizziness, 0.15), (AdverseEvent::Dissociation, 0.25), (AdverseEvent::Headache, 0.08)] {
        if rng.random_bool(chance) {
            adverse_event_codes.push(code);
        }
    }
    Infusion {
        drug,
        route,
        started_at: start,
        ended_at: Some(start + Duration::minutes(minutes)),
        discharged_at: Some(start + Duration::minutes(rng.random_range(125..190))),
        dose_mg,
        weight_kg: Some(weight),
        dose_mg_per_kg: Some(dose_mg / weight),
        guidance: Some(guidance),
        lot_number: Some(format!("DEMO-{}", rng.random_range(1000..9999))),
        vitals,
        cadss_total: Some(rng.random_range(0..35)),
        moaas: Some(rng.random_range(3..=5)),
        adverse_event_codes,
        adverse_event_notes: None,
        notes: None,
        // The demo clinic keeps up with the REMS: each nasal esketamine session's record is
        // complete and was submitted the next day (no flood of overdue alerts in the demo).
        rems: (drug == Drug::Esketamine && route == Route::Intranasal).then(|| RemsRecord {
            sedation: Some(Episode { occurred: false, onset_minute: None, resolved_minute: None }),
            dissociation: Some(Episode { occurred: true, onset_minute: Some(10), resolved_minute: Some(55) }),
            respiratory_depression: Some(false),
            serious_adverse_event: Some(false),
            ready_to_leave_minutes: Some(125),
            concomitant_medications: Some(Vec::new()),
            submitted_at: Some(start + Duration::days(1)),
        }),
        recorded_by: RecordedBy::Staff,
        home_plan_id: None,
    }
}

/// Generates one patient: their fields, sessions and ratings.
fn patient(g: &mut Generator, index: u32, actor: &Actor, cohort: &mut Cohort) {
    // One patient in ten is treated for depression, one in ten for PTSD (the spectrum of
    // DESIGN.md §9); the rest for OCD.
    let condition = match index % 10 {
        7 => Condition::Depression,
        8 => Condition::Ptsd,
        _ => Condition::Ocd,
    };
    let anchor = Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).single().expect("a valid date");
    let course = Course::draw(&mut g.rng);
    let first = anchor + Duration::days(g.rng.random_range(0..330)) + Duration::minutes(g.rng.random_range(0..8) * 30);
    let sessions = if course == Course::Dropout { 2 } else { 6 };
    let days = [0, 2, 4, 7, 9, 11];
    let plan = PatientPlan {
        id: g.id(),
        first,
        course,
        strength: g.rng.random_range(0.8..1.2),
        baseline: f64::from(g.rng.random_range(18..35)),
        vas_baseline: f64::from(g.rng.random_range(55..92)),
        starts: days[..sessions].iter().map(|d| first + Duration::days(*d)).collect(),
    };
    let sex = if g.rng.random_bool(0.55) { Sex::Female } else if g.rng.random_bool(0.97) { Sex::Male } else { Sex::Other };
    let birth = NaiveDate::from_ymd_opt(g.rng.random_range(1950..2006), g.rng.random_range(1..=12), g.rng.random_range(1..=28)).expect("a valid date");
    let fields = PatientFields {
        external_id: Some(format!("DEMO-{index:06}")),
        display_name: format!("Demo Patient {index}"),
        birth_date: birth,
        sex,
        diagnosis: match condition {
            Condition::Ocd => ["F42.2", "F42.1", "F42.0", "F42.8"][g.rng.random_range(0..4)].to_string(),
            Condition::Depression => "F33.2".to_string(),
            Condition::Ptsd => "F43.1".to_string(),
        },
        research_consent: g.rng.random_bool(0.8),
    };
    cohort.patients.push((plan.id, fields, plan.first - Duration::days(14)));

    let (drug, route) = match g.rng.random_range(0..100) {
        0..50 => (Drug::Ketamine, Route::Iv),
        50..65 => (Drug::Ketamine, Route::Im),
        65..90 => (Drug::Esketamine, Route::Intranasal),
        _ => (Drug::Ketamine, Route::Sublingual),
    };
    let weight = f64::from(g.rng.random_range(52..115));
    let guidance = if g.rng.random_bool(0.5) { Guidance::Guided } else { Guidance::SelfGuided };
    for (n, start) in plan.starts.iter().enumerate() {
        let s = session(g, *start, drug, route, weight, guidance);
        cohort.infusions.push(InfusionRecord {
            id: g.id(),
            patient_id: plan.id,
            session: s,
            series_number: n as i32 + 1,
            status: RecordStatus::Active,
            version: 1,
            created_at: *start,
            updated_at: *start,
            created_by: actor.user_id,
            updated_by: actor.user_id,
        });
    }

    let noise = |g: &mut Generator, spread: f64| g.rng.random_range(-spread..=spread);
    let mut ratings: Vec<Rating> = Vec::new();
    // One ketamine patient in four goes on to doses at home: a plan after the last clinic
    // session, and a few doses the patient recorded, each followed by the VAS at about
    // +40 min, +2 h and +4 h. Times are jittered as people's are: a dose in the evening at
    // any minute, a rating a few minutes either side of its point, now and then none.
    if drug == Drug::Ketamine && course != Course::Dropout && g.rng.random_bool(0.25) {
        let last = *plan.starts.last().expect("every demo patient has sessions");
        let starts_at = (last + Duration::days(3)).date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let input = HomePlanInput {
            drug: Some("ketamine".into()),
            route: Some("sublingual".into()),
            dose_mg: Some(f64::from(g.rng.random_range(10..=20) * 10)),
            doses_allowed: Some(Value::from(6)),
            min_interval: Some("P3D".into()),
            starts_at: Some(starts_at.to_rfc3339()),
            ends_at: Some((starts_at + Duration::days(60)).to_rfc3339()),
            ..HomePlanInput::default()
        };
        let home_plan: HomePlanRecord = HomePlanRecord::new(g.id(), plan.id, input.parse().expect("the demo plan is valid"), actor.user_id, starts_at - Duration::days(1));
        let mut taken = starts_at + Duration::hours(g.rng.random_range(17..22)) + Duration::minutes(g.rng.random_range(0..60));
        for n in 0..g.rng.random_range(2..=4) {
            let bp = |g: &mut Generator, base: u32| base + g.rng.random_range(0..14);
            let vitals = vec![Vitals { minute: 0, systolic: Some(bp(g, 116)), diastolic: Some(bp(g, 72)), heart_rate: Some(bp(g, 64)), spo2: None }];
            let session = Infusion {
                drug: Drug::Ketamine,
                route: Route::Sublingual,
                started_at: taken,
                ended_at: None,
                discharged_at: None,
                dose_mg: home_plan.plan.dose_mg,
                weight_kg: None,
                dose_mg_per_kg: None,
                guidance: Some(Guidance::SelfGuided),
                lot_number: None,
                vitals,
                cadss_total: None,
                moaas: None,
                adverse_event_codes: Vec::new(),
                adverse_event_notes: None,
                notes: None,
                rems: None,
                recorded_by: RecordedBy::Patient,
                home_plan_id: Some(home_plan.id),
            };
            let number = plan.starts.len() as i32 + n + 1;
            cohort.infusions.push(InfusionRecord {
                id: g.id(),
                patient_id: plan.id,
                session,
                series_number: number,
                status: RecordStatus::Active,
                version: 1,
                created_at: taken,
                updated_at: taken,
                created_by: actor.user_id,
                updated_by: actor.user_id,
            });
            let days = (taken - plan.first).num_minutes() as f64 / 1440.0;
            for minutes in [40i64, 120, 240] {
                if g.rng.random_bool(0.12) {
                    continue; // not answered
                }
                let at = taken + Duration::minutes(minutes + g.rng.random_range(-12..=15));
                let relief = plan.course.relief(days, plan.strength) + plan.course.acute(minutes as f64 / 60.0);
                let vas = (plan.vas_baseline * (1.0 - relief.min(0.95)) + noise(g, 5.0)).round().clamp(0.0, 100.0) as u32;
                ratings.push(rating(g, Instrument::named("ocd_vas"), at, Recall::Now, vas, None, Rater::SelfReport, CollectedVia::App));
            }
            taken = taken + Duration::days(g.rng.random_range(3..=5)) + Duration::minutes(g.rng.random_range(-90..=90));
        }
        cohort.home_plans.push(home_plan);
    }
    if condition != Condition::Ocd {
        ratings.extend(spectrum_ratings(g, &plan, condition));
        return keep_ratings(g, &plan, actor, cohort, ratings);
    }
    let ybocs = |g: &mut Generator, days: f64| -> u32 {
        let value = plan.baseline * (1.0 - plan.course.relief(days, plan.strength)) + noise(g, 1.5);
        value.round().clamp(0.0, 40.0) as u32
    };
    let cgi = |relief: f64| if relief >= 0.35 { 2 } else if relief >= 0.25 { 3 } else { 4 };
    let baseline_at = plan.first - Duration::days(g.rng.random_range(1..10));
    let baseline = plan.baseline.round() as u32;
    ratings.push(rating(g, Instrument::named("ybocs"), baseline_at, Recall::Week, baseline, None, Rater::Clinician, CollectedVia::Interview));
    let vas_baseline = plan.vas_baseline.round() as u32;
    ratings.push(rating(g, Instrument::named("ocd_vas"), plan.first - Duration::hours(1), Recall::Now, vas_baseline, None, Rater::SelfReport, CollectedVia::App));
    for start in &plan.starts {
        let days = (*start - plan.first).num_minutes() as f64 / 1440.0;
        for minutes in [40i32, 120, 240] {
            let relief = plan.course.relief(days, plan.strength) + plan.course.acute(f64::from(minutes) / 60.0);
            let vas = (plan.vas_baseline * (1.0 - relief.min(0.95)) + noise(g, 4.0)).round().clamp(0.0, 100.0) as u32;
            ratings.push(rating(g, Instrument::named("ocd_vas"), *start + Duration::minutes(i64::from(minutes)), Recall::Now, vas, None, Rater::SelfReport, CollectedVia::App));
        }
    }
    let total = ybocs(g, 1.0);
    ratings.push(rating(g, Instrument::named("ybocs"), plan.first + Duration::hours(24), Recall::Day, total, None, Rater::Clinician, CollectedVia::Phone));
    let weeks = if plan.course == Course::Dropout { 1 } else { 4 };
    for week in 1..=weeks {
        let days = f64::from(week * 7);
        let total = ybocs(g, days);
        let relief = 1.0 - f64::from(total) / plan.baseline;
        let at = plan.first + Duration::days(i64::from(week) * 7) + Duration::hours(2);
        ratings.push(rating(g, Instrument::named("ybocs"), at, Recall::Week, total, Some(cgi(relief)), Rater::Clinician, CollectedVia::Interview));
        if week == 2 && g.rng.random_bool(0.5) {
            let self_report = (f64::from(total) + noise(g, 2.0)).round().clamp(0.0, 40.0) as u32;
            ratings.push(rating(g, Instrument::named("ybocs_sr"), at + Duration::hours(1), Recall::Week, self_report, None, Rater::SelfReport, CollectedVia::App));
        }
    }
    keep_ratings(g, &plan, actor, cohort, ratings);
}

/// Which condition a demo patient is treated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Ocd,
    Depression,
    Ptsd,
}

/// A depression patient's MADRS (clinician: a baseline, at 24 h with a day's recall, then
/// weekly) or a PTSD patient's PCL-5 (self-report: a baseline over the past month, then
/// weekly over the past week), following the patient's course of relief.
fn spectrum_ratings(g: &mut Generator, plan: &PatientPlan, condition: Condition) -> Vec<Rating> {
    let (instrument, low, high, rater, via, baseline_recall) = match condition {
        Condition::Depression => (Instrument::named("madrs"), 26, 44, Rater::Clinician, CollectedVia::Interview, Recall::Week),
        _ => (Instrument::named("pcl5"), 38, 66, Rater::SelfReport, CollectedVia::App, Recall::Month),
    };
    let baseline = f64::from(g.rng.random_range(low..high));
    let max = f64::from(instrument.max_total());
    let score = |g: &mut Generator, relief: f64| (baseline * (1.0 - relief.min(0.95)) + g.rng.random_range(-2.0..=2.0)).round().clamp(0.0, max) as u32;
    let baseline_at = plan.first - Duration::days(g.rng.random_range(1..7));
    let mut ratings = vec![rating(g, instrument, baseline_at, baseline_recall, baseline.round() as u32, None, rater, via)];
    let day_one = plan.course.relief(1.0, plan.strength) + plan.course.acute(24.0);
    if condition == Condition::Depression {
        let total = score(g, day_one);
        ratings.push(rating(g, instrument, plan.first + Duration::hours(24), Recall::Day, total, None, rater, CollectedVia::Phone));
    }
    let weeks = if plan.course == Course::Dropout { 1 } else { 4 };
    for week in 1..=weeks {
        let relief = plan.course.relief(f64::from(week * 7), plan.strength);
        let total = score(g, relief);
        ratings.push(rating(g, instrument, plan.first + Duration::days(i64::from(week) * 7) + Duration::hours(3), Recall::Week, total, None, rater, via));
    }
    ratings
}

/// The patient's ratings as records; one in fifty was entered in error and retracted.
fn keep_ratings(g: &mut Generator, plan: &PatientPlan, actor: &Actor, cohort: &mut Cohort, ratings: Vec<Rating>) {
    for r in ratings {
        let at = r.rated_at;
        let current = AssessmentRecord::new(g.id(), plan.id, r, RecordStatus::Active, 1, (at, at), (actor.user_id, actor.user_id));
        let mut versions = vec![(current, None)];
        if g.rng.random_bool(0.02) {
            let mut retracted = versions[0].0.clone();
            retracted.status = RecordStatus::EnteredInError;
            retracted.version = 2;
            retracted.updated_at = at + Duration::hours(1);
            versions.push((retracted, Some("entered in error (demo data)".to_string())));
        }
        cohort.assessments.push(versions);
    }
}

#[derive(Debug)]
pub struct Summary {
    pub clinic_id: Uuid,
    pub patients: u32,
    pub infusions: usize,
    pub assessments: usize,
    /// Due ratings the demo protocol planned for the first `JOURNEY_PATIENTS` patients.
    pub due: usize,
    /// How long attaching the protocol and planning those took.
    pub planning: std::time::Duration,
}

/// Patients the demo protocol is attached to: enough for a due list, few enough that a
/// 100,000-patient demo is not slowed by planning.
const JOURNEY_PATIENTS: usize = 500;

/// The demo protocol: the VAS at +40 min, +2 h and +4 h (when the demo patients rate it
/// at home) and the Y-BOCS self-report a week after each session.
fn demo_protocol() -> ProtocolFields {
    let item = |instrument: &str, offset: &str, window: &str, recall: &str| ProtocolItemInput {
        instrument: Some(instrument.into()),
        offset: Some(offset.into()),
        window_before: Some(window.into()),
        window_after: Some(window.into()),
        recall: Some(recall.into()),
    };
    let input = ProtocolInput {
        name: Some("Hours after a dose, and a week".into()),
        items: Some(vec![
            item("ocd_vas", "PT40M", "PT15M", "NOW"),
            item("ocd_vas", "PT2H", "PT30M", "NOW"),
            item("ocd_vas", "PT4H", "PT1H", "NOW"),
            item("ybocs_sr", "P7D", "P1D", "P7D"),
        ]),
    };
    input.parse(&Catalogue::built_in()).expect("the demo protocol is valid")
}

/// Creates the demo clinic with its admin, then the cohort, in batches.
pub fn run(pool: &Pool, installation_secret: &[u8], patients: u32, seed: u64, mut progress: impl FnMut(u32, u32)) -> Result<Summary, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let name = clinic_name(seed);
    if research::clinic_by_name(&mut conn, &name).map_err(|e| e.to_string())?.is_some() {
        return Err(format!("{name} already exists: use another --seed, or a fresh database"));
    }
    let (email, secret) = admin_credentials(seed, installation_secret);
    let admin = NewUser { email, name: "Demo Admin".into(), role: Role::Admin, password_hash: password::hash(&secret) };
    let admin = users::create_clinic_with_admin(&mut conn, &name, admin).map_err(|e| e.to_string())?;
    let actor = Actor { user_id: admin.id, clinic_id: admin.clinic_id, email: admin.email.clone(), by_patient: false };
    let mut generator = Generator { rng: StdRng::seed_from_u64(seed), clock_ms: 1_735_689_600_000 + seed % 1_000_000 * 1_000_000 };
    let (mut infusions, mut assessments) = (0, 0);
    let mut done = 0;
    let mut journeys: Vec<Uuid> = Vec::new();
    let mut first_patient = None;
    while done < patients {
        let batch = PATIENTS_PER_BATCH.min(patients - done);
        let mut cohort = Cohort::default();
        for index in done..done + batch {
            patient(&mut generator, index + 1, &actor, &mut cohort);
        }
        journeys.extend(cohort.patients.iter().map(|(id, _, _)| *id).take(JOURNEY_PATIENTS.saturating_sub(journeys.len())));
        first_patient = first_patient.or(cohort.patients.iter().map(|(id, _, _)| *id).min());
        infusions += cohort.infusions.len();
        assessments += cohort.assessments.len();
        bulk::insert(&mut conn, &actor, &cohort).map_err(|e| e.to_string())?;
        done += batch;
        progress(done, patients);
    }
    // Bulk-loaded records bypass the write path, so their onset summaries are derived here.
    if let Some(first) = first_patient {
        crate::store::summaries::rebuild_from(&mut conn, first).map_err(|e| e.to_string())?;
    }
    // The protocol goes through the same path as a clinician's: each attachment plans the
    // due ratings, and the demo's self-reported ratings complete those they fall in.
    let protocol: Protocol = write_tx(&mut conn, |conn| records::create_within(conn, &actor, (), demo_protocol())).map_err(|e| e.to_string())?;
    let (mut due, planning) = (0, std::time::Instant::now());
    for patient in journeys {
        due += due::attach(&mut conn, &actor, patient, Ok(protocol.id), crate::store::now()).map_err(|e| e.to_string())?.1;
    }
    let planning = planning.elapsed();
    crate::db::after_bulk_load(&mut conn).map_err(|e| format!("cannot analyze the loaded cohort: {e}"))?;
    Ok(Summary { clinic_id: admin.clinic_id, patients, infusions, assessments, due, planning })
}

#[cfg(test)]
mod tests {
    use super::admin_credentials;

    #[test]
    fn the_demo_password_needs_the_installation_secret() {
        let here = admin_credentials(1, b"this installation's secret, 32 bytes+");
        assert_eq!(here, admin_credentials(1, b"this installation's secret, 32 bytes+"), "--print-admin finds it again");
        assert_ne!(here.1, admin_credentials(1, b"another installation's secret, 32 b+").1, "the seed alone does not give it");
        assert_ne!(here.1, admin_credentials(2, b"this installation's secret, 32 bytes+").1);
        assert_eq!(here.0, "admin@demo-1.onset.example");
        assert_eq!(here.1.len(), "demo-".len() + 16);
    }
}
