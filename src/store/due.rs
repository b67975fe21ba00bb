//! Protocols attached to patients, the ratings they make due after each session, and
//! the scheduler's tick that moves those through scheduled → open → completed | missed
//! | cancelled (DESIGN.md §5).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::protocols::Protocol;
use super::clinic_instruments::Resolver;
use super::records::{Kept, audit_read};
use super::{Actor, Page, audit, patients, split_page, stored, webhooks};
use crate::db::schema::{assessments as a, due_ratings as d, infusions as i, protocol_attachments as pa};
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid, write_tx};
use crate::domain::RecordStatus;
use crate::domain::instruments::Instrument;
use crate::domain::protocol::{DueStatus, PlannedDue, ProtocolItem, in_window, plan, status_at};
use crate::domain::scoring::Recall;
use crate::domain::webhooks::Event;
use crate::error::{ApiError, ApiResult};

/// A protocol attached to a patient, with the version it was attached at.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub protocol_id: Uuid,
    pub protocol_version: i32,
    pub items: Vec<ProtocolItem>,
    pub attached_at: DateTime<Utc>,
    pub attached_by: Uuid,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = pa)]
struct AttachmentRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    protocol_id: DbUuid,
    protocol_version: i32,
    items: DbJson,
    attached_at: DbTime,
    attached_by: DbUuid,
}

impl AttachmentRow {
    fn into_attachment(self) -> ApiResult<Attachment> {
        Ok(Attachment {
            id: self.id.0,
            patient_id: self.patient_id.0,
            protocol_id: self.protocol_id.0,
            protocol_version: self.protocol_version,
            items: stored("protocol items", serde_json::from_value(self.items.0).ok())?,
            attached_at: self.attached_at.0,
            attached_by: self.attached_by.0,
        })
    }
}

/// A rating due after a session.
#[derive(Debug, Clone, Serialize)]
pub struct DueRating {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub infusion_id: Uuid,
    pub protocol_id: Uuid,
    pub instrument: Instrument,
    pub recall: Recall,
    pub due_at: DateTime<Utc>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub status: DueStatus,
    /// The rating that completed it.
    pub assessment_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// A due rating's row, read, inserted and overwritten whole.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = d, treat_none_as_null = true)]
struct DueRow {
    id: DbUuid,
    clinic_id: DbUuid,
    patient_id: DbUuid,
    infusion_id: DbUuid,
    attachment_id: DbUuid,
    protocol_id: DbUuid,
    item_index: i32,
    instrument: String,
    recall: String,
    due_at: DbTime,
    opens_at: DbTime,
    closes_at: DbTime,
    status: String,
    assessment_id: Option<DbUuid>,
    created_at: DbTime,
    updated_at: DbTime,
    /// When to remind of it if still not completed: its window's midpoint; null once reminded.
    remind_at: Option<DbTime>,
}

/// The middle of a window: an open due rating still not completed then is reminded of
/// once (DESIGN.md §10), early enough for a nudge to be answered.
fn midpoint(opens_at: DateTime<Utc>, closes_at: DateTime<Utc>) -> DateTime<Utc> {
    opens_at + (closes_at - opens_at) / 2
}

impl DueRow {
    fn planned(clinic: Uuid, patient: Uuid, session: Uuid, attachment: &Attachment, due: &PlannedDue, status: DueStatus, at: DateTime<Utc>) -> Self {
        DueRow {
            id: DbUuid(Uuid::now_v7()),
            clinic_id: DbUuid(clinic),
            patient_id: DbUuid(patient),
            infusion_id: DbUuid(session),
            attachment_id: DbUuid(attachment.id),
            protocol_id: DbUuid(attachment.protocol_id),
            item_index: due.item_index,
            instrument: due.instrument.clone(),
            recall: due.recall.code().into(),
            due_at: DbTime(due.due_at),
            opens_at: DbTime(due.opens_at),
            closes_at: DbTime(due.closes_at),
            status: status.code().into(),
            assessment_id: None,
            created_at: DbTime(at),
            updated_at: DbTime(at),
            remind_at: Some(DbTime(midpoint(due.opens_at, due.closes_at))),
        }
    }

