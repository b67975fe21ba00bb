-- Safety alerts, raised once per cause (the rating or session that caused them), and the
-- clinic's crisis text shown to a patient whose answer raised one.
CREATE TABLE alerts (
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
CREATE INDEX alerts_by_clinic ON alerts (clinic_id, id);
CREATE INDEX alerts_by_patient ON alerts (patient_id, id);

ALTER TABLE clinics ADD COLUMN crisis_text text;
