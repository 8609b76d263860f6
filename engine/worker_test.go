package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/hresult"
	"bits/internal/testenv"
)

// clock is a settable clock: retry delays and timeouts are tested by moving
// it, not by waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	m     *engine.Manager
	clock *clock
	dir   string // where downloads land
	logs  *testenv.SyncBuffer
}

func (h *harness) log() string { return h.logs.String() }

// fmtJob prints every field of a job, as a test of what it carries.
func fmtJob(j *engine.Job) string { return fmt.Sprintf("%+v %+v", *j, j.Files) }

// start opens a Manager in a temporary state folder and runs a real worker
// for it until the test ends.
func start(t *testing.T) *harness {
	t.Helper()
	return startWith(t, nil)
}

// job creates a job for the given URLs and resumes it.
func (h *harness) job(urls ...string) *engine.Job {
	h.t.Helper()
	return h.jobWith(engine.Props{}, urls...)
}

// waitFor polls the job until cond holds, for at most 20 s.
func (h *harness) waitFor(id string, what string, cond func(*engine.Job) bool) *engine.Job {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := h.m.Get(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job never became %s; last state %v, err %+v", what, j.State, j.Err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) waitState(id string, s engine.State) *engine.Job {
	return h.waitFor(id, s.String(), func(j *engine.Job) bool { return j.State == s })
}

func TestDownloadAndCompleteSeveralJobsAtOnce(t *testing.T) {
	h := start(t)
	a := testenv.RandomContent(3<<20, 1)
	b := testenv.RandomContent(1<<20, 2)
	oa := testenv.NewOrigin(t, a, testenv.RateLimit(4<<20))
	ob := testenv.NewOrigin(t, b, testenv.RateLimit(4<<20))
	empty := testenv.NewOrigin(t, nil)
	ja := h.job(oa.URL("/file"), empty.URL("/file"))
	jb := h.job(ob.URL("/file"))

	// Both are moving at the same time before either finishes.
	h.waitFor(ja.ID, "moving", func(j *engine.Job) bool { _, n, _, _ := j.Progress(); return n > 0 })
	h.waitFor(jb.ID, "moving", func(j *engine.Job) bool { _, n, _, _ := j.Progress(); return n > 0 })
	if j, _ := h.m.Get(context.Background(), ja.ID); j.State == engine.Transferred {
		t.Fatal("first job finished before the second began: jobs did not run at once")
	}

	for _, id := range []string{ja.ID, jb.ID} {
		j := h.waitState(id, engine.Transferred)
		for _, f := range j.Files {
			if _, err := os.Stat(f.LocalName); err == nil {
				t.Fatalf("%s exists before Complete", f.LocalName)
			}
		}
		if j.TransferCompleted.IsZero() {
			t.Error("no transfer completion time")
		}
		if code, err := h.m.Complete(context.Background(), id); err != nil || code != hresult.S_OK {
			t.Fatalf("Complete = %v, %v", code, err)
		}
		for _, f := range j.Files {
			got, err := os.ReadFile(f.LocalName)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int][]byte{0: a, 1: nil}[f.Index]
			if id == jb.ID {
				want = b
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: content differs (%d bytes, want %d)", f.LocalName, len(got), len(want))
			}
		}
	}
	if left := testenv.TempFiles(t, h.dir); len(left) != 0 {
		t.Errorf("temporary files left after Complete: %v", left)
	}
	if _, err := h.m.Get(context.Background(), ja.ID); !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		t.Errorf("completed job still listed: %v", err)
	}
}

func TestFatalHTTPErrorGoesToError(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, []byte("x"))
	j := h.waitState(h.job(o.URL("/missing")).ID, engine.Error)
	if j.Err == nil || j.Err.Code != 0x80190194 || j.Err.Context != hresult.ContextRemoteFile || j.Err.FileIndex != 0 {
		t.Fatalf("error = %+v, want 0x80190194 in the remote file context", j.Err)
	}
	if j.ErrorCount != 1 {
		t.Errorf("error count %d, want 1", j.ErrorCount)
	}
}

func TestTransientErrorRetriesAfterDelay(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(100_000, 3)
	// Two: the GET that would spare the HEAD, and the HEAD it falls back to.
	o := testenv.NewOrigin(t, content, testenv.FailFirst(2, 503, "Retry-After", "900"))
	id := h.job(o.URL("/file")).ID
	j := h.waitState(id, engine.TransientError)
	if j.Err == nil || j.Err.Code != 0x801901F7 {
		t.Fatalf("error = %+v, want 0x801901f7", j.Err)
	}
	// Retry-After (900 s) is longer than the retry delay (600 s): it wins.
	h.clock.Add(600 * time.Second)
	spawn.Nudge(h.m.Home())
	if j, _ := h.m.Get(context.Background(), id); j.State != engine.TransientError {
		t.Fatalf("retried before Retry-After: %v", j.State)
	}
	h.clock.Add(301 * time.Second)
	j = h.waitState(id, engine.Transferred)
	if j.Err != nil || j.ErrorCount != 1 {
		t.Errorf("after retry: err %+v, count %d", j.Err, j.ErrorCount)
	}
}

