//! A read-only FHIR R4 view at `/fhir/r4`: the clinic's patients as `Patient`, ratings
//! as `Observation` (category survey), sessions as `MedicationAdministration`, with the
//! same bearer tokens, roles (clinicians and admins; researchers get none of it) and
//! tenancy as the rest of the API. Every read and search is audited like any read of a
//! patient's record. Errors leave as `OperationOutcome` (see `outcome`).

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{MAX_LIMIT, DEFAULT_LIMIT, decode_cursor, encode_cursor, path_id};
use crate::auth::Caller;
use crate::domain::fhir::{self as codes, Coding, TimeRange, date_param, instant, matching, patient_reference};
use crate::domain::infusion::{Drug, Route};
use crate::domain::instruments::Instrument;
use crate::domain::patient::Sex;
use crate::domain::user::CLINICAL;
use crate::domain::RecordStatus;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::assessments::AssessmentRecord;
use crate::store::fhir::{self as search, Search};
use crate::store::infusions::InfusionRecord;
use crate::store::patients::Patient;
use crate::store::records::{self, Kept};
use crate::store::Page;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
pub const FHIR_VERSION: &str = "4.0.1";
const BASE_PATH: &str = "/fhir/r4";

fn fhir(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type(FHIR_JSON).insert_header((header::CACHE_CONTROL, "private, no-store")).body(body.to_string())
}

/// The server's FHIR base, for `fullUrl` and paging links: from `ONSET_PUBLIC_URL`,
/// never from the request's `Host`, `X-Forwarded-Host` or `Forwarded`, which any client
/// can set (a Bundle whose links point at an attacker's host is a phishing aid).
fn base(req: &HttpRequest) -> String {
    let public_url = req.app_data::<web::Data<AppState>>().map_or("", |state| state.config.public_url.as_str());
    format!("{public_url}{BASE_PATH}")
}

fn coding((system, code, display): Coding) -> Value {
    json!({"system": system, "code": code, "display": display})
}

fn meta(version: i32, updated: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"versionId": version.to_string(), "lastUpdated": instant(updated)})
}

fn patient_resource(p: &Patient) -> Value {
    let f = &p.fields;
    let gender = match f.sex {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    };
    let mut resource = json!({
        "resourceType": "Patient",
        "id": p.id,
        "meta": meta(p.version, p.updated_at),
        "active": true,
        "name": [{"text": f.display_name}],
        "gender": gender,
        "birthDate": f.birth_date.to_string(),
    });
    if let Some(external) = &f.external_id {
        resource["identifier"] = json!([{"use": "usual", "system": "urn:onset:fhir:identifier:external-id", "value": external}]);
    }
    resource
}

fn observation_resource(r: &AssessmentRecord) -> Value {
    let rating = &r.rating;
    let instrument = rating.instrument;
    let status = match (r.status, r.version) {
        (RecordStatus::EnteredInError, _) => "entered-in-error",
        (_, 1) => "final",
        _ => "amended",
    };
    let mut components: Vec<Value> = Vec::new();
    if let (Some(obsessions), Some(compulsions)) = (r.obsessions, r.compulsions) {
        for (code, value) in [("obsessions", obsessions), ("compulsions", compulsions)] {
            let code = format!("{}-{code}", instrument.code());
            components.push(json!({"code": {"coding": [{"system": codes::ITEM_SYSTEM, "code": code}], "text": code}, "valueInteger": value}));
        }
    }
    for (item, value) in rating.scores.items().into_iter().flatten() {
        let code = format!("{}-item-{item}", instrument.code());
        components.push(json!({"code": {"coding": [{"system": codes::ITEM_SYSTEM, "code": code}], "text": code}, "valueInteger": value}));
    }
    let mut resource = json!({
        "resourceType": "Observation",
        "id": r.id,
        "meta": meta(r.version, r.updated_at),
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey", "display": "Survey"}]}],
        "code": {"coding": codes::instrument_codings(instrument).into_iter().map(coding).collect::<Vec<_>>(), "text": codes::instrument_display(instrument)},
        "subject": {"reference": format!("Patient/{}", r.patient_id)},
        "effectiveDateTime": instant(rating.rated_at),
        "valueInteger": rating.scores.total(),
    });
    if let Some(severity) = r.severity {
        resource["interpretation"] = json!([{"text": severity}]);
    }
    if !components.is_empty() {
        resource["component"] = Value::Array(components);
    }
    // The answers it was scored from, where they were given one by one.
    if rating.scores.items().is_some() {
        resource["derivedFrom"] = json!([{"reference": format!("QuestionnaireResponse/{}", r.id)}]);
    }
    resource
}

