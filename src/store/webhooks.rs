//! Webhook endpoints, the outbox, and deliveries: an event is written in the transaction
//! of the change it reports, with one delivery per subscribed endpoint, so a crash
//! between the change and the delivery loses nothing; the dispatcher then claims what is
//! due, sends it, and records the outcome.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Actor, Page, audit, split_page, stored};
use crate::db::schema::{outbox as o, webhook_deliveries as w, webhook_endpoints as e};
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::auth::seal::Sealer;
use crate::domain::webhooks::{BREAKER_THRESHOLD, Event, SECRET_PREFIX, next_attempt, pause_after};
use crate::error::{ApiError, ApiResult};

/// A registered endpoint; the secret is shown once, when it is created.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<Event>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: Uuid,
    /// Failed attempts in a row; a success resets it.
    pub consecutive_failures: i32,
    /// Set while the circuit breaker leaves the endpoint alone after too many failures.
    pub paused_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = e)]
struct EndpointRow {
    id: DbUuid,
    clinic_id: DbUuid,
    url: String,
    events: DbJson,
    secret: String,
    active: bool,
    created_at: DbTime,
    created_by: DbUuid,
    consecutive_failures: i32,
    paused_until: Option<DbTime>,
}

impl EndpointRow {
    fn events(&self) -> ApiResult<Vec<Event>> {
        let codes: Vec<String> = stored("webhook events", serde_json::from_value(self.events.0.clone()).ok())?;
        codes.iter().map(|c| stored("webhook event", Event::parse(c))).collect()
    }

    /// The endpoint as the API shows it: never its secret, which only creation shows.
    fn into_endpoint(self) -> ApiResult<Endpoint> {
        Ok(Endpoint {
            events: self.events()?,
            id: self.id.0,
            url: self.url,
            active: self.active,
            created_at: self.created_at.0,
            created_by: self.created_by.0,
            consecutive_failures: self.consecutive_failures,
            paused_until: self.paused_until.map(|t| t.0),
            secret: None,
        })
    }
}

/// Active endpoints a clinic may have: each is a receiver the dispatcher serves, so one
/// clinic cannot take its time from the others by registering hundreds.
pub const MAX_ENDPOINTS_PER_CLINIC: i64 = 10;

fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// Registers an endpoint with a new secret, sealed before it is stored; the answer shows
/// the secret, once. 409 past `MAX_ENDPOINTS_PER_CLINIC` active endpoints.
pub fn create_endpoint(conn: &mut Db, actor: &Actor, url: String, events: Vec<Event>, sealer: &Sealer, now: DateTime<Utc>) -> ApiResult<Endpoint> {
    let secret = new_secret();
    let row = EndpointRow {
        id: DbUuid(Uuid::now_v7()),
        clinic_id: DbUuid(actor.clinic_id),
        url,
        events: DbJsonOf(json!(events.iter().map(|e| e.code()).collect::<Vec<_>>())),
        secret: sealer.seal(&secret),
        active: true,
        created_at: DbTime(now),
        created_by: DbUuid(actor.user_id),
        consecutive_failures: 0,
        paused_until: None,
    };
    write_tx(conn, |conn| -> ApiResult<()> {
        let active: i64 = e::table.filter(e::clinic_id.eq(DbUuid(actor.clinic_id))).filter(e::active.eq(true)).count().get_result(conn)?;
        if active >= MAX_ENDPOINTS_PER_CLINIC {
            return Err(ApiError::Conflict(format!("a clinic has at most {MAX_ENDPOINTS_PER_CLINIC} active webhook endpoints: deactivate one first")));
        }
        let id = row.id.0;
        let detail = json!({"url_host": row.url.split('/').nth(2), "events": row.events.0});
        diesel::insert_into(e::table).values(&row).execute(conn)?;
        audit::record(conn, actor.audit("webhook.create", "webhook", Some(id), detail))?;
        Ok(())
    })?;
    Ok(Endpoint { secret: Some(secret), ..row.into_endpoint()? })
}

/// Seals the secrets stored in the clear before sealing began (run at start-up, after
/// the migrations); returns how many it sealed.
pub fn seal_stored_secrets(conn: &mut Db, sealer: &Sealer) -> ApiResult<usize> {
    write_tx(conn, |conn| {
        let plain: Vec<(DbUuid, String)> = e::table.filter(e::secret.like(format!("{SECRET_PREFIX}%"))).select((e::id, e::secret)).load(conn)?;
        for (id, secret) in &plain {
            diesel::update(e::table.find(id)).set(e::secret.eq(sealer.seal(secret))).execute(conn)?;
        }
        Ok(plain.len())
    })
}

