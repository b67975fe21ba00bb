//! Webhooks as Standard Webhooks 1.0 defines them (https://www.standardwebhooks.com/):
//! the events onset sends, how a message is signed, when a failed delivery is tried
//! again, and which addresses a webhook may never reach.

use std::net::IpAddr;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::fields::vocabulary;

vocabulary!(Event {
    DueOpened = "due.opened",
    DueMissed = "due.missed",
    InvitationCreated = "invitation.created",
    AssessmentCreated = "assessment.created",
    AlertRaised = "alert.raised",
    DueReminder = "due.reminder",
    HomeDoseRecorded = "home_dose.recorded",
    HomeDoseBlocked = "home_dose.blocked",
});

/// Secrets are `whsec_` and the base64 of the key (the spec's format).
pub const SECRET_PREFIX: &str = "whsec_";

/// The key a `whsec_…` secret stands for.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// `webhook-signature`: "v1," and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"
/// under the secret's key (Standard Webhooks, "Signature scheme").
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// How long a message is tried for before its delivery is given up.
pub const RETRY_FOR_HOURS: i64 = 24;

/// After the n-th failed attempt, wait this long: the spec's suggested schedule (5 s,
/// 5 min, 30 min, 2 h, 5 h, then every 10 h).
fn backoff(failed_attempts: i32) -> Duration {
    match failed_attempts {
        ..=1 => Duration::seconds(5),
        2 => Duration::minutes(5),
        3 => Duration::minutes(30),
        4 => Duration::hours(2),
        5 => Duration::hours(5),
        _ => Duration::hours(10),
    }
}

/// When to try again after `failed_attempts` failures of a message created at
/// `created_at`, or `None` when the next try would fall past the 24 hours.
pub fn next_attempt(failed_attempts: i32, created_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let next = now + backoff(failed_attempts);
    (next <= created_at + Duration::hours(RETRY_FOR_HOURS)).then_some(next)
}

/// Ranges a webhook may never reach without `ONSET_WEBHOOK_ALLOW_PRIVATE`, beyond what
/// the standard library names (loopback, private, link-local, unspecified, multicast,
/// broadcast, unique local): each either is not a public host or carries another address
/// inside it (NAT64, 6to4, IPv4-compatible), which could point back into the network.
const BLOCKED: &[&str] = &[
    "0.0.0.0/8",        // "this network"
    "100.64.0.0/10",    // shared address space (carrier-grade NAT)
    "192.0.0.0/24",     // IETF protocol assignments
    "192.0.2.0/24",     // documentation (TEST-NET-1)
    "198.18.0.0/15",    // benchmarking
    "198.51.100.0/24",  // documentation (TEST-NET-2)
    "203.0.113.0/24",   // documentation (TEST-NET-3)
    "240.0.0.0/4",      // reserved (and 255.255.255.255)
    "::/96",            // IPv4-compatible (deprecated), and :: and ::1
    "64:ff9b::/96",     // NAT64, well-known prefix
    "64:ff9b:1::/48",   // NAT64, local use
    "100::/64",         // discard-only
    "2001::/23",        // IETF protocol assignments (Teredo among them)
    "2001:db8::/32",    // documentation
    "2002::/16",        // 6to4
    "fc00::/7",         // unique local
    "fe80::/10",        // link-local
    "fec0::/10",        // site-local (deprecated)
    "ff00::/8",         // multicast
];

/// `BLOCKED`, parsed once.
static BLOCKED_NETS: std::sync::LazyLock<Vec<ipnet::IpNet>> =
    std::sync::LazyLock::new(|| BLOCKED.iter().map(|range| range.parse().expect("the blocklist parses")).collect());

/// An address a webhook may reach without `ONSET_WEBHOOK_ALLOW_PRIVATE`: a public unicast
/// host, so that a webhook cannot be turned on the service's own network. IPv4-mapped
/// IPv6 addresses (`::ffff:10.0.0.1`) are judged as the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let named = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || v6.is_unique_local() || v6.is_unicast_link_local(),
    };
    !named && !BLOCKED_NETS.iter().any(|range| range.contains(&ip))
}

