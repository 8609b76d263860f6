-- When a job first failed transiently since its last progress (the start of
-- the no-progress timeout) and when it is due to be retried.
ALTER TABLE jobs ADD COLUMN transient_since_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retry_at_ns INTEGER NOT NULL DEFAULT 0;
