//! The research export in REDCap's shape: a data dictionary (the 18 columns of REDCap's
//! "Data Dictionary" CSV, headers exactly as REDCap writes them) and flat records, one
//! non-repeating `subject` form per pseudonymous subject and one repeating `rating`
//! form instance per rating.
//!
//! Both are derived from the research export's own column definitions, so the REDCap
//! project, the codebook and the CSV/NDJSON exports cannot drift apart. Nothing here
//! identifies anyone: `record_id` is the export's subject id and no field is a date.

use super::export::{Cell, ColumnDoc, RATING_COLUMNS, RatingRow, Subject};

/// REDCap's data dictionary headers, in REDCap's order (Project Setup → Data Dictionary
/// → "Download the current Data Dictionary").
pub const DICTIONARY_HEADERS: [&str; 18] = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
];

pub const RECORD_ID: &str = "record_id";
pub const SUBJECT_FORM: &str = "subject";
/// The repeating instrument: enable it as repeating in the project before importing.
pub const RATING_FORM: &str = "rating";
/// REDCap's own columns of a flat import with repeating instruments.
pub const SYSTEM_COLUMNS: [&str; 2] = ["redcap_repeat_instrument", "redcap_repeat_instance"];

/// The research columns that describe the subject rather than the rating: they go on
/// the non-repeating form, once per record.
const SUBJECT_FIELDS: [&str; 3] = ["age_at_first_infusion", "sex", "diagnosis"];

fn on_subject_form(name: &str) -> bool {
    SUBJECT_FIELDS.contains(&name)
}

/// The export columns of the rating form, in the export's order.
fn rating_fields() -> impl Iterator<Item = &'static str> {
    RATING_COLUMNS.iter().map(|c| c.name).filter(|n| *n != "subject_id" && !on_subject_form(n))
}

/// The records CSV's header: REDCap's record id and repeat columns, then every field.
pub fn record_columns() -> Vec<&'static str> {
    let mut columns = vec![RECORD_ID];
    columns.extend(SYSTEM_COLUMNS);
    columns.extend(SUBJECT_FIELDS);
    columns.extend(rating_fields());
    columns
}

