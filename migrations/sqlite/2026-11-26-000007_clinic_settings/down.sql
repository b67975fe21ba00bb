ALTER TABLE clinics DROP COLUMN invitation_lifetime_minutes;
