//! The one error type. Every error the service returns leaves through `error_response`
//! as `application/problem+json` (RFC 9457).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

pub use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized(String),
    #[error("forbidden")]
    Forbidden,
    /// The password was right and the account uses MFA: the second step takes this token.
    #[error("a second factor is required: send a code from your authenticator app, or a recovery code, with the mfa_token to POST /api/v1/auth/login/mfa")]
    MfaRequired { mfa_token: String },
    /// The clinic requires MFA and this account has none yet: it may only enrol.
    #[error("your clinic requires MFA: enrol first (POST /api/v1/me/mfa/totp)")]
    MfaEnrolmentRequired,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// A licensed instrument the clinic has supplied no wording for cannot be put to a
    /// patient (DESIGN.md §8); names the instrument.
    #[error("{0} is a licensed instrument and the clinic has not supplied its wording: a patient cannot be asked it until an admin does (PUT /api/v1/clinic/instruments/{0}/text)")]
    InstrumentTextMissing(&'static str),
    /// A home dose the plan does not allow now (DESIGN.md §10): why, and when waiting helps,
    /// when the next one is.
    #[error("the plan does not allow this dose: {}", reason.code())]
    DoseRefused { reason: crate::domain::home::NoGo, next_allowed_at: Option<chrono::DateTime<chrono::Utc>> },
    #[error("the record has changed since it was read")]
    PreconditionFailed,
    #[error("If-Match is required")]
    PreconditionRequired,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A service the request needs is switched off; the message says which.
    #[error("{0}")]
    Unavailable(String),
    /// The database cannot be reached: the cause (host, user, file path) is logged only.
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// The request did not arrive in full within the server's deadline.
    #[error("the request took too long to arrive")]
    RequestTimeout,
    /// Anything unexpected: logged with its cause, never shown to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("bad-request", "Bad request"),
            ApiError::Unauthorized(_) => ("unauthorized", "Authentication required"),
            ApiError::Forbidden => ("forbidden", "Forbidden"),
            ApiError::MfaRequired { .. } => ("mfa-required", "Second factor required"),
            ApiError::MfaEnrolmentRequired => ("mfa-enrolment-required", "MFA enrolment required"),
            ApiError::NotFound => ("not-found", "Not found"),
            ApiError::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::InstrumentTextMissing(_) => ("instrument-text-missing", "Instrument wording missing"),
            ApiError::DoseRefused { .. } => ("dose-refused", "Dose not allowed now"),
            ApiError::PreconditionFailed => ("precondition-failed", "Precondition failed"),
            ApiError::PreconditionRequired => ("precondition-required", "Precondition required"),
            ApiError::PayloadTooLarge => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            ApiError::Validation(_) => ("validation", "Validation failed"),
            ApiError::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::RequestTimeout => ("request-timeout", "Request timeout"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn detail(&self) -> String {
        match self {
            ApiError::Internal(_) => "an unexpected error occurred; it has been logged".into(),
            ApiError::Unauthorized(why) => why.clone(),
            ApiError::NotFound => "no such resource".into(),
            ApiError::Forbidden => "your role does not allow this".into(),
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().take(MAX_FIELD_ERRORS).map(|e| e.field.as_str()).collect();
                match errors.len().saturating_sub(MAX_FIELD_ERRORS) {
                    0 => format!("invalid fields: {}", fields.join(", ")),
                    more => format!("invalid fields: {} and {more} more", fields.join(", ")),
                }
            }
            // The cause (host, user, file path) goes to the log, never to the client.
            ApiError::DatabaseUnavailable(_) => "database unavailable".into(),
            other => other.to_string(),
        }
    }
}

/// A problem lists at most this many field errors; `detail` counts the rest, so a body of
/// 500,000 bad elements cannot make a response of tens of megabytes.
pub const MAX_FIELD_ERRORS: usize = 50;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// A refused home dose: why (`too_soon`, `no_doses_left`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_allowed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A login that needs its second factor: the token for `POST /api/v1/auth/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) | ApiError::MfaRequired { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::MfaEnrolmentRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::InstrumentTextMissing(_) | ApiError::DoseRefused { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::DatabaseUnavailable(cause) => tracing::error!(%cause, "database unavailable"),
            _ => {}
        }
        let (slug, title) = self.slug_and_title();
        let status = self.status_code();
        let problem = Problem {
            kind: format!("urn:onset:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: self.detail(),
            errors: match self {
                ApiError::Validation(errors) => Some(&errors[..errors.len().min(MAX_FIELD_ERRORS)]),
                _ => None,
            },
            reason: match self {
                ApiError::DoseRefused { reason, .. } => Some(reason.code()),
                _ => None,
            },
            next_allowed_at: match self {
                ApiError::DoseRefused { next_allowed_at, .. } => *next_allowed_at,
                _ => None,
            },
            mfa_token: match self {
                ApiError::MfaRequired { mfa_token } => Some(mfa_token),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            ApiError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unauthorized(_) | ApiError::MfaRequired { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict("a record with these values already exists".into())
            }
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ApiError::DatabaseUnavailable(format!("no database connection available: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
