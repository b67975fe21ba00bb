//! Login throttling per account and per client address (governor's GCRA).
//!
//! The counters live in this process: behind a load balancer each instance throttles
//! on its own, which still bounds guessing to (instances × quota) per minute.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

pub struct LoginThrottle {
    by_account: Keyed,
    by_address: Keyed,
}

/// Beyond this many tracked keys, idle ones are dropped so memory stays bounded.
const MAX_TRACKED_KEYS: usize = 100_000;

fn limiter(per_minute: u32) -> Keyed {
    let per_minute = NonZeroU32::new(per_minute.max(1)).expect("max(1) is never zero");
    RateLimiter::keyed(Quota::per_minute(per_minute))
}

impl LoginThrottle {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> LoginThrottle {
        LoginThrottle { by_account: limiter(per_account_per_minute), by_address: limiter(per_address_per_minute) }
    }

    /// Takes one attempt from both allowances; `Err(seconds)` says how long to wait.
    /// Keys are hashes, so a tracked key costs 64 bytes whatever the client sent.
    pub fn attempt(&self, email: &str, address: &str) -> Result<(), u64> {
        for (limiter, key) in [(&self.by_address, address), (&self.by_account, email)] {
            if limiter.len() > MAX_TRACKED_KEYS {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&hex::encode(Sha256::digest(key.as_bytes()))) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(wait.as_secs().max(1));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_stopped_after_its_quota_and_others_are_not() {
        let throttle = LoginThrottle::new(3, 1000);
        for _ in 0..3 {
            assert!(throttle.attempt("a@x.org", "10.0.0.1").is_ok());
        }
        let wait = throttle.attempt("a@x.org", "10.0.0.1").unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(throttle.attempt("b@x.org", "10.0.0.1").is_ok());
    }

    #[test]
    fn an_address_is_stopped_across_accounts() {
        let throttle = LoginThrottle::new(1000, 2);
        assert!(throttle.attempt("a@x.org", "10.0.0.1").is_ok());
        assert!(throttle.attempt("b@x.org", "10.0.0.1").is_ok());
        assert!(throttle.attempt("c@x.org", "10.0.0.1").is_err());
        assert!(throttle.attempt("c@x.org", "10.0.0.2").is_ok());
    }
}
