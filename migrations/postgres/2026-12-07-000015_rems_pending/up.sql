-- Whether a session's REMS form is still to submit, as a column: the pending list and the
-- scheduler's overdue check filter it in SQL. Before, they filtered the JSON after a
-- LIMIT, so 500 submitted sessions could hide an unsubmitted one from every clinic.
ALTER TABLE infusions ADD COLUMN rems_pending boolean NOT NULL DEFAULT false;
UPDATE infusions SET rems_pending = true
WHERE drug = 'esketamine' AND route = 'intranasal' AND status = 'active' AND (rems IS NULL OR rems->>'submitted_at' IS NULL);
CREATE INDEX infusions_rems_pending ON infusions (clinic_id, started_at, id) WHERE rems_pending;
CREATE INDEX infusions_rems_overdue ON infusions (started_at, id) WHERE rems_pending;
