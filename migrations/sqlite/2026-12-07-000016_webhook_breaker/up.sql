-- A circuit breaker per endpoint: consecutive failed attempts, and until when the
-- endpoint is left alone after too many. Settled deliveries are purged after a retention
-- period, found by when they were created.
ALTER TABLE webhook_endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN paused_until TEXT;
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);
CREATE INDEX outbox_by_age ON outbox (created_at);
