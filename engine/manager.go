// Package engine owns the job model: jobs, files, states and their rules,
// and Manager, the one API through which front ends, the worker and Go
// programs read and change jobs. It imports storage and the transports; it
// must never import a front end.
package engine

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"bits/engine/policy"
	"bits/engine/spawn"
	"bits/engine/transport"
	"bits/hresult"
	"bits/storage"
)

// Limits with the defaults of the BITS group policies.
const (
	DefaultMaxJobsPerUser       = 60
	DefaultMaxFilesPerJob       = 200
	DefaultMaxRangesPerFile     = 500
	DefaultJobInactivityTimeout = 90 * 24 * time.Hour
	MaxDisplayName              = 256
	MaxDescription              = 1024
	MaxRemoteName               = 2200
)

// Options configure a Manager. Zero values take the defaults.
type Options struct {
	// Home is the state folder; empty resolves $BITS_HOME, then
	// $XDG_STATE_HOME/bits, then ~/.local/state/bits.
	Home string
	// Now and NewID are injected by tests for stable times and GUIDs.
	Now   func() time.Time
	NewID func() string
	// StartWorker makes sure a worker runs and knows that jobs changed.
	// Nil starts `bitsjob worker` in the background when none runs.
	StartWorker func(home string) error
	// Owner is the DOMAIN\user string recorded on new jobs; empty uses
	// host\user of the calling process.
	Owner string

	// Limits; zero takes the policy file's value, else BITS' default.
	MaxJobsPerUser       int
	MaxFilesPerJob       int
	MaxRangesPerFile     int
	JobInactivityTimeout time.Duration

	// Transports move the bytes; nil takes DefaultTransports.
	Transports *transport.Registry
}

// Manager reads and changes jobs. Every method is one database transaction
// that enforces the state machine, so front ends in other processes and the
// worker can use it at the same time.
type Manager struct {
	opts  Options
	home  string
	store *storage.Store
	// owner is the user whose store root opened (openOther); nil for the
	// caller's own. Root changes that user's files only as that user.
	owner *spawn.Account

	startMu sync.Mutex
	started bool // this Manager started a worker

	// ownerName is opts.Owner, else the calling user's, looked up (through
	// NSS) when a job first needs it rather than at every open.
	ownerName func() string

	changesMu sync.Mutex
	changes   *storage.Changes // opened by the first WaitChange
}

// Open opens the job store in the state folder, creating it (mode 0700)
// and the database (mode 0600) when needed.
func Open(opts Options) (*Manager, error) {
	home, err := ResolveHome(opts.Home)
	if err != nil {
		return nil, err
	}
	if err := makeFolder(home); err != nil {
		return nil, err
	}
	st, err := storage.Open(filepath.Join(home, "jobs.db"))
	if err != nil {
		return nil, err
	}
	m, err := newManager(opts, home, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return m, nil
}

// makeFolder creates the state folder if it is missing and makes it
// private (0700); a folder of another user's, where a link may lead, keeps
// its mode.
func makeFolder(home string) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	d, err := os.Open(home)
	if err != nil {
		return err
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return nil
	}
	return d.Chmod(0o700)
}

// newManager completes opts with the defaults and the policy file.
func newManager(opts Options, home string, st *storage.Store) (*Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = newGUID
	}
	if opts.StartWorker == nil {
		opts.StartWorker = spawn.Start
	}
	if opts.Transports == nil {
		opts.Transports = DefaultTransports()
	}
	pol, err := policy.Load(policy.Path())
	if err != nil {
		return nil, err
	}
	opts.MaxJobsPerUser = cmp.Or(opts.MaxJobsPerUser, pol.MaxJobsPerUser)
	opts.MaxFilesPerJob = cmp.Or(opts.MaxFilesPerJob, pol.MaxFilesPerJob)
	opts.MaxRangesPerFile = cmp.Or(opts.MaxRangesPerFile, pol.MaxRangesPerFile)
	opts.JobInactivityTimeout = cmp.Or(opts.JobInactivityTimeout, pol.JobInactivityTimeout)
	m := &Manager{opts: opts, home: home, store: st}
	m.ownerName = sync.OnceValue(func() string {
		if opts.Owner != "" {
			return opts.Owner
		}
		return currentOwner()
	})
	return m, nil
}

