package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"bits/engine/netpolicy"
	"bits/engine/policy"
	"bits/engine/spawn"
	"bits/engine/transport"
	"bits/hresult"
	"bits/storage"
)

// WorkerOptions configure RunWorker. Zero values take the defaults.
type WorkerOptions struct {
	// IdleTimeout is how long the worker stays with nothing to do (no job
	// queued, transferring, waiting to retry or for its network or policy,
	// no notification due) before it exits. Default 60s; NeverIdle: never.
	IdleTimeout time.Duration
	// Checkpoint is how often a transfer syncs its temporary file and
	// records its length. Default 1s.
	Checkpoint time.Duration
	// MaxBackground bounds the background (non-FOREGROUND) jobs that
	// transfer at once; FOREGROUND jobs always start at once. 0 takes the
	// policy's MaxBackgroundTransfers.
	MaxBackground int
	Log           *slog.Logger
	// Beside runs on a goroutine of its own once the worker holds its
	// lock, until the worker stops, which waits for it: a service there
	// must be one per state folder, as the worker is (the D-Bus
	// service).
	Beside func(ctx context.Context)
	// Lock is the worker lock, already held, when the process that started
	// this worker handed it over (spawn.InheritedLock); nil takes it.
	Lock *os.File

	// For tests: turns come on tick instead of every turnInterval, and
	// turned is called after each turn that a tick started, with the
	// number of jobs still running.
	tick   <-chan time.Time
	turned func(running int)
}

// NeverIdle is the IdleTimeout of a worker that never exits by itself.
const NeverIdle time.Duration = -1

// turnInterval is how often the worker takes a turn without a nudge: it
// looks whether the store changed and decides from what it holds.
const turnInterval = time.Second

type worker struct {
	m      *Manager
	o      WorkerOptions
	log    *slog.Logger
	done   chan string // runner finished, by job id
	policy *policy.File
	shaper *netpolicy.Shaper
	nm     netpolicy.NetworkManager

	changes *storage.Changes
	// Owned by the main loop: the jobs in the active states as last read,
	// and when the next notification and inactivity sweep are due.
	active   map[string]known
	notifyAt time.Time
	sweepAt  time.Time
	notified bool // some notification is due or being retried
	unread   bool // the last read of the jobs failed

	mu        sync.Mutex
	running   map[string]*runner
	notifying map[string]bool      // jobs whose notification program runs now
	lastTurn  map[string]time.Time // when each job last got a slot
	peers     map[string][]net.IP  // where each job's last transfer connected

	records records
}

// A runner is a job's transfer under way.
type runner struct {
	cancel   context.CancelCauseFunc
	priority Priority
	since    time.Time // when it got its slot
	stopping bool      // asked to give its slot up
	stream   atomic.Pointer[netpolicy.Stream]
	uses     atomic.Pointer[runSettings] // what the transfer was started with
}

// known is an active job as the worker last read it, at its revision, with
// what the worker works out from it once rather than at every turn.
type known struct {
	rev     int64
	job     *Job
	network bool        // Manager.jobUsesNetwork
	uses    runSettings // for a job that moves: what a transfer would use now
}

// runSettings are the settings a transfer takes when it starts and cannot
// change on the way: when any differs, the transfer starts again from where
// it stopped. The job's own bandwidth limit is not among them: the stream
// takes it at once.
type runSettings struct {
	priority  Priority
	transport transport.Settings
}

// errSettingsChanged ends a transfer whose job's settings changed; the job
// goes back to the queue and starts again with them.
var errSettingsChanged = errors.New("the job's settings changed")

// errPreempted ends a transfer whose slot goes to another job; the job
// goes back to the queue.
var errPreempted = errors.New("the job's slot went to another job")

