-- A random number each write of a patient's record draws anew (store::summaries::Course::lock,
-- which every such write takes first, in its transaction): a trajectory rendered when the
-- stamp read N is still the patient's while the stamp reads N (api::renderings). A constant
-- default: PostgreSQL adds the column without rewriting the table.
ALTER TABLE patients ADD COLUMN course_stamp BIGINT NOT NULL DEFAULT 0;
