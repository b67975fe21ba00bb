DROP TABLE invitations;
DROP TABLE due_ratings;
DROP TABLE protocol_attachments;
DROP TABLE protocols;
DELETE FROM revisions WHERE entity = 'protocol';
ALTER TABLE revisions DROP CONSTRAINT revisions_entity_check;
ALTER TABLE revisions ADD CONSTRAINT revisions_entity_check CHECK (entity IN ('infusion', 'assessment', 'patient'));
DROP INDEX idempotency_keys_by_age;
DROP INDEX refresh_tokens_by_expiry;
