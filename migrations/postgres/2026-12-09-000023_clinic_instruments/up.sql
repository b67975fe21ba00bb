-- A clinic's own instruments (DESIGN.md §9): every version of a definition kept whole;
-- a version never changes once written, ratings name the version they were taken under.
CREATE TABLE clinic_instruments (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    code text NOT NULL,
    version integer NOT NULL,
    definition jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    UNIQUE (clinic_id, code, version)
);
