package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"bits/engine/netpolicy"
	"bits/engine/transport"
)

// fileWindow is how many files of a download job move at once: enough to
// hide each small file's round trips and sync behind the others', as many
// as the HTTP transport keeps idle connections for per server.
const fileWindow = 8

// aheadSize is the largest file that moves before its turn, while files
// before it still move: a larger one waits for its turn, so big files go
// one after another, each at the job's full rate, as BITS moves them.
const aheadSize = 1 << 20

// fileBacklog is how many files of a run may be under way at once: moving,
// or with their bytes in and ending (each holds its temporary file open).
// A file whose bytes are in gives its connection to the next one, so a
// file slow to end (a sync, its turn) does not hold the others back.
const fileBacklog = 8 * fileWindow

// A fileRun is what one file's transfer shares with the rest of its job's
// run.
type fileRun struct {
	// moving is set by the file whose first bytes, the run's first, move
	// the job to TRANSFERRING.
	moving *atomic.Bool
	// prev is closed when the file before this one is recorded complete;
	// nil when there is none to wait for. Files finish in order, as BITS'
	// do, even when they move at once.
	prev <-chan struct{}
	// ends records the files of a run that move at once, this one at
	// place pos; nil for a file that moves alone.
	ends *fileEnds
	pos  int
	// release gives the file's connection to the next file; nil for a
	// file that moves alone.
	release func()
}

// bytesIn is called when all of the file's bytes are in.
func (r fileRun) bytesIn() {
	if r.release != nil {
		r.release()
	}
}

// small says whether a file of size bytes is a small file that moves at
// once with others: its temporary file is recorded with the next
// transaction (recordLater), and it is synced with the rest of its job
// (syncLater).
func (r fileRun) small(size int64) bool {
	return r.ends != nil && size != SizeUnknown && size <= aheadSize
}

// syncLater says whether f, whose bytes are all in, is synced with the
// rest of its job, before the job is TRANSFERRED, rather than now (see
// unsynced.go).
func (r fileRun) syncLater(f *File) bool {
	return r.small(f.BytesTotal) && bootID() != ""
}

// fileEnds records the files of a run complete in their order, several to
// a transaction: the file whose turn comes records with it the files after
// it that have finished already (synced, waiting for their turn), so a run
// of small files does not wait out one record after another.
type fileEnds struct {
	mu      sync.Mutex
	ready   []*File // by place: a file that waits for its turn
	taken   []bool  // recorded, or being recorded, by the file at its turn
	errs    []error // the outcome of each taken file's record
	settled []chan struct{}
	// done are closed when the file at that place is recorded complete:
	// the next file's prev.
	done []chan struct{}
}

func newFileEnds(n int) *fileEnds {
	e := &fileEnds{ready: make([]*File, n), taken: make([]bool, n), errs: make([]error, n),
		settled: make([]chan struct{}, n), done: make([]chan struct{}, n)}
	for i := range n {
		e.settled[i], e.done[i] = make(chan struct{}), make(chan struct{})
	}
	return e
}

// finish records f complete in its turn, with record. A file that moves
// at once with others waits for its turn, or for the file whose turn came
// to record it; the one whose turn comes records itself and the finished
// files after it in one call of record.
func (r fileRun) finish(ctx context.Context, f *File, record func([]*File) error) error {
	e := r.ends
	if e == nil {
		if err := r.turn(ctx); err != nil {
			return err
		}
		return record([]*File{f})
	}
	e.mu.Lock()
	e.ready[r.pos] = f
	e.mu.Unlock()
	if r.prev != nil {
		select {
		case <-r.prev:
		case <-e.settled[r.pos]: // recorded, or failed, with an earlier file
		case <-ctx.Done():
		}
	}
	e.mu.Lock()
	if e.taken[r.pos] {
		e.mu.Unlock()
		<-e.settled[r.pos]
		return e.errs[r.pos]
	}
	if r.ahead() {
		e.ready[r.pos] = nil // stopped before its turn: no later turn records it
		e.mu.Unlock()
		return errStopped
	}
	end := r.pos
	for end < len(e.ready) && e.ready[end] != nil && !e.taken[end] {
		e.taken[end] = true
		end++
	}
	fs := slices.Clone(e.ready[r.pos:end])
	e.mu.Unlock()
	err := record(fs)
	for p := r.pos; p < end; p++ {
		e.errs[p] = err
		close(e.settled[p])
		if err == nil {
			close(e.done[p])
		}
	}
	return err
}

