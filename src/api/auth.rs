//! Login, refresh and logout.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{client_address, parse_json};
use crate::auth::password;
use crate::domain::FieldError;
use crate::auth::token::{ACCESS_TTL_SECS, new_refresh_token, refresh_token_hash};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::audit::{self, AuditEntry};
use crate::store::tokens::{self, Rotation};
use crate::store::{now, users};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// An email address is at most 254 characters (RFC 5321); no password we accept is longer
/// than 1,024. Longer ones are refused before they reach the throttle, argon2 or the audit.
const MAX_EMAIL_CHARS: usize = 254;
const MAX_PASSWORD_CHARS: usize = 1024;

impl LoginRequest {
    fn check_lengths(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        if self.email.chars().count() > MAX_EMAIL_CHARS {
            errors.push(FieldError::new("email", format!("must be at most {MAX_EMAIL_CHARS} characters")));
        }
        if self.password.chars().count() > MAX_PASSWORD_CHARS {
            errors.push(FieldError::new("password", format!("must be at most {MAX_PASSWORD_CHARS} characters")));
        }
        if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Serialize)]
struct TokenPair {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("invalid email or password".into())
}

/// An audit entry about a session. A failed login names the account it tried (so the
/// clinic's admin sees it) but has no actor: nobody was authenticated.
fn event(account: Option<&users::User>, authenticated: bool, email: &str, action: &'static str) -> AuditEntry {
    AuditEntry {
        clinic_id: account.map(|u| u.clinic_id),
        actor_id: account.filter(|_| authenticated).map(|u| u.id),
        actor_email: Some(email.to_string()),
        action: action.into(),
        entity: "session",
        entity_id: account.map(|u| u.id),
        detail: json!({}),
    }
}

/// Issues an access token and the first refresh token of a new family.
async fn issue_pair(state: &AppState, user: &users::User) -> ApiResult<TokenPair> {
    let access_token = state.tokens.issue(user.id, user.role.code(), user.clinic_id, &user.email, user.token_generation, now());
    let refresh_token = new_refresh_token();
    let (hash, user_id) = (refresh_token_hash(&refresh_token), user.id);
    state.db(move |conn| tokens::start_family(conn, user_id, &hash)).await?;
    Ok(TokenPair { access_token, token_type: "Bearer", expires_in: ACCESS_TTL_SECS, refresh_token })
}

pub async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let (login, _) = parse_json::<LoginRequest>(&req, &body)?;
    login.check_lengths()?;
    let email = login.email.trim().to_lowercase();
    super::attempt_login(&state, &req, &email)?;
    let lookup = email.clone();
    let user = state.db(move |conn| users::find_by_email(conn, &lookup)).await?;
    // An unknown email is verified against a decoy hash: the same work, the same answer.
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::DECOY_HASH.clone());
    let given = login.password;
    let verified = state.hashing(move || password::verify(&given, &stored_hash)).await?;
    let authenticated = verified && user.as_ref().is_some_and(|u| u.active);
    let entry = event(user.as_ref(), authenticated, &email, if authenticated { "auth.login" } else { "auth.login_failed" });
    state.db(move |conn| Ok(audit::append(conn, entry)?)).await?;
    let user = user.filter(|_| authenticated).ok_or_else(bad_credentials)?;
    if user.mfa_enabled {
        // The password was right; the tokens wait for the second factor.
        let mfa_token = state.tokens.issue_mfa(user.id, user.role.code(), user.clinic_id, &user.email, user.token_generation, now());
        return Err(ApiError::MfaRequired { mfa_token });
    }
    Ok(HttpResponse::Ok().json(issue_pair(&state, &user).await?))
}

