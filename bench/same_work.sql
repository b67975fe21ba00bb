-- pgbench: the statements of one durable rating write as onset makes them on PostgreSQL,
-- against the same tables and rows of the same size, one transaction each: the limit of
-- that work on this machine, with no HTTP, JSON or Rust in the way (bench/run.sh).
-- The first statement stands for the caller check (a user row by id) and picks one of
-- the 200 patients the writes go to (bench_patients, made by bench/run.sh).
\set n random(1, 200)
\set v random(0, 100)
SELECT b.patient_id AS pid, b.clinic_id AS cid, u.id AS uid, u.email AS email FROM bench_patients b JOIN users u ON u.id = b.user_id WHERE b.n = :n \gset
SELECT COUNT(*) FROM patients WHERE id = :pid AND clinic_id = :cid;
BEGIN;
SELECT id FROM patients WHERE id = :pid FOR NO KEY UPDATE;
INSERT INTO assessments (id, clinic_id, patient_id, instrument, rated_at, recall, items, total, rater, collected_via, status, version, created_at, updated_at, created_by, updated_by, instrument_version, itemised) VALUES (gen_random_uuid(), :cid, :pid, 'ocd_vas', now(), 'NOW', jsonb_build_object('1', :v::int), :v::int, 'self', 'app', 'active', 1, now(), now(), :uid, :uid, 1, true) RETURNING id AS aid \gset
INSERT INTO revisions (id, clinic_id, entity, entity_id, version, snapshot, changed_at, changed_by) VALUES (gen_random_uuid(), :cid, 'assessment', :aid, 1, jsonb_build_object('id', :aid::uuid, 'cgi_i', null, 'cgi_s', null, 'items', jsonb_build_object('1', :v::int), 'notes', null, 'rater', 'self', 'total', :v::int, 'recall', 'NOW', 'status', 'active', 'version', 1, 'rated_at', now(), 'severity', null, 'subscales', '{}'::jsonb, 'created_at', now(), 'created_by', :uid::uuid, 'instrument', 'ocd_vas', 'obsessions', null, 'patient_id', :pid::uuid, 'updated_at', now(), 'updated_by', :uid::uuid, 'compulsions', null, 'short_recall', true, 'text_version', null, 'collected_via', 'app', 'item_9_unknown', false, 'instrument_version', 1), now(), :uid);
SELECT id FROM due_ratings WHERE patient_id = :pid AND instrument = 'ocd_vas' AND opens_at <= now() AND closes_at >= now() AND assessment_id IS NULL AND (status = 'scheduled' OR status = 'open' OR status = 'missed') ORDER BY due_at, id LIMIT 1;
SELECT id, clinic_id, url, events, secret, active FROM webhook_endpoints WHERE clinic_id = :cid;
SELECT patient_id, instrument, clinic_id, fold FROM series_folds WHERE patient_id = :pid AND instrument = 'ocd_vas';
SELECT patient_id, started_at, id, drug, route, guidance, dose_mg_per_kg, cadss_total FROM infusions WHERE status = 'active' AND patient_id = :pid ORDER BY started_at, id;
UPDATE series_folds SET fold = jsonb_set(fold, '{version}', '1') WHERE patient_id = :pid AND instrument = 'ocd_vas';
UPDATE onset_summaries SET last_hours = last_hours + 0.001 WHERE patient_id = :pid AND instrument = 'ocd_vas';
INSERT INTO audit_events (id, clinic_id, actor_id, actor_email, action, entity, entity_id, detail, at) VALUES (gen_random_uuid(), :cid, :uid, :email, 'assessment.create', 'assessment', :aid, jsonb_build_object('instrument', 'ocd_vas', 'patient_id', :pid::uuid), now()) RETURNING id AS eid \gset
WITH old AS (SELECT seq, hash FROM audit_heads WHERE chain = :cid::text FOR UPDATE), moved AS (UPDATE audit_heads h SET seq = old.seq + 1, hash = encode(sha256(convert_to(old.hash || ':' || :eid || :aid || :pid || :email, 'UTF8')), 'hex') FROM old WHERE h.chain = :cid::text RETURNING h.seq, h.hash, old.hash AS prev) INSERT INTO audit_chain (event_id, chain, seq, prev_hash, hash) SELECT :eid, :cid::text, seq, prev, hash FROM moved;
COMMIT;
