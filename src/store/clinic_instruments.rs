//! A clinic's own instruments (DESIGN.md §9): definitions in the built-ins' format, coded
//! `x_<name>`, every version kept whole and never changed; `PUT` makes the next version,
//! so a version a rating was taken under stays what it was. Visible to that clinic only.
//!
//! A definition is read into the process once per version (`Instrument::of_clinic`); the
//! domain then parses codes against a `Catalogue` without touching the database.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::{Actor, audit, stored};
use crate::db::schema::clinic_instruments as ci;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::domain::definitions::{Definition, MAX_CLINIC_INSTRUMENTS, MAX_CLINIC_VERSIONS, is_clinic_code};
use crate::domain::instruments::{Catalogue, Instrument};
use crate::error::{ApiError, ApiResult};

fn interned(clinic: Uuid, code: &str, version: i32, definition: DbJson) -> ApiResult<Instrument> {
    let version = version as u32;
    if let Some(kept) = Instrument::kept(clinic, code, version) {
        return Ok(kept);
    }
    let definition: Definition = stored("clinic instrument definition", serde_json::from_value(definition.0).ok())?;
    Ok(Instrument::of_clinic(clinic, definition))
}

/// The clinic's instruments at their current versions, by code. The versions are listed
/// without their definitions; only a version this process has not read yet is fetched.
pub fn current(conn: &mut Db, clinic: Uuid) -> ApiResult<Vec<Instrument>> {
    let listed: Vec<(DbUuid, String, i32)> = ci::table
        .filter(ci::clinic_id.eq(DbUuid(clinic)))
        .order((ci::code.asc(), ci::version.desc()))
        .select((ci::id, ci::code, ci::version))
        .load(conn)?;
    let mut newest: Vec<(DbUuid, String, i32)> = Vec::new();
    for row in listed {
        if newest.last().is_none_or(|last| last.1 != row.1) {
            newest.push(row);
        }
    }
    let unread: Vec<DbUuid> = newest.iter().filter(|(_, code, version)| Instrument::kept(clinic, code, *version as u32).is_none()).map(|(id, _, _)| *id).collect();
    if !unread.is_empty() {
        let rows: Vec<(String, i32, DbJson)> = ci::table.filter(ci::id.eq_any(unread)).select((ci::code, ci::version, ci::definition)).load(conn)?;
        for (code, version, definition) in rows {
            interned(clinic, &code, version, definition)?;
        }
    }
    newest.iter().map(|(_, code, version)| stored_instrument(clinic, code, *version)).collect()
}

/// The built-in instruments and the clinic's own.
pub fn catalogue(conn: &mut Db, clinic: Uuid) -> ApiResult<Catalogue> {
    Ok(Catalogue::with_clinic(current(conn, clinic)?))
}

/// The catalogue a request naming `codes` needs: the built-in one, read from nowhere,
/// unless it names a clinic code.
pub fn catalogue_naming(conn: &mut Db, clinic: Uuid, codes: &[&str]) -> ApiResult<Catalogue> {
    if codes.iter().any(|code| is_clinic_code(code)) { catalogue(conn, clinic) } else { Ok(Catalogue::built_in()) }
}

/// One of the clinic's instruments (current version), or a built-in; `None` if neither.
pub fn find(conn: &mut Db, clinic: Uuid, code: &str) -> ApiResult<Option<Instrument>> {
    if !is_clinic_code(code) {
        return Ok(Instrument::parse(code));
    }
    let row: Option<(i32, DbJson)> = ci::table
        .filter(ci::clinic_id.eq(DbUuid(clinic)))
        .filter(ci::code.eq(code))
        .order(ci::version.desc())
        .select((ci::version, ci::definition))
        .first(conn)
        .optional()?;
    row.map(|(version, definition)| interned(clinic, code, version, definition)).transpose()
}

/// Resolves the instrument codes of stored rows (rating points) to instruments: built-ins
/// at once, a clinic's codes by its current versions, read once per clinic.
#[derive(Default)]
pub struct Resolver {
    by_clinic: std::collections::HashMap<Uuid, Vec<Instrument>>,
}

impl Resolver {
    pub fn resolve(&mut self, conn: &mut Db, clinic: Uuid, code: &str) -> ApiResult<Instrument> {
        if !is_clinic_code(code) {
            return stored("instrument", Instrument::parse(code));
        }
        if !self.by_clinic.contains_key(&clinic) {
            let own = current(conn, clinic)?;
            self.by_clinic.insert(clinic, own);
        }
        stored("instrument", self.by_clinic[&clinic].iter().copied().find(|i| i.code() == code))
    }
}

