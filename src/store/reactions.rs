//! Carries out, inside the write's transaction, the reactions the domain plans for it.

use super::{Actor, alerts, due, webhooks};
use crate::db::Db;
use crate::domain::reactions::{Reaction, Written, plan};
use crate::error::ApiResult;

pub fn run(conn: &mut Db, actor: &Actor, written: &Written) -> ApiResult<()> {
    for reaction in plan(written) {
        apply(conn, actor, reaction, written.at)?;
    }
    Ok(())
}

fn apply(conn: &mut Db, actor: &Actor, reaction: Reaction, at: chrono::DateTime<chrono::Utc>) -> ApiResult<()> {
    match reaction {
        Reaction::PlanSession { session, patient } => due::plan_session(conn, actor.clinic_id, session, patient, at),
        Reaction::CancelSession { session } => due::cancel_session(conn, actor.clinic_id, session, at),
        Reaction::MatchRating { rating, patient } => due::match_rating(conn, actor.clinic_id, rating, patient, at),
        Reaction::Notify { event, data } => webhooks::emit(conn, actor.clinic_id, event, data, at),
        Reaction::CheckSafety { rating, patient } => alerts::check_rating(conn, actor.clinic_id, rating, patient, at).map(|_| ()),
    }
}
