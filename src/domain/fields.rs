//! How a field of a request becomes a value: closed vocabularies, instants, bounded
//! integers and text, each reporting a `FieldError` that names the field.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use super::FieldError;

/// A closed vocabulary on the wire: a snake_case code per variant.
macro_rules! vocabulary {
    ($name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn code(self) -> &'static str { match self { $($name::$variant => $code),+ } }
            pub fn parse(s: &str) -> Option<$name> { Self::ALL.iter().copied().find(|v| v.code() == s) }
            pub fn codes() -> Vec<&'static str> { Self::ALL.iter().map(|v| v.code()).collect() }
        }
    };
}
pub(crate) use vocabulary;

pub(crate) fn integer_in(value: &Value, min: i64, max: i64) -> Option<u32> {
    let n = value.as_i64().or_else(|| value.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))?;
    (min..=max).contains(&n).then_some(n as u32)
}

/// Parses an RFC 3339 instant into UTC at microsecond precision (what both databases keep).
pub fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>, FieldError> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|_| FieldError::new(field, "must be an RFC 3339 date-time, e.g. 2026-03-01T09:30:00Z"))?
        .with_timezone(&Utc)
        .trunc_subsecs(6);
    let earliest = DateTime::parse_from_rfc3339("1900-01-01T00:00:00Z").expect("valid").with_timezone(&Utc);
    if parsed < earliest {
        return Err(FieldError::new(field, "must be after 1900"));
    }
    Ok(parsed)
}

/// An instant that may not lie in the future (a few minutes' clock skew allowed).
pub fn parse_past_instant(field: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    let t = parse_instant(field, text)?;
    if t > now + chrono::Duration::minutes(5) {
        return Err(FieldError::new(field, "must not be in the future"));
    }
    Ok(t)
}

pub(crate) fn required<'a>(errors: &mut Vec<FieldError>, field: &str, value: &'a Option<String>) -> Option<&'a str> {
    if value.is_none() {
        errors.push(FieldError::new(field, "required"));
    }
    value.as_deref()
}

pub(crate) fn one_of<T>(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, parse: impl Fn(&str) -> Option<T>, allowed: &[&str]) -> Option<T> {
    let value = value?;
    let parsed = parse(value);
    if parsed.is_none() {
        errors.push(FieldError::new(field, format!("must be one of: {}", allowed.join(", "))));
    }
    parsed
}

pub(crate) fn bounded_int(errors: &mut Vec<FieldError>, field: &str, value: Option<&Value>, min: i64, max: i64) -> Option<u32> {
    match value {
        None | Some(Value::Null) => None,
        Some(v) => {
            let parsed = integer_in(v, min, max);
            if parsed.is_none() {
                errors.push(FieldError::new(field, format!("must be an integer from {min} to {max}")));
            }
            parsed
        }
    }
}

pub(crate) fn free_text(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, max: usize) -> Option<String> {
    let text = value.as_ref()?;
    if text.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
    }
    Some(text.clone())
}

/// Reads a JSON value into a request type, naming the offending field on failure: the
/// unknown field itself, or the path to the one of the wrong type.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = match (path.as_str(), inner.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next())) {
            (".", Some(unknown)) => unknown.to_string(),
            (".", None) => "body".to_string(),
            _ => path,
        };
        FieldError::new(field, inner)
    })
}

/// RFC 7396 JSON merge patch: members of `patch` replace those of `target`, `null`
/// removes, objects merge.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn timestamps_parse_without_panics_and_round_trip(text in "\\PC{0,40}", seconds in -2_000_000_000i64..4_000_000_000i64, nanos in 0u32..1_000_000_000) {
            let _ = parse_instant("t", &text);
            let t = DateTime::from_timestamp(seconds, nanos).unwrap();
            let parsed = parse_instant("t", &t.to_rfc3339());
            if let Ok(parsed) = parsed {
                prop_assert_eq!(parse_instant("t", &parsed.to_rfc3339()).unwrap(), parsed);
                prop_assert!((t - parsed).num_microseconds().unwrap().abs() < 1);
            }
        }

    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}, "items": {"1": 2}});
        merge_patch(&mut target, &serde_json::json!({"a": "z", "c": {"f": null}, "items": {"2": 3}, "new": [1]}));
        assert_eq!(target, serde_json::json!({"a": "z", "c": {"d": "e"}, "items": {"1": 2, "2": 3}, "new": [1]}));
        let mut scalar = serde_json::json!({"a": 1});
        merge_patch(&mut scalar, &serde_json::json!(["x"]));
        assert_eq!(scalar, serde_json::json!(["x"]));
    }

    #[test]
    fn instants_before_1900_or_in_the_future_are_refused() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z").unwrap().with_timezone(&Utc);
        assert!(parse_instant("t", "1899-12-31T23:59:59Z").is_err());
        assert!(parse_past_instant("t", "2026-03-01T12:05:00Z", now).is_ok(), "five minutes of clock skew");
        assert_eq!(parse_past_instant("t", "2026-03-01T12:05:01Z", now).unwrap_err().message, "must not be in the future");
    }
}
