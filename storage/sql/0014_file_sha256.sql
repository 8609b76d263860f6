-- A file's SHA-256 as its user gave it (lower-case hex; empty for none):
-- the transfer checks the finished file against it before the file may be
-- completed.
ALTER TABLE files ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';
