//! The pseudonymised research export (researchers, admins) and its codebook.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{query, validation};
use crate::auth::{Caller, Role};
use crate::domain::export::{ColumnDoc, RATING_COLUMNS, SESSION_COLUMNS};
use crate::domain::instruments::Catalogue;
use crate::domain::redcap;
use crate::domain::fields::{one_of, parse_instant};
use crate::error::{ApiError, ApiResult};
use crate::export::{self, ExportRequest, Format, Kind};
use crate::state::AppState;
use crate::store::{audit, clinic_instruments};

pub const RESEARCH: &[Role] = &[Role::Researcher, Role::Admin];

/// Chunks in flight between the export thread and the client: a slow client stalls
/// the export here, holding no database connection.
const CHANNEL_CHUNKS: usize = 4;

/// What a client refused for the export bound is told to wait: exports take seconds.
const EXPORT_RETRY_AFTER_SECS: u64 = 30;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instrument: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_since: Option<String>,
}

impl ExportQuery {
    fn parse(&self, kind: Kind, clinic: uuid::Uuid, catalogue: &Catalogue) -> ApiResult<ExportRequest> {
        let mut e = Vec::new();
        let format = one_of(&mut e, "format", Some(self.format.as_deref().unwrap_or("csv")), Format::parse, &Format::codes());
        let instrument = one_of(&mut e, "instrument", self.instrument.as_deref(), |code| catalogue.parse(code), &catalogue.codes());
        let changed_since = self.changed_since.as_deref().and_then(|t| parse_instant("changed_since", t).map_err(|err| e.push(err)).ok());
        let Some(format) = format else { return Err(validation(e)) };
        let request = ExportRequest { kind, format, clinic: Some(clinic), instrument, changed_since };
        e.extend(request.check());
        if e.is_empty() { Ok(request) } else { Err(validation(e)) }
    }
}

async fn stream(state: web::Data<AppState>, caller: Caller, req: HttpRequest, kind: Kind) -> ApiResult<HttpResponse> {
    caller.require(RESEARCH)?;
    let key = state
        .config
        .export_key
        .clone()
        .ok_or_else(|| ApiError::Unavailable("exports are disabled: the server has no ONSET_EXPORT_KEY".into()))?;
    let given = query::<ExportQuery>(&req)?;
    let clinic = caller.clinic_id;
    let codes: Vec<String> = given.instrument.iter().cloned().collect();
    let catalogue = state.db_as(&caller, move |conn| clinic_instruments::catalogue_naming(conn, clinic, &codes.iter().map(String::as_str).collect::<Vec<_>>())).await?;
    let request = given.parse(kind, clinic, &catalogue)?;
    let format = request.format;
    // Each export holds a thread until its client has read it all: beyond the bound, the
    // client is told when to come back instead of queueing.
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyRequests { retry_after_secs: EXPORT_RETRY_AFTER_SECS })?;
    // No entry, no export: the audit entry is committed before the first byte is sent.
    let actor = caller.actor();
    let entry = actor.audit("export.download", "export", None, json!({"kind": kind.code(), "format": format.code(), "filters": given}));
    state.db_as(&caller, move |conn| Ok(audit::append(conn, entry)?)).await?;

    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let finished = Arc::new(AtomicBool::new(false));
    // The rows come from the read pool (a replica, when there is one); the audit of how
    // the export ended goes to the primary.
    let (pool, read_pool, runtime, send_timeout, done) =
        (state.pool.clone(), state.read_pool.clone(), tokio::runtime::Handle::current(), state.config.export_send_timeout, finished.clone());
    // A thread of its own, not the blocking pool every query runs on: a client that
    // stops reading stalls this thread only, and only until the send timeout.
    std::thread::Builder::new()
        .name("onset-export".into())
        .spawn(move || {
            let _permit = permit;
            let mut delivered = true;
            let send = |chunk: Vec<u8>| {
                runtime.block_on(async { matches!(tokio::time::timeout(send_timeout, sender.send(Bytes::from(chunk))).await, Ok(Ok(()))) })
            };
            let outcome = export::run(&read_pool, &key, &request, |chunk| {
                delivered = send(chunk);
                delivered
            });
            // What left is audited too: how many rows, or that the export stopped short.
            let (action, rows) = match outcome {
                Ok(rows) if delivered => {
                    done.store(true, Ordering::Release);
                    ("export.sent", Some(rows))
                }
                Ok(rows) => ("export.dropped", Some(rows)),
                Err(e) => {
                    tracing::error!(error = %e, kind = kind.code(), "export failed");
                    ("export.failed", None)
                }
            };
            let entry = actor.audit(action, "export", None, json!({"kind": kind.code(), "rows": rows}));
            if let Err(e) = pool.get().map_err(ApiError::from).and_then(|mut conn| Ok(audit::append(&mut conn, entry)?)) {
                tracing::error!(error = %e, action, "could not audit the end of an export");
            }
        })
        .map_err(|e| ApiError::Internal(format!("cannot start an export thread: {e}")))?;
    // The body ends cleanly only when the export finished; otherwise the connection is
    // cut, so that a truncated export can never pass for a complete one.
    let body = futures_util::stream::unfold((receiver, finished), |(mut receiver, finished)| async move {
        match receiver.recv().await {
            Some(chunk) => Some((Ok(chunk), (receiver, finished))),
            None if finished.load(Ordering::Acquire) => None,
            None => {
                finished.store(true, Ordering::Release);
                Some((Err(ApiError::Internal("export stopped before its end".into())), (receiver, finished)))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"onset-{}.{}\"", kind.code(), format.code())))
        .streaming(body))
}

