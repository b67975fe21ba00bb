//! What a write to a clinical record sets off inside its own transaction.
//!
//! The store reports each write as a `Written`; `plan` says which reactions it calls for,
//! and the store carries them out before the transaction commits, so a reaction is never
//! lost and never runs for a write that rolled back. Due ratings completed by a rating,
//! alerts raised by a worsening or an endorsed suicidality item, and outbox events for
//! webhooks are the reactions planned here.

use uuid::Uuid;

use super::webhooks::Event;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Amended,
    Retracted,
}

/// One committed-to-be write: which record, whose, at which version, and how it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub entity: &'static str,
    pub id: Uuid,
    /// The patient whose record it is, if any (a protocol has none).
    pub patient_id: Option<Uuid>,
    pub version: i32,
    pub change: Change,
    /// When the write happened.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A consequence of a write that the store carries out in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// A session was recorded or moved: plan (or re-plan) the ratings due after it under
    /// each protocol attached to its patient.
    PlanSession { session: Uuid, patient: Uuid },
    /// A session was entered in error: the ratings due after it are cancelled.
    CancelSession { session: Uuid },
    /// A rating was recorded, moved or retracted: it completes the due rating whose window
    /// it falls in, whoever entered it, or stops completing one. A rating just `created`
    /// completes none yet, so it has none to let go.
    MatchRating { rating: Uuid, patient: Uuid, created: bool },
    /// A rating was recorded or amended: raise the suicidality alert its answers call
    /// for, once per cause and level.
    CheckSafety { rating: Uuid, patient: Uuid },
    /// A session or a rating of the patient changed: judge worsening and relapse across
    /// each judged series again (a new baseline changes every later rating's change) and
    /// keep each series' fold and onset summary current. A rating just `created` that is
    /// later than every other of its series changes nothing before it: it is judged alone,
    /// from its series' kept fold.
    FollowSeries { patient: Uuid, created: Option<Uuid> },
    /// A home plan was made or changed: the protocol it names is attached to its patient
    /// (if it is not already), so its ratings are planned after each dose.
    FollowPlanProtocol { plan: Uuid, patient: Uuid },
    /// Tell the clinic's other systems (the outbox, then webhooks). Ids only, never names.
    Notify { event: Event, data: serde_json::Value },
}

/// The reactions a write calls for.
pub fn plan(written: &Written) -> Vec<Reaction> {
    let Some(patient) = written.patient_id else { return Vec::new() };
    let mut reactions = match (written.entity, written.change) {
        ("infusion", Change::Retracted) => vec![Reaction::CancelSession { session: written.id }],
        ("infusion", _) => vec![Reaction::PlanSession { session: written.id, patient }],
        ("assessment", Change::Created) => vec![
            Reaction::MatchRating { rating: written.id, patient, created: true },
            Reaction::Notify { event: Event::AssessmentCreated, data: serde_json::json!({"assessment_id": written.id, "patient_id": patient}) },
            Reaction::CheckSafety { rating: written.id, patient },
        ],
        ("assessment", Change::Amended) => vec![Reaction::MatchRating { rating: written.id, patient, created: false }, Reaction::CheckSafety { rating: written.id, patient }],
        ("assessment", Change::Retracted) => vec![Reaction::MatchRating { rating: written.id, patient, created: false }],
        // A plan is no session and no rating: nothing of the course changes with it.
        ("home_plan", Change::Created | Change::Amended) => return vec![Reaction::FollowPlanProtocol { plan: written.id, patient }],
        _ => return Vec::new(),
    };
    // Any change to a session or a rating (a backdated session moves every hour) changes
    // each series' baseline or place in time, so what is worse than baseline, and what
    // the patient contributes to cohort analytics.
    let created = (written.entity, written.change) == ("assessment", Change::Created);
    reactions.push(Reaction::FollowSeries { patient, created: created.then_some(written.id) });
    reactions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(entity: &'static str, change: Change) -> Written {
        Written { entity, id: Uuid::nil(), patient_id: Some(Uuid::max()), version: 1, change, at: chrono::Utc::now() }
    }

    #[test]
    fn sessions_plan_or_cancel_and_ratings_match() {
        let (session, patient) = (Uuid::nil(), Uuid::max());
        let follow = Reaction::FollowSeries { patient, created: None };
        assert_eq!(plan(&written("infusion", Change::Created)), [Reaction::PlanSession { session, patient }, follow.clone()]);
        assert_eq!(plan(&written("infusion", Change::Amended)), [Reaction::PlanSession { session, patient }, follow.clone()]);
        assert_eq!(plan(&written("infusion", Change::Retracted)), [Reaction::CancelSession { session }, follow.clone()]);
        assert_eq!(plan(&written("assessment", Change::Retracted)), [Reaction::MatchRating { rating: session, patient, created: false }, follow.clone()]);
        assert_eq!(plan(&written("assessment", Change::Amended)).last(), Some(&follow), "an amendment may move any rating: the series are derived again");
        let created = plan(&written("assessment", Change::Created));
        assert_eq!(created.last(), Some(&Reaction::FollowSeries { patient, created: Some(session) }), "a new rating may extend its fold");
        assert_eq!(created[0], Reaction::MatchRating { rating: session, patient, created: true });
        assert_eq!(created[1], Reaction::Notify { event: Event::AssessmentCreated, data: serde_json::json!({"assessment_id": session, "patient_id": patient}) });
        assert!(plan(&written("patient", Change::Amended)).is_empty());
        assert_eq!(plan(&written("home_plan", Change::Created)), [Reaction::FollowPlanProtocol { plan: session, patient }]);
        assert!(plan(&written("home_plan", Change::Retracted)).is_empty());
    }
}
