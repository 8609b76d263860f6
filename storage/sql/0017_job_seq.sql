-- Jobs get an integer key, seq, in the order they were made, and files are
-- keyed by their job's seq rather than by its GUID. GUIDs are random: a
-- new job's files went into the middle of the files' key, a page of it
-- for each job, and an import of many jobs rewrote most of that index at
-- every commit. Now a new job's files go at its end. A job's GUID stays
-- unique, and stays in each file's row for the readers that show it; the
-- storage code finds a job's files by its seq.
CREATE TABLE jobs_new (
    seq                 INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    owner               TEXT NOT NULL,
    type                INTEGER NOT NULL CHECK (type BETWEEN 0 AND 2),
    state               INTEGER NOT NULL CHECK (state BETWEEN 0 AND 8),
    priority            INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    created_ns          INTEGER NOT NULL,
    modified_ns         INTEGER NOT NULL,
    completed_ns        INTEGER NOT NULL DEFAULT 0,
    min_retry_delay_s   INTEGER NOT NULL DEFAULT 600 CHECK (min_retry_delay_s >= 0),
    no_progress_s       INTEGER NOT NULL DEFAULT 1209600 CHECK (no_progress_s >= 0),
    max_download_s      INTEGER NOT NULL DEFAULT 7776000 CHECK (max_download_s >= 0),
    notify_flags        INTEGER NOT NULL DEFAULT 3,
    notify_program      TEXT NOT NULL DEFAULT '',
    notify_parameters   TEXT NOT NULL DEFAULT '',
    proxy_usage         INTEGER NOT NULL DEFAULT 0 CHECK (proxy_usage BETWEEN 0 AND 3),
    proxy_list          TEXT NOT NULL DEFAULT '',
    proxy_bypass        TEXT NOT NULL DEFAULT '',
    error_count         INTEGER NOT NULL DEFAULT 0,
    error_code          INTEGER NOT NULL DEFAULT 0,
    error_context       INTEGER NOT NULL DEFAULT 0,
    error_message       TEXT NOT NULL DEFAULT '',
    error_file          INTEGER NOT NULL DEFAULT -1,
    transient_since_ns  INTEGER NOT NULL DEFAULT 0,
    retry_at_ns         INTEGER NOT NULL DEFAULT 0,
    custom_headers      TEXT NOT NULL DEFAULT '',
    headers_write_only  INTEGER NOT NULL DEFAULT 0 CHECK (headers_write_only IN (0, 1)),
    http_method         TEXT NOT NULL DEFAULT '',
    security_flags      INTEGER NOT NULL DEFAULT 0,
    acl_flags           INTEGER NOT NULL DEFAULT 0 CHECK (acl_flags BETWEEN 0 AND 15),
    peer_caching_flags  INTEGER NOT NULL DEFAULT 0,
    cert_store_location INTEGER NOT NULL DEFAULT -1 CHECK (cert_store_location BETWEEN -1 AND 7),
    cert_store_name     TEXT NOT NULL DEFAULT '',
    cert_hash           TEXT NOT NULL DEFAULT '',
    cert_subject        TEXT NOT NULL DEFAULT '',
    helper_token        TEXT NOT NULL DEFAULT '',
    helper_token_flags  INTEGER NOT NULL DEFAULT 0 CHECK (helper_token_flags BETWEEN 0 AND 3),
    reply_file_name     TEXT NOT NULL DEFAULT '',
    dynamic_content     INTEGER NOT NULL DEFAULT 0 CHECK (dynamic_content IN (0, 1)),
    transfer_policy     INTEGER NOT NULL DEFAULT 0,
    resumed             INTEGER NOT NULL DEFAULT 0 CHECK (resumed IN (0, 1)),
    notify_at_ns        INTEGER NOT NULL DEFAULT 0,
    transfer_ns         INTEGER NOT NULL DEFAULT 0 CHECK (transfer_ns >= 0),
    reply_temp          TEXT NOT NULL DEFAULT '',
    reply_total         INTEGER NOT NULL DEFAULT -1,
    reply_done          INTEGER NOT NULL DEFAULT 0,
    max_bandwidth_kbps  INTEGER NOT NULL DEFAULT 0 CHECK (max_bandwidth_kbps >= 0),
    files_total         INTEGER NOT NULL DEFAULT 0,
    files_done          INTEGER NOT NULL DEFAULT 0,
    bytes_done          INTEGER NOT NULL DEFAULT 0,
    bytes_known         INTEGER NOT NULL DEFAULT 0,
    sizes_unknown       INTEGER NOT NULL DEFAULT 0,
    rev                 INTEGER NOT NULL DEFAULT 0,
    user_env            TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO jobs_new (id, display_name, description, owner, type, state, priority, created_ns, modified_ns, completed_ns, min_retry_delay_s, no_progress_s, max_download_s, notify_flags, notify_program, notify_parameters, proxy_usage, proxy_list, proxy_bypass, error_count, error_code, error_context, error_message, error_file, transient_since_ns, retry_at_ns, custom_headers, headers_write_only, http_method, security_flags, acl_flags, peer_caching_flags, cert_store_location, cert_store_name, cert_hash, cert_subject, helper_token, helper_token_flags, reply_file_name, dynamic_content, transfer_policy, resumed, notify_at_ns, transfer_ns, reply_temp, reply_total, reply_done, max_bandwidth_kbps, files_total, files_done, bytes_done, bytes_known, sizes_unknown, rev, user_env)
    SELECT id, display_name, description, owner, type, state, priority, created_ns, modified_ns, completed_ns, min_retry_delay_s, no_progress_s, max_download_s, notify_flags, notify_program, notify_parameters, proxy_usage, proxy_list, proxy_bypass, error_count, error_code, error_context, error_message, error_file, transient_since_ns, retry_at_ns, custom_headers, headers_write_only, http_method, security_flags, acl_flags, peer_caching_flags, cert_store_location, cert_store_name, cert_hash, cert_subject, helper_token, helper_token_flags, reply_file_name, dynamic_content, transfer_policy, resumed, notify_at_ns, transfer_ns, reply_temp, reply_total, reply_done, max_bandwidth_kbps, files_total, files_done, bytes_done, bytes_known, sizes_unknown, rev, user_env FROM jobs ORDER BY created_ns, id;

CREATE TABLE files_new (
    job_seq     INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    job_id      TEXT NOT NULL,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    remote_name TEXT NOT NULL,
    local_name  TEXT NOT NULL,
    temp_name   TEXT NOT NULL DEFAULT '',
    bytes_total INTEGER NOT NULL DEFAULT -1 CHECK (bytes_total >= -1),
    bytes_done  INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
    complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    validator   TEXT NOT NULL DEFAULT '',
    ranges      TEXT NOT NULL DEFAULT '',
    validation  INTEGER NOT NULL DEFAULT 0 CHECK (validation BETWEEN 0 AND 2),
    session     TEXT NOT NULL DEFAULT '',
    verified    TEXT NOT NULL DEFAULT '',
    temp_id     TEXT NOT NULL DEFAULT '',
    upload_reach INTEGER NOT NULL DEFAULT 0,
    sha256      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_seq, idx)
) STRICT;
INSERT INTO files_new (job_seq, job_id, idx, remote_name, local_name, temp_name, bytes_total, bytes_done, complete, validator, ranges, validation, session, verified, temp_id, upload_reach, sha256)
    SELECT j.seq, f.job_id, f.idx, f.remote_name, f.local_name, f.temp_name, f.bytes_total, f.bytes_done, f.complete, f.validator, f.ranges, f.validation, f.session, f.verified, f.temp_id, f.upload_reach, f.sha256
    FROM files f JOIN jobs_new j ON j.id = f.job_id ORDER BY j.seq, f.idx;

