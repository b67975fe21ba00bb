-- Self-guided journeys at home (DESIGN.md §10): dose plans, single-use dose links, the
-- patient's pre-dose checks, sessions the patient records, and reminders at a window's
-- midpoint.

CREATE TABLE home_plans (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    drug text NOT NULL,
    route text NOT NULL,
    dose_mg REAL NOT NULL,
    doses_allowed integer NOT NULL,
    min_interval text NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    systolic_max integer NOT NULL,
    diastolic_max integer NOT NULL,
    heart_rate_max integer NOT NULL,
    monitor_required BOOLEAN NOT NULL,
    protocol_id TEXT REFERENCES protocols (id),
    notes text,
    status text NOT NULL,
    version integer NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    updated_by TEXT NOT NULL REFERENCES users (id)
);
CREATE INDEX home_plans_by_patient ON home_plans (clinic_id, patient_id, id);

-- Who recorded a session, and the plan a home dose was taken under: its count and
-- interval are read from these rows, so a dose entered in error stops counting.
ALTER TABLE infusions ADD COLUMN recorded_by text NOT NULL DEFAULT 'staff';
ALTER TABLE infusions ADD COLUMN home_plan_id TEXT REFERENCES home_plans (id);
CREATE INDEX infusions_by_home_plan ON infusions (home_plan_id, status, started_at) WHERE home_plan_id IS NOT NULL;

-- A dose link: one dose, the token kept only as its SHA-256.
CREATE TABLE dose_links (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    plan_id TEXT NOT NULL REFERENCES home_plans (id),
    token_hash text NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    used_at TEXT,
    infusion_id TEXT REFERENCES infusions (id)
);
CREATE INDEX dose_links_by_plan ON dose_links (plan_id);

-- Every pre-dose check a link received, go or no-go.
CREATE TABLE dose_checks (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    link_id TEXT NOT NULL REFERENCES dose_links (id),
    plan_id TEXT NOT NULL REFERENCES home_plans (id),
    checked_at TEXT NOT NULL,
    systolic integer NOT NULL,
    diastolic integer NOT NULL,
    heart_rate integer NOT NULL,
    monitor_present BOOLEAN NOT NULL,
    go BOOLEAN NOT NULL,
    reason text,
    vas_assessment_id TEXT REFERENCES assessments (id)
);
CREATE INDEX dose_checks_by_link ON dose_checks (link_id, checked_at);
CREATE INDEX dose_checks_by_plan ON dose_checks (plan_id, checked_at);

-- What a patient sees on a no-go, until the clinic sets its own.
ALTER TABLE clinics ADD COLUMN home_dose_advice text;

-- When an open due rating is reminded of (its window's midpoint); null once reminded.
ALTER TABLE due_ratings ADD COLUMN remind_at TEXT;
UPDATE due_ratings
SET remind_at = substr(strftime('%Y-%m-%dT%H:%M:%f', (julianday(opens_at) + julianday(closes_at)) / 2), 1, 23) || '000Z'
WHERE status IN ('scheduled', 'open');
CREATE INDEX due_ratings_to_remind ON due_ratings (status, remind_at) WHERE remind_at IS NOT NULL;

-- Plans keep their history like every clinical record (SQLite changes a CHECK only by
-- rebuilding the table).
CREATE TABLE revisions_new (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    entity text NOT NULL CHECK (entity IN ('infusion', 'assessment', 'patient', 'protocol', 'home_plan')),
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

-- Two new kinds of alert: a pre-dose check blocked by the patient's vitals, and a
-- check-in after a home dose that needs the clinic (SQLite rebuilds for a CHECK).
CREATE TABLE alerts_new (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    kind text NOT NULL CHECK (kind IN ('suicidality', 'worsening', 'relapse', 'rems_overdue', 'home_dose_blocked', 'home_dose_concern')),
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
