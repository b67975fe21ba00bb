DROP INDEX assessments_by_patient;
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at, id, status, instrument, recall, total, cgi_s, cgi_i, itemised);
CREATE INDEX assessments_by_clinic_patient ON assessments (clinic_id, patient_id, status, rated_at, instrument, recall, total, cgi_i, id);
DROP TABLE series_folds;
