//! Refresh tokens: stored as SHA-256 only, rotated on every use, grouped in families.
//! Presenting a rotated token revokes its whole family (RFC 9700 §4.14).

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::now;
use crate::auth::token::REFRESH_TTL_DAYS;
use crate::db::schema::refresh_tokens as t;
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::error::ApiResult;

/// The first token of a new family (a login): the family ends `REFRESH_TTL_DAYS` from now.
pub fn start_family(conn: &mut Db, user: Uuid, token_hash: &str) -> ApiResult<()> {
    let at = now();
    Ok(write_tx(conn, |conn| insert(conn, user, Uuid::now_v7(), token_hash, at, at + Duration::days(REFRESH_TTL_DAYS)))?)
}

/// A refresh token's row, as issued and read back.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = t)]
struct TokenRow {
    id: DbUuid,
    family_id: DbUuid,
    user_id: DbUuid,
    token_hash: String,
    created_at: DbTime,
    expires_at: DbTime,
    rotated_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
}

fn insert(conn: &mut Db, user: Uuid, family: Uuid, token_hash: &str, at: DateTime<Utc>, expires_at: DateTime<Utc>) -> QueryResult<()> {
    let row = TokenRow {
        id: DbUuid(Uuid::now_v7()),
        family_id: DbUuid(family),
        user_id: DbUuid(user),
        token_hash: token_hash.to_string(),
        created_at: DbTime(at),
        expires_at: DbTime(expires_at),
        rotated_at: None,
        revoked_at: None,
    };
    diesel::insert_into(t::table).values(row).execute(conn).map(|_| ())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now rotated and `new_hash` issued in its family.
    Rotated { user: Uuid },
    /// A rotated or revoked token came back: its family is revoked.
    Reused { user: Uuid },
    Expired,
    Unknown,
}

fn revoke_family(conn: &mut Db, family: DbUuid, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(t::table.filter(t::family_id.eq(family)).filter(t::revoked_at.is_null()))
        .set(t::revoked_at.eq(DbTime(at)))
        .execute(conn)
}

pub fn rotate(conn: &mut Db, presented_hash: &str, new_hash: &str) -> ApiResult<Rotation> {
    write_tx(conn, |conn| {
        let row: Option<TokenRow> = t::table.filter(t::token_hash.eq(presented_hash)).select(TokenRow::as_select()).first(conn).optional()?;
        let Some(TokenRow { id, family_id: family, user_id: user, expires_at, rotated_at, revoked_at, .. }) = row else { return Ok(Rotation::Unknown) };
        let at = now();
        if rotated_at.is_some() || revoked_at.is_some() {
            revoke_family(conn, family, at)?;
            return Ok(Rotation::Reused { user: user.0 });
        }
        if expires_at.0 <= at {
            return Ok(Rotation::Expired);
        }
        // The condition makes a concurrent second use of the same token lose the race.
        let claimed = diesel::update(t::table.find(id).filter(t::rotated_at.is_null()).filter(t::revoked_at.is_null()))
            .set(t::rotated_at.eq(DbTime(at)))
            .execute(conn)?;
        if claimed == 0 {
            revoke_family(conn, family, at)?;
            return Ok(Rotation::Reused { user: user.0 });
        }
        // The family's lifetime is absolute: a rotated token inherits its predecessor's
        // expiry, so a stolen family cannot be kept alive by using it (RFC 9700 §4.14.2).
        insert(conn, user.0, family.0, new_hash, at, expires_at.0)?;
        Ok(Rotation::Rotated { user: user.0 })
    })
}

/// Revokes every family of a user (disabled, or given another role); returns how many
/// tokens were still live.
pub fn revoke_user(conn: &mut Db, user: Uuid) -> QueryResult<usize> {
    diesel::update(t::table.filter(t::user_id.eq(DbUuid(user))).filter(t::revoked_at.is_null()).filter(t::rotated_at.is_null()))
        .set(t::revoked_at.eq(DbTime(now())))
        .execute(conn)
}

/// Deletes tokens past their expiry: they can never be presented successfully again, and
/// a reused one past expiry needs no family to revoke.
pub fn purge_expired(conn: &mut Db, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(t::table.filter(t::expires_at.le(DbTime(at)))).execute(conn)
}

/// Logout: ends every session of the account the token belongs to (every refresh family,
/// and every access token issued before, `users::end_sessions`). Returns the user, if any.
pub fn revoke(conn: &mut Db, presented_hash: &str) -> ApiResult<Option<Uuid>> {
    write_tx(conn, |conn| {
        let row: Option<DbUuid> = t::table.filter(t::token_hash.eq(presented_hash)).select(t::user_id).first(conn).optional()?;
        let Some(user) = row else { return Ok(None) };
        super::users::end_sessions(conn, user.0)?;
        Ok(Some(user.0))
    })
}
