//! actix handlers, one file per resource, and what they share: JSON parsing with field
//! errors, pagination, ETags and preconditions, idempotency keys.

pub mod alerts;
pub mod analytics;
pub mod audit;
pub mod auth;
pub mod clinic;
pub mod exports;
pub mod fhir;
pub mod health;
pub mod home;
pub mod instruments;
pub mod mfa;
pub mod middleware;
pub mod patients;
pub mod protocols;
pub mod records;
pub mod renderings;
pub mod rems;
pub mod self_report;
pub mod users;
pub mod webhooks;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Caller;
use crate::config::Config;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::store::Page;
use crate::store::assessments::AssessmentRecord;
use crate::store::idempotency::{IdempotencyKey, Stored};
use crate::store::home_plans::HomePlanRecord;
use crate::store::infusions::InfusionRecord;
use crate::store::patients::Patient;
use crate::store::protocols::Protocol;
use crate::store::records::{Precondition, etag};

pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Every route of the service. `tests/api/contract.rs` checks this list against openapi.yaml.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use actix_web::web::{delete, get, patch, post, put};
    cfg.service(resource("/").route(get().to(console)))
        .service(resource("/console/app.js").route(get().to(console_script)))
        .service(resource("/console/app.css").route(get().to(console_style)))
        .service(resource("/healthz").route(get().to(health::healthz)))
        .service(resource("/readyz").route(get().to(health::readyz)))
        .service(resource("/metrics").route(get().to(health::metrics)))
        .service(resource("/openapi.yaml").route(get().to(health::openapi)))
        .service(resource("/api/v1/auth/login").route(post().to(auth::login)))
        .service(resource("/api/v1/auth/login/mfa").route(post().to(auth::login_mfa)))
        .service(resource("/api/v1/me/mfa/totp").route(post().to(mfa::enrol)))
        .service(resource("/api/v1/me/mfa/totp/confirm").route(post().to(mfa::confirm)))
        .service(resource("/api/v1/me/mfa").route(delete().to(mfa::remove)))
        .service(resource("/api/v1/auth/refresh").route(post().to(auth::refresh)))
        .service(resource("/api/v1/auth/logout").route(post().to(auth::logout)))
        .service(resource("/api/v1/auth/password-reset").route(post().to(auth::reset_password)))
        .service(resource("/api/v1/me").route(get().to(users::me)))
        .service(resource("/api/v1/me/password").route(post().to(users::change_password)))
        .service(resource("/api/v1/clinic").route(get().to(clinic::get)).route(patch().to(clinic::update)))
        .service(resource("/api/v1/clinic/instruments").route(post().to(instruments::define)))
        .service(resource("/api/v1/clinic/instruments/{code}").route(put().to(instruments::redefine)))
        .service(resource("/api/v1/clinic/instruments/{code}/text").route(put().to(instruments::supply_text)))
        .service(resource("/api/v1/instruments").route(get().to(instruments::list)))
        .service(resource("/api/v1/instruments/{code}").route(get().to(instruments::get)))
        .service(resource("/api/v1/instruments/{code}/versions").route(get().to(instruments::versions)))
        .service(resource("/api/v1/users").route(post().to(users::create)).route(get().to(users::list)))
        .service(resource("/api/v1/users/{id}").route(patch().to(users::update)))
        .service(resource("/api/v1/users/{id}/password-reset").route(post().to(users::password_reset)))
        .service(resource("/api/v1/audit").route(get().to(audit::list)))
        .service(resource("/api/v1/patients").route(post().to(patients::create)).route(get().to(patients::list)))
        .service(resource("/api/v1/patients/{id}").route(get().to(records::get::<Patient>)).route(patch().to(patients::update)))
        .service(resource("/api/v1/patients/{id}/revisions").route(get().to(records::revisions::<Patient>)))
        .service(resource("/api/v1/patients/{id}/protocols").route(post().to(protocols::attach)).route(get().to(protocols::attachments)))
        .service(resource("/api/v1/patients/{id}/due").route(get().to(protocols::due_for_patient)))
        .service(resource("/api/v1/protocols").route(post().to(protocols::create)).route(get().to(protocols::list)))
        .service(resource("/api/v1/protocols/{id}").route(get().to(records::get::<Protocol>)).route(patch().to(protocols::update)))
        .service(resource("/api/v1/protocols/{id}/revisions").route(get().to(records::revisions::<Protocol>)))
        .service(resource("/api/v1/due").route(get().to(protocols::due_for_clinic)))
        .service(resource("/api/v1/due/{id}").route(get().to(protocols::due_one)))
        .service(resource("/api/v1/due/{id}/invitation").route(post().to(self_report::invite)))
        .service(resource("/api/v1/alerts").route(get().to(alerts::list)))
        .service(resource("/api/v1/alerts/{id}/acknowledge").route(post().to(alerts::acknowledge)))
        .service(resource("/api/v1/webhooks").route(post().to(webhooks::create)).route(get().to(webhooks::list)))
        .service(resource("/api/v1/webhooks/{id}").route(get().to(webhooks::get)).route(delete().to(webhooks::deactivate)))
        .service(resource("/api/v1/webhooks/{id}/deliveries").route(get().to(webhooks::deliveries)))
        .service(resource("/api/v1/self-report/open").route(post().to(self_report::open)))
        .service(resource("/api/v1/self-report").route(post().to(self_report::submit)))
        .service(resource("/api/v1/self-report/dose-check").route(post().to(home::check)))
        .service(resource("/api/v1/self-report/dose").route(post().to(home::dose)))
        .service(
            resource("/api/v1/patients/{id}/home-plans")
                .route(post().to(records::create::<HomePlanRecord>))
                .route(get().to(records::list::<HomePlanRecord>)),
        )
        .service(
            resource("/api/v1/home-plans/{id}")
                .route(get().to(records::get::<HomePlanRecord>))
                .route(patch().to(records::amend::<HomePlanRecord>))
                .route(delete().to(records::retract::<HomePlanRecord>)),
        )
        .service(resource("/api/v1/home-plans/{id}/revisions").route(get().to(records::revisions::<HomePlanRecord>)))
        .service(resource("/api/v1/home-plans/{id}/invitation").route(post().to(home::invite)))
        .service(resource("/r/").route(get().to(self_report::page)))
        .service(resource("/r/app.js").route(get().to(self_report::page_script)))
        .service(resource("/r/app.css").route(get().to(self_report::page_style)))
        .service(resource("/api/v1/patients/{id}/trajectory").route(get().to(patients::trajectory)))
        .service(resource("/api/v1/patients/{id}/trajectory.svg").route(get().to(patients::trajectory_svg)))
        .service(
            resource("/api/v1/patients/{id}/infusions")
                .route(post().to(records::create::<InfusionRecord>))
                .route(get().to(records::list::<InfusionRecord>)),
        )
        .service(
            resource("/api/v1/infusions/{id}")
                .route(get().to(records::get::<InfusionRecord>))
                .route(patch().to(records::amend::<InfusionRecord>))
                .route(delete().to(records::retract::<InfusionRecord>)),
        )
        .service(resource("/api/v1/infusions/{id}/rems-form").route(get().to(rems::form)))
        .service(resource("/api/v1/rems/pending").route(get().to(rems::pending)))
        .service(resource("/api/v1/infusions/{id}/revisions").route(get().to(records::revisions::<InfusionRecord>)))
        .service(
            resource("/api/v1/patients/{id}/assessments")
                .route(post().to(records::create::<AssessmentRecord>))
                .route(get().to(records::list::<AssessmentRecord>)),
        )
        .service(
            resource("/api/v1/assessments/{id}")
                .route(get().to(records::get::<AssessmentRecord>))
                .route(patch().to(records::amend::<AssessmentRecord>))
                .route(delete().to(records::retract::<AssessmentRecord>)),
        )
        .service(resource("/api/v1/assessments/{id}/revisions").route(get().to(records::revisions::<AssessmentRecord>)))
        .service(resource("/api/v1/analytics/onset").route(get().to(analytics::onset)))
        .service(resource("/api/v1/analytics/cox").route(get().to(analytics::cox)))
        .service(resource("/api/v1/analytics/cox.svg").route(get().to(analytics::cox_svg)))
        .service(resource("/api/v1/analytics/onset.svg").route(get().to(analytics::onset_svg)))
        .service(resource("/api/v1/exports/assessments").route(get().to(exports::assessments)))
        .service(resource("/api/v1/exports/infusions").route(get().to(exports::infusions)))
        .service(resource("/api/v1/exports/codebook").route(get().to(exports::codebook)))
        .service(resource("/api/v1/exports/redcap/dictionary").route(get().to(exports::redcap_dictionary)))
        .service(resource("/api/v1/exports/redcap/records").route(get().to(exports::redcap_records)))
        .service(resource("/fhir/r4/metadata").route(get().to(fhir::metadata)))
        .service(resource("/fhir/r4/Patient").route(get().to(fhir::patients)))
        .service(resource("/fhir/r4/Patient/{id}").route(get().to(fhir::patient)))
        .service(resource("/fhir/r4/Observation").route(get().to(fhir::observations)))
        .service(resource("/fhir/r4/Observation/{id}").route(get().to(fhir::observation)))
        .service(resource("/fhir/r4/MedicationAdministration").route(get().to(fhir::administrations)))
        .service(resource("/fhir/r4/MedicationAdministration/{id}").route(get().to(fhir::administration)))
        .service(resource("/fhir/r4/Questionnaire").route(get().to(fhir::questionnaires)))
        .service(resource("/fhir/r4/Questionnaire/{id}").route(get().to(fhir::questionnaire)))
        .service(resource("/fhir/r4/QuestionnaireResponse").route(get().to(fhir::questionnaire_responses)))
        .service(resource("/fhir/r4/QuestionnaireResponse/{id}").route(get().to(fhir::questionnaire_response)));
}

