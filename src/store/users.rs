//! Clinics and their accounts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, AuditEntry};
use super::{Actor, Page, now, split_page};
use crate::domain::user::Role;
use crate::db::schema::{clinics, users as u};
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    #[serde(skip)]
    pub password_hash: String,
    #[serde(skip)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Moved on whenever the account's sessions end; access tokens carry it.
    #[serde(skip)]
    pub token_generation: i32,
    /// Whether logging in takes a TOTP code (or a recovery code) after the password.
    pub mfa_enabled: bool,
}

/// An account's row, read, inserted and overwritten whole.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = u)]
struct UserRow {
    id: DbUuid,
    clinic_id: DbUuid,
    email: String,
    name: String,
    role: String,
    password_hash: String,
    active: bool,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    token_generation: i32,
    mfa_enabled: bool,
}

impl UserRow {
    fn new(user: &User) -> Self {
        UserRow {
            id: DbUuid(user.id),
            clinic_id: DbUuid(user.clinic_id),
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role.code().into(),
            password_hash: user.password_hash.clone(),
            active: user.active,
            version: user.version,
            created_at: DbTime(user.created_at),
            updated_at: DbTime(user.updated_at),
            token_generation: user.token_generation,
            mfa_enabled: user.mfa_enabled,
        }
    }

    fn into_user(self) -> ApiResult<User> {
        let role = Role::parse(&self.role).ok_or_else(|| ApiError::Internal(format!("stored role {:?}", self.role)))?;
        Ok(User {
            id: self.id.0,
            clinic_id: self.clinic_id.0,
            email: self.email,
            name: self.name,
            role,
            active: self.active,
            password_hash: self.password_hash,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            token_generation: self.token_generation,
            mfa_enabled: self.mfa_enabled,
        })
    }
}

pub fn find_by_id(conn: &mut Db, id: Uuid) -> ApiResult<Option<User>> {
    let row = u::table.find(DbUuid(id)).select(UserRow::as_select()).first(conn).optional()?;
    row.map(UserRow::into_user).transpose()
}

/// An account with its clinic's MFA policy, read in one query on every authenticated
/// request (`Caller::check_account`).
pub fn account(conn: &mut Db, id: Uuid) -> ApiResult<Option<(User, bool)>> {
    use crate::db::schema::clinics as c;
    let row: Option<(UserRow, bool)> = u::table.inner_join(c::table).filter(u::id.eq(DbUuid(id))).select((UserRow::as_select(), c::require_mfa)).first(conn).optional()?;
    row.map(|(user, required)| Ok((user.into_user()?, required))).transpose()
}

pub fn find_by_email(conn: &mut Db, email: &str) -> ApiResult<Option<User>> {
    let row = u::table.filter(u::email.eq(email.to_lowercase())).select(UserRow::as_select()).first(conn).optional()?;
    row.map(UserRow::into_user).transpose()
}

