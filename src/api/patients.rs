//! Patients and their trajectory. Registration, reads, lists and history go through the
//! shared record handlers; a PATCH adds one rule of its own about consent.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::records::{change, create_of, list_of};
use super::renderings::{Form, Rendering, Renderings};
use super::{from_value, parse_json, path_id, precondition};
use crate::auth::{CLINICAL, Caller};
use crate::domain::RecordStatus;
use crate::domain::outcomes::CONSENSUS_2016;
use crate::domain::patient::PatientInput;
use crate::db::Db;
use crate::domain::trajectory::{RatingPoint, Trajectory, trajectory as build_trajectory};
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

/// What a trajectory read found: the rendering kept under the patient's course stamp, or
/// the course to render (and keep under the stamp read before it).
enum Found {
    Kept(Bytes),
    Course { stamp: i64, starts: Vec<DateTime<Utc>>, points: Vec<RatingPoint> },
}

/// Reads the patient's course stamp, then the kept rendering under it or the course
/// (`api::renderings`: the stamp first, so the course is at least as new as it).
fn find(conn: &mut Db, renderings: &Renderings, clinic: Uuid, rendering: &Rendering) -> ApiResult<Found> {
    // 404 here when the patient is not the clinic's.
    let stamp = patients::course_stamp(conn, clinic, rendering.patient)?;
    if let Some(bytes) = renderings.get(rendering, stamp) {
        return Ok(Found::Kept(bytes));
    }
    let (starts, points) = patients::course(conn, clinic, rendering.patient)?;
    Ok(Found::Course { stamp, starts, points })
}

/// The trajectory of the patient, its latest `shown` ratings per series, derived and
/// rendered off the async threads (a long history is a large answer), or as kept from the
/// last read of the same course. Audited as a read of the patient either way.
/// The chart a replica may serve; the JSON, which a client reads after its own writes,
/// comes from the primary.
async fn rendered<F>(state: &AppState, caller: &Caller, req: &HttpRequest, shown: usize, form: Form, render: F) -> ApiResult<Bytes>
where
    F: FnOnce(Uuid, Trajectory, &[DateTime<Utc>]) -> Bytes + Send + 'static,
{
    caller.require(CLINICAL)?;
    let rendering = Rendering { patient: path_id(req)?, shown, form };
    let actor = caller.actor();
    let clinic = actor.clinic_id;
    let renderings = state.renderings.clone();
    let found = if form == Form::Chart {
        let found = state.read_as(caller, move |conn| find(conn, &renderings, clinic, &rendering)).await?;
        state.db_as(caller, move |conn| patients::audit_course(conn, &actor, rendering.patient)).await?;
        found
    } else {
        state
            .db_as(caller, move |conn| {
                let found = find(conn, &renderings, clinic, &rendering)?;
                patients::audit_course(conn, &actor, rendering.patient)?;
                Ok(found)
            })
            .await?
    };
    let (stamp, starts, points) = match found {
        Found::Kept(bytes) => {
            state.metrics.trajectories_kept.inc();
            return Ok(bytes);
        }
        Found::Course { stamp, starts, points } => (stamp, starts, points),
    };
    let renderings = state.renderings.clone();
    Ok(web::block(move || {
        let mut trajectory = build_trajectory(&CONSENSUS_2016, &starts, &points);
        trajectory.keep_latest(shown);
        let bytes = render(rendering.patient, trajectory, &starts);
        if points.iter().all(|point| !point.instrument.is_clinic()) {
            renderings.keep(rendering, stamp, bytes.clone());
        }
        bytes
    })
    .await?)
}

pub async fn trajectory(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let shown = ratings_shown(&req)?;
    let body = rendered(&state, &caller, &req, shown, Form::Json, |patient_id, trajectory, _| {
        serde_json::to_vec(&TrajectoryView { patient_id, trajectory }).expect("plain data serialises").into()
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// The trajectory drawn: the same data as the JSON, read and audited the same way.
pub async fn trajectory_svg(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let chart = rendered(&state, &caller, &req, DEFAULT_RATINGS_SHOWN, Form::Chart, |_, trajectory, starts| crate::domain::chart::trajectory_svg(&trajectory, starts).into()).await?;
    Ok(super::svg(chart))
}
