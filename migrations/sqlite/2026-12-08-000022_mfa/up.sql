-- Staff MFA (DESIGN.md §12): a TOTP secret per account (sealed, like webhook secrets),
-- pending until a first code confirms it; the last time step used, so a code is used
-- once; ten recovery codes kept as SHA-256; and the clinic's policy.
CREATE TABLE mfa_totp (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    secret_sealed text NOT NULL,
    confirmed_at TEXT,
    last_step bigint NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE mfa_recovery_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    code_hash text NOT NULL UNIQUE,
    used_at TEXT
);
CREATE INDEX mfa_recovery_codes_by_user ON mfa_recovery_codes (user_id);
ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE clinics ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT 0;