/// The policy of the pages onset serves (the console, the patient's page): their own
/// script and style only, no inline code, no framing, and requests to this origin alone.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A file of a page, embedded in the binary.
pub fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

/// `GET /`: the clinician console (plain HTML, CSS and JavaScript; the public API only).
async fn console() -> HttpResponse {
    asset("text/html; charset=utf-8", include_str!("console/index.html"))
}

async fn console_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", include_str!("console/app.js"))
}

async fn console_style() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("console/app.css"))
}

/// An SVG chart: never cached by shared caches (it shows a patient's or a cohort's data),
/// and inert when opened on its own (no script, no outside resource).
pub fn svg(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(body)
}

/// A resource whose other methods answer 405 as a problem.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| async { Err::<HttpResponse, _>(ApiError::MethodNotAllowed) }))
}

/// The client a request comes from, as login and patient-link throttling count it
/// (`X-Forwarded-For` believed only from `ONSET_TRUSTED_PROXIES`).
/// An attempt at an account's secret (a password or a second factor) from the request's
/// address: counted by the login throttle per account and per address (429 beyond).
pub fn attempt_login(state: &crate::state::AppState, req: &HttpRequest, email: &str) -> ApiResult<()> {
    let address = client_address(req, &state.config);
    state.throttle.attempt(email, &address).map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })
}

