-- Every BITS job setting, stored and shown even where the transfer that
-- uses it comes later.
ALTER TABLE jobs ADD COLUMN custom_headers      TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN headers_write_only  INTEGER NOT NULL DEFAULT 0 CHECK (headers_write_only IN (0, 1));
ALTER TABLE jobs ADD COLUMN http_method         TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN security_flags      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN acl_flags           INTEGER NOT NULL DEFAULT 0 CHECK (acl_flags BETWEEN 0 AND 15);
ALTER TABLE jobs ADD COLUMN peer_caching_flags  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cert_store_location INTEGER NOT NULL DEFAULT -1 CHECK (cert_store_location BETWEEN -1 AND 7);
ALTER TABLE jobs ADD COLUMN cert_store_name     TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN cert_hash           TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN cert_subject        TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN helper_token        TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN helper_token_flags  INTEGER NOT NULL DEFAULT 0 CHECK (helper_token_flags BETWEEN 0 AND 3);
ALTER TABLE jobs ADD COLUMN reply_file_name     TEXT    NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN dynamic_content     INTEGER NOT NULL DEFAULT 0 CHECK (dynamic_content IN (0, 1));
ALTER TABLE jobs ADD COLUMN transfer_policy     INTEGER NOT NULL DEFAULT 0;
-- Set at the first Resume: some settings may change only before it.
ALTER TABLE jobs ADD COLUMN resumed             INTEGER NOT NULL DEFAULT 0 CHECK (resumed IN (0, 1));
-- The notification program is due at this time (0: nothing to run) for
-- this state; it runs again after the retry delay while it fails.
ALTER TABLE jobs ADD COLUMN notify_at_ns        INTEGER NOT NULL DEFAULT 0;

ALTER TABLE files ADD COLUMN ranges     TEXT    NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN validation INTEGER NOT NULL DEFAULT 0 CHECK (validation BETWEEN 0 AND 2);

-- Credentials live apart from the job so that no listing reads them.
CREATE TABLE credentials (
    job_id    TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    target    INTEGER NOT NULL CHECK (target IN (1, 2)),
    scheme    INTEGER NOT NULL CHECK (scheme BETWEEN 1 AND 5),
    user_name TEXT,
    password  TEXT,
    PRIMARY KEY (job_id, target, scheme)
) STRICT;
