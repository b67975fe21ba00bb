//! A clinic's protocols, attaching them to patients, and the ratings they make due.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::records::{change, create_of, list_of};
use super::{ListQuery, from_value, list_response, parse_json, path_id, precondition, query, validation};
use crate::auth::{CLINICAL, Caller};
use crate::domain::RecordStatus;
use crate::domain::fields::{one_of, parse_instant};
use crate::domain::protocol::{DueStatus, ProtocolInput};
use crate::error::{ApiResult, FieldError};
use crate::state::AppState;
use crate::store::due::{self, Attachment, DueFilter};
use crate::store::protocols::Protocol;
use crate::store::records::Amendment;

pub async fn create(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    create_of::<Protocol>(state, caller, req, body, ()).await
}

pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    list_of::<Protocol>(state, caller, req, ()).await
}

/// A new version of a protocol; patients it is already attached to keep theirs.
pub async fn update(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let amendment = parse_json::<Value>(&req, &body).and_then(|(patch, _)| {
        from_value::<ProtocolInput>(patch.clone())?;
        Ok(Amendment { patch, status: RecordStatus::Active, reason: None, precondition: precondition(&req, &state.config)? })
    });
    change::<Protocol>(state, caller, req, amendment).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachRequest {
    protocol_id: Uuid,
}

#[derive(Serialize)]
struct Attached {
    #[serde(flatten)]
    attachment: Attachment,
    /// Due ratings planned after the sessions the patient already has.
    planned: usize,
}

/// `POST /api/v1/patients/{id}/protocols`.
pub async fn attach(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let patient = path_id(&req)?;
    let protocol = parse_json::<AttachRequest>(&req, &body).map(|(r, _)| r.protocol_id);
    let (actor, now) = (caller.actor(), state.clock.now());
    let (attachment, planned) = state.db_as(&caller, move |conn| due::attach(conn, &actor, patient, protocol, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(Attached { attachment, planned }))
}

/// `GET /api/v1/patients/{id}/protocols`.
pub async fn attachments(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let patient = path_id(&req)?;
    let actor = caller.actor();
    let items = state.db_as(&caller, move |conn| due::attached(conn, &actor, patient)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next_cursor": null})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DueQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl DueQuery {
    fn filter(&self, patient: Option<Uuid>) -> ApiResult<DueFilter> {
        let mut errors: Vec<FieldError> = Vec::new();
        let status = one_of(&mut errors, "status", self.status.as_deref(), DueStatus::parse, &DueStatus::codes());
        let mut instant = |field: &str, value: &Option<String>| value.as_deref().and_then(|t| parse_instant(field, t).map_err(|e| errors.push(e)).ok());
        let (from, to) = (instant("from", &self.from), instant("to", &self.to));
        if errors.is_empty() { Ok(DueFilter { patient, status, from, to }) } else { Err(validation(errors)) }
    }
}

async fn due_list(state: web::Data<AppState>, caller: Caller, req: HttpRequest, patient: Option<Uuid>) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let given = query::<DueQuery>(&req)?;
    let page = ListQuery { limit: given.limit.clone(), cursor: given.cursor.clone() }.page()?;
    let filter = given.filter(patient)?;
    let actor = caller.actor();
    let listed = state.db_as(&caller, move |conn| due::list(conn, &actor, &filter, page)).await?;
    Ok(list_response(listed))
}

/// `GET /api/v1/due`: the clinic's due ratings.
pub async fn due_for_clinic(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    due_list(state, caller, req, None).await
}

/// `GET /api/v1/patients/{id}/due`.
pub async fn due_for_patient(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let patient = path_id(&req)?;
    due_list(state, caller, req, Some(patient)).await
}

/// `GET /api/v1/due/{id}`.
pub async fn due_one(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let due = state.db_as(&caller, move |conn| due::read(conn, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(due))
}
