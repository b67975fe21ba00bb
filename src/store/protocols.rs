//! A clinic's protocols, kept with their history like every record.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::Kept;
use super::{Page, split_page, stored};
use crate::db::schema::protocols as t;
use crate::db::{Db, DbJson, DbJsonOf, DbTime, DbUuid};
use crate::domain::RecordStatus;
use crate::domain::protocol::{ProtocolFields, ProtocolInput};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::domain::instruments::Catalogue;

pub const ENTITY: &str = "protocol";

#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: ProtocolFields,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Uuid,
    pub updated_by: Uuid,
}

/// A protocol's row, read, inserted and overwritten whole.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = t)]
pub struct ProtocolRow {
    id: DbUuid,
    clinic_id: DbUuid,
    name: String,
    items: DbJson,
    status: String,
    version: i32,
    created_at: DbTime,
    updated_at: DbTime,
    created_by: DbUuid,
    updated_by: DbUuid,
}

impl ProtocolRow {
    fn new(clinic: Uuid, p: &Protocol) -> Self {
        ProtocolRow {
            id: DbUuid(p.id),
            clinic_id: DbUuid(clinic),
            name: p.fields.name.clone(),
            items: DbJsonOf(serde_json::to_value(&p.fields.items).expect("plain data serialises")),
            status: RecordStatus::Active.code().into(),
            version: p.version,
            created_at: DbTime(p.created_at),
            updated_at: DbTime(p.updated_at),
            created_by: DbUuid(p.created_by),
            updated_by: DbUuid(p.updated_by),
        }
    }

    fn into_protocol(self) -> ApiResult<Protocol> {
        Ok(Protocol {
            id: self.id.0,
            fields: ProtocolFields { name: self.name, items: stored("protocol items", serde_json::from_value(self.items.0).ok())? },
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            created_by: self.created_by.0,
            updated_by: self.updated_by.0,
        })
    }
}

impl Kept for Protocol {
    type Fields = ProtocolFields;
    type Input = ProtocolInput;
    type Owner = ();
    const ENTITY: &'static str = ENTITY;
    const CHANGED: &'static str = "update";

    fn parse(input: &ProtocolInput, catalogue: &Catalogue, _now: DateTime<Utc>) -> Result<ProtocolFields, Vec<FieldError>> {
        input.parse(catalogue)
    }
    fn instruments_named(input: &ProtocolInput) -> Vec<&str> {
        input.items.iter().flatten().filter_map(|item| item.instrument.as_deref()).collect()
    }
    fn to_input(&self) -> ProtocolInput {
        self.fields.to_input()
    }
    fn id(&self) -> Uuid {
        self.id
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn status(&self) -> RecordStatus {
        RecordStatus::Active
    }
    /// A protocol belongs to the clinic, not to a patient.
    fn patient_id(&self) -> Option<Uuid> {
        None
    }
    fn check_owner(_conn: &mut Db, _clinic: Uuid, _owner: ()) -> ApiResult<()> {
        Ok(())
    }
    fn owner_id(_owner: ()) -> Option<Uuid> {
        None
    }
    fn list(conn: &mut Db, clinic: Uuid, _owner: (), page: Page) -> ApiResult<(Vec<Self>, Option<Uuid>)> {
        let mut query = t::table.filter(t::clinic_id.eq(DbUuid(clinic))).select(ProtocolRow::as_select()).order(t::id.asc()).limit(page.limit + 1).into_boxed();
        if let Some(after) = page.after {
            query = query.filter(t::id.gt(DbUuid(after)));
        }
        let protocols = query.load(conn)?.into_iter().map(ProtocolRow::into_protocol).collect::<ApiResult<Vec<_>>>()?;
        Ok(split_page(protocols, page, |p| p.id))
    }
    fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self> {
        let row = t::table.filter(t::id.eq(DbUuid(id))).filter(t::clinic_id.eq(DbUuid(clinic))).select(ProtocolRow::as_select()).first(conn).optional()?;
        row.ok_or(ApiError::NotFound)?.into_protocol()
    }
    fn new(id: Uuid, _owner: (), fields: ProtocolFields, by: Uuid, at: DateTime<Utc>) -> Self {
        Protocol { id, fields, version: 1, created_at: at, updated_at: at, created_by: by, updated_by: by }
    }
    fn next(&self, fields: ProtocolFields, _status: RecordStatus, by: Uuid, at: DateTime<Utc>) -> Self {
        Protocol { fields, version: self.version + 1, updated_at: at, updated_by: by, ..self.clone() }
    }
    fn insert(&self, conn: &mut Db, clinic: Uuid) -> ApiResult<()> {
        diesel::insert_into(t::table).values(ProtocolRow::new(clinic, self)).execute(conn)?;
        Ok(())
    }
    fn overwrite(&self, conn: &mut Db, clinic: Uuid, expected: i32) -> ApiResult<bool> {
        let row = ProtocolRow::new(clinic, self);
        let changed = diesel::update(t::table.find(DbUuid(self.id)).filter(t::clinic_id.eq(DbUuid(clinic))).filter(t::version.eq(expected))).set(&row).execute(conn)?;
        Ok(changed == 1)
    }
    fn created_detail(&self) -> Value {
        json!({"items": self.fields.items.len()})
    }
}
