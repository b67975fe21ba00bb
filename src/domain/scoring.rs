//! Ratings parsed once into types that cannot hold an invalid rating.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FieldError;
use super::fields::{bounded_int, free_text, integer_in, one_of, parse_past_instant, required, vocabulary};
use super::instruments::{Catalogue, Instrument};

// What period a rating describes. Y-BOCS asks about the past week, so only a
// shortened recall (or the VAS, "right now") can resolve hours. PHQ-9 asks about two
// weeks (P14D), the C-SSRS screener about the past month (P1M).
vocabulary!(Recall { Week = "P7D", Day = "P24H", Now = "NOW", TwoWeeks = "P14D", Month = "P1M" });

impl Recall {
    /// Shorter than the standard week: labelled so in every output.
    pub fn is_short(self) -> bool {
        matches!(self, Recall::Day | Recall::Now)
    }
}


vocabulary!(Rater { Clinician = "clinician", SelfReport = "self" });
vocabulary!(CollectedVia { Interview = "interview", Paper = "paper", App = "app", Phone = "phone" });

/// Validated scores: every given item in range, all core items present when any item is
/// given, and a total that is the sum of the core items (or a paper total in range).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    items: Option<BTreeMap<String, u32>>,
    total: u32,
}

impl Scores {
    /// Scores read back from the database, which were validated by `score` on the way in.
    pub fn stored(items: Option<BTreeMap<String, u32>>, total: u32) -> Scores {
        Scores { items, total }
    }
    pub fn total(&self) -> u32 {
        self.total
    }
    pub fn items(&self) -> Option<&BTreeMap<String, u32>> {
        self.items.as_ref()
    }
    /// The part scores the definition names (Y-BOCS obsessions and compulsions, PCL-5
    /// clusters), when items were given; empty otherwise.
    pub fn subscales(&self, instrument: Instrument) -> Vec<(&'static str, u32)> {
        self.items.as_ref().map(|items| instrument.subscales_of(items)).unwrap_or_default()
    }
}


