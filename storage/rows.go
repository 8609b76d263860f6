package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Job is a row of the jobs table. Times are Unix nanoseconds, durations
// seconds; enums are the numbers the engine gives them.
type Job struct {
	ID, DisplayName, Description, Owner  string
	Type, State, Priority                int
	CreatedNS, ModifiedNS, CompletedNS   int64
	MinRetryDelayS, NoProgressS          int64
	MaxDownloadS                         int64
	NotifyFlags                          int64
	NotifyProgram, NotifyParameters      string
	ProxyUsage                           int
	ProxyList, ProxyBypass               string
	ErrorCount                           int64
	ErrorCode, ErrorContext              int64
	ErrorMessage                         string
	ErrorFile                            int64
	TransientSinceNS, RetryAtNS          int64
	CustomHeaders                        string
	HeadersWriteOnly                     bool
	HTTPMethod                           string
	SecurityFlags, ACLFlags              int64
	PeerCachingFlags                     int64
	CertStoreLocation                    int64
	CertStoreName, CertHash, CertSubject string
	HelperToken                          string
	HelperTokenFlags                     int64
	ReplyFileName                        string
	DynamicContent                       bool
	TransferPolicy                       int64
	Resumed                              bool
	NotifyAtNS                           int64
	TransferNS                           int64
	ReplyTemp                            string
	ReplyTotal, ReplyDone                int64
	MaxBandwidthKbps                     int64
	UserEnv                              string // JSON array of "NAME=value"; "" not recorded
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
	Ranges                string // "offset:length,..." in offset order; empty: the whole file
	Validation            int    // 0 not set, 1 valid, 2 not valid
	Session               string // an upload's session with the server
	Verified              string // the digest algorithm the file matched
	TempID                string // "device:inode:birth" of the temporary file when it was made
	UploadReach           int64  // how far an upload's fragments may have reached in its session
	SHA256                string // the digest its user gave, lower-case hex; empty for none
	UnsyncedBoot          string // the boot whose page cache alone holds it; empty once synced
}

// Credential is a row of the credentials table. Nil user and password are
// BITS' NULL NULL: the implicit credentials of the owner.
type Credential struct {
	Target, Scheme int
	User, Password *string
}

// FileProgress is what the worker records at a checkpoint: only these
// columns, so it never overwrites a user's change to the file's names.
type FileProgress struct {
	TempName              string
	TempID                string
	BytesTotal, BytesDone int64
	Complete              bool
	Validator             string
	Session               string
	Verified              string
	UploadReach           int64
	UnsyncedBoot          string
}

// A column is one column of a row type: its name and the field of the row
// that holds it. Each table below lists a row's columns once, in the order
// of its SELECT and INSERT statements; the column lists, scan destinations
// and insert values are all built from it.
type column[R any] struct {
	name  string
	ptr   func(*R) any  // the field, to scan into
	value func(*R) any  // the field's value, to write
	zero  func(*R) bool // the field holds its type's zero value
	// always: an insert writes the column even when it is zero, which is
	// not its default. Another column may be left out of an insert that
	// would write zero in every row (TestOmittedColumnsDefaultToZero).
	always bool
}

// col is the column name of field f of R.
func col[R any, T comparable](name string, f func(*R) *T) column[R] {
	var zero T
	return column[R]{name: name, ptr: func(r *R) any { return f(r) }, value: func(r *R) any { return *f(r) },
		zero: func(r *R) bool { return *f(r) == zero }}
}

// written is c, written by every insert.
func written[R any](c column[R]) column[R] {
	c.always = true
	return c
}

