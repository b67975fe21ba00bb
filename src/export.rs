//! The pseudonymised research export, shared by the HTTP endpoints and `onset export`.
//!
//! Patients are read in batches by id, two loaders reading the next while one batch's
//! rows are formatted and handed to a sink, with no database connection held while the
//! sink waits. Memory is bounded by a few batches, whatever the export's size.

use std::collections::HashMap;
use std::sync::{Arc, mpsc};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Pool;
use crate::domain::anonymise::{age_at_first_infusion, subject_id};
use crate::domain::fields::vocabulary;
use crate::domain::export::{Column, RATING_COLUMNS, RatingRow, SESSION_COLUMNS, SessionRow, Subject};
use crate::domain::hours_between;
use crate::domain::instruments::Instrument;
use crate::domain::redcap;
use crate::domain::outcomes::CONSENSUS_2016;
use crate::domain::trajectory::{RatingPoint, instrument_series, instruments_of};
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

/// Writes rows in one format, column order as the codebook's. One CSV writer serves the
/// whole export (a writer per row cost an 8 KiB buffer each), and cells are written from
/// one scratch buffer, so a row allocates nothing once the export is under way.
struct Formatter {
    format: Format,
    /// The formatted bytes not yet handed on: the CSV writer writes here (each row is
    /// flushed out of its own buffer), and so do NDJSON rows.
    out: Output,
    csv: csv::Writer<Output>,
    cell: String,
}

/// The formatter's bytes, shared with the CSV writer that appends to them.
#[derive(Clone, Default)]
struct Output(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn csv_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("csv: {e}"))
}

impl Formatter {
    fn new(format: Format) -> Formatter {
        let out = Output::default();
        let csv = csv::WriterBuilder::new().has_headers(false).from_writer(out.clone());
        Formatter { format, out, csv, cell: String::new() }
    }

    fn line<I: AsRef<[u8]>>(&mut self, fields: impl IntoIterator<Item = I>) -> ApiResult<()> {
        self.csv.write_record(fields).map_err(csv_error)?;
        self.csv.flush().map_err(csv_error)
    }

    fn header<R>(&mut self, columns: &[Column<R>]) -> ApiResult<()> {
        match self.format {
            Format::Csv => self.line(columns.iter().map(|c| c.name)),
            Format::Ndjson => Ok(()),
        }
    }

    fn row<R>(&mut self, columns: &[Column<R>], row: &R) -> ApiResult<()> {
        match self.format {
            Format::Csv => {
                for column in columns {
                    self.cell.clear();
                    (column.value)(row).write_csv(&mut self.cell);
                    self.csv.write_field(self.cell.as_bytes()).map_err(csv_error)?;
                }
                self.csv.write_record(None::<&[u8]>).map_err(csv_error)?;
                self.csv.flush().map_err(csv_error)
            }
            Format::Ndjson => {
                // Built by hand so that keys keep the codebook's order.
                let mut out = self.out.0.borrow_mut();
                let out = &mut *out;
                out.push(b'{');
                for (i, column) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, column.name).map_err(|e| ApiError::Internal(e.to_string()))?;
                    out.push(b':');
                    serde_json::to_writer(&mut *out, &(column.value)(row).to_json()).map_err(|e| ApiError::Internal(e.to_string()))?;
                }
                out.extend_from_slice(b"}\n");
                Ok(())
            }
        }
    }

    fn len(&self) -> usize {
        self.out.0.borrow().len()
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut *self.out.0.borrow_mut(), Vec::with_capacity(CHUNK_BYTES + 4096))
    }
}

struct Batch {
    patients: Vec<Demographics>,
    /// The sessions whole (the sessions export), or only when each began (the ratings
    /// exports, which place each rating in the course and need nothing else of them).
    sessions: Vec<InfusionRecord>,
    starts: Vec<(Uuid, DateTime<Utc>)>,
    ratings: Vec<AssessmentRecord>,
}

/// Loaders reading batches at once, each on a connection of its own: while one waits for
/// the database to run its query (PostgreSQL) or runs it (SQLite), another turns its rows
/// into records. One loader left PostgreSQL idle while it decoded and itself idle while
/// PostgreSQL ran (20,000 patients: 0.75 s of PostgreSQL's CPU and 0.9 s of the loader's,
/// one after the other, in an export of 1.65 s; two loaders took 1.43 s). On SQLite two
/// loaders took 1.04-1.12 s against 1.21-1.27 s, for the same CPU, once its connections no
/// longer shared one page cache lock (.cargo/config.toml).
const LOADERS: usize = 2;

/// The records of a page of patients, chosen by clinic and consent.
fn load_batch(pool: &Pool, request: &ExportRequest, patients: Vec<Demographics>) -> ApiResult<Batch> {
    let mut conn = pool.get()?;
    let ids: Vec<Uuid> = patients.iter().map(|p| p.id).collect();
    Ok(match request.kind {
        Kind::Infusions => Batch { sessions: infusions::for_export(&mut conn, &ids)?, starts: Vec::new(), ratings: Vec::new(), patients },
        Kind::Assessments | Kind::Redcap => Batch {
            sessions: Vec::new(),
            starts: infusions::starts_for_export(&mut conn, &ids)?,
            ratings: assessments::for_export(&mut conn, &ids, request.instrument)?,
            patients,
        },
    })
}

