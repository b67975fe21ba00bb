ALTER TABLE patients DROP COLUMN research_consent_changed_at;
