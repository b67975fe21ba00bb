-- Whether a rating's items were given, as a column the course index covers: the course
-- read (every write) needs it for `item_9_unknown`, and reading `items IS NOT NULL` went
-- to the table for every rating, undoing the covering index of migration 000013.
ALTER TABLE assessments ADD COLUMN itemised boolean NOT NULL DEFAULT true;
UPDATE assessments SET itemised = false WHERE items IS NULL;
DROP INDEX assessments_by_patient;
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at, id, status, instrument, recall, total, cgi_s, cgi_i, itemised);
