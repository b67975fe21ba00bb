//! What predicts fast relief (DESIGN.md §11): a cohort's patients as a Cox model's rows.
//! Each patient is one time to the endpoint (or its censoring) and one value of each
//! covariate; categorical covariates become indicators against a reference level named in
//! the answer; the refusals say why no model is reported. Pure: the numbers come from
//! `cox`, the patients from the kept onset summaries.

use serde::Serialize;

use super::cox::{self, CoxError, CoxFit};
use super::fields::vocabulary;
use super::km::Observation;

vocabulary!(Covariate {
    DoseMgPerKg = "dose_mg_per_kg",
    CadssPeak = "cadss_peak",
    BaselineTotal = "baseline_total",
    Route = "route",
    Guidance = "guidance",
    Sex = "sex",
    AgeBand = "age_band",
});

impl Covariate {
    fn is_categorical(self) -> bool {
        matches!(self, Covariate::Route | Covariate::Guidance | Covariate::Sex | Covariate::AgeBand)
    }
}

/// Age bands of the `age_band` covariate: wide enough that each holds patients.
pub const AGE_BANDS: [(&str, u32, u32); 4] = [("18-29", 0, 29), ("30-44", 30, 44), ("45-59", 45, 59), ("60+", 60, u32::MAX)];

pub fn age_band(age: u32) -> &'static str {
    AGE_BANDS.iter().find(|(_, from, to)| (*from..=*to).contains(&age)).map_or("60+", |b| b.0)
}

/// One patient as the model reads them: the observation and every covariate's value
/// (`None` where the record lacks it: the patient is left out of a model that needs it).
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub observation: Observation,
    pub dose_mg_per_kg: Option<f64>,
    pub cadss_peak: Option<f64>,
    pub baseline_total: f64,
    pub route: &'static str,
    pub guidance: Option<&'static str>,
    pub sex: &'static str,
    pub age_band: &'static str,
}

impl Subject {
    fn number(&self, c: Covariate) -> Option<f64> {
        match c {
            Covariate::DoseMgPerKg => self.dose_mg_per_kg,
            Covariate::CadssPeak => self.cadss_peak,
            Covariate::BaselineTotal => Some(self.baseline_total),
            _ => None,
        }
    }

    fn level(&self, c: Covariate) -> Option<&'static str> {
        match c {
            Covariate::Route => Some(self.route),
            Covariate::Guidance => self.guidance,
            Covariate::Sex => Some(self.sex),
            Covariate::AgeBand => Some(self.age_band),
            _ => None,
        }
    }

    fn has(&self, c: Covariate) -> bool {
        if c.is_categorical() { self.level(c).is_some() } else { self.number(c).is_some() }
    }
}

/// A model term: a numeric covariate, or one level of a categorical one against its
/// reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermName {
    pub term: String,
    pub covariate: Covariate,
    pub level: Option<&'static str>,
}

/// A categorical covariate's levels: the reference (the commonest, ties by name) and the
/// others, each with its patients and events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Levels {
    pub covariate: Covariate,
    pub reference: &'static str,
    pub counts: Vec<LevelCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelCount {
    pub level: &'static str,
    pub n_patients: usize,
    pub n_events: usize,
}

/// The model's rows: what `cox::fit` takes, and what its columns mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub terms: Vec<TermName>,
    pub levels: Vec<Levels>,
    pub times: Vec<f64>,
    pub events: Vec<bool>,
    pub x: Vec<Vec<f64>>,
    /// Patients left out for lacking a covariate's value.
    pub excluded: usize,
}

impl Design {
    pub fn n_events(&self) -> usize {
        self.events.iter().filter(|e| **e).count()
    }
}

/// Why no model is reported, each said to the caller (422).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Peduzzi et al., J Clin Epidemiol 1996;49:1373–1379: fewer than 10 events per
    /// term make the coefficients and their tests unreliable.
    TooFewEvents { events: usize, terms: usize },
    /// A categorical level with a single level in the cohort has nothing to compare with.
    OneLevel { covariate: Covariate },
    /// Researchers' minimum cell: a level (or the cohort) with fewer patients or events.
    SmallCell { what: String, min_cell: u32 },
    Fit(CoxError),
}

