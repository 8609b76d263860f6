package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"bits/engine/hresult"
	"bits/engine/transport"
	"bits/storage"
)

// WorkerOptions configure RunWorker. Zero values take the defaults.
type WorkerOptions struct {
	// IdleTimeout is how long the worker stays with nothing to do (no job
	// queued, transferring or waiting to retry) before it exits. Default 60s.
	IdleTimeout time.Duration
	// Checkpoint is how often a transfer syncs its temporary file and
	// records its length. Default 1s.
	Checkpoint time.Duration
	// MaxBackground bounds the background (non-FOREGROUND) jobs that
	// transfer at once; FOREGROUND jobs always start at once. Default 2.
	MaxBackground int
	Log           *slog.Logger
	// Lock is the worker lock, already held, when the front end that
	// started this worker handed it over (InheritedLock); nil takes it.
	Lock *os.File
}

// scanInterval is how often the worker looks at the store without a nudge.
const scanInterval = time.Second

type worker struct {
	m    *Manager
	o    WorkerOptions
	log  *slog.Logger
	done chan string // runner finished, by job id

	mu        sync.Mutex
	running   map[string]*runner
	notifying map[string]bool // jobs whose notification program runs now
}

type runner struct {
	cancel     context.CancelFunc
	foreground bool
}

// RunWorker moves the bytes of every job in m's store until ctx ends or it
// has been idle for IdleTimeout. Only one worker runs per state folder: a
// second one returns ErrWorkerRunning at once.
func RunWorker(ctx context.Context, m *Manager, o WorkerOptions) error {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.Checkpoint <= 0 {
		o.Checkpoint = time.Second
	}
	if o.MaxBackground <= 0 {
		o.MaxBackground = 2
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	lk := o.Lock
	if lk == nil || syscall.Flock(int(lk.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		var err error
		if lk, err = lockPatiently(m.home); err != nil {
			return err
		}
	}
	defer lk.Close()
	if err := lk.Truncate(0); err == nil {
		lk.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}

	w := &worker{m: m, o: o, log: o.Log, done: make(chan string), running: map[string]*runner{}, notifying: map[string]bool{}}
	nudges := w.listen(ctx)
	if err := w.recoverJobs(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop while starting: a clean stop
		}
		return err
	}
	w.log.Info("worker started", "home", m.home, "pid", os.Getpid())

	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunners()
	tick := time.NewTicker(scanInterval)
	defer tick.Stop()
	// Idleness is measured on the real clock: it is about this process's
	// life, not about job times, which follow the injectable one.
	idleSince := time.Now()
	for {
		if err := m.sweepInactive(runCtx); err != nil {
			w.log.Error("inactivity sweep", "err", err)
		}
		busy, err := w.scan(runCtx)
		if err != nil {
			w.log.Error("scan", "err", err)
		}
		if w.notifyDue(runCtx) {
			busy = true
		}
		if busy || w.active() > 0 {
			idleSince = time.Now()
		} else if time.Since(idleSince) >= o.IdleTimeout {
			w.log.Info("worker idle, exiting")
			return nil
		}
		select {
		case <-ctx.Done():
			w.log.Info("worker stopping", "reason", context.Cause(ctx))
			stopRunners()
			for w.active() > 0 {
				w.finish(<-w.done)
			}
			return nil
		case id := <-w.done:
			w.finish(id)
		case <-nudges:
		case <-tick.C:
		}
	}
}

func (w *worker) active() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func (w *worker) finish(id string) {
	w.mu.Lock()
	delete(w.running, id)
	w.mu.Unlock()
}

// listen accepts nudges on the worker socket. The socket is an optimisation:
// if it cannot be made (a path too long for a unix socket), the once-a-second
// scan still finds every change.
func (w *worker) listen(ctx context.Context) <-chan struct{} {
	nudges := make(chan struct{}, 1)
	path := filepath.Join(w.m.home, socketFile)
	os.Remove(path) // left by a worker that died; we hold the lock
	ln, err := net.Listen("unix", path)
	if err != nil {
		w.log.Warn("no nudge socket; polling only", "err", err)
		return nudges
	}
	os.Chmod(path, 0o600)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case nudges <- struct{}{}:
			default:
			}
		}
	}()
	return nudges
}

