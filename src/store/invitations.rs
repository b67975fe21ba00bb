//! Single-use patient links (DESIGN.md §5): one per due rating, the token kept only as
//! its SHA-256, consumed by the answer it brings in the same transaction as the rating.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::assessments::{self, AssessmentRecord};
use super::due::{self, DueRating};
use super::{Actor, alerts, audit, clinics, instrument_texts, records, webhooks};
use crate::auth::token::{new_refresh_token, refresh_token_hash};
use crate::db::schema::invitations as v;
use crate::db::{Db, DbTime, DbUuid, write_tx};
use crate::domain::definitions::{Anchors, AnswerOption, ItemDefinition, ItemType, with_wording};
use crate::domain::instruments::{EnableWhen, Instrument};
use crate::domain::protocol::DueStatus;
use crate::domain::scoring::{RatingInput, Recall};
use crate::domain::instruments::Catalogue;
use crate::domain::webhooks::Event;
use crate::error::{ApiError, ApiResult};

/// A link as issued: the token leaves the server here, once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: Uuid,
    pub due_id: Uuid,
    /// `{public_url}/r/#<token>`: the token travels in the fragment.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = v)]
struct InvitationRow {
    id: DbUuid,
    clinic_id: DbUuid,
    due_id: DbUuid,
    token_hash: String,
    expires_at: DbTime,
    created_at: DbTime,
    created_by: DbUuid,
    used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
}

/// A link for one due rating, expiring with its window; an earlier link for the same
/// due rating stops working.
pub fn issue(conn: &mut Db, actor: &Actor, due_id: Uuid, public_url: &str, now: DateTime<Utc>) -> ApiResult<Issued> {
    write_tx(conn, |conn| {
        let due = due::find(conn, actor.clinic_id, due_id)?;
        if due.status.is_settled() || due.closes_at < now {
            return Err(ApiError::Conflict(format!("the rating is no longer due: it is {}", due.status.code())));
        }
        if !due.instrument.is_self_reportable() {
            return Err(ApiError::Conflict(format!("{} is rated by a clinician: it has no patient link", due.instrument.code())));
        }
        // A patient is asked the instrument's own wording, or nothing (409 naming it).
        instrument_texts::for_patients(conn, actor.clinic_id, due.instrument)?;
        diesel::update(v::table.filter(v::due_id.eq(DbUuid(due_id))).filter(v::revoked_at.is_null()).filter(v::used_at.is_null()))
            .set(v::revoked_at.eq(Some(DbTime(now))))
            .execute(conn)?;
        // The link lives as long as the window, or less if the clinic says so.
        let expires_at = clinics::link_expiry(conn, actor.clinic_id, due.closes_at, now)?;
        let token = new_refresh_token();
        let row = InvitationRow {
            id: DbUuid(Uuid::now_v7()),
            clinic_id: DbUuid(actor.clinic_id),
            due_id: DbUuid(due_id),
            token_hash: refresh_token_hash(&token),
            expires_at: DbTime(expires_at),
            created_at: DbTime(now),
            created_by: DbUuid(actor.user_id),
            used_at: None,
            revoked_at: None,
        };
        let issued = Issued { id: row.id.0, due_id, url: format!("{public_url}/r/#{token}"), expires_at };
        diesel::insert_into(v::table).values(row).execute(conn)?;
        // For the clinic's text or e-mail gateway: the link itself, and ids, never a name.
        let data = json!({"due_id": due_id, "patient_id": due.patient_id, "invitation_id": issued.id, "url": issued.url, "expires_at": issued.expires_at});
        webhooks::emit(conn, actor.clinic_id, Event::InvitationCreated, data, now)?;
        audit::record(conn, actor.audit("invitation.create", "due", Some(due_id), json!({"invitation_id": issued.id, "expires_at": issued.expires_at})))?;
        Ok(issued)
    })
}

/// Every reason a link cannot be used gets this one answer: unknown, used, revoked,
/// expired, not yet open, or its rating no longer due.
fn unusable() -> ApiError {
    ApiError::NotFound
}

/// The link and its due rating, if the link can be used at `now`.
fn usable(conn: &mut Db, token: &str, now: DateTime<Utc>) -> ApiResult<(InvitationRow, DueRating)> {
    let row = v::table.filter(v::token_hash.eq(refresh_token_hash(token))).select(InvitationRow::as_select()).first(conn).optional()?;
    let row = row.filter(|r| r.used_at.is_none() && r.revoked_at.is_none() && now <= r.expires_at.0).ok_or_else(unusable)?;
    let due = due::find(conn, row.clinic_id.0, row.due_id.0)?;
    let answerable = matches!(due.status, DueStatus::Scheduled | DueStatus::Open) && due.opens_at <= now && now <= due.closes_at;
    if answerable { Ok((row, due)) } else { Err(unusable()) }
}