impl Refusal {
    pub fn reason(&self, terms: &[TermName]) -> String {
        match self {
            Refusal::TooFewEvents { events, terms: n } => {
                format!("{events} events for {n} terms: a Cox model needs at least 10 events per term (Peduzzi 1996)")
            }
            Refusal::OneLevel { covariate } => format!("{} has one level in this cohort: nothing to compare it with", covariate.code()),
            Refusal::SmallCell { what, min_cell } => format!("{what} is below the minimum cell of {min_cell}: refused, never merged"),
            Refusal::Fit(CoxError::NoConvergence) => "the fit did not converge".to_string(),
            Refusal::Fit(CoxError::Separation { term }) => {
                format!("the data separate on {}: its hazard ratio runs off to infinity", terms.get(*term).map_or("a term", |t| t.term.as_str()))
            }
            Refusal::Fit(CoxError::Singular) => "a covariate is constant or a combination of others in this cohort".to_string(),
        }
    }
}

/// Lays out the model: the patients with every covariate's value, numeric covariates as
/// they are, each categorical one as indicators of its levels other than the reference.
pub fn design(subjects: &[Subject], covariates: &[Covariate]) -> Result<Design, Refusal> {
    let kept: Vec<&Subject> = subjects.iter().filter(|s| covariates.iter().all(|c| s.has(*c))).collect();
    let mut terms = Vec::new();
    let mut levels = Vec::new();
    for &c in covariates {
        if !c.is_categorical() {
            terms.push(TermName { term: c.code().to_string(), covariate: c, level: None });
            continue;
        }
        let mut counts: Vec<LevelCount> = Vec::new();
        for s in &kept {
            let level = s.level(c).expect("kept subjects have every covariate");
            match counts.iter_mut().find(|l| l.level == level) {
                Some(count) => {
                    count.n_patients += 1;
                    count.n_events += usize::from(s.observation.event);
                }
                None => counts.push(LevelCount { level, n_patients: 1, n_events: usize::from(s.observation.event) }),
            }
        }
        counts.sort_by(|a, b| b.n_patients.cmp(&a.n_patients).then(a.level.cmp(b.level)));
        let Some(reference) = counts.first().map(|l| l.level) else { continue };
        if counts.len() < 2 {
            return Err(Refusal::OneLevel { covariate: c });
        }
        counts[1..].sort_by_key(|l| l.level);
        for l in &counts[1..] {
            terms.push(TermName { term: format!("{}={}", c.code(), l.level), covariate: c, level: Some(l.level) });
        }
        levels.push(Levels { covariate: c, reference, counts });
    }
    let x = kept
        .iter()
        .map(|s| {
            terms
                .iter()
                .map(|t| match t.level {
                    Some(level) => f64::from(u8::from(s.level(t.covariate) == Some(level))),
                    None => s.number(t.covariate).expect("kept subjects have every covariate"),
                })
                .collect()
        })
        .collect();
    Ok(Design {
        terms,
        levels,
        times: kept.iter().map(|s| s.observation.time).collect(),
        events: kept.iter().map(|s| s.observation.event).collect(),
        x,
        excluded: subjects.len() - kept.len(),
    })
}

/// The refusals a model meets before it is fitted: the researcher's minimum cell on the
/// patients, the events and every level (DESIGN.md §11), then Peduzzi's 10 events a term.
pub fn check(design: &Design, min_cell: Option<u32>) -> Result<(), Refusal> {
    if let Some(min) = min_cell {
        let small = |n: usize| n < min as usize;
        if small(design.times.len()) || small(design.n_events()) {
            return Err(Refusal::SmallCell { what: "the cohort (its patients or events)".into(), min_cell: min });
        }
        for levels in &design.levels {
            if let Some(l) = levels.counts.iter().find(|l| small(l.n_patients) || small(l.n_events)) {
                return Err(Refusal::SmallCell { what: format!("{}={} (its patients or events)", levels.covariate.code(), l.level), min_cell: min });
            }
        }
    }
    let events = design.n_events();
    if events < 10 * design.terms.len() {
        return Err(Refusal::TooFewEvents { events, terms: design.terms.len() });
    }
    Ok(())
}

