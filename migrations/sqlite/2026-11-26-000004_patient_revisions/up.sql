-- Patients keep their history like every clinical record: the CHECK admits 'patient'
-- (SQLite changes a CHECK only by rebuilding the table), and each existing patient's
-- current state becomes its first kept version.
CREATE TABLE revisions_new (
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
INSERT INTO revisions_new SELECT id, clinic_id, entity, entity_id, version, snapshot, changed_at, changed_by, reason FROM revisions;
DROP TABLE revisions;
ALTER TABLE revisions_new RENAME TO revisions;

INSERT INTO revisions (id, clinic_id, entity, entity_id, version, snapshot, changed_at, changed_by, reason)
SELECT
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6))),
    clinic_id, 'patient', id, version,
    json_object(
        'id', id, 'external_id', external_id, 'display_name', display_name, 'birth_date', birth_date,
        'sex', sex, 'diagnosis', diagnosis, 'research_consent', json(CASE WHEN research_consent THEN 'true' ELSE 'false' END),
        'research_consent_changed_at', coalesce(research_consent_changed_at, created_at),
        'version', version, 'created_at', created_at, 'updated_at', updated_at
    ),
    updated_at, updated_by, NULL
FROM patients;