/// Reads into the process the clinic instruments' versions that stored rows name, so
/// that `Instrument::stored` knows them; nothing is read for built-in codes.
pub fn remember<'a>(conn: &mut Db, clinic: Uuid, named: impl IntoIterator<Item = (&'a str, u32)>) -> ApiResult<()> {
    let missing: BTreeSet<&str> = named.into_iter().filter(|(code, version)| is_clinic_code(code) && Instrument::kept(clinic, code, *version).is_none()).map(|(code, _)| code).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let rows: Vec<(String, i32, DbJson)> = ci::table
        .filter(ci::clinic_id.eq(DbUuid(clinic)))
        .filter(ci::code.eq_any(missing))
        .select((ci::code, ci::version, ci::definition))
        .load(conn)?;
    for (code, version, definition) in rows {
        interned(clinic, &code, version, definition)?;
    }
    Ok(())
}

/// The instrument a stored row names: 500-class `stored` error if the clinic's version is
/// not known (it always is after `remember`).
pub fn stored_instrument(clinic: Uuid, code: &str, version: i32) -> ApiResult<Instrument> {
    stored("instrument", Instrument::stored(clinic, code, version as u32))
}

/// Every version of the clinic's instruments (of one, if `code` is given), by code and
/// newest first.
pub fn versions(conn: &mut Db, clinic: Uuid, code: Option<&str>) -> ApiResult<Vec<Instrument>> {
    let mut query = ci::table.filter(ci::clinic_id.eq(DbUuid(clinic))).order((ci::code.asc(), ci::version.desc())).select((ci::code, ci::version, ci::definition)).into_boxed();
    if let Some(code) = code {
        query = query.filter(ci::code.eq(code.to_string()));
    }
    let rows: Vec<(String, i32, DbJson)> = query.load(conn)?;
    rows.into_iter().map(|(code, version, definition)| interned(clinic, &code, version, definition)).collect()
}

pub fn every_version(conn: &mut Db, clinic: Uuid) -> ApiResult<Vec<Instrument>> {
    versions(conn, clinic, None)
}

/// Keeps a new version of a clinic instrument: version 1 of a new code (`POST`, 409 if
/// the code is taken) or the next version of an existing one (`PUT`, 404 if there is
/// none). The definition was checked by the domain; its version is set here.
pub fn keep(conn: &mut Db, actor: &Actor, mut definition: Definition, replacing: bool, now: DateTime<Utc>) -> ApiResult<Instrument> {
    let clinic = actor.clinic_id;
    write_tx(conn, |conn| {
        let last: Option<i32> = ci::table
            .filter(ci::clinic_id.eq(DbUuid(clinic)))
            .filter(ci::code.eq(&definition.code))
            .select(diesel::dsl::max(ci::version))
            .first(conn)?;
        match (last, replacing) {
            (None, true) => return Err(ApiError::NotFound),
            (Some(_), false) => return Err(ApiError::Conflict(format!("the clinic already has an instrument {}: PUT makes its next version", definition.code))),
            (Some(last), true) if last as usize >= MAX_CLINIC_VERSIONS => {
                return Err(ApiError::Conflict(format!("{} has {MAX_CLINIC_VERSIONS} versions, the most an instrument may have", definition.code)));
            }
            (None, false) => {
                let codes: Vec<String> = ci::table.filter(ci::clinic_id.eq(DbUuid(clinic))).select(ci::code).distinct().load(conn)?;
                if codes.len() >= MAX_CLINIC_INSTRUMENTS {
                    return Err(ApiError::Conflict(format!("the clinic has {MAX_CLINIC_INSTRUMENTS} instruments, the most it may have")));
                }
            }
            _ => {}
        }
        definition.version = last.map_or(1, |v| v as u32 + 1);
        diesel::insert_into(ci::table)
            .values((
                ci::id.eq(DbUuid(Uuid::now_v7())),
                ci::clinic_id.eq(DbUuid(clinic)),
                ci::code.eq(&definition.code),
                ci::version.eq(definition.version as i32),
                ci::definition.eq(DbJsonOf(serde_json::to_value(&definition).expect("plain data serialises"))),
                ci::created_at.eq(DbTime(now)),
                ci::created_by.eq(DbUuid(actor.user_id)),
            ))
            .execute(conn)?;
        let verb = if replacing { "instrument.version" } else { "instrument.create" };
        audit::record(conn, actor.audit(verb, "instrument", None, json!({"instrument": definition.code, "version": definition.version})))?;
        Ok(Instrument::of_clinic(clinic, definition))
    })
}