// recoverJobs puts jobs that a dead worker left mid-transfer back in the
// queue; they resume from their last checkpoint.
func (w *worker) recoverJobs(ctx context.Context) error {
	var ids []string
	err := w.m.store.View(ctx, func(tx *storage.Tx) error {
		rows, err := tx.JobsInState(int(Connecting), int(Transferring))
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := w.m.change(ctx, id, func(_ *storage.Tx, j *Job) error { return w.m.fire(j, EvRecover) }); err == nil {
			w.log.Info("recovered job", "job", id)
		}
	}
	return nil
}

// scan looks at every job once: it retries or gives up transient errors
// whose time has come, starts queued jobs and stops runners whose job the
// user changed. It reports whether any job still needs the worker.
func (w *worker) scan(ctx context.Context) (busy bool, err error) {
	var jobs []*Job
	err = w.m.store.View(ctx, func(tx *storage.Tx) error {
		rows, err := tx.JobsInState(int(Queued), int(Connecting), int(Transferring), int(TransientError))
		for _, r := range rows {
			jobs = append(jobs, fromRow(r, nil))
		}
		return err
	})
	if err != nil {
		return false, err
	}
	live := map[string]bool{}
	var queued []*Job
	now := w.m.opts.Now()
	for _, j := range jobs {
		busy = true
		switch j.State {
		case TransientError:
			w.retryOrGiveUp(ctx, j, now)
		case Queued:
			queued = append(queued, j)
			live[j.ID] = true
		default:
			live[j.ID] = true
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for id, r := range w.running {
		if !live[id] {
			r.cancel() // suspended, cancelled or completed by the user
		}
	}
	background := 0
	for _, r := range w.running {
		if !r.foreground {
			background++
		}
	}
	sort.SliceStable(queued, func(a, b int) bool { return queued[a].Priority < queued[b].Priority })
	for _, j := range queued {
		if _, ok := w.running[j.ID]; ok {
			continue
		}
		fg := j.Priority == Foreground
		if !fg && background >= w.o.MaxBackground {
			continue
		}
		if !fg {
			background++
		}
		rctx, cancel := context.WithCancel(ctx)
		w.running[j.ID] = &runner{cancel: cancel, foreground: fg}
		go func(id string) {
			defer cancel()
			w.runJob(rctx, id)
			w.done <- id
		}(j.ID)
	}
	return busy, nil
}

func (w *worker) retryOrGiveUp(ctx context.Context, j *Job, now time.Time) {
	switch {
	case !j.transientSince.IsZero() && now.Sub(j.transientSince) >= j.NoProgressTimeout:
		w.transition(ctx, j.ID, EvGiveUp, nil)
		w.log.Info("no progress within the timeout; job in ERROR", "job", j.ID)
	case !now.Before(j.retryAt):
		w.transition(ctx, j.ID, EvRetry, func(j *Job) { j.retryAt, j.Err = time.Time{}, nil })
		w.log.Info("retrying", "job", j.ID)
	}
}

// transition applies a worker event; it reports false when the job moved on
// (the user suspended, cancelled or completed it) and the event no longer
// applies.
func (w *worker) transition(ctx context.Context, id string, ev Event, edit func(*Job)) bool {
	_, err := w.m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		if err := w.m.fire(j, ev); err != nil {
			return err
		}
		if edit != nil {
			edit(j)
		}
		return nil
	})
	if err != nil && !hresult.Is(err, hresult.BG_E_INVALID_STATE) && !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		w.log.Error("state change", "job", id, "event", ev, "err", err)
	}
	return err == nil
}

