-- A summary's mean percent change per acute bucket (onset::ACUTE_BUCKETS), one
-- double precision column each instead of one jsonb array: PostgreSQL sends a float8
-- as its eight bytes, but prints a jsonb number by number, which was 43 of the 111 ms
-- one backend took to send a cohort of 100,000 patients (COPY … (FORMAT binary)).
ALTER TABLE onset_summaries
    ADD COLUMN acute_0_4h double precision,
    ADD COLUMN acute_4_24h double precision,
    ADD COLUMN acute_1_3d double precision,
    ADD COLUMN acute_3_7d double precision,
    ADD COLUMN acute_7_14d double precision,
    ADD COLUMN acute_14_28d double precision,
    ADD COLUMN acute_after_28d double precision;
UPDATE onset_summaries SET
    acute_0_4h = (acute ->> 0)::double precision,
    acute_4_24h = (acute ->> 1)::double precision,
    acute_1_3d = (acute ->> 2)::double precision,
    acute_3_7d = (acute ->> 3)::double precision,
    acute_7_14d = (acute ->> 4)::double precision,
    acute_14_28d = (acute ->> 5)::double precision,
    acute_after_28d = (acute ->> 6)::double precision;
ALTER TABLE onset_summaries DROP COLUMN acute;
