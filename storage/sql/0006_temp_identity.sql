-- The identity of a file's temporary file when it was made ("device:inode"),
-- so that a worker never writes into, renames or deletes another file put at
-- its name while it was away.
ALTER TABLE files ADD COLUMN temp_id TEXT NOT NULL DEFAULT '';
