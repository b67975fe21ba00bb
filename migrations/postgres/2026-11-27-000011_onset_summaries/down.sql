DROP TABLE onset_summaries;