pub fn client_address(req: &HttpRequest, config: &Config) -> String {
    let forwarded: Vec<&str> = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    crate::auth::throttle::client_address(req.peer_addr().map(|a| a.ip()), &forwarded, &config.trusted_proxies)
}

/// The `{id}` of the path; an id that is not a UUID names nothing, so it is 404.
pub fn path_id(req: &HttpRequest) -> ApiResult<Uuid> {
    req.match_info().get("id").and_then(|id| Uuid::parse_str(id).ok()).ok_or(ApiError::NotFound)
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body: malformed JSON is 400; a well-formed body of the wrong shape
/// (unknown field, wrong type, missing field) is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> ApiResult<(T, Value)> {
    if !is_json(req.headers()) {
        return Err(ApiError::UnsupportedMediaType("the body must be application/json".into()));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    // Every body is an object: serde would otherwise read an array into a struct by position.
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    let parsed = from_value(value.clone())?;
    Ok((parsed, value))
}

/// Deserialises a JSON value, naming the offending field on failure.
pub fn from_value<T: DeserializeOwned>(value: Value) -> ApiResult<T> {
    crate::domain::fields::from_value(value).map_err(|e| ApiError::Validation(vec![e]))
}

pub fn validation(errors: Vec<FieldError>) -> ApiError {
    ApiError::Validation(errors)
}

/// Query-string parameters: unknown or malformed ones are 400.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> ApiResult<T> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
const CURSOR_PREFIX: &[u8] = b"onset1:";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> ApiResult<Page> {
        let limit = match &self.limit {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| ApiError::BadRequest(format!("limit must be a whole number from 1 to {MAX_LIMIT}")))?,
        };
        let after = self.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
        Ok(Page { limit, after })
    }
}

