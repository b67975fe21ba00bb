-- Self-guided journeys at home (DESIGN.md §10): dose plans, single-use dose links, the
-- patient's pre-dose checks, sessions the patient records, and reminders at a window's
-- midpoint.

CREATE TABLE home_plans (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    patient_id uuid NOT NULL REFERENCES patients (id),
    drug text NOT NULL,
    route text NOT NULL,
    dose_mg double precision NOT NULL,
    doses_allowed integer NOT NULL,
    min_interval text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    systolic_max integer NOT NULL,
    diastolic_max integer NOT NULL,
    heart_rate_max integer NOT NULL,
    monitor_required boolean NOT NULL,
    protocol_id uuid REFERENCES protocols (id),
    notes text,
    status text NOT NULL,
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    updated_by uuid NOT NULL REFERENCES users (id)
);
CREATE INDEX home_plans_by_patient ON home_plans (clinic_id, patient_id, id);

-- Who recorded a session, and the plan a home dose was taken under: its count and
-- interval are read from these rows, so a dose entered in error stops counting.
ALTER TABLE infusions ADD COLUMN recorded_by text NOT NULL DEFAULT 'staff';
ALTER TABLE infusions ADD COLUMN home_plan_id uuid REFERENCES home_plans (id);
CREATE INDEX infusions_by_home_plan ON infusions (home_plan_id, status, started_at) WHERE home_plan_id IS NOT NULL;

-- A dose link: one dose, the token kept only as its SHA-256.
CREATE TABLE dose_links (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    plan_id uuid NOT NULL REFERENCES home_plans (id),
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    used_at timestamptz,
    infusion_id uuid REFERENCES infusions (id)
);
CREATE INDEX dose_links_by_plan ON dose_links (plan_id);

-- Every pre-dose check a link received, go or no-go.
CREATE TABLE dose_checks (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    link_id uuid NOT NULL REFERENCES dose_links (id),
    plan_id uuid NOT NULL REFERENCES home_plans (id),
    checked_at timestamptz NOT NULL,
    systolic integer NOT NULL,
    diastolic integer NOT NULL,
    heart_rate integer NOT NULL,
    monitor_present boolean NOT NULL,
    go boolean NOT NULL,
    reason text,
    vas_assessment_id uuid REFERENCES assessments (id)
);
CREATE INDEX dose_checks_by_link ON dose_checks (link_id, checked_at);
CREATE INDEX dose_checks_by_plan ON dose_checks (plan_id, checked_at);

-- What a patient sees on a no-go, until the clinic sets its own.
ALTER TABLE clinics ADD COLUMN home_dose_advice text;

-- When an open due rating is reminded of (its window's midpoint); null once reminded.
ALTER TABLE due_ratings ADD COLUMN remind_at timestamptz;
UPDATE due_ratings SET remind_at = opens_at + (closes_at - opens_at) / 2 WHERE status IN ('scheduled', 'open');
CREATE INDEX due_ratings_to_remind ON due_ratings (status, remind_at) WHERE remind_at IS NOT NULL;

-- Plans keep their history like every clinical record.
ALTER TABLE revisions DROP CONSTRAINT revisions_entity_check;
ALTER TABLE revisions ADD CONSTRAINT revisions_entity_check CHECK (entity IN ('infusion', 'assessment', 'patient', 'protocol', 'home_plan'));

-- Two new kinds of alert: a pre-dose check blocked by the patient's vitals, and a
-- check-in after a home dose that needs the clinic.
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ('suicidality', 'worsening', 'relapse', 'rems_overdue', 'home_dose_blocked', 'home_dose_concern'));
