package engine

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"bits/storage"
)

// TestFlushKeepsTheRecordsInOrder: a record left for later (a file's new
// temporary file) and that file's end are waiting behind a transaction of
// another job; the run of a third job ends and flushes the records left for
// later. The file's end must land after its temporary file's record, not
// be overwritten by it.
func TestFlushKeepsTheRecordsInOrder(t *testing.T) {
	w, j := transferringJob(t)
	m, ctx := w.m, context.Background()

	// A transaction of the records that holds the store until released.
	held, release := make(chan struct{}), make(chan struct{})
	go m.store.Update(ctx, func(*storage.Tx) error { close(held); <-release; return nil })
	<-held
	busy := make(chan error, 1)
	go func() { busy <- w.recordAll(ctx, "some other job", nil, false, false) }()
	waitFor(t, "the other job's record to lead", func() bool { return w.recordsLeading() })

	f := File{Index: 0, TempName: "/nowhere/BIT0001.tmp", BytesTotal: 10}
	w.recordLater(j.ID, f)
	end := f
	end.BytesTransferred = 10
	ended := make(chan error, 1)
	go func() { ended <- w.recordAll(ctx, j.ID, []*File{&end}, true, true) }()
	waitFor(t, "the file's end to wait", func() bool { return w.callersWaiting() == 1 })
	flushed := make(chan struct{})
	go func() { w.flushRecords(ctx); close(flushed) }()
	waitFor(t, "the flush to wait", func() bool { return w.callersWaiting() == 2 })

	close(release)
	<-busy
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	<-flushed
	cur, err := m.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := cur.Files[0]; !got.Complete || got.BytesTransferred != 10 || got.TempName != f.TempName {
		t.Errorf("file recorded as %+v, want complete, 10 bytes, in %s", got, f.TempName)
	}
}

// transferringJob opens a store with one TRANSFERRING job of one file,
// and a worker of it that runs nothing by itself.
func transferringJob(t *testing.T) (*worker, *Job) {
	t.Helper()
	m, err := Open(Options{Home: t.TempDir(), StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	j, err := m.Submit(ctx, JobSpec{Name: "f", Type: Download,
		Files: []FileSpec{{Remote: "http://127.0.0.1:9/f", Local: filepath.Join(t.TempDir(), "f")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.change(ctx, j.ID, func(_ *storage.Tx, j *Job) error { j.State = Transferring; return nil }); err != nil {
		t.Fatal(err)
	}
	return &worker{m: m, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, j
}

// TestSmallFilesTemporaryFileRecordedLater: a small file's new temporary
// file costs no transaction of its own; it is in the store once the next
// transaction of the records (here a flush) is written, in that one.
func TestSmallFilesTemporaryFileRecordedLater(t *testing.T) {
	w, j := transferringJob(t)
	ctx := context.Background()
	f := j.Files[0]
	before := w.m.store.Writes()
	tmp, err := w.openTemp(ctx, j.ID, &f, true)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	if n := w.m.store.Writes() - before; n != 0 {
		t.Errorf("making the temporary file took %d store writes, want none", n)
	}
	w.flushRecords(ctx)
	if n := w.m.store.Writes() - before; n != 1 {
		t.Errorf("%d store writes after the flush, want 1", n)
	}
	cur, err := w.m.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := cur.Files[0]; got.TempName != f.TempName || got.TempID != f.TempID || f.TempName == "" {
		t.Errorf("the store has temporary file %q (%s), want %q (%s)", got.TempName, got.TempID, f.TempName, f.TempID)
	}
}

func (w *worker) recordsLeading() bool {
	w.records.mu.Lock()
	defer w.records.mu.Unlock()
	return w.records.leading
}

// callersWaiting counts the records waiting whose callers wait for them.
func (w *worker) callersWaiting() int {
	w.records.mu.Lock()
	defer w.records.mu.Unlock()
	n := 0
	for _, q := range w.records.waiting {
		if q.wake != nil {
			n++
		}
	}
	return n
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