var jobTable = []column[Job]{
	col("id", func(j *Job) *string { return &j.ID }),
	col("display_name", func(j *Job) *string { return &j.DisplayName }),
	col("description", func(j *Job) *string { return &j.Description }),
	col("owner", func(j *Job) *string { return &j.Owner }),
	col("type", func(j *Job) *int { return &j.Type }),
	col("state", func(j *Job) *int { return &j.State }),
	col("priority", func(j *Job) *int { return &j.Priority }),
	col("created_ns", func(j *Job) *int64 { return &j.CreatedNS }),
	col("modified_ns", func(j *Job) *int64 { return &j.ModifiedNS }),
	col("completed_ns", func(j *Job) *int64 { return &j.CompletedNS }),
	col("min_retry_delay_s", func(j *Job) *int64 { return &j.MinRetryDelayS }),
	col("no_progress_s", func(j *Job) *int64 { return &j.NoProgressS }),
	col("max_download_s", func(j *Job) *int64 { return &j.MaxDownloadS }),
	col("notify_flags", func(j *Job) *int64 { return &j.NotifyFlags }),
	col("notify_program", func(j *Job) *string { return &j.NotifyProgram }),
	col("notify_parameters", func(j *Job) *string { return &j.NotifyParameters }),
	col("proxy_usage", func(j *Job) *int { return &j.ProxyUsage }),
	col("proxy_list", func(j *Job) *string { return &j.ProxyList }),
	col("proxy_bypass", func(j *Job) *string { return &j.ProxyBypass }),
	col("error_count", func(j *Job) *int64 { return &j.ErrorCount }),
	col("error_code", func(j *Job) *int64 { return &j.ErrorCode }),
	col("error_context", func(j *Job) *int64 { return &j.ErrorContext }),
	col("error_message", func(j *Job) *string { return &j.ErrorMessage }),
	col("error_file", func(j *Job) *int64 { return &j.ErrorFile }),
	col("transient_since_ns", func(j *Job) *int64 { return &j.TransientSinceNS }),
	col("retry_at_ns", func(j *Job) *int64 { return &j.RetryAtNS }),
	col("custom_headers", func(j *Job) *string { return &j.CustomHeaders }),
	col("headers_write_only", func(j *Job) *bool { return &j.HeadersWriteOnly }),
	col("http_method", func(j *Job) *string { return &j.HTTPMethod }),
	col("security_flags", func(j *Job) *int64 { return &j.SecurityFlags }),
	col("acl_flags", func(j *Job) *int64 { return &j.ACLFlags }),
	col("peer_caching_flags", func(j *Job) *int64 { return &j.PeerCachingFlags }),
	col("cert_store_location", func(j *Job) *int64 { return &j.CertStoreLocation }),
	col("cert_store_name", func(j *Job) *string { return &j.CertStoreName }),
	col("cert_hash", func(j *Job) *string { return &j.CertHash }),
	col("cert_subject", func(j *Job) *string { return &j.CertSubject }),
	col("helper_token", func(j *Job) *string { return &j.HelperToken }),
	col("helper_token_flags", func(j *Job) *int64 { return &j.HelperTokenFlags }),
	col("reply_file_name", func(j *Job) *string { return &j.ReplyFileName }),
	col("dynamic_content", func(j *Job) *bool { return &j.DynamicContent }),
	col("transfer_policy", func(j *Job) *int64 { return &j.TransferPolicy }),
	col("resumed", func(j *Job) *bool { return &j.Resumed }),
	col("notify_at_ns", func(j *Job) *int64 { return &j.NotifyAtNS }),
	col("transfer_ns", func(j *Job) *int64 { return &j.TransferNS }),
	col("reply_temp", func(j *Job) *string { return &j.ReplyTemp }),
	col("reply_total", func(j *Job) *int64 { return &j.ReplyTotal }),
	col("reply_done", func(j *Job) *int64 { return &j.ReplyDone }),
	col("max_bandwidth_kbps", func(j *Job) *int64 { return &j.MaxBandwidthKbps }),
	col("user_env", func(j *Job) *string { return &j.UserEnv }),
}

var fileTable = []column[File]{
	written(col("job_id", func(f *File) *string { return &f.JobID })),
	written(col("idx", func(f *File) *int { return &f.Idx })),
	written(col("remote_name", func(f *File) *string { return &f.RemoteName })),
	written(col("local_name", func(f *File) *string { return &f.LocalName })),
	col("temp_name", func(f *File) *string { return &f.TempName }),
	written(col("bytes_total", func(f *File) *int64 { return &f.BytesTotal })),
	col("bytes_done", func(f *File) *int64 { return &f.BytesDone }),
	col("complete", func(f *File) *bool { return &f.Complete }),
	col("validator", func(f *File) *string { return &f.Validator }),
	col("ranges", func(f *File) *string { return &f.Ranges }),
	col("validation", func(f *File) *int { return &f.Validation }),
	col("session", func(f *File) *string { return &f.Session }),
	col("verified", func(f *File) *string { return &f.Verified }),
	col("temp_id", func(f *File) *string { return &f.TempID }),
	col("upload_reach", func(f *File) *int64 { return &f.UploadReach }),
	col("sha256", func(f *File) *string { return &f.SHA256 }),
	col("unsynced_boot", func(f *File) *string { return &f.UnsyncedBoot }),
}

// names is the comma-separated list of the columns' names.
func names[R any](cols []column[R]) string {
	ns := make([]string, len(cols))
	for i, c := range cols {
		ns[i] = c.name
	}
	return strings.Join(ns, ", ")
}

// pointers appends the scan destinations of r's columns to dst.
func pointers[R any](dst []any, cols []column[R], r *R) []any {
	for _, c := range cols {
		dst = append(dst, c.ptr(r))
	}
	return dst
}