    /// The due rating; a clinic instrument's code is read as its current version, the one
    /// a link asks.
    fn into_due(self, conn: &mut Db, known: &mut Resolver) -> ApiResult<DueRating> {
        Ok(DueRating {
            id: self.id.0,
            patient_id: self.patient_id.0,
            infusion_id: self.infusion_id.0,
            protocol_id: self.protocol_id.0,
            instrument: known.resolve(conn, self.clinic_id.0, &self.instrument)?,
            recall: stored("recall", Recall::parse(&self.recall))?,
            due_at: self.due_at.0,
            opens_at: self.opens_at.0,
            closes_at: self.closes_at.0,
            status: stored("due status", DueStatus::parse(&self.status))?,
            assessment_id: self.assessment_id.map(|id| id.0),
            updated_at: self.updated_at.0,
        })
    }
}

fn attachments_of(conn: &mut Db, clinic: Uuid, patient: Uuid) -> ApiResult<Vec<Attachment>> {
    pa::table
        .filter(pa::clinic_id.eq(DbUuid(clinic)))
        .filter(pa::patient_id.eq(DbUuid(patient)))
        .order(pa::id.asc())
        .select(AttachmentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(AttachmentRow::into_attachment)
        .collect()
}

fn active_sessions(conn: &mut Db, clinic: Uuid, patient: Uuid) -> QueryResult<Vec<(DbUuid, DbTime)>> {
    i::table
        .filter(i::clinic_id.eq(DbUuid(clinic)))
        .filter(i::patient_id.eq(DbUuid(patient)))
        .filter(i::status.eq(RecordStatus::Active.code()))
        .select((i::id, i::started_at))
        .load(conn)
}

/// Attaches a protocol (its current version) to a patient and plans its due ratings
/// after every active session the patient already has; ratings already taken in a
/// window complete it at once. Statuses are those at `now`.
pub fn attach(conn: &mut Db, actor: &Actor, patient: Uuid, protocol: ApiResult<Uuid>, now: DateTime<Utc>) -> ApiResult<(Attachment, usize)> {
    patients::exists(conn, actor.clinic_id, patient)?;
    let protocol = protocol?;
    write_tx(conn, |conn| {
        let protocol = Protocol::find(conn, actor.clinic_id, protocol).map_err(|e| match e {
            ApiError::NotFound => ApiError::invalid("protocol_id", "no such protocol in this clinic"),
            other => other,
        })?;
        attach_within(conn, actor, patient, &protocol, now)
    })
}

/// Whether the protocol is attached to the patient.
pub fn is_attached(conn: &mut Db, patient: Uuid, protocol: Uuid) -> ApiResult<bool> {
    let n: i64 = pa::table.filter(pa::patient_id.eq(DbUuid(patient))).filter(pa::protocol_id.eq(DbUuid(protocol))).count().get_result(conn)?;
    Ok(n > 0)
}

/// Attaches inside the caller's transaction: the attachment, its due ratings after every
/// active session, the ratings already taken in their windows, the audit entry.
pub fn attach_within(conn: &mut Db, actor: &Actor, patient: Uuid, protocol: &Protocol, now: DateTime<Utc>) -> ApiResult<(Attachment, usize)> {
    let attachment = Attachment {
        id: Uuid::now_v7(),
        patient_id: patient,
        protocol_id: protocol.id,
        protocol_version: protocol.version,
        items: protocol.fields.items.clone(),
        attached_at: now,
        attached_by: actor.user_id,
    };
    let row = AttachmentRow {
        id: DbUuid(attachment.id),
        clinic_id: DbUuid(actor.clinic_id),
        patient_id: DbUuid(patient),
        protocol_id: DbUuid(protocol.id),
        protocol_version: protocol.version,
        items: DbJsonOf(serde_json::to_value(&attachment.items).expect("plain data serialises")),
        attached_at: DbTime(now),
        attached_by: DbUuid(actor.user_id),
    };
    diesel::insert_into(pa::table).values(row).execute(conn).map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(_) => ApiError::Conflict("this protocol is already attached to the patient".into()),
        other => other,
    })?;
    let mut planned = 0;
    for (session, started_at) in active_sessions(conn, actor.clinic_id, patient)? {
        planned += plan_after(conn, actor.clinic_id, patient, session.0, started_at.0, &attachment, now)?;
    }
    match_patient(conn, actor.clinic_id, patient, now)?;
    let detail = json!({"patient_id": patient, "protocol_id": protocol.id, "protocol_version": protocol.version, "planned": planned});
    audit::record(conn, actor.audit("protocol.attach", "patient", Some(patient), detail))?;
    Ok((attachment, planned))
}

