package engine_test

import (
	"bytes"
	"context"
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bits/engine"
	"bits/hresult"
	"bits/internal/testenv"
)

func needBootID(t *testing.T) {
	t.Helper()
	if engine.BootID() == "" {
		testenv.Missing(t, "this system does not name its boots (Linux and macOS do): every file is synced at its end")
	}
}

// getsOf counts the GETs the origin served.
func getsOf(o *testenv.Origin) int {
	n := 0
	for _, r := range o.Requests() {
		if r.Method == nethttp.MethodGet {
			n++
		}
	}
	return n
}

// TestSmallFilesSyncedBeforeTransferred holds the last of a job's small
// files back: the files before it are recorded complete but unsynced, in
// this boot; once the job is TRANSFERRED none is.
func TestSmallFilesSyncedBeforeTransferred(t *testing.T) {
	needBootID(t)
	h := start(t)
	content := testenv.RandomContent(10_000, 61)
	o := testenv.NewOrigin(t, content)
	release := heldFile(t, o, "/last", content)
	const n = 10
	j := h.smallJob(n, func(i int) string {
		if i == n-1 {
			return o.URL("/last")
		}
		return o.URL("/file")
	})
	cur := h.waitFor(j.ID, "complete but for its last file", func(j *engine.Job) bool {
		_, _, _, done := j.Progress()
		return done == n-1
	})
	for _, f := range cur.Files[:n-1] {
		if f.Unsynced != engine.BootID() {
			t.Errorf("file %d, complete before the job ends, is recorded unsynced in %q, want this boot", f.Index, f.Unsynced)
		}
	}
	release()
	h.wantSyncedAndWhole(h.waitState(j.ID, engine.Transferred), content)
}

// TestSmallFilesSyncedWhenTheRunStops suspends a job whose small files
// are complete but for the last one: the run syncs the files it left
// unsynced as it stops, so that a later boot need not fetch them again.
func TestSmallFilesSyncedWhenTheRunStops(t *testing.T) {
	needBootID(t)
	h := start(t)
	content := testenv.RandomContent(10_000, 67)
	o := testenv.NewOrigin(t, content)
	o.Handle("/last", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		<-r.Context().Done()
	}))
	const n = 10
	j := h.smallJob(n, func(i int) string {
		if i == n-1 {
			return o.URL("/last")
		}
		return o.URL("/file")
	})
	h.waitFor(j.ID, "complete but for its last file", func(j *engine.Job) bool {
		_, _, _, done := j.Progress()
		return done == n-1
	})
	if err := h.m.Suspend(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	h.waitFor(j.ID, "its complete files synced", func(j *engine.Job) bool {
		for _, f := range j.Files {
			if f.Unsynced != "" {
				return false
			}
		}
		return true
	})
}

// wantSyncedAndWhole checks that no file of the TRANSFERRED job cur is
// recorded unsynced, completes it, and compares every file with content.
func (h *harness) wantSyncedAndWhole(cur *engine.Job, content []byte) {
	h.t.Helper()
	for _, f := range cur.Files {
		if f.Unsynced != "" {
			h.t.Errorf("file %d of a TRANSFERRED job is recorded unsynced in %q", f.Index, f.Unsynced)
		}
	}
	if _, err := h.m.Complete(context.Background(), cur.ID); err != nil {
		h.t.Fatal(err)
	}
	for _, f := range cur.Files {
		if got, err := os.ReadFile(f.LocalName); err != nil || !bytes.Equal(got, content) {
			h.t.Fatalf("file %d is not the origin's (%v)", f.Index, err)
		}
	}
}

// unsyncedJob submits a job of n files from url and records each complete,
// unsynced in boot, in a temporary file holding held; the job is not
// resumed.
func (h *harness) unsyncedJob(n int, url string, held []byte, boot string) *engine.Job {
	h.t.Helper()
	spec := engine.JobSpec{Name: "unsynced", Type: engine.Download}
	for i := range n {
		spec.Files = append(spec.Files, engine.FileSpec{Remote: url, Local: filepath.Join(h.dir, fmt.Sprintf("u-%d.bin", i))})
	}
	j, err := h.m.Submit(context.Background(), spec)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range n {
		temp := filepath.Join(h.dir, fmt.Sprintf("BIT%04X.tmp", i))
		if err := os.WriteFile(temp, held, 0o600); err != nil {
			h.t.Fatal(err)
		}
		if err := engine.RecordUnsynced(h.m, j.ID, i, temp, int64(len(held)), boot); err != nil {
			h.t.Fatal(err)
		}
	}
	return j
}

