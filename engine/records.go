package engine

import (
	"context"
	"errors"
	"slices"
	"sync"

	"bits/storage"
)

// records writes the worker's file checkpoints, merging those asked for
// at the same moment into one transaction (a group commit): the files of a
// job that move at once each record their temporary file as they start and
// their end as they finish, and a transaction costs more than the rows it
// writes. A caller whose record finds no transaction under way runs one
// for itself and for every record waiting then; the records that arrive
// meanwhile wait, and the first of them runs the next transaction for all
// of them, so that no caller serves others for longer than one. A record
// may also be left to ride with the next transaction (recordLater).
type records struct {
	mu      sync.Mutex
	waiting []*recordReq
	leading bool // a transaction runs, or the next one's leader is woken
}

// A recordReq is one call of recordAll.
type recordReq struct {
	jobID                string
	fs                   []*File
	complete, progressed bool
	stopped              bool
	err                  error
	// wake is closed once: when the record is written (or failed), or when
	// its caller is to run the next transaction (lead). A record left for
	// later has none: nobody waits for it.
	wake chan struct{}
	lead bool
}

// recordAll writes the checkpoints of fs, files of job jobID, and, when
// progressed, the job's progress clock. It returns errStopped when the job
// is gone or no longer active (the checkpoint of a suspended job is still
// kept), so a transfer ends within one checkpoint of a user's Suspend,
// Cancel or Complete.
func (w *worker) recordAll(ctx context.Context, jobID string, fs []*File, complete, progressed bool) error {
	req := &recordReq{jobID: jobID, fs: fs, complete: complete, progressed: progressed, wake: make(chan struct{})}
	r := &w.records
	r.mu.Lock()
	r.waiting = append(r.waiting, req)
	if r.leading {
		r.mu.Unlock()
		<-req.wake
		if !req.lead {
			return req.result()
		}
		r.mu.Lock()
	}
	r.leading = true
	batch := r.waiting
	r.waiting = nil
	r.mu.Unlock()
	err := w.m.store.Update(context.WithoutCancel(ctx), func(tx *storage.Tx) error {
		for _, q := range batch {
			if err := w.writeRecord(tx, q); err != nil {
				return err
			}
		}
		return nil
	})
	for _, q := range batch {
		if err != nil {
			q.err = err
		}
		if q.wake == nil && q.err != nil {
			w.log.Warn("temporary file not recorded", "job", q.jobID, "err", q.err)
		}
		if q != req && q.wake != nil {
			close(q.wake)
		}
	}
	r.mu.Lock()
	// The next transaction is run by a caller that waits for one: records
	// left for later wait for it too.
	r.leading = false
	for _, next := range r.waiting {
		if next.wake != nil {
			next.lead = true
			close(next.wake)
			r.leading = true
			break
		}
	}
	r.mu.Unlock()
	return req.result()
}

// recordLater leaves a record of f to the next transaction of the
// worker's records, without waiting for it: at the latest the file's own
// next record, or flushRecords at the end of its run. A small file's new
// temporary file is recorded so, since a transaction of its own cost as
// much as the rest of the file's end. Until then a worker that dies leaves
// the file unrecorded, as it would between making it and recording it.
func (w *worker) recordLater(jobID string, f File) {
	r := &w.records
	r.mu.Lock()
	r.waiting = append(r.waiting, &recordReq{jobID: jobID, fs: []*File{&f}})
	r.mu.Unlock()
}

// flushRecords writes at once the records left for later: it waits for a
// transaction of the records waiting, in their order (a record left for
// later must not land after a later record of the same file).
func (w *worker) flushRecords(ctx context.Context) {
	r := &w.records
	r.mu.Lock()
	later := slices.ContainsFunc(r.waiting, func(q *recordReq) bool { return q.wake == nil })
	r.mu.Unlock()
	if !later {
		return
	}
	// A record of no job: it writes nothing of its own.
	if err := w.recordAll(ctx, "", nil, false, false); err != nil {
		w.log.Warn("temporary files not recorded", "err", err)
	}
}

func (q *recordReq) result() error {
	if q.err == nil && q.stopped {
		return errStopped
	}
	return q.err
}

// writeRecord writes one record in tx.
func (w *worker) writeRecord(tx *storage.Tx, q *recordReq) error {
	if q.jobID == "" {
		return nil // flushRecords' own
	}
	state, err := tx.JobState(q.jobID)
	if errors.Is(err, storage.ErrNotFound) {
		q.stopped = true
		return nil
	}
	if err != nil {
		return err
	}
	for _, f := range q.fs {
		if _, err := tx.SetFileProgress(q.jobID, f.Index, storage.FileProgress{TempName: f.TempName, TempID: f.TempID,
			BytesTotal: f.BytesTotal, BytesDone: f.BytesTransferred, Complete: q.complete, Validator: f.Validator,
			Session: f.Session, Verified: f.Verified, UploadReach: f.UploadReach, UnsyncedBoot: f.Unsynced}); err != nil {
			return err
		}
	}
	if st := State(state); st != Connecting && st != Transferring {
		q.stopped = true
		return nil
	}
	if !q.progressed {
		return nil
	}
	return tx.TouchJob(q.jobID, w.m.opts.Now().UnixNano())
}
