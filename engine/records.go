package engine

import (
	"context"
	"errors"
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
// of them, so that no caller serves others for longer than one.
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
	// its caller is to run the next transaction (lead).
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
		if q != req {
			close(q.wake)
		}
	}
	r.mu.Lock()
	if len(r.waiting) > 0 {
		next := r.waiting[0]
		next.lead = true
		close(next.wake)
	} else {
		r.leading = false
	}
	r.mu.Unlock()
	return req.result()
}

func (q *recordReq) result() error {
	if q.err == nil && q.stopped {
		return errStopped
	}
	return q.err
}

// writeRecord writes one record in tx.
func (w *worker) writeRecord(tx *storage.Tx, q *recordReq) error {
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
			Session: f.Session, Verified: f.Verified, UploadReach: f.UploadReach}); err != nil {
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
