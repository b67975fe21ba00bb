//! The onset summary: what each patient contributes to cohort analytics, per OCD
//! instrument (`domain::onset::PatientOnset`) with the facts of their first session,
//! kept current inside the transaction of every write to their sessions and ratings
//! (a backdated session, an amendment, a retraction included), so that analytics read
//! one small row a patient instead of re-deriving every series.
//!
//! `rebuild` derives every summary from the records (after the migration that made the
//! table, and after a bulk load); `verify` derives them again and compares them with the
//! stored ones (`onset check-summaries`).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::assessments::{PointColumns, stored_point};
use super::clinic_instruments::Resolver;
use super::stored;
use crate::db::schema::{assessments as a, infusions as i, onset_summaries as s, patients as p, series_folds as f};
use crate::db::{Bind, Db, DbDate, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::domain::RecordStatus;
use crate::domain::anonymise::age_at_first_infusion;
use crate::domain::infusion::{Drug, Guidance, Route};
use crate::domain::instruments::Instrument;
use crate::domain::km::Observation;
use crate::domain::onset::{ACUTE_BUCKETS, PatientOnset};
use crate::domain::outcomes::{CONSENSUS_2016, Endpoint};
use crate::domain::patient::Sex;
use crate::domain::trajectory::{DerivedRating, RatingPoint, SeriesFold, instrument_series, instruments_of};
use crate::error::ApiResult;

/// Patients summarised per transaction by `rebuild` and per page by `verify`.
const PAGE: i64 = 1_000;

/// A summary's row, compared whole: whose, of which instrument, and what a cohort reads.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = s, primary_key(patient_id, instrument), treat_none_as_null = true)]
struct SummaryRow {
    patient_id: DbUuid,
    instrument: String,
    clinic_id: DbUuid,
    #[diesel(embed)]
    summary: Summary,
}

/// What a cohort reads of a summary: a page of a clinic's cohort of an instrument has its
/// clinic and instrument already, so they are not read again with every row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = s, treat_none_as_null = true)]
struct Summary {
    first_drug: String,
    first_route: String,
    first_guidance: Option<String>,
    first_dose_mg_per_kg: Option<f64>,
    first_cadss_total: Option<i32>,
    #[diesel(embed)]
    onset: OnsetColumns,
}

/// A summary's onset: when the first session was and the patient's `PatientOnset`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = s, treat_none_as_null = true)]
struct OnsetColumns {
    first_infusion_at: DbTime,
    partial_response_hours: Option<f64>,
    response_hours: Option<f64>,
    remission_hours: Option<f64>,
    last_hours: f64,
    #[diesel(embed)]
    acute: AcuteMeans,
    baseline_total: i32,
    loss_of_response_hours: Option<f64>,
    loss_of_response_event: Option<bool>,
    relapse_hours: Option<f64>,
    relapse_event: Option<bool>,
}

impl OnsetColumns {
    fn of(first_infusion_at: DbTime, onset: &PatientOnset) -> Self {
        OnsetColumns {
            first_infusion_at,
            partial_response_hours: onset.partial_response_hours,
            response_hours: onset.response_hours,
            remission_hours: onset.remission_hours,
            last_hours: onset.last_hours,
            acute: onset.acute.into(),
            baseline_total: onset.baseline_total as i32,
            loss_of_response_hours: onset.loss_of_response.map(|o| o.time),
            loss_of_response_event: onset.loss_of_response.map(|o| o.event),
            relapse_hours: onset.relapse.map(|o| o.time),
            relapse_event: onset.relapse.map(|o| o.event),
        }
    }

    /// The patient's onset on `instrument`, the one the summary is of.
    fn onset(self, instrument: Instrument) -> PatientOnset {
        PatientOnset {
            instrument,
            partial_response_hours: self.partial_response_hours,
            response_hours: self.response_hours,
            remission_hours: self.remission_hours,
            last_hours: self.last_hours,
            acute: self.acute.into(),
            baseline_total: self.baseline_total as u32,
            loss_of_response: observed(self.loss_of_response_hours, self.loss_of_response_event),
            relapse: observed(self.relapse_hours, self.relapse_event),
        }
    }
}

/// A summary's mean percent change in each of `ACUTE_BUCKETS`, a column each: PostgreSQL
/// sends a double as its eight bytes but printed the JSON array they were kept in number
/// by number, a third of the time it took to send a cohort of 100,000 patients.
#[derive(Debug, Clone, Copy, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = s, treat_none_as_null = true)]
struct AcuteMeans {
    acute_0_4h: Option<f64>,
    acute_4_24h: Option<f64>,
    acute_1_3d: Option<f64>,
    acute_3_7d: Option<f64>,
    acute_7_14d: Option<f64>,
    acute_14_28d: Option<f64>,
    acute_after_28d: Option<f64>,
}

impl From<[Option<f64>; ACUTE_BUCKETS.len()]> for AcuteMeans {
    fn from(means: [Option<f64>; ACUTE_BUCKETS.len()]) -> Self {
        let [acute_0_4h, acute_4_24h, acute_1_3d, acute_3_7d, acute_7_14d, acute_14_28d, acute_after_28d] = means;
        AcuteMeans { acute_0_4h, acute_4_24h, acute_1_3d, acute_3_7d, acute_7_14d, acute_14_28d, acute_after_28d }
    }
}

impl From<AcuteMeans> for [Option<f64>; ACUTE_BUCKETS.len()] {
    fn from(a: AcuteMeans) -> Self {
        [a.acute_0_4h, a.acute_4_24h, a.acute_1_3d, a.acute_3_7d, a.acute_7_14d, a.acute_14_28d, a.acute_after_28d]
    }
}

/// The first session of a patient, as cohort filters read it.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstSession {
    pub started_at: DateTime<Utc>,
    pub drug: Drug,
    pub route: Route,
    pub guidance: Option<Guidance>,
    pub dose_mg_per_kg: Option<f64>,
    pub cadss_total: Option<u32>,
}

