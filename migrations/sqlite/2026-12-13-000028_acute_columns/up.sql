-- A summary's mean percent change per acute bucket (onset::ACUTE_BUCKETS), one column
-- each instead of one JSON array: PostgreSQL printed the jsonb number by number (43 of
-- the 111 ms one backend took to send a cohort of 100,000 patients), and onset parsed the
-- JSON again on both backends. The same columns on both keep one schema.
ALTER TABLE onset_summaries ADD COLUMN acute_0_4h double precision;
ALTER TABLE onset_summaries ADD COLUMN acute_4_24h double precision;
ALTER TABLE onset_summaries ADD COLUMN acute_1_3d double precision;
ALTER TABLE onset_summaries ADD COLUMN acute_3_7d double precision;
ALTER TABLE onset_summaries ADD COLUMN acute_7_14d double precision;
ALTER TABLE onset_summaries ADD COLUMN acute_14_28d double precision;
ALTER TABLE onset_summaries ADD COLUMN acute_after_28d double precision;
UPDATE onset_summaries SET
    acute_0_4h = json_extract(acute, '$[0]'),
    acute_4_24h = json_extract(acute, '$[1]'),
    acute_1_3d = json_extract(acute, '$[2]'),
    acute_3_7d = json_extract(acute, '$[3]'),
    acute_7_14d = json_extract(acute, '$[4]'),
    acute_14_28d = json_extract(acute, '$[5]'),
    acute_after_28d = json_extract(acute, '$[6]');
ALTER TABLE onset_summaries DROP COLUMN acute;
