//! The pseudonymised research export (researchers, admins) and its codebook.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{query, validation};
use crate::auth::{Caller, Role};
use crate::domain::FieldError;
use crate::domain::export::{ColumnDoc, RATING_COLUMNS, SESSION_COLUMNS};
use crate::domain::instruments::Instrument;
use crate::domain::scoring::{one_of, parse_instant};
use crate::error::{ApiError, ApiResult};
use crate::export::{self, ExportRequest, Format, Kind};
use crate::state::AppState;
use crate::store::audit;

pub const RESEARCH: &[Role] = &[Role::Researcher, Role::Admin];

/// Chunks in flight between the database thread and the client: a slow client stalls
/// the export here, holding no database connection.
const CHANNEL_CHUNKS: usize = 4;

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
    fn parse(&self, kind: Kind) -> ApiResult<(Format, Option<Instrument>, Option<chrono::DateTime<chrono::Utc>>)> {
        let mut e = Vec::new();
        let format = one_of(&mut e, "format", Some(self.format.as_deref().unwrap_or("csv")), Format::parse, &["csv", "ndjson"]);
        let codes: Vec<&str> = Instrument::ALL.iter().map(|i| i.code()).collect();
        let instrument = one_of(&mut e, "instrument", self.instrument.as_deref(), Instrument::parse, &codes);
        if kind == Kind::Infusions && self.instrument.is_some() {
            e.push(FieldError::new("instrument", "applies to the assessments export only"));
        }
        let since = self.changed_since.as_deref().and_then(|t| parse_instant("changed_since", t).map_err(|err| e.push(err)).ok());
        match format {
            Some(format) if e.is_empty() => Ok((format, instrument, since)),
            _ => Err(validation(e)),
        }
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
    let (format, instrument, changed_since) = given.parse(kind)?;
    let request = ExportRequest { kind, format, clinic: Some(caller.clinic_id), instrument, changed_since };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(CHANNEL_CHUNKS);
    let (pool, actor) = (state.pool.clone(), caller.actor());
    actix_web::rt::task::spawn_blocking(move || {
        let outcome = export::run(&pool, &key, &request, |chunk| sender.blocking_send(Ok(Bytes::from(chunk))).is_ok());
        let (rows, error) = match outcome {
            Ok(rows) => (Some(rows), None),
            Err(e) => {
                tracing::error!(error = %e, "export failed");
                let _ = sender.blocking_send(Err(ApiError::Internal("export failed".into())));
                (None, Some(e.to_string()))
            }
        };
        let detail = json!({"kind": kind.name(), "filters": given, "rows": rows, "failed": error.is_some()});
        let recorded = pool.get().map_err(ApiError::from).and_then(|mut conn| Ok(audit::append(&mut conn, actor.audit("export.download", "export", None, detail))?));
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not audit an export");
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) });
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"onset-{}.{}\"", kind.name(), format.extension())))
        .streaming(body))
}

pub async fn assessments(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    stream(state, caller, req, Kind::Assessments).await
}

pub async fn infusions(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    stream(state, caller, req, Kind::Infusions).await
}

#[derive(Serialize)]
struct Codebook {
    definition_set: &'static str,
    assessments: Vec<ColumnDoc>,
    infusions: Vec<ColumnDoc>,
}

pub async fn codebook(caller: Caller) -> ApiResult<HttpResponse> {
    caller.require(RESEARCH)?;
    Ok(HttpResponse::Ok().json(Codebook {
        definition_set: crate::domain::outcomes::CONSENSUS_2016.name,
        assessments: RATING_COLUMNS.iter().map(|c| c.doc()).collect(),
        infusions: SESSION_COLUMNS.iter().map(|c| c.doc()).collect(),
    }))
}