/// A member of a cohort as analytics read it: demographics, first session, onset.
#[derive(Debug, Clone)]
pub struct Member {
    pub patient_id: Uuid,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub first: FirstSession,
    pub onset: PatientOnset,
}

/// One session row: (patient, started_at, id, drug, route, guidance, dose per kg, CADSS).
type SessionColumns = (DbUuid, DbTime, DbUuid, String, String, Option<String>, Option<f64>, Option<i32>);

/// A series' kept fold, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = f)]
struct FoldRow {
    patient_id: DbUuid,
    instrument: String,
    clinic_id: DbUuid,
    fold: DbJson,
}

/// What one patient's records give: the fold of each judged series (by instrument code)
/// and the onset summary of each series in the cohort, both in instrument order.
#[derive(Debug, Default, PartialEq)]
struct Derived {
    summaries: Vec<SummaryRow>,
    folds: Vec<(String, SeriesFold)>,
}

/// The summary row of a series from its fold and the patient's active sessions (in start
/// order, ties by id): `None` outside the cohort (no session, no baseline, no treated
/// rating).
fn summary_row(clinic: Uuid, patient: Uuid, sessions: &[SessionColumns], instrument: Instrument, fold: &SeriesFold) -> Option<SummaryRow> {
    let (_, first_at, _, drug, route, guidance, dose_mg_per_kg, cadss) = sessions.first()?;
    let onset = fold.onset(instrument)?;
    Some(SummaryRow {
        patient_id: DbUuid(patient),
        instrument: onset.instrument.code().to_string(),
        clinic_id: DbUuid(clinic),
        summary: Summary {
            first_drug: drug.clone(),
            first_route: route.clone(),
            first_guidance: guidance.clone(),
            first_dose_mg_per_kg: *dose_mg_per_kg,
            first_cadss_total: *cadss,
            onset: OnsetColumns::of(*first_at, &onset),
        },
    })
}

fn starts_of(sessions: &[SessionColumns]) -> Vec<DateTime<Utc>> {
    sessions.iter().map(|session| session.1.0).collect()
}

/// The folds and summaries of one patient from their active sessions and ratings.
fn derive(clinic: Uuid, patient: Uuid, sessions: &[SessionColumns], points: &[RatingPoint]) -> Derived {
    let starts = starts_of(sessions);
    let mut derived = Derived::default();
    for instrument in instruments_of(points).into_iter().filter(|instrument| instrument.rules().is_judged()) {
        let Some(series) = instrument_series(&CONSENSUS_2016, instrument, &starts, points) else {
            continue;
        };
        derived.summaries.extend(summary_row(clinic, patient, sessions, instrument, &series.fold));
        derived.folds.push((instrument.code().to_string(), series.fold));
    }
    derived.summaries.sort_by(|x, y| x.instrument.cmp(&y.instrument));
    derived.folds.sort_by(|x, y| x.0.cmp(&y.0));
    derived
}

/// The records of the patients with ids in `(after, last]` (or of one patient), grouped.
struct Records {
    sessions: HashMap<Uuid, Vec<SessionColumns>>,
    points: HashMap<Uuid, Vec<RatingPoint>>,
}

/// `clinic_of` names each patient's clinic, whose own instruments its ratings may name.
fn records(conn: &mut Db, after: Option<Uuid>, last: Uuid, clinic_of: impl Fn(Uuid) -> Uuid) -> ApiResult<Records> {
    let mut sessions = HashMap::new();
    for row in sessions_between(conn, after, last)? {
        sessions.entry(row.0.0).or_insert_with(Vec::new).push(row);
    }
    let mut ratings_query = a::table
        .filter(a::status.eq(RecordStatus::Active.code()))
        .filter(a::patient_id.le(DbUuid(last)))
        .select((a::patient_id, (a::id, a::instrument, a::rated_at, a::recall, a::total, a::cgi_s, a::cgi_i, a::itemised)))
        // One order every time: the acute means are sums of floats, whose last digit
        // depends on the order they are added in.
        .order((a::patient_id.asc(), a::rated_at.asc(), a::id.asc()))
        .into_boxed();
    if let Some(after) = after {
        ratings_query = ratings_query.filter(a::patient_id.gt(DbUuid(after)));
    }
    let mut points: HashMap<Uuid, Vec<RatingPoint>> = HashMap::new();
    let mut known = Resolver::default();
    for (patient, columns) in ratings_query.load::<(DbUuid, PointColumns)>(conn)? {
        let point = stored_point(conn, &mut known, clinic_of(patient.0), columns)?;
        points.entry(patient.0).or_default().push(point);
    }
    Ok(Records { sessions, points })
}

