//! The caller's clinic and its settings.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::parse_json;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::clinics;

/// Links live from five minutes to thirty days.
const LIFETIME_MINUTES: std::ops::RangeInclusive<i32> = 5..=43_200;

pub async fn get(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let clinic = caller.clinic_id;
    Ok(HttpResponse::Ok().json(state.db(move |conn| clinics::find(conn, clinic)).await?))
}

/// A merge patch of the settings: an absent field is unchanged, `null` resets it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClinicPatch {
    #[allow(dead_code)] // read through the raw patch, where absent and null differ
    invitation_lifetime_minutes: Option<i32>,
}

pub async fn update(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let (_, patch) = parse_json::<ClinicPatch>(&req, &body)?;
    let actor = caller.actor();
    let Some(minutes) = patch.get("invitation_lifetime_minutes").map(|v| v.as_i64().map(|m| m as i32)) else {
        let clinic = actor.clinic_id;
        return Ok(HttpResponse::Ok().json(state.db(move |conn| clinics::find(conn, clinic)).await?));
    };
    if minutes.is_some_and(|m| !LIFETIME_MINUTES.contains(&m)) {
        return Err(ApiError::invalid("invitation_lifetime_minutes", "must be from 5 to 43200 minutes, or null for the window's length"));
    }
    Ok(HttpResponse::Ok().json(state.db(move |conn| clinics::set_invitation_lifetime(conn, &actor, minutes)).await?))
}
