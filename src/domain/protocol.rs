//! Protocols: which ratings to ask for after each session, and when.
//!
//! Ketamine studies measure change at +40 min, +2 h, +4 h, day 1 and day 7 after a dose
//! (DESIGN.md §5); a protocol names those points as ISO 8601 durations from a session's
//! `started_at`, each with the window in which a rating still counts for it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::FieldError;
use super::fields::{free_text, one_of, required};
use super::instruments::Catalogue;
use super::scoring::Recall;

/// Items per protocol: a dense hours-resolution schedule has about ten.
pub const MAX_ITEMS: usize = 20;
/// Nothing is planned more than a year after a session.
const MAX_OFFSET_DAYS: i64 = 365;
/// A window reaches at most a month either side of its point.
const MAX_WINDOW_DAYS: i64 = 31;

/// A duration as written (`PT2H`) and as meant: a fixed length of time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IsoDuration {
    text: String,
    length: Duration,
}

impl IsoDuration {
    /// Weeks, days, hours, minutes and seconds only: years and months are not fixed
    /// lengths of time, so they cannot place a rating in hours.
    pub fn parse(text: &str) -> Result<IsoDuration, String> {
        // ISO 8601 wants at least one element after `P` and after `T`; the parser does not.
        let complete = !(text.ends_with('P') || text.ends_with('T'));
        let parsed = match iso8601::parsers::parse_duration(text.as_bytes()) {
            Ok((rest, parsed)) if rest.is_empty() && complete => parsed,
            _ => return Err("must be an ISO 8601 duration such as PT40M, PT2H, P1D or P1W".into()),
        };
        let length = match parsed {
            iso8601::Duration::Weeks(w) => Duration::weeks(i64::from(w)),
            iso8601::Duration::YMDHMS { year: 0, month: 0, day, hour, minute, second, millisecond } => {
                Duration::days(i64::from(day))
                    + Duration::hours(i64::from(hour))
                    + Duration::minutes(i64::from(minute))
                    + Duration::seconds(i64::from(second))
                    + Duration::milliseconds(i64::from(millisecond))
            }
            iso8601::Duration::YMDHMS { .. } => return Err("years and months are not fixed lengths: give days or weeks".into()),
        };
        Ok(IsoDuration { text: text.to_string(), length })
    }

    pub fn length(&self) -> Duration {
        self.length
    }
}

impl TryFrom<String> for IsoDuration {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        IsoDuration::parse(&text)
    }
}

impl From<IsoDuration> for String {
    fn from(d: IsoDuration) -> String {
        d.text
    }
}

/// One rating a protocol asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolItem {
    /// The instrument's code: a protocol outlives versions, and a link asks the current
    /// version of its instrument when it is opened.
    pub instrument: String,
    /// From the session's start to the rating's point.
    pub offset: IsoDuration,
    pub window_before: IsoDuration,
    pub window_after: IsoDuration,
    pub recall: Recall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolFields {
    pub name: String,
    pub items: Vec<ProtocolItem>,
}

/// An item as a client sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolItemInput {
    pub instrument: Option<String>,
    pub offset: Option<String>,
    pub window_before: Option<String>,
    pub window_after: Option<String>,
    pub recall: Option<String>,
}

/// A protocol as a client sends it; every field optional so a patch can merge over it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolInput {
    pub name: Option<String>,
    pub items: Option<Vec<ProtocolItemInput>>,
}

fn duration_field(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, max_days: i64) -> Option<IsoDuration> {
    let text = required(errors, field, value)?;
    match IsoDuration::parse(text) {
        Ok(d) if d.length() <= Duration::days(max_days) => Some(d),
        Ok(_) => {
            errors.push(FieldError::new(field, format!("must be at most P{max_days}D")));
            None
        }
        Err(message) => {
            errors.push(FieldError::new(field, message));
            None
        }
    }
}

