-- When research consent was last set, so that a change of consent is always visible.
ALTER TABLE patients ADD COLUMN research_consent_changed_at timestamptz;
UPDATE patients SET research_consent_changed_at = created_at;
