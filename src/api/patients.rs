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

/// How many of each series' latest ratings a trajectory shows: `?limit=` from 1 to
/// `MAX_RATINGS_SHOWN`, `DEFAULT_RATINGS_SHOWN` without it. The chart draws the default.
const DEFAULT_RATINGS_SHOWN: usize = 1_000;
const MAX_RATINGS_SHOWN: usize = 5_000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TrajectoryQuery {
    limit: Option<String>,
}

fn ratings_shown(req: &HttpRequest) -> ApiResult<usize> {
    match super::query::<TrajectoryQuery>(req)?.limit {
        None => Ok(DEFAULT_RATINGS_SHOWN),
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_RATINGS_SHOWN).contains(l))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be a whole number from 1 to {MAX_RATINGS_SHOWN}"))),
    }
}

/// The trajectory of the patient, its latest `shown` ratings per series, derived and
/// rendered off the async threads (a long history is a large answer).
/// `from_replica`: the chart, which a replica may serve; the JSON, which a client reads
/// after its own writes, comes from the primary.
async fn rendered<T, F>(state: &AppState, caller: &Caller, req: &HttpRequest, shown: usize, from_replica: bool, render: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(Uuid, Trajectory, &[chrono::DateTime<chrono::Utc>]) -> T + Send + 'static,
{
    caller.require(CLINICAL)?;
    let id = path_id(req)?;
    let actor = caller.actor();
    let (starts, points) = if from_replica {
        let clinic = actor.clinic_id;
        let course = state.read_as(caller, move |conn| patients::course_unaudited(conn, clinic, id)).await?;
        state.db_as(caller, move |conn| patients::audit_course(conn, &actor, id)).await?;
        course
    } else {
        state.db_as(caller, move |conn| patients::course(conn, &actor, id)).await?
    };
    Ok(web::block(move || {
        let mut trajectory = build_trajectory(&CONSENSUS_2016, &starts, &points);
        trajectory.keep_latest(shown);
        render(id, trajectory, &starts)
    })
    .await?)
}

pub async fn trajectory(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let shown = ratings_shown(&req)?;
    let body = rendered(&state, &caller, &req, shown, false, |patient_id, trajectory, _| {
        serde_json::to_vec(&TrajectoryView { patient_id, trajectory }).expect("plain data serialises")
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// The trajectory drawn: the same data as the JSON, read and audited the same way.
pub async fn trajectory_svg(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let chart = rendered(&state, &caller, &req, DEFAULT_RATINGS_SHOWN, true, |_, trajectory, starts| crate::domain::chart::trajectory_svg(&trajectory, starts)).await?;
    Ok(super::svg(chart))
}