/// `POST /api/v1/auth/login/mfa`: the second step, a TOTP code (each used once) or a
/// recovery code, with the token the password step gave. Throttled like the password.
pub async fn login_mfa(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let (step, _) = parse_json::<super::mfa::SecondStep>(&req, &body)?;
    if step.code.chars().count() > 32 || step.mfa_token.len() > 4096 {
        return Err(ApiError::Unauthorized("invalid or expired mfa_token, or a wrong code".into()));
    }
    let claims = state.tokens.verify_mfa(&step.mfa_token).map_err(|_| ApiError::Unauthorized("invalid or expired mfa_token: log in again".into()))?;
    super::attempt_login(&state, &req, &claims.email)?;
    let (sealer, at, code) = (state.sealer.clone(), state.clock.now(), step.code);
    let (user, verified) = state
        .db(move |conn| {
            let user = users::find_by_id(conn, claims.sub)?.filter(|u| u.active && u.token_generation == claims.generation && u.mfa_enabled);
            let verified = match &user {
                Some(u) => crate::store::mfa::verify(conn, &sealer, u.id, &code, at)?,
                None => false,
            };
            let entry = event(user.as_ref(), verified, &claims.email, if verified { "auth.login" } else { "auth.mfa_failed" });
            audit::append(conn, AuditEntry { detail: json!({"second_factor": true}), ..entry })?;
            Ok((user, verified))
        })
        .await?;
    match user.filter(|_| verified) {
        Some(user) => Ok(HttpResponse::Ok().json(issue_pair(&state, &user).await?)),
        None => Err(ApiError::Unauthorized("invalid or expired mfa_token, or a wrong code".into())),
    }
}

pub async fn refresh(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let (request, _) = parse_json::<RefreshRequest>(&req, &body)?;
    let presented = refresh_token_hash(&request.refresh_token);
    let next = new_refresh_token();
    let next_hash = refresh_token_hash(&next);
    let outcome = state
        .db(move |conn| {
            let rotation = tokens::rotate(conn, &presented, &next_hash)?;
            let user = match &rotation {
                Rotation::Rotated { user } | Rotation::Reused { user } => users::find_by_id(conn, *user)?,
                _ => None,
            };
            if let (Rotation::Reused { .. }, Some(user)) = (&rotation, &user) {
                audit::append(conn, event(Some(user), false, &user.email, "auth.refresh_reused"))?;
            }
            Ok((rotation, user))
        })
        .await?;
    match outcome {
        (Rotation::Rotated { .. }, Some(user)) if user.active => {
            let access_token = state.tokens.issue(user.id, user.role.code(), user.clinic_id, &user.email, user.token_generation, now());
            Ok(HttpResponse::Ok().json(TokenPair { access_token, token_type: "Bearer", expires_in: ACCESS_TTL_SECS, refresh_token: next }))
        }
        (Rotation::Reused { .. }, _) => Err(ApiError::Unauthorized("refresh token reuse detected: the session has been revoked".into())),
        _ => Err(ApiError::Unauthorized("invalid or expired refresh token".into())),
    }
}

pub async fn logout(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let (request, _) = parse_json::<RefreshRequest>(&req, &body)?;
    let presented = refresh_token_hash(&request.refresh_token);
    state
        .db(move |conn| {
            if let Some(user) = tokens::revoke(conn, &presented)?.map(|id| users::find_by_id(conn, id)).transpose()?.flatten() {
                audit::append(conn, event(Some(&user), true, &user.email, "auth.logout"))?;
            }
            Ok(())
        })
        .await?;
    // The same answer whether or not the token was known: logout reveals nothing.
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    token: String,
    new_password: String,
}

/// A reset token is 43 characters; anything much longer is not one.
const MAX_TOKEN_CHARS: usize = 128;

/// `POST /api/v1/auth/password-reset`: the holder of an admin's reset link sets a new
/// password (204); every session of the account ends. Throttled per address; every
/// unusable link gets the same 404. Audited, never logged.
pub async fn reset_password(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let address = client_address(&req, &state.config);
    state.reset_throttle.attempt(&address).map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;
    let (request, _) = parse_json::<ResetRequest>(&req, &body)?;
    if let Some(weakness) = password::weakness(&request.new_password) {
        return Err(ApiError::Validation(vec![FieldError::new("new_password", weakness)]));
    }
    if request.token.len() > MAX_TOKEN_CHARS {
        return Err(ApiError::NotFound);
    }
    let new = request.new_password;
    let password_hash = state.hashing(move || password::hash(&new)).await?;
    let (token, at) = (request.token, state.clock.now());
    state.db(move |conn| crate::store::password_resets::consume(conn, &token, &password_hash, at)).await?;
    Ok(HttpResponse::NoContent().finish())
}
