//! The instrument catalogue (DESIGN.md §8): every definition as the caller's clinic sees
//! it, an admin supplying the clinic's licensed wording, and the clinic's own instruments
//! (§9), which only its staff see.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::parse_json;
use crate::auth::{Caller, Role};
use crate::domain::definitions::{Definition, TextSource, Wording, clinic_definition, with_wording};
use crate::domain::instruments::Instrument;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::clinic_instruments;
use crate::store::instrument_texts::{self, Supplied};

const STAFF: &[Role] = &[Role::Admin, Role::Clinician, Role::Researcher];

/// A definition as the clinic sees it: with its licensed wording laid in when the clinic
/// has supplied some, else with null texts and labels.
#[derive(Serialize)]
struct InstrumentView {
    #[serde(flatten)]
    definition: Definition,
    /// Whether a patient of this clinic can be asked it: bundled wording, or the clinic's.
    wording_available: bool,
    /// The version of the clinic's wording shown; null for bundled wording or none.
    text_version: Option<i32>,
    /// The licence the clinic says it holds (its own words), for staff.
    license_note: Option<String>,
}

fn view(instrument: Instrument, supplied: Option<&Supplied>) -> InstrumentView {
    let definition = instrument.definition();
    InstrumentView {
        wording_available: definition.text_source == TextSource::Bundled || supplied.is_some(),
        text_version: supplied.map(|s| s.text_version),
        license_note: supplied.and_then(|s| s.wording.license_note.clone()),
        definition: with_wording(definition, supplied.map(|s| &s.wording)),
    }
}

fn code_of(req: &HttpRequest) -> ApiResult<String> {
    req.match_info().get("code").map(str::to_string).ok_or(ApiError::NotFound)
}

/// The instrument a path names for the caller's clinic: a built-in or its own (404
/// otherwise, whether or not another clinic has one of that code).
async fn instrument_of(state: &AppState, caller: &Caller, req: &HttpRequest) -> ApiResult<Instrument> {
    let (code, clinic) = (code_of(req)?, caller.clinic_id);
    state.db_as(caller, move |conn| clinic_instruments::find(conn, clinic, &code)).await?.ok_or(ApiError::NotFound)
}

/// `GET /api/v1/instruments`: every instrument, as the caller's clinic sees it: the
/// built-in ones, then its own at their current versions.
pub async fn list(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require(STAFF)?;
    let clinic = caller.clinic_id;
    let (supplied, catalogue) = state.db_as(&caller, move |conn| Ok((instrument_texts::newest(conn, clinic, None)?, clinic_instruments::catalogue(conn, clinic)?))).await?;
    let items: Vec<InstrumentView> = catalogue.iter().map(|i| view(i, supplied.iter().find(|(s, _)| *s == i).map(|(_, s)| s))).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next_cursor": null})))
}

/// `GET /api/v1/instruments/{code}`.
pub async fn get(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(STAFF)?;
    let (instrument, clinic) = (instrument_of(&state, &caller, &req).await?, caller.clinic_id);
    let supplied = state.db_as(&caller, move |conn| instrument_texts::newest(conn, clinic, Some(instrument))).await?;
    Ok(HttpResponse::Ok().json(view(instrument, supplied.first().map(|(_, s)| s))))
}

/// `GET /api/v1/instruments/{code}/versions`: every version of one of the clinic's own
/// instruments, newest first (a built-in's are in the catalogue).
pub async fn versions(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(STAFF)?;
    let (code, clinic) = (code_of(&req)?, caller.clinic_id);
    let found = state.db_as(&caller, move |conn| clinic_instruments::versions(conn, clinic, Some(&code))).await?;
    if found.is_empty() {
        return Err(ApiError::NotFound);
    }
    let items: Vec<InstrumentView> = found.into_iter().map(|i| view(i, None)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next_cursor": null})))
}

/// `POST /api/v1/clinic/instruments` (admin): a clinic's own instrument, version 1.
pub async fn define(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    keep(state, caller, req, body, None).await
}

/// `PUT /api/v1/clinic/instruments/{code}` (admin): the next version of one; ratings keep
/// the version they were taken under.
pub async fn redefine(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let code = code_of(&req)?;
    keep(state, caller, req, body, Some(code)).await
}

async fn keep(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes, code: Option<String>) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    // A built-in's definition is onset's (only its wording is the clinic's), and another
    // clinic's is unknown here: both 404 before any complaint about the body.
    if code.is_some() && !instrument_of(&state, &caller, &req).await?.is_clinic() {
        return Err(ApiError::NotFound);
    }
    let (body, _) = parse_json::<serde_json::Value>(&req, &body)?;
    let definition = clinic_definition(body, code.as_deref()).map_err(ApiError::Validation)?;
    let (actor, now, replacing) = (caller.actor(), state.clock.now(), code.is_some());
    let kept = state.db_as(&caller, move |conn| clinic_instruments::keep(conn, &actor, definition, replacing, now)).await?;
    let status = if replacing { actix_web::http::StatusCode::OK } else { actix_web::http::StatusCode::CREATED };
    Ok(HttpResponse::build(status)
        .insert_header((actix_web::http::header::LOCATION, format!("/api/v1/instruments/{}", kept.code())))
        .json(view(kept, None)))
}

/// `PUT /api/v1/clinic/instruments/{code}/text` (admin): a new version of the clinic's
/// licensed wording, checked against the definition; that clinic's patients see it.
pub async fn supply_text(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let instrument = instrument_of(&state, &caller, &req).await?;
    let (wording, _) = parse_json::<Wording>(&req, &body)?;
    let (actor, now) = (caller.actor(), state.clock.now());
    let supplied = state.db_as(&caller, move |conn| instrument_texts::supply(conn, &actor, instrument, wording, now)).await?;
    Ok(HttpResponse::Ok().json(view(instrument, Some(&supplied))))
}