// ahead says whether the file moves before its turn: the one before it is
// not recorded complete yet. Such a file records no progress, so the job
// shows what BITS shows, bytes moving in one file at a time.
func (r fileRun) ahead() bool {
	if r.prev == nil {
		return false
	}
	select {
	case <-r.prev:
		return false
	default:
		return true
	}
}

// turn waits until the file before this one is recorded complete. It
// returns errStopped when ctx ends first: that file failed, or the job
// stops.
func (r fileRun) turn(ctx context.Context) error {
	if r.prev == nil {
		return nil
	}
	select {
	case <-r.prev:
		return nil
	case <-ctx.Done():
		return errStopped
	}
}

// transferFiles moves the job's unfinished files and returns the index of
// the first one that failed, in the order added, with its error.
// Downloads move up to fileWindow files at once, through one stream of the
// shaper, so the job's limit holds for all of them together; each file is
// recorded complete only after the one before it, so the job's files
// finish in order as they do one after another.
func (w *worker) transferFiles(ctx context.Context, j *Job, s transport.Settings, r *runner) (int, error) {
	moving := new(atomic.Bool)
	var todo []int
	for i := range j.Files {
		if !j.Files[i].Complete {
			todo = append(todo, i)
		}
	}
	if !w.m.atOnce(j, todo) {
		for _, i := range todo {
			if err := w.transferFile(ctx, j, i, s, r, fileRun{moving: moving}); err != nil {
				return i, err
			}
		}
		return -1, nil
	}

	st := w.shaper.Open(netpolicy.Down, netpolicy.Class(j.Priority), jobLimit(j), w.m.overNetwork(j.Files[todo[0]].RemoteName))
	r.stream.Store(st)
	defer w.closeStream(j.ID, st)
	fctx, cancel := context.WithCancel(transport.WithConnObserver(ctx, st.Observe))
	defer cancel()

	errs := make([]error, len(todo))
	ended := make([]chan struct{}, len(todo)) // closed when errs[k] is set
	for k := range ended {
		ended[k] = make(chan struct{})
	}
	ends := newFileEnds(len(todo))
	var running sync.WaitGroup
	slots := make(chan struct{}, fileWindow)
	backlog := make(chan struct{}, fileBacklog)
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		for k, i := range todo {
			select {
			case backlog <- struct{}{}:
			case <-fctx.Done():
				return
			}
			select {
			case slots <- struct{}{}:
			case <-fctx.Done():
				return
			}
			run := fileRun{moving: moving, ends: ends, pos: k, release: sync.OnceFunc(func() { <-slots })}
			if k > 0 {
				run.prev = ends.done[k-1]
			}
			running.Add(1)
			go func(k, i int) {
				defer running.Done()
				errs[k] = w.downloadFile(fctx, j, i, s, st, run)
				close(ended[k])
				run.release()
				<-backlog
			}(k, i)
		}
	}()
	defer w.flushRecords(ctx)
	for k, i := range todo {
		<-ended[k]
		if errs[k] != nil {
			cancel()
			<-launched
			running.Wait()
			return i, errs[k]
		}
	}
	<-launched
	return -1, nil
}

// atOnce says whether a job's files may move several at a time: those of
// a download, when they are more than one and either all go over the
// network or none does (one shaper stream paces them together).
func (m *Manager) atOnce(j *Job, todo []int) bool {
	if j.Type != Download || len(todo) < 2 {
		return false
	}
	network := m.overNetwork(j.Files[todo[0]].RemoteName)
	for _, i := range todo[1:] {
		if m.overNetwork(j.Files[i].RemoteName) != network {
			return false
		}
	}
	return true
}

// closeStream ends a stream of the shaper and keeps its peers, so that a
// lost network can be told apart and noticed coming back.
func (w *worker) closeStream(jobID string, st *netpolicy.Stream) {
	st.Close()
	if peers := st.Peers(); len(peers) > 0 {
		w.mu.Lock()
		w.peers[jobID] = peers
		w.mu.Unlock()
	}
}