pub fn list_endpoints(conn: &mut Db, clinic: Uuid, page: Page) -> ApiResult<(Vec<Endpoint>, Option<Uuid>)> {
    let mut query = e::table.filter(e::clinic_id.eq(DbUuid(clinic))).select(EndpointRow::as_select()).order(e::id.asc()).limit(page.limit + 1).into_boxed();
    if let Some(after) = page.after {
        query = query.filter(e::id.gt(DbUuid(after)));
    }
    let endpoints = query.load(conn)?.into_iter().map(EndpointRow::into_endpoint).collect::<ApiResult<Vec<_>>>()?;
    Ok(split_page(endpoints, page, |e| e.id))
}

pub fn find_endpoint(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Endpoint> {
    let row = e::table.filter(e::id.eq(DbUuid(id))).filter(e::clinic_id.eq(DbUuid(clinic))).select(EndpointRow::as_select()).first(conn).optional()?;
    row.ok_or(ApiError::NotFound)?.into_endpoint()
}

/// Stops sending to an endpoint; its deliveries stay on record, pending ones are dropped.
pub fn deactivate(conn: &mut Db, actor: &Actor, id: Uuid, now: DateTime<Utc>) -> ApiResult<Endpoint> {
    write_tx(conn, |conn| {
        find_endpoint(conn, actor.clinic_id, id)?;
        diesel::update(e::table.find(DbUuid(id))).set(e::active.eq(false)).execute(conn)?;
        let dropped: Vec<DbUuid> = w::table.filter(w::endpoint_id.eq(DbUuid(id))).filter(w::status.eq("pending")).select(w::outbox_id).load(conn)?;
        diesel::update(w::table.filter(w::endpoint_id.eq(DbUuid(id))).filter(w::status.eq("pending")))
            .set((w::status.eq("failed"), w::last_error.eq(Some("endpoint deactivated")), w::last_attempt_at.eq(Some(DbTime(now)))))
            .execute(conn)?;
        for message in dropped {
            scrub_link_when_sent(conn, message)?;
        }
        audit::record(conn, actor.audit("webhook.deactivate", "webhook", Some(id), json!({})))?;
        find_endpoint(conn, actor.clinic_id, id)
    })
}

/// Writes an event to the outbox with a delivery for each active endpoint of the clinic
/// that subscribes to it. Call inside the transaction of the change it reports.
pub fn emit(conn: &mut Db, clinic: Uuid, event: Event, data: Value, now: DateTime<Utc>) -> ApiResult<()> {
    let endpoints: Vec<EndpointRow> = e::table.filter(e::clinic_id.eq(DbUuid(clinic))).filter(e::active.eq(true)).select(EndpointRow::as_select()).load(conn)?;
    let mut subscribed = Vec::new();
    for endpoint in endpoints {
        if endpoint.events()?.contains(&event) {
            subscribed.push(endpoint.id);
        }
    }
    if subscribed.is_empty() {
        return Ok(());
    }
    let id = Uuid::now_v7();
    // The Standard Webhooks envelope: type, timestamp, data. Data carries ids, never names.
    let payload = json!({"type": event.code(), "timestamp": now, "data": data});
    diesel::insert_into(o::table)
        .values((o::id.eq(DbUuid(id)), o::clinic_id.eq(DbUuid(clinic)), o::event.eq(event.code()), o::payload.eq(DbJsonOf(payload)), o::created_at.eq(DbTime(now))))
        .execute(conn)?;
    for endpoint in subscribed {
        diesel::insert_into(w::table)
            .values((
                w::id.eq(DbUuid(Uuid::now_v7())),
                w::clinic_id.eq(DbUuid(clinic)),
                w::outbox_id.eq(DbUuid(id)),
                w::endpoint_id.eq(endpoint),
                w::status.eq("pending"),
                w::attempts.eq(0),
                w::next_attempt_at.eq(DbTime(now)),
                w::created_at.eq(DbTime(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// One delivery to make: where, with what key, which message.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery: Uuid,
    pub endpoint: Uuid,
    /// The message id (`webhook-id`): the same on every retry, so a receiver can
    /// recognise a repeat.
    pub message: Uuid,
    pub url: String,
    /// The endpoint's secret, opened; `None` when it cannot be (sealed under another key).
    pub secret: Option<String>,
    pub body: Vec<u8>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// A claimed delivery is not claimed again for this long, by this or another instance.
const LEASE_SECS: i64 = 60;

/// An endpoint with deliveries due now, and whether its breaker has tripped before (it
/// is then probed with one delivery at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueEndpoint {
    pub id: Uuid,
    pub failing: bool,
}

/// The active endpoints with deliveries due at `now`, whose breaker is not open: each is
/// then claimed for on its own, so one endpoint's backlog never stands in front of
/// another endpoint's (another clinic's) new events.
pub fn due_endpoints(conn: &mut Db, now: DateTime<Utc>) -> ApiResult<Vec<DueEndpoint>> {
    // Most rounds find nothing: ask first, so that an idle round reads one index.
    let waiting: i64 = w::table.filter(w::status.eq("pending")).filter(w::next_attempt_at.le(DbTime(now))).count().get_result(conn)?;
    if waiting == 0 {
        return Ok(Vec::new());
    }
    let due_here = w::table.filter(w::endpoint_id.eq(e::id)).filter(w::status.eq("pending")).filter(w::next_attempt_at.le(DbTime(now)));
    let rows: Vec<(DbUuid, i32)> = e::table
        .filter(e::active.eq(true))
        .filter(e::paused_until.is_null().or(e::paused_until.le(DbTime(now))))
        .filter(diesel::dsl::exists(due_here))
        .select((e::id, e::consecutive_failures))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, failures)| DueEndpoint { id: id.0, failing: failures >= BREAKER_THRESHOLD }).collect())
}

/// Claims up to `limit` of one endpoint's deliveries that are due, oldest first. The
/// claim moves `next_attempt_at` on by a lease only if no other instance moved it first,
/// so each attempt is made once.
pub fn claim(conn: &mut Db, endpoint: Uuid, now: DateTime<Utc>, limit: i64, sealer: &Sealer) -> ApiResult<Vec<Job>> {
    type Due = (DbUuid, DbUuid, i32, DbTime, DbTime, String, String, DbJson);
    write_tx(conn, |conn| {
        let due: Vec<Due> = w::table
            .inner_join(o::table)
            .inner_join(e::table)
            .filter(w::endpoint_id.eq(DbUuid(endpoint)))
            .filter(w::status.eq("pending"))
            .filter(w::next_attempt_at.le(DbTime(now)))
            .order(w::id.asc())
            .limit(limit)
            .select((w::id, w::outbox_id, w::attempts, w::next_attempt_at, o::created_at, e::url, e::secret, o::payload))
            .load(conn)?;
        let mut jobs = Vec::new();
        for (id, message, attempts, expected, created_at, url, secret, payload) in due {
            let claimed = diesel::update(w::table.find(id).filter(w::status.eq("pending")).filter(w::next_attempt_at.eq(expected)))
                .set((w::next_attempt_at.eq(DbTime(now + Duration::seconds(LEASE_SECS))), w::attempts.eq(attempts + 1), w::last_attempt_at.eq(Some(DbTime(now)))))
                .execute(conn)?;
            if claimed == 1 {
                let body = serde_json::to_vec(&payload.0).expect("JSON serialises");
                let secret = sealer.open(&secret);
                jobs.push(Job { delivery: id.0, endpoint, message: message.0, url, secret, body, attempts: attempts + 1, created_at: created_at.0 });
            }
        }
        Ok(jobs)
    })
}

/// What a delivery attempt came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// Records an attempt: delivered, or tried again later with backoff, or given up after
/// 24 hours.
pub fn finish(conn: &mut Db, job: &Job, outcome: &Outcome, now: DateTime<Utc>) -> ApiResult<()> {
    write_tx(conn, |conn| record_attempt(conn, job, outcome, now))
}

fn record_attempt(conn: &mut Db, job: &Job, outcome: &Outcome, now: DateTime<Utc>) -> ApiResult<()> {
    trip_or_reset_breaker(conn, job.endpoint, matches!(outcome, Outcome::Delivered { .. }), now)?;
    let target = w::table.find(DbUuid(job.delivery));
    match outcome {
        Outcome::Delivered { status } => diesel::update(target)
            .set((w::status.eq("delivered"), w::last_status.eq(Some(i32::from(*status))), w::last_error.eq(None::<String>), w::delivered_at.eq(Some(DbTime(now)))))
            .execute(conn)?,
        Outcome::Failed { status, error } => {
            let (state, next) = match next_attempt(job.attempts, job.created_at, now) {
                Some(next) => ("pending", next),
                None => ("failed", now),
            };
            diesel::update(target)
                .set((w::status.eq(state), w::next_attempt_at.eq(DbTime(next)), w::last_status.eq(status.map(i32::from)), w::last_error.eq(Some(error.chars().take(500).collect::<String>()))))
                .execute(conn)?
        }
    };
    scrub_link_when_sent(conn, DbUuid(job.message))
}

/// The endpoint's circuit breaker: a success closes it, a failure counts, and enough
/// failures in a row leave the endpoint alone for a while (`pause_after`).
fn trip_or_reset_breaker(conn: &mut Db, endpoint: Uuid, delivered: bool, now: DateTime<Utc>) -> ApiResult<()> {
    let target = e::table.find(DbUuid(endpoint));
    if delivered {
        diesel::update(target).set((e::consecutive_failures.eq(0), e::paused_until.eq(None::<DbTime>))).execute(conn)?;
        return Ok(());
    }
    // Counted in SQL: concurrent attempts of one endpoint finish in transactions of their
    // own, and the row lock this update takes orders them (a read-then-write lost counts).
    diesel::update(target).set(e::consecutive_failures.eq(e::consecutive_failures + 1)).execute(conn)?;
    let failures: i32 = target.select(e::consecutive_failures).first(conn)?;
    if let Some(pause) = pause_after(failures) {
        diesel::update(target).set(e::paused_until.eq(Some(DbTime(now + pause)))).execute(conn)?;
    }
    Ok(())
}

/// Deletes settled deliveries (delivered or given up) created before `before`, and the
/// outbox messages left with no delivery: a message carries ids and, until sent, a
/// patient's link, and nothing needs it once every delivery is settled and the retention
/// period has passed. Pending deliveries are never purged. Returns (deliveries, messages).
pub fn purge_settled(conn: &mut Db, before: DateTime<Utc>) -> QueryResult<(usize, usize)> {
    let deliveries = diesel::delete(w::table.filter(w::created_at.lt(DbTime(before))).filter(w::status.ne("pending"))).execute(conn)?;
    let still_delivered = w::table.filter(w::outbox_id.eq(o::id));
    let messages = diesel::delete(o::table.filter(o::created_at.lt(DbTime(before))).filter(diesel::dsl::not(diesel::dsl::exists(still_delivered)))).execute(conn)?;
    Ok((deliveries, messages))
}

/// A delivery as the endpoint's log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    pub message_id: Uuid,
    pub event: Event,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An endpoint's deliveries, newest first.
pub fn deliveries(conn: &mut Db, clinic: Uuid, endpoint: Uuid, page: Page) -> ApiResult<(Vec<Delivery>, Option<Uuid>)> {
    type Row = (DbUuid, DbUuid, String, String, i32, DbTime, Option<DbTime>, Option<i32>, Option<String>, Option<DbTime>, DbTime);
    find_endpoint(conn, clinic, endpoint)?;
    let mut query = w::table
        .inner_join(o::table)
        .filter(w::endpoint_id.eq(DbUuid(endpoint)))
        .filter(w::clinic_id.eq(DbUuid(clinic)))
        .order(w::id.desc())
        .limit(page.limit + 1)
        .select((w::id, w::outbox_id, o::event, w::status, w::attempts, w::next_attempt_at, w::last_attempt_at, w::last_status, w::last_error, w::delivered_at, w::created_at))
        .into_boxed();
    if let Some(before) = page.after {
        query = query.filter(w::id.lt(DbUuid(before)));
    }
    let rows: Vec<Row> = query.load(conn)?;
    let deliveries = rows
        .into_iter()
        .map(|(id, message, event, status, attempts, next, last, last_status, last_error, delivered, created)| {
            Ok(Delivery {
                id: id.0,
                message_id: message.0,
                event: stored("webhook event", Event::parse(&event))?,
                next_attempt_at: (status == "pending").then_some(next.0),
                status,
                attempts,
                last_attempt_at: last.map(|t| t.0),
                last_status,
                last_error,
                delivered_at: delivered.map(|t| t.0),
                created_at: created.0,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(split_page(deliveries, page, |d| d.id))
}

/// Takes the patient link out of an `invitation.created` message once no delivery of it
/// is pending: the outbox keeps a usable token no longer than it must.
fn scrub_link_when_sent(conn: &mut Db, message: DbUuid) -> ApiResult<()> {
    let pending: i64 = w::table.filter(w::outbox_id.eq(message)).filter(w::status.eq("pending")).count().get_result(conn)?;
    let (event, mut payload): (String, DbJson) = o::table.find(message).select((o::event, o::payload)).first(conn)?;
    if pending > 0 || event != Event::InvitationCreated.code() {
        return Ok(());
    }
    if payload.0.get_mut("data").and_then(Value::as_object_mut).and_then(|data| data.remove("url")).is_some() {
        diesel::update(o::table.find(message)).set(o::payload.eq(&payload)).execute(conn)?;
    }
    Ok(())
}
