//! Patients and their trajectory.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::{merge_patch, with_current_version};
use super::{ListQuery, Precondition, created, from_value, idempotency_key, list_response, parse_json, path_id, query, replay, validation, with_etag};
use crate::auth::{CLINICAL, Caller};
use crate::domain::outcomes::CONSENSUS_2016;
use crate::domain::patient::{PatientInput, today};
use crate::domain::trajectory::{Trajectory, trajectory as build_trajectory};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{assessments, audit, idempotency, infusions, patients};

pub async fn create(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let (input, canonical) = parse_json::<PatientInput>(&req, &body)?;
    let fields = input.parse(today()).map_err(validation)?;
    let key = idempotency_key(&req, &caller, &canonical)?;
    let actor = caller.actor();
    let stored = state
        .db(move |conn| {
            idempotency::once(conn, key.as_ref(), |conn| {
                let patient = patients::create(conn, &actor, &fields)?;
                Ok(created(&patient, format!("/api/v1/patients/{}", patient.id), patient.version))
            })
        })
        .await?;
    Ok(replay(stored))
}

pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let actor = caller.actor();
    let listed = state
        .db(move |conn| {
            let listed = patients::list(conn, actor.clinic_id, page)?;
            // Which patients a list showed, not just how many: the record of who saw whom.
            let shown: Vec<Uuid> = listed.0.iter().map(|p| p.id).collect();
            audit::append(conn, actor.audit("patient.list", "patient", None, json!({"count": shown.len(), "patient_ids": shown})))?;
            Ok(listed)
        })
        .await?;
    Ok(list_response(listed))
}

pub async fn get(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let patient = state
        .db(move |conn| {
            let patient = patients::find(conn, actor.clinic_id, id)?;
            audit::append(conn, actor.audit("patient.read", "patient", Some(id), json!({})))?;
            Ok(patient)
        })
        .await?;
    Ok(with_etag(StatusCode::OK, &patient, patient.version))
}

pub async fn update(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    // A bad body is reported only once the patient is known to be the caller's (else 404).
    let request = parse_json::<Value>(&req, &body).and_then(|(patch, _)| {
        from_value::<PatientInput>(patch.clone())?;
        // Consent is never implied: it changes only when the PATCH states true or false.
        if patch.get("research_consent").is_some_and(Value::is_null) {
            return Err(ApiError::invalid("research_consent", "must be true or false; leave it out to keep it"));
        }
        Ok((patch, Precondition::from_request(&req, &state.config)?))
    });
    let actor = caller.actor();
    let patient = state
        .db(move |conn| {
            patients::exists(conn, actor.clinic_id, id)?;
            let (patch, precondition) = request?;
            with_current_version(&precondition, || {
                let current = patients::find(conn, actor.clinic_id, id)?;
                let mut merged = serde_json::to_value(current.fields.to_input()).expect("plain data serialises");
                merge_patch(&mut merged, &patch);
                // Invalid input is a 422 whatever the version; only a valid change can be stale.
                let fields = from_value::<PatientInput>(merged)?.parse(today()).map_err(validation)?;
                precondition.check(current.version)?;
                patients::update(conn, &actor, id, &current, &fields)
            })
        })
        .await?;
    Ok(with_etag(StatusCode::OK, &patient, patient.version))
}

pub async fn revisions(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    super::records::revisions_page(state, caller, req, patients::ENTITY, patients::exists).await
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
    let (starts, points) = state
        .db(move |conn| {
            patients::exists(conn, actor.clinic_id, id)?;
            let starts = infusions::active_starts(conn, actor.clinic_id, id)?;
            let points = assessments::active_points(conn, actor.clinic_id, id)?;
            audit::append(conn, actor.audit("patient.trajectory", "patient", Some(id), json!({})))?;
            Ok((starts, points))
        })
        .await?;
    let trajectory = build_trajectory(&CONSENSUS_2016, &starts, &points);
    Ok(HttpResponse::Ok().json(TrajectoryView { patient_id: id, trajectory }))
}
