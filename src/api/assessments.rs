//! Ratings (`/assessments`): the shared record handlers of `records.rs` over the store.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::records::Record;
use crate::db::Db;
use crate::domain::RecordStatus;
use crate::domain::scoring::{Rating, RatingInput};
use crate::error::{ApiResult, FieldError};
use crate::store::assessments::{self, AssessmentRecord};
use crate::store::{Actor, Page};

impl Record for AssessmentRecord {
    type Fields = Rating;
    type Input = RatingInput;
    const ENTITY: &'static str = assessments::ENTITY;
    const COLLECTION: &'static str = "/api/v1/assessments";

    fn parse(input: &RatingInput, now: DateTime<Utc>) -> Result<Rating, Vec<FieldError>> {
        input.parse(now)
    }
    fn to_input(fields: &Rating) -> RatingInput {
        fields.to_input()
    }
    fn fields(&self) -> &Rating {
        &self.rating
    }
    fn id(&self) -> Uuid {
        self.id
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn before_merge(stored: &mut Value, patch: &Value) {
        if patch.get("items").is_some() && patch.get("total").is_none() {
            // New items bring their own total; a stored paper total would contradict them.
            if let Some(map) = stored.as_object_mut() {
                map.remove("total");
            }
        }
    }
    fn create(conn: &mut Db, actor: &Actor, patient: Uuid, fields: &Rating) -> ApiResult<Self> {
        assessments::create(conn, actor, patient, fields)
    }
    fn find(conn: &mut Db, clinic: Uuid, id: Uuid) -> ApiResult<Self> {
        assessments::find(conn, clinic, id)
    }
    fn list(conn: &mut Db, clinic: Uuid, patient: Uuid, page: Page) -> ApiResult<(Vec<Self>, Option<Uuid>)> {
        assessments::list(conn, clinic, patient, page)
    }
    fn save_version(conn: &mut Db, actor: &Actor, id: Uuid, expected: i32, fields: &Rating, status: RecordStatus, reason: &str) -> ApiResult<Self> {
        assessments::save_version(conn, actor, id, expected, fields, status, reason)
    }
}
