-- A small file of a job of several may be recorded complete before its
-- bytes are synced: the worker syncs them all at once before the job is
-- TRANSFERRED, and records here, until then, the boot its bytes were
-- written in (empty when they are on disk). After a power cut, a worker
-- of the next boot fetches such files again (see engine/unsynced.go).
ALTER TABLE files ADD COLUMN unsynced_boot TEXT NOT NULL DEFAULT '';

-- Found at every worker start: only the few files between their end and
-- their job's sync are in it.
CREATE INDEX files_unsynced ON files (unsynced_boot) WHERE unsynced_boot != '';
