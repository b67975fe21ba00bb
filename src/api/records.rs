//! What amending any clinical record shares: a merge patch (RFC 7396) laid over the
//! record as a client would send it, a required reason, and optimistic concurrency.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, FieldError};

use super::Precondition;

pub const MAX_REASON: usize = 2_000;

/// RFC 7396: members of `patch` replace those of `target`, `null` removes, objects merge.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

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

/// Runs an optimistic read-modify-write. When the client pinned a version with
/// `If-Match`, a concurrent change is its 412; otherwise the change is simply retried
/// on the version that won.
pub fn with_current_version<T>(precondition: &Precondition, mut attempt: impl FnMut() -> ApiResult<T>) -> ApiResult<T> {
    const ATTEMPTS: usize = 5;
    for _ in 1..ATTEMPTS {
        match attempt() {
            Err(ApiError::PreconditionFailed) if !precondition.is_pinned() => continue,
            other => return other,
        }
    }
    attempt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "items": {"1": 2}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}, "items": {"2": 3}, "new": [1]}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}, "items": {"1": 2, "2": 3}, "new": [1]}));
        let mut scalar = json!({"a": 1});
        merge_patch(&mut scalar, &json!(["x"]));
        assert_eq!(scalar, json!(["x"]));
    }

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

    #[test]
    fn unpinned_changes_retry_and_pinned_ones_fail() {
        let mut calls = 0;
        let result = with_current_version(&Precondition::None, || {
            calls += 1;
            if calls < 3 { Err(ApiError::PreconditionFailed) } else { Ok(calls) }
        });
        assert_eq!(result.unwrap(), 3);
        let pinned = Precondition::Tags(vec!["\"1\"".into()]);
        assert!(matches!(with_current_version(&pinned, || Err::<(), _>(ApiError::PreconditionFailed)), Err(ApiError::PreconditionFailed)));
    }
}

// ---------------------------------------------------------------------------------------
// The handlers shared by every amendable clinical record (sessions and ratings).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

use super::{ListQuery, created, from_value, idempotency_key, list_response, parse_json, path_id, query, replay, validation, with_etag};
use crate::auth::{CLINICAL, Caller};
use crate::db::Db;
use crate::domain::RecordStatus;
use crate::state::AppState;
use crate::store::{Actor, Page, audit, idempotency, now, patients, revisions};

/// A clinical record that belongs to a patient and changes only by amendment.
pub trait Record: Serialize + Sized + Send + 'static {
    /// The validated clinical content (a rating, a session).
    type Fields: Send + 'static;
    /// The content as a client sends it; every field optional so a patch can merge over it.
    type Input: DeserializeOwned + Serialize;
    /// `assessment` or `infusion`: audit entity and revision kind.
    const ENTITY: &'static str;
    /// Where a single record lives, e.g. `/api/v1/assessments`.
    const COLLECTION: &'static str;

    fn parse(input: &Self::Input, now: DateTime<Utc>) -> Result<Self::Fields, Vec<FieldError>>;
    fn to_input(fields: &Self::Fields) -> Self::Input;
    fn fields(&self) -> &Self::Fields;
    fn id(&self) -> Uuid;
    fn version(&self) -> i32;
    /// The record as the API shows it.
    fn view(&self) -> Value {
        serde_json::to_value(self).expect("plain data serialises")
    }
    /// Adjusts the stored content before a client's patch is merged over it.
    fn before_merge(_stored: &mut Value, _patch: &Value) {}

    fn create(conn: &mut Db, actor: &Actor, patient: Uuid, fields: &Self::Fields) -> ApiResult<Self>;
    fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self>;
    fn list(conn: &mut Db, clinic: Uuid, patient: Uuid, page: Page) -> ApiResult<(Vec<Self>, Option<Uuid>)>;
    fn save_version(
        conn: &mut Db,
        actor: &Actor,
        id: Uuid,
        expected_version: i32,
        fields: &Self::Fields,
        status: RecordStatus,
        reason: &str,
    ) -> ApiResult<Self>;
}

fn action<R: Record>(verb: &str) -> String {
    format!("{}.{verb}", R::ENTITY)
}

fn ok<R: Record>(record: &R) -> HttpResponse {
    with_etag(StatusCode::OK, &record.view(), record.version())
}

