-- The onset schema. migrations/sqlite holds the same tables; keep the two in step.
CREATE TABLE clinics (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    email text NOT NULL UNIQUE, -- stored lower-cased
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'clinician', 'researcher')),
    password_hash text NOT NULL,
    active boolean NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX users_by_clinic ON users (clinic_id, id);

CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY,
    family_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    token_hash text NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    clinic_id uuid REFERENCES clinics (id),
    actor_id uuid,
    actor_email text,
    action text NOT NULL,
    entity text NOT NULL,
    entity_id uuid,
    detail jsonb NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX audit_events_by_clinic ON audit_events (clinic_id, id);

CREATE TABLE idempotency_keys (
    user_id uuid NOT NULL REFERENCES users (id),
    key text NOT NULL,
    fingerprint text NOT NULL,
    status integer NOT NULL,
    body jsonb NOT NULL,
    etag text,
    location text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE patients (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    external_id text,
    display_name text NOT NULL,
    birth_date date NOT NULL,
    sex text NOT NULL,
    diagnosis text NOT NULL,
    research_consent boolean NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    updated_by uuid NOT NULL REFERENCES users (id),
    UNIQUE (clinic_id, external_id)
);
-- Covering for cohorts and exports (demographics only), and ordered for lists.
CREATE INDEX patients_by_clinic ON patients (clinic_id, id, birth_date, sex, diagnosis, research_consent);

CREATE TABLE infusions (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    patient_id uuid NOT NULL REFERENCES patients (id),
    drug text NOT NULL,
    route text NOT NULL,
    guidance text,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    discharged_at timestamptz,
    dose_mg double precision NOT NULL,
    weight_kg double precision,
    dose_mg_per_kg double precision,
    series_number integer NOT NULL,
    lot_number text,
    vitals jsonb NOT NULL,
    cadss_total integer,
    moaas integer,
    adverse_event_codes jsonb NOT NULL,
    adverse_event_notes text,
    notes text,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    updated_by uuid NOT NULL REFERENCES users (id)
);
-- Two equality columns make this the planner's choice for a clinic's patient, even on
-- SQLite without statistics; the patient-led index serves the export's id lists.
CREATE INDEX infusions_by_clinic_patient ON infusions (clinic_id, patient_id, started_at);
CREATE INDEX infusions_by_patient ON infusions (patient_id, started_at);
-- Covering for cohort analytics: one index scan, no table lookups.
CREATE INDEX infusions_for_cohorts ON infusions (clinic_id, status, patient_id, started_at, drug, route, guidance);

CREATE TABLE assessments (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    patient_id uuid NOT NULL REFERENCES patients (id),
    instrument text NOT NULL,
    rated_at timestamptz NOT NULL,
    recall text NOT NULL,
    items jsonb,
    total integer NOT NULL,
    cgi_s integer,
    cgi_i integer,
    rater text NOT NULL,
    collected_via text NOT NULL,
    notes text,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    updated_by uuid NOT NULL REFERENCES users (id)
);
-- Covering for a patient's trajectory: SQLite prefers a covering index, so this one
-- must cover too or the cohort index below wins with one equality column.
CREATE INDEX assessments_by_clinic_patient ON assessments (clinic_id, patient_id, status, rated_at, instrument, recall, total, cgi_i, id);
CREATE INDEX assessments_by_patient ON assessments (patient_id, rated_at);
-- Covering for cohort analytics: one instrument's active ratings without table lookups.
CREATE INDEX assessments_for_cohorts ON assessments (clinic_id, instrument, status, patient_id, rated_at, recall, total, cgi_i, id);

-- Every version of every clinical record, the current one included: amendments never erase.
CREATE TABLE revisions (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    entity text NOT NULL CHECK (entity IN ('infusion', 'assessment')),
    entity_id uuid NOT NULL,
    version integer NOT NULL,
    snapshot jsonb NOT NULL,
    changed_at timestamptz NOT NULL,
    changed_by uuid NOT NULL REFERENCES users (id),
    reason text,
    UNIQUE (entity, entity_id, version)
);
