//! The time the scheduler, patient links and due lists go by. It is the system's time
//! unless a test sets it: time-dependent behaviour is tested by moving this clock, never
//! by sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};

#[derive(Debug, Default)]
pub struct Clock {
    fixed: Mutex<Option<DateTime<Utc>>>,
}

impl Clock {
    /// Now, at the microsecond precision both databases keep.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or_else(Utc::now).trunc_subsecs(6)
    }

    /// Stops the clock at `at` (tests).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.fixed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }

    /// Moves a stopped clock on, or stops a running one `by` from now (tests).
    pub fn advance(&self, by: Duration) {
        let at = self.now() + by;
        self.set(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_stands_still_until_moved() {
        let clock = Clock::default();
        let at = DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&Utc);
        clock.set(at);
        assert_eq!(clock.now(), at);
        clock.advance(Duration::hours(2));
        assert_eq!(clock.now(), at + Duration::hours(2));
    }
}
