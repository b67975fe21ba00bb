//! Patients and their trajectory. Registration, reads, lists and history go through the
//! shared record handlers; a PATCH adds one rule of its own about consent.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::records::{change, create_of, list_of};
use super::{from_value, parse_json, path_id, precondition};
use crate::auth::{CLINICAL, Caller};
use crate::domain::RecordStatus;
use crate::domain::outcomes::CONSENSUS_2016;
use crate::domain::patient::PatientInput;
use crate::domain::trajectory::{Trajectory, trajectory as build_trajectory};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::patients::{self, Patient};
use crate::store::records::Amendment;

pub async fn create(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    create_of::<Patient>(state, caller, req, body, ()).await
}

pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    list_of::<Patient>(state, caller, req, ()).await
}

pub async fn update(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let amendment = parse_json::<Value>(&req, &body).and_then(|(patch, _)| {
        from_value::<PatientInput>(patch.clone())?;
        // Consent is never implied: it changes only when the PATCH states true or false.
        if patch.get("research_consent").is_some_and(Value::is_null) {
            return Err(ApiError::invalid("research_consent", "must be true or false; leave it out to keep it"));
        }
        Ok(Amendment { patch, status: RecordStatus::Active, reason: None, precondition: precondition(&req, &state.config)? })
    });
    change::<Patient>(state, caller, req, amendment).await
}

#[derive(Serialize)]
struct TrajectoryView {
    patient_id: Uuid,
    #[serde(flatten)]
    trajectory: Trajectory,
}

pub async fn trajectory(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let (starts, points) = state.db_as(&caller, move |conn| patients::course(conn, &actor, id)).await?;
    let trajectory = build_trajectory(&CONSENSUS_2016, &starts, &points);
    Ok(HttpResponse::Ok().json(TrajectoryView { patient_id: id, trajectory }))
}

/// The trajectory drawn: the same data as the JSON, read and audited the same way.
pub async fn trajectory_svg(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let (starts, points) = state.db_as(&caller, move |conn| patients::course(conn, &actor, id)).await?;
    let trajectory = build_trajectory(&CONSENSUS_2016, &starts, &points);
    Ok(super::svg(crate::domain::chart::trajectory_svg(&trajectory, &starts)))
}
