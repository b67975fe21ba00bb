//! Doses taken at home (DESIGN.md §10): a clinician issues a dose link for a home plan;
//! the patient's page checks in, then records the dose. The plans themselves are records
//! kept with history and share the handlers of `records`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::self_report::{checked, throttle};
use super::{parse_json, path_id};
use crate::auth::{CLINICAL, Caller};
use crate::domain::FieldError;
use crate::domain::fields::parse_instant;
use crate::domain::home::{PreDose, check_reading};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::doses::{self, CheckIn};

/// `POST /api/v1/home-plans/{id}/invitation`: a link for one dose, shown once.
pub async fn invite(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let plan = path_id(&req)?;
    let (actor, now, public_url) = (caller.actor(), state.clock.now(), state.config.public_url.clone());
    let issued = state.db_as(&caller, move |conn| doses::issue(conn, &actor, plan, &public_url, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(issued))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRequest {
    token: String,
    systolic: Option<Value>,
    diastolic: Option<Value>,
    heart_rate: Option<Value>,
    monitor_present: Option<bool>,
    vas: Option<Value>,
}

impl CheckRequest {
    /// The readings within what a home cuff can show (the ranges a session's vitals take);
    /// beyond them a reading is a slip, refused with 422 rather than judged.
    fn check_in(&self) -> ApiResult<CheckIn> {
        let mut errors = Vec::new();
        let systolic = check_reading(&mut errors, "systolic", self.systolic.as_ref(), 40, 300);
        let diastolic = check_reading(&mut errors, "diastolic", self.diastolic.as_ref(), 20, 200);
        let heart_rate = check_reading(&mut errors, "heart_rate", self.heart_rate.as_ref(), 20, 250);
        if self.monitor_present.is_none() {
            errors.push(FieldError::new("monitor_present", "required: true or false"));
        }
        let vas = crate::domain::fields::bounded_int(&mut errors, "vas", self.vas.as_ref(), 0, 100);
        match (systolic, diastolic, heart_rate, self.monitor_present) {
            (Some(systolic), Some(diastolic), Some(heart_rate), Some(monitor_present)) if errors.is_empty() => {
                Ok(CheckIn { reading: PreDose { systolic, diastolic, heart_rate, monitor_present }, vas })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// `POST /api/v1/self-report/dose-check`: go, or no-go with the reason.
pub async fn check(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    throttle(&state, &req)?;
    let (request, _) = parse_json::<CheckRequest>(&req, &body)?;
    checked(&request.token)?;
    let check_in = request.check_in()?;
    let now = state.clock.now();
    let outcome = state.db(move |conn| doses::check(conn, &request.token, check_in, now)).await?;
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DoseRequest {
    token: String,
    taken_at: Option<String>,
}

/// `POST /api/v1/self-report/dose`: "I took it at …"; the link is used up with it.
pub async fn dose(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    throttle(&state, &req)?;
    let (request, _) = parse_json::<DoseRequest>(&req, &body)?;
    checked(&request.token)?;
    let taken_at = match request.taken_at.as_deref() {
        None => return Err(ApiError::invalid("taken_at", "required: when the dose was taken")),
        Some(text) => parse_instant("taken_at", text).map_err(|e| ApiError::Validation(vec![e]))?,
    };
    let now = state.clock.now();
    let recorded = state.db(move |conn| doses::dose(conn, &request.token, taken_at, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(recorded))
}
