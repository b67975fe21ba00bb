CREATE TABLE onset_summaries_by_rowid (
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
    baseline_total integer NOT NULL DEFAULT 0,
    first_dose_mg_per_kg double precision,
    first_cadss_total integer,
    loss_of_response_hours double precision,
    loss_of_response_event boolean,
    relapse_hours double precision,
    relapse_event boolean,
    PRIMARY KEY (patient_id, instrument)
);
INSERT INTO onset_summaries_by_rowid (patient_id, instrument, clinic_id, first_infusion_at, first_drug, first_route, first_guidance, partial_response_hours, response_hours, remission_hours, last_hours, acute, baseline_total, first_dose_mg_per_kg, first_cadss_total, loss_of_response_hours, loss_of_response_event, relapse_hours, relapse_event) SELECT patient_id, instrument, clinic_id, first_infusion_at, first_drug, first_route, first_guidance, partial_response_hours, response_hours, remission_hours, last_hours, acute, baseline_total, first_dose_mg_per_kg, first_cadss_total, loss_of_response_hours, loss_of_response_event, relapse_hours, relapse_event FROM onset_summaries;
DROP TABLE onset_summaries;
ALTER TABLE onset_summaries_by_rowid RENAME TO onset_summaries;
CREATE INDEX onset_summaries_by_clinic ON onset_summaries (clinic_id, instrument, patient_id);
