//! The handlers of every clinical record kept with history (sessions and ratings; patients
//! share the reads and writes): each parses the request, calls the store's record path
//! (`store::records`) and renders what it returns. Amendments and retractions need a
//! reason.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use uuid::Uuid;

use super::{ListQuery, created, from_value, idempotency_key, list_response, parse_json, path_id, precondition, query, replay, with_etag};
use crate::auth::{CLINICAL, Caller};
use crate::domain::RecordStatus;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::store::records::{self, Amendment, Kept};

pub const MAX_REASON: usize = 2_000;

/// Takes the required `reason` out of an amendment or retraction body.
pub fn take_reason(body: &mut Value) -> ApiResult<String> {
    let Value::Object(map) = body else {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    };
    let reason = match map.remove("reason") {
        Some(Value::String(r)) if !r.trim().is_empty() && r.chars().count() <= MAX_REASON => r.trim().to_string(),
        Some(Value::String(_)) => return Err(ApiError::invalid("reason", format!("must be 1 to {MAX_REASON} characters"))),
        Some(_) => return Err(ApiError::invalid("reason", "must be a string")),
        None => return Err(ApiError::invalid("reason", "required: say why the record changes")),
    };
    Ok(reason)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonQuery {
    reason: Option<String>,
}

/// A retraction's reason: from a JSON body `{reason}`, or, since many clients and proxies
/// drop DELETE bodies, from `?reason=` when there is no body.
pub fn retraction_reason(req: &HttpRequest, body: &[u8]) -> ApiResult<String> {
    let in_query = query::<ReasonQuery>(req)?.reason;
    match (body.is_empty(), in_query) {
        (true, given) => only_reason(given.map_or_else(|| serde_json::json!({}), |reason| serde_json::json!({ "reason": reason }))),
        (false, None) => parse_json::<Value>(req, body).and_then(|(body, _)| only_reason(body)),
        (false, Some(_)) => Err(ApiError::invalid("reason", "give the reason in the body or in the query, not both")),
    }
}

/// A body that may only carry `reason` (a retraction).
pub fn only_reason(mut body: Value) -> ApiResult<String> {
    let reason = take_reason(&mut body)?;
    if let Value::Object(rest) = &body {
        if let Some(extra) = rest.keys().next() {
            return Err(ApiError::Validation(vec![FieldError::new(extra.clone(), "unknown field: only `reason` is accepted")]));
        }
    }
    Ok(reason)
}


/// The record as it now stands, with its version as the entity tag.
pub fn ok<R: Kept>(record: &R) -> HttpResponse {
    with_etag(StatusCode::OK, &record.view(), record.version())
}

/// Creates a record of `owner`; a retry with the same `Idempotency-Key` gets the first answer.
pub async fn create_of<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes, owner: R::Owner) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    // A bad body is reported only once the owner is known to be the caller's (else 404).
    let request = parse_json::<R::Input>(&req, &body).and_then(|(input, canonical)| Ok((input, idempotency_key(&req, &caller, &canonical)?)));
    let actor = caller.actor();
    let render = |record: &R| created(&record.view(), format!("/api/v1/{}s/{}", R::ENTITY, record.id()), record.version());
    let stored = state.db_as(&caller, move |conn| records::create::<R>(conn, &actor, owner, request, render)).await?;
    Ok(replay(stored))
}

/// `POST /api/v1/patients/{id}/<records>`.
pub async fn create<R: Kept<Owner = Uuid>>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let patient = path_id(&req)?;
    create_of::<R>(state, caller, req, body, patient).await
}

pub async fn list_of<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, owner: R::Owner) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let actor = caller.actor();
    let (records, next) = state.db_as(&caller, move |conn| records::list::<R>(conn, &actor, owner, page)).await?;
    Ok(list_response((records.iter().map(R::view).collect(), next)))
}

/// `GET /api/v1/patients/{id}/<records>`.
pub async fn list<R: Kept<Owner = Uuid>>(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let patient = path_id(&req)?;
    list_of::<R>(state, caller, req, patient).await
}

pub async fn get<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let record = state.db_as(&caller, move |conn| records::read::<R>(conn, &actor, id)).await?;
    Ok(ok(&record))
}

/// Runs an amendment or retraction through the store and renders the new version.
pub async fn change<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, amendment: ApiResult<Amendment>) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let record = state.db_as(&caller, move |conn| records::amend::<R>(conn, &actor, id, amendment)).await?;
    Ok(ok(&record))
}

pub async fn amend<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let amendment = parse_json::<Value>(&req, &body).and_then(|(mut patch, _)| {
        let reason = take_reason(&mut patch)?;
        from_value::<R::Input>(patch.clone())?; // unknown fields are refused before any merge
        Ok(Amendment { patch, status: RecordStatus::Active, reason: Some(reason), precondition: precondition(&req, &state.config)? })
    });
    change::<R>(state, caller, req, amendment).await
}

pub async fn retract<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let amendment = retraction_reason(&req, &body).and_then(|reason| {
        let patch = Value::Object(serde_json::Map::new());
        Ok(Amendment { patch, status: RecordStatus::EnteredInError, reason: Some(reason), precondition: precondition(&req, &state.config)? })
    });
    change::<R>(state, caller, req, amendment).await
}

/// A page of a record's versions, oldest first.
pub async fn revisions<R: Kept>(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let actor = caller.actor();
    let listed = state.db_as(&caller, move |conn| records::history::<R>(conn, &actor, id, page)).await?;
    Ok(list_response(listed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reason_is_required_and_taken_out() {
        let mut body = json!({"reason": " typo ", "total": 3});
        assert_eq!(take_reason(&mut body).unwrap(), "typo");
        assert_eq!(body, json!({"total": 3}));
        assert!(take_reason(&mut json!({"total": 3})).is_err());
        assert!(take_reason(&mut json!({"reason": "  "})).is_err());
        assert!(take_reason(&mut json!({"reason": 5})).is_err());
        assert!(only_reason(json!({"reason": "dup", "total": 3})).is_err());
        assert_eq!(only_reason(json!({"reason": "dup"})).unwrap(), "dup");
    }
}
