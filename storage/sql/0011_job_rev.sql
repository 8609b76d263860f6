-- A job's revision: a number that moves with every change to its row,
-- whoever makes it: every UPDATE of jobs in the store's code adds one, and
-- so do the triggers that keep a job's totals (made again here with it).
-- The worker keeps the jobs it acts on in memory and reads again only those
-- whose revision moved. No index holds it: it moves with every checkpoint,
-- and the worker finds the active jobs through the state index.
ALTER TABLE jobs ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER job_totals_insert;
DROP TRIGGER job_totals_update;
DROP TRIGGER job_totals_delete;

CREATE TRIGGER job_totals_insert AFTER INSERT ON files BEGIN
    UPDATE jobs SET
        files_total   = files_total + 1,
        files_done    = files_done + NEW.complete,
        bytes_done    = bytes_done + NEW.bytes_done,
        bytes_known   = bytes_known + MAX(NEW.bytes_total, 0),
        sizes_unknown = sizes_unknown + (NEW.bytes_total < 0),
        rev           = rev + 1
    WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_totals_update AFTER UPDATE OF complete, bytes_done, bytes_total ON files BEGIN
    UPDATE jobs SET
        files_done    = files_done + NEW.complete - OLD.complete,
        bytes_done    = bytes_done + NEW.bytes_done - OLD.bytes_done,
        bytes_known   = bytes_known + MAX(NEW.bytes_total, 0) - MAX(OLD.bytes_total, 0),
        sizes_unknown = sizes_unknown + (NEW.bytes_total < 0) - (OLD.bytes_total < 0),
        rev           = rev + 1
    WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_totals_delete AFTER DELETE ON files BEGIN
    UPDATE jobs SET
        files_total   = files_total - 1,
        files_done    = files_done - OLD.complete,
        bytes_done    = bytes_done - OLD.bytes_done,
        bytes_known   = bytes_known - MAX(OLD.bytes_total, 0),
        sizes_unknown = sizes_unknown - (OLD.bytes_total < 0),
        rev           = rev + 1
    WHERE id = OLD.job_id;
END;
