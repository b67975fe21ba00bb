-- Every access token carries its account's token generation; a password change or reset,
-- a logout, a disable or a role change moves it on, so every token issued before ends
-- at once (checked where each request already reads the account).
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- An admin's single-use password reset link for an account of the clinic (24 h): the
-- token is kept only as its SHA-256.
CREATE TABLE password_resets (
    id TEXT PRIMARY KEY,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX password_resets_by_user ON password_resets (user_id);
