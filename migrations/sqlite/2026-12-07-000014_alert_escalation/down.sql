CREATE TABLE alerts_old (
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
    UNIQUE (kind, cause_id)
);
-- The highest level of each cause is kept.
INSERT INTO alerts_old SELECT id, clinic_id, patient_id, kind, level, cause_id, detail, status, raised_at, acknowledged_at, acknowledged_by, note
FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM alerts b WHERE b.kind = a.kind AND b.cause_id = a.cause_id AND b.level = 'high' AND a.level = 'moderate');
DROP TABLE alerts;
ALTER TABLE alerts_old RENAME TO alerts;
CREATE INDEX alerts_by_clinic ON alerts (clinic_id, id);
CREATE INDEX alerts_by_patient ON alerts (patient_id, id);
