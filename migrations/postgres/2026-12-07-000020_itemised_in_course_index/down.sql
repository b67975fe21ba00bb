DROP INDEX assessments_by_patient;
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at, id, status, instrument, recall, total, cgi_s, cgi_i);
ALTER TABLE assessments DROP COLUMN itemised;
