DROP INDEX infusions_by_patient;
DROP INDEX assessments_by_patient;
CREATE INDEX infusions_by_patient ON infusions (patient_id, started_at);
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at);
