//! Pseudonymisation for the research export: subject ids that only the export key can
//! link back, ages instead of dates, and times relative to the first infusion.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Ages above this are reported as this (HIPAA Safe Harbor's 90+ rule).
pub const AGE_CAP: u32 = 90;

/// Lowercase hex HMAC-SHA256(key, patient id as its canonical hyphenated UUID string):
/// stable per key, never the database id, never derived from identifying data.
pub fn subject_id(key: &[u8], patient: Uuid) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(patient.hyphenated().to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whole years between a birth date and a day.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// Age at the first infusion in whole years, 90 and over reported as 90.
pub fn age_at_first_infusion(birth: NaiveDate, first_infusion: Option<DateTime<Utc>>) -> Option<u32> {
    first_infusion.map(|t| age_on(birth, t.date_naive()).min(AGE_CAP))
}

/// Rounds for display (exports keep 0.01 h); computations never round.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_id_is_the_hmac_of_the_canonical_uuid() {
        // RFC 4231 test case 2 shows the construction: HMAC-SHA256("Jefe", "what do ya want for nothing?")
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let id = Uuid::parse_str("01a2123a-da02-70e6-a7ad-bf2280ae73e5").unwrap();
        let a = subject_id(b"key one", id);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a, subject_id(b"key one", id), "stable per key");
        assert_ne!(a, subject_id(b"key two", id));
        assert!(!a.contains("01a2123a"));
    }

    #[test]
    fn ages_in_whole_years_capped_at_90() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(age_on(d("1990-06-15"), d("2026-06-14")), 35);
        assert_eq!(age_on(d("1990-06-15"), d("2026-06-15")), 36);
        assert_eq!(age_on(d("2000-02-29"), d("2026-02-28")), 25);
        let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        assert_eq!(age_at_first_infusion(d("1936-01-01"), at("2026-03-01T00:00:00Z")), Some(90));
        assert_eq!(age_at_first_infusion(d("1926-01-01"), at("2026-03-01T00:00:00Z")), Some(90));
        assert_eq!(age_at_first_infusion(d("1937-03-02"), at("2026-03-01T00:00:00Z")), Some(88));
        assert_eq!(age_at_first_infusion(d("1937-03-02"), None), None);
    }

    #[test]
    fn rounding_is_for_display_only() {
        assert_eq!(round_to(100.0 / 3.0, 2), 33.33);
        assert_eq!(round_to(0.666_666, 2), 0.67);
        assert_eq!(round_to(-71.999, 2), -72.0);
    }
}
