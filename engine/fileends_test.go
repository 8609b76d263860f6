package engine

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
)

// waiting starts finish for places from, ..., to-1 of e and returns once
// each waits for its turn; their errors arrive on errs in any order.
func waiting(t *testing.T, ctx context.Context, e *fileEnds, from, to int, record func([]*File) error) chan error {
	t.Helper()
	errs := make(chan error, to-from)
	for p := from; p < to; p++ {
		run := fileRun{ends: e, pos: p, prev: e.done[p-1]}
		go func() { errs <- run.finish(ctx, &File{Index: p}, record) }()
	}
	for {
		e.mu.Lock()
		n := 0
		for p := from; p < to; p++ {
			if e.ready[p] != nil {
				n++
			}
		}
		e.mu.Unlock()
		if n == to-from {
			return errs
		}
		runtime.Gosched()
	}
}

// The file whose turn comes records with it, in one call, the files after
// it that finished first; the one after those waits for its own turn.
func TestFinishedFilesAreRecordedWithTheFirst(t *testing.T) {
	ctx := context.Background()
	e := newFileEnds(5)
	var calls [][]int
	record := func(fs []*File) error {
		var idx []int
		for _, f := range fs {
			idx = append(idx, f.Index)
		}
		calls = append(calls, idx)
		return nil
	}
	errs := waiting(t, ctx, e, 1, 4, record)
	if err := (fileRun{ends: e, pos: 0}).finish(ctx, &File{Index: 0}, record); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := (fileRun{ends: e, pos: 4, prev: e.done[3]}).finish(ctx, &File{Index: 4}, record); err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{0, 1, 2, 3}, {4}}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("records %v, want %v", calls, want)
	}
	for p, d := range e.done {
		select {
		case <-d:
		default:
			t.Errorf("file %d recorded but its turn is not passed on", p)
		}
	}
}

// When the record fails, every file in it fails with its error and the
// turn passes to no one: the file after them stops without a record.
func TestFailedRecordPassesNoTurn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := newFileEnds(3)
	broken := errors.New("disk I/O error")
	calls := 0
	record := func(fs []*File) error {
		calls++
		return broken
	}
	errs := waiting(t, ctx, e, 1, 2, record)
	if err := (fileRun{ends: e, pos: 0}).finish(ctx, &File{Index: 0}, record); !errors.Is(err, broken) {
		t.Fatalf("first file: %v, want %v", err, broken)
	}
	if err := <-errs; !errors.Is(err, broken) {
		t.Fatalf("file recorded with it: %v, want %v", err, broken)
	}
	cancel() // as transferFiles does on the first error
	if err := (fileRun{ends: e, pos: 2, prev: e.done[1]}).finish(ctx, &File{Index: 2}, record); !errors.Is(err, errStopped) {
		t.Errorf("file after them: %v, want errStopped", err)
	}
	if calls != 1 {
		t.Errorf("%d records, want 1", calls)
	}
}
