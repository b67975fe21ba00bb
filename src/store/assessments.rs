//! Ratings and their amendments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::clinic_instruments::{self, Resolver};
use super::records::{Kept, patient_record_table};
use super::revisions::NewRevision;
use super::stored;
use crate::db::schema::assessments as a;
use crate::db::{Db, DbJsonOf, DbTime, DbUuid};
use crate::domain::RecordStatus;
use crate::domain::definitions::is_clinic_code;
use crate::domain::instruments::Catalogue;
use crate::domain::instruments::Instrument;
use crate::domain::safety::item_9_unknown;
use crate::domain::scoring::{CollectedVia, Rater, Rating, RatingInput, Recall, Scores};
use crate::domain::trajectory::RatingPoint;
use crate::error::{ApiError, ApiResult, FieldError};

pub const ENTITY: &str = "assessment";

#[derive(Debug, Clone, Serialize)]
pub struct AssessmentRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    #[serde(flatten)]
    pub rating: Rating,
    pub obsessions: Option<u32>,
    pub compulsions: Option<u32>,
    /// Every part score the definition names (obsessions and compulsions, PCL-5
    /// clusters), when items were given.
    pub subscales: BTreeMap<&'static str, u32>,
    pub severity: Option<&'static str>,
    pub short_recall: bool,
    /// A PHQ-9 given as a bare total below 25: item 9 (thoughts of death or self-harm)
    /// is unknown, never taken as 0 (DESIGN.md §6).
    pub item_9_unknown: bool,
    /// The definition version the rating was taken under; an amendment keeps it, and no
    /// score is recomputed when a definition changes (DESIGN.md §8).
    pub instrument_version: u32,
    /// For a self-report, the version of the clinic's wording the patient saw (null for
    /// bundled wording and for ratings staff entered).
    pub text_version: Option<u32>,
    pub status: RecordStatus,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
}

impl AssessmentRecord {
    /// The rating as the outcome rules read it.
    pub fn point(&self) -> RatingPoint {
        let r = &self.rating;
        RatingPoint { id: self.id, instrument: r.instrument, rated_at: r.rated_at, recall: r.recall, total: r.scores.total(), cgi_s: r.cgi_s, cgi_i: r.cgi_i, itemised: r.scores.items().is_some() }
    }
}

/// A rating's row, read, inserted and overwritten whole.
///
/// `treat_none_as_default_value = false`: a `None` is bound as NULL (what these columns
/// default to anyway) rather than written `DEFAULT`, so the statement's text never varies
/// and diesel keeps it prepared (a `DEFAULT` makes it prepare the insert anew each time).
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = a, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct AssessmentRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    instrument: String,
    rated_at: DbTime,
    recall: String,
    items: Option<DbJsonOf<BTreeMap<String, u32>>>,
    total: i32,
    cgi_s: Option<i32>,
    cgi_i: Option<i32>,
    rater: String,
    collected_via: String,
    notes: Option<String>,
    status: String,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
    instrument_version: i32,
    text_version: Option<i32>,
    /// Whether the items were given (kept beside them for the course index).
    itemised: bool,
}

impl AssessmentRecord {
    /// A record around a rating, with its derived subscales and severity.
    pub fn new(id: Uuid, patient_id: Uuid, rating: Rating, status: RecordStatus, version: i32, at: (DateTime<Utc>, DateTime<Utc>), by: (Uuid, Uuid)) -> Self {
        let subscales = rating.scores.subscales(rating.instrument);
        let part = |code: &str| subscales.iter().find(|(c, _)| *c == code).map(|(_, v)| *v);
        AssessmentRecord {
            id,
            patient_id,
            obsessions: part("obsessions"),
            compulsions: part("compulsions"),
            subscales: subscales.iter().map(|(c, v)| (*c, *v)).collect(),
            severity: rating.instrument.severity(rating.scores.total()),
            short_recall: rating.recall.is_short(),
            item_9_unknown: item_9_unknown(rating.instrument, rating.scores.items().is_some(), rating.scores.total()),
            instrument_version: rating.instrument.definition().version,
            text_version: None,
            rating,
            status,
            version,
            created_at: at.0,
            updated_at: at.1,
            created_by: by.0,
            updated_by: by.1,
        }
    }
}

