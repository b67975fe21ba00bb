ALTER TABLE clinics DROP COLUMN crisis_text;
DROP TABLE alerts;
