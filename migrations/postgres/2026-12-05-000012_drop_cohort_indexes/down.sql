CREATE INDEX infusions_for_cohorts ON infusions (clinic_id, status, patient_id, started_at, drug, route, guidance);
CREATE INDEX assessments_for_cohorts ON assessments (clinic_id, instrument, status, patient_id, rated_at, recall, total, cgi_i, id);