/// An itemised rating as a `QuestionnaireResponse` to the definition version it was taken
/// under (`None` for a paper total, which has no answers).
fn response_resource(r: &AssessmentRecord, base: &str) -> Option<Value> {
    let items = r.rating.scores.items()?;
    let instrument = r.rating.instrument;
    // The rating's instrument is the version it was taken under.
    let definition = instrument.definition();
    let status = if r.status == RecordStatus::EnteredInError { "entered-in-error" } else if r.version > 1 { "amended" } else { "completed" };
    Some(json!({
        "resourceType": "QuestionnaireResponse",
        "id": r.id,
        "meta": meta(r.version, r.updated_at),
        "questionnaire": codes::questionnaire_canonical(base, instrument, r.instrument_version),
        "status": status,
        "subject": {"reference": format!("Patient/{}", r.patient_id)},
        "authored": instant(r.rating.rated_at),
        "item": codes::questionnaire_response(definition, items),
    }))
}

fn administration_resource(s: &InfusionRecord) -> Value {
    let session = &s.session;
    let status = if s.status == RecordStatus::EnteredInError { "entered-in-error" } else { "completed" };
    let mut period = json!({"start": instant(session.started_at)});
    if let Some(end) = session.ended_at {
        period["end"] = json!(instant(end));
    }
    json!({
        "resourceType": "MedicationAdministration",
        "id": s.id,
        "meta": meta(s.version, s.updated_at),
        "status": status,
        "medicationCodeableConcept": {"coding": codes::drug_codings(session.drug, session.route).into_iter().map(coding).collect::<Vec<_>>(), "text": session.drug.code()},
        "subject": {"reference": format!("Patient/{}", s.patient_id)},
        "effectivePeriod": period,
        "dosage": {
            "route": {"coding": [coding(codes::route_coding(session.route))]},
            "dose": {"value": session.dose_mg, "unit": "mg", "system": codes::UCUM, "code": "mg"},
        },
    })
}

/// The search parameters a resource type takes, read from the query string; repeated
/// `date` and `_lastUpdated` values are ANDed.
#[derive(Debug)]
struct Params {
    pairs: Vec<(String, String)>,
    patient: Option<String>,
    code: Option<String>,
    date: TimeRange,
    last_updated: TimeRange,
    page: Page,
}

fn query_pairs(req: &HttpRequest) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str(req.query_string()).map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))
}

/// FHIR asks servers to honour `_format`; onset serves JSON only.
fn check_format(value: &str) -> ApiResult<()> {
    match value {
        "json" | "application/json" | "application/fhir+json" => Ok(()),
        _ => Err(ApiError::BadRequest("only JSON is served: _format=json".into())),
    }
}

/// A read takes `_format` and nothing else.
fn read_params(req: &HttpRequest) -> ApiResult<()> {
    for (key, value) in query_pairs(req)? {
        match key.as_str() {
            "_format" => check_format(&value)?,
            _ => return Err(ApiError::BadRequest(format!("a read takes no parameter {key:?}"))),
        }
    }
    Ok(())
}

fn params(req: &HttpRequest, allowed: &[&str]) -> ApiResult<Params> {
    let pairs = query_pairs(req)?;
    let mut p = Params {
        pairs: Vec::new(),
        patient: None,
        code: None,
        date: TimeRange::default(),
        last_updated: TimeRange::default(),
        page: Page { limit: DEFAULT_LIMIT, after: None },
    };
    for (key, value) in &pairs {
        let once = |slot: &Option<String>| if slot.is_some() { Err(ApiError::BadRequest(format!("give {key} once"))) } else { Ok(Some(value.clone())) };
        match key.as_str() {
            "_format" => check_format(value)?,
            "_count" => {
                let count = value.parse::<i64>().ok().filter(|c| *c >= 1).ok_or_else(|| ApiError::BadRequest("_count must be a whole number of at least 1".into()))?;
                // FHIR lets a server return fewer than asked: at most a page's maximum.
                p.page.limit = count.min(MAX_LIMIT);
            }
            "_cursor" => p.page.after = Some(decode_cursor(value)?),
            "_lastUpdated" => p.last_updated = p.last_updated.and(date_param(value).map_err(ApiError::BadRequest)?),
            k if !allowed.contains(&k) => return Err(ApiError::BadRequest(format!("unknown search parameter {k:?}; this resource is searched by {}", allowed.join(", ")))),
            "patient" | "subject" => p.patient = once(&p.patient)?,
            "code" => p.code = once(&p.code)?,
            "date" | "effective-time" | "authored" => p.date = p.date.and(date_param(value).map_err(ApiError::BadRequest)?),
            _ => {}
        }
    }
    p.pairs = pairs;
    Ok(p)
}