/// The active sessions of the patients with ids in `(after, last]`, each patient's in start
/// order (ties by id).
fn sessions_between(conn: &mut Db, after: Option<Uuid>, last: Uuid) -> ApiResult<Vec<SessionColumns>> {
    let mut query = i::table
        .filter(i::status.eq(RecordStatus::Active.code()))
        .filter(i::patient_id.le(DbUuid(last)))
        .select((i::patient_id, i::started_at, i::id, i::drug, i::route, i::guidance, i::dose_mg_per_kg, i::cadss_total))
        .order((i::patient_id.asc(), i::started_at.asc(), i::id.asc()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(i::patient_id.gt(DbUuid(after)));
    }
    Ok(query.load(conn)?)
}

fn stored_folds(conn: &mut Db, after: Option<Uuid>, last: Uuid) -> ApiResult<Vec<FoldRow>> {
    let mut query = f::table.filter(f::patient_id.le(DbUuid(last))).select(FoldRow::as_select()).order((f::patient_id.asc(), f::instrument.asc())).into_boxed();
    if let Some(after) = after {
        query = query.filter(f::patient_id.gt(DbUuid(after)));
    }
    Ok(query.load(conn)?)
}

fn fold_rows(clinic: Uuid, patient: Uuid, folds: &[(String, SeriesFold)]) -> Vec<FoldRow> {
    folds.iter().map(|(instrument, fold)| FoldRow { patient_id: DbUuid(patient), instrument: instrument.clone(), clinic_id: DbUuid(clinic), fold: fold_json(fold) }).collect()
}

/// A fold as it is stored.
fn fold_json(fold: &SeriesFold) -> DbJson {
    DbJsonOf(serde_json::to_value(fold).expect("plain data serialises"))
}

/// A stored fold as the domain reads it; `None` for one this build cannot read (it is
/// then derived again).
fn read_fold(stored: &DbJson) -> Option<SeriesFold> {
    serde_json::from_value(stored.0.clone()).ok()
}

fn stored_rows(conn: &mut Db, after: Option<Uuid>, last: Uuid) -> ApiResult<Vec<SummaryRow>> {
    let mut query = s::table.filter(s::patient_id.le(DbUuid(last))).select(SummaryRow::as_select()).order((s::patient_id.asc(), s::instrument.asc())).into_boxed();
    if let Some(after) = after {
        query = query.filter(s::patient_id.gt(DbUuid(after)));
    }
    Ok(query.load(conn)?)
}

/// One patient's active sessions (in start order) and active ratings, read once for the
/// reactions of a write that need them (the safety check, the summary).
pub struct Course {
    patient: Uuid,
    records: Records,
}

impl Course {
    /// Reads the course inside a write's transaction, which holds the patient's lock
    /// (`Course::lock`, taken first by every write of a patient's record): two writes to
    /// one patient at once take turns, the second reads the first's records once it
    /// commits (READ COMMITTED reads afresh at each statement), and no summary is derived
    /// from a course missing a rating that committed meanwhile.
    pub fn read(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<Course> {
        Ok(Course { patient, records: records(conn, patient_before(patient), patient, |_| clinic)? })
    }

    /// Makes every other write to this patient's records wait until this transaction
    /// ends (on PostgreSQL; SQLite runs one writer at a time and needs no lock), and is
    /// 404 unless the patient is the clinic's: the owner check of a new record, in the
    /// same round trip. Every write of a patient's record takes it first, before its
    /// reactions touch due ratings, alerts and summaries, so two writes to one patient
    /// never hold those rows in opposite orders (a deadlock: two self-reports of one
    /// patient at once met one in the benchmark). An UPDATE of a column no key holds
    /// takes `FOR NO KEY UPDATE`, which does not conflict with the key-share lock each
    /// write's foreign key already holds on the row.
    ///
    /// The update gives the patient a new `course_stamp`, in the write's transaction: a
    /// trajectory kept under the stamp before it is no longer answered (`api::renderings`).
    /// A random number, not a count: a database restored or failed over to an earlier
    /// state would count again through numbers kept for a course it no longer has.
    pub fn lock(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<()> {
        let stamp = Uuid::new_v4().as_u64_pair().0 as i64;
        let locked = diesel::update(p::table.filter(p::id.eq(DbUuid(patient))).filter(p::clinic_id.eq(DbUuid(clinic))))
            .set(p::course_stamp.eq(stamp))
            .execute(conn)?;
        if locked == 1 { Ok(()) } else { Err(crate::error::ApiError::NotFound) }
    }

    /// Start times of the active sessions, in order.
    pub fn starts(&self) -> Vec<DateTime<Utc>> {
        self.records.sessions.get(&self.patient).map_or(Vec::new(), |s| s.iter().map(|session| session.1.0).collect())
    }

    pub fn points(&self) -> &[RatingPoint] {
        self.records.points.get(&self.patient).map_or(&[][..], |p| &p[..])
    }
}

fn derived(clinic: Uuid, patient: Uuid, records: &Records) -> Derived {
    let none = Vec::new();
    derive(clinic, patient, records.sessions.get(&patient).unwrap_or(&none), records.points.get(&patient).map_or(&[][..], |p| &p[..]))
}

fn insert(conn: &mut Db, rows: &[SummaryRow]) -> ApiResult<()> {
    crate::store::bulk::insert_all!(conn, s::table, rows);
    Ok(())
}

fn insert_folds(conn: &mut Db, rows: &[FoldRow]) -> ApiResult<()> {
    crate::store::bulk::insert_all!(conn, f::table, rows);
    Ok(())
}

/// Brings one patient's folds and summaries up to date from their whole course; runs
/// inside the write's transaction and writes the summaries only where they changed.
pub fn refresh(conn: &mut Db, clinic: Uuid, course: &Course) -> ApiResult<()> {
    let patient = course.patient;
    let fresh = derived(clinic, patient, &course.records);
    let kept = stored_rows(conn, patient_before(patient), patient)?;
    // Only the rows that changed are written: a rating usually changes one instrument's.
    for gone in kept.iter().filter(|row| !fresh.summaries.contains(row)) {
        diesel::delete(s::table.filter(s::patient_id.eq(DbUuid(patient))).filter(s::instrument.eq(&gone.instrument))).execute(conn)?;
    }
    let changed: Vec<SummaryRow> = fresh.summaries.into_iter().filter(|row| !kept.contains(row)).collect();
    if !changed.is_empty() {
        insert(conn, &changed)?;
    }
    diesel::delete(f::table.filter(f::patient_id.eq(DbUuid(patient)))).execute(conn)?;
    insert_folds(conn, &fold_rows(clinic, patient, &fresh.folds))
}

/// What folding a rating into its series' kept fold gave: the fold before and after, and
/// the rating derived (placed among the sessions, measured against the baseline).
pub struct Extended {
    pub before: SeriesFold,
    pub after: SeriesFold,
    pub rating: DerivedRating,
}

/// Folds a rating just created into its series' kept fold and keeps the series' onset
/// summary current from the fold, reading only the fold and the patient's sessions, never
/// their ratings: the cost of a write whatever the history. `None` when the rating does
/// not extend the fold (no fold yet, a backdated rating, a newer definition): the caller
/// then derives everything from the course. Runs inside the write's transaction, which
/// holds the patient's lock, so no other write of theirs folds in between.
pub fn extend(conn: &mut Db, clinic: Uuid, patient: Uuid, point: &RatingPoint) -> ApiResult<Option<Extended>> {
    let instrument = point.instrument;
    // The fold and the patient's active sessions in one read: a row per session, each
    // beside the fold, or the fold alone.
    let rows: Vec<(DbJson, Option<SessionColumns>)> = f::table
        .left_join(i::table.on(i::patient_id.eq(f::patient_id).and(i::status.eq(RecordStatus::Active.code()))))
        .filter(f::patient_id.eq(DbUuid(patient)))
        .filter(f::instrument.eq(instrument.code()))
        .select((f::fold, (i::patient_id, i::started_at, i::id, i::drug, i::route, i::guidance, i::dose_mg_per_kg, i::cadss_total).nullable()))
        .order((i::started_at.asc(), i::id.asc()))
        .load(conn)?;
    let Some(before) = rows.first().and_then(|(fold, _)| read_fold(fold)).filter(|fold| fold.extends(point)) else {
        return Ok(None);
    };
    let sessions: Vec<SessionColumns> = rows.into_iter().filter_map(|(_, session)| session).collect();
    let mut after = before.clone();
    let rating = after.push(&CONSENSUS_2016, instrument, &starts_of(&sessions), point);
    let folded = fold_json(&after);
    match (summary_row(clinic, patient, &sessions, instrument, &before), summary_row(clinic, patient, &sessions, instrument, &after)) {
        (Some(old), Some(new)) if old != new => update_fold_and_summary(conn, folded, new)?,
        (old, new) => {
            update_fold(conn, (DbUuid(patient), instrument.code()), folded)?;
            match (old, new) {
                (None, Some(new)) => insert(conn, &[new])?,
                (Some(_), None) => {
                    diesel::delete(s::table.find((DbUuid(patient), instrument.code()))).execute(conn)?;
                }
                _ => {}
            }
        }
    }
    Ok(Some(Extended { before, after, rating }))
}

/// A series' fold and its changed summary, both moved on by a new rating: on PostgreSQL
/// one statement, where the two updates were two of a rating write's twelve round trips
/// (nearly every new rating changes its summary's `last_hours`).
const PG_UPDATE_FOLD_AND_SUMMARY: &str = "WITH moved AS (UPDATE series_folds SET fold = $1 WHERE patient_id = $2 AND instrument = $3) \
    UPDATE onset_summaries SET clinic_id = $4, first_infusion_at = $5, first_drug = $6, first_route = $7, first_guidance = $8, \
    partial_response_hours = $9, response_hours = $10, remission_hours = $11, last_hours = $12, acute_0_4h = $13, acute_4_24h = $14, \
    acute_1_3d = $15, acute_3_7d = $16, acute_7_14d = $17, acute_14_28d = $18, acute_after_28d = $19, baseline_total = $20, \
    first_dose_mg_per_kg = $21, first_cadss_total = $22, loss_of_response_hours = $23, loss_of_response_event = $24, \
    relapse_hours = $25, relapse_event = $26 WHERE patient_id = $2 AND instrument = $3";

fn update_fold_and_summary(conn: &mut Db, fold: DbJson, row: SummaryRow) -> ApiResult<()> {
    let key = (row.patient_id, row.instrument.as_str());
    let Db::Pg(pg) = conn else {
        update_fold(conn, key, fold)?;
        diesel::update(s::table.find(key)).set(&row).execute(conn)?;
        return Ok(());
    };
    use crate::db::types::{PortableJson, PortableTime, PortableUuid};
    use diesel::sql_types::{Bool, Double, Integer, Nullable, Text};
    crate::db::fixed(PG_UPDATE_FOLD_AND_SUMMARY)
        .bind::<PortableJson, _>(fold)
        .bind::<PortableUuid, _>(row.patient_id)
        .bind::<Text, _>(row.instrument)
        .bind::<PortableUuid, _>(row.clinic_id)
        .bind::<PortableTime, _>(row.summary.onset.first_infusion_at)
        .bind::<Text, _>(row.summary.first_drug)
        .bind::<Text, _>(row.summary.first_route)
        .bind::<Nullable<Text>, _>(row.summary.first_guidance)
        .bind::<Nullable<Double>, _>(row.summary.onset.partial_response_hours)
        .bind::<Nullable<Double>, _>(row.summary.onset.response_hours)
        .bind::<Nullable<Double>, _>(row.summary.onset.remission_hours)
        .bind::<Double, _>(row.summary.onset.last_hours)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_0_4h)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_4_24h)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_1_3d)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_3_7d)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_7_14d)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_14_28d)
        .bind::<Nullable<Double>, _>(row.summary.onset.acute.acute_after_28d)
        .bind::<Integer, _>(row.summary.onset.baseline_total)
        .bind::<Nullable<Double>, _>(row.summary.first_dose_mg_per_kg)
        .bind::<Nullable<Integer>, _>(row.summary.first_cadss_total)
        .bind::<Nullable<Double>, _>(row.summary.onset.loss_of_response_hours)
        .bind::<Nullable<Bool>, _>(row.summary.onset.loss_of_response_event)
        .bind::<Nullable<Double>, _>(row.summary.onset.relapse_hours)
        .bind::<Nullable<Bool>, _>(row.summary.onset.relapse_event)
        .execute(pg)?;
    Ok(())
}