impl ProtocolInput {
    pub fn parse(&self, catalogue: &Catalogue) -> Result<ProtocolFields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = free_text(&mut errors, "name", &self.name, 200).filter(|n| !n.trim().is_empty());
        if name.is_none() && !errors.iter().any(|e| e.field == "name") {
            errors.push(FieldError::new("name", "required: 1 to 200 characters"));
        }
        let items = match &self.items {
            None => {
                errors.push(FieldError::new("items", "required: at least one rating to ask for"));
                Vec::new()
            }
            // Checked before the items: an oversized list gets one error, not one per item.
            Some(items) if items.is_empty() || items.len() > MAX_ITEMS => {
                errors.push(FieldError::new("items", format!("must hold 1 to {MAX_ITEMS} items")));
                Vec::new()
            }
            Some(items) => items.iter().enumerate().filter_map(|(i, item)| item.parse(catalogue, &mut errors, i)).collect(),
        };
        match name {
            Some(name) if errors.is_empty() => Ok(ProtocolFields { name: name.trim().to_string(), items }),
            _ => Err(errors),
        }
    }
}

impl ProtocolItemInput {
    fn parse(&self, catalogue: &Catalogue, errors: &mut Vec<FieldError>, index: usize) -> Option<ProtocolItem> {
        let field = |name: &str| format!("items.{index}.{name}");
        let instrument = required(errors, &field("instrument"), &self.instrument);
        let instrument = one_of(errors, &field("instrument"), instrument, |code| catalogue.parse(code), &catalogue.codes());
        let offset = duration_field(errors, &field("offset"), &self.offset, MAX_OFFSET_DAYS);
        let window_before = duration_field(errors, &field("window_before"), &self.window_before, MAX_WINDOW_DAYS);
        let window_after = duration_field(errors, &field("window_after"), &self.window_after, MAX_WINDOW_DAYS);
        let recall = required(errors, &field("recall"), &self.recall);
        let recall = one_of(errors, &field("recall"), recall, Recall::parse, &Recall::codes());
        Some(ProtocolItem { instrument: instrument?.code().to_string(), offset: offset?, window_before: window_before?, window_after: window_after?, recall: recall? })
    }
}

impl ProtocolFields {
    pub fn to_input(&self) -> ProtocolInput {
        ProtocolInput {
            name: Some(self.name.clone()),
            items: Some(
                self.items
                    .iter()
                    .map(|item| ProtocolItemInput {
                        instrument: Some(item.instrument.clone()),
                        offset: Some(item.offset.text.clone()),
                        window_before: Some(item.window_before.text.clone()),
                        window_after: Some(item.window_after.text.clone()),
                        recall: Some(item.recall.code().into()),
                    })
                    .collect(),
            ),
        }
    }
}

/// A rating due after one session: its point and the window in which a rating counts.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDue {
    pub item_index: i32,
    pub instrument: String,
    pub recall: Recall,
    pub due_at: DateTime<Utc>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// The ratings a protocol asks for after a session that started at `started_at`.
pub fn plan(items: &[ProtocolItem], started_at: DateTime<Utc>) -> Vec<PlannedDue> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let due_at = started_at + item.offset.length();
            PlannedDue {
                item_index: i as i32,
                instrument: item.instrument.clone(),
                recall: item.recall,
                due_at,
                opens_at: due_at - item.window_before.length(),
                closes_at: due_at + item.window_after.length(),
            }
        })
        .collect()
}

// Where a due rating stands.
super::fields::vocabulary!(DueStatus { Scheduled = "scheduled", Open = "open", Completed = "completed", Missed = "missed", Cancelled = "cancelled" });

impl DueStatus {
    /// Completed, missed and cancelled ratings are settled: time no longer moves them.
    pub fn is_settled(self) -> bool {
        matches!(self, DueStatus::Completed | DueStatus::Missed | DueStatus::Cancelled)
    }
}

/// Where an unsettled due rating stands at `now`: its window not yet open, open, or
/// closed (DESIGN.md §5: scheduled → open → missed when no rating came).
pub fn status_at(opens_at: DateTime<Utc>, closes_at: DateTime<Utc>, now: DateTime<Utc>) -> DueStatus {
    if now < opens_at {
        DueStatus::Scheduled
    } else if now <= closes_at {
        DueStatus::Open
    } else {
        DueStatus::Missed
    }
}

