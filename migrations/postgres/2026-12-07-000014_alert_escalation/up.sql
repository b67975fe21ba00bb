-- An amendment that raises a rating's risk raises a new alert at the new level, beside
-- the old one (DESIGN.md §6): one alert per cause, kind and level.
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_cause_id_key;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_cause_id_level_key UNIQUE (kind, cause_id, level);
