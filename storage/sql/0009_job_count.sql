-- How many jobs the store holds, kept by triggers: the per-user job limit
-- is checked at every create, and counting the rows of a store of 100,000
-- jobs took most of the create's time.
CREATE TABLE job_count (n INTEGER NOT NULL) STRICT;
INSERT INTO job_count (n) SELECT COUNT(*) FROM jobs;
CREATE TRIGGER job_count_insert AFTER INSERT ON jobs BEGIN
    UPDATE job_count SET n = n + 1;
END;
CREATE TRIGGER job_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_count SET n = n - 1;
END;
