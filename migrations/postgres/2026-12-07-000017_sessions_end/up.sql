-- Every access token carries its account's token generation; a password change or reset,
-- a logout, a disable or a role change moves it on, so every token issued before ends
-- at once (checked where each request already reads the account).
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;

-- An admin's single-use password reset link for an account of the clinic (24 h): the
-- token is kept only as its SHA-256.
CREATE TABLE password_resets (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL REFERENCES clinics (id),
    user_id uuid NOT NULL REFERENCES users (id),
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX password_resets_by_user ON password_resets (user_id);
