//! Who is calling: passwords, tokens, throttling, and the `Caller` extractor.

pub mod mfa;
pub mod password;
pub mod seal;
pub mod throttle;
pub mod token;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::db::Db;
use crate::state::AppState;
use crate::store;

pub use crate::domain::user::{CLINICAL, Role};

/// The authenticated caller, as its access token names it. The token alone is not
/// enough: every database unit of work a caller starts (`AppState::db_as`) first checks,
/// in the same hop and on the same connection, that the account is still active with this clinic
/// and role, so a disabled account or a changed role takes effect at once, whatever its
/// token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub clinic_id: Uuid,
    pub role: Role,
    pub email: String,
    /// The account's token generation the token was issued under.
    pub generation: i32,
}

impl Caller {
    pub fn require(&self, allowed: &[Role]) -> ApiResult<()> {
        if allowed.contains(&self.role) { Ok(()) } else { Err(ApiError::Forbidden) }
    }

    /// The caller as the audit log and the `*_by` columns record it.
    pub fn actor(&self) -> store::Actor {
        store::Actor { user_id: self.user_id, clinic_id: self.clinic_id, email: self.email.clone(), by_patient: false }
    }

    /// The account as it stands: still there, active, in the token's clinic, with the
    /// token's role and token generation. A token issued before a role change, a password
    /// change or reset, or a logout is refused (401); the client signs in again.
    /// The account still as the token says, and, where its clinic requires MFA and the
    /// account has none, only enrolling (`enrolling`: the account's own MFA and password
    /// routes, and `GET /me`).
    pub fn check_account(&self, conn: &mut Db, enrolling: bool) -> ApiResult<()> {
        match store::users::account(conn, self.user_id)? {
            Some((u, required)) if u.active && u.clinic_id == self.clinic_id && u.role == self.role && u.email == self.email && u.token_generation == self.generation => {
                if required && !u.mfa_enabled && !enrolling { Err(ApiError::MfaEnrolmentRequired) } else { Ok(()) }
            }
            _ => Err(unauthorized("the account is disabled, has changed or no longer exists: sign in again")),
        }
    }
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::Unauthorized(why.to_string())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<ApiResult<Caller>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(caller_of(req))
    }
}

/// The caller a request's bearer token names; the account itself is checked with the
/// request's database work.
fn caller_of(req: &HttpRequest) -> ApiResult<Caller> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::Internal("app state missing".into()))?;
    let header = match req.headers().get(AUTHORIZATION).map(|v| v.to_str()) {
        None => return Err(unauthorized("a bearer token is required")),
        Some(Err(_)) => return Err(unauthorized("malformed Authorization header")),
        Some(Ok(h)) => h,
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    let claims = state.tokens.verify(token.trim()).map_err(|_| unauthorized("invalid or expired token"))?;
    let role = Role::parse(&claims.role).ok_or_else(|| unauthorized("invalid or expired token"))?;
    Ok(Caller { user_id: claims.sub, clinic_id: claims.clinic, role, email: claims.email, generation: claims.generation })
}