/// Plans (or re-plans, when the session moved) one attachment's due ratings after one
/// session. A settled due rating keeps its state; an unsettled one takes its new window's.
fn plan_after(conn: &mut Db, clinic: Uuid, patient: Uuid, session: Uuid, started_at: DateTime<Utc>, attachment: &Attachment, now: DateTime<Utc>) -> ApiResult<usize> {
    let existing: Vec<DueRow> = d::table
        .filter(d::attachment_id.eq(DbUuid(attachment.id)))
        .filter(d::infusion_id.eq(DbUuid(session)))
        .select(DueRow::as_select())
        .load(conn)?;
    let mut fresh = Vec::new();
    for due in plan(&attachment.items, started_at) {
        let status = status_at(due.opens_at, due.closes_at, now);
        match existing.iter().find(|row| row.item_index == due.item_index) {
            None => fresh.push(DueRow::planned(clinic, patient, session, attachment, &due, status, now)),
            Some(row) => {
                let settled = DueStatus::parse(&row.status).is_some_and(|s| s == DueStatus::Completed || s == DueStatus::Cancelled);
                let status = if settled { row.status.clone() } else { status.code().to_string() };
                // A window that moved is reminded of again at its new midpoint; one that
                // stayed put (the session changed in something else) keeps its reminder.
                let moved = row.opens_at.0 != due.opens_at || row.closes_at.0 != due.closes_at;
                let remind_at = if moved { Some(DbTime(midpoint(due.opens_at, due.closes_at))) } else { row.remind_at };
                diesel::update(d::table.find(row.id))
                    .set((
                        d::due_at.eq(DbTime(due.due_at)),
                        d::opens_at.eq(DbTime(due.opens_at)),
                        d::closes_at.eq(DbTime(due.closes_at)),
                        d::status.eq(status),
                        d::updated_at.eq(DbTime(now)),
                        d::remind_at.eq(remind_at),
                    ))
                    .execute(conn)?;
            }
        }
    }
    let planned = fresh.len();
    for row in fresh {
        // A window already open when it is planned is news just as one the scheduler opens.
        let opened = row.status == DueStatus::Open.code();
        diesel::insert_into(d::table).values(&row).execute(conn)?;
        if opened {
            notify_moved(conn, &row, Event::DueOpened, now)?;
        }
    }
    Ok(planned)
}

/// A session recorded or moved: its due ratings under each of the patient's protocols.
pub fn plan_session(conn: &mut Db, clinic: Uuid, session: Uuid, patient: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    let started_at: DbTime = i::table.find(DbUuid(session)).select(i::started_at).first(conn)?;
    for attachment in attachments_of(conn, clinic, patient)? {
        plan_after(conn, clinic, patient, session, started_at.0, &attachment, now)?;
    }
    match_patient(conn, clinic, patient, now)
}

/// A session entered in error: its due ratings that no rating completed are cancelled.
pub fn cancel_session(conn: &mut Db, clinic: Uuid, session: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    diesel::update(d::table.filter(d::clinic_id.eq(DbUuid(clinic))).filter(d::infusion_id.eq(DbUuid(session))).filter(d::status.ne(DueStatus::Completed.code())))
        .set((d::status.eq(DueStatus::Cancelled.code()), d::updated_at.eq(DbTime(now))))
        .execute(conn)?;
    Ok(())
}

