ALTER TABLE onset_summaries DROP COLUMN relapse_event;
ALTER TABLE onset_summaries DROP COLUMN relapse_hours;
ALTER TABLE onset_summaries DROP COLUMN loss_of_response_event;
ALTER TABLE onset_summaries DROP COLUMN loss_of_response_hours;
ALTER TABLE onset_summaries DROP COLUMN first_cadss_total;
ALTER TABLE onset_summaries DROP COLUMN first_dose_mg_per_kg;
ALTER TABLE onset_summaries DROP COLUMN baseline_total;
