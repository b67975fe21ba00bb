//! Carries out, inside the write's transaction, the reactions the domain plans for it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::summaries::{self, Course};
use super::{Actor, alerts, due, home_plans, webhooks};
use crate::db::Db;
use crate::domain::reactions::{Reaction, Written, plan};
use crate::domain::trajectory::RatingPoint;
use crate::error::ApiResult;

/// Runs the reactions to a write. `point`: the rating written, as the outcome rules read
/// it, while it is active (a retracted rating has none).
pub fn run(conn: &mut Db, actor: &Actor, written: &Written, point: Option<&RatingPoint>) -> ApiResult<()> {
    for reaction in plan(written) {
        apply(conn, actor, reaction, written.at, point)?;
    }
    Ok(())
}

fn apply(conn: &mut Db, actor: &Actor, reaction: Reaction, at: DateTime<Utc>, point: Option<&RatingPoint>) -> ApiResult<()> {
    let clinic = actor.clinic_id;
    match reaction {
        Reaction::PlanSession { session, patient } => due::plan_session(conn, clinic, session, patient, at),
        Reaction::CancelSession { session } => due::cancel_session(conn, clinic, session, at),
        Reaction::MatchRating { rating, patient, created } => {
            let active = point.map(|point| (point.instrument, point.rated_at));
            due::match_rating(conn, clinic, rating, patient, active, created, at)
        }
        Reaction::FollowPlanProtocol { plan, patient } => home_plans::follow_protocol(conn, actor, plan, patient, at),
        Reaction::Notify { event, data } => webhooks::emit(conn, clinic, event, data, at),
        Reaction::CheckSafety { patient, .. } => match point {
            Some(point) => alerts::check_rating(conn, clinic, point, patient, at).map(|_| ()),
            None => Ok(()),
        },
        Reaction::FollowSeries { patient, created } => follow_series(conn, clinic, patient, created.and(point), at),
    }
}

/// Judges the patient's series and keeps their folds and summaries current. A rating just
/// created is judged from its series' kept fold alone when it extends it; one whose
/// instrument no rule judges changes no series at all; anything else (an amendment, a
/// retraction, a session, a backdated rating) derives every series from the whole course.
fn follow_series(conn: &mut Db, clinic: Uuid, patient: Uuid, created: Option<&RatingPoint>, at: DateTime<Utc>) -> ApiResult<()> {
    if let Some(point) = created {
        if !point.instrument.rules().is_judged() {
            return Ok(());
        }
        if let Some(extended) = summaries::extend(conn, clinic, patient, point)? {
            return alerts::judge_extended(conn, clinic, patient, point.instrument, &extended, at);
        }
    }
    let course = Course::read(conn, clinic, patient)?;
    alerts::judge_series(conn, clinic, patient, &course, at)?;
    summaries::refresh(conn, clinic, &course)
}