impl Params {
    /// A `patient` naming no patient of this shape matches nothing: the nil id.
    fn search<C: Copy + PartialEq>(&self, candidates: &[C], codings: impl Fn(C) -> Vec<Coding>) -> Search<C> {
        Search {
            patient: self.patient.as_deref().map(|r| patient_reference(r).unwrap_or(Uuid::nil())),
            codes: self.code.as_deref().map(|c| matching(c, candidates, codings)),
            date: self.date,
            last_updated: self.last_updated,
            page: self.page,
        }
    }
}

/// A searchset `Bundle` of one page, with `self` and, when there is more, `next`.
fn bundle(req: &HttpRequest, params: &Params, resource_type: &str, resources: Vec<Value>, next: Option<Uuid>) -> HttpResponse {
    let base = base(req);
    let here = format!("{base}/{resource_type}");
    let link = |cursor: Option<Uuid>| {
        let mut pairs: Vec<(String, String)> = params.pairs.iter().filter(|(k, _)| k != "_cursor").cloned().collect();
        if let Some(after) = cursor {
            pairs.push(("_cursor".into(), encode_cursor(after)));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() { here.clone() } else { format!("{here}?{query}") }
    };
    let mut links = vec![json!({"relation": "self", "url": link(params.page.after)})];
    if let Some(after) = next {
        links.push(json!({"relation": "next", "url": link(Some(after))}));
    }
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| json!({"fullUrl": format!("{here}/{}", r["id"].as_str().unwrap_or_default()), "resource": r, "search": {"mode": "match"}}))
        .collect();
    fhir(StatusCode::OK, &json!({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}))
}

pub async fn metadata(req: HttpRequest) -> ApiResult<HttpResponse> {
    read_params(&req)?;
    let param = |name: &str, kind: &str| json!({"name": name, "type": kind});
    let common = || vec![param("_lastUpdated", "date"), param("_count", "number")];
    let resource = |kind: &str, mut search: Vec<Value>| {
        search.extend(common());
        json!({"type": kind, "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": search})
    };
    let statement = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "publisher": "onset",
        "kind": "instance",
        "software": {"name": "onset", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "onset: ketamine and esketamine treatment outcomes for OCD, read-only", "url": base(&req)},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer access tokens from POST /api/v1/auth/login; clinicians and admins of the clinic whose records are read."},
            "resource": [
                resource("Patient", vec![]),
                resource("Observation", vec![param("patient", "reference"), param("code", "token"), param("date", "date")]),
                resource("MedicationAdministration", vec![param("patient", "reference"), param("code", "token"), param("effective-time", "date"), param("date", "date")]),
                resource("Questionnaire", vec![param("url", "uri"), param("name", "string"), param("version", "token")]),
                resource("QuestionnaireResponse", vec![param("patient", "reference"), param("questionnaire", "reference"), param("authored", "date")]),
            ],
        }],
    });
    Ok(fhir(StatusCode::OK, &statement))
}

/// A read of one record of the clinic as its FHIR resource, audited like any read of it.
async fn read<R: Kept + Send + 'static>(state: web::Data<AppState>, caller: Caller, req: HttpRequest, render: fn(&R) -> Value) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    read_params(&req)?;
    let (id, actor) = (path_id(&req)?, caller.actor());
    let record = state.db_as(&caller, move |conn| records::read::<R>(conn, &actor, id)).await?;
    Ok(fhir(StatusCode::OK, &render(&record)))
}