// RunWorker moves the bytes of every job in m's store until ctx ends or it
// has been idle for IdleTimeout. Only one worker runs per state folder: a
// second one returns ErrWorkerRunning at once.
func RunWorker(ctx context.Context, m *Manager, o WorkerOptions) error {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.Checkpoint <= 0 {
		o.Checkpoint = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// A worker that systemd started on a nudge waits for one that runs
	// already to end, rather than exit and be started again at once.
	activated := spawn.Activated()
	lk, err := spawn.Acquire(ctx, m.home, o.Lock, activated != nil)
	if err != nil {
		if activated != nil {
			activated.Close()
		}
		return err
	}
	defer lk.Close()
	if o.Beside != nil {
		bctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); o.Beside(bctx) }()
		defer func() { stop(); <-done }()
	}

	w := &worker{m: m, o: o, log: o.Log, done: make(chan string), running: map[string]*runner{}, active: map[string]known{},
		notifying: map[string]bool{}, lastTurn: map[string]time.Time{}, peers: map[string][]net.IP{},
		policy: policy.NewFile(policy.Path(), o.Log)}
	w.shaper = netpolicy.NewShaper(w.policy.Get().YieldTarget)
	w.shaper.Trace = func(d netpolicy.Direction, s netpolicy.Sample, rate float64) {
		limit := any(int64(rate))
		if math.IsInf(rate, 1) {
			limit = "none"
		}
		w.log.Debug("yield", "dir", d, "ours", s.Ours, "link", s.Link, "delay", s.Delay, "rate", limit)
	}
	defer w.nm.Close()
	nudges := w.listen(ctx, activated)
	err = w.forgetLostFiles(ctx)
	if err == nil {
		err = w.recoverJobs(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop while starting: a clean stop
		}
		return err
	}
	w.log.Info("worker started", "home", m.home, "pid", os.Getpid())

	// Every commit to the store, by any process, moves its data version:
	// the worker reads the store again only then, or when a time it knows
	// of comes.
	if w.changes, err = m.store.Changes(ctx); err != nil {
		return err
	}
	defer w.changes.Close()

	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunners()
	go w.shaper.Run(runCtx)
	tick := time.NewTicker(turnInterval)
	defer tick.Stop()
	// Idleness is measured on the real clock: it is about this process's
	// life, not about job times, which follow the injectable one.
	idleSince := time.Now()
	changed, ticked := true, false
	for {
		if !changed {
			if changed, err = w.changes.Changed(runCtx); err != nil {
				w.log.Error("store changes", "err", err)
				changed = true
			}
		}
		busy := w.turn(runCtx, changed)
		if busy || w.runners() > 0 {
			idleSince = time.Now()
		} else if o.IdleTimeout != NeverIdle && time.Since(idleSince) >= o.IdleTimeout {
			w.log.Info("worker idle, exiting")
			return nil
		}
		if ticked && o.turned != nil {
			o.turned(w.runners())
		}
		changed, ticked = false, false
		select {
		case <-ctx.Done():
			w.log.Info("worker stopping", "reason", context.Cause(ctx))
			stopRunners()
			for w.runners() > 0 {
				w.finish(<-w.done)
			}
			return nil
		case id := <-w.done:
			w.finish(id)
			changed = true
		case <-nudges:
			changed = true
		case <-cmp.Or(o.tick, tick.C):
			ticked = true
		}
	}
}

// turn is one look at the jobs: the store is read again only when it
// changed, or for a notification or inactivity sweep whose time came;
// retries, policy gates and the schedule are decided from what the worker
// holds in memory. It reports whether any job still needs the worker.
func (w *worker) turn(ctx context.Context, changed bool) (busy bool) {
	now := w.m.opts.Now()
	// A change makes no job older: the sweep waits for its time, unless
	// no job was known when that time was worked out.
	if due(w.sweepAt, now) || (changed && w.sweepAt.IsZero()) {
		err := w.m.sweepInactive(ctx)
		if err == nil {
			w.sweepAt, err = w.m.nextInactive(ctx)
		}
		if err != nil {
			w.log.Error("inactivity sweep", "err", err)
		}
	}
	if changed || w.unread {
		// A read that failed is tried again at the next turn: the change
		// that called for it has been counted already.
		err := w.refresh(ctx)
		if w.unread = err != nil; w.unread {
			w.log.Error("reading jobs", "err", err)
		}
	}
	if changed || due(w.notifyAt, now) {
		w.notified, w.notifyAt = w.notifyDue(ctx)
	}
	w.decide(ctx)
	return len(w.active) > 0 || w.notified
}

// due says whether a time the worker waits for has come; zero is never.
func due(at, now time.Time) bool { return !at.IsZero() && !now.Before(at) }

func (w *worker) runners() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func (w *worker) finish(id string) {
	w.mu.Lock()
	delete(w.running, id)
	w.mu.Unlock()
}

