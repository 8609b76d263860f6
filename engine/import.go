package engine

import (
	"context"
	"errors"
	"iter"
	"time"

	"bits/storage"
)

// importBatchTime is how long one transaction of Import lasts: other
// processes' changes (the worker's checkpoints, a command) wait at most
// about this long for the write lock.
const importBatchTime = 100 * time.Millisecond

// importItem is an item of Import's input, checked as far as it can be
// without the store.
type importItem struct {
	p   prepared
	err error
}

// Import creates the jobs that specs yields, each as Submit would and with
// the same checks, but many to a transaction: a refused job writes nothing
// (insert checks before it writes), so it takes back only itself. A
// transaction starts with the first item ready and commits after
// importBatchTime, or when specs ends. Every job is in the store whole or
// not at all, wherever the process is killed.
//
// done is called once for each item of specs, in their order: with the new
// job's GUID once the transaction that holds it has committed, or with the
// error that refused it (a *SubmitError, or the error specs yielded with
// the item, which is passed on untouched so that reports keep the input's
// order). specs runs on a goroutine of its own, beside done. Import returns
// when specs ends, or with the store's error or ctx's; the items of the
// transaction that failed are not reported. Queued jobs wake the worker.
func (m *Manager) Import(ctx context.Context, specs iter.Seq2[JobSpec, error], done func(id string, err error)) error {
	// specs is read ahead, beside the transaction, and no transaction
	// begins before an item is ready: a slow input holds the write lock
	// for importBatchTime at most.
	items := make(chan importItem, 256)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(items)
		var f *folders
		for spec, err := range specs {
			it := importItem{err: err}
			if err == nil {
				f = foldersFor(f)
				it.p = m.prepare(spec, f) // the checks that need no store, beside the transaction
			}
			select {
			case items <- it:
			case <-quit:
				return
			}
		}
	}()
	return m.store.Batches(ctx, func(update func(func(*storage.Tx) error) error) error {
		return m.importBatches(ctx, items, update, done)
	})
}

// importBatches writes the prepared items, a transaction at a time, and
// reports them.
func (m *Manager) importBatches(ctx context.Context, items <-chan importItem, update func(func(*storage.Tx) error) error, done func(id string, err error)) error {
	type outcome struct {
		id  string
		err error
	}
	var batch []outcome
	for {
		var it importItem
		var ok bool
		select {
		case it, ok = <-items:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		batch = batch[:0]
		active := false
		err := update(func(tx *storage.Tx) error {
			deadline := time.NewTimer(importBatchTime)
			defer deadline.Stop()
			// This transaction is the store's only writer: it counts the
			// jobs once and then those it adds.
			jobs, err := tx.CountJobs()
			if err != nil {
				return err
			}
			for {
				if it.err != nil {
					batch = append(batch, outcome{err: it.err})
				} else {
					j, err := m.insert(tx, it.p, jobs)
					var se *SubmitError
					switch {
					case errors.As(err, &se):
						batch = append(batch, outcome{err: err})
					case err != nil:
						return err
					default:
						jobs++
						batch = append(batch, outcome{id: j.ID})
						active = active || j.State.Active()
					}
				}
				select {
				case it, ok = <-items:
					if !ok {
						return nil
					}
				case <-deadline.C:
					return nil
				}
			}
		})
		if err != nil {
			return err
		}
		if active {
			// As after Submit, a worker that cannot start is the front
			// end's to report (EnsureWorker).
			m.startWorker()
		}
		for _, o := range batch {
			done(o.id, o.err)
		}
	}
}