// ResolveHome returns the state folder that dir names, or the default one.
func ResolveHome(dir string) (string, error) {
	switch {
	case dir != "":
	case os.Getenv("BITS_HOME") != "":
		dir = os.Getenv("BITS_HOME")
	case os.Getenv("XDG_STATE_HOME") != "":
		dir = filepath.Join(os.Getenv("XDG_STATE_HOME"), "bits")
	default:
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state folder: set BITS_HOME: %w", err)
		}
		dir = filepath.Join(h, ".local", "state", "bits")
	}
	return filepath.Abs(dir)
}

// Home returns the state folder.
func (m *Manager) Home() string { return m.home }

// Close closes the store. When root closed another user's store, the
// database files it may have created there go back to that user.
func (m *Manager) Close() error {
	m.changesMu.Lock()
	if m.changes != nil {
		m.changes.Close()
	}
	m.changesMu.Unlock()
	err := m.store.Close()
	if m.owner != nil {
		giveBack(m.home, *m.owner)
	}
	return err
}

// WaitChange returns when any job has changed, through any process (the
// worker, a front end, another Manager), since the last WaitChange
// returned; after atMost when none has; or with ctx's error. A change is
// seen within about 10 ms, so a front end that follows a job learns of
// its end at once rather than at its next poll. The first call returns at
// once: it starts following, and what changed before it is unknown.
func (m *Manager) WaitChange(ctx context.Context, atMost time.Duration) error {
	m.changesMu.Lock()
	if m.changes == nil {
		c, err := m.store.Changes(ctx)
		m.changes = c
		m.changesMu.Unlock()
		return err
	}
	c := m.changes
	m.changesMu.Unlock()
	_, err := c.Wait(ctx, atMost)
	return err
}

// progressEvery is how often WaitJob lets a change of progress alone
// through; stateEvery is how often at most WaitJob and WaitState read the
// job's state.
const (
	progressEvery = 100 * time.Millisecond
	stateEvery    = 10 * time.Millisecond
)

// WaitJob is WaitChange for a front end that follows one job, last seen
// in state last: it returns within about 10 ms of a change of the job's
// state (or of its going away), and of changes of its progress alone at
// most every 100 ms. A job of many small files changes hundreds of times a
// second: the follower reads the job's state at most every 10 ms, and all
// its files at most every 100 ms, not at each change, and so leaves the
// machine to the transfer.
func (m *Manager) WaitJob(ctx context.Context, id string, last State, atMost time.Duration) error {
	return m.waitJob(ctx, id, last, min(atMost, progressEvery), atMost)
}

// WaitState is WaitJob for a follower that shows no progress: changes of
// progress alone do not end it, only a change of state or atMost.
func (m *Manager) WaitState(ctx context.Context, id string, last State, atMost time.Duration) error {
	return m.waitJob(ctx, id, last, atMost, atMost)
}

// waitJob waits for a change of the job's state, at most atMost, or for
// any change, at most progress: then it returns when progress ends.
func (m *Manager) waitJob(ctx context.Context, id string, last State, progress, atMost time.Duration) error {
	start := time.Now()
	until := start.Add(atMost)
	for {
		left := time.Until(until)
		if left <= 0 {
			return nil
		}
		if err := m.WaitChange(ctx, left); err != nil {
			return err
		}
		if !time.Now().Before(until) {
			return nil
		}
		var st int
		err := m.store.View(ctx, func(tx *storage.Tx) error {
			var err error
			st, err = tx.JobState(id)
			return err
		})
		if err != nil || State(st) != last {
			return nil // the caller reads the job now, or says why it cannot
		}
		// Progress: shown when its window ends, or at once with a change
		// of state before that.
		if w := start.Add(progress); w.Before(until) {
			until = w
		}
		pause := time.NewTimer(min(stateEvery, time.Until(until)))
		select {
		case <-ctx.Done():
			pause.Stop()
			return ctx.Err()
		case <-pause.C:
		}
	}
}

