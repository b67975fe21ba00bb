-- What each patient contributes to cohort onset analytics, per instrument, kept current
-- in the transaction of every write to the patient's sessions and ratings, so that
-- analytics read one small row per patient instead of re-deriving every series. Rebuilt
-- from the records by the server at start when empty, checked by `onset check-summaries`.
CREATE TABLE onset_summaries (
    patient_id TEXT NOT NULL REFERENCES patients (id),
    instrument text NOT NULL,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    first_infusion_at TEXT NOT NULL,
    first_drug text NOT NULL,
    first_route text NOT NULL,
    first_guidance text,
    partial_response_hours double precision,
    response_hours double precision,
    remission_hours double precision,
    last_hours double precision NOT NULL,
    acute TEXT NOT NULL,
    PRIMARY KEY (patient_id, instrument)
);
CREATE INDEX onset_summaries_by_clinic ON onset_summaries (clinic_id, instrument, patient_id);
