DELETE FROM revisions WHERE entity = 'patient';
ALTER TABLE revisions DROP CONSTRAINT revisions_entity_check;
ALTER TABLE revisions ADD CONSTRAINT revisions_entity_check CHECK (entity IN ('infusion', 'assessment'));