/// A user of the caller's clinic, or 404: another clinic's accounts do not exist for it.
pub fn find_in_clinic(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<User> {
    find_by_id(conn, id)?.filter(|user| user.clinic_id == clinic).ok_or(ApiError::NotFound)
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

fn insert_user(conn: &mut Db, clinic: Uuid, new: &NewUser) -> ApiResult<Uuid> {
    let at = now();
    let user = User {
        id: Uuid::now_v7(),
        clinic_id: clinic,
        email: new.email.to_lowercase(),
        name: new.name.clone(),
        role: new.role,
        active: true,
        password_hash: new.password_hash.clone(),
        version: 1,
        created_at: at,
        updated_at: at,
        token_generation: 0,
        mfa_enabled: false,
    };
    diesel::insert_into(u::table)
        .values(UserRow::new(&user))
        .execute(conn)
        .map_err(|e| match ApiError::from(e) {
            ApiError::Conflict(_) => ApiError::Conflict("an account with this email already exists".into()),
            other => other,
        })?;
    Ok(user.id)
}

pub fn create(conn: &mut Db, actor: &Actor, new: NewUser) -> ApiResult<User> {
    write_tx(conn, |conn| {
        let id = insert_user(conn, actor.clinic_id, &new)?;
        audit::record(conn, actor.audit("user.create", "user", Some(id), json!({"role": new.role.code()})))?;
        find_by_id(conn, id)?.ok_or(ApiError::NotFound)
    })
}

/// Creates a clinic and its first admin (the `create-admin` command).
pub fn create_clinic_with_admin(conn: &mut Db, clinic_name: &str, admin: NewUser) -> ApiResult<User> {
    write_tx(conn, |conn| {
        let clinic = clinics::table
            .filter(clinics::name.eq(clinic_name))
            .select(clinics::id)
            .first::<DbUuid>(conn)
            .optional()?;
        let clinic = match clinic {
            Some(id) => id.0,
            None => {
                let id = Uuid::now_v7();
                diesel::insert_into(clinics::table)
                    .values((clinics::id.eq(DbUuid(id)), clinics::name.eq(clinic_name), clinics::created_at.eq(DbTime(now()))))
                    .execute(conn)?;
                id
            }
        };
        let id = insert_user(conn, clinic, &admin)?;
        audit::record(conn, AuditEntry {
            clinic_id: Some(clinic),
            actor_id: None,
            actor_email: None,
            action: "user.create".into(),
            entity: "user",
            entity_id: Some(id),
            detail: json!({"role": admin.role.code(), "via": "cli"}),
        })?;
        find_by_id(conn, id)?.ok_or(ApiError::NotFound)
    })
}

pub fn list(conn: &mut Db, clinic: Uuid, page: Page) -> ApiResult<(Vec<User>, Option<Uuid>)> {
    let mut query = u::table
        .filter(u::clinic_id.eq(DbUuid(clinic)))
        .select(UserRow::as_select())
        .order(u::id.asc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(u::id.gt(DbUuid(after)));
    }
    let users = query.load(conn)?.into_iter().map(UserRow::into_user).collect::<ApiResult<Vec<_>>>()?;
    Ok(split_page(users, page, |u| u.id))
}

#[derive(Debug, Default)]
pub struct UserChange {
    pub active: Option<bool>,
    pub role: Option<Role>,
    pub name: Option<String>,
}

/// Applies an admin's change. Refuses (409) to leave a clinic without an active admin.
pub fn update(
    conn: &mut Db,
    actor: &Actor,
    id: Uuid,
    precondition: impl FnOnce(i32) -> ApiResult<()> + Send,
    change: UserChange,
) -> ApiResult<User> {
    write_tx(conn, |conn| {
        let user = find_in_clinic(conn, actor.clinic_id, id)?;
        precondition(user.version)?;
        let active = change.active.unwrap_or(user.active);
        let role = change.role.unwrap_or(user.role);
        let name = change.name.clone().unwrap_or_else(|| user.name.clone());
        let was_admin = user.active && user.role == Role::Admin;
        if was_admin && !(active && role == Role::Admin) {
            let admins: i64 = u::table
                .filter(u::clinic_id.eq(DbUuid(actor.clinic_id)))
                .filter(u::role.eq(Role::Admin.code()))
                .filter(u::active.eq(true))
                .count()
                .get_result(conn)?;
            if admins <= 1 {
                return Err(ApiError::Conflict("the clinic's last active admin cannot be disabled or demoted".into()));
            }
        }
        let next = User { active, role, name, version: user.version + 1, updated_at: now(), ..user.clone() };
        let changed = diesel::update(u::table.find(DbUuid(id)).filter(u::version.eq(user.version))).set(UserRow::new(&next)).execute(conn)?;
        if changed == 0 {
            return Err(ApiError::PreconditionFailed);
        }
        // A disabled account or a changed role ends every session: the refresh tokens
        // issued under the old standing cannot mint access tokens any more, and the access
        // tokens already issued are refused at their next request.
        let revoked = if active != user.active || role != user.role { end_sessions(conn, id)? } else { 0 };
        let detail = json!({
            "active": change.active, "role": change.role.map(Role::code), "name_changed": change.name.is_some(),
            "sessions_revoked": revoked,
        });
        audit::record(conn, actor.audit("user.update", "user", Some(id), detail))?;
        Ok(next)
    })
}

/// Ends every session of the account: its token generation moves on (every access token
/// issued before is refused at its next request, `Caller::check_account`) and every
/// refresh family is revoked. Returns how many refresh tokens were revoked. Call inside
/// the transaction of the change that ends them.
pub fn end_sessions(conn: &mut Db, user: Uuid) -> QueryResult<usize> {
    diesel::update(u::table.find(DbUuid(user))).set(u::token_generation.eq(u::token_generation + 1)).execute(conn)?;
    super::tokens::revoke_user(conn, user)
}

/// Sets a new password hash and ends every session of the account, in the caller's
/// transaction.
pub fn set_password(conn: &mut Db, user: Uuid, password_hash: &str) -> QueryResult<usize> {
    diesel::update(u::table.find(DbUuid(user)))
        .set((u::password_hash.eq(password_hash), u::version.eq(u::version + 1), u::updated_at.eq(DbTime(now()))))
        .execute(conn)?;
    end_sessions(conn, user)
}

/// The caller changes their own password: the new hash is set, every session ends, and
/// the change is audited (never the password).
pub fn change_password(conn: &mut Db, actor: &Actor, password_hash: &str) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let revoked = set_password(conn, actor.user_id, password_hash)?;
        audit::record(conn, actor.audit("user.password_change", "user", Some(actor.user_id), json!({"sessions_revoked": revoked})))?;
        Ok(())
    })
}
