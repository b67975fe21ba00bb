//! A clinic's licensed wording for its instruments (DESIGN.md §8): every version kept,
//! the newest shown; visible to that clinic only and never exported.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::{Actor, audit, stored};
use crate::db::schema::instrument_texts as t;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::domain::definitions::{Definition, TextSource, Wording, check_wording};
use crate::domain::instruments::Instrument;
use crate::error::{ApiError, ApiResult};

/// The wording a clinic supplied, at its version.
#[derive(Debug, Clone)]
pub struct Supplied {
    pub text_version: i32,
    pub wording: Wording,
}

/// The newest wording of each of the clinic's instruments that has any.
pub fn newest(conn: &mut Db, clinic: Uuid, instrument: Option<Instrument>) -> ApiResult<Vec<(Instrument, Supplied)>> {
    let mut query = t::table.filter(t::clinic_id.eq(DbUuid(clinic))).order((t::instrument.asc(), t::text_version.desc())).select((t::instrument, t::text_version, t::wording)).into_boxed();
    if let Some(instrument) = instrument {
        query = query.filter(t::instrument.eq(instrument.code()));
    }
    let rows: Vec<(String, i32, DbJson)> = query.load(conn)?;
    let mut newest: Vec<(Instrument, Supplied)> = Vec::new();
    for (code, text_version, wording) in rows {
        let instrument = stored("instrument", Instrument::parse(&code))?;
        if newest.last().is_some_and(|(last, _)| *last == instrument) {
            continue;
        }
        let wording = stored("instrument wording", serde_json::from_value(wording.0).ok())?;
        newest.push((instrument, Supplied { text_version, wording }));
    }
    Ok(newest)
}

/// The wording a patient of the clinic is shown for the instrument: bundled (`None`), the
/// clinic's newest, or 409 `instrument-text-missing` for a licensed one it has not supplied.
pub fn for_patients(conn: &mut Db, clinic: Uuid, instrument: Instrument) -> ApiResult<Option<Supplied>> {
    if instrument.definition().text_source == TextSource::Bundled {
        return Ok(None);
    }
    let supplied = newest(conn, clinic, Some(instrument))?.into_iter().next().map(|(_, s)| s);
    supplied.map(Some).ok_or(ApiError::InstrumentTextMissing(instrument.code()))
}

/// Stores a new version of the clinic's wording after checking it against the current
/// definition (422 by field); audited without the wording.
pub fn supply(conn: &mut Db, actor: &Actor, instrument: Instrument, wording: Wording, now: DateTime<Utc>) -> ApiResult<Supplied> {
    let definition: &Definition = instrument.definition();
    let faults = check_wording(definition, &wording);
    if !faults.is_empty() {
        return Err(ApiError::Validation(faults));
    }
    write_tx(conn, |conn| {
        let last: Option<i32> = t::table
            .filter(t::clinic_id.eq(DbUuid(actor.clinic_id)))
            .filter(t::instrument.eq(instrument.code()))
            .select(diesel::dsl::max(t::text_version))
            .first(conn)?;
        let text_version = last.unwrap_or(0) + 1;
        diesel::insert_into(t::table)
            .values((
                t::id.eq(DbUuid(Uuid::now_v7())),
                t::clinic_id.eq(DbUuid(actor.clinic_id)),
                t::instrument.eq(instrument.code()),
                t::definition_version.eq(definition.version as i32),
                t::text_version.eq(text_version),
                t::wording.eq(DbJsonOf(serde_json::to_value(&wording).expect("plain data serialises"))),
                t::created_at.eq(DbTime(now)),
                t::created_by.eq(DbUuid(actor.user_id)),
            ))
            .execute(conn)?;
        let detail = json!({"instrument": instrument.code(), "definition_version": definition.version, "text_version": text_version});
        audit::record(conn, actor.audit("instrument.text_supply", "instrument", None, detail))?;
        Ok(Supplied { text_version, wording })
    })
}
