-- How far an upload's fragments may have reached in its session: the end of
-- the chunk being sent, recorded before it is sent. A server's claim beyond
-- it is one no fragment could have made true.
ALTER TABLE files ADD COLUMN upload_reach INTEGER NOT NULL DEFAULT 0;