fn update_fold(conn: &mut Db, key: (DbUuid, &str), fold: DbJson) -> ApiResult<()> {
    diesel::update(f::table.find(key)).set(f::fold.eq(fold)).execute(conn)?;
    Ok(())
}

/// The id just below `patient`, so that `(before, patient]` is that patient alone.
fn patient_before(patient: Uuid) -> Option<Uuid> {
    let n = patient.as_u128();
    (n > 0).then(|| Uuid::from_u128(n - 1))
}

/// A page of patients by id: (id, clinic).
/// Each patient's clinic, from a page of (patient, clinic).
fn clinic_in(page: &[(Uuid, Uuid)]) -> impl Fn(Uuid) -> Uuid + '_ {
    let clinics: HashMap<Uuid, Uuid> = page.iter().copied().collect();
    move |patient| clinics.get(&patient).copied().unwrap_or_default()
}

fn patient_page(conn: &mut Db, after: Option<Uuid>) -> ApiResult<Vec<(Uuid, Uuid)>> {
    let mut query = p::table.select((p::id, p::clinic_id)).order(p::id.asc()).limit(PAGE).into_boxed();
    if let Some(after) = after {
        query = query.filter(p::id.gt(DbUuid(after)));
    }
    Ok(query.load::<(DbUuid, DbUuid)>(conn)?.into_iter().map(|(id, clinic)| (id.0, clinic.0)).collect())
}

