//! Cohort onset analytics (clinicians, admins; researchers with small cells suppressed).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{query, validation};
use crate::auth::{Caller, Role};
use crate::domain::FieldError;
use crate::domain::anonymise::age_at_first_infusion;
use crate::domain::chart::{ForestRow, forest_svg, onset_svg as onset_svg_text};
use crate::domain::infusion::{Drug, Guidance, Route};
use crate::domain::instruments::{Catalogue, Instrument};
use crate::domain::onset::{CohortAccumulator, OnsetReport, report};
use crate::domain::outcomes::{CONSENSUS_2016, Endpoint};
use crate::domain::patient::Sex;
use crate::domain::fields::one_of;
use crate::db::{Db, Pool};
use crate::domain::predictors::{Covariate, Levels, Subject, TermName, age_band, design, model};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{audit, clinic_instruments};
use crate::store::summaries::{self, CohortFilter, CohortPage, CohortSlice, Member};
use std::sync::mpsc;

/// Summaries read at a time: memory is bounded by the page, not the cohort.
const COHORT_PAGE: i64 = 5_000;

/// Readers of a cohort at once at most (`each_member`), and the slices of it they take in
/// turn: enough slices that enrolment uneven over time still keeps both readers busy.
const COHORT_READERS: usize = 2;
const COHORT_SLICES: u128 = 8;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OnsetQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    instrument: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guidance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_max: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// `/analytics/cox` only: the model's covariates, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    covariates: Option<String>,
}

