-- Staff MFA (DESIGN.md §12): a TOTP secret per account (sealed, like webhook secrets),
-- pending until a first code confirms it; the last time step used, so a code is used
-- once; ten recovery codes kept as SHA-256; and the clinic's policy.
CREATE TABLE mfa_totp (
    user_id uuid PRIMARY KEY REFERENCES users (id),
    secret_sealed text NOT NULL,
    confirmed_at timestamptz,
    last_step bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL
);
CREATE TABLE mfa_recovery_codes (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    code_hash text NOT NULL UNIQUE,
    used_at timestamptz
);
CREATE INDEX mfa_recovery_codes_by_user ON mfa_recovery_codes (user_id);
ALTER TABLE users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE clinics ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;
