//! The clinic's audit log (admin).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::{ListQuery, list_response, query};
use crate::auth::{Caller, Role};
use crate::domain::fields::parse_instant;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::audit::{self, AuditFilter};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
    actor: Option<String>,
    entity: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn instant(field: &str, value: Option<&str>) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    value.map(|v| parse_instant(field, v).map_err(|e| ApiError::BadRequest(format!("{}: {}", e.field, e.message)))).transpose()
}

pub async fn list(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let q = query::<AuditQuery>(&req)?;
    let page = ListQuery { limit: q.limit, cursor: q.cursor }.page()?;
    let actor_id = q
        .actor
        .as_deref()
        .map(|a| Uuid::parse_str(a).map_err(|_| ApiError::BadRequest("actor must be a user id".into())))
        .transpose()?;
    let filter = AuditFilter {
        actor_id,
        entity: q.entity,
        action: q.action,
        from: instant("from", q.from.as_deref())?,
        to: instant("to", q.to.as_deref())?,
    };
    let clinic = caller.clinic_id;
    Ok(list_response(state.db_as(&caller, move |conn| Ok(audit::list(conn, clinic, &filter, page)?)).await?))
}