DROP TABLE files;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
ALTER TABLE files_new RENAME TO files;

-- The indexes and triggers of the tables rebuilt, as before; the files'
-- triggers find their job by its seq.
CREATE INDEX jobs_by_name     ON jobs (display_name);
CREATE INDEX jobs_by_state    ON jobs (state, created_ns, id);
CREATE INDEX jobs_notify_due  ON jobs (notify_at_ns) WHERE notify_at_ns != 0;
CREATE INDEX jobs_by_modified ON jobs (modified_ns);
CREATE INDEX jobs_by_created  ON jobs (created_ns, id);

CREATE TRIGGER job_count_insert AFTER INSERT ON jobs BEGIN
    UPDATE job_count SET n = n + 1;
END;

CREATE TRIGGER job_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_count SET n = n - 1;
END;

CREATE TRIGGER job_totals_update AFTER UPDATE OF complete, bytes_done, bytes_total ON files BEGIN
    UPDATE jobs SET
        files_done    = files_done + NEW.complete - OLD.complete,
        bytes_done    = bytes_done + NEW.bytes_done - OLD.bytes_done,
        bytes_known   = bytes_known + MAX(NEW.bytes_total, 0) - MAX(OLD.bytes_total, 0),
        sizes_unknown = sizes_unknown + (NEW.bytes_total < 0) - (OLD.bytes_total < 0),
        rev           = rev + 1
    WHERE seq = NEW.job_seq;
END;

CREATE TRIGGER job_totals_delete AFTER DELETE ON files BEGIN
    UPDATE jobs SET
        files_total   = files_total - 1,
        files_done    = files_done - OLD.complete,
        bytes_done    = bytes_done - OLD.bytes_done,
        bytes_known   = bytes_known - MAX(OLD.bytes_total, 0),
        sizes_unknown = sizes_unknown - (OLD.bytes_total < 0),
        rev           = rev + 1
    WHERE seq = OLD.job_seq;
END;

CREATE TRIGGER job_changes_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_changes (id) VALUES (NEW.id);
END;

CREATE TRIGGER job_changes_update AFTER UPDATE OF rev ON jobs BEGIN
    INSERT INTO job_changes (id) VALUES (NEW.id);
END;

CREATE TRIGGER job_changes_delete AFTER DELETE ON jobs BEGIN
    INSERT INTO job_changes (id) VALUES (OLD.id);
END;
