DROP INDEX outbox_by_age;
DROP INDEX webhook_deliveries_by_age;
ALTER TABLE webhook_endpoints DROP COLUMN paused_until;
ALTER TABLE webhook_endpoints DROP COLUMN consecutive_failures;