/// Consecutive failed attempts after which an endpoint is left alone for a while: one
/// that keeps failing must not take the dispatcher's time from the others.
pub const BREAKER_THRESHOLD: i32 = 5;

/// How long an endpoint that has failed `consecutive` times in a row is left alone:
/// not at all below the threshold, then 1 minute, doubling with each further failure, at
/// most an hour. A success closes the breaker.
pub fn pause_after(consecutive: i32) -> Option<Duration> {
    let beyond = consecutive - BREAKER_THRESHOLD;
    (beyond >= 0).then(|| Duration::minutes(1i64 << beyond.min(6)).min(Duration::hours(1)))
}

/// What an endpoint's URL must be: https (or, with the override, http) with a host.
/// Returns the host and port to resolve.
pub fn check_url(url: &str, allow_private: bool) -> Result<(String, u16), String> {
    let uri: actix_web::http::Uri = url.parse().map_err(|_| "must be an absolute URL".to_string())?;
    let port_default = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") if allow_private => 80,
        _ => return Err("must be an https URL".into()),
    };
    let host = uri.host().filter(|h| !h.is_empty()).ok_or("must name a host")?;
    if url.len() > 2_000 {
        return Err("must be at most 2,000 characters".into());
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), uri.port_u16().unwrap_or(port_default)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification ("Verifying webhook
        // signatures"): this secret, id, timestamp and body sign to this value.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(secret_key("MfKQ9r8").is_none(), "the prefix is required");
    }

    #[test]
    fn retries_back_off_and_stop_after_a_day() {
        let created = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(next_attempt(1, created, created), Some(created + Duration::seconds(5)));
        assert_eq!(next_attempt(3, created, created + Duration::minutes(6)), Some(created + Duration::minutes(36)));
        assert_eq!(next_attempt(7, created, created + Duration::hours(14)), Some(created + Duration::hours(24)), "exactly at 24 h is still tried");
        assert_eq!(next_attempt(7, created, created + Duration::hours(14) + Duration::seconds(1)), None);
    }

    #[test]
    fn webhooks_reach_only_public_addresses() {
        for private in ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "::"] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        // The third review's ranges, at their edges, and the mapped forms of private IPv4.
        for blocked in [
            "64:ff9b::a9fe:a9fe", "64:ff9b::", "64:ff9b::ffff:ffff", "2002::1", "2002:a9fe:a9fe::1", "2002:ffff:ffff:ffff::", "::a9fe:a9fe", "::0.0.0.1",
            "fec0::1", "feff:ffff::1", "198.18.0.0", "198.19.255.255", "240.0.0.1", "255.255.255.254", "192.0.0.1", "192.0.0.255",
            "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:198.18.0.1", "2001:db8::1", "2001::1",
        ] {
            assert!(!is_public(blocked.parse().unwrap()), "{blocked}");
        }
        for public in ["198.17.255.255", "198.20.0.0", "239.255.255.255".replace("239", "223").as_str(), "192.0.1.0", "2003::1", "64:ff9c::1", "2a00:1450:4001:81b::200e"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_breaker_opens_after_five_failures_and_backs_off_to_an_hour() {
        assert_eq!([pause_after(0), pause_after(4)], [None, None]);
        assert_eq!(pause_after(5), Some(Duration::minutes(1)));
        assert_eq!(pause_after(6), Some(Duration::minutes(2)));
        assert_eq!(pause_after(10), Some(Duration::minutes(32)));
        assert_eq!(pause_after(11), Some(Duration::hours(1)));
        assert_eq!(pause_after(1_000), Some(Duration::hours(1)));
    }

    #[test]
    fn endpoint_urls_are_https_unless_the_override_allows_http() {
        assert_eq!(check_url("https://hooks.example.org/onset", false), Ok(("hooks.example.org".into(), 443)));
        assert_eq!(check_url("https://[::1]:8443/x", false), Ok(("::1".into(), 8443)));
        assert!(check_url("http://10.0.0.1/x", false).is_err());
        assert_eq!(check_url("http://127.0.0.1:9000/x", true), Ok(("127.0.0.1".into(), 9000)));
        for bad in ["ftp://x.org", "hooks.example.org", "", "https://"] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }
}
