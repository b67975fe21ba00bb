-- A clinic may make patient links expire sooner than their window closes.
ALTER TABLE clinics ADD COLUMN invitation_lifetime_minutes integer;
