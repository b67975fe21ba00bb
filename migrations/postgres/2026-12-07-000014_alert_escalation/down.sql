DELETE FROM alerts a WHERE a.level = 'moderate' AND EXISTS (SELECT 1 FROM alerts b WHERE b.kind = a.kind AND b.cause_id = a.cause_id AND b.level = 'high');
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_cause_id_level_key;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_cause_id_key UNIQUE (kind, cause_id);
