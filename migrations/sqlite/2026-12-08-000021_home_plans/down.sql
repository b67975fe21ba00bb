
DELETE FROM alerts WHERE kind IN ('home_dose_blocked', 'home_dose_concern');
CREATE TABLE alerts_new (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    kind text NOT NULL CHECK (kind IN ('suicidality', 'worsening', 'relapse', 'rems_overdue')),
    level text NOT NULL CHECK (level IN ('moderate', 'high')),
    cause_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'acknowledged')),
    raised_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT REFERENCES users (id),
    note text,
    UNIQUE (kind, cause_id, level)
);
INSERT INTO alerts_new SELECT id, clinic_id, patient_id, kind, level, cause_id, detail, status, raised_at, acknowledged_at, acknowledged_by, note FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE INDEX alerts_by_clinic ON alerts (clinic_id, id);
CREATE INDEX alerts_by_patient ON alerts (patient_id, id);
DELETE FROM revisions WHERE entity = 'home_plan';
CREATE TABLE revisions_new (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    entity text NOT NULL CHECK (entity IN ('infusion', 'assessment', 'patient', 'protocol')),
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
DROP INDEX due_ratings_to_remind;
ALTER TABLE due_ratings DROP COLUMN remind_at;
ALTER TABLE clinics DROP COLUMN home_dose_advice;
DROP TABLE dose_checks;
DROP TABLE dose_links;
DROP INDEX infusions_by_home_plan;
ALTER TABLE infusions DROP COLUMN home_plan_id;
ALTER TABLE infusions DROP COLUMN recorded_by;
DROP TABLE home_plans;