// TestUnsyncedFilesOfAnEarlierBootFetchedAgain: files recorded complete
// but unsynced by a worker of another boot (before a power cut) may hold
// anything; the next worker fetches them again.
func TestUnsyncedFilesOfAnEarlierBootFetchedAgain(t *testing.T) {
	needBootID(t)
	h := openHarness(t, nil)
	content := testenv.RandomContent(10_000, 62)
	o := testenv.NewOrigin(t, content)
	const n = 5
	lost := make([]byte, len(content)) // what a power cut leaves: zeros
	j := h.unsyncedJob(n, o.URL("/file"), lost, "a boot before this one")
	if err := h.m.Resume(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	h.runWorker(time.Second)
	cur := h.waitState(j.ID, engine.Transferred)
	if got := getsOf(o); got != n {
		t.Errorf("%d GETs, want %d: every file fetched again", got, n)
	}
	h.wantSyncedAndWhole(cur, content)
}

// TestUnsyncedFilesOfThisBootKept: a worker that died in this boot left
// its files' bytes in the page cache; the next one syncs them and fetches
// none again.
func TestUnsyncedFilesOfThisBootKept(t *testing.T) {
	needBootID(t)
	h := openHarness(t, nil)
	content := testenv.RandomContent(10_000, 63)
	o := testenv.NewOrigin(t, content)
	const n = 5
	j := h.unsyncedJob(n, o.URL("/file"), content, engine.BootID())
	if err := h.m.Resume(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	h.runWorker(time.Second)
	cur := h.waitState(j.ID, engine.Transferred)
	if got := getsOf(o); got != 0 {
		t.Errorf("%d GETs, want none: the files were complete", got)
	}
	h.wantSyncedAndWhole(cur, content)
}

// TestCompleteBeforeTransferredLeavesLostFiles completes a job that is not
// TRANSFERRED: a file unsynced in this boot is synced and committed, one
// unsynced in another boot is not done, and is not committed.
func TestCompleteBeforeTransferredLeavesLostFiles(t *testing.T) {
	needBootID(t)
	h := openHarness(t, nil)
	content := testenv.RandomContent(10_000, 64)
	j := h.unsyncedJob(2, "http://127.0.0.1:9/file", content, engine.BootID())
	if err := engine.RecordUnsynced(h.m, j.ID, 0, filepath.Join(h.dir, "BIT0000.tmp"), int64(len(content)), "a boot before this one"); err != nil {
		t.Fatal(err)
	}
	code, err := h.m.Complete(context.Background(), j.ID)
	if err != nil || code != hresult.BG_S_PARTIAL_COMPLETE {
		t.Fatalf("Complete: %v, %v; want BG_S_PARTIAL_COMPLETE", code, err)
	}
	if _, err := os.Lstat(j.Files[0].LocalName); !os.IsNotExist(err) {
		t.Errorf("the file unsynced in another boot was committed (%v)", err)
	}
	if _, err := os.Lstat(filepath.Join(h.dir, "BIT0000.tmp")); !os.IsNotExist(err) {
		t.Errorf("its temporary file is still there (%v)", err)
	}
	if got, err := os.ReadFile(j.Files[1].LocalName); err != nil || !bytes.Equal(got, content) {
		t.Errorf("the file unsynced in this boot was not committed whole (%v)", err)
	}
}

// TestTemporaryFilesRecordedWhenTheRunStops: a small file's temporary
// file is recorded with a later transaction; when the run ends before one
// (the first file failed before it had a temporary file, the second one
// was ahead of its turn), it is still recorded, so that Cancel removes it.
func TestTemporaryFilesRecordedWhenTheRunStops(t *testing.T) {
	h := startEvery(t, nil, time.Hour) // no checkpoint records anything meanwhile
	content := testenv.RandomContent(10_000, 65)
	o := testenv.NewOrigin(t, content)
	o.Handle("/refused", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		// Once the second file has its temporary file.
		for deadline := time.Now().Add(time.Minute); len(temps(t, h.dir)) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		nethttp.Error(w, "busy", nethttp.StatusServiceUnavailable)
	}))
	o.Handle("/held", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.Write(content[:1000])
		w.(nethttp.Flusher).Flush()
		<-r.Context().Done()
	}))
	j := h.smallJob(2, func(i int) string { return o.URL([]string{"/refused", "/held"}[i]) })
	h.waitState(j.ID, engine.TransientError)
	h.waitFor(j.ID, "the second file's temporary file recorded", func(j *engine.Job) bool { return j.Files[1].TempName != "" })
	if _, err := h.m.Cancel(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	if left := temps(t, h.dir); len(left) > 0 {
		t.Errorf("Cancel left %v", left)
	}
}

// temps lists the temporary files in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "BIT*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestAFileWaitingForItsTurnGivesUpItsConnection holds the first file of a
// job back: every other file still gets its bytes, well beyond the files
// that move at once, since a file whose bytes are in gives its connection
// to the next.
func TestAFileWaitingForItsTurnGivesUpItsConnection(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(10_000, 66)
	o := testenv.NewOrigin(t, content)
	release := heldFile(t, o, "/first", content)
	const n = 4 * engine.FileWindow
	var mu sync.Mutex
	served := map[string]bool{}
	all := make(chan struct{})
	o.Handle("/later/", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		nethttp.ServeContent(w, r, "later", time.Time{}, bytes.NewReader(content))
		mu.Lock()
		defer mu.Unlock()
		if served[r.URL.Path] = true; len(served) == n-1 {
			close(all)
		}
	}))
	j := h.smallJob(n, func(i int) string {
		if i == 0 {
			return o.URL("/first")
		}
		return o.URL(fmt.Sprintf("/later/%d", i))
	})
	select {
	case <-all:
	case <-time.After(time.Minute):
		mu.Lock()
		got := len(served)
		mu.Unlock()
		t.Fatalf("while the first file was held, %d of the %d after it got their bytes; want all", got, n-1)
	}
	release()
	h.waitState(j.ID, engine.Transferred)
}