/// A rating recorded, moved or retracted: it stops completing the due rating it did (a
/// rating just `created` has none), and then, if `active` (its instrument and time, read
/// from the patient's course), completes the earliest due rating of its instrument whose
/// window it falls in, whoever entered it. Each step is one indexed query, so a write costs
/// the same whatever the patient's history (matching every rating to every due rating made
/// writes 15 times slower on a demo clinic).
pub fn match_rating(
    conn: &mut Db,
    clinic: Uuid,
    rating: Uuid,
    patient: Uuid,
    active: Option<(Instrument, DateTime<Utc>)>,
    created: bool,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let linked: Vec<DueRow> = if created {
        Vec::new()
    } else {
        d::table.filter(d::assessment_id.eq(DbUuid(rating))).filter(d::clinic_id.eq(DbUuid(clinic))).select(DueRow::as_select()).load(conn)?
    };
    for row in &linked {
        unlink(conn, row, now)?;
    }
    if let Some((instrument, rated_at)) = active {
        let due: Option<DbUuid> = d::table
            .filter(d::patient_id.eq(DbUuid(patient)))
            .filter(d::instrument.eq(instrument.code()))
            .filter(d::opens_at.le(DbTime(rated_at)))
            .filter(d::closes_at.ge(DbTime(rated_at)))
            .filter(d::assessment_id.is_null())
            .filter(matchable())
            .order((d::due_at.asc(), d::id.asc()))
            .select(d::id)
            .first(conn)
            .optional()?;
        if let Some(due) = due {
            link(conn, due, DbUuid(rating), now)?;
        }
    }
    // A due rating this rating let go may be completed by another rating in its window.
    for row in linked {
        let other: Option<DbUuid> = a::table
            .filter(a::patient_id.eq(DbUuid(patient)))
            .filter(a::instrument.eq(&row.instrument))
            .filter(a::status.eq(RecordStatus::Active.code()))
            .filter(a::rated_at.ge(row.opens_at))
            .filter(a::rated_at.le(row.closes_at))
            .filter(diesel::dsl::not(diesel::dsl::exists(d::table.filter(d::assessment_id.eq(a::id.nullable())))))
            .order((a::rated_at.asc(), a::id.asc()))
            .select(a::id)
            .first(conn)
            .optional()?;
        // `link` leaves it alone if this rating took the same due rating back just above.
        if let Some(other) = other {
            link(conn, row.id, other, now)?;
        }
    }
    Ok(())
}

/// The states a rating can still complete: a missed window is completed by a rating
/// entered later but taken inside it. Spelled as `OR`s, not `IN`: diesel prepares an `IN`
/// list afresh at every call, and every rating's write runs this.
fn matchable() -> diesel::dsl::Or<diesel::dsl::Or<diesel::dsl::Eq<d::status, &'static str>, diesel::dsl::Eq<d::status, &'static str>>, diesel::dsl::Eq<d::status, &'static str>> {
    d::status.eq(DueStatus::Scheduled.code()).or(d::status.eq(DueStatus::Open.code())).or(d::status.eq(DueStatus::Missed.code()))
}

/// Completes a due rating with a rating, unless another rating completes it already.
fn link(conn: &mut Db, due: DbUuid, rating: DbUuid, now: DateTime<Utc>) -> ApiResult<()> {
    diesel::update(d::table.find(due).filter(d::assessment_id.is_null()))
        .set((d::assessment_id.eq(Some(rating)), d::status.eq(DueStatus::Completed.code()), d::updated_at.eq(DbTime(now))))
        .execute(conn)?;
    Ok(())
}

/// Frees a due rating its rating no longer completes: it takes the state its window gives.
fn unlink(conn: &mut Db, row: &DueRow, now: DateTime<Utc>) -> ApiResult<()> {
    let status = status_at(row.opens_at.0, row.closes_at.0, now);
    diesel::update(d::table.find(row.id))
        .set((d::assessment_id.eq(None::<DbUuid>), d::status.eq(status.code()), d::updated_at.eq(DbTime(now))))
        .execute(conn)?;
    Ok(())
}

/// A rating answered through a due rating's own link completes that one, whatever else
/// its window overlaps.
pub fn complete_with(conn: &mut Db, due: Uuid, rating: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    let elsewhere: Vec<DueRow> = d::table.filter(d::assessment_id.eq(DbUuid(rating))).filter(d::id.ne(DbUuid(due))).select(DueRow::as_select()).load(conn)?;
    for row in &elsewhere {
        unlink(conn, row, now)?;
    }
    link(conn, DbUuid(due), DbUuid(rating), now)
}

