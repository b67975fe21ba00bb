-- The REMS patient monitoring record's own fields on an esketamine session.
ALTER TABLE infusions ADD COLUMN rems jsonb;