impl AssessmentRow {
    pub fn new(clinic: Uuid, record: &AssessmentRecord) -> Self {
        let r = &record.rating;
        AssessmentRow {
            id: DbUuid(record.id),
            clinic_id: DbUuid(clinic),
            patient_id: DbUuid(record.patient_id),
            instrument: r.instrument.code().into(),
            rated_at: DbTime(r.rated_at),
            recall: r.recall.code().into(),
            items: items_json(r),
            total: r.scores.total() as i32,
            cgi_s: r.cgi_s.map(|v| v as i32),
            cgi_i: r.cgi_i.map(|v| v as i32),
            rater: r.rater.code().into(),
            collected_via: r.collected_via.code().into(),
            notes: r.notes.clone(),
            status: record.status.code().into(),
            version: record.version,
            created_at: DbTime(record.created_at),
            updated_at: DbTime(record.updated_at),
            created_by: DbUuid(record.created_by),
            updated_by: DbUuid(record.updated_by),
            instrument_version: record.instrument_version as i32,
            text_version: record.text_version.map(|v| v as i32),
            itemised: r.scores.items().is_some(),
        }
    }
}

/// The revision that keeps a version of a rating.
pub fn revision(record: &AssessmentRecord, reason: Option<&str>) -> NewRevision {
    NewRevision::of(ENTITY, record.id, record.version, record.updated_at, record, reason)
}

impl AssessmentRow {
    /// Rows read together, as records: the clinic instruments' versions they name are
    /// read first (once per process), so each row knows its instrument.
    pub(crate) fn into_records(conn: &mut Db, rows: Vec<Self>) -> ApiResult<Vec<AssessmentRecord>> {
        // One read per clinic whose own instruments the rows name (the offline export reads
        // every clinic's); `remember` reads nothing for versions already read.
        let mut named: BTreeMap<Uuid, Vec<(&str, u32)>> = BTreeMap::new();
        for row in rows.iter().filter(|row| is_clinic_code(&row.instrument)) {
            named.entry(row.clinic_id.0).or_default().push((row.instrument.as_str(), row.instrument_version as u32));
        }
        for (clinic, versions) in named {
            clinic_instruments::remember(conn, clinic, versions)?;
        }
        rows.into_iter().map(Self::into_record).collect()
    }

    fn into_record(self) -> ApiResult<AssessmentRecord> {
        let items = self.items.map(|items| items.0);
        let rating = Rating {
            instrument: clinic_instruments::stored_instrument(self.clinic_id.0, &self.instrument, self.instrument_version)?,
            rated_at: self.rated_at.0,
            recall: stored("recall", Recall::parse(&self.recall))?,
            scores: Scores::stored(items, self.total as u32),
            cgi_s: self.cgi_s.map(|v| v as u32),
            cgi_i: self.cgi_i.map(|v| v as u32),
            rater: stored("rater", Rater::parse(&self.rater))?,
            collected_via: stored("collected_via", CollectedVia::parse(&self.collected_via))?,
            notes: self.notes,
        };
        let status = stored("status", RecordStatus::parse(&self.status))?;
        let record = AssessmentRecord::new(
            self.id.0,
            self.patient_id.0,
            rating,
            status,
            self.version,
            (self.created_at.0, self.updated_at.0),
            (self.created_by.0, self.updated_by.0),
        );
        Ok(AssessmentRecord { instrument_version: self.instrument_version as u32, text_version: self.text_version.map(|v| v as u32), ..record })
    }
}

fn items_json(rating: &Rating) -> Option<DbJsonOf<BTreeMap<String, u32>>> {
    rating.scores.items().map(|items| DbJsonOf(items.clone()))
}

/// The columns a rating point is read from (`stored_point`).
pub type PointColumns = (DbUuid, String, DbTime, String, i32, Option<i32>, Option<i32>, bool);

/// A stored rating as the outcome rules read it: the one place a point is built from a row.
/// A clinic instrument's series is judged by its current version's rules.
pub fn stored_point(conn: &mut Db, known: &mut Resolver, clinic: Uuid, (id, instrument, rated_at, recall, total, cgi_s, cgi_i, itemised): PointColumns) -> ApiResult<RatingPoint> {
    Ok(RatingPoint {
        id: id.0,
        instrument: known.resolve(conn, clinic, &instrument)?,
        rated_at: rated_at.0,
        recall: stored("recall", Recall::parse(&recall))?,
        total: total as u32,
        cgi_s: cgi_s.map(|v| v as u32),
        cgi_i: cgi_i.map(|v| v as u32),
        itemised,
    })
}