// values appends the values of r's columns to dst.
func values[R any](dst []any, cols []column[R], r *R) []any {
	for _, c := range cols {
		dst = append(dst, c.value(r))
	}
	return dst
}

// placeholders is "?, ?, ..." for n values.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

var (
	jobColumns  = names(jobTable)
	fileColumns = names(fileTable)
)

func (j *Job) fields() []any { return pointers(make([]any, 0, len(jobTable)+1), jobTable, j) }

func (j *Job) values() []any { return values(make([]any, 0, len(jobTable)+2), jobTable, j) }

func (f *File) fields() []any { return pointers(make([]any, 0, len(fileTable)), fileTable, f) }

// Tx is one transaction. Its methods are the only SQL in the project.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
	// stmts holds the statements used in this transaction, by their text:
	// a transaction that creates thousands of jobs compiles each of its
	// statements once at most.
	stmts map[string]*sql.Stmt
	// shared are the pool's statements; unshared lists those this
	// transaction compiled itself, for the pool to prepare after it.
	shared   *statements
	unshared []string
}

// stmt returns the statement q: the pool's, bound to this transaction,
// or compiled on its first use in t. The transaction closes it when it
// ends.
func (t *Tx) stmt(q string) (*sql.Stmt, error) {
	if s, ok := t.stmts[q]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if shared := t.shared.lookup(q); shared != nil {
		s = t.tx.StmtContext(t.ctx, shared)
	} else {
		var err error
		if s, err = t.tx.PrepareContext(t.ctx, q); err != nil {
			return nil, err
		}
		t.unshared = append(t.unshared, q)
	}
	t.stmts[q] = s
	return s, nil
}

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	s, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(t.ctx, args...)
}

// scanner is a row to read, or the error that prevented the query.
type scanner interface{ Scan(dest ...any) error }

type failedRow struct{ err error }

func (r failedRow) Scan(...any) error { return r.err }

func (t *Tx) queryRow(q string, args ...any) scanner {
	s, err := t.stmt(q)
	if err != nil {
		return failedRow{err}
	}
	return s.QueryRowContext(t.ctx, args...)
}

