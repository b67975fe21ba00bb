//! Liveness, readiness, metrics and the contract.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const OPENAPI: &str = include_str!("../../openapi.yaml");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers.
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state
        .db(|conn| crate::store::ping(conn).map_err(|e| ApiError::DatabaseUnavailable(format!("database: {e}"))))
        .await
        .map_err(|e| match e {
            ApiError::DatabaseUnavailable(_) => e,
            other => ApiError::DatabaseUnavailable(other.to_string()),
        })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.pool))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml").body(OPENAPI)
}