pub async fn assessments(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    stream(state, caller, req, Kind::Assessments).await
}

pub async fn infusions(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    stream(state, caller, req, Kind::Infusions).await
}

/// REDCap's records: the subject form once per subject, the rating form repeated.
pub async fn redcap_records(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    stream(state, caller, req, Kind::Redcap).await
}

/// REDCap's data dictionary for those records, as REDCap uploads it.
pub async fn redcap_dictionary(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require(RESEARCH)?;
    let clinic = caller.clinic_id;
    let catalogue = state.db_as(&caller, move |conn| clinic_instruments::catalogue(conn, clinic)).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written = std::iter::once(redcap::DICTIONARY_HEADERS.iter().map(|h| h.to_string()).collect())
        .chain(redcap::dictionary(&catalogue.codes()))
        .try_for_each(|row: Vec<String>| writer.write_record(row));
    let body = written.and_then(|()| writer.into_inner().map_err(|e| e.into_error().into())).map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"onset-redcap-dictionary.csv\""))
        .body(body))
}

#[derive(Serialize)]
struct Codebook {
    definition_set: &'static str,
    assessments: Vec<ColumnDoc>,
    infusions: Vec<ColumnDoc>,
    /// What an `instrument` and `instrument_version` of the export mean: every built-in
    /// definition and every version of the clinic's own, without wording.
    instruments: Vec<InstrumentDoc>,
}

/// An instrument version as a researcher reads the export: its items, scoring, part
/// scores, bands and outcome rules, never a question's wording.
#[derive(Serialize)]
struct InstrumentDoc {
    code: &'static str,
    version: u32,
    kind: &'static str,
    title: &'static str,
    items: Vec<serde_json::Value>,
    scoring: &'static str,
    subscales: &'static [crate::domain::definitions::Subscale],
    bands: &'static [crate::domain::definitions::BandDefinition],
    outcomes: crate::domain::definitions::Outcomes,
}

fn instrument_doc(instrument: crate::domain::instruments::Instrument) -> InstrumentDoc {
    let d = instrument.definition();
    InstrumentDoc {
        code: instrument.code(),
        version: d.version,
        kind: d.kind.code(),
        title: &d.title,
        items: d.items.iter().map(|i| json!({"code": i.code, "short_label": i.short_label, "min": i.min, "max": i.max, "counted": i.counted, "reverse": i.reverse})).collect(),
        scoring: d.scoring.code(),
        subscales: &d.subscales,
        bands: &d.bands,
        outcomes: d.outcomes,
    }
}

pub async fn codebook(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require(RESEARCH)?;
    let clinic = caller.clinic_id;
    let own = state.db_as(&caller, move |conn| clinic_instruments::every_version(conn, clinic)).await?;
    Ok(HttpResponse::Ok().json(Codebook {
        definition_set: crate::domain::outcomes::CONSENSUS_2016.name,
        assessments: RATING_COLUMNS.iter().map(|c| c.doc()).collect(),
        infusions: SESSION_COLUMNS.iter().map(|c| c.doc()).collect(),
        instruments: Catalogue::built_in().iter().chain(own).map(instrument_doc).collect(),
    }))
}