// Job returns one job, or ErrNotFound.
func (t *Tx) Job(id string) (Job, error) {
	var j Job
	err := t.queryRow(`SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id).Scan(j.fields()...)
	if errors.Is(err, sql.ErrNoRows) {
		return j, ErrNotFound
	}
	return j, err
}

// JobState returns one job's state, or ErrNotFound: a transfer's records
// check it, and the whole row costs more to ask for than the write they make.
func (t *Tx) JobState(id string) (int, error) {
	var state int
	err := t.queryRow(`SELECT state FROM jobs WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return state, err
}

// Summary is what a list of jobs shows of each: a few of the job's columns
// and the totals over its files that the store keeps (see migration 0010),
// so a list reads one row per job.
type Summary struct {
	ID, DisplayName, Owner string
	Type, State            int
	FilesTotal, FilesDone  int
	BytesDone, BytesKnown  int64
	SizesUnknown           int
}

// EachSummary calls fn for every job's summary, oldest first, reading the
// store as it goes.
func (t *Tx) EachSummary(fn func(Summary) error) error {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT id, display_name, owner, type, state,
		files_total, files_done, bytes_done, bytes_known, sizes_unknown FROM jobs ORDER BY created_ns, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m Summary
		if err := rows.Scan(&m.ID, &m.DisplayName, &m.Owner, &m.Type, &m.State,
			&m.FilesTotal, &m.FilesDone, &m.BytesDone, &m.BytesKnown, &m.SizesUnknown); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CredentialKind names a credential without its secrets: what a listing
// may show.
type CredentialKind struct{ Target, Scheme int }

// EachJob calls fn for every job, oldest first, with its files and the
// kinds of its credentials, reading the store as it goes, so a list of any
// length holds a few jobs at a time. fn's slices are valid until it
// returns: the next job's files reuse them.
//
// Three things make a list of 100,000 jobs fast. Each row comes packed in
// one column (json_array): every column read through the driver costs as
// much as a row's worth of SQLite's own work. The files are read in the
// order they were written (see fileMerge), which is the jobs' order but
// for files added to an older job later: read by job, each job's files
// would be a query of its own. And a goroutine reads the rows while this
// one unpacks them and calls fn: SQLite's work is most of the whole, and
// the rest can have the other core.
func (t *Tx) EachJob(fn func(Job, []File, []CredentialKind) error) error {
	jobs, err := t.tx.QueryContext(t.ctx, `SELECT json_array(`+jobColumns+`, files_total) FROM jobs ORDER BY created_ns, id`)
	if err != nil {
		return err
	}
	defer jobs.Close()
	files, err := t.fileChunks()
	if err != nil {
		return err
	}
	defer files.close()
	creds, err := t.tx.QueryContext(t.ctx, `SELECT c.job_id, c.target, c.scheme FROM jobs j JOIN credentials c ON c.job_id = j.id
		ORDER BY j.created_ns, j.id, c.target, c.scheme`)
	if err != nil {
		return err
	}
	defer creds.Close()

	read := make(chan packedJob, 32)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(read)
		readErr = t.readPacked(jobs, files, creds, read, stop)
	}()
	defer func() {
		close(stop)
		for range read { // until the reader has ended, and no longer uses the rows
		}
	}()
	// One row's fields are read into j and f and then copied: no
	// destinations to allocate per row.
	var j Job
	var f File
	var nfiles int
	jobDest, fileDest := append(j.fields(), &nfiles), f.fields()
	var buf []File
	for p := range read {
		if err := unpack(p.job, jobDest...); err != nil {
			return fmt.Errorf("storage: job row %.40q: %w", p.job, err)
		}
		fs := p.byJob
		if p.files != nil {
			fs = buf[:0]
			for _, packed := range p.files {
				if err := unpack(packed, fileDest...); err != nil {
					return fmt.Errorf("storage: file row %.40q: %w", packed, err)
				}
				fs = append(fs, f)
			}
			if !slices.IsSortedFunc(fs, byIdx) {
				slices.SortFunc(fs, byIdx)
			}
			buf = fs
		}
		if err := fn(j, fs, p.kinds); err != nil {
			return err
		}
	}
	return readErr
}

// packedJob is a job's row and its files' rows as SQLite packed them, or
// its files read by job; and the kinds of its credentials.
type packedJob struct {
	job   string
	files []string
	byJob []File
	kinds []CredentialKind
}

func byIdx(a, b File) int { return a.Idx - b.Idx }

// readPacked sends each job's rows to out, oldest first, until the rows
// end or stop is closed.
func (t *Tx) readPacked(jobs *sql.Rows, files *fileChunks, creds *sql.Rows, out chan<- packedJob, stop <-chan struct{}) error {
	merge := &fileMerge{tx: t, rows: files, pending: map[string][]string{}}
	type kind struct {
		job string
		CredentialKind
	}
	nextCred := peeker(creds, func(c *kind) (string, error) { return c.job, creds.Scan(&c.job, &c.Target, &c.Scheme) })
	for jobs.Next() {
		var p packedJob
		if err := jobs.Scan(&p.job); err != nil {
			return err
		}
		// The job's GUID is its row's first element, its number of files
		// the last.
		id, _, err := jsonString(strings.TrimPrefix(p.job, "["))
		if err != nil {
			return fmt.Errorf("storage: job row %.40q: %w", p.job, err)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(p.job[strings.LastIndexByte(p.job, ',')+1:], "]"))
		if err != nil {
			return fmt.Errorf("storage: job row %.40q: %w", p.job, err)
		}
		if p.files, p.byJob, err = merge.take(id, n); err != nil {
			return err
		}
		ks, err := nextCred(id)
		if err != nil {
			return err
		}
		for _, k := range ks {
			p.kinds = append(p.kinds, k.CredentialKind)
		}
		select {
		case out <- p:
		case <-stop:
			return nil
		}
	}
	return errors.Join(jobs.Err(), creds.Err())
}

// maxPending is how many files fileMerge holds for jobs not listed yet
// before it gives up reading in write order (a variable for tests).
var maxPending = 10000

// fileMerge hands out each job's files from one cursor over the files in
// the order they were written (rowid), a sequential read. A job's files
// are usually written with it, so they come in the jobs' order; a file
// added later to an older job comes after newer jobs' files, which wait in
// pending until their job is listed. When too many wait (files added to
// old jobs in the reverse of their order, say), the rest of the jobs read
// their files by job instead: slower, in bounded memory.
type fileMerge struct {
	tx      *Tx
	rows    *fileChunks         // nil once reading by job
	pending map[string][]string // packed rows, by job
	held    int
}

// take returns the packed rows of the files of job, which has n of them;
// or, once reading by job, the files themselves.
func (m *fileMerge) take(job string, n int) (packed []string, byJob []File, err error) {
	if n == 0 {
		return nil, nil, nil
	}
	if m.rows == nil {
		byJob, err = m.tx.Files(job)
		return nil, byJob, err
	}
	out := m.pending[job]
	if out != nil {
		delete(m.pending, job)
		m.held -= len(out)
	} else {
		out = make([]string, 0, n)
	}
	for len(out) < n {
		row, err := m.rows.next()
		if err != nil {
			return nil, nil, err
		}
		if row == "" {
			break // no more files
		}
		// A file's row starts with its job's GUID.
		of, _, err := jsonString(strings.TrimPrefix(row, "["))
		if err != nil {
			return nil, nil, fmt.Errorf("storage: file row %.40q: %w", row, err)
		}
		if of == job {
			out = append(out, row)
			continue
		}
		// A copy: the row is part of a chunk of many.
		m.pending[of] = append(m.pending[of], strings.Clone(row))
		if m.held++; m.held > maxPending {
			if err := m.rows.close(); err != nil {
				return nil, nil, err
			}
			m.rows, m.pending = nil, nil
			byJob, err = m.tx.Files(job)
			return nil, byJob, err
		}
	}
	return out, nil, nil
}

// chunkRows is how many rowids of files one query of fileChunks reads (a
// variable for tests).
var chunkRows int64 = 1024

// fileChunks reads the files' rows in rowid order a chunk of rowids at a
// time, each chunk's packed rows joined in one string by SQLite
// (group_concat): a row a step through the driver cost about as much
// again as SQLite's own work for it.
type fileChunks struct {
	tx        *Tx
	stmt      *sql.Stmt
	from, max int64  // the next chunk's first rowid; the last rowid
	buf       string // the current chunk's rows not handed out yet
}

func (t *Tx) fileChunks() (*fileChunks, error) {
	c := &fileChunks{tx: t}
	if err := t.queryRow(`SELECT COALESCE(MAX(rowid), 0) FROM files`).Scan(&c.max); err != nil {
		return nil, err
	}
	var err error
	c.stmt, err = t.tx.PrepareContext(t.ctx, `SELECT COALESCE(group_concat(json_array(`+fileColumns+`), ','), '')
		FROM files WHERE rowid BETWEEN ? AND ?`)
	return c, err
}

// next returns the next file's packed row, or "" after the last one.
func (c *fileChunks) next() (string, error) {
	for c.buf == "" {
		if c.from > c.max {
			return "", nil
		}
		if err := c.stmt.QueryRowContext(c.tx.ctx, c.from, c.from+chunkRows-1).Scan(&c.buf); err != nil {
			return "", err
		}
		c.from += chunkRows
	}
	row, rest, err := splitRow(c.buf)
	if err != nil {
		return "", fmt.Errorf("storage: file rows %.40q: %w", c.buf, err)
	}
	c.buf = strings.TrimPrefix(rest, ",")
	return row, nil
}

func (c *fileChunks) close() error { return c.stmt.Close() }

// splitRow cuts the first of a list of flat JSON arrays, like those
// json_array makes, from s.
func splitRow(s string) (row, rest string, err error) {
	if s == "" || s[0] != '[' {
		return "", "", errors.New("not a JSON array")
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case ']':
			return s[:i+1], s[i+1:], nil
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		}
	}
	return "", "", errors.New("unterminated array")
}

