-- A hash chain over each clinic's audit events (DESIGN.md §12): each link holds the
-- SHA-256 of the previous link's hash and the event's own content, written in the
-- event's transaction; `onset audit-verify` walks it. The events table stays as it was
-- (append-only by trigger); events written before this migration are chained at start-up.
CREATE TABLE audit_chain (
    event_id uuid PRIMARY KEY REFERENCES audit_events (id),
    chain text NOT NULL,
    seq bigint NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    UNIQUE (chain, seq)
);
-- The end of each chain, locked by the transaction that extends it.
CREATE TABLE audit_heads (
    chain text PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL
);
CREATE TRIGGER audit_chain_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