// runJob transfers a job's files one after another, in the order added,
// within what is left of the job's maximum download time.
func (w *worker) runJob(ctx context.Context, id string) {
	if !w.transition(ctx, id, EvConnect, nil) {
		return
	}
	j, err := w.m.Get(ctx, id)
	if err != nil {
		return
	}
	s, err := w.m.settings(ctx, id)
	if err != nil {
		w.fail(ctx, id, -1, err)
		return
	}
	jctx := ctx
	if j.MaxDownloadTime > 0 {
		left := j.MaxDownloadTime - j.TransferTime
		if left <= 0 {
			w.fail(ctx, id, -1, maxTimeError(j))
			return
		}
		var cancel context.CancelFunc
		jctx, cancel = context.WithTimeoutCause(ctx, left, errMaxTime)
		defer cancel()
	}
	// The attempt's time is recorded before the job's state changes, so
	// whoever sees the new state sees the time too.
	start := time.Now()
	account := sync.OnceFunc(func() { w.addTransferTime(id, start) })
	defer account()
	w.log.Info("job started", "job", id, "name", j.DisplayName)
	for i := range j.Files {
		if j.Files[i].Complete {
			continue
		}
		if j.Type == Download {
			err = w.downloadFile(jctx, j, i, s)
		} else {
			err = w.uploadFile(jctx, j, i, s)
		}
		if err == nil {
			continue
		}
		account()
		switch {
		case errors.Is(context.Cause(jctx), errMaxTime) && ctx.Err() == nil:
			w.fail(ctx, id, i, maxTimeError(j))
		case ctx.Err() != nil || errors.Is(err, errStopped):
			w.stopped(j, s)
		default:
			w.fail(ctx, id, i, err)
		}
		return
	}
	account()
	if w.transition(ctx, id, EvDone, func(j *Job) { j.TransferCompleted = w.m.opts.Now() }) {
		w.log.Info("job transferred", "job", id)
	}
}

// errMaxTime ends a transfer whose job ran out of its maximum download time.
var errMaxTime = errors.New("maximum download time reached")

func maxTimeError(j *Job) error {
	return hresult.Fatal(hresult.BG_E_MAXDOWNLOAD_TIMEOUT, hresult.ContextGeneralQueueManager,
		"the job transferred for its maximum of %s", j.MaxDownloadTime)
}

// addTransferTime adds the real time since start to the job's transfer
// time. A worker that dies loses the current attempt's time.
func (w *worker) addTransferTime(id string, start time.Time) {
	err := w.m.store.Update(context.Background(), func(tx *storage.Tx) error {
		return tx.AddTransferTime(id, int64(time.Since(start)))
	})
	if err != nil {
		w.log.Warn("transfer time not recorded", "job", id, "err", err)
	}
}

// stopped runs when a transfer ends because the job left the active states
// or the worker is stopping. A job that is gone (cancelled, completed)
// leaves no temporary file or upload session behind: j holds the names this
// runner created, which may be newer than what Cancel read from the store.
// A job that is still there keeps its checkpoint.
func (w *worker) stopped(j *Job, s transport.Settings) {
	ctx := context.Background()
	cur, err := w.m.Get(ctx, j.ID)
	if hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		w.m.discard(ctx, j, s)
		return
	}
	if err == nil && (cur.State == Connecting || cur.State == Transferring) {
		w.transition(ctx, j.ID, EvRecover, nil) // worker shutdown: back to the queue
	}
}

// fail records a transfer error: a transient one sends the job to
// TRANSIENT_ERROR to be retried after its retry delay (or the server's
// Retry-After, if longer), unless the no-progress timeout has run out; a
// fatal one sends it to ERROR.
func (w *worker) fail(ctx context.Context, id string, idx int, err error) {
	e := hresult.From(err)
	now := w.m.opts.Now()
	_, cerr := w.m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		j.ErrorCount++
		msg := e.Msg
		if msg == "" {
			msg = e.Code.Message()
		}
		j.Err = &JobError{Code: e.Code, Context: e.Context, Msg: msg, FileIndex: idx}
		since := j.transientSince
		if since.IsZero() {
			since = now
		}
		// A custom HTTP method cannot resume: BITS makes its errors fatal.
		custom := j.Type == Download && j.HTTPMethod != "" && !strings.EqualFold(j.HTTPMethod, "GET")
		if !e.Transient || custom || j.NoProgressTimeout == 0 || now.Sub(since) >= j.NoProgressTimeout {
			return w.m.fire(j, EvFatal)
		}
		if err := w.m.fire(j, EvTransient); err != nil {
			return err
		}
		j.transientSince = since
		j.retryAt = now.Add(max(j.MinRetryDelay, e.RetryAfter))
		return nil
	})
	if cerr != nil {
		w.log.Error("recording error", "job", id, "err", cerr)
		return
	}
	w.log.Warn("transfer failed", "job", id, "file", idx, "code", fmt.Sprintf("0x%08x", uint32(e.Code)),
		"transient", e.Transient, "err", e.Msg)
}

// errStopped ends a file transfer because its job is no longer active.
var errStopped = errors.New("job no longer active")
