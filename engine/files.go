package engine

import (
	"context"
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
	var running sync.WaitGroup
	slots := make(chan struct{}, fileWindow)
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		var prev chan struct{}
		for k, i := range todo {
			select {
			case slots <- struct{}{}:
			case <-fctx.Done():
				return
			}
			done := make(chan struct{}) // this file recorded complete
			running.Add(1)
			go func(k, i int, prev <-chan struct{}) {
				defer running.Done()
				err := w.downloadFile(fctx, j, i, s, st, fileRun{moving: moving, prev: prev})
				if err == nil {
					close(done)
				}
				errs[k] = err
				close(ended[k])
				<-slots
			}(k, i, prev)
			prev = done
		}
	}()
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
