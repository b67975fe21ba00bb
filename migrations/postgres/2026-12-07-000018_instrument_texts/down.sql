ALTER TABLE assessments DROP COLUMN text_version;
ALTER TABLE assessments DROP COLUMN instrument_version;
DROP TABLE instrument_texts;
