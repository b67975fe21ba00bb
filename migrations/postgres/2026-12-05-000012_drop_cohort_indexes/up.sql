-- Cohort analytics read onset_summaries (one row a patient and instrument) since
-- 2026-11-27; these two covering indexes served the old per-record cohort reads and now
-- only cost every session and rating write an extra B-tree insert. Queries by clinic
-- keep infusions_by_clinic_patient and assessments_by_clinic_patient.
DROP INDEX infusions_for_cohorts;
DROP INDEX assessments_for_cohorts;
