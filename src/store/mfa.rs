//! Staff MFA (DESIGN.md §12): the TOTP secret of an account, sealed at rest, pending until
//! a first code confirms it; the last time step used, so each code works once; and the
//! account's recovery codes, kept as SHA-256 and each used once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::{Actor, audit};
use crate::auth::mfa;
use crate::auth::seal::Sealer;
use crate::db::schema::{mfa_recovery_codes as r, mfa_totp as t, users as u};
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::error::{ApiError, ApiResult};

/// What enrolment shows once: the secret to type, and the URI a QR code carries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

fn enabled(conn: &mut Db, user: Uuid) -> ApiResult<bool> {
    let on: Option<bool> = u::table.find(DbUuid(user)).select(u::mfa_enabled).first(conn).optional()?;
    Ok(on.unwrap_or(false))
}

/// Starts enrolment (or starts it again): a new secret, pending until confirmed. 409 when
/// MFA is already on: it is removed first, with a code.
pub fn begin(conn: &mut Db, actor: &Actor, sealer: &Sealer, now: DateTime<Utc>) -> ApiResult<Enrolment> {
    write_tx(conn, |conn| {
        if enabled(conn, actor.user_id)? {
            return Err(ApiError::Conflict("MFA is already on for this account: remove it first (DELETE /api/v1/me/mfa)".into()));
        }
        let (bytes, secret) = mfa::new_secret();
        diesel::delete(t::table.find(DbUuid(actor.user_id))).execute(conn)?;
        diesel::insert_into(t::table)
            .values((t::user_id.eq(DbUuid(actor.user_id)), t::secret_sealed.eq(sealer.seal(&secret)), t::last_step.eq(0i64), t::created_at.eq(DbTime(now))))
            .execute(conn)?;
        audit::record(conn, actor.audit("mfa.enrol", "user", Some(actor.user_id), json!({})))?;
        Ok(Enrolment { otpauth_uri: mfa::otpauth_uri(&bytes, &actor.email), secret })
    })
}

/// The account's secret and whether it is confirmed.
fn secret_of(conn: &mut Db, sealer: &Sealer, user: Uuid) -> ApiResult<Option<(Vec<u8>, bool)>> {
    let row: Option<(String, Option<DbTime>)> = t::table.find(DbUuid(user)).select((t::secret_sealed, t::confirmed_at)).first(conn).optional()?;
    let Some((sealed, confirmed)) = row else { return Ok(None) };
    let secret = sealer.open(&sealed).and_then(|text| mfa::secret_from_text(&text)).ok_or_else(|| ApiError::Internal("an MFA secret cannot be opened".into()))?;
    Ok(Some((secret, confirmed.is_some())))
}

/// Uses a TOTP code: right for now (one step of drift) and of a later step than any used
/// before, so a code seen once is refused after. The step moves in a conditional UPDATE:
/// two logins racing with one code, one wins.
fn use_code(conn: &mut Db, user: Uuid, secret: &[u8], code: &str, now: DateTime<Utc>) -> ApiResult<bool> {
    let Some(step) = mfa::matching_step(secret, code, now.timestamp().max(0) as u64) else { return Ok(false) };
    let step = step as i64;
    let moved = diesel::update(t::table.find(DbUuid(user)).filter(t::last_step.lt(step))).set(t::last_step.eq(step)).execute(conn)?;
    Ok(moved == 1)
}

/// Confirms enrolment with a first code: MFA is on, and ten recovery codes are made and
/// shown once. 422 naming `code` when it does not match.
pub fn confirm(conn: &mut Db, actor: &Actor, sealer: &Sealer, code: &str, now: DateTime<Utc>) -> ApiResult<Vec<String>> {
    write_tx(conn, |conn| {
        let (secret, confirmed) = secret_of(conn, sealer, actor.user_id)?.ok_or_else(|| ApiError::Conflict("no enrolment to confirm: start one with POST /api/v1/me/mfa/totp".into()))?;
        if confirmed {
            return Err(ApiError::Conflict("MFA is already on for this account".into()));
        }
        if !use_code(conn, actor.user_id, &secret, code, now)? {
            return Err(ApiError::invalid("code", "does not match: use the current code of the authenticator app"));
        }
        diesel::update(t::table.find(DbUuid(actor.user_id))).set(t::confirmed_at.eq(Some(DbTime(now)))).execute(conn)?;
        set_enabled(conn, actor.user_id, true)?;
        let codes = mfa::new_recovery_codes();
        diesel::delete(r::table.filter(r::user_id.eq(DbUuid(actor.user_id)))).execute(conn)?;
        for code in &codes {
            diesel::insert_into(r::table)
                .values((r::id.eq(DbUuid(Uuid::now_v7())), r::user_id.eq(DbUuid(actor.user_id)), r::code_hash.eq(mfa::recovery_hash(code))))
                .execute(conn)?;
        }
        audit::record(conn, actor.audit("mfa.enable", "user", Some(actor.user_id), json!({"recovery_codes": codes.len()})))?;
        Ok(codes)
    })
}

/// The account's version moves with the flag: an admin's change of the account made
/// from an earlier read then fails its version check instead of writing the flag back.
fn set_enabled(conn: &mut Db, user: Uuid, on: bool) -> ApiResult<()> {
    diesel::update(u::table.find(DbUuid(user))).set((u::mfa_enabled.eq(on), u::version.eq(u::version + 1))).execute(conn)?;
    Ok(())
}

/// Checks a second factor: a TOTP code, or an unused recovery code (then used up). False
/// for anything else; the caller throttles and audits.
pub fn verify(conn: &mut Db, sealer: &Sealer, user: Uuid, code: &str, now: DateTime<Utc>) -> ApiResult<bool> {
    write_tx(conn, |conn| {
        let Some((secret, true)) = secret_of(conn, sealer, user)? else { return Ok(false) };
        if use_code(conn, user, &secret, code, now)? {
            return Ok(true);
        }
        let used = diesel::update(r::table.filter(r::user_id.eq(DbUuid(user))).filter(r::code_hash.eq(mfa::recovery_hash(code))).filter(r::used_at.is_null()))
            .set(r::used_at.eq(Some(DbTime(now))))
            .execute(conn)?;
        Ok(used == 1)
    })
}

/// Turns MFA off for the account, given a current code (or a recovery code).
pub fn remove(conn: &mut Db, actor: &Actor, sealer: &Sealer, code: &str, now: DateTime<Utc>) -> ApiResult<()> {
    if !enabled(conn, actor.user_id)? {
        return Err(ApiError::Conflict("MFA is not on for this account".into()));
    }
    if !verify(conn, sealer, actor.user_id, code, now)? {
        return Err(ApiError::invalid("code", "does not match: use the current code of the authenticator app, or a recovery code"));
    }
    write_tx(conn, |conn| {
        diesel::delete(r::table.filter(r::user_id.eq(DbUuid(actor.user_id)))).execute(conn)?;
        diesel::delete(t::table.find(DbUuid(actor.user_id))).execute(conn)?;
        set_enabled(conn, actor.user_id, false)?;
        audit::record(conn, actor.audit("mfa.disable", "user", Some(actor.user_id), json!({})))?;
        Ok(())
    })
}
