-- A hash chain over each clinic's audit events (DESIGN.md §12): each link holds the
-- SHA-256 of the previous link's hash and the event's own content, written in the
-- event's transaction; `onset audit-verify` walks it. The events table stays as it was
-- (append-only by trigger); events written before this migration are chained at start-up.
CREATE TABLE audit_chain (
    event_id TEXT PRIMARY KEY REFERENCES audit_events (id),
    chain TEXT NOT NULL,
    seq BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (chain, seq)
);
-- The end of each chain, extended inside the transaction of each event.
CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