/// Links each of the patient's active ratings that completes no due rating yet to the
/// earliest unsettled (or missed) due rating of its instrument whose window holds it.
fn match_patient(conn: &mut Db, clinic: Uuid, patient: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    // By patient alone (a patient is one clinic's): with the clinic's id beside it,
    // SQLite's planner chose the clinic's index and read every due rating of the clinic
    // at each session written (a dose at home took 8 ms in a 2,000-patient demo clinic).
    let open: Vec<DueRow> = d::table
        .filter(d::patient_id.eq(DbUuid(patient)))
        .filter(d::assessment_id.is_null())
        .filter(matchable())
        .order((d::due_at.asc(), d::id.asc()))
        .select(DueRow::as_select())
        .load(conn)?;
    if open.is_empty() {
        return Ok(());
    }
    let taken: Vec<Option<DbUuid>> = d::table.filter(d::patient_id.eq(DbUuid(patient))).filter(d::assessment_id.is_not_null()).select(d::assessment_id).load(conn)?;
    let taken: Vec<Uuid> = taken.into_iter().flatten().map(|id| id.0).collect();
    let mut ratings: Vec<(DbUuid, String, DbTime)> = a::table
        .filter(a::clinic_id.eq(DbUuid(clinic)))
        .filter(a::patient_id.eq(DbUuid(patient)))
        .filter(a::status.eq(RecordStatus::Active.code()))
        .select((a::id, a::instrument, a::rated_at))
        .load(conn)?;
    ratings.retain(|(id, _, _)| !taken.contains(&id.0));
    ratings.sort_by_key(|(id, _, rated_at)| (rated_at.0, id.0));
    let mut used = Vec::new();
    for due in &open {
        let found = ratings.iter().find(|(id, instrument, rated_at)| {
            !used.contains(&id.0) && *instrument == due.instrument && in_window(due.opens_at.0, due.closes_at.0, rated_at.0)
        });
        if let Some((rating, _, _)) = found {
            used.push(rating.0);
            link(conn, due.id, *rating, now)?;
        }
    }
    Ok(())
}

/// What one tick of the scheduler moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub opened: usize,
    pub missed: usize,
    /// `due.reminder` events sent.
    pub reminded: usize,
    /// `rems_overdue` alerts raised.
    pub rems_overdue: usize,
}

/// Moves per kind and tick: after a long outage the backlog is worked off over a few
/// ticks in short transactions rather than in one long one.
const TICK_BATCH: i64 = 1_000;

/// Moves due ratings whose window closed with no rating to `missed`, and those whose
/// window opened to `open`, each with its event in the outbox. Each move is a
/// conditional UPDATE of one row, so two instances ticking at once on one PostgreSQL
/// move each due rating once: the second waits on the row lock, re-reads the condition,
/// finds it no longer holds, and sends no event.
pub fn tick(conn: &mut Db, now: DateTime<Utc>) -> ApiResult<Tick> {
    write_tx(conn, |conn| {
        let unsettled = [DueStatus::Scheduled.code(), DueStatus::Open.code()];
        let closed: Vec<DueRow> =
            d::table.filter(d::status.eq_any(unsettled)).filter(d::closes_at.lt(DbTime(now))).order(d::closes_at.asc()).limit(TICK_BATCH).select(DueRow::as_select()).load(conn)?;
        let missed = move_each(conn, closed, DueStatus::Missed, Event::DueMissed, now)?;
        let opened_rows: Vec<DueRow> =
            d::table.filter(d::status.eq(DueStatus::Scheduled.code())).filter(d::opens_at.le(DbTime(now))).order(d::opens_at.asc()).limit(TICK_BATCH).select(DueRow::as_select()).load(conn)?;
        let opened = move_each(conn, opened_rows, DueStatus::Open, Event::DueOpened, now)?;
        let reminded = remind(conn, now)?;
        Ok(Tick { opened, missed, reminded, rems_overdue: 0 })
    })
}

/// Open due ratings at or past their window's midpoint and still not completed: each sends
/// `due.reminder` once, so the clinic's gateway can nudge the patient. Clearing
/// `remind_at` where it still holds is the claim: two instances remind once between them.
fn remind(conn: &mut Db, now: DateTime<Utc>) -> ApiResult<usize> {
    let rows: Vec<DueRow> = d::table
        .filter(d::status.eq(DueStatus::Open.code()))
        .filter(d::remind_at.le(DbTime(now)))
        .order(d::remind_at.asc())
        .limit(TICK_BATCH)
        .select(DueRow::as_select())
        .load(conn)?;
    let mut reminded = 0;
    for row in rows {
        let claimed = diesel::update(d::table.find(row.id).filter(d::status.eq(DueStatus::Open.code())).filter(d::remind_at.is_not_null()))
            .set(d::remind_at.eq(None::<DbTime>))
            .execute(conn)?;
        if claimed == 1 {
            reminded += 1;
            notify_moved(conn, &row, Event::DueReminder, now)?;
        }
    }
    Ok(reminded)
}

