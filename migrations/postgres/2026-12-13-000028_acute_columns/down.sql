ALTER TABLE onset_summaries ADD COLUMN acute jsonb;
UPDATE onset_summaries SET acute = jsonb_build_array(acute_0_4h, acute_4_24h, acute_1_3d, acute_3_7d, acute_7_14d, acute_14_28d, acute_after_28d);
ALTER TABLE onset_summaries ALTER COLUMN acute SET NOT NULL,
    DROP COLUMN acute_0_4h, DROP COLUMN acute_4_24h, DROP COLUMN acute_1_3d, DROP COLUMN acute_3_7d,
    DROP COLUMN acute_7_14d, DROP COLUMN acute_14_28d, DROP COLUMN acute_after_28d;