/// A search, read where a replica may serve it (`AppState::read_as`), then audited on the
/// primary with the ids it shows, before it is answered.
async fn searched<T, F>(state: &AppState, caller: &Caller, what: &'static str, patient: Option<Uuid>, search: F, id: fn(&T) -> Uuid) -> ApiResult<(Vec<T>, Option<Uuid>)>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::Db) -> ApiResult<(Vec<T>, Option<Uuid>)> + Send + 'static,
{
    let found = state.read_as(caller, search).await?;
    let (actor, shown) = (caller.actor(), found.0.iter().map(id).collect());
    state.db_as(caller, move |conn| search::audit_search(conn, &actor, what, patient, shown)).await?;
    Ok(found)
}

pub async fn patient(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    read(state, caller, req, patient_resource).await
}

pub async fn patients(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let p = params(&req, &[])?;
    let (actor, updated, page) = (caller.actor(), p.last_updated, p.page);
    let (found, next) = searched(&state, &caller, "patients", None, move |conn| search::patients(conn, &actor, updated, page), |p| p.id).await?;
    Ok(bundle(&req, &p, "Patient", found.iter().map(patient_resource).collect(), next))
}

pub async fn observation(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    read(state, caller, req, observation_resource).await
}

pub async fn observations(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let p = params(&req, &["patient", "subject", "code", "date"])?;
    let catalogue: Vec<Instrument> = catalogue(&state, &caller).await?;
    let (actor, wanted) = (caller.actor(), p.search(&catalogue, codes::instrument_codings));
    let patient = wanted.patient;
    let (found, next) = searched(&state, &caller, "observations", patient, move |conn| search::observations(conn, &actor, &wanted), |r| r.id).await?;
    Ok(bundle(&req, &p, "Observation", found.iter().map(observation_resource).collect(), next))
}

pub async fn administration(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    read(state, caller, req, administration_resource).await
}

pub async fn administrations(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let p = params(&req, &["patient", "subject", "code", "date", "effective-time"])?;
    // A drug matches a code any of its routes is coded by.
    let drug_codings = |drug: Drug| Route::ALL.iter().flat_map(|route| codes::drug_codings(drug, *route)).collect();
    let (actor, wanted) = (caller.actor(), p.search(&Drug::ALL, drug_codings));
    let patient = wanted.patient;
    let (found, next) = searched(&state, &caller, "administrations", patient, move |conn| search::administrations(conn, &actor, &wanted), |r| r.id).await?;
    Ok(bundle(&req, &p, "MedicationAdministration", found.iter().map(administration_resource).collect(), next))
}

/// `GET /fhir/r4/QuestionnaireResponse/{id}`: an itemised rating's answers (audited like
/// any read of it); a paper total has none (404).
pub async fn questionnaire_response(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    read_params(&req)?;
    let (id, actor) = (path_id(&req)?, caller.actor());
    let record = state.db_as(&caller, move |conn| records::read::<AssessmentRecord>(conn, &actor, id)).await?;
    Ok(fhir(StatusCode::OK, &response_resource(&record, &base(&req)).ok_or(ApiError::NotFound)?))
}

/// `GET /fhir/r4/QuestionnaireResponse`: itemised ratings by `patient`, `questionnaire`
/// (a canonical URL, optionally `|version`) and `authored`.
pub async fn questionnaire_responses(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let p = params(&req, &["patient", "subject", "questionnaire", "authored"])?;
    let base = base(&req);
    let catalogue: Vec<Instrument> = catalogue(&state, &caller).await?;
    let mut wanted = p.search(&catalogue, codes::instrument_codings);
    let mut version = None;
    if let Some((_, value)) = p.pairs.iter().find(|(k, _)| k == "questionnaire") {
        let named = codes::questionnaire_param(value, &base);
        version = named.as_ref().and_then(|(_, v)| *v);
        let instrument = named.and_then(|(code, _)| catalogue.iter().copied().find(|i| i.code() == code));
        wanted.codes = Some(instrument.into_iter().collect());
    }
    let actor = caller.actor();
    let patient = wanted.patient;
    let (found, next) = searched(&state, &caller, "questionnaire_responses", patient, move |conn| search::questionnaire_responses(conn, &actor, &wanted), |r| r.id).await?;
    // A version asked for matches the rating's own.
    let resources = found.iter().filter(|r| version.is_none_or(|v| r.instrument_version == v)).filter_map(|r| response_resource(r, &base)).collect();
    Ok(bundle(&req, &p, "QuestionnaireResponse", resources, next))
}

/// The instruments the caller's clinic may name: the built-in ones and its own.
async fn catalogue(state: &AppState, caller: &Caller) -> ApiResult<Vec<Instrument>> {
    let clinic = caller.clinic_id;
    Ok(state.db_as(caller, move |conn| crate::store::clinic_instruments::catalogue(conn, clinic)).await?.iter().collect())
}

/// The definitions as the caller's clinic sees them: the built-in ones with its licensed
/// wording laid in, and every version of its own.
async fn clinic_definitions(state: &AppState, caller: &Caller) -> ApiResult<Vec<crate::domain::definitions::Definition>> {
    let clinic = caller.clinic_id;
    let (supplied, own) = state
        .db_as(caller, move |conn| Ok((crate::store::instrument_texts::newest(conn, clinic, None)?, crate::store::clinic_instruments::every_version(conn, clinic)?)))
        .await?;
    Ok(Instrument::built_in()
        .map(|i| crate::domain::definitions::with_wording(i.definition(), supplied.iter().find(|(s, _)| *s == i).map(|(_, s)| &s.wording)))
        .chain(own.into_iter().map(|i| i.definition().clone()))
        .collect())
}

/// `GET /fhir/r4/Questionnaire/{id}` (`ybocs-sr.1`): a definition version as a FHIR
/// `Questionnaire`, with the caller's clinic's licensed wording only.
pub async fn questionnaire(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    read_params(&req)?;
    let wanted = req.match_info().get("id").and_then(codes::parse_questionnaire_id).ok_or(ApiError::NotFound)?;
    let definitions = clinic_definitions(&state, &caller).await?;
    let found = definitions.iter().find(|d| d.code == wanted.0 && d.version == wanted.1).ok_or(ApiError::NotFound)?;
    Ok(fhir(StatusCode::OK, &codes::questionnaire(found, &base(&req))))
}

/// `GET /fhir/r4/Questionnaire`: every definition, searched by `url`, `name`, `version`.
pub async fn questionnaires(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let p = params(&req, &["url", "name", "version"])?;
    let value = |name: &str| p.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (url, name, version) = (value("url"), value("name"), value("version"));
    let base = base(&req);
    let found: Vec<Value> = clinic_definitions(&state, &caller)
        .await?
        .iter()
        .map(|d| codes::questionnaire(d, &base))
        .filter(|q| url.as_ref().is_none_or(|u| q["url"] == u.as_str()) && name.as_ref().is_none_or(|n| q["name"] == n.as_str()) && version.as_ref().is_none_or(|v| q["version"] == v.as_str()))
        .collect();
    Ok(bundle(&req, &p, "Questionnaire", found, None))
}

fn issue_code(error: &ApiError) -> &'static str {
    match error {
        ApiError::Unauthorized(_) => "login",
        ApiError::Forbidden => "forbidden",
        ApiError::NotFound => "not-found",
        ApiError::MethodNotAllowed => "not-supported",
        ApiError::TooManyRequests { .. } => "throttled",
        ApiError::PayloadTooLarge => "too-costly",
        ApiError::RequestTimeout => "timeout",
        ApiError::BadRequest(_) | ApiError::Validation(_) | ApiError::UnsupportedMediaType(_) => "invalid",
        ApiError::Internal(_) | ApiError::Unavailable(_) | ApiError::DatabaseUnavailable(_) => "exception",
        _ => "processing",
    }
}

/// Any error under `/fhir/` as FHIR clients read it: an `OperationOutcome` with the
/// problem's status, headers (`Retry-After`, `WWW-Authenticate`) and detail.
pub fn outcome<B: MessageBody + 'static>(res: ServiceResponse<B>) -> ServiceResponse {
    let status = res.status();
    let error = res.response().error().and_then(|e| e.as_error::<ApiError>()).map(|e| (issue_code(e), e.detail(), e.error_response()));
    let (req, _) = res.into_parts();
    let (code, detail, mut response) = error.unwrap_or_else(|| {
        let fallback = super::middleware::problem_for(status);
        (issue_code(&fallback), fallback.detail(), fallback.error_response())
    });
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": detail}]});
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    ServiceResponse::new(req, response.set_body(body.to_string()).map_into_boxed_body())
}
