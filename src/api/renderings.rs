//! Trajectories kept as rendered (the JSON and the chart): a read of a course that has
//! not changed since it was last rendered answers the bytes rendered then, instead of
//! reading every rating and deriving and rendering them again.
//!
//! Why: a trajectory read of a patient with ~160 ratings spent a quarter of onset's CPU
//! decoding the ratings and a sixth rendering the JSON (perf, SQLite, issue 31), and on
//! PostgreSQL the ratings' query was the costliest statement (0.12–0.23 ms of the
//! server's time each, `pg_stat_statements`).
//!
//! Why it is never stale: each patient row carries a `course_stamp`, a random number that
//! every write of the patient's records draws anew in its own transaction
//! (`summaries::Course::lock`, which each such write takes first). A read reads the stamp
//! before the course, so what it renders is at least as new as the stamp it is kept
//! under, and a kept rendering is answered only to a read that finds the same stamp. The
//! stamp lives in the database, so a write through another instance is seen. Not kept: a
//! course naming a clinic's own scale, whose rendering follows the clinic's current
//! definition of it, which changes without the patient's records changing. Every read is
//! audited, kept or not.
//!
//! Bounded: at most `BUDGET` bytes in all, the oldest kept leaving first, and no one
//! rendering over an eighth of it (a history of thousands is rendered afresh each time).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use actix_web::web::Bytes;
use uuid::Uuid;

/// The bytes kept in all: a patient with ~160 ratings renders ~75 kB of JSON, so some
/// two hundred trajectories.
const BUDGET: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    Json,
    Chart,
}

/// What was rendered: whose trajectory, how many of each series' latest ratings, as what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rendering {
    pub patient: Uuid,
    pub shown: usize,
    pub form: Form,
}

pub struct Renderings {
    kept: Mutex<Kept>,
    budget: usize,
}

#[derive(Default)]
struct Kept {
    by_rendering: HashMap<Rendering, (i64, Bytes)>,
    /// In the order first kept: the oldest leaves first.
    order: VecDeque<Rendering>,
    bytes: usize,
}

impl Default for Renderings {
    fn default() -> Self {
        Renderings::with_budget(BUDGET)
    }
}

impl Renderings {
    pub fn with_budget(budget: usize) -> Renderings {
        Renderings { kept: Mutex::new(Kept::default()), budget }
    }

    /// The bytes kept for `rendering` if they were rendered under `stamp`.
    pub fn get(&self, rendering: &Rendering, stamp: i64) -> Option<Bytes> {
        let kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.by_rendering.get(rendering).filter(|(kept_stamp, _)| *kept_stamp == stamp).map(|(_, bytes)| bytes.clone())
    }

    /// Keeps `bytes` as `rendering` under `stamp`, in place of what was kept for it.
    pub fn keep(&self, rendering: Rendering, stamp: i64, bytes: Bytes) {
        if bytes.len() > self.budget / 8 {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let kept = &mut *kept;
        kept.bytes += bytes.len();
        match kept.by_rendering.insert(rendering, (stamp, bytes)) {
            Some((_, replaced)) => kept.bytes -= replaced.len(),
            None => kept.order.push_back(rendering),
        }
        while kept.bytes > self.budget {
            let Some(oldest) = kept.order.pop_front() else { break };
            if let Some((_, gone)) = kept.by_rendering.remove(&oldest) {
                kept.bytes -= gone.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendering(n: u128) -> Rendering {
        Rendering { patient: Uuid::from_u128(n), shown: 1_000, form: Form::Json }
    }

    #[test]
    fn a_rendering_is_answered_only_under_the_stamp_it_was_kept_under() {
        let renderings = Renderings::with_budget(1_000);
        renderings.keep(rendering(1), 7, Bytes::from_static(b"seven"));
        assert_eq!(renderings.get(&rendering(1), 7).as_deref(), Some(&b"seven"[..]));
        assert_eq!(renderings.get(&rendering(1), 8), None);
        assert_eq!(renderings.get(&Rendering { form: Form::Chart, ..rendering(1) }, 7), None);
        assert_eq!(renderings.get(&Rendering { shown: 1, ..rendering(1) }, 7), None);
        renderings.keep(rendering(1), 8, Bytes::from_static(b"eight"));
        assert_eq!(renderings.get(&rendering(1), 7), None);
        assert_eq!(renderings.get(&rendering(1), 8).as_deref(), Some(&b"eight"[..]));
    }

    #[test]
    fn the_oldest_leave_first_when_the_budget_is_spent_and_none_is_over_an_eighth() {
        // A budget of 80 bytes: renderings of 10 bytes, eight at most.
        let renderings = Renderings::with_budget(80);
        for n in 0..8 {
            renderings.keep(rendering(n), 1, Bytes::from(vec![b'x'; 10]));
        }
        assert!((0..8).all(|n| renderings.get(&rendering(n), 1).is_some()));
        // Replacing one keeps the count and its place.
        renderings.keep(rendering(0), 2, Bytes::from(vec![b'y'; 10]));
        assert!(renderings.get(&rendering(0), 2).is_some());
        renderings.keep(rendering(8), 1, Bytes::from(vec![b'x'; 10]));
        assert_eq!(renderings.get(&rendering(0), 2), None, "the first kept left first");
        assert!((1..9).all(|n| renderings.get(&rendering(n), 1).is_some()));
        assert_eq!(renderings.kept.lock().unwrap().bytes, 80);
        // 11 bytes is over an eighth of 80: not kept, nothing else leaves.
        renderings.keep(rendering(9), 1, Bytes::from(vec![b'z'; 11]));
        assert_eq!(renderings.get(&rendering(9), 1), None);
        assert!((1..9).all(|n| renderings.get(&rendering(n), 1).is_some()));
    }
}
