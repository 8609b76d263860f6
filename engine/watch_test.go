package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"bits/engine"
	"bits/hresult"
	"bits/internal/testenv"
)

// watching runs Watch on a Manager of its own on h's store, as another
// process would, until the test ends, and returns what it hears.
func watching(t *testing.T, h *harness) <-chan engine.Change {
	t.Helper()
	w, err := engine.Open(engine.Options{Home: h.m.Home(), StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	watcher, err := w.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := watcher.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := watcher.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("the watcher stopped with %v, want context.Canceled", err)
		}
		cancel()
		w.Close()
	})
	return watcher.Changes()
}

// TestWatchTellsEveryChange: a watcher hears what another Manager and the
// worker do to jobs: a new job, a changed setting, a transfer, an error
// for a 404 and each job's end, with the job as it stands after the
// change; a job's TRANSFERRED and ERROR come right after the change that
// shows them, and nothing of a job comes after its end.
func TestWatchTellsEveryChange(t *testing.T) {
	h := start(t)
	changes := watching(t, h)
	ctx := context.Background()

	var heard []engine.Change
	removed := map[string]bool{}
	// expect reads changes until one of kind k to job id, and cond on it
	// if there is a job, holds.
	expect := func(k engine.ChangeKind, id string, cond func(*engine.Job) bool) engine.Change {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case c := <-changes:
				if removed[c.ID] {
					t.Errorf("%s of job %s after its end", c.Kind, c.ID)
				}
				if c.Kind == engine.ChangeRemoved {
					removed[c.ID] = true
				}
				if (c.Kind == engine.ChangeRemoved) != (c.Job == nil) || (c.Job != nil && c.Job.ID != c.ID) {
					t.Errorf("%s of %s carries job %+v", c.Kind, c.ID, c.Job)
				}
				if c.Kind == engine.ChangeTransferred || c.Kind == engine.ChangeError {
					if n := len(heard); n == 0 || heard[n-1].Kind != engine.ChangeModified || heard[n-1].Job != c.Job {
						t.Errorf("%s of %s does not follow the change that shows it", c.Kind, c.ID)
					}
				}
				heard = append(heard, c)
				if c.Kind == k && c.ID == id && (c.Job == nil || cond(c.Job)) {
					return c
				}
			case <-timeout:
				for _, c := range heard {
					if c.Job != nil {
						t.Logf("%s %s %v", c.Kind, c.ID, c.Job.State)
					}
				}
				t.Fatalf("no %s of job %s in 20 s; heard %d changes", k, id, len(heard))
			}
		}
	}
	any := func(*engine.Job) bool { return true }

	j, err := h.m.Create(ctx, "watched", engine.Download)
	if err != nil {
		t.Fatal(err)
	}
	expect(engine.ChangeModified, j.ID, func(j *engine.Job) bool { return j.DisplayName == "watched" && j.State == engine.Suspended })
	desc := "described"
	if err := h.m.Set(ctx, j.ID, engine.Props{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	expect(engine.ChangeModified, j.ID, func(j *engine.Job) bool { return j.Description == desc })

	o := testenv.NewOrigin(t, testenv.RandomContent(200_000, 7))
	if err := h.m.AddFile(ctx, j.ID, o.URL("/file"), h.dir+"/watched.bin"); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Resume(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	c := expect(engine.ChangeTransferred, j.ID, any)
	if c.Job.State != engine.Transferred || !c.Job.Files[0].Complete {
		t.Errorf("TRANSFERRED carries the job in state %v, its file complete: %v", c.Job.State, c.Job.Files[0].Complete)
	}
	if _, err := h.m.Complete(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	expect(engine.ChangeRemoved, j.ID, any)

	bad := h.job(o.URL("/missing"))
	c = expect(engine.ChangeError, bad.ID, any)
	if c.Job.State != engine.Error || c.Job.Err == nil || c.Job.Err.Code != 0x80190194 {
		t.Errorf("ERROR carries the job in state %v with error %+v; want 0x80190194", c.Job.State, c.Job.Err)
	}
	if _, err := h.m.Cancel(ctx, bad.ID); err != nil {
		t.Fatal(err)
	}
	expect(engine.ChangeRemoved, bad.ID, any)
	for _, c := range heard {
		if c.Kind == engine.ChangeError && c.ID == j.ID {
			t.Errorf("the job that transferred was told in error: %+v", c.Job.Err)
		}
	}
	if _, err := h.m.Get(ctx, bad.ID); !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		t.Fatalf("the cancelled job is still there: %v", err)
	}
}

// TestWatchCatchesUpAfterFallingBehind: a watcher whose receiver stopped
// reading while the store's log of changes moved on past what it keeps
// still tells every job that came meanwhile, from a look at every job.
func TestWatchCatchesUpAfterFallingBehind(t *testing.T) {
	home := t.TempDir()
	opts := engine.Options{Home: home, MaxJobsPerUser: 20000, StartWorker: func(string) error { return nil }}
	m, err := engine.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	w, err := m.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first, err := m.Create(ctx, "first", engine.Download)
	if err != nil {
		t.Fatal(err)
	}
	// The watcher now waits to hand over the first job's change; meanwhile
	// 11,000 jobs leave an entry each in the log, which keeps 10,000.
	const n = 11000
	specs := func(yield func(engine.JobSpec, error) bool) {
		for i := range n {
			if !yield(engine.JobSpec{Name: fmt.Sprint("later ", i)}, nil) {
				return
			}
		}
	}
	made := map[string]bool{}
	if err := m.Import(ctx, specs, func(id string, err error) {
		if err != nil {
			t.Fatal(err)
		}
		made[id] = true
	}); err != nil {
		t.Fatal(err)
	}
	if c := <-w.Changes(); c.ID != first.ID || c.Kind != engine.ChangeModified {
		t.Fatalf("first change: %s of %s, want modified of %s", c.Kind, c.ID, first.ID)
	}
	timeout := time.After(60 * time.Second)
	for len(made) > 0 {
		select {
		case c := <-w.Changes():
			if c.Kind == engine.ChangeModified {
				delete(made, c.ID)
			}
		case <-timeout:
			t.Fatalf("%d of the %d jobs made while the watcher waited were never told", len(made), n)
		}
	}
}
