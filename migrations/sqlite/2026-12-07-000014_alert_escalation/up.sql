-- An amendment that raises a rating's risk raises a new alert at the new level, beside
-- the old one (DESIGN.md §6): one alert per cause, kind and level. SQLite cannot drop a
-- table constraint, so the table is made again with the new one.
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
