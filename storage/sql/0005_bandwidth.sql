-- A job's own bandwidth limit in Kbps; 0 means none.
ALTER TABLE jobs ADD COLUMN max_bandwidth_kbps INTEGER NOT NULL DEFAULT 0 CHECK (max_bandwidth_kbps >= 0);