/// Every summary derived afresh from the records, a page of patients per transaction.
/// Returns the number of rows written.
pub fn rebuild(conn: &mut Db) -> ApiResult<u64> {
    rebuild_after(conn, None)
}

/// The summaries of the patients from `first` on (by id), derived afresh: after a bulk
/// load of patients whose ids start there.
pub fn rebuild_from(conn: &mut Db, first: Uuid) -> ApiResult<u64> {
    rebuild_after(conn, patient_before(first))
}

fn rebuild_after(conn: &mut Db, from: Option<Uuid>) -> ApiResult<u64> {
    let (mut after, mut written) = (from, 0);
    loop {
        let page = patient_page(conn, after)?;
        let Some(&(last, _)) = page.last() else { return Ok(written) };
        write_tx(conn, |conn| {
            let records = records(conn, after, last, clinic_in(&page))?;
            let (mut rows, mut folds) = (Vec::new(), Vec::new());
            for (patient, clinic) in &page {
                let fresh = derived(*clinic, *patient, &records);
                folds.extend(fold_rows(*clinic, *patient, &fresh.folds));
                rows.extend(fresh.summaries);
            }
            let mut delete = diesel::delete(s::table).filter(s::patient_id.le(DbUuid(last))).into_boxed();
            let mut delete_folds = diesel::delete(f::table).filter(f::patient_id.le(DbUuid(last))).into_boxed();
            if let Some(after) = after {
                delete = delete.filter(s::patient_id.gt(DbUuid(after)));
                delete_folds = delete_folds.filter(f::patient_id.gt(DbUuid(after)));
            }
            delete.execute(conn)?;
            delete_folds.execute(conn)?;
            insert(conn, &rows)?;
            insert_folds(conn, &folds)?;
            written += rows.len() as u64;
            Ok::<_, crate::error::ApiError>(())
        })?;
        after = Some(last);
    }
}

