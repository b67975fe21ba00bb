-- The onset schema. migrations/postgres holds the same tables; keep the two in step.
CREATE TABLE clinics (
    id TEXT PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    email text NOT NULL UNIQUE, -- stored lower-cased
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'clinician', 'researcher')),
    password_hash text NOT NULL,
    active INTEGER NOT NULL,
    version integer NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX users_by_clinic ON users (clinic_id, id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash text NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    clinic_id TEXT REFERENCES clinics (id),
    actor_id TEXT,
    actor_email text,
    action text NOT NULL,
    entity text NOT NULL,
    entity_id TEXT,
    detail TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX audit_events_by_clinic ON audit_events (clinic_id, id);

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    key text NOT NULL,
    fingerprint text NOT NULL,
    status integer NOT NULL,
    body TEXT NOT NULL,
    etag text,
    location text,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    external_id text,
    display_name text NOT NULL,
    birth_date TEXT NOT NULL,
    sex text NOT NULL,
    diagnosis text NOT NULL,
    research_consent INTEGER NOT NULL,
    version integer NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    updated_by TEXT NOT NULL REFERENCES users (id),
    UNIQUE (clinic_id, external_id)
);
-- Covering for cohorts and exports (demographics only), and ordered for lists.
CREATE INDEX patients_by_clinic ON patients (clinic_id, id, birth_date, sex, diagnosis, research_consent);

CREATE TABLE infusions (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    drug text NOT NULL,
    route text NOT NULL,
    guidance text,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    discharged_at TEXT,
    dose_mg REAL NOT NULL,
    weight_kg REAL,
    dose_mg_per_kg REAL,
    series_number integer NOT NULL,
    lot_number text,
    vitals TEXT NOT NULL,
    cadss_total integer,
    moaas integer,
    adverse_event_codes TEXT NOT NULL,
    adverse_event_notes text,
    notes text,
    status text NOT NULL,
    version integer NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    updated_by TEXT NOT NULL REFERENCES users (id)
);
-- Two equality columns make this the planner's choice for a clinic's patient, even on
-- SQLite without statistics; the patient-led index serves the export's id lists.
CREATE INDEX infusions_by_clinic_patient ON infusions (clinic_id, patient_id, started_at);
CREATE INDEX infusions_by_patient ON infusions (patient_id, started_at);
-- Covering for cohort analytics: one index scan, no table lookups.
CREATE INDEX infusions_for_cohorts ON infusions (clinic_id, status, patient_id, started_at, drug, route, guidance);

CREATE TABLE assessments (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    instrument text NOT NULL,
    rated_at TEXT NOT NULL,
    recall text NOT NULL,
    items TEXT,
    total integer NOT NULL,
    cgi_s integer,
    cgi_i integer,
    rater text NOT NULL,
    collected_via text NOT NULL,
    notes text,
    status text NOT NULL,
    version integer NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    updated_by TEXT NOT NULL REFERENCES users (id)
);
-- Covering for a patient's trajectory: SQLite prefers a covering index, so this one
-- must cover too or the cohort index below wins with one equality column.
CREATE INDEX assessments_by_clinic_patient ON assessments (clinic_id, patient_id, status, rated_at, instrument, recall, total, cgi_i, id);
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at);
-- Covering for cohort analytics: one instrument's active ratings without table lookups.
CREATE INDEX assessments_for_cohorts ON assessments (clinic_id, instrument, status, patient_id, rated_at, recall, total, cgi_i, id);

-- Every version of every clinical record, the current one included: amendments never erase.
CREATE TABLE revisions (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    entity text NOT NULL CHECK (entity IN ('infusion', 'assessment')),
    entity_id TEXT NOT NULL,
    version integer NOT NULL,
    snapshot TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL REFERENCES users (id),
    reason text,
    UNIQUE (entity, entity_id, version)
);
