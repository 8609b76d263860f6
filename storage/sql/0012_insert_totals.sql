-- Files are added only through the store's InsertFiles, which adds to its
-- job's totals once for all the files it adds: the trigger rewrote the
-- job's row (some fifty columns) once per file, most of the cost of an
-- import of jobs of ten files.
DROP TRIGGER job_totals_insert;
