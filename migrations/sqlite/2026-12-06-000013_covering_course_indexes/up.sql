-- Every write of a session or a rating reads the patient's course (their active sessions
-- and ratings, in time order) for its reactions. With these two indexes holding every
-- column that read takes, in its order, it reads the index alone: before, each of a demo
-- patient's 25 ratings was a second B-tree search of the table, then a sort by id.
DROP INDEX infusions_by_patient;
DROP INDEX assessments_by_patient;
CREATE INDEX infusions_by_patient ON infusions (patient_id, started_at, id, status, drug, route, guidance);
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at, id, status, instrument, recall, total, cgi_s, cgi_i);
