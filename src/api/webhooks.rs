//! Webhook endpoints (admin) and their delivery logs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ListQuery, list_response, parse_json, path_id, query};
use crate::auth::{Caller, Role};
use crate::domain::FieldError;
use crate::domain::webhooks::Event;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::webhooks;

const ADMIN: &[Role] = &[Role::Admin];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    events: Vec<String>,
}

/// `POST /api/v1/webhooks`: the answer shows the signing secret, once.
pub async fn create(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(ADMIN)?;
    let (new, _) = parse_json::<NewEndpoint>(&req, &body)?;
    let mut errors = Vec::new();
    if let Err(why) = state.webhooks.reachable(&new.url).await {
        errors.push(FieldError::new("url", why));
    }
    let mut events = Vec::new();
    if new.events.is_empty() || new.events.len() > Event::ALL.len() {
        errors.push(FieldError::new("events", format!("give 1 to {} of: {}", Event::ALL.len(), Event::codes().join(", "))));
    } else {
        for (i, code) in new.events.iter().enumerate() {
            match Event::parse(code) {
                Some(event) if !events.contains(&event) => events.push(event),
                Some(_) => errors.push(FieldError::new(format!("events.{i}"), "listed twice")),
                None => errors.push(FieldError::new(format!("events.{i}"), format!("must be one of: {}", Event::codes().join(", ")))),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (actor, now, url, sealer) = (caller.actor(), state.clock.now(), new.url, state.sealer.clone());
    let endpoint = state.db_as(&caller, move |conn| webhooks::create_endpoint(conn, &actor, url, events, &sealer, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(endpoint))
}

pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(ADMIN)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let clinic = caller.clinic_id;
    Ok(list_response(state.db_as(&caller, move |conn| webhooks::list_endpoints(conn, clinic, page)).await?))
}

pub async fn get(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(ADMIN)?;
    let (id, clinic) = (path_id(&req)?, caller.clinic_id);
    Ok(HttpResponse::Ok().json(state.db_as(&caller, move |conn| webhooks::find_endpoint(conn, clinic, id)).await?))
}

/// `DELETE /api/v1/webhooks/{id}`: stops sending; the delivery log stays.
pub async fn deactivate(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(ADMIN)?;
    let (id, actor, now) = (path_id(&req)?, caller.actor(), state.clock.now());
    Ok(HttpResponse::Ok().json(state.db_as(&caller, move |conn| webhooks::deactivate(conn, &actor, id, now)).await?))
}

/// `GET /api/v1/webhooks/{id}/deliveries`: newest first.
pub async fn deliveries(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(ADMIN)?;
    let (id, clinic) = (path_id(&req)?, caller.clinic_id);
    let page = query::<ListQuery>(&req)?.page()?;
    Ok(list_response(state.db_as(&caller, move |conn| webhooks::deliveries(conn, clinic, id, page)).await?))
}
