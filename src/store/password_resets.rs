//! An admin's single-use password reset links (DESIGN.md §12): the token is kept only as
//! its SHA-256, travels in the URL fragment, lasts 24 hours, and is consumed with the new
//! password in one transaction that ends every session of the account.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, AuditEntry};
use super::{Actor, users};
use crate::auth::token::{new_refresh_token, refresh_token_hash};
use crate::db::schema::password_resets as r;
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::error::{ApiError, ApiResult};

/// How long a reset link may be used.
pub const LIFETIME_HOURS: i64 = 24;

/// A link as issued: the token leaves the server here, once.
pub struct Issued {
    /// `{public_url}/#reset=<token>`: the console sets the new password.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A new link for an account of the admin's clinic (404 for another clinic's); earlier
/// unused links of the account stop working.
pub fn issue(conn: &mut Db, actor: &Actor, user: Uuid, public_url: &str, now: DateTime<Utc>) -> ApiResult<Issued> {
    write_tx(conn, |conn| {
        users::find_in_clinic(conn, actor.clinic_id, user)?;
        diesel::update(r::table.filter(r::user_id.eq(DbUuid(user))).filter(r::used_at.is_null()).filter(r::revoked_at.is_null()))
            .set(r::revoked_at.eq(Some(DbTime(now))))
            .execute(conn)?;
        let token = new_refresh_token();
        let expires_at = now + Duration::hours(LIFETIME_HOURS);
        diesel::insert_into(r::table)
            .values((
                r::id.eq(DbUuid(Uuid::now_v7())),
                r::clinic_id.eq(DbUuid(actor.clinic_id)),
                r::user_id.eq(DbUuid(user)),
                r::token_hash.eq(refresh_token_hash(&token)),
                r::expires_at.eq(DbTime(expires_at)),
                r::created_at.eq(DbTime(now)),
                r::created_by.eq(DbUuid(actor.user_id)),
            ))
            .execute(conn)?;
        audit::record(conn, actor.audit("user.password_reset_issue", "user", Some(user), json!({"expires_at": expires_at})))?;
        Ok(Issued { url: format!("{public_url}/#reset={token}"), expires_at })
    })
}

/// Sets the account's password from a usable link and ends every session of the account;
/// an unknown, used, revoked or expired link, or a disabled account, gets the same 404.
pub fn consume(conn: &mut Db, token: &str, password_hash: &str, now: DateTime<Utc>) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let row: Option<(DbUuid, DbUuid, DbTime)> = r::table
            .filter(r::token_hash.eq(refresh_token_hash(token)))
            .filter(r::used_at.is_null())
            .filter(r::revoked_at.is_null())
            .select((r::id, r::user_id, r::expires_at))
            .first(conn)
            .optional()?;
        let (id, user) = row.filter(|(_, _, expires)| now <= expires.0).map(|(id, user, _)| (id, user.0)).ok_or(ApiError::NotFound)?;
        let account = users::find_by_id(conn, user)?.filter(|u| u.active).ok_or(ApiError::NotFound)?;
        let claimed = diesel::update(r::table.find(id).filter(r::used_at.is_null())).set(r::used_at.eq(Some(DbTime(now)))).execute(conn)?;
        if claimed == 0 {
            return Err(ApiError::NotFound);
        }
        let revoked = users::set_password(conn, user, password_hash)?;
        let entry = AuditEntry {
            clinic_id: Some(account.clinic_id),
            actor_id: Some(account.id),
            actor_email: Some(account.email.clone()),
            action: "user.password_reset".into(),
            entity: "user",
            entity_id: Some(account.id),
            detail: json!({"sessions_revoked": revoked}),
        };
        audit::record(conn, entry)?;
        Ok(())
    })
}
