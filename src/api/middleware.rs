//! One span per request with a request id, metrics, and problem+json for every error
//! response that actix itself produced (unknown route, body too large, …).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{Error, ResponseError, web};
use tracing::Instrument;

use crate::error::{ApiError, PROBLEM_JSON};
use crate::metrics::RequestLabels;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn observe(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = uuid::Uuid::now_v7().to_string();
    let method = crate::metrics::method_label(req.method()).to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // The path is logged without its query string, which may carry filters.
    let span = tracing::info_span!("request", request_id = %request_id, %method, path = %req.path());
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    let status = response.status();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(state) = state {
        state.metrics.observe(
            RequestLabels { method, route: route.clone(), status: status.as_u16().to_string() },
            elapsed.as_secs_f64(),
        );
    }
    span.in_scope(|| tracing::info!(status = status.as_u16(), %route, latency_ms = elapsed.as_secs_f64() * 1000.0, "served"));
    Ok(response)
}

/// Bounds a request from its first byte to its answer's head: actix's own timeout stops
/// at the headers, so a body sent a byte at a time would otherwise hold a connection and
/// a worker's attention for as long as the client likes. A streamed answer (an export) is
/// bounded by its own send timeout once its head is out.
pub async fn deadline(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let limit = req.app_data::<web::Data<AppState>>().map_or(std::time::Duration::from_secs(30), |s| s.config.request_timeout);
    match actix_web::rt::time::timeout(limit, next.call(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs(), "request cut off at its deadline");
            // The outermost layer: actix answers this error with its problem+json.
            Err(ApiError::RequestTimeout.into())
        }
    }
}

pub fn problem_for(status: StatusCode) -> ApiError {
    match status.as_u16() {
        400 => ApiError::BadRequest("the request could not be read".into()),
        401 => ApiError::Unauthorized("authentication required".into()),
        403 => ApiError::Forbidden,
        404 => ApiError::NotFound,
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge,
        415 => ApiError::UnsupportedMediaType("unsupported media type".into()),
        s if s < 500 => ApiError::BadRequest(status.canonical_reason().unwrap_or("bad request").to_lowercase()),
        _ => ApiError::Internal(format!("framework error {status}")),
    }
}

/// Rewrites an error response that is not yet problem+json into one (under `/fhir/`,
/// every error into an `OperationOutcome`).
pub fn to_problem<B: MessageBody + 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.request().path().starts_with("/fhir/") {
        return Ok(ErrorHandlerResponse::Response(super::fhir::outcome(res).map_into_right_body()));
    }
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, original) = res.into_parts();
    let problem = problem_for(original.status()).error_response();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, problem).map_into_right_body()))
}
