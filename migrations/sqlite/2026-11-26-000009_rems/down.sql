ALTER TABLE infusions DROP COLUMN rems;