/// A coded value REDCap accepts for a dropdown: letters, digits and underscores.
fn is_choice_code(code: &str) -> bool {
    !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One data dictionary row, in `DICTIONARY_HEADERS` order.
fn dictionary_row(doc: &ColumnDoc, form: &str) -> Vec<String> {
    let mut row = vec![String::new(); DICTIONARY_HEADERS.len()];
    let label = doc.name.replace('_', " ");
    let mut label = label[..1].to_uppercase() + &label[1..];
    if let Some(unit) = doc.unit {
        label.push_str(&format!(" ({unit})"));
    }
    let (field_type, choices, validation) = match (doc.kind, &doc.allowed_values) {
        ("boolean", _) => ("yesno", String::new(), ""),
        ("integer", _) => ("text", String::new(), "integer"),
        ("number", _) => ("text", String::new(), "number"),
        (_, Some(codes)) if codes.iter().all(|c| is_choice_code(c)) => {
            ("dropdown", codes.iter().map(|c| format!("{c}, {c}")).collect::<Vec<_>>().join(" | "), "")
        }
        _ => ("text", String::new(), ""),
    };
    row[0] = doc.name.to_string();
    row[1] = form.to_string();
    row[3] = field_type.to_string();
    row[4] = label;
    row[5] = choices;
    row[6] = doc.description.to_string();
    row[7] = validation.to_string();
    row
}

/// The data dictionary: `record_id` first (REDCap requires it), the subject form, then
/// the repeating rating form. `instruments` are the codes the clinic's ratings may name
/// (the built-in ones and its own), the choices of the `instrument` dropdown.
pub fn dictionary(instruments: &[&'static str]) -> Vec<Vec<String>> {
    let record_id = ColumnDoc {
        name: RECORD_ID,
        kind: "string",
        unit: None,
        allowed_values: None,
        description: "Pseudonymous subject: lowercase hex HMAC-SHA256 of the patient id under the export key (the export's subject_id).",
    };
    let mut docs: Vec<ColumnDoc> = RATING_COLUMNS.iter().map(|c| c.doc()).collect();
    for doc in docs.iter_mut().filter(|d| d.name == "instrument") {
        doc.allowed_values = Some(instruments.to_vec());
    }
    let mut rows = vec![dictionary_row(&record_id, SUBJECT_FORM)];
    rows.extend(docs.iter().filter(|d| on_subject_form(d.name)).map(|d| dictionary_row(d, SUBJECT_FORM)));
    rows.extend(docs.iter().filter(|d| d.name != "subject_id" && !on_subject_form(d.name)).map(|d| dictionary_row(d, RATING_FORM)));
    rows
}

/// A cell as REDCap imports it: yes/no fields as 1/0, absent values empty.
fn redcap_value(cell: &Cell) -> String {
    match cell {
        Cell::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.to_csv(),
    }
}

fn value_of(row: &RatingRow, name: &str) -> String {
    RATING_COLUMNS.iter().find(|c| c.name == name).map_or(String::new(), |c| redcap_value(&(c.value)(row)))
}

/// The subject's row: the non-repeating form's fields (`SUBJECT_FIELDS`, in order),
/// nothing of the rating form.
pub fn subject_record(subject: &Subject) -> Vec<String> {
    let mut out = vec![subject.subject_id.clone(), String::new(), String::new()];
    out.push(subject.age_at_first_infusion.map_or(String::new(), |a| a.to_string()));
    out.push(subject.sex.code().to_string());
    out.push(subject.diagnosis.clone());
    out.extend(rating_fields().map(|_| String::new()));
    out
}

/// A rating's row: the `instance`-th instance of the repeating rating form.
pub fn rating_record(row: &RatingRow, instance: u32) -> Vec<String> {
    let mut out = vec![row.subject.subject_id.clone(), RATING_FORM.to_string(), instance.to_string()];
    out.extend(SUBJECT_FIELDS.iter().map(|_| String::new()));
    out.extend(rating_fields().map(|f| value_of(row, f)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILT_IN: [&str; 2] = ["ybocs", "x_wellbeing"];

    #[test]
    fn the_instrument_is_a_dropdown_of_the_clinics_instruments() {
        let rows = dictionary(&BUILT_IN);
        let instrument = rows.iter().find(|r| r[0] == "instrument").unwrap();
        assert_eq!((instrument[3].as_str(), instrument[5].as_str()), ("dropdown", "ybocs, ybocs | x_wellbeing, x_wellbeing"));
    }

    #[test]
    fn the_dictionary_has_redcaps_eighteen_columns_and_every_record_column() {
        let rows = dictionary(&BUILT_IN);
        assert!(rows.iter().all(|r| r.len() == 18));
        assert_eq!(rows[0][0], RECORD_ID);
        let fields: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        let columns = record_columns();
        for column in &columns {
            assert!(fields.contains(column) || SYSTEM_COLUMNS.contains(column), "{column}");
        }
        assert_eq!(fields.len() + SYSTEM_COLUMNS.len(), columns.len());
        // REDCap variable names: lowercase letters, digits and underscores, a letter first.
        for name in fields {
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
        }
    }

    #[test]
    fn fields_take_redcaps_types() {
        let rows = dictionary(&BUILT_IN);
        let row = |name: &str| rows.iter().find(|r| r[0] == name).unwrap().clone();
        assert_eq!((row("total")[3].as_str(), row("total")[7].as_str()), ("text", "integer"));
        assert_eq!((row("percent_change")[3].as_str(), row("percent_change")[7].as_str()), ("text", "number"));
        assert_eq!(row("remission")[3], "yesno");
        assert_eq!(row("sex")[3], "dropdown");
        assert_eq!(row("sex")[5], "female, female | male, male | other, other | unknown, unknown");
        assert_eq!(row("sex")[1], SUBJECT_FORM);
        assert_eq!(row("total")[1], RATING_FORM);
        // A code REDCap would refuse as a choice keeps the field as text.
        assert_eq!(row("definition_set")[3], "text");
        assert!(rows.iter().all(|r| r[10].is_empty()), "no field is an identifier");
        assert!(rows.iter().all(|r| !r[7].starts_with("date")), "no field is a date");
    }

    #[test]
    fn yes_no_is_one_or_zero() {
        assert_eq!(redcap_value(&Cell::Bool(true)), "1");
        assert_eq!(redcap_value(&Cell::Bool(false)), "0");
        assert_eq!(redcap_value(&Cell::Null), "");
        assert_eq!(redcap_value(&Cell::Num(-12.5)), "-12.5");
    }
}
