DROP INDEX infusions_rems_overdue;
DROP INDEX infusions_rems_pending;
ALTER TABLE infusions DROP COLUMN rems_pending;
