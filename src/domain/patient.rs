//! Patients: the identifying record a clinic keeps; never part of a research export.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::FieldError;
use super::fields::{one_of, required, vocabulary};

vocabulary!(Sex { Female = "female", Male = "male", Other = "other", Unknown = "unknown" });

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub diagnosis: Option<String>,
    pub research_consent: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientFields {
    pub external_id: Option<String>,
    pub display_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub diagnosis: String,
    pub research_consent: bool,
}

/// An ICD-10 code: a letter, two characters, and an optional extension (F42, F42.2, F42.21).
pub fn is_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    let head = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase());
    let tail = match &b[3.min(b.len())..] {
        [] => true,
        [b'.', rest @ ..] => (1..=4).contains(&rest.len()) && rest.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        _ => false,
    };
    head && tail
}

fn trimmed_text(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let text = value?.trim();
    if text.is_empty() || text.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be 1 to {max} characters")));
        return None;
    }
    Some(text.to_string())
}

impl PatientInput {
    pub fn parse(&self, today: NaiveDate) -> Result<PatientFields, Vec<FieldError>> {
        let mut e = Vec::new();
        let display_name = required(&mut e, "display_name", &self.display_name);
        let display_name = trimmed_text(&mut e, "display_name", display_name, 200);
        let external_id = trimmed_text(&mut e, "external_id", self.external_id.as_deref(), 100);
        let birth_date = required(&mut e, "birth_date", &self.birth_date).and_then(|d| {
            match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(date) if date > today => {
                    e.push(FieldError::new("birth_date", "must not be in the future"));
                    None
                }
                Ok(date) if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid") => {
                    e.push(FieldError::new("birth_date", "must be after 1900"));
                    None
                }
                Ok(date) => Some(date),
                Err(_) => {
                    e.push(FieldError::new("birth_date", "must be a date, YYYY-MM-DD"));
                    None
                }
            }
        });
        let sex = required(&mut e, "sex", &self.sex);
        let sex = one_of(&mut e, "sex", sex, Sex::parse, &Sex::codes());
        let diagnosis = required(&mut e, "diagnosis", &self.diagnosis).and_then(|d| {
            let code = d.trim().to_ascii_uppercase();
            if is_icd10(&code) {
                Some(code)
            } else {
                e.push(FieldError::new("diagnosis", "must be an ICD-10 code such as F42.2"));
                None
            }
        });
        match (display_name, birth_date, sex, diagnosis) {
            (Some(display_name), Some(birth_date), Some(sex), Some(diagnosis)) if e.is_empty() => Ok(PatientFields {
                external_id,
                display_name,
                birth_date,
                sex,
                diagnosis,
                research_consent: self.research_consent.unwrap_or(false),
            }),
            _ => Err(e),
        }
    }
}

impl PatientFields {
    /// The names of the fields that differ in `other`, in a fixed order.
    pub fn changed_fields(&self, other: &PatientFields) -> Vec<&'static str> {
        [
            ("external_id", self.external_id != other.external_id),
            ("display_name", self.display_name != other.display_name),
            ("birth_date", self.birth_date != other.birth_date),
            ("sex", self.sex != other.sex),
            ("diagnosis", self.diagnosis != other.diagnosis),
            ("research_consent", self.research_consent != other.research_consent),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }

    pub fn to_input(&self) -> PatientInput {
        PatientInput {
            external_id: self.external_id.clone(),
            display_name: Some(self.display_name.clone()),
            birth_date: Some(self.birth_date.format("%Y-%m-%d").to_string()),
            sex: Some(self.sex.code().into()),
            diagnosis: Some(self.diagnosis.clone()),
            research_consent: Some(self.research_consent),
        }
    }
}

/// Today's date in UTC, the reference for "not in the future".
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn input() -> PatientInput {
        PatientInput {
            external_id: Some(" MRN-1 ".into()),
            display_name: Some("A. Patient".into()),
            birth_date: Some("1990-04-02".into()),
            sex: Some("female".into()),
            diagnosis: Some("f42.2".into()),
            research_consent: None,
        }
    }

    #[test]
    fn a_patient_parses_and_normalises() {
        let p = input().parse(today()).unwrap();
        assert_eq!(p.external_id.as_deref(), Some("MRN-1"));
        assert_eq!(p.diagnosis, "F42.2");
        assert!(!p.research_consent, "consent is never assumed");
        assert_eq!(p.to_input().parse(today()).unwrap(), p);
    }

    #[test]
    fn icd10_codes() {
        for ok in ["F42", "F42.2", "F42.21", "C4A", "Z00.0000"] {
            assert!(is_icd10(ok), "{ok}");
        }
        for bad in ["", "F4", "42.2", "F42.", "F42.22222", "F42-2", "f42"] {
            assert!(!is_icd10(bad), "{bad}");
        }
    }

    #[test]
    fn every_field_is_validated_by_name() {
        let bad = PatientInput {
            external_id: Some("  ".into()),
            display_name: Some("".into()),
            birth_date: Some("2026-06-02".into()),
            sex: Some("f".into()),
            diagnosis: Some("OCD".into()),
            research_consent: Some(true),
        };
        let mut fields: Vec<String> = bad.parse(today()).unwrap_err().into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(fields, vec!["birth_date", "diagnosis", "display_name", "external_id", "sex"]);
        let missing: Vec<String> = PatientInput::default().parse(today()).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(missing, vec!["display_name", "birth_date", "sex", "diagnosis"]);
    }
}
