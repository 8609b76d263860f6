package storage

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// Job is a row of the jobs table. Times are Unix nanoseconds, durations
// seconds; enums are the numbers the engine gives them.
type Job struct {
	ID, DisplayName, Description, Owner string
	Type, State, Priority               int
	CreatedNS, ModifiedNS, CompletedNS  int64
	MinRetryDelayS, NoProgressS         int64
	MaxDownloadS                        int64
	NotifyFlags                         int64
	NotifyProgram, NotifyParameters     string
	ProxyUsage                          int
	ProxyList, ProxyBypass              string
	ErrorCount                          int64
	ErrorCode, ErrorContext             int64
	ErrorMessage                        string
	ErrorFile                           int64
	TransientSinceNS, RetryAtNS         int64
}

// File is a row of the files table.
type File struct {
	JobID                 string
	Idx                   int
	RemoteName, LocalName string
	TempName              string
	BytesTotal, BytesDone int64
	Complete              bool
	Validator             string
}

// FileProgress is what the worker records at a checkpoint: only these
// columns, so it never overwrites a user's change to the file's names.
type FileProgress struct {
	TempName              string
	BytesTotal, BytesDone int64
	Complete              bool
	Validator             string
}

const jobColumns = `id, display_name, description, owner, type, state, priority,
	created_ns, modified_ns, completed_ns, min_retry_delay_s, no_progress_s, max_download_s,
	notify_flags, notify_program, notify_parameters, proxy_usage, proxy_list, proxy_bypass,
	error_count, error_code, error_context, error_message, error_file,
	transient_since_ns, retry_at_ns`

func (j *Job) fields() []any {
	return []any{&j.ID, &j.DisplayName, &j.Description, &j.Owner, &j.Type, &j.State, &j.Priority,
		&j.CreatedNS, &j.ModifiedNS, &j.CompletedNS, &j.MinRetryDelayS, &j.NoProgressS, &j.MaxDownloadS,
		&j.NotifyFlags, &j.NotifyProgram, &j.NotifyParameters, &j.ProxyUsage, &j.ProxyList, &j.ProxyBypass,
		&j.ErrorCount, &j.ErrorCode, &j.ErrorContext, &j.ErrorMessage, &j.ErrorFile,
		&j.TransientSinceNS, &j.RetryAtNS}
}

func (j Job) values() []any {
	return []any{j.ID, j.DisplayName, j.Description, j.Owner, j.Type, j.State, j.Priority,
		j.CreatedNS, j.ModifiedNS, j.CompletedNS, j.MinRetryDelayS, j.NoProgressS, j.MaxDownloadS,
		j.NotifyFlags, j.NotifyProgram, j.NotifyParameters, j.ProxyUsage, j.ProxyList, j.ProxyBypass,
		j.ErrorCount, j.ErrorCode, j.ErrorContext, j.ErrorMessage, j.ErrorFile,
		j.TransientSinceNS, j.RetryAtNS}
}

const fileColumns = `job_id, idx, remote_name, local_name, temp_name, bytes_total, bytes_done, complete, validator`

func (f *File) fields() []any {
	return []any{&f.JobID, &f.Idx, &f.RemoteName, &f.LocalName, &f.TempName, &f.BytesTotal, &f.BytesDone, &f.Complete, &f.Validator}
}

// Tx is one transaction. Its methods are the only SQL in the project.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
}

// Job returns one job, or ErrNotFound.
func (t *Tx) Job(id string) (Job, error) {
	var j Job
	err := t.tx.QueryRowContext(t.ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id).Scan(j.fields()...)
	if errors.Is(err, sql.ErrNoRows) {
		return j, ErrNotFound
	}
	return j, err
}

// Jobs returns every job, oldest first.
func (t *Tx) Jobs() ([]Job, error) {
	return t.queryJobs(`SELECT ` + jobColumns + ` FROM jobs ORDER BY created_ns, id`)
}

// JobsNamed returns the jobs with this display name, oldest first.
func (t *Tx) JobsNamed(name string) ([]Job, error) {
	return t.queryJobs(`SELECT `+jobColumns+` FROM jobs WHERE display_name = ? ORDER BY created_ns, id`, name)
}

// JobsInState returns the jobs in any of these states, oldest first.
func (t *Tx) JobsInState(states ...int) ([]Job, error) {
	if len(states) == 0 {
		return nil, nil
	}
	args := make([]any, len(states))
	for i, s := range states {
		args[i] = s
	}
	q := `SELECT ` + jobColumns + ` FROM jobs WHERE state IN (?` + strings.Repeat(",?", len(states)-1) + `) ORDER BY created_ns, id`
	return t.queryJobs(q, args...)
}

func (t *Tx) queryJobs(q string, args ...any) ([]Job, error) {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(j.fields()...); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// CountJobs returns how many jobs there are.
func (t *Tx) CountJobs() (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, `SELECT COUNT(*) FROM jobs`).Scan(&n)
	return n, err
}

// InsertJob adds a new job.
func (t *Tx) InsertJob(j Job) error {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(j.values())), ",")
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO jobs (`+jobColumns+`) VALUES (`+ph+`)`, j.values()...)
	return err
}

// UpdateJob writes every column of j, provided the job is still in state
// from (compare-and-set). It reports false when the job has moved on or is
// gone, and then changes nothing.
func (t *Tx) UpdateJob(j Job, from int) (bool, error) {
	cols := strings.Split(jobColumns, ",")
	set := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		set = append(set, strings.TrimSpace(c)+" = ?")
	}
	args := append(j.values()[1:], j.ID, from)
	res, err := t.tx.ExecContext(t.ctx, `UPDATE jobs SET `+strings.Join(set, ", ")+` WHERE id = ? AND state = ?`, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// TouchJob records that the job made progress: its modification time moves
// and the no-progress clock stops. It touches no other column.
func (t *Tx) TouchJob(id string, modifiedNS int64) error {
	_, err := t.tx.ExecContext(t.ctx, `UPDATE jobs SET modified_ns = ?, transient_since_ns = 0 WHERE id = ?`, modifiedNS, id)
	return err
}

// DeleteJob removes a job and its files.
func (t *Tx) DeleteJob(id string) error {
	_, err := t.tx.ExecContext(t.ctx, `DELETE FROM jobs WHERE id = ?`, id)
	return err
}

// Files returns a job's files in the order they were added.
func (t *Tx) Files(jobID string) ([]File, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+fileColumns+` FROM files WHERE job_id = ? ORDER BY idx`, jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		if err := rows.Scan(f.fields()...); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// InsertFile adds a file to a job.
func (t *Tx) InsertFile(f File) error {
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO files (`+fileColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		f.JobID, f.Idx, f.RemoteName, f.LocalName, f.TempName, f.BytesTotal, f.BytesDone, f.Complete, f.Validator)
	return err
}

// SetFileProgress records a file's checkpoint. It reports false when the
// file is gone (its job was cancelled or completed).
func (t *Tx) SetFileProgress(jobID string, idx int, p FileProgress) (bool, error) {
	res, err := t.tx.ExecContext(t.ctx, `UPDATE files SET temp_name = ?, bytes_total = ?, bytes_done = ?, complete = ?, validator = ?
		WHERE job_id = ? AND idx = ?`, p.TempName, p.BytesTotal, p.BytesDone, p.Complete, p.Validator, jobID, idx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