/// Reads the export's patients a page at a time, in id order, and deals the pages to the
/// loaders in turn (page k to loader k mod their number), until there are none left, a read
/// fails (dealt on too), or a loader has stopped taking them.
fn deal_pages(pool: &Pool, request: &ExportRequest, loaders: Vec<mpsc::SyncSender<ApiResult<Vec<Demographics>>>>) {
    let mut after = None;
    for loader in loaders.iter().cycle() {
        match pool.get().map_err(ApiError::from).and_then(|mut conn| research::consenting_patients(&mut conn, request.clinic, after, BATCH_PATIENTS)) {
            Ok(page) if page.is_empty() => return,
            Ok(page) => {
                after = page.last().map(|p| p.id);
                if loader.send(Ok(page)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = loader.send(Err(e));
                return;
            }
        }
    }
}

/// Loads each page it is dealt and hands the batch on, in the order dealt. The batches the
/// formatter is done with come back to be freed here, on the thread that allocated them:
/// their many small blocks then go back to this thread's own caches. Freed on the
/// formatter's thread, they cost an export 5 % more CPU with jemalloc, and with glibc's
/// malloc 15 % of it went to waiting on this thread's arena lock (perf).
fn load_batches(pool: &Pool, request: &ExportRequest, pages: mpsc::Receiver<ApiResult<Vec<Demographics>>>, loaded: mpsc::SyncSender<ApiResult<Batch>>, spent: mpsc::Receiver<Batch>) {
    for page in pages {
        while let Ok(batch) = spent.try_recv() {
            drop(batch);
        }
        let batch = page.and_then(|patients| load_batch(pool, request, patients));
        let failed = batch.is_err();
        if loaded.send(batch).is_err() || failed {
            return;
        }
    }
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
                out.row(SESSION_COLUMNS, &row)?;
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
            for instrument in instruments_of(&points) {
                let Some(derived) = instrument_series(&CONSENSUS_2016, instrument, starts, &points) else { continue };
                let baseline_total = derived.baseline.as_ref().map(|b| b.total);
                for d in derived.ratings {
                    let record = by_id[&d.assessment_id];
                    if !changed_since(request, record.updated_at) {
                        continue;
                    }
                    let row = RatingRow {
                        subject: subject.clone(),
                        definition_set: CONSENSUS_2016.name,
                        subscales: record.rating.scores.subscales(record.rating.instrument),
                        rating: record.rating.clone(),
                        instrument_version: record.instrument_version,
                        text_version: record.text_version,
                        derived: d,
                        baseline_total,
                    };
                    if request.kind == Kind::Redcap {
                        instance += 1;
                        out.line(redcap::rating_record(&row, instance))?;
                    } else {
                        out.row(RATING_COLUMNS, &row)?;
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
        Kind::Redcap => out.line(redcap::record_columns())?,
    }
    // The pages are dealt to the loaders in turn and their batches formatted in the same
    // turn, so rows keep the patients' order. Each loader hands on at most one batch ahead,
    // so memory stays bounded by a few batches.
    std::thread::scope(|scope| {
        let mut deal = Vec::new();
        let mut turns = Vec::new();
        for _ in 0..LOADERS {
            let (page, pages) = mpsc::sync_channel::<ApiResult<Vec<Demographics>>>(1);
            let (loaded, batches) = mpsc::sync_channel::<ApiResult<Batch>>(1);
            // Unbounded, so that handing one back never waits: the loader takes them back
            // before each read, so no more than two are ever in it.
            let (spend, spent) = mpsc::channel::<Batch>();
            scope.spawn(move || load_batches(pool, request, pages, loaded, spent));
            deal.push(page);
            turns.push((batches, spend));
        }
        scope.spawn(move || deal_pages(pool, request, deal));
        let mut rows = 0;
        for (batches, spend) in turns.iter().cycle() {
            // A loader that has nothing more to hand on means the pages have run out:
            // the loader dealt the next page would otherwise be holding it.
            let Ok(batch) = batches.recv() else { break };
            let batch = batch?;
            let (written, more) = format_batch(key, request, &batch, &mut out, &mut sink)?;
            rows += written;
            let _ = spend.send(batch);
            if !more {
                return Ok(rows);
            }
        }
        let rest = out.take();
        if !rest.is_empty() {
            sink(rest);
        }
        Ok(rows)
    })
}

/// Formats one batch, handing `sink` each full chunk; returns the rows written and whether
/// the reader still wants more.
fn format_batch(key: &[u8], request: &ExportRequest, batch: &Batch, out: &mut Formatter, sink: &mut impl FnMut(Vec<u8>) -> bool) -> ApiResult<(u64, bool)> {
    let mut rows = 0;
    let mut sessions: HashMap<Uuid, Vec<&InfusionRecord>> = HashMap::new();
    for s in &batch.sessions {
        sessions.entry(s.patient_id).or_default().push(s);
    }
    let mut session_starts: HashMap<Uuid, Vec<DateTime<Utc>>> = HashMap::new();
    let starts = batch.starts.iter().copied().chain(batch.sessions.iter().map(|s| (s.patient_id, s.session.started_at)));
    for (patient, started_at) in starts {
        session_starts.entry(patient).or_default().push(started_at);
    }
    let mut ratings: HashMap<Uuid, Vec<&AssessmentRecord>> = HashMap::new();
    for r in &batch.ratings {
        ratings.entry(r.patient_id).or_default().push(r);
    }
    for patient in &batch.patients {
        let own_sessions = sessions.remove(&patient.id).unwrap_or_default();
        let mut starts = session_starts.remove(&patient.id).unwrap_or_default();
        starts.sort();
        let subject = Arc::new(Subject {
            subject_id: subject_id(key, patient.id),
            age_at_first_infusion: age_at_first_infusion(patient.birth_date, starts.first().copied()),
            sex: patient.sex,
            diagnosis: patient.diagnosis.clone(),
        });
        let own_ratings = ratings.remove(&patient.id).unwrap_or_default();
        rows += patient_rows(request, subject, &starts, &own_sessions, &own_ratings, out)?;
        if out.len() >= CHUNK_BYTES && !sink(out.take()) {
            return Ok((rows, false));
        }
    }
    Ok((rows, true))
}