/// Rebuilds when no series is folded but ratings exist: the first start after the
/// migration that made the folds.
pub fn rebuild_if_empty(conn: &mut Db) -> ApiResult<Option<u64>> {
    let summarised = f::table.select(f::patient_id).first::<DbUuid>(conn).optional()?.is_some();
    let rated = a::table.select(a::id).first::<DbUuid>(conn).optional()?.is_some();
    if summarised || !rated {
        return Ok(None);
    }
    rebuild(conn).map(Some)
}

/// What `verify` found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Check {
    pub patients: u64,
    pub summaries: u64,
    pub folds: u64,
    /// Patients whose stored summaries or folds differ from the ones their records give.
    pub mismatched: Vec<Uuid>,
}

/// Derives every summary from the records and compares it with the stored one.
pub fn verify(conn: &mut Db) -> ApiResult<Check> {
    let (mut after, mut check) = (None, Check::default());
    loop {
        let page = patient_page(conn, after)?;
        let Some(&(last, _)) = page.last() else { return Ok(check) };
        let records = records(conn, after, last, clinic_in(&page))?;
        let mut kept: HashMap<Uuid, Derived> = HashMap::new();
        for row in stored_rows(conn, after, last)? {
            kept.entry(row.patient_id.0).or_default().summaries.push(row);
        }
        let mut unreadable = Vec::new();
        for row in stored_folds(conn, after, last)? {
            match read_fold(&row.fold) {
                Some(fold) => kept.entry(row.patient_id.0).or_default().folds.push((row.instrument, fold)),
                // A fold this build cannot read differs from any it derives.
                None => unreadable.push(row.patient_id.0),
            }
        }
        for (patient, clinic) in &page {
            let fresh = derived(*clinic, *patient, &records);
            check.patients += 1;
            check.summaries += fresh.summaries.len() as u64;
            check.folds += fresh.folds.len() as u64;
            if kept.remove(patient).unwrap_or_default() != fresh || unreadable.contains(patient) {
                check.mismatched.push(*patient);
            }
        }
        after = Some(last);
    }
}

fn observed(time: Option<f64>, event: Option<bool>) -> Option<Observation> {
    Some(Observation { time: time?, event: event? })
}

impl Summary {
    /// The patient's membership of a cohort on `instrument`, the one the summary is of.
    fn member(self, patient_id: Uuid, instrument: Instrument, birth_date: NaiveDate, sex: Sex) -> ApiResult<Member> {
        Ok(Member {
            patient_id,
            birth_date,
            sex,
            first: FirstSession {
                started_at: self.onset.first_infusion_at.0,
                drug: stored("drug", Drug::parse(&self.first_drug))?,
                route: stored("route", Route::parse(&self.first_route))?,
                guidance: self.first_guidance.as_deref().and_then(Guidance::parse),
                dose_mg_per_kg: self.first_dose_mg_per_kg,
                cadss_total: self.first_cadss_total.map(|c| c as u32),
            },
            onset: self.onset.onset(instrument),
        })
    }
}

/// The lowest and the highest patient id among a clinic's summaries of an instrument
/// (none when it has none), from the ends of the clinic's index.
pub fn cohort_ends(conn: &mut Db, clinic: Uuid, instrument: Instrument) -> ApiResult<Option<(Uuid, Uuid)>> {
    let of_cohort = || s::table.filter(s::clinic_id.eq(DbUuid(clinic))).filter(s::instrument.eq(instrument.code())).select(s::patient_id);
    let first = of_cohort().order(s::patient_id.asc()).first::<DbUuid>(conn).optional()?;
    let last = of_cohort().order(s::patient_id.desc()).first::<DbUuid>(conn).optional()?;
    Ok(first.zip(last).map(|(first, last)| (first.0, last.0)))
}

/// Which of a cohort's patients a page reads: those after `after` (from the first without
/// it) up to `up_to` included (to the last without it), at most `limit`, in id order.
#[derive(Debug, Clone, Copy)]
pub struct CohortSlice {
    pub after: Option<Uuid>,
    pub up_to: Option<Uuid>,
    pub limit: i64,
}

/// Which members of a cohort are read: filters on the patient (sex, research consent,
/// age at the first session) and on their first session (route, drug, guidance, when).
#[derive(Debug, Clone, Copy, Default)]
pub struct CohortFilter {
    pub sex: Option<Sex>,
    pub consenting_only: bool,
    /// Bounds of the age in whole years at the first session, inclusive.
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    pub route: Option<Route>,
    pub drug: Option<Drug>,
    pub guidance: Option<Guidance>,
    /// The first session on or after `first_from` and before `first_before`.
    pub first_from: Option<DateTime<Utc>>,
    pub first_before: Option<DateTime<Utc>>,
}

