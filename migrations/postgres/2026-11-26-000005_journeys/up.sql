-- Self-guided journeys: protocols, the due ratings they plan per session, single-use
-- patient links, and the outbox of events for webhooks.

-- Housekeeping purges by expiry: let it find expired rows without a scan.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

ALTER TABLE revisions DROP CONSTRAINT revisions_entity_check;
ALTER TABLE revisions ADD CONSTRAINT revisions_entity_check CHECK (entity IN ('infusion', 'assessment', 'patient', 'protocol'));

CREATE TABLE protocols (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    name text NOT NULL,
    items jsonb NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    updated_by uuid NOT NULL REFERENCES users (id)
);
CREATE INDEX protocols_by_clinic ON protocols (clinic_id, id);

-- A protocol attached to a patient keeps the version (and its items) it was made from.
CREATE TABLE protocol_attachments (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    patient_id uuid NOT NULL REFERENCES patients (id),
    protocol_id uuid NOT NULL REFERENCES protocols (id),
    protocol_version integer NOT NULL,
    items jsonb NOT NULL,
    attached_at timestamptz NOT NULL,
    attached_by uuid NOT NULL REFERENCES users (id),
    UNIQUE (patient_id, protocol_id)
);
CREATE INDEX protocol_attachments_by_clinic ON protocol_attachments (clinic_id, patient_id);

CREATE TABLE due_ratings (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    patient_id uuid NOT NULL REFERENCES patients (id),
    infusion_id uuid NOT NULL REFERENCES infusions (id),
    attachment_id uuid NOT NULL REFERENCES protocol_attachments (id),
    protocol_id uuid NOT NULL REFERENCES protocols (id),
    item_index integer NOT NULL,
    instrument text NOT NULL,
    recall text NOT NULL,
    due_at timestamptz NOT NULL,
    opens_at timestamptz NOT NULL,
    closes_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('scheduled', 'open', 'completed', 'missed', 'cancelled')),
    assessment_id uuid REFERENCES assessments (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
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
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    due_id uuid NOT NULL REFERENCES due_ratings (id),
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX invitations_by_due ON invitations (due_id);