/// The patient's active ratings, as the trajectory needs them.
pub fn active_points(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<Vec<RatingPoint>> {
    let rows: Vec<PointColumns> = a::table
        .filter(a::clinic_id.eq(DbUuid(clinic)))
        .filter(a::patient_id.eq(DbUuid(patient)))
        .filter(a::status.eq(RecordStatus::Active.code()))
        .select((a::id, a::instrument, a::rated_at, a::recall, a::total, a::cgi_s, a::cgi_i, a::itemised))
        .load(conn)?;
    let mut known = Resolver::default();
    rows.into_iter().map(|row| stored_point(conn, &mut known, clinic, row)).collect()
}

impl Kept for AssessmentRecord {
    type Fields = Rating;
    type Input = RatingInput;
    type Owner = Uuid;
    const ENTITY: &'static str = ENTITY;

    patient_record_table!(a, AssessmentRow);

    fn parse(input: &RatingInput, catalogue: &Catalogue, now: DateTime<Utc>) -> Result<Rating, Vec<FieldError>> {
        input.parse(catalogue, now)
    }
    fn instruments_named(input: &RatingInput) -> Vec<&str> {
        input.instrument.as_deref().into_iter().collect()
    }
    fn amending(&self, catalogue: Catalogue) -> Catalogue {
        catalogue.pinned(self.rating.instrument)
    }
    fn to_input(&self) -> RatingInput {
        self.rating.to_input()
    }
    fn prepare_patch(stored: &mut Value, patch: &Value) {
        if patch.get("items").is_some() && patch.get("total").is_none() {
            // New items bring their own total; a stored paper total would contradict them.
            if let Some(map) = stored.as_object_mut() {
                map.remove("total");
            }
        }
    }
    fn new(id: Uuid, patient: Uuid, rating: Rating, by: Uuid, at: DateTime<Utc>) -> Self {
        AssessmentRecord::new(id, patient, rating, RecordStatus::Active, 1, (at, at), (by, by))
    }
    fn next(&self, rating: Rating, status: RecordStatus, by: Uuid, at: DateTime<Utc>) -> Self {
        let next = AssessmentRecord::new(self.id, self.patient_id, rating, status, self.version + 1, (self.created_at, at), (self.created_by, by));
        // The versions it was taken under stay, unless the amendment names another
        // instrument, whose current version then scored it.
        if next.rating.instrument != self.rating.instrument {
            return next;
        }
        AssessmentRecord { instrument_version: self.instrument_version, text_version: self.text_version, ..next }
    }
    fn rating_point(&self) -> Option<RatingPoint> {
        (self.status == RecordStatus::Active).then(|| self.point())
    }
    fn created_detail(&self) -> Value {
        json!({"patient_id": self.patient_id, "instrument": self.rating.instrument.code()})
    }
}

/// Active ratings (of one instrument, or all) of the given patients (a page of the
/// research export).
pub fn for_export(conn: &mut Db, patients: &[Uuid], instrument: Option<Instrument>) -> ApiResult<Vec<AssessmentRecord>> {
    let ids: Vec<DbUuid> = patients.iter().copied().map(DbUuid).collect();
    let mut query = a::table
        .filter(a::patient_id.eq_any(ids))
        .filter(a::status.eq(RecordStatus::Active.code()))
        .select(AssessmentRow::as_select())
        .order((a::patient_id.asc(), a::rated_at.asc(), a::id.asc()))
        .into_boxed();
    if let Some(instrument) = instrument {
        query = query.filter(a::instrument.eq(instrument.code()));
    }
    let rows = query.load(conn)?;
    AssessmentRow::into_records(conn, rows)
}

/// Records which version of the clinic's wording a self-report's patient saw (in the
/// transaction that created it).
pub fn set_text_version(conn: &mut Db, id: Uuid, text_version: u32) -> ApiResult<()> {
    diesel::update(a::table.find(DbUuid(id))).set(a::text_version.eq(Some(text_version as i32))).execute(conn)?;
    Ok(())
}
