//! Carries out, inside the write's transaction, the reactions the domain plans for it.

use super::summaries::{self, Course};
use super::{Actor, alerts, due, home_plans, webhooks};
use crate::db::Db;
use crate::domain::reactions::{Reaction, Written, plan};
use crate::error::ApiResult;

pub fn run(conn: &mut Db, actor: &Actor, written: &Written) -> ApiResult<()> {
    // The patient's course is read once, after the write and before any reaction, for
    // every reaction that needs it (all of a rating's but its notification); no reaction
    // changes a session or a rating.
    let mut course = None;
    for reaction in plan(written) {
        apply(conn, actor, reaction, written.at, &mut course)?;
    }
    Ok(())
}

fn course_of<'c>(conn: &mut Db, clinic: uuid::Uuid, course: &'c mut Option<Course>, patient: uuid::Uuid) -> ApiResult<&'c Course> {
    if course.is_none() {
        *course = Some(Course::read(conn, clinic, patient)?);
    }
    Ok(course.as_ref().expect("read above"))
}

fn apply(conn: &mut Db, actor: &Actor, reaction: Reaction, at: chrono::DateTime<chrono::Utc>, course: &mut Option<Course>) -> ApiResult<()> {
    match reaction {
        Reaction::PlanSession { session, patient } => due::plan_session(conn, actor.clinic_id, session, patient, at),
        Reaction::CancelSession { session } => due::cancel_session(conn, actor.clinic_id, session, at),
        Reaction::MatchRating { rating, patient, created } => {
            let course = course_of(conn, actor.clinic_id, course, patient)?;
            let active = course.active_rating(rating).map(|point| (point.instrument, point.rated_at));
            due::match_rating(conn, actor.clinic_id, rating, patient, active, created, at)
        }
        Reaction::FollowPlanProtocol { plan, patient } => home_plans::follow_protocol(conn, actor, plan, patient, at),
        Reaction::Notify { event, data } => webhooks::emit(conn, actor.clinic_id, event, data, at),
        Reaction::CheckSafety { rating, patient } => {
            let course = course_of(conn, actor.clinic_id, course, patient)?;
            alerts::check_rating(conn, actor.clinic_id, rating, patient, course, at).map(|_| ())
        }
        Reaction::JudgeSeries { patient } => {
            let course = course_of(conn, actor.clinic_id, course, patient)?;
            alerts::judge_series(conn, actor.clinic_id, patient, course, at)
        }
        Reaction::Summarise { patient } => {
            let course = course_of(conn, actor.clinic_id, course, patient)?;
            summaries::refresh(conn, actor.clinic_id, course)
        }
    }
}
