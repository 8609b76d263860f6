CREATE TABLE jobs (
    id                  TEXT    PRIMARY KEY,
    display_name        TEXT    NOT NULL,
    description         TEXT    NOT NULL DEFAULT '',
    owner               TEXT    NOT NULL,
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
    notify_program      TEXT    NOT NULL DEFAULT '',
    notify_parameters   TEXT    NOT NULL DEFAULT '',
    proxy_usage         INTEGER NOT NULL DEFAULT 0 CHECK (proxy_usage BETWEEN 0 AND 3),
    proxy_list          TEXT    NOT NULL DEFAULT '',
    proxy_bypass        TEXT    NOT NULL DEFAULT '',
    error_count         INTEGER NOT NULL DEFAULT 0,
    error_code          INTEGER NOT NULL DEFAULT 0,
    error_context       INTEGER NOT NULL DEFAULT 0,
    error_message       TEXT    NOT NULL DEFAULT '',
    error_file          INTEGER NOT NULL DEFAULT -1
) STRICT;

CREATE INDEX jobs_by_name ON jobs (display_name);

CREATE TABLE files (
    job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    remote_name TEXT    NOT NULL,
    local_name  TEXT    NOT NULL,
    temp_name   TEXT    NOT NULL DEFAULT '',
    bytes_total INTEGER NOT NULL DEFAULT -1 CHECK (bytes_total >= -1),
    bytes_done  INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
    complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    validator   TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, idx)
) STRICT;
