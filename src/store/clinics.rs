//! The caller's clinic and its settings.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Actor, audit};
use crate::db::schema::clinics as c;
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::domain::safety::{DEFAULT_CRISIS_TEXT, DEFAULT_HOME_DOSE_ADVICE};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = c)]
pub struct ClinicRow {
    id: DbUuid,
    name: String,
    created_at: DbTime,
    invitation_lifetime_minutes: Option<i32>,
    crisis_text: Option<String>,
    home_dose_advice: Option<String>,
    require_mfa: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Clinic {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Patient links expire this many minutes after they are issued, if sooner than the
    /// window closes; `null`: with the window.
    pub invitation_lifetime_minutes: Option<i32>,
    /// What a patient sees when an answer raises a suicidality alert (a default that
    /// names no country until the clinic sets its own).
    pub crisis_text: String,
    /// What a patient sees when a pre-dose check says no (DESIGN.md §10), until the clinic
    /// sets its own.
    pub home_dose_advice: String,
    /// Staff must use MFA: an account without it can only enrol (DESIGN.md §12).
    pub require_mfa: bool,
}

/// When a patient link issued `now` expires: at `until` (its window's close, its plan's
/// end), or sooner if the clinic shortens its links' lifetime.
pub fn link_expiry(conn: &mut Db, clinic: Uuid, until: DateTime<Utc>, now: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    let lifetime = find(conn, clinic)?.invitation_lifetime_minutes;
    Ok(lifetime.map_or(until, |minutes| until.min(now + chrono::Duration::minutes(i64::from(minutes)))))
}

pub fn find(conn: &mut Db, clinic: Uuid) -> ApiResult<Clinic> {
    let row = c::table.find(DbUuid(clinic)).select(ClinicRow::as_select()).first(conn).optional()?.ok_or(ApiError::NotFound)?;
    Ok(Clinic {
        id: row.id.0,
        name: row.name,
        created_at: row.created_at.0,
        invitation_lifetime_minutes: row.invitation_lifetime_minutes,
        crisis_text: row.crisis_text.unwrap_or_else(|| DEFAULT_CRISIS_TEXT.to_string()),
        home_dose_advice: row.home_dose_advice.unwrap_or_else(|| DEFAULT_HOME_DOSE_ADVICE.to_string()),
        require_mfa: row.require_mfa,
    })
}

/// A change of settings: each field absent (unchanged) or given (`None` resets it).
#[derive(Debug, Default, Clone)]
pub struct ClinicChange {
    pub invitation_lifetime_minutes: Option<Option<i32>>,
    pub crisis_text: Option<Option<String>>,
    pub home_dose_advice: Option<Option<String>>,
    pub require_mfa: Option<bool>,
}

pub fn update(conn: &mut Db, actor: &Actor, change: ClinicChange) -> ApiResult<Clinic> {
    write_tx(conn, |conn| {
        let target = c::table.find(DbUuid(actor.clinic_id));
        if let Some(minutes) = change.invitation_lifetime_minutes {
            diesel::update(target).set(c::invitation_lifetime_minutes.eq(minutes)).execute(conn)?;
        }
        if let Some(text) = &change.crisis_text {
            diesel::update(target).set(c::crisis_text.eq(text)).execute(conn)?;
        }
        if let Some(text) = &change.home_dose_advice {
            diesel::update(target).set(c::home_dose_advice.eq(text)).execute(conn)?;
        }
        if let Some(required) = change.require_mfa {
            // An admin without MFA would lock themselves out of all but enrolment.
            if required && !crate::store::users::find_by_id(conn, actor.user_id)?.is_some_and(|u| u.mfa_enabled) {
                return Err(ApiError::Conflict("turn on MFA for your own account before requiring it of the clinic's staff".into()));
            }
            diesel::update(target).set(c::require_mfa.eq(required)).execute(conn)?;
        }
        let detail = json!({
            "require_mfa": change.require_mfa,
            "invitation_lifetime_minutes": change.invitation_lifetime_minutes,
            "crisis_text_changed": change.crisis_text.is_some(),
            "home_dose_advice_changed": change.home_dose_advice.is_some(),
        });
        audit::record(conn, actor.audit("clinic.update", "clinic", Some(actor.clinic_id), detail))?;
        find(conn, actor.clinic_id)
    })
}