// listen accepts nudges on the worker socket: the one systemd passed, or
// one of its own. The socket is an optimisation: without it (a path too
// long for a unix socket, or a supervisor's socket while this worker was
// started by hand) the once-a-second look at the store's data version
// still finds every change.
func (w *worker) listen(ctx context.Context, ln net.Listener) <-chan struct{} {
	nudges := make(chan struct{}, 1)
	if ln == nil {
		var err error
		if ln, err = spawn.Listen(w.m.home); err != nil {
			w.log.Warn("no nudge socket; polling only", "err", err)
			return nudges
		}
	}
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

// forgetLostFiles starts again the files that a worker of another boot
// recorded complete but had not synced: a power cut may have lost them.
func (w *worker) forgetLostFiles(ctx context.Context) error {
	boot := bootID()
	if boot == "" {
		return nil
	}
	return w.m.store.Update(ctx, func(tx *storage.Tx) error {
		n, err := tx.ForgetUnsynced(boot)
		if n > 0 {
			w.log.Info("files not synced before the last boot ended: fetching them again", "files", n)
		}
		return err
	})
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

// activeStates are the states of the jobs the worker acts on.
var activeStates = []int{int(Queued), int(Connecting), int(Transferring), int(TransientError)}

// refresh brings w.active up to date with the store: the revisions of the
// active jobs come from an index, and only the jobs whose revision moved are
// read again, with their files where the worker needs them.
func (w *worker) refresh(ctx context.Context) error {
	return w.m.store.View(ctx, func(tx *storage.Tx) error {
		revs, err := tx.Revisions(activeStates...)
		if err != nil {
			return err
		}
		for id := range w.active {
			if _, ok := revs[id]; !ok {
				delete(w.active, id)
			}
		}
		var moved []string
		for id, rev := range revs {
			if k, ok := w.active[id]; !ok || k.rev != rev.Rev {
				moved = append(moved, id)
			}
		}
		rows, err := tx.JobsByID(moved)
		if err != nil {
			return err
		}
		var need []string
		for _, r := range rows {
			if needsFiles(r) {
				need = append(need, r.ID)
			}
		}
		files, err := tx.FilesOf(need)
		if err != nil {
			return err
		}
		for _, r := range rows {
			k := known{rev: revs[r.ID].Rev, job: fromRow(r, files[r.ID])}
			k.network = w.m.jobUsesNetwork(k.job)
			if k.job.State == Connecting || k.job.State == Transferring {
				creds, err := tx.Credentials(r.ID)
				if err != nil {
					return err
				}
				k.uses = runSettings{priority: k.job.Priority, transport: transportSettings(k.job, creds, w.m.home)}
			}
			w.active[r.ID] = k
		}
		return nil
	})
}

// decide retries or gives up transient errors whose time has come, holds
// back jobs the policy does not let run now, stops runners whose job the
// user changed or whose network went away, and gives the slots to the jobs
// that the scheduler picks, from the jobs as last read.
func (w *worker) decide(ctx context.Context) {
	jobs := make([]known, 0, len(w.active))
	network := false
	for _, k := range w.active {
		jobs = append(jobs, k)
		network = network || k.network
	}
	slices.SortFunc(jobs, func(a, b known) int {
		return cmp.Or(a.job.Created.Compare(b.job.Created), strings.Compare(a.job.ID, b.job.ID))
	})
	now := w.m.opts.Now()
	pol := w.policy.Get()
	limits := pol.Bandwidth.At(now)
	w.shaper.SetPolicy(limits, pol.Yield, pol.YieldTarget)
	g := gates{policy: pol, limits: limits, cost: netpolicy.CostUnrestricted}
	if network {
		g.cost = w.networkCost(ctx, pol) // NetworkManager is asked only when it matters
	}

	live := map[string]known{} // jobs that may hold a slot
	var queued []*Job
	for _, k := range jobs {
		j := k.job
		switch j.State {
		case TransientError:
			w.retryOrGiveUp(ctx, k, now, g)
		case Queued:
			if why := g.check(j, k.network); why != nil {
				w.block(ctx, j.ID, why)
				continue
			}
			queued = append(queued, j)
			live[j.ID] = k
		default:
			live[j.ID] = k
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.forget()
	var running []slotJob
	for id, r := range w.running {
		k, ok := live[id]
		if cause := w.stopCause(k, ok, r, g); cause != nil {
			if !r.stopping && cause != context.Canceled { // not the usual end: a runner that recorded its end
				w.log.Info("job stops", "job", id, "why", cause)
			}
			r.cancel(cause)
			r.stopping = true
		}
		created := time.Time{}
		if ok {
			created = k.job.Created
			r.priority = k.job.Priority // the user may change it while the job runs
			if st := r.stream.Load(); st != nil {
				st.SetLimit(jobLimit(k.job)) // and its own limit
			}
		}
		running = append(running, slotJob{id: id, priority: r.priority, since: r.since, created: created, stopping: r.stopping})
	}
	var waiting []slotJob
	for _, j := range queued {
		if _, ok := w.running[j.ID]; !ok {
			waiting = append(waiting, slotJob{id: j.ID, priority: j.Priority, since: w.lastTurn[j.ID], created: j.Created})
		}
	}
	slots := cmp.Or(w.o.MaxBackground, pol.MaxBackground)
	start, stop := schedule(running, waiting, slots, pol.TimeSlice, time.Now())
	for _, id := range stop {
		r := w.running[id]
		r.stopping = true
		r.cancel(errPreempted)
		w.log.Info("job gives its slot up", "job", id)
	}
	for _, id := range start {
		rctx, cancel := context.WithCancelCause(ctx)
		r := &runner{cancel: cancel, priority: live[id].job.Priority, since: time.Now()}
		w.running[id] = r
		w.lastTurn[id] = r.since
		go func() {
			defer cancel(nil)
			w.runJob(rctx, id, r)
			w.done <- id
		}()
	}
}

// needsFiles says whether the worker reads a job's files: to start or stop
// it (the gates and the route need them), or to see whether what held it
// back is gone. A job waiting out its retry delay needs only its times, and
// a thousand of them would cost ten thousand file rows at each read.
func needsFiles(r storage.Job) bool {
	if State(r.State) != TransientError {
		return true
	}
	switch hresult.Code(r.ErrorCode) {
	case hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY, hresult.BG_E_BLOCKED_BY_POLICY, hresult.BG_E_NETWORK_DISCONNECTED:
		return true
	}
	return false
}

// forget drops what the worker remembers of jobs that are no longer
// active (their turns and peers), so a long-lived worker does not grow.
func (w *worker) forget() {
	for id := range w.lastTurn {
		if _, ok := w.active[id]; !ok {
			delete(w.lastTurn, id)
		}
	}
	for id := range w.peers {
		if _, ok := w.active[id]; !ok {
			delete(w.peers, id)
		}
	}
}

// stopCause says why a running job must stop now, or nil: the user
// suspended, cancelled or completed it (!live: it left the active states),
// the policy holds it back, its settings changed, or no route leads to its
// server.
func (w *worker) stopCause(k known, live bool, r *runner, g gates) error {
	if !live {
		return context.Canceled
	}
	if why := g.check(k.job, k.network); why != nil {
		return why
	}
	if uses := r.uses.Load(); uses != nil && k.job.State != Queued && !reflect.DeepEqual(*uses, k.uses) {
		return errSettingsChanged
	}
	if st := r.stream.Load(); st != nil {
		if peers := st.Peers(); len(peers) > 0 && netpolicy.Unreachable("", peers) {
			return disconnected(peers[0].String())
		}
	}
	return nil
}

func (w *worker) retryOrGiveUp(ctx context.Context, k known, now time.Time, g gates) {
	j := k.job
	retry := func(why string) {
		w.transition(ctx, j.ID, EvRetry, func(_ *storage.Tx, j *Job) error {
			j.retryAt, j.Err = time.Time{}, nil
			return nil
		})
		w.log.Info(why, "job", j.ID)
	}
	if j.Err != nil {
		switch j.Err.Code {
		case hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY, hresult.BG_E_BLOCKED_BY_POLICY:
			// Held back, not failing: it runs as soon as it may, and the
			// wait does not count against the no-progress timeout.
			if g.check(j, k.network) == nil {
				retry("the policy lets the job run again")
			}
			return
		case hresult.BG_E_NETWORK_DISCONNECTED:
			if w.reachable(j) {
				retry("network back; retrying")
				return
			}
		}
	}
	switch {
	case !j.transientSince.IsZero() && now.Sub(j.transientSince) >= j.NoProgressTimeout:
		w.transition(ctx, j.ID, EvGiveUp, nil)
		w.log.Info("no progress within the timeout; job in ERROR", "job", j.ID)
	case !now.Before(j.retryAt):
		retry("retrying")
	}
}

// transition applies a worker event; it reports false when the job moved on
// (the user suspended, cancelled or completed it) and the event no longer
// applies.
func (w *worker) transition(ctx context.Context, id string, ev Event, edit func(*storage.Tx, *Job) error) bool {
	_, err := w.m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if err := w.m.fire(j, ev); err != nil {
			return err
		}
		if edit != nil {
			return edit(tx, j)
		}
		return nil
	})
	if err != nil && !hresult.Is(err, hresult.BG_E_INVALID_STATE) && !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		w.log.Error("state change", "job", id, "event", ev, "err", err)
	}
	return err == nil
}

// runJob transfers a job's files in the order added (see transferFiles),
// within what is left of the job's maximum download time. Each file's bytes
// go through a stream of the shaper, which paces them by the job's limit
// and, for background jobs, the bandwidth policy and the yield controller.
func (w *worker) runJob(ctx context.Context, id string, r *runner) {
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
	r.uses.Store(&runSettings{priority: j.Priority, transport: s})
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
	if i, err := w.transferFiles(jctx, j, s, r); err != nil {
		account()
		w.syncLeft(j)
		var blocked *hresult.Error
		switch {
		case errors.Is(context.Cause(jctx), errMaxTime) && ctx.Err() == nil:
			w.fail(ctx, id, i, maxTimeError(j))
		case errors.As(context.Cause(ctx), &blocked):
			w.block(context.WithoutCancel(ctx), id, blocked)
		case ctx.Err() != nil || errors.Is(err, errStopped):
			w.stopped(j, s)
		default:
			w.fail(ctx, id, i, w.explainLoss(j.Files[i].RemoteName, r, err))
		}
		return
	}
	// The files left unsynced are synced before the job says they are
	// on disk; if that fails their bytes may be lost, and they are
	// fetched again.
	if err := syncFiles(j.Files); err != nil {
		account()
		w.forgetUnsynced(id)
		w.fail(ctx, id, -1, err)
		return
	}
	account()
	transferred := func(tx *storage.Tx, j *Job) error {
		j.TransferCompleted = w.m.opts.Now()
		return tx.MarkSynced(id)
	}
	if w.transition(ctx, id, EvDone, transferred) {
		w.log.Info("job transferred", "job", id)
	}
}

// syncLeft syncs the files that a run which stopped short of TRANSFERRED
// (suspended, failed, the worker stopping) left unsynced, so that a later
// boot need not fetch them again. Those it cannot sync stay as they are,
// for the job's next run to sync, or a later boot to fetch again.
func (w *worker) syncLeft(j *Job) {
	if syncFiles(j.Files) != nil {
		return
	}
	err := w.m.store.Update(context.Background(), func(tx *storage.Tx) error { return tx.MarkSynced(j.ID) })
	if err != nil {
		w.log.Warn("synced files not recorded", "job", j.ID, "err", err)
	}
}

// forgetUnsynced starts again the job's files whose sync failed.
func (w *worker) forgetUnsynced(id string) {
	err := w.m.store.Update(context.Background(), func(tx *storage.Tx) error {
		return tx.ForgetJobUnsynced(id)
	})
	if err != nil {
		w.log.Error("unsynced files not reset", "job", id, "err", err)
	}
}

// jobLimit is j's own bandwidth limit as the shaper takes it.
func jobLimit(j *Job) netpolicy.Kbps {
	if j.MaxBandwidth > 0 {
		return netpolicy.Kbps(j.MaxBandwidth)
	}
	return netpolicy.Unlimited
}

// transferFile moves one file through a stream of the shaper; the stream's
// peers are kept so that a lost network can be told apart and noticed
// coming back.
func (w *worker) transferFile(ctx context.Context, j *Job, i int, s transport.Settings, r *runner, run fileRun) error {
	dir := netpolicy.Down
	if j.Type != Download {
		dir = netpolicy.Up
	}
	st := w.shaper.Open(dir, netpolicy.Class(j.Priority), jobLimit(j), w.m.overNetwork(j.Files[i].RemoteName))
	r.stream.Store(st)
	defer w.closeStream(j.ID, st)
	ctx = transport.WithConnObserver(ctx, st.Observe)
	if j.Type == Download {
		return w.downloadFile(ctx, j, i, s, st, run)
	}
	return w.uploadFile(ctx, j, i, s, st)
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
