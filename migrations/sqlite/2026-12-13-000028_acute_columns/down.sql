ALTER TABLE onset_summaries ADD COLUMN acute TEXT NOT NULL DEFAULT '[]';
-- Seventeen significant digits, which read back as the same double (json_array prints
-- fifteen).
UPDATE onset_summaries SET acute = '[' || iif(acute_0_4h IS NULL, 'null', printf('%!.17g', acute_0_4h)) || ',' || iif(acute_4_24h IS NULL, 'null', printf('%!.17g', acute_4_24h)) || ',' || iif(acute_1_3d IS NULL, 'null', printf('%!.17g', acute_1_3d)) || ',' || iif(acute_3_7d IS NULL, 'null', printf('%!.17g', acute_3_7d)) || ',' || iif(acute_7_14d IS NULL, 'null', printf('%!.17g', acute_7_14d)) || ',' || iif(acute_14_28d IS NULL, 'null', printf('%!.17g', acute_14_28d)) || ',' || iif(acute_after_28d IS NULL, 'null', printf('%!.17g', acute_after_28d)) || ']';
ALTER TABLE onset_summaries DROP COLUMN acute_0_4h;
ALTER TABLE onset_summaries DROP COLUMN acute_4_24h;
ALTER TABLE onset_summaries DROP COLUMN acute_1_3d;
ALTER TABLE onset_summaries DROP COLUMN acute_3_7d;
ALTER TABLE onset_summaries DROP COLUMN acute_7_14d;
ALTER TABLE onset_summaries DROP COLUMN acute_14_28d;
ALTER TABLE onset_summaries DROP COLUMN acute_after_28d;
