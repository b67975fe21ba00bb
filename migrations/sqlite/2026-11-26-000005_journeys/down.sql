DROP TABLE invitations;
DROP TABLE due_ratings;
DROP TABLE protocol_attachments;
DROP TABLE protocols;
DELETE FROM revisions WHERE entity = 'protocol';
CREATE TABLE revisions_old (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    entity text NOT NULL CHECK (entity IN ('infusion', 'assessment', 'patient')),
    entity_id TEXT NOT NULL,
    version integer NOT NULL,
    snapshot TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL REFERENCES users (id),
    reason text,
    UNIQUE (entity, entity_id, version)
);
INSERT INTO revisions_old SELECT id, clinic_id, entity, entity_id, version, snapshot, changed_at, changed_by, reason FROM revisions;
DROP TABLE revisions;
ALTER TABLE revisions_old RENAME TO revisions;
DROP INDEX idempotency_keys_by_age;
DROP INDEX refresh_tokens_by_expiry;
