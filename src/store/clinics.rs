//! The caller's clinic and its settings.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Actor, audit};
use crate::db::schema::clinics as c;
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = c)]
pub struct ClinicRow {
    id: DbUuid,
    name: String,
    created_at: DbTime,
    invitation_lifetime_minutes: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Clinic {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Patient links expire this many minutes after they are issued, if sooner than the
    /// window closes; `null`: with the window.
    pub invitation_lifetime_minutes: Option<i32>,
}

pub fn find(conn: &mut Db, clinic: Uuid) -> ApiResult<Clinic> {
    let row = c::table.find(DbUuid(clinic)).select(ClinicRow::as_select()).first(conn).optional()?.ok_or(ApiError::NotFound)?;
    Ok(Clinic { id: row.id.0, name: row.name, created_at: row.created_at.0, invitation_lifetime_minutes: row.invitation_lifetime_minutes })
}

/// Sets how long patient links live (`None`: as long as their window).
pub fn set_invitation_lifetime(conn: &mut Db, actor: &Actor, minutes: Option<i32>) -> ApiResult<Clinic> {
    write_tx(conn, |conn| {
        diesel::update(c::table.find(DbUuid(actor.clinic_id))).set(c::invitation_lifetime_minutes.eq(minutes)).execute(conn)?;
        audit::record(conn, actor.audit("clinic.update", "clinic", Some(actor.clinic_id), json!({"invitation_lifetime_minutes": minutes})))?;
        find(conn, actor.clinic_id)
    })
}
