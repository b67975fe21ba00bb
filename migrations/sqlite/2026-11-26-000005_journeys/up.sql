-- Self-guided journeys: protocols, the due ratings they plan per session, single-use
-- patient links, and the outbox of events for webhooks.

-- Housekeeping purges by expiry: let it find expired rows without a scan.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- SQLite changes a CHECK only by rebuilding the table.
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

CREATE TABLE protocols (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    name text NOT NULL,
    items TEXT NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    updated_by TEXT NOT NULL REFERENCES users (id)
);
CREATE INDEX protocols_by_clinic ON protocols (clinic_id, id);

-- A protocol attached to a patient keeps the version (and its items) it was made from.
CREATE TABLE protocol_attachments (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    protocol_id TEXT NOT NULL REFERENCES protocols (id),
    protocol_version integer NOT NULL,
    items TEXT NOT NULL,
    attached_at TEXT NOT NULL,
    attached_by TEXT NOT NULL REFERENCES users (id),
    UNIQUE (patient_id, protocol_id)
);
CREATE INDEX protocol_attachments_by_clinic ON protocol_attachments (clinic_id, patient_id);

CREATE TABLE due_ratings (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    infusion_id TEXT NOT NULL REFERENCES infusions (id),
    attachment_id TEXT NOT NULL REFERENCES protocol_attachments (id),
    protocol_id TEXT NOT NULL REFERENCES protocols (id),
    item_index integer NOT NULL,
    instrument text NOT NULL,
    recall text NOT NULL,
    due_at TEXT NOT NULL,
    opens_at TEXT NOT NULL,
    closes_at TEXT NOT NULL,
    status text NOT NULL CHECK (status IN ('scheduled', 'open', 'completed', 'missed', 'cancelled')),
    assessment_id TEXT REFERENCES assessments (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (attachment_id, infusion_id, item_index)
);
CREATE INDEX due_ratings_by_clinic ON due_ratings (clinic_id, id);
CREATE INDEX due_ratings_by_patient ON due_ratings (patient_id, instrument, opens_at);
CREATE INDEX due_ratings_by_session ON due_ratings (infusion_id);
-- The scheduler's two questions: whose window has opened, whose has closed.
CREATE INDEX due_ratings_to_open ON due_ratings (status, opens_at);
CREATE INDEX due_ratings_to_close ON due_ratings (status, closes_at);

-- A patient link: only the token's SHA-256 is kept.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    due_id TEXT NOT NULL REFERENCES due_ratings (id),
    token_hash text NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX invitations_by_due ON invitations (due_id);