fn move_each(conn: &mut Db, rows: Vec<DueRow>, to: DueStatus, event: Event, now: DateTime<Utc>) -> ApiResult<usize> {
    let mut moved = 0;
    for row in rows {
        let changed = diesel::update(d::table.find(row.id).filter(d::status.eq(&row.status)))
            .set((d::status.eq(to.code()), d::updated_at.eq(DbTime(now))))
            .execute(conn)?;
        if changed == 1 {
            moved += 1;
            notify_moved(conn, &row, event, now)?;
        }
    }
    Ok(moved)
}

fn notify_moved(conn: &mut Db, row: &DueRow, event: Event, now: DateTime<Utc>) -> ApiResult<()> {
    let data = json!({
        "due_id": row.id.0, "patient_id": row.patient_id.0, "infusion_id": row.infusion_id.0,
        "instrument": row.instrument, "opens_at": row.opens_at.0, "closes_at": row.closes_at.0,
    });
    webhooks::emit(conn, row.clinic_id.0, event, data, now)
}

/// Which due ratings a list shows.
#[derive(Debug, Default, Clone)]
pub struct DueFilter {
    pub patient: Option<Uuid>,
    pub status: Option<DueStatus>,
    /// Due at or after / before.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of the clinic's (or one patient's) due ratings, by id; audited.
pub fn list(conn: &mut Db, actor: &Actor, filter: &DueFilter, page: Page) -> ApiResult<(Vec<DueRating>, Option<Uuid>)> {
    if let Some(patient) = filter.patient {
        patients::exists(conn, actor.clinic_id, patient)?;
    }
    let mut query = d::table.select(DueRow::as_select()).order(d::id.asc()).limit(page.limit + 1).into_boxed();
    // One patient's (checked above to be the clinic's) by the patient's index; the clinic's
    // by its own. Both filters at once sent SQLite's planner to the clinic's index.
    query = match filter.patient {
        Some(patient) => query.filter(d::patient_id.eq(DbUuid(patient))),
        None => query.filter(d::clinic_id.eq(DbUuid(actor.clinic_id))),
    };
    if let Some(after) = page.after {
        query = query.filter(d::id.gt(DbUuid(after)));
    }
    if let Some(status) = filter.status {
        query = query.filter(d::status.eq(status.code()));
    }
    if let Some(from) = filter.from {
        query = query.filter(d::due_at.ge(DbTime(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(d::due_at.lt(DbTime(to)));
    }
    let mut known = Resolver::default();
    let rows: Vec<DueRow> = query.load(conn)?;
    let dues = rows.into_iter().map(|row| row.into_due(conn, &mut known)).collect::<ApiResult<Vec<_>>>()?;
    let listed = split_page(dues, page, |d| d.id);
    audit_read(conn, actor, "due.list".into(), "patient", filter.patient, json!({"count": listed.0.len()}))?;
    Ok(listed)
}

/// One due rating of the clinic, or 404.
pub fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<DueRating> {
    let row = d::table.filter(d::id.eq(DbUuid(id))).filter(d::clinic_id.eq(DbUuid(clinic))).select(DueRow::as_select()).first(conn).optional()?;
    row.ok_or(ApiError::NotFound)?.into_due(conn, &mut Resolver::default())
}

/// One due rating, audited as a read of its patient's data.
pub fn read(conn: &mut Db, actor: &Actor, id: Uuid) -> ApiResult<DueRating> {
    let due = find(conn, actor.clinic_id, id)?;
    audit_read(conn, actor, "due.read".into(), "due", Some(id), json!({"patient_id": due.patient_id}))?;
    Ok(due)
}

/// The protocols attached to a patient; audited.
pub fn attached(conn: &mut Db, actor: &Actor, patient: Uuid) -> ApiResult<Vec<Attachment>> {
    patients::exists(conn, actor.clinic_id, patient)?;
    let attachments = attachments_of(conn, actor.clinic_id, patient)?;
    audit_read(conn, actor, "protocol.attachments".into(), "patient", Some(patient), json!({"count": attachments.len()}))?;
    Ok(attachments)
}