/// Whether a rating taken at `rated_at` counts for a window (both ends included).
pub fn in_window(opens_at: DateTime<Utc>, closes_at: DateTime<Utc>, rated_at: DateTime<Utc>) -> bool {
    opens_at <= rated_at && rated_at <= closes_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn item(instrument: &str, offset: &str, before: &str, after: &str) -> ProtocolItemInput {
        ProtocolItemInput {
            instrument: Some(instrument.into()),
            offset: Some(offset.into()),
            window_before: Some(before.into()),
            window_after: Some(after.into()),
            recall: Some("NOW".into()),
        }
    }

    #[test]
    fn durations_are_fixed_lengths_of_the_whole_text() {
        assert_eq!(IsoDuration::parse("PT40M").unwrap().length(), Duration::minutes(40));
        assert_eq!(IsoDuration::parse("P1DT2H").unwrap().length(), Duration::hours(26));
        assert_eq!(IsoDuration::parse("P1W").unwrap().length(), Duration::days(7));
        assert_eq!(IsoDuration::parse("PT0S").unwrap().length(), Duration::zero());
        for bad in ["P1M", "P1Y", "PT2Hjunk", "2H", "", "-PT1H", "PT"] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_protocol_plans_its_points_and_windows_from_the_session_start() {
        // A hand-worked example: a session at 09:00; +2 h with a 30-minute window either
        // side is due at 11:00 and counts from 10:30 to 11:30; day 7 with a day after.
        let fields = ProtocolInput {
            name: Some("Hours and a week".into()),
            items: Some(vec![item("ocd_vas", "PT2H", "PT30M", "PT30M"), item("ybocs_sr", "P7D", "PT0S", "P1D")]),
        }
        .parse(&Catalogue::built_in())
        .unwrap();
        let planned = plan(&fields.items, at("2026-03-02T09:00:00Z"));
        assert_eq!(planned.len(), 2);
        assert_eq!((planned[0].due_at, planned[0].opens_at, planned[0].closes_at), (at("2026-03-02T11:00:00Z"), at("2026-03-02T10:30:00Z"), at("2026-03-02T11:30:00Z")));
        assert_eq!((planned[1].due_at, planned[1].opens_at, planned[1].closes_at), (at("2026-03-09T09:00:00Z"), at("2026-03-09T09:00:00Z"), at("2026-03-10T09:00:00Z")));
        assert_eq!((planned[1].item_index, planned[1].instrument.as_str()), (1, "ybocs_sr"));
    }

    #[test]
    fn a_window_is_open_from_its_first_to_its_last_instant() {
        let (opens, closes) = (at("2026-03-02T10:30:00Z"), at("2026-03-02T11:30:00Z"));
        assert_eq!(status_at(opens, closes, at("2026-03-02T10:29:59Z")), DueStatus::Scheduled);
        assert_eq!(status_at(opens, closes, opens), DueStatus::Open);
        assert_eq!(status_at(opens, closes, closes), DueStatus::Open);
        assert_eq!(status_at(opens, closes, at("2026-03-02T11:30:01Z")), DueStatus::Missed);
        assert!(in_window(opens, closes, opens) && in_window(opens, closes, closes));
        assert!(!in_window(opens, closes, at("2026-03-02T11:30:00.000001Z")));
    }

    #[test]
    fn bad_protocols_name_each_field() {
        let errors = ProtocolInput { name: Some(" ".into()), items: Some(vec![item("ybocs", "P1M", "PT1H", "P40D")]) }.parse(&Catalogue::built_in()).unwrap_err();
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["items.0.offset", "items.0.window_after", "name"]);
        let too_many = ProtocolInput { name: Some("x".into()), items: Some(vec![ProtocolItemInput::default(); 500]) }.parse(&Catalogue::built_in()).unwrap_err();
        assert_eq!(too_many.len(), 1, "one error for an oversized list");
    }
}
