//! Infusion sessions (`/infusions`): the shared record handlers of `records.rs` over the
//! store, with the dosing and REMS warnings added to every view.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::records::Record;
use crate::db::Db;
use crate::domain::RecordStatus;
use crate::domain::infusion::{Infusion, InfusionInput};
use crate::error::{ApiResult, FieldError};
use crate::store::infusions::{self, InfusionRecord};
use crate::store::{Actor, Page};

impl Record for InfusionRecord {
    type Fields = Infusion;
    type Input = InfusionInput;
    const ENTITY: &'static str = infusions::ENTITY;
    const COLLECTION: &'static str = "/api/v1/infusions";

    fn parse(input: &InfusionInput, now: DateTime<Utc>) -> Result<Infusion, Vec<FieldError>> {
        input.parse(now)
    }
    fn to_input(fields: &Infusion) -> InfusionInput {
        fields.to_input()
    }
    fn fields(&self) -> &Infusion {
        &self.session
    }
    fn id(&self) -> Uuid {
        self.id
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn view(&self) -> Value {
        let mut view = serde_json::to_value(self).expect("plain data serialises");
        view["warnings"] = serde_json::to_value(self.session.warnings()).expect("plain data serialises");
        view
    }
    fn create(conn: &mut Db, actor: &Actor, patient: Uuid, fields: &Infusion) -> ApiResult<Self> {
        infusions::create(conn, actor, patient, fields)
    }
    fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self> {
        infusions::find(conn, clinic, id)
    }
    fn list(conn: &mut Db, clinic: Uuid, patient: Uuid, page: Page) -> ApiResult<(Vec<Self>, Option<Uuid>)> {
        infusions::list(conn, clinic, patient, page)
    }
    fn save_version(conn: &mut Db, actor: &Actor, id: Uuid, expected: i32, fields: &Infusion, status: RecordStatus, reason: &str) -> ApiResult<Self> {
        infusions::save_version(conn, actor, id, expected, fields, status, reason)
    }
}
