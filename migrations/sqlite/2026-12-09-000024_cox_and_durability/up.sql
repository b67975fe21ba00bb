-- What the Cox model and the durability endpoints read of each patient (DESIGN.md §11),
-- kept in the onset summary so that they stay one row a patient: the series' baseline,
-- the first session's dose per kg and dissociation (CADSS), and the durability
-- observations. The summaries are derived data: emptied here, rebuilt at start-up.
ALTER TABLE onset_summaries ADD COLUMN baseline_total integer NOT NULL DEFAULT 0;
ALTER TABLE onset_summaries ADD COLUMN first_dose_mg_per_kg double precision;
ALTER TABLE onset_summaries ADD COLUMN first_cadss_total integer;
ALTER TABLE onset_summaries ADD COLUMN loss_of_response_hours double precision;
ALTER TABLE onset_summaries ADD COLUMN loss_of_response_event boolean;
ALTER TABLE onset_summaries ADD COLUMN relapse_hours double precision;
ALTER TABLE onset_summaries ADD COLUMN relapse_event boolean;
DELETE FROM onset_summaries;
