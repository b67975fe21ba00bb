ALTER TABLE clinics DROP COLUMN require_mfa;
ALTER TABLE users DROP COLUMN mfa_enabled;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