/// One question as the patient's page shows it: its wording, how it is answered, and
/// the earlier answers it follows.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub code: String,
    /// The neutral short label (staff's name for the item).
    pub label: String,
    /// The question as the instrument words it (bundled, or the clinic's licensed wording).
    pub text: Option<String>,
    #[serde(rename = "type")]
    pub kind: ItemType,
    pub options: Vec<AnswerOption>,
    pub anchors: Option<Anchors>,
    pub min: u32,
    pub max: u32,
    /// May be left unanswered.
    pub optional: bool,
    /// Asked only after these answers to earlier items (the C-SSRS screener's items 3–5
    /// after a yes to 2, `6_recent` after a yes to 6): the page shows it then, and the
    /// server refuses it otherwise.
    pub enable_when: Vec<EnableWhen>,
}

/// An item of a definition as the page asks it.
pub fn question(item: &ItemDefinition) -> Question {
    Question {
        code: item.code.clone(),
        label: item.short_label.clone(),
        text: item.text.clone(),
        kind: item.kind,
        options: item.options.clone(),
        anchors: item.anchors.clone(),
        min: item.min,
        max: item.max,
        optional: item.optional,
        enable_when: item.enable_when.clone(),
    }
}

/// What a link asks: the instrument's title, preamble and questions as its definition
/// and the clinic's wording give them; no name, no birth date, no clinic.
#[derive(Debug, Clone, Serialize)]
pub struct Questionnaire {
    /// `rating`: a questionnaire (a dose link's page is `dose`).
    pub kind: &'static str,
    pub instrument: Instrument,
    /// The definition version the answer will be scored under.
    pub version: u32,
    pub title: String,
    pub preamble: Option<String>,
    pub recall: Recall,
    pub items: Vec<Question>,
    /// The version of the clinic's wording shown; null for bundled wording.
    pub text_version: Option<i32>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

pub fn open(conn: &mut Db, token: &str, now: DateTime<Utc>) -> ApiResult<Questionnaire> {
    let (row, due) = usable(conn, token, now)?;
    let supplied = instrument_texts::for_patients(conn, row.clinic_id.0, due.instrument)?;
    let shown = with_wording(due.instrument.definition(), supplied.as_ref().map(|s| &s.wording));
    // The core items, and the follow-up questions an earlier answer asks for.
    let items = shown
        .items
        .iter()
        .filter(|item| item.counted || !item.enable_when.is_empty())
        .map(question)
        .collect();
    Ok(Questionnaire {
        kind: "rating",
        instrument: due.instrument,
        version: shown.version,
        title: shown.title,
        preamble: shown.preamble,
        recall: due.recall,
        items,
        text_version: supplied.map(|s| s.text_version),
        opens_at: due.opens_at,
        closes_at: due.closes_at,
    })
}

/// A patient's answer: the items, or only a total.
#[derive(Debug, Clone)]
pub struct Answer {
    pub items: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    pub total: Option<serde_json::Value>,
}

/// Consumes the link and records the rating (`rater: self`, `collected_via: app`, taken
/// now) in one transaction, completing the link's due rating.
/// The rating recorded, and the clinic's crisis text when the answer raised a
/// suicidality alert: the patient sees it at once, whatever else happens next.
pub struct Submitted {
    pub record: AssessmentRecord,
    pub crisis_text: Option<String>,
}

pub fn submit(conn: &mut Db, token: &str, answer: Answer, now: DateTime<Utc>) -> ApiResult<Submitted> {
    write_tx(conn, |conn| {
        let (row, due) = usable(conn, token, now)?;
        let input = RatingInput::self_reported(due.instrument, due.recall, answer.items, answer.total, now);
        // The link's own instrument, at the version it was opened under (the current one).
        let rating = input.parse(&Catalogue::built_in().pinned(due.instrument), now).map_err(ApiError::Validation)?;
        let claimed = diesel::update(v::table.find(row.id).filter(v::used_at.is_null()).filter(v::revoked_at.is_null()))
            .set(v::used_at.eq(Some(DbTime(now))))
            .execute(conn)?;
        if claimed == 0 {
            return Err(unusable());
        }
        let patient = Actor::patient(row.created_by.0, row.clinic_id.0, "self-report link");
        let record: AssessmentRecord = records::create_within(conn, &patient, due.patient_id, rating)?;
        // The wording the patient saw: a link is issued only once it exists, and it is
        // never taken back, so it is there now.
        let shown = instrument_texts::for_patients(conn, row.clinic_id.0, due.instrument)?;
        if let Some(supplied) = &shown {
            assessments::set_text_version(conn, record.id, supplied.text_version as u32)?;
        }
        let record = AssessmentRecord { text_version: shown.map(|s| s.text_version as u32), ..record };
        due::complete_with(conn, due.id, record.id, now)?;
        audit::record(conn, patient.audit("invitation.use", "due", Some(due.id), json!({"invitation_id": row.id.0, "assessment_id": record.id})))?;
        let crisis_text = if alerts::raised_crisis(conn, record.id)? { Some(clinics::find(conn, patient.clinic_id)?.crisis_text) } else { None };
        Ok(Submitted { record, crisis_text })
    })
}