impl CohortFilter {
    /// Whether a filter needs the patient's own row: their sex, consent or birth date.
    fn reads_patients(&self) -> bool {
        self.sex.is_some() || self.consenting_only || self.age_min.is_some() || self.age_max.is_some()
    }

    /// Whether the patient's age at the first session is within the bounds.
    fn keeps_age(&self, birth_date: NaiveDate, first_infusion_at: DateTime<Utc>) -> bool {
        age_at_first_infusion(birth_date, Some(first_infusion_at)).is_some_and(|age| self.age_min.is_none_or(|min| age >= min) && self.age_max.is_none_or(|max| age <= max))
    }
}

/// A page of a clinic's cohort for an instrument: the members the filters keep among the
/// slice's next `limit` summaries, and where the next page starts (none when the slice is
/// done).
pub struct CohortPage<M> {
    pub members: Vec<M>,
    pub next: Option<Uuid>,
}

/// A cohort member as the onset report reads them: whose, their observation of the
/// endpoint, and their mean percent change in each acute bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct OnsetMember {
    pub patient_id: Uuid,
    pub observation: Observation,
    pub acute: [Option<f64>; ACUTE_BUCKETS.len()],
}

/// A patient's observation of an endpoint (time, event) in SQL, from their summary's
/// columns: `PatientOnset::observation` (domain::onset) as the onset report's query reads
/// it, so that it selects two columns where the rule reads eight. A met endpoint's first
/// meeting, or a censoring at the last treated rating; a durability endpoint's own time
/// and event (`cohort_summaries` keeps the patients at risk of it only). The column names
/// are this match's own, never a caller's.
fn observation_sql(endpoint: Endpoint) -> (&'static str, &'static str) {
    match endpoint {
        Endpoint::PartialResponse => ("coalesce(partial_response_hours, last_hours)", "partial_response_hours IS NOT NULL"),
        Endpoint::Response => ("coalesce(response_hours, last_hours)", "response_hours IS NOT NULL"),
        Endpoint::Remission => ("coalesce(remission_hours, last_hours)", "remission_hours IS NOT NULL"),
        Endpoint::LossOfResponse => ("loss_of_response_hours", "loss_of_response_event"),
        Endpoint::Relapse => ("relapse_hours", "relapse_event"),
    }
}

/// The query of a page of a clinic's cohort for an instrument and an endpoint, with the
/// filters on the first session, for the caller to select from. A durability endpoint's
/// cohort is the patients at risk of it (`PatientOnset::observation`).
fn cohort_summaries(clinic: Uuid, instrument: Instrument, endpoint: Endpoint, filter: &CohortFilter, slice: CohortSlice) -> s::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut summaries = s::table
        .filter(s::clinic_id.eq(DbUuid(clinic)))
        .filter(s::instrument.eq(instrument.code()))
        .order(s::patient_id.asc())
        .limit(slice.limit)
        .into_boxed();
    summaries = match endpoint {
        Endpoint::LossOfResponse => summaries.filter(s::loss_of_response_hours.is_not_null()),
        Endpoint::Relapse => summaries.filter(s::relapse_hours.is_not_null()),
        Endpoint::PartialResponse | Endpoint::Response | Endpoint::Remission => summaries,
    };
    if let Some(after) = slice.after {
        summaries = summaries.filter(s::patient_id.gt(DbUuid(after)));
    }
    if let Some(up_to) = slice.up_to {
        summaries = summaries.filter(s::patient_id.le(DbUuid(up_to)));
    }
    if let Some(route) = filter.route {
        summaries = summaries.filter(s::first_route.eq(route.code()));
    }
    if let Some(drug) = filter.drug {
        summaries = summaries.filter(s::first_drug.eq(drug.code()));
    }
    if let Some(guidance) = filter.guidance {
        summaries = summaries.filter(s::first_guidance.eq(guidance.code()));
    }
    if let Some(from) = filter.first_from {
        summaries = summaries.filter(s::first_infusion_at.ge(DbTime(from)));
    }
    if let Some(before) = filter.first_before {
        summaries = summaries.filter(s::first_infusion_at.lt(DbTime(before)));
    }
    summaries
}

/// Where the page after one of `read` summaries starts: after its last, when it was full.
fn next_page<R>(rows: &[(DbUuid, R)], limit: i64) -> Option<Uuid> {
    if rows.len() as i64 == limit { rows.last().map(|(patient, _)| patient.0) } else { None }
}

/// Reads a page of a clinic's cohort for an instrument and an endpoint, whole: the
/// summaries of the slice's patients with their first sessions, and each patient's birth
/// date and sex.
pub fn cohort_page(conn: &mut Db, clinic: Uuid, instrument: Instrument, endpoint: Endpoint, filter: &CohortFilter, slice: CohortSlice) -> ApiResult<CohortPage<Member>> {
    let rows: Vec<(DbUuid, Summary)> = cohort_summaries(clinic, instrument, endpoint, filter, slice).select((s::patient_id, Summary::as_select())).load(conn)?;
    let next = next_page(&rows, slice.limit);
    let members = with_patients(conn, clinic, filter, slice.limit, rows, |summary| summary.onset.first_infusion_at.0)?
        .into_iter()
        .map(|(patient, summary, birth_date, sex)| summary.member(patient, instrument, birth_date, sex))
        .collect::<ApiResult<_>>()?;
    Ok(CohortPage { members, next })
}

