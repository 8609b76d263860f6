-- Each job's totals over its files, kept by triggers, so that a list of
-- jobs reads one row per job instead of all of its files: how many files and
-- how many complete, the bytes done, the bytes of the files whose size is
-- known, and how many sizes are not known yet (any makes the job's total
-- unknown).
ALTER TABLE jobs ADD COLUMN files_total   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN files_done    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN bytes_done    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN bytes_known   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN sizes_unknown INTEGER NOT NULL DEFAULT 0;

UPDATE jobs SET
    files_total   = (SELECT COUNT(*) FROM files WHERE job_id = jobs.id),
    files_done    = (SELECT COUNT(*) FROM files WHERE job_id = jobs.id AND complete = 1),
    bytes_done    = (SELECT COALESCE(SUM(bytes_done), 0) FROM files WHERE job_id = jobs.id),
    bytes_known   = (SELECT COALESCE(SUM(bytes_total), 0) FROM files WHERE job_id = jobs.id AND bytes_total >= 0),
    sizes_unknown = (SELECT COUNT(*) FROM files WHERE job_id = jobs.id AND bytes_total < 0);

CREATE TRIGGER job_totals_insert AFTER INSERT ON files BEGIN
    UPDATE jobs SET
        files_total   = files_total + 1,
        files_done    = files_done + NEW.complete,
        bytes_done    = bytes_done + NEW.bytes_done,
        bytes_known   = bytes_known + MAX(NEW.bytes_total, 0),
        sizes_unknown = sizes_unknown + (NEW.bytes_total < 0)
    WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_totals_update AFTER UPDATE OF complete, bytes_done, bytes_total ON files BEGIN
    UPDATE jobs SET
        files_done    = files_done + NEW.complete - OLD.complete,
        bytes_done    = bytes_done + NEW.bytes_done - OLD.bytes_done,
        bytes_known   = bytes_known + MAX(NEW.bytes_total, 0) - MAX(OLD.bytes_total, 0),
        sizes_unknown = sizes_unknown + (NEW.bytes_total < 0) - (OLD.bytes_total < 0)
    WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_totals_delete AFTER DELETE ON files BEGIN
    UPDATE jobs SET
        files_total   = files_total - 1,
        files_done    = files_done - OLD.complete,
        bytes_done    = bytes_done - OLD.bytes_done,
        bytes_known   = bytes_known - MAX(OLD.bytes_total, 0),
        sizes_unknown = sizes_unknown - (OLD.bytes_total < 0)
    WHERE id = OLD.job_id;
END;
