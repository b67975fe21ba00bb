-- Webhooks (Standard Webhooks 1.0): endpoints an admin registers, an outbox written in the
-- same transaction as the change it reports, and one delivery per subscribed endpoint.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    url text NOT NULL,
    events jsonb NOT NULL,
    secret text NOT NULL,
    active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id)
);
CREATE INDEX webhook_endpoints_by_clinic ON webhook_endpoints (clinic_id, id);

CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    event text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    outbox_id uuid NOT NULL REFERENCES outbox (id),
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id),
    status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status integer,
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL
);
-- The dispatcher's question: what is pending and due now.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