func TestNoProgressTimeoutTurnsTransientIntoError(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, []byte("abc"), testenv.FailFirst(1000, 500))
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "t", engine.Download)
	h.m.AddFile(ctx, j.ID, o.URL("/file"), filepath.Join(h.dir, "f"))
	npt, delay := 700*time.Second, 5*time.Second
	h.m.Set(ctx, j.ID, engine.Props{NoProgressTimeout: &npt, MinRetryDelay: &delay})
	h.m.Resume(ctx, j.ID)
	h.waitState(j.ID, engine.TransientError)
	h.clock.Add(701 * time.Second)
	got := h.waitState(j.ID, engine.Error)
	if got.Err == nil || got.Err.Code != 0x801901F4 {
		t.Errorf("error = %+v, want the last transient error 0x801901f4", got.Err)
	}

	// With a no-progress timeout of 0 a transient error is fatal at once.
	zero := time.Duration(0)
	j2, _ := h.m.Create(ctx, "t2", engine.Download)
	h.m.AddFile(ctx, j2.ID, o.URL("/file"), filepath.Join(h.dir, "g"))
	h.m.Set(ctx, j2.ID, engine.Props{NoProgressTimeout: &zero})
	h.m.Resume(ctx, j2.ID)
	if got := h.waitState(j2.ID, engine.Error); got.ErrorCount != 1 {
		t.Errorf("error count %d, want 1", got.ErrorCount)
	}
}

// TestChangedFileIsFetchedAgain cuts the connection, changes the file on
// the server, and checks the job ends with the new content, never a splice.
func TestChangedFileIsFetchedAgain(t *testing.T) {
	h := start(t)
	old := testenv.RandomContent(2<<20, 4)
	fresh := testenv.RandomContent(2<<20+77, 5)
	o := testenv.NewOrigin(t, old, testenv.CutAfter(1<<20, 1), testenv.ChangeAfter(1<<20, fresh))
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "t", engine.Download)
	h.m.AddFile(ctx, j.ID, o.URL("/file"), filepath.Join(h.dir, "f"))
	delay := 5 * time.Second
	h.m.Set(ctx, j.ID, engine.Props{MinRetryDelay: &delay})
	h.m.Resume(ctx, j.ID)
	h.waitState(j.ID, engine.TransientError)
	h.clock.Add(delay)
	h.waitState(j.ID, engine.Transferred)
	h.m.Complete(ctx, j.ID)
	got, _ := os.ReadFile(filepath.Join(h.dir, "f"))
	if !bytes.Equal(got, fresh) {
		t.Fatalf("got %d bytes that are not the new file (%d bytes)", len(got), len(fresh))
	}
}

// A destination folder that is gone is a transient error: the file starts
// when the folder is back.
func TestMissingDestinationFolderWaitsForIt(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, []byte("abc"))
	ctx := context.Background()
	dir := filepath.Join(h.dir, "gone")
	os.Mkdir(dir, 0o755)
	j, _ := h.m.Create(ctx, "t", engine.Download)
	if err := h.m.AddFile(ctx, j.ID, o.URL("/file"), filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	os.Remove(dir)
	h.m.Resume(ctx, j.ID)
	got := h.waitState(j.ID, engine.TransientError)
	if got.Err.Context != hresult.ContextLocalFile || got.Err.Code != hresult.E_PATH_NOT_FOUND || !strings.Contains(got.Err.Msg, dir) {
		t.Errorf("error = %+v, want a local file error naming the folder", got.Err)
	}
	os.Mkdir(dir, 0o755)
	h.clock.Add(got.MinRetryDelay)
	spawn.Nudge(h.m.Home())
	h.waitState(j.ID, engine.Transferred)
}

func TestSuspendKeepsCheckpointAndCancelRemovesTemp(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(8<<20, 6)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(2<<20))
	ctx := context.Background()
	id := h.job(o.URL("/file")).ID
	h.waitFor(id, "checkpointed", func(j *engine.Job) bool { return j.Files[0].BytesTransferred > 0 })
	if err := h.m.Suspend(ctx, id); err != nil {
		t.Fatal(err)
	}
	j := h.waitState(id, engine.Suspended)
	tmp := j.Files[0].TempName
	fi, err := os.Stat(tmp)
	if err != nil || fi.Size() < j.Files[0].BytesTransferred {
		t.Fatalf("temporary file %s: %v, size %v < checkpoint %d", tmp, err, fi, j.Files[0].BytesTransferred)
	}

	// Resume asks for the rest from the checkpoint, not from 0.
	n := len(o.Requests())
	h.m.Resume(ctx, id)
	h.waitFor(id, "moving again", func(j *engine.Job) bool { return j.State == engine.Transferring })
	var resumed string
	for _, r := range o.Requests()[n:] {
		if r.Method == "GET" {
			resumed = r.Range
			break
		}
	}
	if resumed == "" || resumed == "bytes=0-" {
		t.Fatalf("resumed with Range %q, want one from the checkpoint", resumed)
	}

	if _, err := h.m.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file survived Cancel: %v", err)
	}
	// The worker notices within a checkpoint and must not bring it back.
	deadline := time.Now().Add(5 * time.Second)
	for o.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if o.Active() > 0 {
		t.Fatal("the worker kept downloading a cancelled job")
	}
	if left := testenv.TempFiles(t, h.dir); len(left) != 0 {
		t.Errorf("temporary files after Cancel: %v", left)
	}
}
