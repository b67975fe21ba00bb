//! Staff MFA (DESIGN.md §12): enrolment, confirmation with recovery codes, removal, and the
//! second step of a login. Every code attempt is throttled like a password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{attempt_login, parse_json};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::mfa;

/// A code is six digits, a recovery code eleven characters; anything far longer is neither.
const MAX_CODE_CHARS: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    code: String,
}

fn code_of(req: &HttpRequest, body: &[u8]) -> ApiResult<String> {
    let (request, _) = parse_json::<CodeRequest>(req, body)?;
    if request.code.chars().count() > MAX_CODE_CHARS {
        return Err(ApiError::invalid("code", format!("must be at most {MAX_CODE_CHARS} characters")));
    }
    Ok(request.code)
}

/// `POST /api/v1/me/mfa/totp`: a new secret and its `otpauth://` URI, shown once.
pub async fn enrol(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let (actor, sealer, now) = (caller.actor(), state.sealer.clone(), state.clock.now());
    let enrolment = state.db_as_enrolling(&caller, move |conn| mfa::begin(conn, &actor, &sealer, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(enrolment))
}

/// `POST /api/v1/me/mfa/totp/confirm`: the first code turns MFA on; ten recovery codes,
/// shown once.
pub async fn confirm(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let code = code_of(&req, &body)?;
    attempt_login(&state, &req, &caller.email)?;
    let (actor, sealer, now) = (caller.actor(), state.sealer.clone(), state.clock.now());
    let codes = state.db_as_enrolling(&caller, move |conn| mfa::confirm(conn, &actor, &sealer, &code, now)).await?;
    Ok(HttpResponse::Ok().json(json!({"mfa_enabled": true, "recovery_codes": codes})))
}

/// `DELETE /api/v1/me/mfa`: off again, given a current code.
pub async fn remove(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let code = code_of(&req, &body)?;
    attempt_login(&state, &req, &caller.email)?;
    let (actor, sealer, now) = (caller.actor(), state.sealer.clone(), state.clock.now());
    state.db_as_enrolling(&caller, move |conn| mfa::remove(conn, &actor, &sealer, &code, now)).await?;
    Ok(HttpResponse::Ok().json(json!({"mfa_enabled": false})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondStep {
    pub mfa_token: String,
    pub code: String,
}
