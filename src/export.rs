//! The pseudonymised research export, shared by the HTTP endpoints and `onset export`.
//!
//! Patients are read in batches by id; each batch's rows are formatted and handed to a
//! sink before the next is read, with no database connection held while the sink
//! waits. Memory is bounded by the batch, whatever the export's size.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Pool;
use crate::domain::anonymise::{age_at_first_infusion, subject_id};
use crate::domain::fields::vocabulary;
use crate::domain::export::{Cell, Column, RATING_COLUMNS, RatingRow, SESSION_COLUMNS, SessionRow, Subject, cells};
use crate::domain::hours_between;
use crate::domain::instruments::Instrument;
use crate::domain::redcap;
use crate::domain::outcomes::CONSENSUS_2016;
use crate::domain::trajectory::{RatingPoint, instrument_series};
use crate::error::{ApiError, ApiResult};
use crate::store::assessments::{self, AssessmentRecord};
use crate::store::infusions::{self, InfusionRecord};
use crate::store::research::{self, Demographics};

vocabulary!(Kind { Assessments = "assessments", Infusions = "infusions", Redcap = "redcap" });
vocabulary!(Format { Csv = "csv", Ndjson = "ndjson" });

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub kind: Kind,
    pub format: Format,
    /// One clinic (the API), or every clinic (the offline command).
    pub clinic: Option<Uuid>,
    pub instrument: Option<Instrument>,
    pub changed_since: Option<DateTime<Utc>>,
}

impl ExportRequest {
    /// The filters and formats each kind takes. REDCap's records are CSV and the whole
    /// set, so that a rating's instance number stays the one a project imported.
    pub fn check(&self) -> Vec<crate::domain::FieldError> {
        use crate::domain::FieldError;
        let mut errors = Vec::new();
        if self.kind != Kind::Assessments && self.instrument.is_some() {
            errors.push(FieldError::new("instrument", "applies to the assessments export only"));
        }
        if self.kind == Kind::Redcap {
            if self.format != Format::Csv {
                errors.push(FieldError::new("format", "REDCap imports CSV"));
            }
            if self.changed_since.is_some() {
                errors.push(FieldError::new("changed_since", "REDCap records are exported whole"));
            }
        }
        errors
    }
}

/// Patients per batch: large enough to amortise the queries, small enough to bound memory.
const BATCH_PATIENTS: i64 = 200;

/// A chunk is handed to the sink once it holds this much: a few chunks in flight bound an
/// export's memory, whatever the size of a batch.
const CHUNK_BYTES: usize = 64 * 1024;

/// Writes rows in one format, column order as the codebook's.
struct Formatter {
    format: Format,
    buffer: Vec<u8>,
}

impl Formatter {
    fn new(format: Format) -> Formatter {
        Formatter { format, buffer: Vec::with_capacity(64 * 1024) }
    }

    fn csv_line<'a>(&mut self, fields: impl Iterator<Item = std::borrow::Cow<'a, str>>) -> ApiResult<()> {
        let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(&mut self.buffer);
        writer.write_record(fields.map(|f| f.into_owned())).map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
        writer.flush().map_err(|e| ApiError::Internal(format!("csv: {e}")))
    }

    fn line(&mut self, fields: Vec<String>) -> ApiResult<()> {
        self.csv_line(fields.into_iter().map(std::borrow::Cow::Owned))
    }

    fn header<R>(&mut self, columns: &[Column<R>]) -> ApiResult<()> {
        match self.format {
            Format::Csv => self.csv_line(columns.iter().map(|c| c.name.into())),
            Format::Ndjson => Ok(()),
        }
    }

    fn row<R>(&mut self, columns: &[Column<R>], values: &[Cell]) -> ApiResult<()> {
        match self.format {
            Format::Csv => self.csv_line(values.iter().map(|v| v.to_csv().into())),
            Format::Ndjson => {
                // Built by hand so that keys keep the codebook's order.
                self.buffer.push(b'{');
                for (i, (column, value)) in columns.iter().zip(values).enumerate() {
                    if i > 0 {
                        self.buffer.push(b',');
                    }
                    serde_json::to_writer(&mut self.buffer, column.name).map_err(|e| ApiError::Internal(e.to_string()))?;
                    self.buffer.push(b':');
                    serde_json::to_writer(&mut self.buffer, &value.to_json()).map_err(|e| ApiError::Internal(e.to_string()))?;
                }
                self.buffer.extend_from_slice(b"}\n");
                Ok(())
            }
        }
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }
}

struct Batch {
    patients: Vec<Demographics>,
    sessions: Vec<InfusionRecord>,
    ratings: Vec<AssessmentRecord>,
}

