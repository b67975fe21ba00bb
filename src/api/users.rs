//! Accounts of the caller's clinic (admin), and the caller itself.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ListQuery, list_response, parse_json, path_id, precondition, query, validation, with_etag};
use crate::auth::{Caller, Role, password};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::domain::user::{check_email, check_name, parse_role};
use crate::store::users::{self, NewUser, UserChange};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    password: String,
    name: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    active: Option<bool>,
    role: Option<String>,
    name: Option<String>,
}

pub async fn me(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let user = state.db_as_enrolling(&caller, move |conn| users::find_by_id(conn, caller.user_id)).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(user))
}

pub async fn create(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let (new, _) = parse_json::<CreateUser>(&req, &body)?;
    let mut errors = Vec::new();
    if let Some(problem) = check_email(new.email.trim()) {
        errors.push(FieldError::new("email", problem));
    }
    if let Some(weakness) = password::weakness(&new.password) {
        errors.push(FieldError::new("password", weakness));
    }
    check_name(&mut errors, &new.name);
    let role = parse_role(&mut errors, &new.role);
    let Some(role) = role.filter(|_| errors.is_empty()) else { return Err(validation(errors)) };
    let given = new.password;
    let password_hash = state.hashing(move || password::hash(&given)).await?;
    let new = NewUser { email: new.email.trim().to_lowercase(), name: new.name.trim().to_string(), role, password_hash };
    let actor = caller.actor();
    let user = state.db_as(&caller, move |conn| users::create(conn, &actor, new)).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .insert_header((actix_web::http::header::ETAG, super::etag(user.version)))
        .json(user))
}

pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let page = query::<ListQuery>(&req)?.page()?;
    let clinic = caller.clinic_id;
    Ok(list_response(state.db_as(&caller, move |conn| users::list(conn, clinic, page)).await?))
}

pub async fn update(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let id = path_id(&req)?;
    // A bad body is reported only once the account is known to be the clinic's (else 404).
    let request = parse_json::<UpdateUser>(&req, &body).and_then(|(change, _)| {
        let mut errors = Vec::new();
        if let Some(name) = &change.name {
            check_name(&mut errors, name);
        }
        let role = change.role.as_deref().and_then(|r| parse_role(&mut errors, r));
        if !errors.is_empty() {
            return Err(validation(errors));
        }
        let change = UserChange { active: change.active, role, name: change.name.map(|n| n.trim().to_string()) };
        Ok((change, precondition(&req, &state.config)?))
    });
    let actor = caller.actor();
    let user = state
        .db_as(&caller, move |conn| {
            users::find_in_clinic(conn, actor.clinic_id, id)?;
            let (change, precondition) = request?;
            users::update(conn, &actor, id, |version| precondition.check(version), change)
        })
        .await?;
    Ok(with_etag(StatusCode::OK, &user, user.version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password`: throttled like a login (per account and per address);
/// the new password ends every session of the account, this one's too (204: sign in
/// again). Audited, never logged.
pub async fn change_password(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let (change, _) = parse_json::<PasswordChange>(&req, &body)?;
    let mut errors = Vec::new();
    if change.current_password.chars().count() > password::MAX_LENGTH {
        errors.push(FieldError::new("current_password", "is not right"));
    }
    if let Some(weakness) = password::weakness(&change.new_password) {
        errors.push(FieldError::new("new_password", weakness));
    } else if change.new_password == change.current_password {
        errors.push(FieldError::new("new_password", "must differ from the current password"));
    }
    if !errors.is_empty() {
        return Err(validation(errors));
    }
    super::attempt_login(&state, &req, &caller.email)?;
    let id = caller.user_id;
    let stored = state.db_as_enrolling(&caller, move |conn| users::find_by_id(conn, id)).await?.ok_or(ApiError::NotFound)?.password_hash;
    let current = change.current_password;
    if !state.hashing(move || password::verify(&current, &stored)).await? {
        let entry = caller.actor().audit("user.password_change_failed", "user", Some(id), serde_json::json!({}));
        state.db(move |conn| Ok(crate::store::audit::append(conn, entry)?)).await?;
        return Err(validation(vec![FieldError::new("current_password", "is not right")]));
    }
    let new = change.new_password;
    let password_hash = state.hashing(move || password::hash(&new)).await?;
    let actor = caller.actor();
    state.db_as(&caller, move |conn| users::change_password(conn, &actor, &password_hash)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Serialize)]
struct ResetLink {
    user_id: uuid::Uuid,
    /// `{ONSET_PUBLIC_URL}/#reset=<token>`: the token is in the fragment, shown once.
    url: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /api/v1/users/{id}/password-reset` (admin): a single-use link, valid 24 hours,
/// for the account's holder to set a new password; an earlier unused link stops working.
pub async fn password_reset(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let id = path_id(&req)?;
    let (actor, now, public_url) = (caller.actor(), state.clock.now(), state.config.public_url.clone());
    let issued = state.db_as(&caller, move |conn| crate::store::password_resets::issue(conn, &actor, id, &public_url, now)).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(ResetLink { user_id: id, url: issued.url, expires_at: issued.expires_at }))
}
