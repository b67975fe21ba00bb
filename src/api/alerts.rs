//! Safety alerts of the clinic, and acknowledging them (clinicians and admins).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ListQuery, list_response, parse_json, path_id, query, validation};
use crate::auth::{CLINICAL, Caller};
use crate::domain::FieldError;
use crate::domain::fields::one_of;
use crate::domain::safety::{AlertKind, AlertStatus};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::alerts::{self, AlertFilter};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    patient_id: Option<String>,
}

/// `GET /api/v1/alerts`, newest first.
pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let given = query::<AlertQuery>(&req)?;
    let page = ListQuery { limit: given.limit.clone(), cursor: given.cursor.clone() }.page()?;
    let mut errors: Vec<FieldError> = Vec::new();
    let status = one_of(&mut errors, "status", given.status.as_deref(), AlertStatus::parse, &AlertStatus::codes());
    let kind = one_of(&mut errors, "kind", given.kind.as_deref(), AlertKind::parse, &AlertKind::codes());
    let patient = given.patient_id.as_deref().and_then(|p| p.parse().map_err(|_| errors.push(FieldError::new("patient_id", "must be a UUID"))).ok());
    if !errors.is_empty() {
        return Err(validation(errors));
    }
    let (actor, filter) = (caller.actor(), AlertFilter { status, kind, patient });
    Ok(list_response(state.db_as(&caller, move |conn| alerts::list(conn, &actor, &filter, page)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acknowledgement {
    note: String,
}

const MAX_NOTE: usize = 2_000;

/// `POST /api/v1/alerts/{id}/acknowledge` `{note}`: what was done about it.
pub async fn acknowledge(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let note = parse_json::<Acknowledgement>(&req, &body).and_then(|(a, _)| {
        let note = a.note.trim().to_string();
        if note.is_empty() || note.chars().count() > MAX_NOTE {
            return Err(ApiError::invalid("note", format!("required: 1 to {MAX_NOTE} characters saying what was done")));
        }
        Ok(note)
    });
    let (actor, now) = (caller.actor(), state.clock.now());
    Ok(HttpResponse::Ok().json(state.db_as(&caller, move |conn| alerts::acknowledge(conn, &actor, id, note, now)).await?))
}
