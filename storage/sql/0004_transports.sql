-- Time spent in CONNECTING and TRANSFERRING, summed over attempts, for the
-- job's maximum download time.
ALTER TABLE jobs ADD COLUMN transfer_ns INTEGER NOT NULL DEFAULT 0 CHECK (transfer_ns >= 0);

-- An upload's session with the server (a temporary name on an SMB share or
-- folder, a BITS upload session id): kept so the upload resumes.
ALTER TABLE files ADD COLUMN session  TEXT NOT NULL DEFAULT '';
-- The server's digest algorithm that the finished file matched; empty when
-- the server offered none.
ALTER TABLE files ADD COLUMN verified TEXT NOT NULL DEFAULT '';

-- An upload-reply job's reply: its temporary file beside the reply file
-- name, and its progress (total -1 until known).
ALTER TABLE jobs ADD COLUMN reply_temp  TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN reply_total INTEGER NOT NULL DEFAULT -1;
ALTER TABLE jobs ADD COLUMN reply_done  INTEGER NOT NULL DEFAULT 0;
