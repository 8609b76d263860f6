-- A job's revision: a number that changes with every change to its row,
-- whoever makes it (a command, the worker, the triggers that keep its
-- totals). The worker keeps the jobs it acts on in memory and reads again
-- only those whose revision moved, which the state index answers alone.
ALTER TABLE jobs ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER job_rev AFTER UPDATE ON jobs WHEN NEW.rev = OLD.rev BEGIN
    UPDATE jobs SET rev = OLD.rev + 1 WHERE rowid = NEW.rowid;
END;

DROP INDEX jobs_by_state;
CREATE INDEX jobs_by_state ON jobs (state, created_ns, id, rev);
