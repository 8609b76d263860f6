-- Indexes for what the worker and the front ends look for, so that a store
-- of 100,000 jobs is no slower to query than one of ten: jobs in a state,
-- oldest first (the worker's scan); notifications due (a partial index: few
-- jobs have one); jobs idle since a time (the inactivity sweep); and every
-- job in order (lists).
CREATE INDEX jobs_by_state    ON jobs (state, created_ns, id);
CREATE INDEX jobs_notify_due  ON jobs (notify_at_ns) WHERE notify_at_ns != 0;
CREATE INDEX jobs_by_modified ON jobs (modified_ns);
CREATE INDEX jobs_by_created  ON jobs (created_ns, id);