func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func currentOwner() string {
	name := "unknown"
	if u, err := spawn.LookupUID(os.Getuid()); err == nil {
		name = u.Username
	} else if u, err := user.Current(); err == nil {
		name = u.Username // from $USER
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	if host == "" {
		host = "localhost"
	}
	return strings.ToUpper(host) + `\` + name
}

// errNotFound is what every lookup of a missing job returns.
func errNotFound(id string) error {
	return &hresult.Error{Code: hresult.BG_E_NOT_FOUND, Context: hresult.ContextGeneralQueueManager,
		Msg: fmt.Sprintf("no job {%s}", id)}
}

func invalidArg(format string, args ...any) error {
	return &hresult.Error{Code: hresult.E_INVALIDARG, Context: hresult.ContextGeneralQueueManager,
		Msg: fmt.Sprintf(format, args...)}
}

// Create makes a new job. Like every new BITS job it starts SUSPENDED.
func (m *Manager) Create(ctx context.Context, name string, typ JobType) (*Job, error) {
	j, err := m.newJob(name, typ)
	if err != nil {
		return nil, err
	}
	err = m.store.Update(ctx, func(tx *storage.Tx) error {
		if err := m.checkJobLimit(tx); err != nil {
			return err
		}
		return tx.InsertJob(toRow(j), nil)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// newJob makes a new job in memory with BITS' defaults.
func (m *Manager) newJob(name string, typ JobType) (*Job, error) {
	if typ < Download || typ > UploadReply {
		return nil, invalidArg("job type %d", typ)
	}
	if len([]rune(name)) > MaxDisplayName {
		return nil, &hresult.Error{Code: hresult.BG_E_STRING_TOO_LONG, Msg: "display name longer than 256 characters"}
	}
	j := NewJobTemplate(typ)
	now := m.opts.Now()
	j.ID, j.DisplayName, j.Owner, j.Created, j.Modified = m.opts.NewID(), name, m.ownerName(), now, now
	recordUserEnv(j)
	return j, nil
}

// NewJobTemplate is a new job of this type as Create makes it, before it
// has a GUID, a name, an owner or times: BITS' defaults, which a front end
// compares settings with.
func NewJobTemplate(typ JobType) *Job {
	return &Job{
		Type: typ, State: Suspended, Priority: Normal,
		MinRetryDelay: DefaultMinRetryDelay, NoProgressTimeout: DefaultNoProgressTimeout,
		MaxDownloadTime: DefaultMaxDownloadTime, NotifyFlags: DefaultNotifyFlags,
		Reply: Reply{BytesTotal: SizeUnknown},
	}
}

// checkJobLimit refuses one more job when the user has the most allowed.
func (m *Manager) checkJobLimit(tx *storage.Tx) error {
	n, err := tx.CountJobs()
	if err != nil {
		return err
	}
	return m.roomFor(n)
}

// roomFor refuses one more job beside n.
func (m *Manager) roomFor(n int) error {
	if n >= m.opts.MaxJobsPerUser {
		return &hresult.Error{Code: hresult.BG_E_TOO_MANY_JOBS_PER_USER,
			Msg: fmt.Sprintf("the limit is %d jobs", m.opts.MaxJobsPerUser)}
	}
	return nil
}

// Get returns a job by its GUID.
func (m *Manager) Get(ctx context.Context, id string) (*Job, error) {
	var j *Job
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		var err error
		j, err = loadPublic(tx, id)
		return err
	})
	return j, err
}

// loadPublic loads a job as front ends may see it (see public).
func loadPublic(tx *storage.Tx, id string) (*Job, error) {
	j, err := readJob(tx, id)
	if err != nil {
		return nil, err
	}
	creds, err := tx.Credentials(id)
	if err != nil {
		return nil, err
	}
	kinds := make([]storage.CredentialKind, len(creds))
	for i, c := range creds {
		kinds[i] = storage.CredentialKind{Target: c.Target, Scheme: c.Scheme}
	}
	return public(j, kinds), nil
}

// public makes j what front ends may see: write-only headers are hidden,
// and credentials are listed by target and scheme only.
func public(j *Job, creds []storage.CredentialKind) *Job {
	if j.HeadersWriteOnly {
		j.CustomHeaders = ""
	}
	for _, c := range creds {
		j.Credentials = append(j.Credentials, CredentialInfo{Target: AuthTarget(c.Target), Scheme: AuthScheme(c.Scheme)})
	}
	return j
}

// Each calls fn with every job, oldest first, as front ends may see it,
// from one snapshot of the store read as fn goes: a list of any length
// holds one job at a time. An error from fn ends the walk and is returned.
func (m *Manager) Each(ctx context.Context, fn func(*Job) error) error {
	row := new(storage.Job) // each job's row in turn: one copy, not one each
	return m.store.View(ctx, func(tx *storage.Tx) error {
		return tx.EachJob(func(r storage.Job, files []storage.File, creds []storage.CredentialKind) error {
			*row = r
			return fn(public(fromRowRef(row, files), creds))
		})
	})
}

// List returns every job, oldest first.
func (m *Manager) List(ctx context.Context) ([]*Job, error) {
	var out []*Job
	err := m.Each(ctx, func(j *Job) error {
		out = append(out, j)
		return nil
	})
	return out, err
}

// ErrAmbiguous is returned by Find when several jobs share the name.
var ErrAmbiguous = errors.New("more than one job has this name")

// Find resolves what a user typed: a GUID in braces (a trailing period, as
// scripts cut it from "Created job {GUID}.", is allowed) or a display name.
// A name that several jobs share is refused with ErrAmbiguous.
func (m *Manager) Find(ctx context.Context, arg string) (*Job, error) {
	if id, ok := ParseGUID(arg); ok {
		return m.Get(ctx, id)
	}
	var out *Job
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		rows, err := tx.JobsNamed(arg)
		if err != nil {
			return err
		}
		switch len(rows) {
		case 0:
			return &hresult.Error{Code: hresult.BG_E_NOT_FOUND, Context: hresult.ContextGeneralQueueManager,
				Msg: fmt.Sprintf("no job named %q", arg)}
		case 1:
			out, err = loadPublic(tx, rows[0].ID)
			return err
		}
		return ErrAmbiguous
	})
	return out, err
}

// ParseGUID accepts {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}, in any case,
// with an optional trailing period, and returns the upper-case GUID.
func ParseGUID(s string) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if len(s) != 38 || s[0] != '{' || s[37] != '}' {
		return "", false
	}
	g := strings.ToUpper(s[1:37])
	for i, c := range g {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
				return "", false
			}
		}
	}
	return g, true
}

// loadJob loads a job to act on it. A job whose record names temporary
// files that no transfer could have made is refused: see checkTempNames.
func loadJob(tx *storage.Tx, id string) (*Job, error) {
	j, err := readJob(tx, id)
	if err != nil {
		return nil, err
	}
	if err := checkTempNames(j); err != nil {
		return nil, err
	}
	return j, nil
}

// readJob loads a job as its record is, to show it.
func readJob(tx *storage.Tx, id string) (*Job, error) {
	r, err := tx.Job(id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	files, err := tx.Files(id)
	if err != nil {
		return nil, err
	}
	return fromRow(r, files), nil
}

// change runs one read-modify-write of a job in a write transaction: fn
// sees the current job and edits it; the result is written only if the job
// is still in the state fn saw (compare-and-set).
func (m *Manager) change(ctx context.Context, id string, fn func(tx *storage.Tx, j *Job) error) (*Job, error) {
	var out *Job
	err := m.store.Update(ctx, func(tx *storage.Tx) error {
		j, err := readJob(tx, id) // a broken job can still be suspended or sent to ERROR
		if err != nil {
			return err
		}
		from := j.State
		if err := fn(tx, j); err != nil {
			return err
		}
		ok, err := tx.UpdateJob(toRow(j), int(from))
		if err != nil {
			return err
		}
		if !ok {
			return errStateRefused(fmt.Sprintf("job {%s} changed state meanwhile", id))
		}
		out = j
		return nil
	})
	return out, err
}

// fire applies an event to a job inside fn's transaction.
func (m *Manager) fire(j *Job, ev Event) error {
	next, err := Next(j.State, ev)
	if err != nil {
		return err
	}
	m.enter(j, next)
	return nil
}

// enter moves a job to state s. Entering TRANSFERRED or ERROR makes the
// notification program due, when the job has one and its notify flags ask
// for that event; leaving the state drops a notification still due.
func (m *Manager) enter(j *Job, s State) {
	if s == j.State {
		return
	}
	j.State = s
	j.Modified = m.opts.Now()
	j.notifyAt = time.Time{}
	flag := map[State]uint32{Transferred: NotifyTransferred, Error: NotifyError}[s]
	if flag != 0 && j.NotifyFlags&flag != 0 && j.NotifyFlags&NotifyDisable == 0 && j.NotifyProgram != "" {
		j.notifyAt = j.Modified
	}
}

// wake makes sure a worker runs for jobs that have work to do.
func (m *Manager) wake(j *Job) error {
	if j != nil && (j.State.Active() || j.State == TransientError) {
		return m.startWorker()
	}
	return nil
}

// EnsureWorker starts the worker if some job needs one (queued, moving or
// waiting to retry) and none runs, for example after the worker was killed.
// Front ends call it after every command, so any command revives transfers.
func (m *Manager) EnsureWorker(ctx context.Context) error {
	// One read finds both the idle jobs and the waiting ones: every
	// command ends here, and usually nothing is idle.
	var stale []string
	n := 0
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		var err error
		if stale, err = m.inactive(tx); err != nil {
			return err
		}
		n, err = countWaiting(tx)
		return err
	})
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		if err := m.cancelInactive(ctx, stale); err != nil {
			return err
		}
		if n, err = m.Waiting(ctx); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	return m.startWorker()
}

// Waiting counts the jobs that need the worker: queued, moving, waiting to
// retry or for their network or policy, or with a notification due.
func (m *Manager) Waiting(ctx context.Context) (int, error) {
	n := 0
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		var err error
		n, err = countWaiting(tx)
		return err
	})
	return n, err
}

func countWaiting(tx *storage.Tx) (int, error) {
	return tx.CountWaiting(int(Queued), int(Connecting), int(Transferring), int(TransientError))
}

// startWorker starts a worker once per Manager, and nudges it after that:
// a worker just started may not hold its lock yet, and a second start would
// only make a second process that exits at once. A start that failed is
// tried again at the next call.
func (m *Manager) startWorker() error {
	m.startMu.Lock()
	defer m.startMu.Unlock()
	if m.started {
		spawn.Nudge(m.home)
		return nil
	}
	if err := m.opts.StartWorker(m.home); err != nil {
		return &hresult.Error{Code: hresult.CO_E_SERVER_EXEC_FAILURE, Context: hresult.ContextGeneralQueueManager,
			Msg: "the transfer worker cannot start: " + err.Error()}
	}
	m.started = true
	return nil
}

// sweepInactive cancels the jobs that neither changed nor moved a byte for
// the job inactivity timeout (90 days by default), as BITS does, so an
// abandoned job does not hold its temporary files for ever.
func (m *Manager) sweepInactive(ctx context.Context) error {
	var stale []string
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		var err error
		stale, err = m.inactive(tx)
		return err
	})
	if err != nil {
		return err
	}
	return m.cancelInactive(ctx, stale)
}

// inactive returns the jobs that sweepInactive cancels.
func (m *Manager) inactive(tx *storage.Tx) ([]string, error) {
	limit := m.opts.Now().Add(-m.opts.JobInactivityTimeout)
	return tx.JobsModifiedBefore(limit.UnixNano())
}

func (m *Manager) cancelInactive(ctx context.Context, stale []string) error {
	var err error
	for _, id := range stale {
		if _, cerr := m.Cancel(ctx, id); cerr != nil && !hresult.Is(cerr, hresult.BG_E_NOT_FOUND) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// nextInactive returns when the job modified longest ago reaches the job
// inactivity timeout: when sweepInactive next has work. Zero: no job.
func (m *Manager) nextInactive(ctx context.Context) (time.Time, error) {
	var next time.Time
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		oldest, ok, err := tx.OldestModified()
		if ok {
			next = time.Unix(0, oldest).Add(m.opts.JobInactivityTimeout)
		}
		return err
	})
	return next, err
}

// EachSummary calls fn with every job's Summary, oldest first, from one
// snapshot of the store read as fn goes.
func (m *Manager) EachSummary(ctx context.Context, fn func(Summary) error) error {
	return m.store.View(ctx, func(tx *storage.Tx) error {
		return tx.EachSummary(func(r storage.Summary) error {
			total := r.BytesKnown
			if r.SizesUnknown > 0 {
				total = SizeUnknown
			}
			return fn(Summary{ID: r.ID, DisplayName: r.DisplayName, Owner: r.Owner, Type: JobType(r.Type), State: State(r.State),
				BytesTotal: total, BytesTransferred: r.BytesDone, FilesTotal: r.FilesTotal, FilesTransferred: r.FilesDone})
		})
	})
}
