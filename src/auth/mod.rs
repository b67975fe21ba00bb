//! Who is calling: passwords, tokens, throttling, and the `Caller` extractor.

pub mod password;
pub mod throttle;
pub mod token;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store;

pub use crate::domain::user::{CLINICAL, Role};

/// The authenticated caller. The user is re-read on every request, so a disabled
/// account or a changed role takes effect at once, whatever its token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub clinic_id: Uuid,
    pub role: Role,
    pub email: String,
}

impl Caller {
    pub fn require(&self, allowed: &[Role]) -> ApiResult<()> {
        if allowed.contains(&self.role) { Ok(()) } else { Err(ApiError::Forbidden) }
    }

    /// The caller as the audit log and the `*_by` columns record it.
    pub fn actor(&self) -> store::Actor {
        store::Actor { user_id: self.user_id, clinic_id: self.clinic_id, email: self.email.clone(), by_patient: false }
    }
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::Unauthorized(why.to_string())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = ApiResult<Caller>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req.headers().get(AUTHORIZATION).map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("app state missing".into()))?;
            let header = match header {
                None => return Err(unauthorized("a bearer token is required")),
                Some(Err(_)) => return Err(unauthorized("malformed Authorization header")),
                Some(Ok(h)) => h,
            };
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
            let claims = state.tokens.verify(token.trim()).map_err(|_| unauthorized("invalid or expired token"))?;
            let user = state
                .db(move |conn| store::users::find_by_id(conn, claims.sub))
                .await?
                .filter(|u| u.active && u.clinic_id == claims.clinic)
                .ok_or_else(|| unauthorized("the account is disabled or no longer exists"))?;
            Ok(Caller { user_id: user.id, clinic_id: user.clinic_id, role: user.role, email: user.email })
        })
    }
}
