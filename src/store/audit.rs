//! The append-only audit log: nothing here updates or deletes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Actor, Page, now, split_page};
use crate::db::schema::audit_events as a;
use crate::db::{Db, DbJson, DbTime, DbUuid};

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub clinic_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: &'static str,
    pub entity_id: Option<Uuid>,
    /// Small and never secret: no password, token or free text from a record.
    pub detail: Value,
}

impl Actor {
    pub fn audit(&self, action: impl Into<String>, entity: &'static str, entity_id: Option<Uuid>, detail: Value) -> AuditEntry {
        AuditEntry {
            clinic_id: Some(self.clinic_id),
            actor_id: (!self.by_patient).then_some(self.user_id),
            actor_email: Some(self.email.clone()),
            action: action.into(),
            entity,
            entity_id,
            detail,
        }
    }
}

/// Appends an event on its own (a read, a login): in a write transaction of its own.
pub fn append(conn: &mut Db, entry: AuditEntry) -> QueryResult<()> {
    crate::db::write_tx(conn, |conn| record(conn, entry))
}

/// Appends several events in one transaction: all of them or none.
pub fn append_all(conn: &mut Db, entries: Vec<AuditEntry>) -> QueryResult<()> {
    crate::db::write_tx(conn, |conn| entries.into_iter().try_for_each(|entry| record(conn, entry)))
}

/// An event's row, as appended and read back.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = a)]
struct AuditRow {
    id: DbUuid,
    clinic_id: Option<DbUuid>,
    actor_id: Option<DbUuid>,
    actor_email: Option<String>,
    action: String,
    entity: String,
    entity_id: Option<DbUuid>,
    detail: DbJson,
    at: DbTime,
}

/// Appends an event inside the caller's write transaction, with the change it records.
pub fn record(conn: &mut Db, entry: AuditEntry) -> QueryResult<()> {
    let row = AuditRow {
        id: DbUuid(Uuid::now_v7()),
        clinic_id: entry.clinic_id.map(DbUuid),
        actor_id: entry.actor_id.map(DbUuid),
        actor_email: entry.actor_email,
        action: entry.action,
        entity: entry.entity.into(),
        entity_id: entry.entity_id.map(DbUuid),
        detail: DbJson(entry.detail),
        at: DbTime(now()),
    };
    diesel::insert_into(a::table).values(row).execute(conn).map(|_| ())
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub detail: Value,
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub entity: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The clinic's events, newest first.
pub fn list(conn: &mut Db, clinic: Uuid, filter: &AuditFilter, page: Page) -> QueryResult<(Vec<AuditEvent>, Option<Uuid>)> {
    let mut query = a::table
        .filter(a::clinic_id.eq(DbUuid(clinic)))
        .select(AuditRow::as_select())
        .order(a::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(a::id.lt(DbUuid(after)));
    }
    if let Some(actor) = filter.actor_id {
        query = query.filter(a::actor_id.eq(DbUuid(actor)));
    }
    if let Some(entity) = &filter.entity {
        query = query.filter(a::entity.eq(entity.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(a::at.ge(DbTime(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(a::at.lt(DbTime(to)));
    }
    let rows: Vec<AuditRow> = query.load(conn)?;
    let events = rows
        .into_iter()
        .map(|AuditRow { id, at, actor_id, actor_email, action, entity, entity_id, detail, .. }| AuditEvent {
            id: id.0,
            at: at.0,
            actor_id: actor_id.map(|u| u.0),
            actor_email,
            action,
            entity,
            entity_id: entity_id.map(|u| u.0),
            detail: detail.0,
        })
        .collect();
    Ok(split_page(events, page, |e| e.id))
}
