//! Validation and scoring throughput: 10,000 ratings of each instrument parsed from a
//! client's JSON (every field checked, the answers validated against the definition, the
//! order of asking enforced, the total and part scores computed). Figures, never
//! assertions.
//!
//!     cargo bench --bench scoring

use std::time::Instant;

use onset::domain::definitions::clinic_definition;
use onset::domain::instruments::{Catalogue, Instrument};
use onset::domain::scoring::RatingInput;
use serde_json::{Value, json};

const RATINGS: usize = 10_000;

/// A valid rating of `instrument`: each asked item answered `(i + n) % (max + 1)` within
/// its range, follow-ups answered where an earlier yes asks them.
fn input(instrument: Instrument, n: usize) -> RatingInput {
    let mut items = serde_json::Map::new();
    for (i, item) in instrument.items().iter().enumerate().filter(|(_, item)| item.core && item.enable_when.is_empty()) {
        let span = (item.max - item.min + 1) as usize;
        items.insert(item.code.to_string(), json!(item.min as usize + (i + n) % span));
    }
    for item in instrument.items().iter().filter(|item| !item.enable_when.is_empty()) {
        if item.enable_when.iter().all(|w| items.get(&w.item) == Some(&json!(w.equals))) {
            items.insert(item.code.to_string(), json!(0));
        }
    }
    let recall = instrument.definition().recall_default.clone();
    RatingInput {
        instrument: Some(instrument.code().into()),
        rated_at: Some("2026-03-02T09:00:00Z".into()),
        recall: Some(recall),
        items: Some(items.into_iter().collect()),
        rater: Some("self".into()),
        collected_via: Some("app".into()),
        ..RatingInput::default()
    }
}

fn clinic_scale() -> Instrument {
    let items: Vec<Value> = (0..20).map(|i| json!({"code": format!("q{i}"), "short_label": "q", "text": "q", "type": "choice", "min": 1, "max": 7,
        "options": (1..=7).map(|v| json!({"value": v, "label": "l"})).collect::<Vec<_>>(), "reverse": i % 3 == 0})).collect();
    let body = json!({"code": "x_bench", "title": "Bench", "name": "Bench", "rater": "self", "recall_default": "NOW", "recalls": ["NOW"],
        "self_reportable": true, "text_source": "bundled", "items": items, "scoring": "mean", "bands": [],
        "outcomes": {"rules": "definition", "direction": "higher_is_worse", "response": {"kind": "percent", "threshold": 50}}});
    Instrument::of_clinic(uuid::Uuid::nil(), clinic_definition(body, None).expect("a valid definition"))
}

fn main() {
    let own = clinic_scale();
    let catalogue = Catalogue::with_clinic([own]);
    let now = chrono::Utc::now();
    println!("{:<14} {:>6} {:>10} {:>14}", "instrument", "items", "ms", "ratings/s");
    for instrument in catalogue.iter() {
        let inputs: Vec<RatingInput> = (0..RATINGS).map(|n| input(instrument, n)).collect();
        let started = Instant::now();
        let mut total = 0u64;
        for rating in &inputs {
            total += u64::from(rating.parse(&catalogue, now).expect("valid").scores.total());
        }
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(total);
        println!("{:<14} {:>6} {:>10.1} {:>14.0}", instrument.code(), instrument.items().len(), seconds * 1e3, RATINGS as f64 / seconds);
    }
}
