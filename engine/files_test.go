package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/testenv"
)

// smallJob creates a download job of n files from url (the same one each
// time) and resumes it.
func (h *harness) smallJob(n int, url func(i int) string) *engine.Job {
	h.t.Helper()
	ctx := context.Background()
	spec := engine.JobSpec{Name: "small", Type: engine.Download}
	for i := range n {
		spec.Files = append(spec.Files, engine.FileSpec{Remote: url(i), Local: filepath.Join(h.dir, fmt.Sprintf("small-%d.bin", i))})
	}
	j, err := h.m.Submit(ctx, spec)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.m.Resume(ctx, j.ID); err != nil {
		h.t.Fatal(err)
	}
	spawn.Nudge(h.m.Home())
	return j
}

// heldFile serves content at path on o, holding each GET until release is
// called (or the test ends, before the origin closes).
func heldFile(t *testing.T, o *testenv.Origin, path string, content []byte) (release func()) {
	t.Helper()
	held := make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	t.Cleanup(release)
	o.Handle(path, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.Method == nethttp.MethodGet {
			<-held
		}
		nethttp.ServeContent(w, r, path, time.Time{}, bytes.NewReader(content))
	}))
	return release
}

// A job of small files asks for each with one GET (no HEAD), over a few
// kept-alive connections: about one per file moving at once. (A file gives
// its connection to the next one when its bytes are in; on a machine short
// of CPU the job was seen to open one to three more than 8 for 20 files,
// never one per file.)
func TestSmallFilesOneGETEachOverFewConnections(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(10_000, 31)
	o := testenv.NewOriginHandler(content)
	srv := httptest.NewUnstartedServer(o)
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s nethttp.ConnState) {
		if s == nethttp.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(func() { o.Close(); srv.Close() })

	const n = 40
	j := h.waitState(h.smallJob(n, func(int) string { return srv.URL + "/file" }).ID, engine.Transferred)
	var heads, gets int
	for _, r := range o.Requests() {
		switch r.Method {
		case nethttp.MethodHead:
			heads++
		case nethttp.MethodGet:
			gets++
		}
	}
	if heads != 0 || gets != n {
		t.Errorf("%d HEADs and %d GETs for %d files; want one GET each", heads, gets, n)
	}
	if c := conns.Load(); c > 2*engine.FileWindow {
		t.Errorf("%d connections for %d files; want at most %d (about one per file moving at once)", c, n, 2*engine.FileWindow)
	}
	for _, f := range j.Files {
		if !f.Complete || f.BytesTransferred != int64(len(content)) {
			t.Fatalf("file %d: complete %v, %d bytes; want all %d", f.Index, f.Complete, f.BytesTransferred, len(content))
		}
	}
}

// A small file costs the store at most one write: its end, with which its
// temporary file is recorded too, and often the ends of other files; not a
// change of the job's state as well.
func TestSmallFilesCostOneStoreWriteEach(t *testing.T) {
	h := startEvery(t, nil, time.Hour) // no checkpoint falls within the test
	o := testenv.NewOrigin(t, testenv.RandomContent(10_000, 32))
	before := engine.StoreWrites(h.m)
	const n = 20
	h.waitState(h.smallJob(n, func(int) string { return o.URL("/file") }).ID, engine.Transferred)
	// Besides the files': the job's submission, resumption, CONNECTING,
	// TRANSFERRING, its transfer time and TRANSFERRED.
	w := engine.StoreWrites(h.m) - before
	t.Logf("%d store writes for %d files", w, n)
	if w > n+6 {
		t.Errorf("%d store writes for %d files, want at most %d", w, n, n+6)
	}
}

// Files that move at once still finish in the order added: while the
// first one is held back, none after it is recorded complete, however far
// it got.
func TestFilesFinishInOrder(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(10_000, 33)
	o := testenv.NewOrigin(t, content)
	release := heldFile(t, o, "/first", content)
	var served sync.WaitGroup
	served.Add(engine.FileWindow - 1)
	var once [engine.FileWindow]sync.Once
	o.Handle("/later/", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		nethttp.ServeContent(w, r, "later", time.Time{}, bytes.NewReader(content))
		var k int
		fmt.Sscanf(r.URL.Path, "/later/%d", &k)
		if r.Method == nethttp.MethodGet && k < engine.FileWindow {
			once[k].Do(served.Done)
		}
	}))
	const n = 12
	j := h.smallJob(n, func(i int) string {
		if i == 0 {
			return o.URL("/first")
		}
		return o.URL(fmt.Sprintf("/later/%d", i))
	})

	// Watch every state the store goes through until the job is done.
	bad := make(chan string, 1)
	watched := make(chan struct{})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		defer close(watched)
		for ctx.Err() == nil {
			cur, err := h.m.Get(ctx, j.ID)
			if err != nil {
				return
			}
			if msg := outOfOrder(cur); msg != "" {
				select {
				case bad <- msg:
				default:
				}
			}
			if cur.State == engine.Transferred {
				return
			}
			h.m.WaitChange(ctx, time.Second)
		}
	}()
	served.Wait() // the files after the first one have all their bytes
	cur, err := h.m.Get(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if msg := outOfOrder(cur); msg != "" {
		t.Error(msg)
	}
	if cur.Files[0].Complete {
		t.Error("the held-back first file is complete")
	}
	release()
	h.waitState(j.ID, engine.Transferred)
	<-watched
	select {
	case msg := <-bad:
		t.Error(msg)
	default:
	}
}

