-- The audit log is append-only in the database itself, not by convention: whoever holds
-- a connection cannot rewrite or erase it. (SQLite has no TRUNCATE; a DELETE without
-- WHERE fires the trigger like any other.)
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
