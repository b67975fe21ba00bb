-- On SQLite the summaries became a table in cohort order (WITHOUT ROWID). PostgreSQL keeps
-- them a heap with the index onset_summaries_by_clinic: it has no table kept in key order,
-- and its cohort reads are bound by sending and decoding the rows, not by finding them.
SELECT 1;