// outOfOrder says how a job's files do not look as BITS' do, or "": the
// complete ones come first, and bytes move in one file at a time.
func outOfOrder(j *engine.Job) string {
	for i := 1; i < len(j.Files); i++ {
		if j.Files[i].Complete && !j.Files[i-1].Complete {
			return fmt.Sprintf("file %d is complete before file %d", i, i-1)
		}
		if j.Files[i].BytesTransferred > 0 && !j.Files[i-1].Complete {
			return fmt.Sprintf("file %d shows %d bytes before file %d is complete", i, j.Files[i].BytesTransferred, i-1)
		}
	}
	return ""
}

// oneSuspendedJob opens a Manager that starts no worker, with one job.
func oneSuspendedJob(t *testing.T) (*engine.Manager, *engine.Job) {
	t.Helper()
	m := openIdle(t, t.TempDir(), engine.Options{})
	j, err := m.Submit(context.Background(), engine.JobSpec{Name: "w", Type: engine.Download,
		Files: []engine.FileSpec{{Remote: "http://127.0.0.1:9/a", Local: filepath.Join(t.TempDir(), "a")}}})
	if err != nil {
		t.Fatal(err)
	}
	return m, j
}

// A follower of a job hears of its change of state however long it asked
// to wait.
func TestWaitJobReturnsOnAChangeOfState(t *testing.T) {
	m, j := oneSuspendedJob(t)
	ctx := context.Background()
	if err := m.WaitJob(ctx, j.ID, j.State, time.Millisecond); err != nil { // starts following
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.WaitJob(ctx, j.ID, engine.Suspended, time.Hour) }()
	if err := m.Resume(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A change of a job that is not a change of state ends WaitJob's wait
// once its progress window is over, and not WaitState's.
func TestWaitStateIgnoresProgress(t *testing.T) {
	m, j := oneSuspendedJob(t)
	ctx := context.Background()
	const atMost = 400 * time.Millisecond
	for _, c := range []struct {
		name  string
		wait  func(context.Context, string, engine.State, time.Duration) error
		early bool
	}{{"WaitJob", m.WaitJob, true}, {"WaitState", m.WaitState, false}} {
		if err := c.wait(ctx, j.ID, j.State, time.Millisecond); err != nil { // starts following
			t.Fatal(err)
		}
		if err := m.Set(ctx, j.ID, engine.Props{Description: ptr("changed by " + c.name)}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.wait(ctx, j.ID, j.State, atMost); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); (d < atMost) != c.early {
			t.Errorf("%s returned after %v of at most %v; early: %v, want %v", c.name, d, atMost, d < atMost, c.early)
		}
	}
}

// A big file behind one still moving waits for its turn: the GET that
// told its size is dropped, and it is fetched when its turn comes.
func TestBigFileWaitsForItsTurn(t *testing.T) {
	h := start(t)
	small := testenv.RandomContent(10_000, 34)
	big := testenv.RandomContent(2<<20, 35)
	o := testenv.NewOrigin(t, nil)
	release := make(chan struct{})
	o.Handle("/first", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		<-release
		nethttp.ServeContent(w, r, "first", time.Time{}, bytes.NewReader(small))
	}))
	dropped := make(chan struct{})
	var gets atomic.Int64
	o.Handle("/big", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.Method == nethttp.MethodGet && gets.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.WriteHeader(nethttp.StatusOK)
			w.(nethttp.Flusher).Flush()
			<-r.Context().Done() // the worker let go of it
			close(dropped)
			return
		}
		nethttp.ServeContent(w, r, "big", time.Time{}, bytes.NewReader(big))
	}))
	j := h.smallJob(2, func(i int) string { return o.URL([]string{"/first", "/big"}[i]) })
	<-dropped
	close(release)
	j = h.waitState(j.ID, engine.Transferred)
	if got := h.completeAndReadFile(j, 1); !bytes.Equal(got, big) {
		t.Fatalf("the big file has %d bytes, not the server's %d", len(got), len(big))
	}
}

// completeAndReadFile completes a transferred job and returns file i.
func (h *harness) completeAndReadFile(j *engine.Job, i int) []byte {
	h.t.Helper()
	if _, err := h.m.Complete(context.Background(), j.ID); err != nil {
		h.t.Fatal(err)
	}
	b, err := os.ReadFile(j.Files[i].LocalName)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}
