//! Patient links: a clinician issues one for a due rating; the patient's page at `/r/`
//! opens it and sends the answer. Nothing here names a patient.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{client_address, parse_json, path_id};
use crate::auth::{CLINICAL, Caller};
use crate::domain::instruments::Instrument;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::doses;
use crate::store::invitations::{self, Answer};

#[derive(Serialize)]
struct Invitation {
    due_id: Uuid,
    /// The link to send the patient; the token is in the fragment, so it never reaches an
    /// access log or a `Referer`.
    url: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /api/v1/due/{id}/invitation`: a new link, shown once; the earlier one stops working.
pub async fn invite(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let due = path_id(&req)?;
    let (actor, now, public_url) = (caller.actor(), state.clock.now(), state.config.public_url.clone());
    let issued = state.db_as(&caller, move |conn| invitations::issue(conn, &actor, due, &public_url, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(Invitation { due_id: issued.due_id, url: issued.url, expires_at: issued.expires_at }))
}

/// A token is 43 characters; anything much longer is not one.
const MAX_TOKEN_CHARS: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    token: String,
    items: Option<BTreeMap<String, Value>>,
    total: Option<Value>,
}

pub(super) fn throttle(state: &AppState, req: &HttpRequest) -> ApiResult<()> {
    let address = client_address(req, &state.config);
    state.self_report_throttle.attempt(&address).map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })
}

pub(super) fn checked(token: &str) -> ApiResult<&str> {
    // An overlong token is unusable like any other: the same answer, no hashing of megabytes.
    if token.len() > MAX_TOKEN_CHARS { Err(ApiError::NotFound) } else { Ok(token) }
}

/// `POST /api/v1/self-report/open`: what the link asks.
pub async fn open(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    throttle(&state, &req)?;
    let (request, _) = parse_json::<OpenRequest>(&req, &body)?;
    checked(&request.token)?;
    let now = state.clock.now();
    // A rating's link or a dose's: the page asks which by the answer's `kind`.
    let opened = state
        .db(move |conn| match invitations::open(conn, &request.token, now) {
            Err(ApiError::NotFound) => doses::open(conn, &request.token, now).map(|view| serde_json::to_value(view).expect("plain data serialises")),
            other => other.map(|questionnaire| serde_json::to_value(questionnaire).expect("plain data serialises")),
        })
        .await?;
    Ok(HttpResponse::Ok().json(opened))
}

#[derive(Serialize)]
struct Received {
    received: bool,
    instrument: Instrument,
    rated_at: chrono::DateTime<chrono::Utc>,
    /// Present when the answer raised a suicidality alert: the page shows it at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    crisis_text: Option<String>,
}

/// `POST /api/v1/self-report`: the answer; the link is used up with it.
pub async fn submit(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    throttle(&state, &req)?;
    let (request, _) = parse_json::<SubmitRequest>(&req, &body)?;
    checked(&request.token)?;
    let now = state.clock.now();
    let answer = Answer { items: request.items, total: request.total };
    let submitted = state.db(move |conn| invitations::submit(conn, &request.token, answer, now)).await?;
    let record = submitted.record;
    Ok(HttpResponse::build(StatusCode::CREATED).json(Received {
        received: true,
        instrument: record.rating.instrument,
        rated_at: record.rating.rated_at,
        crisis_text: submitted.crisis_text,
    }))
}

/// `GET /r/`: the patient's page (plain HTML, CSS and JavaScript embedded in the binary).
pub async fn page() -> HttpResponse {
    super::asset("text/html; charset=utf-8", include_str!("page/index.html"))
}

pub async fn page_script() -> HttpResponse {
    super::asset("text/javascript; charset=utf-8", include_str!("page/app.js"))
}

pub async fn page_style() -> HttpResponse {
    super::asset("text/css; charset=utf-8", include_str!("page/app.css"))
}
