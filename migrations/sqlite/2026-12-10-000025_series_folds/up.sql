-- The fold of each judged series of a patient (domain::trajectory::SeriesFold): what its
-- rules read of the ratings so far (the baseline, the runs towards confirmation and
-- relapse, the first meetings, the acute sums). A rating later than every other of its
-- series is judged from it alone, so a write's cost no longer grows with the patient's
-- history. Derived data: filled at start-up (rebuild) and proved by `onset check-summaries`.
CREATE TABLE series_folds (
    patient_id TEXT NOT NULL REFERENCES patients (id),
    instrument TEXT NOT NULL,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    fold TEXT NOT NULL,
    PRIMARY KEY (patient_id, instrument)
);
-- Every read of a patient's ratings filters on the clinic too: with clinic_id in the
-- course index that read takes its ratings from the index alone, and one index fewer is
-- one fewer to write at every rating.
DROP INDEX assessments_by_clinic_patient;
DROP INDEX assessments_by_patient;
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at, id, clinic_id, status, instrument, recall, total, cgi_s, cgi_i, itemised);