pub async fn create<R: Record>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let patient = path_id(&req)?;
    // A bad body is reported only once the patient is known to be the caller's (else 404).
    let request = parse_json::<R::Input>(&req, &body).and_then(|(input, canonical)| {
        let fields = R::parse(&input, now()).map_err(validation)?;
        Ok((fields, idempotency_key(&req, &caller, &canonical)?))
    });
    let actor = caller.actor();
    let stored = state
        .db(move |conn| {
            patients::exists(conn, actor.clinic_id, patient)?;
            let (fields, key) = request?;
            idempotency::once(conn, key.as_ref(), |conn| {
                let record = R::create(conn, &actor, patient, &fields)?;
                Ok(created(&record.view(), format!("{}/{}", R::COLLECTION, record.id()), record.version()))
            })
        })
        .await?;
    Ok(replay(stored))
}

pub async fn list<R: Record>(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let patient = path_id(&req)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let actor = caller.actor();
    let (records, next) = state
        .db(move |conn| {
            patients::exists(conn, actor.clinic_id, patient)?;
            let listed = R::list(conn, actor.clinic_id, patient, page)?;
            audit::append(conn, actor.audit(action::<R>("list"), "patient", Some(patient), json!({"count": listed.0.len()})))?;
            Ok(listed)
        })
        .await?;
    Ok(list_response((records.iter().map(R::view).collect(), next)))
}

pub async fn get<R: Record>(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let actor = caller.actor();
    let record = state
        .db(move |conn| {
            let record = R::find(conn, actor.clinic_id, id)?;
            audit::append(conn, actor.audit(action::<R>("read"), R::ENTITY, Some(id), json!({})))?;
            Ok(record)
        })
        .await?;
    Ok(ok(&record))
}

pub async fn amend<R: Record>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let request = parse_json::<Value>(&req, &body).and_then(|(mut patch, _)| {
        let reason = take_reason(&mut patch)?;
        from_value::<R::Input>(patch.clone())?; // unknown fields are refused before any merge
        Ok((patch, reason, Precondition::from_request(&req, &state.config)?))
    });
    let actor = caller.actor();
    let record = state
        .db(move |conn| {
            R::find(conn, actor.clinic_id, id)?;
            let (patch, reason, precondition) = request?;
            with_current_version(&precondition, || {
                let current = R::find(conn, actor.clinic_id, id)?;
                let mut merged = serde_json::to_value(R::to_input(current.fields())).expect("plain data serialises");
                R::before_merge(&mut merged, &patch);
                merge_patch(&mut merged, &patch);
                // Invalid input is a 422 whatever the version; only a valid change can be stale.
                let fields = R::parse(&from_value::<R::Input>(merged)?, now()).map_err(validation)?;
                precondition.check(current.version())?;
                R::save_version(conn, &actor, id, current.version(), &fields, RecordStatus::Active, &reason)
            })
        })
        .await?;
    Ok(ok(&record))
}

pub async fn retract<R: Record>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let request = retraction_reason(&req, &body).and_then(|reason| Ok((reason, Precondition::from_request(&req, &state.config)?)));
    let actor = caller.actor();
    let record = state
        .db(move |conn| {
            R::find(conn, actor.clinic_id, id)?;
            let (reason, precondition) = request?;
            with_current_version(&precondition, || {
                let current = R::find(conn, actor.clinic_id, id)?;
                precondition.check(current.version())?;
                R::save_version(conn, &actor, id, current.version(), current.fields(), RecordStatus::EnteredInError, &reason)
            })
        })
        .await?;
    Ok(ok(&record))
}

pub async fn revisions<R: Record>(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    revisions_page(state, caller, req, R::ENTITY, |conn, clinic, id| R::find(conn, clinic, id).map(|_| ())).await
}

/// A page of a record's versions, oldest first, for the clinic's clinical roles; `exists`
/// makes another clinic's record (or none) a 404. The read is audited.
pub async fn revisions_page(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    entity: &'static str,
    exists: fn(&mut Db, Uuid, Uuid) -> ApiResult<()>,
) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let id = path_id(&req)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let actor = caller.actor();
    let listed = state
        .db(move |conn| {
            exists(conn, actor.clinic_id, id)?;
            let listed = revisions::list(conn, actor.clinic_id, entity, id, page)?;
            audit::append(conn, actor.audit(format!("{entity}.revisions"), entity, Some(id), json!({"count": listed.0.len()})))?;
            Ok(listed)
        })
        .await?;
    Ok(list_response(listed))
}