/// Checks and fits.
pub fn model(design: &Design, min_cell: Option<u32>) -> Result<CoxFit, Refusal> {
    check(design, min_cell)?;
    cox::fit(&design.times, &design.events, &design.x).map_err(Refusal::Fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(time: f64, event: bool, dose: Option<f64>, route: &'static str) -> Subject {
        Subject { observation: Observation { time, event }, dose_mg_per_kg: dose, cadss_peak: None, baseline_total: 30.0, route, guidance: Some("guided"), sex: "female", age_band: "30-44" }
    }

    #[test]
    fn categorical_levels_are_indicators_against_the_commonest() {
        let subjects = [subject(4.0, true, Some(0.5), "iv"), subject(8.0, false, Some(0.7), "im"), subject(2.0, true, None, "iv"), subject(6.0, true, Some(0.4), "iv"), subject(5.0, true, Some(0.6), "oral")];
        let d = design(&subjects, &[Covariate::DoseMgPerKg, Covariate::Route]).unwrap();
        assert_eq!(d.excluded, 1, "the patient without a dose per kg");
        let names: Vec<&str> = d.terms.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(names, ["dose_mg_per_kg", "route=im", "route=oral"]);
        assert_eq!(d.levels[0].reference, "iv");
        assert_eq!(d.x, vec![vec![0.5, 0.0, 0.0], vec![0.7, 1.0, 0.0], vec![0.4, 0.0, 0.0], vec![0.6, 0.0, 1.0]]);
        assert_eq!((d.times.clone(), d.events.clone()), (vec![4.0, 8.0, 6.0, 5.0], vec![true, false, true, true]));
        let counts: Vec<(&str, usize, usize)> = d.levels[0].counts.iter().map(|l| (l.level, l.n_patients, l.n_events)).collect();
        assert_eq!(counts, [("iv", 2, 2), ("im", 1, 0), ("oral", 1, 1)]);
    }

    #[test]
    fn refusals_name_their_reason() {
        let subjects: Vec<Subject> = (0..30).map(|i| subject(f64::from(i), i % 3 != 0, Some(0.5), if i < 25 { "iv" } else { "im" })).collect();
        let d = design(&subjects, &[Covariate::DoseMgPerKg, Covariate::Route]).unwrap();
        // 20 events, 2 terms: exactly 10 a term passes Peduzzi; 3 terms would not.
        assert_eq!(d.n_events(), 20);
        assert_eq!(check(&d, None), Ok(()));
        let three = design(&subjects, &[Covariate::DoseMgPerKg, Covariate::Route, Covariate::BaselineTotal]).unwrap();
        assert_eq!(check(&three, None), Err(Refusal::TooFewEvents { events: 20, terms: 3 }));
        // The im level holds 5 patients: below a minimum cell of 10 it is refused.
        let refused = check(&d, Some(10)).unwrap_err();
        assert_eq!(refused, Refusal::SmallCell { what: "route=im (its patients or events)".into(), min_cell: 10 });
        assert!(refused.reason(&d.terms).contains("never merged"));
        let one = design(&subjects[..20], &[Covariate::Route]).unwrap_err();
        assert_eq!(one, Refusal::OneLevel { covariate: Covariate::Route });
        // A constant dose cannot be estimated.
        assert_eq!(model(&d, None).unwrap_err(), Refusal::Fit(CoxError::Singular));
    }

    #[test]
    fn age_bands_at_their_edges() {
        for (age, band) in [(18, "18-29"), (29, "18-29"), (30, "30-44"), (44, "30-44"), (45, "45-59"), (59, "45-59"), (60, "60+"), (90, "60+")] {
            assert_eq!(age_band(age), band, "{age}");
        }
    }
}