// peeker reads rows that come grouped by job, in the jobs' order, and
// returns what takes the next job's group: the rows of that job, leaving
// the first row of the next one read ahead. scan reads the current row and
// says which job it belongs to.
func peeker[T any](rows *sql.Rows, scan func(*T) (string, error)) func(job string) ([]T, error) {
	var ahead *T
	var aheadJob string
	return func(job string) ([]T, error) {
		var out []T
		for {
			if ahead == nil {
				if !rows.Next() {
					return out, nil
				}
				ahead = new(T)
				var err error
				if aheadJob, err = scan(ahead); err != nil {
					return nil, err
				}
			}
			if aheadJob != job {
				return out, nil // the next job's
			}
			out = append(out, *ahead)
			ahead = nil
		}
	}
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
	in, args := inList(states)
	return t.queryJobs(`SELECT `+jobColumns+` FROM jobs WHERE state IN (`+in+`) ORDER BY created_ns, id`, args...)
}

// inList is the placeholders of an SQL IN list of these values, and the
// values as query arguments.
func inList(values []int) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return placeholders(len(values)), args
}

// FilesOf returns the files of these jobs, by job, each job's in the order
// they were added: one query for what would take one per job.
func (t *Tx) FilesOf(jobIDs []string) (map[string][]File, error) {
	out := map[string][]File{}
	if len(jobIDs) == 0 {
		return out, nil
	}
	ids, err := json.Marshal(jobIDs)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+fileColumns+` FROM files
		WHERE job_seq IN (SELECT seq FROM jobs WHERE id IN (SELECT value FROM json_each(?))) ORDER BY job_seq, idx`, string(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var f File
		if err := rows.Scan(f.fields()...); err != nil {
			return nil, err
		}
		out[f.JobID] = append(out[f.JobID], f)
	}
	return out, rows.Err()
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

// CountWaiting returns how many jobs are in any of these states or have a
// notification due: an index's count, not a read of each job.
func (t *Tx) CountWaiting(states ...int) (int, error) {
	in, args := inList(states)
	var n int
	err := t.queryRow(`SELECT (SELECT COUNT(*) FROM jobs WHERE state IN (`+in+`))
		+ (SELECT COUNT(*) FROM jobs WHERE notify_at_ns != 0 AND state NOT IN (`+in+`))`, append(args, args...)...).Scan(&n)
	return n, err
}

// JobsNotifyDue returns the jobs whose notification program is due or
// being retried.
func (t *Tx) JobsNotifyDue() ([]Job, error) {
	return t.queryJobs(`SELECT ` + jobColumns + ` FROM jobs WHERE notify_at_ns != 0 ORDER BY notify_at_ns`)
}

// Revision is where a job stands: its revision and its state.
type Revision struct {
	Rev   int64
	State int
}

// Revisions returns the revision and state of every job in any of these
// states (found through the state index), or of every job with no states
// given, by id: what tells a reader which jobs changed since it last read
// them.
func (t *Tx) Revisions(states ...int) (map[string]Revision, error) {
	q, args := `SELECT id, rev, state FROM jobs`, []any(nil)
	if len(states) > 0 {
		var in string
		in, args = inList(states)
		q += ` WHERE state IN (` + in + `)`
	}
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanRevisions(rows)
}

// RevisionsOf returns the revision and state of these jobs, those that
// exist, by id.
func (t *Tx) RevisionsOf(ids []string) (map[string]Revision, error) {
	if len(ids) == 0 {
		return map[string]Revision{}, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT id, rev, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))`, string(b))
	if err != nil {
		return nil, err
	}
	return scanRevisions(rows)
}

// scanRevisions reads rows of (id, rev, state) and closes them.
func scanRevisions(rows *sql.Rows) (map[string]Revision, error) {
	defer rows.Close()
	out := map[string]Revision{}
	for rows.Next() {
		var id string
		var r Revision
		if err := rows.Scan(&id, &r.Rev, &r.State); err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, rows.Err()
}

// LastChange is the number of the last entry of the log of changed jobs
// (0 with none).
func (t *Tx) LastChange() (int64, error) {
	var n int64
	err := t.tx.QueryRowContext(t.ctx, `SELECT COALESCE(MAX(seq), 0) FROM job_changes`).Scan(&n)
	return n, err
}

// ChangesSince returns the jobs that changed (made, changed or deleted)
// after entry seq of the log of changes, each once, and the last entry.
// complete is false when the log no longer holds every entry after seq:
// the reader fell behind and reads every job instead.
func (t *Tx) ChangesSince(seq int64) (ids []string, last int64, complete bool, err error) {
	var first int64
	if err := t.tx.QueryRowContext(t.ctx, `SELECT COALESCE(MIN(seq), 0) FROM job_changes`).Scan(&first); err != nil {
		return nil, 0, false, err
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT seq, id FROM job_changes WHERE seq > ? ORDER BY seq`, seq)
	if err != nil {
		return nil, 0, false, err
	}
	defer rows.Close()
	last = seq
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&last, &id); err != nil {
			return nil, 0, false, err
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, last, first <= seq+1 || last == seq, rows.Err()
}

