package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"bits/storage"
)

// ChangeKind is what happened to a job: the calls of BITS'
// IBackgroundCopyCallback, and the job's end.
type ChangeKind int

const (
	// ChangeModified: the job's state, progress, settings or files moved
	// (JobModification). Every change of a job is one.
	ChangeModified ChangeKind = iota + 1
	// ChangeTransferred: the job has just reached TRANSFERRED
	// (JobTransferred); its ChangeModified comes first.
	ChangeTransferred
	// ChangeError: the job has just reached ERROR (JobError), and Job.Err
	// says why; its ChangeModified comes first.
	ChangeError
	// ChangeRemoved: the job was completed or cancelled and is gone.
	ChangeRemoved
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeModified:
		return "modified"
	case ChangeTransferred:
		return "transferred"
	case ChangeError:
		return "error"
	case ChangeRemoved:
		return "removed"
	}
	return "unknown"
}

// A Change is one thing that happened to a job.
type Change struct {
	Kind ChangeKind
	ID   string
	// Job is the job as it is after the change, its files included; nil
	// for ChangeRemoved.
	Job *Job
}

// watchGap is how often Watch reads jobs whose progress or settings alone
// moved: a job of many small files changes hundreds of times a second, and
// each read is of all its files. A change of state, a new job and a job's
// end are read at once.
const watchGap = 50 * time.Millisecond

// A Watcher follows the changes to the jobs of a store.
type Watcher struct {
	changes chan Change
	stop    context.CancelFunc
	done    chan struct{}
	err     error
}

// Watch starts following the changes that any process makes (the worker,
// a front end, another Manager) to the jobs of the store, from the call
// on; Changes delivers them until ctx ends or Close is called. A change of
// state is seen within about 10 ms, other changes within about 60 ms;
// changes that follow one another faster than that may come as one (the
// last one always comes). The Watcher reads nothing while a change waits
// to be received. It starts with a look at every job; after that it reads
// the store's log of changed jobs and those jobs alone.
func (m *Manager) Watch(ctx context.Context) (*Watcher, error) {
	changes, err := m.store.Changes(ctx)
	if err != nil {
		return nil, err
	}
	wt := watch{m: m, changes: changes, pending: map[string]storage.Revision{}}
	err = m.store.View(ctx, func(tx *storage.Tx) (err error) {
		if wt.last, err = tx.LastChange(); err != nil {
			return err
		}
		wt.known, err = tx.Revisions()
		return err
	})
	if err != nil {
		changes.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	w := &Watcher{changes: make(chan Change), stop: stop, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer close(w.changes)
		defer changes.Close()
		w.err = wt.run(ctx, func(c Change) bool {
			select {
			case w.changes <- c:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	return w, nil
}

// Changes delivers the changes, in order. It is closed when the Watcher
// stops: Err then says why.
func (w *Watcher) Changes() <-chan Change { return w.changes }

// Err is why Changes was closed: the context's error, or the store's.
func (w *Watcher) Err() error {
	<-w.done
	return w.err
}

// Close stops the Watcher. It returns the store's error if one stopped it
// first.
func (w *Watcher) Close() error {
	w.stop()
	<-w.done
	if errors.Is(w.err, context.Canceled) {
		return nil
	}
	return w.err
}

// watch is a Watcher's state, on its goroutine.
type watch struct {
	m       *Manager
	changes *storage.Changes
	last    int64                       // the last entry read of the store's log of changes
	known   map[string]storage.Revision // each job as last told
	// pending are the jobs whose revision alone moved, not yet read:
	// progress or settings.
	pending  map[string]storage.Revision
	lastRead time.Time
}

// run tells the changes until ctx ends or tell returns false.
func (w *watch) run(ctx context.Context, tell func(Change) bool) error {
	for {
		wait := time.Hour
		if len(w.pending) > 0 {
			wait = max(watchGap-time.Since(w.lastRead), 0)
		}
		changed, err := w.changes.Wait(ctx, wait)
		if err != nil {
			return err
		}
		var gone []string
		var read []*Job
		at := map[string]storage.Revision{} // where each job read stood
		err = w.m.store.View(ctx, func(tx *storage.Tx) error {
			var urgent []string
			var now map[string]storage.Revision
			if changed {
				var err error
				if urgent, gone, now, err = w.look(tx); err != nil {
					return err
				}
			}
			ids := urgent
			if time.Since(w.lastRead) >= watchGap {
				for id := range w.pending {
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				return nil
			}
			for _, id := range ids {
				r, ok := now[id]
				if !ok {
					r = w.pending[id]
				}
				at[id] = r
			}
			w.lastRead = time.Now()
			rows, err := tx.JobsByID(ids)
			if err != nil {
				return err
			}
			files, err := tx.FilesOf(ids)
			if err != nil {
				return err
			}
			for _, r := range rows {
				read = append(read, fromRow(r, files[r.ID]))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range gone {
			delete(w.known, id)
			delete(w.pending, id)
			if !tell(Change{Kind: ChangeRemoved, ID: id}) {
				return ctx.Err()
			}
		}
		for _, j := range read {
			was, seen := w.known[j.ID]
			w.known[j.ID] = storage.Revision{Rev: at[j.ID].Rev, State: int(j.State)}
			delete(w.pending, j.ID)
			told := tell(Change{Kind: ChangeModified, ID: j.ID, Job: j})
			if entered := !seen || State(was.State) != j.State; told && entered {
				switch j.State {
				case Transferred:
					told = tell(Change{Kind: ChangeTransferred, ID: j.ID, Job: j})
				case Error:
					told = tell(Change{Kind: ChangeError, ID: j.ID, Job: j})
				}
			}
			if !told {
				return ctx.Err()
			}
		}
	}
}

// look reads which jobs changed since the last look: from the store's log
// of changes or, when the log no longer reaches back that far, from every
// job. It returns the jobs to read at once (new ones, and those in another
// state), the jobs that are gone, in GUID order, and where the jobs it saw
// stand; it notes in pending the jobs whose revision alone moved.
func (w *watch) look(tx *storage.Tx) (urgent, gone []string, now map[string]storage.Revision, err error) {
	ids, last, complete, err := tx.ChangesSince(w.last)
	if err != nil {
		return nil, nil, nil, err
	}
	if complete {
		now, err = tx.RevisionsOf(ids)
	} else {
		now, err = tx.Revisions()
		ids = slices.Collect(maps.Keys(w.known))
		for id := range now {
			if _, ok := w.known[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	w.last = last
	for _, id := range ids {
		r, ok := now[id]
		k, seen := w.known[id]
		switch {
		case !ok && seen:
			gone = append(gone, id)
		case !ok:
		case !seen || k.State != r.State:
			urgent = append(urgent, id)
		case k.Rev != r.Rev:
			w.pending[id] = r
		}
	}
	slices.Sort(gone)
	return urgent, gone, now, nil
}