/// Cursors are opaque to clients: a versioned, encoded position. Tampering yields 400,
/// and a decoded id only ever filters within the caller's clinic.
pub fn encode_cursor(id: Uuid) -> String {
    let mut bytes = CURSOR_PREFIX.to_vec();
    bytes.extend_from_slice(id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode_cursor(cursor: &str) -> ApiResult<Uuid> {
    let bad = || ApiError::BadRequest("invalid cursor".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let id = bytes.strip_prefix(CURSOR_PREFIX).ok_or_else(bad)?;
    Uuid::from_slice(id).map_err(|_| bad())
}

#[derive(Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn list_response<T: Serialize>((items, next): (Vec<T>, Option<Uuid>)) -> HttpResponse {
    HttpResponse::Ok().json(List { items, next_cursor: next.map(encode_cursor) })
}

pub fn with_etag(status: StatusCode, body: &impl Serialize, version: i32) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::ETAG, etag(version))).json(body)
}

/// What `If-Match` asks for; without it, 428 when the server requires it.
pub fn precondition(req: &HttpRequest, config: &Config) -> ApiResult<Precondition> {
    let values: Vec<&str> = req.headers().get_all(header::IF_MATCH).filter_map(|v| v.to_str().ok()).collect();
    if values.is_empty() {
        return if config.require_if_match { Err(ApiError::PreconditionRequired) } else { Ok(Precondition::None) };
    }
    let tags: Vec<String> = values.iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    if tags.iter().any(|t| t == "*") {
        return Ok(Precondition::Any);
    }
    Ok(Precondition::Tags(tags))
}

/// Reads `Idempotency-Key` and fingerprints the request it came with.
pub fn idempotency_key(req: &HttpRequest, caller: &Caller, canonical_body: &Value) -> ApiResult<Option<IdempotencyKey>> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()))
        .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()))?;
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_body.to_string().as_bytes());
    Ok(Some(IdempotencyKey { user_id: caller.user_id, key: key.to_string(), fingerprint: hex::encode(hasher.finalize()) }))
}

/// A 201 that can be replayed for a repeated idempotent request.
pub fn created(body: &impl Serialize, location: String, version: i32) -> Stored {
    Stored {
        status: StatusCode::CREATED.as_u16(),
        body: serde_json::to_value(body).expect("response bodies serialise"),
        etag: Some(etag(version)),
        location: Some(location),
    }
}

pub fn replay(stored: Stored) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    if let Some(etag) = stored.etag {
        response.insert_header((header::ETAG, etag));
    }
    if let Some(location) = stored.location {
        response.insert_header((header::LOCATION, location));
    }
    response.json(stored.body)
}

/// Methods the CORS layer allows.
pub fn allowed_methods() -> Vec<Method> {
    vec![Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_tampering_is_refused() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        let mut tampered = encode_cursor(id);
        tampered.insert(3, 'x');
        assert!(decode_cursor(&tampered).is_err());
        assert!(decode_cursor("not base64 !").is_err());
        assert!(decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        let q = |l: &str| ListQuery { limit: Some(l.into()), cursor: None }.page();
        assert_eq!(q("500").unwrap().limit, 500);
        assert_eq!(ListQuery::default().page().unwrap().limit, DEFAULT_LIMIT);
        for bad in ["0", "501", "-1", "ten", "1.5"] {
            assert!(q(bad).is_err(), "{bad}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_cursor_decodes_to_its_id(bytes in any::<[u8; 16]>()) {
                let id = Uuid::from_bytes(bytes);
                prop_assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
            }

            #[test]
            fn a_tampered_cursor_is_refused_or_names_another_id_never_a_panic(text in "\\PC{0,64}") {
                if let Ok(id) = decode_cursor(&text) {
                    prop_assert_eq!(encode_cursor(id), text);
                }
            }
        }
    }
}