// JobsByID returns these jobs, those that exist, oldest first.
func (t *Tx) JobsByID(ids []string) ([]Job, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return t.queryJobs(`SELECT `+jobColumns+` FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY created_ns, id`, string(b))
}

// OldestModified returns the earliest modification time of any job, and
// false when there is none.
func (t *Tx) OldestModified() (int64, bool, error) {
	var ns sql.NullInt64
	err := t.queryRow(`SELECT MIN(modified_ns) FROM jobs`).Scan(&ns)
	return ns.Int64, ns.Valid, err
}

// JobsModifiedBefore returns the IDs of the jobs last modified before ns,
// the one modified longest ago first. Every command asks, and usually none
// is: a statement of one column is cheaper to prepare than one of all.
func (t *Tx) JobsModifiedBefore(ns int64) ([]string, error) {
	s, err := t.stmt(`SELECT id FROM jobs WHERE modified_ns < ? ORDER BY modified_ns`)
	if err != nil {
		return nil, err
	}
	rows, err := s.QueryContext(t.ctx, ns)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CountJobs returns how many jobs there are.
func (t *Tx) CountJobs() (int, error) {
	var n int
	err := t.queryRow(`SELECT n FROM job_count`).Scan(&n)
	return n, err
}

// ErrExists is returned by InsertJob when a job has the same ID.
var ErrExists = errors.New("storage: a job has this ID")

// InsertJob adds a new job with its files, or returns ErrExists and adds
// nothing. The job's row is written with its files' totals, so that a new
// job costs two statements whatever its number of files.
func (t *Tx) InsertJob(j Job, files []File) error {
	var sum totals
	for i := range files {
		sum.add(&files[i])
	}
	var seq int64
	err := t.queryRow(insertJob, append(j.values(), sum.n, sum.done, sum.bytesDone, sum.known, sum.unknown)...).Scan(&seq)
	if se := (*sqlite.Error)(nil); errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return ErrExists
	}
	if err != nil {
		return err
	}
	return t.insertFileRows(seq, files)
}

