-- Patients keep their history like every clinical record: the CHECK admits 'patient',
-- and each existing patient's current state becomes its first kept version.
ALTER TABLE revisions DROP CONSTRAINT revisions_entity_check;
ALTER TABLE revisions ADD CONSTRAINT revisions_entity_check CHECK (entity IN ('infusion', 'assessment', 'patient'));

INSERT INTO revisions (id, clinic_id, entity, entity_id, version, snapshot, changed_at, changed_by, reason)
SELECT
    gen_random_uuid(), clinic_id, 'patient', id, version,
    jsonb_build_object(
        'id', id, 'external_id', external_id, 'display_name', display_name, 'birth_date', to_char(birth_date, 'YYYY-MM-DD'),
        'sex', sex, 'diagnosis', diagnosis, 'research_consent', research_consent,
        'research_consent_changed_at', to_char(coalesce(research_consent_changed_at, created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'version', version,
        'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    ),
    updated_at, updated_by, NULL
FROM patients;
