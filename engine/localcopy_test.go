package engine_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/engine/transport"
	"bits/engine/transport/file"
	"bits/internal/testenv"
)

// pausingFile is the real file transport, with a pause: its first Download
// stops writing at byte pauseAt and waits until its context ends (the job
// was suspended), so the test interrupts a local copy at a known offset
// however fast the disk is. It records the offset of every Download and
// the bytes each one wrote.
type pausingFile struct {
	transport.Downloader
	pauseAt  int64
	paused   chan struct{} // closed when the first Download reached pauseAt
	returned chan struct{} // closed when the first Download returned

	mu    sync.Mutex
	calls []downloadCall
}

type downloadCall struct{ off, wrote int64 }

var _ transport.Downloader = (*pausingFile)(nil)

func (p *pausingFile) Download(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (int64, error) {
	p.mu.Lock()
	first := len(p.calls) == 0
	p.calls = append(p.calls, downloadCall{off: off})
	i := len(p.calls) - 1
	p.mu.Unlock()
	if first {
		w = &pauseWriter{w: w, ctx: ctx, left: p.pauseAt - off, paused: p.paused}
		defer close(p.returned)
	}
	n, err := p.Downloader.Download(ctx, r, off, end, want, w)
	p.mu.Lock()
	p.calls[i].wrote = n
	p.mu.Unlock()
	return n, err
}

func (p *pausingFile) downloads() []downloadCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]downloadCall(nil), p.calls...)
}

// pauseWriter passes left bytes on, then blocks until ctx ends.
type pauseWriter struct {
	w      io.Writer
	ctx    context.Context
	left   int64
	paused chan struct{}
}

func (pw *pauseWriter) Write(b []byte) (int, error) {
	if int64(len(b)) <= pw.left {
		n, err := pw.w.Write(b)
		pw.left -= int64(n)
		return n, err
	}
	n, err := pw.w.Write(b[:pw.left])
	pw.left -= int64(n)
	if err != nil {
		return n, err
	}
	close(pw.paused)
	<-pw.ctx.Done()
	return n, pw.ctx.Err()
}

// A local copy that is suspended in the middle resumes from its checkpoint:
// the source is read again from that offset, not from byte 0, and the
// finished file is the source.
func TestLocalCopyResumesFromCheckpoint(t *testing.T) {
	content := testenv.RandomContent(3<<20+7, 31)
	src := filepath.Join(t.TempDir(), "src.bin")
	if err := os.WriteFile(src, content, 0o600); err != nil {
		t.Fatal(err)
	}
	const pauseAt = 1<<20 + 12345 // not a multiple of any copy buffer
	pf := &pausingFile{Downloader: file.New(), pauseAt: pauseAt,
		paused: make(chan struct{}), returned: make(chan struct{})}
	e := file.New().Entry()
	e.Downloader = pf
	h := startWith(t, transport.NewRegistry(e))
	ctx := context.Background()

	id := h.jobWith(engine.Props{}, "file://"+src).ID
	select {
	case <-pf.paused:
	case <-time.After(20 * time.Second):
		t.Fatal("the copy never reached the pause")
	}
	if err := h.m.Suspend(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pf.returned:
	case <-time.After(20 * time.Second):
		t.Fatal("the suspended copy did not stop")
	}
	j := h.waitFor(id, "checkpointed at the pause", func(j *engine.Job) bool {
		return j.State == engine.Suspended && j.Files[0].BytesTransferred == pauseAt
	})
	if fi, err := os.Stat(j.Files[0].TempName); err != nil || fi.Size() != pauseAt {
		t.Fatalf("temporary file after the suspend: %v, %v; want %d bytes", fi, err, pauseAt)
	}

	if err := h.m.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	spawn.Nudge(h.m.Home())
	j = h.waitState(id, engine.Transferred)

	calls := pf.downloads()
	want := []downloadCall{{off: 0, wrote: pauseAt}, {off: pauseAt, wrote: int64(len(content)) - pauseAt}}
	if len(calls) != len(want) || calls[0] != want[0] || calls[1] != want[1] {
		t.Fatalf("downloads (offset, bytes) %v, want %v: the resumed copy must start at the checkpoint", calls, want)
	}
	got := h.completeAndRead(j)
	if sha256.Sum256(got) != sha256.Sum256(content) {
		t.Fatalf("the copy (%d bytes) differs from the source (%d bytes)", len(got), len(content))
	}
}

// startWith is start with the given transports; nil takes the defaults.
func startWith(t *testing.T, tr *transport.Registry) *harness {
	t.Helper()
	return startEvery(t, tr, 50*time.Millisecond)
}

// startEvery is startWith with a worker that checkpoints every interval.
func startEvery(t *testing.T, tr *transport.Registry, checkpoint time.Duration) *harness {
	t.Helper()
	h := openHarness(t, tr)
	h.runWorker(checkpoint)
	return h
}

// openHarness opens a Manager in a temporary state folder, with no worker
// yet (see runWorker).
func openHarness(t *testing.T, tr *transport.Registry) *harness {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m, err := engine.Open(engine.Options{Home: t.TempDir(), Now: c.Now, Transports: tr,
		StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &harness{t: t, m: m, clock: c, dir: t.TempDir(), logs: &testenv.SyncBuffer{}}
}

// runWorker runs a real worker that checkpoints every interval, until the
// test ends.
func (h *harness) runWorker(checkpoint time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(ctx, h.m, engine.WorkerOptions{IdleTimeout: time.Hour,
			Checkpoint: checkpoint, Log: slog.New(slog.NewTextHandler(h.logs, nil))})
	}()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("worker: %v", err)
		}
	})
}