var insertJob = `INSERT INTO jobs (` + jobColumns + `, files_total, files_done, bytes_done, bytes_known, sizes_unknown)
	VALUES (` + placeholders(len(jobTable)+5) + `) RETURNING seq`

// updateJob sets every column but the ID of the job with this ID in this
// state.
var updateJob = func() string {
	set := make([]string, 0, len(jobTable)-1)
	for _, c := range jobTable[1:] {
		set = append(set, c.name+" = ?")
	}
	return `UPDATE jobs SET ` + strings.Join(set, ", ") + `, rev = rev + 1 WHERE id = ? AND state = ?`
}()

// UpdateJob writes every column of j, provided the job is still in state
// from (compare-and-set). It reports false when the job has moved on or is
// gone, and then changes nothing.
func (t *Tx) UpdateJob(j Job, from int) (bool, error) {
	args := append(j.values()[1:], j.ID, from)
	res, err := t.exec(updateJob, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// TouchJob records that the job made progress: its modification time moves
// and the no-progress clock stops. It touches no other column.
func (t *Tx) TouchJob(id string, modifiedNS int64) error {
	_, err := t.exec(`UPDATE jobs SET modified_ns = ?, transient_since_ns = 0, rev = rev + 1 WHERE id = ?`, modifiedNS, id)
	return err
}

// AddTransferTime adds d nanoseconds to the time a job has spent
// transferring.
func (t *Tx) AddTransferTime(id string, d int64) error {
	_, err := t.exec(`UPDATE jobs SET transfer_ns = transfer_ns + ?, rev = rev + 1 WHERE id = ?`, max(d, 0), id)
	return err
}

// SetReplyProgress records an upload-reply job's reply: its temporary
// file and its progress.
func (t *Tx) SetReplyProgress(id, temp string, total, done int64) error {
	_, err := t.exec(`UPDATE jobs SET reply_temp = ?, reply_total = ?, reply_done = ?, rev = rev + 1 WHERE id = ?`, temp, total, done, id)
	return err
}

// DeleteJob removes a job and its files.
func (t *Tx) DeleteJob(id string) error {
	_, err := t.exec(`DELETE FROM jobs WHERE id = ?`, id)
	return err
}

// Files returns a job's files in the order they were added.
func (t *Tx) Files(jobID string) ([]File, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+fileColumns+` FROM files WHERE job_seq = (SELECT seq FROM jobs WHERE id = ?) ORDER BY idx`, jobID)
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

// InsertFiles adds files to jobs that exist, and adds them to their jobs'
// totals: one insert and one update for each run of files of the same job.
func (t *Tx) InsertFiles(fs []File) error {
	for i := 0; i < len(fs); {
		var sum totals
		j := i
		for ; j < len(fs) && fs[j].JobID == fs[i].JobID; j++ {
			sum.add(&fs[j])
		}
		var seq int64
		err := t.queryRow(`UPDATE jobs SET files_total = files_total + ?, files_done = files_done + ?, bytes_done = bytes_done + ?,
			bytes_known = bytes_known + ?, sizes_unknown = sizes_unknown + ?, rev = rev + 1 WHERE id = ? RETURNING seq`,
			sum.n, sum.done, sum.bytesDone, sum.known, sum.unknown, fs[i].JobID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := t.insertFileRows(seq, fs[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// insertFileRows adds files of the job numbered seq in one statement,
// leaving its totals to the caller. The columns that are zero in every row
// are left to their defaults: a new job's files bind 6 values each instead
// of 17.
func (t *Tx) insertFileRows(seq int64, fs []File) error {
	if len(fs) == 0 {
		return nil
	}
	cols := make([]column[File], 0, len(fileTable))
	for _, c := range fileTable {
		for i := range fs {
			if c.always || !c.zero(&fs[i]) {
				cols = append(cols, c)
				break
			}
		}
	}
	row := "(" + placeholders(len(cols)+1) + ")"
	args := make([]any, 0, len(fs)*(len(cols)+1))
	for i := range fs {
		args = values(append(args, seq), cols, &fs[i])
	}
	_, err := t.exec(`INSERT INTO files (job_seq, `+names(cols)+`) VALUES `+strings.TrimSuffix(strings.Repeat(row+",", len(fs)), ","), args...)
	return err
}

// totals are what a job's row keeps of its files (migration 0010).
type totals struct{ n, done, bytesDone, known, unknown int64 }

func (s *totals) add(f *File) {
	s.n++
	if f.Complete {
		s.done++
	}
	s.bytesDone += f.BytesDone
	if f.BytesTotal >= 0 {
		s.known += f.BytesTotal
	} else {
		s.unknown++
	}
}

// UpdateFileNames changes a file's remote name (ReplaceRemotePrefix) and
// its validation state; progress columns stay as they are.
func (t *Tx) UpdateFileNames(jobID string, idx int, remote string, validation int) error {
	_, err := t.exec(`UPDATE files SET remote_name = ?, validation = ? WHERE job_seq = (SELECT seq FROM jobs WHERE id = ?) AND idx = ?`,
		remote, validation, jobID, idx)
	return err
}

// Credentials returns a job's credentials, secrets included: only the
// transfer code may call it.
func (t *Tx) Credentials(jobID string) ([]Credential, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT target, scheme, user_name, password FROM credentials WHERE job_id = ? ORDER BY target, scheme`, jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Credential
	for rows.Next() {
		var c Credential
		if err := rows.Scan(&c.Target, &c.Scheme, &c.User, &c.Password); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PutCredential stores or replaces the credential for (target, scheme).
func (t *Tx) PutCredential(jobID string, c Credential) error {
	_, err := t.exec(`INSERT INTO credentials (job_id, target, scheme, user_name, password) VALUES (?,?,?,?,?)
		ON CONFLICT (job_id, target, scheme) DO UPDATE SET user_name = excluded.user_name, password = excluded.password`,
		jobID, c.Target, c.Scheme, c.User, c.Password)
	return err
}

// DeleteCredentials removes a job's credential for (target, scheme), or all
// of them when target is 0.
func (t *Tx) DeleteCredentials(jobID string, target, scheme int) error {
	if target == 0 {
		_, err := t.exec(`DELETE FROM credentials WHERE job_id = ?`, jobID)
		return err
	}
	_, err := t.exec(`DELETE FROM credentials WHERE job_id = ? AND target = ? AND scheme = ?`, jobID, target, scheme)
	return err
}

// MarkSynced records that every file of the job is on disk.
func (t *Tx) MarkSynced(jobID string) error {
	_, err := t.exec(`UPDATE files SET unsynced_boot = '' WHERE unsynced_boot != '' AND job_seq = (SELECT seq FROM jobs WHERE id = ?)`, jobID)
	return err
}

// ForgetJobUnsynced starts again from byte 0 the job's files recorded
// complete but not synced.
func (t *Tx) ForgetJobUnsynced(jobID string) error {
	_, err := t.exec(`UPDATE files SET complete = 0, bytes_done = 0, unsynced_boot = '' WHERE unsynced_boot != '' AND job_seq = (SELECT seq FROM jobs WHERE id = ?)`, jobID)
	return err
}

// ForgetUnsynced starts again from byte 0 the files recorded complete in
// another boot than boot, but not synced then: their bytes may never have
// reached the disk. It returns how many there were.
func (t *Tx) ForgetUnsynced(boot string) (int64, error) {
	res, err := t.exec(`UPDATE files SET complete = 0, bytes_done = 0, unsynced_boot = '' WHERE unsynced_boot != '' AND unsynced_boot != ?`, boot)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetFileProgress records a file's checkpoint. It reports false when the
// file is gone (its job was cancelled or completed).
func (t *Tx) SetFileProgress(jobID string, idx int, p FileProgress) (bool, error) {
	res, err := t.exec(`UPDATE files SET temp_name = ?, temp_id = ?, bytes_total = ?, bytes_done = ?, complete = ?, validator = ?,
		session = ?, verified = ?, upload_reach = ?, unsynced_boot = ? WHERE job_seq = (SELECT seq FROM jobs WHERE id = ?) AND idx = ?`,
		p.TempName, p.TempID, p.BytesTotal, p.BytesDone, p.Complete, p.Validator, p.Session, p.Verified, p.UploadReach, p.UnsyncedBoot, jobID, idx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
