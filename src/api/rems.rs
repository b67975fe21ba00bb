//! The esketamine REMS monitoring form of a session, and the sessions still to submit.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ListQuery, list_response, path_id, query};
use crate::auth::{CLINICAL, Caller};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::rems;

/// `GET /api/v1/infusions/{id}/rems-form`.
pub async fn form(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let (id, actor) = (path_id(&req)?, caller.actor());
    Ok(HttpResponse::Ok().json(state.db_as(&caller, move |conn| rems::form(conn, &actor, id)).await?))
}

/// `GET /api/v1/rems/pending`: oldest first, each with its deadline, paged like every list.
pub async fn pending(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    caller.require(CLINICAL)?;
    let page = query::<ListQuery>(&req)?.page()?;
    let (actor, now) = (caller.actor(), state.clock.now());
    Ok(list_response(state.db_as(&caller, move |conn| rems::pending(conn, &actor, page, now)).await?))
}