/// Scores a rating: items keyed by item code, or a bare total for paper records.
pub fn score(
    instrument: Instrument,
    items: Option<&BTreeMap<String, Value>>,
    total: Option<&Value>,
) -> Result<Scores, Vec<FieldError>> {
    let mut errors = Vec::new();
    let (min_total, max_total) = (instrument.min_total(), instrument.max_total());
    let given_total = match total {
        None | Some(Value::Null) => None,
        Some(v) => match integer_in(v, i64::from(min_total), i64::from(max_total)) {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new("total", format!("must be an integer from {min_total} to {max_total}")));
                None
            }
        },
    };
    let Some(items) = items else {
        if !instrument.allows_bare_total() {
            return Err(vec![FieldError::new("items", format!("{} is never a bare total: give its answers", instrument.code()))]);
        }
        return match (given_total, errors.is_empty()) {
            (Some(total), true) => Ok(Scores { items: None, total }),
            (None, true) => Err(vec![FieldError::new("items", "give the items, or a total when only a total was recorded")]),
            _ => Err(errors),
        };
    };
    // Checked before the items: an oversized map gets one error, not one per key.
    let known = instrument.items().len();
    if items.len() > known {
        errors.push(FieldError::new("items", format!("{} has {known} items at most", instrument.code())));
        return Err(errors);
    }
    let mut scored = BTreeMap::new();
    for (code, value) in items {
        match instrument.item(code) {
            None => errors.push(FieldError::new(format!("items.{code}"), format!("{} has no item {code:?}", instrument.code()))),
            Some(item) => match integer_in(value, i64::from(item.min), i64::from(item.max)) {
                Some(v) => {
                    scored.insert(code.clone(), v);
                }
                None => errors.push(FieldError::new(format!("items.{code}"), format!("must be an integer from {} to {}", item.min, item.max))),
            },
        }
    }
    for item in instrument.core_items() {
        if !items.contains_key(item.code) {
            errors.push(FieldError::new(format!("items.{}", item.code), "required: every core item must be given"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let out_of_order = asked_in_order(instrument, &scored);
    if !out_of_order.is_empty() {
        return Err(out_of_order);
    }
    let computed = instrument.total_of(&scored);
    if given_total.is_some_and(|t| t != computed) {
        return Err(vec![FieldError::new("total", format!("does not match the items, which score {computed}"))]);
    }
    Ok(Scores { items: Some(scored), total: computed })
}

/// The items answered out of the instrument's order: an item asked after an earlier
/// answer (`enable_when`) is required when that answer was given and refused when it was
/// not. On the C-SSRS screener this is its triage order: "If YES to 2, ask questions 3,
/// 4, 5, and 6. If NO to 2, go directly to question 6" (Columbia Lighthouse Project,
/// "C-SSRS Screener with Triage Points"), and item 6's "within the past 3 months" only
/// after a yes to 6. A yes to 4 after a no to 2 is not a high risk but an answer to a
/// question the screener never asks: it is refused, never scored.
pub fn asked_in_order(instrument: Instrument, answers: &BTreeMap<String, u32>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for item in instrument.items().iter().filter(|item| !item.enable_when.is_empty()) {
        let condition = item
            .enable_when
            .iter()
            .map(|when| match (instrument.item(&when.item).map(|i| i.max), when.equals) {
                (Some(1), 1) => format!("item {} is yes", when.item),
                (Some(1), 0) => format!("item {} is no", when.item),
                (_, value) => format!("item {} is {value}", when.item),
            })
            .collect::<Vec<_>>()
            .join(" and ");
        let enabled = item.enable_when.iter().all(|when| answers.get(&when.item) == Some(&when.equals));
        match (enabled, answers.contains_key(item.code)) {
            (true, false) => errors.push(FieldError::new(format!("items.{}", item.code), format!("required when {condition}"))),
            (false, true) => errors.push(FieldError::new(format!("items.{}", item.code), format!("asked only when {condition}: leave it out"))),
            _ => {}
        }
    }
    errors
}

/// A rating as a client sends it; every field optional so that a merge patch can be
/// laid over a stored rating before it is parsed again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    pub instrument: Option<String>,
    pub rated_at: Option<String>,
    pub recall: Option<String>,
    pub items: Option<BTreeMap<String, Value>>,
    pub total: Option<Value>,
    pub cgi_s: Option<Value>,
    pub cgi_i: Option<Value>,
    pub rater: Option<String>,
    pub collected_via: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rating {
    pub instrument: Instrument,
    pub rated_at: DateTime<Utc>,
    pub recall: Recall,
    #[serde(flatten)]
    pub scores: Scores,
    pub cgi_s: Option<u32>,
    pub cgi_i: Option<u32>,
    pub rater: Rater,
    pub collected_via: CollectedVia,
    pub notes: Option<String>,
}

pub const MAX_NOTES: usize = 10_000;

impl RatingInput {
    /// A patient's own answer through a link, taken `now`: `rater: self`,
    /// `collected_via: app`.
    pub fn self_reported(instrument: Instrument, recall: Recall, items: Option<BTreeMap<String, Value>>, total: Option<Value>, now: DateTime<Utc>) -> RatingInput {
        RatingInput {
            instrument: Some(instrument.code().into()),
            rated_at: Some(now.to_rfc3339()),
            recall: Some(recall.code().into()),
            items,
            total,
            rater: Some(Rater::SelfReport.code().into()),
            collected_via: Some(CollectedVia::App.code().into()),
            ..RatingInput::default()
        }
    }
}


impl RatingInput {
    /// The rating, its instrument one of `catalogue`'s (the built-in ones and the clinic's).
    pub fn parse(&self, catalogue: &Catalogue, now: DateTime<Utc>) -> Result<Rating, Vec<FieldError>> {
        let mut errors = Vec::new();
        let recall_codes = Recall::codes();
        let instrument = required(&mut errors, "instrument", &self.instrument);
        let instrument = one_of(&mut errors, "instrument", instrument, |code| catalogue.parse(code), &catalogue.codes());
        let rated_at = required(&mut errors, "rated_at", &self.rated_at)
            .and_then(|t| parse_past_instant("rated_at", t, now).map_err(|e| errors.push(e)).ok());
        let recall = required(&mut errors, "recall", &self.recall);
        let recall = one_of(&mut errors, "recall", recall, Recall::parse, &recall_codes);
        let rater = required(&mut errors, "rater", &self.rater);
        let rater = one_of(&mut errors, "rater", rater, Rater::parse, &Rater::codes());
        let via = required(&mut errors, "collected_via", &self.collected_via);
        let collected_via = one_of(&mut errors, "collected_via", via, CollectedVia::parse, &CollectedVia::codes());
        let cgi_s = bounded_int(&mut errors, "cgi_s", self.cgi_s.as_ref(), 1, 7);
        let cgi_i = bounded_int(&mut errors, "cgi_i", self.cgi_i.as_ref(), 1, 7);
        let notes = free_text(&mut errors, "notes", &self.notes, MAX_NOTES);
        let scores = instrument.and_then(|i| score(i, self.items.as_ref(), self.total.as_ref()).map_err(|e| errors.extend(e)).ok());
        match (instrument, rated_at, recall, rater, collected_via, scores) {
            (Some(instrument), Some(rated_at), Some(recall), Some(rater), Some(collected_via), Some(scores)) if errors.is_empty() => {
                Ok(Rating { instrument, rated_at, recall, scores, cgi_s, cgi_i, rater, collected_via, notes })
            }
            _ => Err(errors),
        }
    }
}

impl Rating {
    /// The client-owned fields of the rating, as a client would send them.
    pub fn to_input(&self) -> RatingInput {
        RatingInput {
            instrument: Some(self.instrument.code().into()),
            rated_at: Some(self.rated_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            recall: Some(self.recall.code().into()),
            items: self.scores.items().map(|m| m.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect()),
            // The total of an itemised rating is derived; only a paper total is the client's.
            total: if self.scores.items().is_some() { None } else { Some(Value::from(self.scores.total())) },
            cgi_s: self.cgi_s.map(Value::from),
            cgi_i: self.cgi_i.map(Value::from),
            rater: Some(self.rater.code().into()),
            collected_via: Some(self.collected_via.code().into()),
            notes: self.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    /// Every core item at `value`, and every item the answers so far ask after at `value`.
    fn all_core(instrument: Instrument, value: u32) -> BTreeMap<String, Value> {
        let mut items: BTreeMap<String, Value> = instrument.core_items().map(|i| (i.code.to_string(), json!(value))).collect();
        ask_what_follows(instrument, &mut items, value);
        items
    }

    /// Answers `value` to every item the given answers enable and that is not answered yet.
    fn ask_what_follows(instrument: Instrument, items: &mut BTreeMap<String, Value>, value: u32) {
        for item in instrument.items() {
            if !item.enable_when.is_empty() && item.enable_when.iter().all(|w| items.get(&w.item) == Some(&json!(w.equals))) {
                items.entry(item.code.to_string()).or_insert(json!(value));
            }
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_item_range_edge_of_every_instrument() {
        for instrument in Instrument::built_in() {
            for item in instrument.items() {
                let mut base = all_core(instrument, 0);
                for when in item.enable_when {
                    base.insert(when.item.to_string(), json!(when.equals));
                    ask_what_follows(instrument, &mut base, 0);
                }
                for (value, ok) in [(0i64, true), (i64::from(item.max), true), (-1, false), (i64::from(item.max) + 1, false)] {
                    base.insert(item.code.to_string(), json!(value));
                    // A yes that asks follow-up questions has them answered (an out-of-range
                    // value is refused before the order is looked at).
                    ask_what_follows(instrument, &mut base, 0);
                    let result = score(instrument, Some(&base), None);
                    assert_eq!(result.is_ok(), ok, "{instrument:?} item {} = {value}", item.code);
                    if !ok {
                        assert_eq!(fields(result.unwrap_err()), vec![format!("items.{}", item.code)]);
                    }
                }
            }
        }
    }

    #[test]
    fn a_cssrs_behaviour_needs_its_when_and_the_total_is_the_risk() {
        let mut answers = all_core(Instrument::named("cssrs_screen"), 0);
        answers.insert("6".into(), json!(1));
        assert_eq!(fields(score(Instrument::named("cssrs_screen"), Some(&answers), None).unwrap_err()), ["items.6_recent"]);
        answers.insert("6_recent".into(), json!(1));
        assert_eq!(score(Instrument::named("cssrs_screen"), Some(&answers), None).unwrap().total(), 3);
        assert!(score(Instrument::named("cssrs_screen"), Some(&answers), Some(&json!(1))).is_err(), "a total that is not the risk is refused");
        answers.insert("6".into(), json!(0));
        assert_eq!(fields(score(Instrument::named("cssrs_screen"), Some(&answers), None).unwrap_err()), ["items.6_recent"], "no 'when' without behaviour");
    }

    /// Columbia, "C-SSRS Screener with Triage Points": "If YES to 2, ask questions 3, 4,
    /// 5, and 6. If NO to 2, go directly to question 6."
    #[test]
    fn the_cssrs_screener_order_is_enforced_in_both_directions() {
        let cssrs = |pairs: &[(&str, u32)]| {
            let answers: BTreeMap<String, Value> = pairs.iter().map(|(c, v)| (c.to_string(), json!(v))).collect();
            score(Instrument::named("cssrs_screen"), Some(&answers), None)
        };
        // Yes to 2 with 3–5 left out: each is named, never scored "low".
        assert_eq!(fields(cssrs(&[("1", 1), ("2", 1), ("6", 0)]).unwrap_err()), ["items.3", "items.4", "items.5"]);
        assert_eq!(fields(cssrs(&[("1", 1), ("2", 1), ("3", 0), ("5", 0), ("6", 0)]).unwrap_err()), ["items.4"]);
        // No to 2 with a yes to 4: a question the screener never asks, refused, not "high".
        assert_eq!(fields(cssrs(&[("1", 0), ("2", 0), ("4", 1), ("6", 0)]).unwrap_err()), ["items.4"]);
        assert_eq!(fields(cssrs(&[("1", 0), ("2", 0), ("3", 0), ("4", 0), ("5", 0), ("6", 0)]).unwrap_err()), ["items.3", "items.4", "items.5"], "even a no is not asked");
        // The edges that are asked in order score as the triage says.
        assert_eq!(cssrs(&[("1", 1), ("2", 1), ("3", 0), ("4", 0), ("5", 0), ("6", 0)]).unwrap().total(), 1, "thoughts, no method: low");
        assert_eq!(cssrs(&[("1", 1), ("2", 1), ("3", 0), ("4", 1), ("5", 0), ("6", 0)]).unwrap().total(), 3, "intent: high");
        assert_eq!(cssrs(&[("1", 1), ("2", 0), ("6", 0)]).unwrap().total(), 1, "a wish to be dead only: low");
        // Never a bare total, whatever the level.
        for level in 0..=3 {
            assert_eq!(fields(score(Instrument::named("cssrs_screen"), None, Some(&json!(level))).unwrap_err()), ["items"], "bare {level}");
        }
    }

    #[test]
    fn optional_items_are_checked_but_never_counted() {
        let mut given = all_core(Instrument::named("ybocs"), 2);
        for (code, v) in [("1b", 4), ("6b", 4), ("11", 4), ("16", 4), ("17", 6), ("18", 6), ("19", 3)] {
            given.insert(code.into(), json!(v));
        }
        let scores = score(Instrument::named("ybocs"), Some(&given), None).unwrap();
        assert_eq!(scores.total(), 20);
        assert_eq!(scores.items().unwrap()["17"], 6);
        assert_eq!(scores.subscales(Instrument::named("ybocs")), [("obsessions", 10), ("compulsions", 10)]);
        assert!(score(Instrument::named("ybocs_ii"), Some(&items(&[("1b", json!(1))])), None).is_err());
    }

    #[test]
    fn totals_and_subscales() {
        let mut given = all_core(Instrument::named("ybocs_ii"), 5);
        given.insert("10".into(), json!(0));
        let scores = score(Instrument::named("ybocs_ii"), Some(&given), None).unwrap();
        assert_eq!(scores.total(), 45);
        assert_eq!(scores.subscales(Instrument::named("ybocs_ii")), [("obsessions", 25), ("compulsions", 20)]);
        let vas = score(Instrument::named("ocd_vas"), Some(&items(&[("1", json!(100))])), None).unwrap();
        assert_eq!((vas.total(), vas.subscales(Instrument::named("ocd_vas"))), (100, vec![]));
        assert_eq!(score(Instrument::named("ybocs"), Some(&all_core(Instrument::named("ybocs"), 4)), None).unwrap().total(), 40);
    }

    #[test]
    fn missing_core_items_are_named() {
        let mut given = all_core(Instrument::named("ybocs"), 1);
        given.remove("4");
        given.remove("10");
        assert_eq!(fields(score(Instrument::named("ybocs"), Some(&given), None).unwrap_err()), vec!["items.4", "items.10"]);
    }

    #[test]
    fn unknown_items_and_non_integers_are_named() {
        let mut given = all_core(Instrument::named("ybocs"), 1);
        given.insert("20".into(), json!(1));
        given.insert("3".into(), json!(2.5));
        given.insert("5".into(), json!("2"));
        let mut got = fields(score(Instrument::named("ybocs"), Some(&given), None).unwrap_err());
        got.sort();
        assert_eq!(got, vec!["items.20", "items.3", "items.5"]);
    }

    #[test]
    fn a_supplied_total_must_agree_with_the_items() {
        let given = all_core(Instrument::named("ybocs"), 2);
        assert!(score(Instrument::named("ybocs"), Some(&given), Some(&json!(20))).is_ok());
        assert_eq!(fields(score(Instrument::named("ybocs"), Some(&given), Some(&json!(21))).unwrap_err()), vec!["total"]);
    }

    #[test]
    fn a_paper_total_alone_is_range_checked() {
        assert_eq!(score(Instrument::named("ybocs"), None, Some(&json!(40))).unwrap().total(), 40);
        assert_eq!(score(Instrument::named("ybocs"), None, Some(&json!(0))).unwrap().items(), None);
        assert!(score(Instrument::named("ybocs"), None, Some(&json!(41))).is_err());
        assert!(score(Instrument::named("ybocs"), None, Some(&json!(-1))).is_err());
        assert!(score(Instrument::named("ybocs_ii"), None, Some(&json!(50))).is_ok());
        assert!(score(Instrument::named("ybocs_ii"), None, Some(&json!(51))).is_err());
        assert!(score(Instrument::named("ocd_vas"), None, Some(&json!(101))).is_err());
        assert_eq!(fields(score(Instrument::named("ybocs"), None, None).unwrap_err()), vec!["items"]);
    }

    fn full_input() -> RatingInput {
        RatingInput {
            instrument: Some("ybocs".into()),
            rated_at: Some("2026-01-05T10:00:00+01:00".into()),
            recall: Some("P24H".into()),
            items: Some(all_core(Instrument::named("ybocs"), 3)),
            cgi_i: Some(json!(2)),
            rater: Some("clinician".into()),
            collected_via: Some("interview".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_rating_parses_and_round_trips() {
        let now = Utc::now();
        let rating = full_input().parse(&Catalogue::built_in(), now).unwrap();
        assert_eq!(rating.rated_at.to_rfc3339(), "2026-01-05T09:00:00+00:00");
        assert!(rating.recall.is_short());
        assert_eq!(rating.scores.total(), 30);
        assert_eq!(rating.to_input().parse(&Catalogue::built_in(), now).unwrap(), rating);
    }

    #[test]
    fn every_rating_field_is_validated_by_name() {
        let input = RatingInput {
            instrument: Some("hamd".into()),
            rated_at: Some("yesterday".into()),
            recall: Some("P3D".into()),
            cgi_s: Some(json!(0)),
            cgi_i: Some(json!(8)),
            rater: Some("nurse".into()),
            collected_via: None,
            ..Default::default()
        };
        let mut got = fields(input.parse(&Catalogue::built_in(), Utc::now()).unwrap_err());
        got.sort();
        assert_eq!(got, vec!["cgi_i", "cgi_s", "collected_via", "instrument", "rated_at", "rater", "recall"]);
    }

    #[test]
    fn a_future_rating_is_refused() {
        let now = Utc::now();
        let mut input = full_input();
        input.rated_at = Some((now + chrono::Duration::hours(1)).to_rfc3339());
        assert_eq!(fields(input.parse(&Catalogue::built_in(), now).unwrap_err()), vec!["rated_at"]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn instrument() -> impl Strategy<Value = Instrument> {
            prop::sample::select(Instrument::built_in().collect::<Vec<_>>())
        }

        /// A valid itemised rating of any instrument, any recall, any companions.
        fn valid_input() -> impl Strategy<Value = RatingInput> {
            (instrument(), any::<u64>(), 0i64..(10 * 365 * 24 * 3600), prop::sample::select(Recall::ALL.to_vec()), prop::option::of(1u32..=7), prop::option::of(1u32..=7))
                .prop_map(|(instrument, seed, seconds_ago, recall, cgi_s, cgi_i)| {
                    let value = |i: usize, item: &crate::domain::instruments::Item| json!((seed.rotate_left(i as u32) % u64::from(item.max + 1)) as u32);
                    // Core items always, optional ones by the seed's bits, and the items the
                    // answers ask after exactly when they do (items come in asking order).
                    let mut items = BTreeMap::new();
                    for (i, item) in instrument.items().iter().enumerate() {
                        let asked = match item.enable_when {
                            [] => item.core || (seed >> (i % 64)) & 1 == 1,
                            conditions => conditions.iter().all(|when| items.get(&when.item) == Some(&json!(when.equals))),
                        };
                        if asked {
                            items.insert(item.code.to_string(), value(i, item));
                        }
                    }
                    let rated_at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc) - chrono::Duration::seconds(seconds_ago);
                    RatingInput {
                        instrument: Some(instrument.code().into()),
                        rated_at: Some(rated_at.to_rfc3339()),
                        recall: Some(recall.code().into()),
                        items: Some(items),
                        cgi_s: cgi_s.map(Value::from),
                        cgi_i: cgi_i.map(Value::from),
                        rater: Some("self".into()),
                        collected_via: Some("app".into()),
                        ..Default::default()
                    }
                })
        }

        proptest! {
            #[test]
            fn a_rating_that_parses_re_serialises_to_the_same_rating(input in valid_input()) {
                let now = Utc::now();
                let rating = input.parse(&Catalogue::built_in(), now).unwrap();
                let items = rating.scores.items().unwrap();
                let total: u32 = match rating.instrument.code() {
                    "cssrs_screen" => crate::domain::instruments::cssrs_risk(items),
                    // The check-in counts its two concerns: not safe, asks to be contacted.
                    "home_checkin" => u32::from(items["safe"] == 0) + u32::from(items["contact"] == 1),
                    _ => rating.instrument.core_items().map(|i| i.points(items[i.code])).sum(),
                };
                prop_assert_eq!(rating.scores.total(), total);
                prop_assert!(total <= rating.instrument.max_total());
                let again = rating.to_input().parse(&Catalogue::built_in(), now).unwrap();
                prop_assert_eq!(again, rating);
            }

            #[test]
            fn scoring_never_panics_and_never_accepts_out_of_range_items(
                instrument in instrument(),
                raw in prop::collection::btree_map("[0-9]{1,2}b?|[a-z]{1,3}", prop_oneof![any::<i64>().prop_map(Value::from), any::<f64>().prop_map(Value::from), "[0-9]{0,3}".prop_map(Value::from), Just(Value::Null)], 0..24),
                total in prop::option::of(any::<i64>().prop_map(Value::from)),
            ) {
                if let Ok(scores) = score(instrument, Some(&raw), total.as_ref()) {
                    prop_assert!(scores.total() <= instrument.max_total());
                    for (code, value) in scores.items().unwrap() {
                        prop_assert!(*value <= instrument.item(code).unwrap().max);
                    }
                }
            }

            #[test]
            fn recall_codes_parse_only_as_themselves(text in "\\PC{0,6}") {
                if let Some(recall) = Recall::parse(&text) {
                    prop_assert_eq!(recall.code(), text.as_str());
                }
            }
        }
    }
}