/// Reads a page of a clinic's cohort for an instrument and an endpoint as the onset report
/// needs it, and the patients' own rows only when a filter is on them.
///
/// Eleven columns with the patient's id, none of them text, where the whole summary is 26:
/// each column of each row costs both sides. For a cohort of 78,390 patients PostgreSQL
/// took 90 ms to send the whole rows, 75 the 17 columns of the onset, 54 these
/// (`COPY … TO '/dev/null' (FORMAT binary)` in psql); diesel decodes field by field.
pub fn onset_page(conn: &mut Db, clinic: Uuid, instrument: Instrument, endpoint: Endpoint, filter: &CohortFilter, slice: CohortSlice) -> ApiResult<CohortPage<OnsetMember>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Double, Nullable};
    let (time, event) = observation_sql(endpoint);
    let rows: Vec<(DbUuid, ((Option<f64>, Option<bool>), DbTime, AcuteMeans))> = cohort_summaries(clinic, instrument, endpoint, filter, slice)
        .select((s::patient_id, ((sql::<Nullable<Double>>(time), sql::<Nullable<Bool>>(event)), s::first_infusion_at, AcuteMeans::as_select())))
        .load(conn)?;
    let next = next_page(&rows, slice.limit);
    let rows = if filter.reads_patients() {
        with_patients(conn, clinic, filter, slice.limit, rows, |(_, first_infusion_at, _)| first_infusion_at.0)?.into_iter().map(|(patient, row, _, _)| (patient, row)).collect()
    } else {
        rows.into_iter().map(|(patient, row)| (patient.0, row)).collect::<Vec<_>>()
    };
    let members = rows
        .into_iter()
        .map(|(patient_id, ((time, event), _, acute))| Ok(OnsetMember { patient_id, observation: stored("observation", observed(time, event))?, acute: acute.into() }))
        .collect::<ApiResult<_>>()?;
    Ok(CohortPage { members, next })
}

/// The rows (in patient order) whose patients the filters on the patient keep, each with
/// the patient's birth date and sex; `first_infusion_at` tells a row's first session, from
/// which the age is reckoned.
///
/// The patients are read apart, a range in patient order, and merged here, instead of a
/// join: the join looked each summary's patient up on its own (an index seek and a table
/// read a row), half of the cohort's SQLite time at 100,000 patients; the patients of a
/// range are read whole from `patients_by_clinic`, which covers what the filters need.
fn with_patients<R>(
    conn: &mut Db,
    clinic: Uuid,
    filter: &CohortFilter,
    limit: i64,
    rows: Vec<(DbUuid, R)>,
    first_infusion_at: impl Fn(&R) -> DateTime<Utc>,
) -> ApiResult<Vec<(Uuid, R, NaiveDate, Sex)>> {
    let (Some((first, _)), Some((last, _))) = (rows.first(), rows.last()) else { return Ok(Vec::new()) };
    let (first, last) = (*first, *last);
    let mut kept = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    // The patients of the page's id range, `limit` at a time too: an instrument that few of
    // the clinic's patients have spreads a page of its summaries over many more patients.
    let mut read_up_to: Option<DbUuid> = None;
    loop {
        let mut patients = p::table.filter(p::clinic_id.eq(DbUuid(clinic))).filter(p::id.le(last)).select((p::id, p::birth_date, p::sex)).order(p::id.asc()).limit(limit).into_boxed();
        patients = match read_up_to {
            Some(read) => patients.filter(p::id.gt(read)),
            None => patients.filter(p::id.ge(first)),
        };
        if let Some(sex) = filter.sex {
            patients = patients.filter(p::sex.eq(sex.code()));
        }
        if filter.consenting_only {
            patients = patients.filter(p::research_consent.eq(true));
        }
        let patients = patients.load::<(DbUuid, DbDate, String)>(conn)?;
        let range_done = (patients.len() as i64) < limit;
        read_up_to = patients.last().map(|(id, _, _)| *id);
        let mut patients = patients.into_iter().peekable();
        // Both in id order: each row up to the last patient read (every one left when the
        // range is done) passes the patients before its own, then takes its own if kept.
        while let Some((patient, row)) = rows.next_if(|(patient, _)| range_done || read_up_to.is_some_and(|read| *patient <= read)) {
            while patients.next_if(|(id, _, _)| *id < patient).is_some() {}
            if let Some((_, birth_date, sex)) = patients.next_if(|(id, _, _)| *id == patient)
                && filter.keeps_age(birth_date.0, first_infusion_at(&row))
            {
                kept.push((patient.0, row, birth_date.0, stored("sex", Sex::parse(&sex))?));
            }
        }
        if range_done || rows.peek().is_none() {
            return Ok(kept);
        }
    }
}
