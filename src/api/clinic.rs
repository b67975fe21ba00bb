//! The caller's clinic and its settings.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::parse_json;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::domain::FieldError;
use crate::store::clinics::{self, ClinicChange};

/// Links live from five minutes to thirty days.
const LIFETIME_MINUTES: std::ops::RangeInclusive<i32> = 5..=43_200;

pub async fn get(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let clinic = caller.clinic_id;
    Ok(HttpResponse::Ok().json(state.db_as(&caller, move |conn| clinics::find(conn, clinic)).await?))
}

/// A merge patch of the settings: an absent field is unchanged, `null` resets it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // typed here, read through the raw patch, where absent and null differ
struct ClinicPatch {
    invitation_lifetime_minutes: Option<i32>,
    crisis_text: Option<String>,
    home_dose_advice: Option<String>,
    require_mfa: Option<bool>,
}

const MAX_CRISIS_TEXT: usize = 2_000;

pub async fn update(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let (_, patch) = parse_json::<ClinicPatch>(&req, &body)?;
    let given = |field: &str| patch.get(field).map(|v| (!v.is_null()).then_some(v));
    let mut change = ClinicChange::default();
    let mut errors = Vec::new();
    if let Some(minutes) = given("invitation_lifetime_minutes") {
        let minutes = minutes.and_then(|m| m.as_i64()).map(|m| m as i32);
        if minutes.is_some_and(|m| !LIFETIME_MINUTES.contains(&m)) {
            errors.push(FieldError::new("invitation_lifetime_minutes", "must be from 5 to 43200 minutes, or null for the window's length"));
        }
        change.invitation_lifetime_minutes = Some(minutes);
    }
    for (field, slot) in [("crisis_text", &mut change.crisis_text), ("home_dose_advice", &mut change.home_dose_advice)] {
        if let Some(text) = given(field) {
            let text = text.and_then(|t| t.as_str()).map(|t| t.trim().to_string());
            if text.as_ref().is_some_and(|t| t.is_empty() || t.chars().count() > MAX_CRISIS_TEXT) {
                errors.push(FieldError::new(field, format!("must be 1 to {MAX_CRISIS_TEXT} characters, or null for the default")));
            }
            *slot = Some(text);
        }
    }
    if let Some(required) = given("require_mfa") {
        match required.map(|r| r.as_bool()) {
            Some(Some(required)) => change.require_mfa = Some(required),
            _ => errors.push(FieldError::new("require_mfa", "must be true or false")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let actor = caller.actor();
    Ok(HttpResponse::Ok().json(state.db_as(&caller, move |conn| clinics::update(conn, &actor, change)).await?))
}
