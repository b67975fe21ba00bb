//! The instrument catalogue (DESIGN.md §8): every definition as the caller's clinic sees
//! it, and an admin supplying the clinic's licensed wording.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::parse_json;
use crate::auth::{Caller, Role};
use crate::domain::definitions::{Definition, TextSource, Wording, with_wording};
use crate::domain::instruments::Instrument;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::instrument_texts::{self, Supplied};

const STAFF: &[Role] = &[Role::Admin, Role::Clinician, Role::Researcher];

/// A definition as the clinic sees it: with its licensed wording laid in when the clinic
/// has supplied some, else with null texts and labels.
#[derive(Serialize)]
struct InstrumentView {
    kind: &'static str,
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
        kind: "built_in",
        wording_available: definition.text_source == TextSource::Bundled || supplied.is_some(),
        text_version: supplied.map(|s| s.text_version),
        license_note: supplied.and_then(|s| s.wording.license_note.clone()),
        definition: with_wording(definition, supplied.map(|s| &s.wording)),
    }
}

fn instrument_of(req: &HttpRequest) -> ApiResult<Instrument> {
    req.match_info().get("code").and_then(Instrument::parse).ok_or(ApiError::NotFound)
}

/// `GET /api/v1/instruments`: every instrument, as the caller's clinic sees it.
pub async fn list(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require(STAFF)?;
    let clinic = caller.clinic_id;
    let supplied = state.db_as(&caller, move |conn| instrument_texts::newest(conn, clinic, None)).await?;
    let items: Vec<InstrumentView> = Instrument::ALL.iter().map(|i| view(*i, supplied.iter().find(|(s, _)| s == i).map(|(_, s)| s))).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next_cursor": null})))
}

/// `GET /api/v1/instruments/{code}`.
pub async fn get(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(STAFF)?;
    let (instrument, clinic) = (instrument_of(&req)?, caller.clinic_id);
    let supplied = state.db_as(&caller, move |conn| instrument_texts::newest(conn, clinic, Some(instrument))).await?;
    Ok(HttpResponse::Ok().json(view(instrument, supplied.first().map(|(_, s)| s))))
}

/// `PUT /api/v1/clinic/instruments/{code}/text` (admin): a new version of the clinic's
/// licensed wording, checked against the definition; that clinic's patients see it.
pub async fn supply_text(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let instrument = instrument_of(&req)?;
    let (wording, _) = parse_json::<Wording>(&req, &body)?;
    let (actor, now) = (caller.actor(), state.clock.now());
    let supplied = state.db_as(&caller, move |conn| instrument_texts::supply(conn, &actor, instrument, wording, now)).await?;
    Ok(HttpResponse::Ok().json(view(instrument, Some(&supplied))))
}
