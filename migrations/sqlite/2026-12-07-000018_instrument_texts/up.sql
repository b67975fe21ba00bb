-- A clinic's licensed wording for an instrument (DESIGN.md §8), every version kept: the
-- newest is what its patients see. Visible to that clinic only, never exported.
CREATE TABLE instrument_texts (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    instrument TEXT NOT NULL,
    definition_version INTEGER NOT NULL,
    text_version INTEGER NOT NULL,
    wording TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    UNIQUE (clinic_id, instrument, text_version)
);

-- Every rating keeps the definition version it was taken under, and a self-report the
-- version of the wording its patient saw.
ALTER TABLE assessments ADD COLUMN instrument_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE assessments ADD COLUMN text_version INTEGER;