/// The cohort's filters, parsed. The route, drug and guidance are those of the
/// patient's first infusion; `from` and `to` bound its date (inclusive).
#[derive(Debug, Clone)]
struct Filters {
    instrument: Instrument,
    endpoint: Endpoint,
    route: Option<Route>,
    drug: Option<Drug>,
    guidance: Option<Guidance>,
    sex: Option<Sex>,
    age_min: Option<u32>,
    age_max: Option<u32>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

fn date(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> Option<NaiveDate> {
    let value = value?;
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(value).ok().map(|t| t.with_timezone(&Utc).date_naive()))
        // Four-digit years, as stored times have: the query compares them as bounds.
        .filter(|d| (0..=9999).contains(&d.year()));
    if parsed.is_none() {
        errors.push(FieldError::new(field, "must be a date (YYYY-MM-DD) or an RFC 3339 date-time"));
    }
    parsed
}

fn age(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> Option<u32> {
    let value = value?;
    let parsed = value.parse::<u32>().ok().filter(|a| *a <= 130);
    if parsed.is_none() {
        errors.push(FieldError::new(field, "must be a whole number of years from 0 to 130"));
    }
    parsed
}

impl OnsetQuery {
    /// The filters; the instrument one of the clinic's `catalogue` that outcome rules judge.
    fn parse(&self, catalogue: &Catalogue) -> ApiResult<Filters> {
        let mut e = Vec::new();
        let judged: Vec<&str> = catalogue.iter().filter(|i| i.rules().is_judged()).map(|i| i.code()).collect();
        let instrument = one_of(&mut e, "instrument", Some(self.instrument.as_deref().unwrap_or("ybocs")), |code| catalogue.parse(code), &judged);
        let endpoint = one_of(&mut e, "endpoint", Some(self.endpoint.as_deref().unwrap_or("response")), Endpoint::parse, &Endpoint::codes());
        let filters = Filters {
            instrument: instrument.unwrap_or(Instrument::named("ybocs")),
            endpoint: endpoint.unwrap_or(Endpoint::Response),
            route: one_of(&mut e, "route", self.route.as_deref(), Route::parse, &Route::codes()),
            drug: one_of(&mut e, "drug", self.drug.as_deref(), Drug::parse, &Drug::codes()),
            guidance: one_of(&mut e, "guidance", self.guidance.as_deref(), Guidance::parse, &Guidance::codes()),
            sex: one_of(&mut e, "sex", self.sex.as_deref(), Sex::parse, &Sex::codes()),
            age_min: age(&mut e, "age_min", self.age_min.as_deref()),
            age_max: age(&mut e, "age_max", self.age_max.as_deref()),
            from: date(&mut e, "from", self.from.as_deref()),
            to: date(&mut e, "to", self.to.as_deref()),
        };
        // Remission needs a cut-off in the definition; relapse is the OCD consensus's,
        // after its remission (DESIGN.md §1); the other endpoints every judged instrument has.
        let defines = |endpoint: Endpoint, i: Instrument| match endpoint {
            Endpoint::Remission => CONSENSUS_2016.has_remission(i),
            Endpoint::Relapse => i.measures_ocd() && CONSENSUS_2016.has_remission(i),
            _ => true,
        };
        if instrument.is_some() && !filters.instrument.rules().is_judged() {
            e.push(FieldError::new("instrument", format!("onset analytics follow the instruments with outcome rules: {}", judged.join(", "))));
        } else if instrument.is_some() && !defines(filters.endpoint, filters.instrument) {
            let defining: Vec<&str> = catalogue.iter().filter(|i| defines(filters.endpoint, *i)).map(|i| i.code()).collect();
            e.push(FieldError::new("endpoint", format!("{} is defined for {} only", filters.endpoint.code().replace('_', " "), defining.join(", "))));
        }
        if e.is_empty() { Ok(filters) } else { Err(validation(e)) }
    }
}

impl Filters {
    /// Researchers filter coarsely, so that two close queries cannot be subtracted to
    /// isolate a few patients: whole first-infusion months and 5-year age bands.
    fn check_coarse(&self) -> ApiResult<()> {
        let mut e = Vec::new();
        if self.from.is_some_and(|d| d.day() != 1) {
            e.push(FieldError::new("from", "researchers filter by whole months: give the first day of a month"));
        }
        if self.to.is_some_and(|d| d.succ_opt().is_some_and(|next| next.day() != 1)) {
            e.push(FieldError::new("to", "researchers filter by whole months: give the last day of a month"));
        }
        if self.age_min.is_some_and(|a| a % 5 != 0) {
            e.push(FieldError::new("age_min", "researchers filter by 5-year age bands: give a multiple of 5"));
        }
        if self.age_max.is_some_and(|a| a % 5 != 4) {
            e.push(FieldError::new("age_max", "researchers filter by 5-year age bands: give the last year of a band (4, 9, 14, …)"));
        }
        if e.is_empty() { Ok(()) } else { Err(validation(e)) }
    }

    /// The filters as the cohort's query applies them: researchers see consenting
    /// patients only; `from` and `to` are whole UTC days.
    fn cohort(&self, researcher: bool) -> CohortFilter {
        let midnight = |day: NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
        CohortFilter {
            sex: self.sex,
            consenting_only: researcher,
            age_min: self.age_min,
            age_max: self.age_max,
            route: self.route,
            drug: self.drug,
            guidance: self.guidance,
            first_from: self.from.map(midnight),
            // Up to the end of 9999-12-31 is every stored time: no bound.
            first_before: self.to.and_then(|to| to.succ_opt()).filter(|next| next.year() <= 9999).map(midnight),
        }
    }
}

#[derive(Serialize)]
struct OnsetView {
    definition_set: &'static str,
    instrument: Instrument,
    endpoint: Endpoint,
    filters: OnsetQuery,
    #[serde(flatten)]
    report: OnsetReport,
}

pub async fn onset(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let (view, _) = cohort_report(state, caller, req).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The same report drawn: 1 − S(t) with its band, censoring and numbers at risk.
pub async fn onset_svg(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let (view, min_cell) = cohort_report(state, caller, req).await?;
    Ok(super::svg(onset_svg_text(&view.report, view.instrument, view.endpoint.code(), min_cell)))
}

/// Visits the cohort's members the filters keep, in patient id order, a page at a time so
/// that memory is bounded by the pages, not the cohort: one kept summary a patient
/// (store::summaries), never their records; consenting patients only for researchers.
/// `read_page` reads a page of members (`summaries::cohort_page` whole, or
/// `summaries::onset_page` as the onset report needs them).
///
/// Two readers read at once, each on a connection of its own: the cohort's id range is
/// cut into slices dealt in turn (slice k to reader k mod 2), and their pages are visited
/// in the same turn, so the order stays the patients'. One reader kept a single core busy,
/// reading and decoding (SQLite) or decoding while PostgreSQL waited and then waiting
/// while it ran the query.
fn each_member<M: Send>(pool: &Pool, clinic: uuid::Uuid, filters: &Filters, researcher: bool, read_page: PageReader<M>, mut visit: impl FnMut(&M)) -> ApiResult<()> {
    // The first connection is waited for, as any read's; the others are taken only if
    // free at once. A reader holds its connection while it waits for its turn, so readers
    // that each waited for a second one could hold the whole pool between them, every one
    // waiting for a connection another holds. A busy pool gets one reader, as before.
    let mut conns = vec![pool.get()?];
    conns.extend((1..COHORT_READERS).map_while(|_| pool.try_get()));
    let Some((first, last)) = summaries::cohort_ends(&mut conns[0], clinic, filters.instrument)? else { return Ok(()) };
    let ends = slice_ends(first, last, COHORT_SLICES);
    let cohort = &Cohort { clinic, instrument: filters.instrument, endpoint: filters.endpoint, filter: filters.cohort(researcher), read_page, ends: &ends, readers: conns.len() };
    std::thread::scope(|scope| {
        let readers: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(reader, mut conn)| {
                let (pages, read) = mpsc::sync_channel(1);
                scope.spawn(move || {
                    if let Err(e) = cohort.read_slices(&mut conn, reader, &pages) {
                        let _ = pages.send(Err(e));
                    }
                });
                read
            })
            .collect();
        for k in 0..ends.len() {
            loop {
                match readers[k % readers.len()].recv().map_err(|_| ApiError::Internal("a cohort reader stopped".into()))?? {
                    Read::Page(members) => members.iter().for_each(&mut visit),
                    Read::SliceDone => break,
                }
            }
        }
        Ok(())
    })
}

/// Reads a page of a clinic's cohort of an instrument and an endpoint.
type PageReader<M> = fn(&mut Db, uuid::Uuid, Instrument, Endpoint, &CohortFilter, CohortSlice) -> ApiResult<CohortPage<M>>;

/// What a cohort reader hands on: a page of the members the filters keep, or the end of
/// the slice it was reading.
enum Read<M> {
    Page(Vec<M>),
    SliceDone,
}

/// A cohort being read: whose, which members and how, and where its slices end.
struct Cohort<'a, M> {
    clinic: uuid::Uuid,
    instrument: Instrument,
    endpoint: Endpoint,
    filter: CohortFilter,
    read_page: PageReader<M>,
    ends: &'a [Option<uuid::Uuid>],
    /// How many read it.
    readers: usize,
}

impl<M> Cohort<'_, M> {
    /// Reads slices `reader`, `reader` + the number of readers, … a page at a time, handing
    /// each on, until they are done or the visitor has stopped taking them.
    fn read_slices(&self, conn: &mut Db, reader: usize, pages: &mpsc::SyncSender<ApiResult<Read<M>>>) -> ApiResult<()> {
        for k in (reader..self.ends.len()).step_by(self.readers) {
            let mut slice = CohortSlice { after: k.checked_sub(1).and_then(|before| self.ends[before]), up_to: self.ends[k], limit: COHORT_PAGE };
            loop {
                let page = (self.read_page)(conn, self.clinic, self.instrument, self.endpoint, &self.filter, slice)?;
                if pages.send(Ok(Read::Page(page.members))).is_err() {
                    return Ok(());
                }
                match page.next {
                    Some(next) => slice.after = Some(next),
                    None => break,
                }
            }
            if pages.send(Ok(Read::SliceDone)).is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The upper end of each slice of a cohort whose patient ids run from `first` to `last`:
/// the range cut evenly, the last slice open. Patient ids are UUIDv7, whose leading bits
/// are when the patient was added, so even cuts are even spans of enrolment.
fn slice_ends(first: uuid::Uuid, last: uuid::Uuid, slices: u128) -> Vec<Option<uuid::Uuid>> {
    let (low, high) = (first.as_u128(), last.as_u128());
    let step = high.saturating_sub(low) / slices;
    (1..slices).map(|k| Some(uuid::Uuid::from_u128(low + step * k))).chain([None]).collect()
}

/// The cohort a query selects, as the caller may see it: the filters (the instrument one
/// of the clinic's), whether the caller is a researcher, and then their minimum cell.
/// Researchers filter coarsely and see consenting patients only, like the export, and the
/// private view.
async fn cohort_filters(state: &AppState, caller: &Caller, given: &OnsetQuery) -> ApiResult<(Filters, bool, Option<u32>)> {
    let clinic = caller.clinic_id;
    // A clinic's own instruments are its alone: another clinic's code is unknown here.
    let catalogue = state.db_as(caller, move |conn| clinic_instruments::catalogue(conn, clinic)).await?;
    let filters = given.parse(&catalogue)?;
    let researcher = caller.role == Role::Researcher;
    if researcher {
        filters.check_coarse()?;
    }
    Ok((filters, researcher, researcher.then_some(state.config.min_cell)))
}

/// The cohort's report as the caller may see it (researchers: the private view, whose
/// minimum cell is returned beside it), audited.
async fn cohort_report(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<(OnsetView, Option<u32>)> {
    caller.require(&[Role::Clinician, Role::Admin, Role::Researcher])?;
    let given = query::<OnsetQuery>(&req)?;
    if given.covariates.is_some() {
        return Err(ApiError::invalid("covariates", "only /api/v1/analytics/cox takes covariates"));
    }
    let (filters, researcher, min_cell) = cohort_filters(&state, &caller, &given).await?;
    let actor = caller.actor();
    let selected = {
        let filters = filters.clone();
        // A replica may serve it: a cohort is a report, never the check of a write just made.
        state
            .read_pool_as(&caller, move |pool| {
                let mut cohort = CohortAccumulator::new();
                each_member(pool, actor.clinic_id, &filters, researcher, summaries::onset_page, |member| cohort.add(member.observation, member.acute))?;
                Ok(cohort.finish())
            })
            .await?
    };
    let view = OnsetView {
        definition_set: CONSENSUS_2016.name,
        instrument: filters.instrument,
        endpoint: filters.endpoint,
        filters: given.clone(),
        report: report(&selected, min_cell),
    };
    let actor = caller.actor();
    let detail = json!({"filters": given, "n_patients": selected.n_patients(), "n_events": selected.n_events(), "suppressed": view.report.suppressed});
    state.db_as(&caller, move |conn| Ok(audit::append(conn, actor.audit("analytics.onset", "cohort", None, detail))?)).await?;
    Ok((view, min_cell))
}

/// A Cox model's answer: the terms with their hazard ratios and tests, what the model
/// was fitted on, and the reference level of each categorical covariate.
#[derive(Serialize)]
struct CoxView {
    definition_set: &'static str,
    instrument: Instrument,
    endpoint: Endpoint,
    filters: OnsetQuery,
    covariates: Vec<Covariate>,
    n_patients: usize,
    n_events: usize,
    /// Patients of the cohort left out for lacking a covariate's value.
    n_excluded: usize,
    levels: Vec<Levels>,
    log_likelihood: f64,
    concordance: f64,
    iterations: usize,
    terms: Vec<CoxTerm>,
}

#[derive(Serialize)]
struct CoxTerm {
    #[serde(flatten)]
    name: TermName,
    coef: f64,
    hazard_ratio: f64,
    se: f64,
    z: f64,
    p: f64,
    /// The 95 % interval of the coefficient; `hazard_ratio_ci` is the hazard ratio's.
    ci_lower: f64,
    ci_upper: f64,
    hazard_ratio_ci: [f64; 2],
    /// Scaled Schoenfeld residuals against the rank of time (Grambsch & Therneau 1994).
    ph_test: serde_json::Value,
}

fn covariates_of(given: Option<&str>) -> ApiResult<Vec<Covariate>> {
    let Some(given) = given.filter(|g| !g.trim().is_empty()) else { return Err(ApiError::invalid("covariates", format!("name one or more of: {}", Covariate::codes().join(", ")))) };
    let mut chosen: Vec<Covariate> = Vec::new();
    let mut errors = Vec::new();
    for name in given.split(',').map(str::trim) {
        match Covariate::parse(name) {
            Some(c) if !chosen.contains(&c) => chosen.push(c),
            Some(_) => errors.push(FieldError::new("covariates", format!("{name} is named twice"))),
            None => errors.push(FieldError::new("covariates", format!("unknown covariate {name:?}: one of {}", Covariate::codes().join(", ")))),
        }
    }
    if errors.is_empty() { Ok(chosen) } else { Err(validation(errors)) }
}

/// `GET /api/v1/analytics/cox`: what predicts the time to the endpoint (DESIGN.md §11).
pub async fn cox(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(cox_model(state, caller, req).await?))
}

/// `GET /api/v1/analytics/cox.svg`: the same model's hazard ratios as a forest plot.
pub async fn cox_svg(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let view = cox_model(state, caller, req).await?;
    let rows: Vec<ForestRow> = view
        .terms
        .iter()
        .map(|t| ForestRow { term: t.name.term.clone(), hazard_ratio: t.hazard_ratio, ci_lower: t.hazard_ratio_ci[0], ci_upper: t.hazard_ratio_ci[1], p: t.p })
        .collect();
    let references: Vec<String> = view.levels.iter().map(|l| format!("{} against {}", l.covariate.code(), l.reference)).collect();
    let title = format!("What predicts {} on {}", view.endpoint.code().replace('_', " "), view.instrument.definition().name);
    let desc = format!(
        "Hazard ratios with 95 % intervals from a Cox model of {} patients and {} events{}; above 1, sooner.",
        view.n_patients,
        view.n_events,
        if references.is_empty() { String::new() } else { format!(" ({})", references.join("; ")) }
    );
    Ok(super::svg(forest_svg(&title, &desc, &rows)))
}

/// The fitted model the caller may see, audited; 422 with the reason when refused.
async fn cox_model(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<CoxView> {
    caller.require(&[Role::Clinician, Role::Admin, Role::Researcher])?;
    let given = query::<OnsetQuery>(&req)?;
    let covariates = covariates_of(given.covariates.as_deref())?;
    let (filters, researcher, min_cell) = cohort_filters(&state, &caller, &given).await?;
    let actor = caller.actor();
    let subjects = {
        let filters = filters.clone();
        state
            .read_pool_as(&caller, move |pool| {
                let mut subjects = Vec::new();
                each_member(pool, actor.clinic_id, &filters, researcher, summaries::cohort_page, |member| subjects.extend(subject(member, filters.endpoint)))?;
                Ok(subjects)
            })
            .await?
    };
    // The model, or the refusal with the terms its reason may name.
    let fitted = match design(&subjects, &covariates) {
        Err(refusal) => Err((refusal, Vec::new())),
        Ok(design) => match model(&design, min_cell) {
            Ok(fit) => Ok((design, fit)),
            Err(refusal) => Err((refusal, design.terms)),
        },
    };
    let actor = caller.actor();
    let detail = json!({"filters": given, "covariates": covariates, "n_patients": fitted.as_ref().ok().map(|(_, fit)| fit.n), "refused": fitted.is_err()});
    state.db_as(&caller, move |conn| Ok(audit::append(conn, actor.audit("analytics.cox", "cohort", None, detail))?)).await?;
    let (design, fit) = fitted.map_err(|(refusal, terms)| ApiError::Validation(vec![FieldError::new("covariates", refusal.reason(&terms))]))?;
    let terms = design
        .terms
        .iter()
        .zip(&fit.terms)
        .map(|(name, t)| CoxTerm {
            name: name.clone(),
            coef: t.coef,
            hazard_ratio: t.hazard_ratio,
            se: t.se,
            z: t.z,
            p: t.p,
            ci_lower: t.ci_lower,
            ci_upper: t.ci_upper,
            hazard_ratio_ci: [t.ci_lower.exp(), t.ci_upper.exp()],
            ph_test: json!({"statistic": t.ph_statistic, "p": t.ph_p, "time_transform": "rank"}),
        })
        .collect();
    Ok(CoxView {
        definition_set: CONSENSUS_2016.name,
        instrument: filters.instrument,
        endpoint: filters.endpoint,
        filters: given,
        covariates,
        n_patients: fit.n,
        n_events: fit.events,
        n_excluded: design.excluded,
        levels: design.levels,
        log_likelihood: fit.log_likelihood,
        concordance: fit.concordance,
        iterations: fit.iterations,
        terms,
    })
}

/// A cohort member as the model reads them; `None` when not at risk of the endpoint.
fn subject(member: &Member, endpoint: Endpoint) -> Option<Subject> {
    let first = &member.first;
    let age = age_at_first_infusion(member.birth_date, Some(first.started_at))?;
    Some(Subject {
        observation: member.onset.observation(endpoint)?,
        dose_mg_per_kg: first.dose_mg_per_kg,
        cadss_peak: first.cadss_total.map(f64::from),
        baseline_total: f64::from(member.onset.baseline_total),
        route: first.route.code(),
        guidance: first.guidance.map(Guidance::code),
        sex: member.sex.code(),
        age_band: age_band(age),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_cohorts_id_range_is_cut_into_even_slices_the_last_open() {
        // Ids 100 to 900 in 8 slices: steps of 800 / 8 = 100, so the slices end at 200, 300,
        // …, 800 and the last runs on past 900 (a patient added while it is read).
        let ends = slice_ends(Uuid::from_u128(100), Uuid::from_u128(900), 8);
        let expected: Vec<Option<Uuid>> = (2..=8).map(|k| Some(Uuid::from_u128(k * 100))).chain([None]).collect();
        assert_eq!(ends, expected);
        // 100 to 107: a step of 7 / 8, rounded down to 0. Every end is the first id, so the
        // first slice holds it alone, the middle six nothing, and the last the rest.
        let ends = slice_ends(Uuid::from_u128(100), Uuid::from_u128(107), 8);
        assert_eq!(ends, [Some(Uuid::from_u128(100)); 7].into_iter().chain([None]).collect::<Vec<_>>());
        // One patient: the same.
        let one = Uuid::now_v7();
        assert_eq!(slice_ends(one, one, 8), [Some(one); 7].into_iter().chain([None]).collect::<Vec<_>>());
        // The whole range of ids, without overflowing.
        let ends = slice_ends(Uuid::nil(), Uuid::max(), 8);
        assert_eq!(ends[0], Some(Uuid::from_u128(u128::MAX / 8)));
        assert_eq!(ends[6], Some(Uuid::from_u128(u128::MAX / 8 * 7)));
        assert_eq!(ends[7], None);
    }
}
