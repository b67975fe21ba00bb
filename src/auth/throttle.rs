//! Login throttling per account and per client address (governor's GCRA).
//!
//! The counters live in this process: behind a load balancer each instance throttles
//! on its own, which still bounds guessing to (instances × quota) per minute.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use ipnet::{IpNet, Ipv6Net};
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

/// Attempts per client address alone (patient links, which name no account).
pub struct AddressThrottle {
    by_address: Keyed,
}

impl AddressThrottle {
    pub fn new(per_minute: u32) -> AddressThrottle {
        AddressThrottle { by_address: limiter(per_minute) }
    }

    /// Takes one attempt; `Err(seconds)` says how long to wait.
    pub fn attempt(&self, address: &str) -> Result<(), u64> {
        if self.by_address.len() > MAX_TRACKED_KEYS {
            self.by_address.retain_recent();
        }
        self.by_address.check_key(&hex::encode(Sha256::digest(address.as_bytes()))).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}

/// The client a login is throttled as. `X-Forwarded-For` is read only when the peer is
/// a trusted proxy, from the right: the first hop that is not itself trusted is the
/// client (anything left of it could be forged). IPv6 clients are grouped by their /64,
/// which one subscriber usually holds whole (RFC 6177), so rotating addresses within it
/// buys no extra attempts.
pub fn client_address(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpNet]) -> String {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let Some(mut client) = peer else { return String::new() };
    if is_trusted(&client) {
        let hops = forwarded_for.iter().flat_map(|h| h.split(',')).map(str::trim).collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip;
            if !is_trusted(&ip) {
                break;
            }
        }
    }
    match client.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64).map(|net| net.trunc().to_string()).unwrap_or_else(|_| v6.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = nets(&["10.0.0.0/24"]);
        assert_eq!(client_address(Some(proxy), &["203.0.113.9"], &[]), "10.0.0.2", "no proxy is trusted by default");
        assert_eq!(client_address(Some(proxy), &["203.0.113.9"], &trusted), "203.0.113.9");
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_address(Some(stranger), &["203.0.113.9"], &trusted), "198.51.100.1", "a stranger's header is ignored");
        // A client's own forged hops sit left of the one the proxy appended.
        assert_eq!(client_address(Some(proxy), &["1.2.3.4, 203.0.113.9"], &trusted), "203.0.113.9");
        assert_eq!(client_address(Some(proxy), &["1.2.3.4", "203.0.113.9, 10.0.0.7"], &trusted), "203.0.113.9", "proxies chained");
        assert_eq!(client_address(Some(proxy), &["junk, 203.0.113.9"], &trusted), "203.0.113.9");
        assert_eq!(client_address(Some(proxy), &["203.0.113.9, junk"], &trusted), "10.0.0.2", "an unreadable hop is not skipped");
        assert_eq!(client_address(Some(proxy), &[], &trusted), "10.0.0.2");
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_address(Some(a), &[], &[]), "2001:db8:1:2::/64");
        assert_eq!(client_address(Some(a), &[], &[]), client_address(Some(b), &[], &[]));
        assert_ne!(client_address(Some(a), &[], &[]), client_address(Some(c), &[], &[]));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_address(Some(mapped), &[], &[]), "192.0.2.7");
    }

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