fn load_batch(pool: &Pool, request: &ExportRequest, after: Option<Uuid>) -> ApiResult<Option<Batch>> {
    let mut conn = pool.get()?;
    let patients = research::consenting_patients(&mut conn, request.clinic, after, BATCH_PATIENTS)?;
    if patients.is_empty() {
        return Ok(None);
    }
    // The page's patients were chosen by clinic and consent; their records follow by id.
    let ids: Vec<Uuid> = patients.iter().map(|p| p.id).collect();
    let sessions = infusions::for_export(&mut conn, &ids)?;
    let ratings = match request.kind {
        Kind::Assessments | Kind::Redcap => assessments::for_export(&mut conn, &ids, request.instrument)?,
        Kind::Infusions => Vec::new(),
    };
    Ok(Some(Batch { patients, sessions, ratings }))
}

fn changed_since(request: &ExportRequest, updated_at: DateTime<Utc>) -> bool {
    request.changed_since.is_none_or(|since| updated_at >= since)
}

/// Formats one patient's rows; returns how many.
fn patient_rows(
    request: &ExportRequest,
    subject: Arc<Subject>,
    starts: &[DateTime<Utc>],
    sessions: &[&InfusionRecord],
    ratings: &[&AssessmentRecord],
    out: &mut Formatter,
) -> ApiResult<u64> {
    let mut rows = 0;
    match request.kind {
        Kind::Infusions => {
            for s in sessions.iter().filter(|s| changed_since(request, s.updated_at)) {
                let row = SessionRow {
                    subject: subject.clone(),
                    session: s.session.clone(),
                    series_number: s.series_number,
                    hours_since_first_infusion: starts.first().map(|first| hours_between(*first, s.session.started_at)),
                };
                out.row(SESSION_COLUMNS, &cells(SESSION_COLUMNS, &row))?;
                rows += 1;
            }
        }
        Kind::Assessments | Kind::Redcap => {
            if request.kind == Kind::Redcap {
                out.line(redcap::subject_record(&subject))?;
                rows += 1;
            }
            let mut instance = 0;
            let points: Vec<RatingPoint> = ratings.iter().map(|r| r.point()).collect();
            let by_id: HashMap<Uuid, &AssessmentRecord> = ratings.iter().map(|r| (r.id, *r)).collect();
            for instrument in Instrument::ALL {
                let Some(derived) = instrument_series(&CONSENSUS_2016, instrument, starts, &points) else { continue };
                let baseline_total = derived.baseline.as_ref().map(|b| b.total);
                for d in derived.ratings {
                    let record = by_id[&d.assessment_id];
                    if !changed_since(request, record.updated_at) {
                        continue;
                    }
                    let row = RatingRow { subject: subject.clone(), definition_set: CONSENSUS_2016.name, rating: record.rating.clone(), derived: d, baseline_total };
                    if request.kind == Kind::Redcap {
                        instance += 1;
                        out.line(redcap::rating_record(&row, instance))?;
                    } else {
                        out.row(RATING_COLUMNS, &cells(RATING_COLUMNS, &row))?;
                    }
                    rows += 1;
                }
            }
        }
    }
    Ok(rows)
}

/// Runs the export, handing formatted chunks to `sink` until it returns false (the
/// reader went away). Returns the number of rows written.
pub fn run(pool: &Pool, key: &[u8], request: &ExportRequest, mut sink: impl FnMut(Vec<u8>) -> bool) -> ApiResult<u64> {
    let mut out = Formatter::new(request.format);
    match request.kind {
        Kind::Assessments => out.header(RATING_COLUMNS)?,
        Kind::Infusions => out.header(SESSION_COLUMNS)?,
        Kind::Redcap => out.line(redcap::record_columns().into_iter().map(String::from).collect())?,
    }
    let mut rows = 0;
    let mut after = None;
    while let Some(batch) = load_batch(pool, request, after)? {
        let mut sessions: HashMap<Uuid, Vec<&InfusionRecord>> = HashMap::new();
        for s in &batch.sessions {
            sessions.entry(s.patient_id).or_default().push(s);
        }
        let mut ratings: HashMap<Uuid, Vec<&AssessmentRecord>> = HashMap::new();
        for r in &batch.ratings {
            ratings.entry(r.patient_id).or_default().push(r);
        }
        for patient in &batch.patients {
            let own_sessions = sessions.remove(&patient.id).unwrap_or_default();
            let mut starts: Vec<DateTime<Utc>> = own_sessions.iter().map(|s| s.session.started_at).collect();
            starts.sort();
            let subject = Arc::new(Subject {
                subject_id: subject_id(key, patient.id),
                age_at_first_infusion: age_at_first_infusion(patient.birth_date, starts.first().copied()),
                sex: patient.sex,
                diagnosis: patient.diagnosis.clone(),
            });
            let own_ratings = ratings.remove(&patient.id).unwrap_or_default();
            rows += patient_rows(request, subject, &starts, &own_sessions, &own_ratings, &mut out)?;
            if out.buffer.len() >= CHUNK_BYTES && !sink(out.take()) {
                return Ok(rows);
            }
        }
        after = batch.patients.last().map(|p| p.id);
    }
    let rest = out.take();
    if !rest.is_empty() {
        sink(rest);
    }
    Ok(rows)
}
