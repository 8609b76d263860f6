package transporttest

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"bits/engine/transport"
)

// The engine hands every transfer two things in its context, which a
// transport must remember to use: a connection observer (WithConnObserver),
// told of each connection a request uses, through which the engine paces
// background transfers, yields to other traffic and notices a lost
// network; and, for uploads, a pacer (WithPacer), which holds the bytes
// back where they leave (PacedReader). A transport that forgets either
// still moves files, so only these checks notice.

// watcher counts the connections a context's requests report.
type watcher struct {
	mu    sync.Mutex
	conns int
	bad   int // reported without a remote address
}

func (w *watcher) observe(c net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns++
	if c.RemoteAddr() == nil {
		w.bad++
	}
}

// watched returns a context whose requests report to a new watcher.
func watched() (context.Context, *watcher) {
	w := &watcher{}
	return transport.WithConnObserver(context.Background(), w.observe), w
}

// want fails unless what reported its connections: at least one for a
// network transport, none for another (the engine would not watch it).
func (w *watcher) want(t *testing.T, what string, network bool) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case network && w.conns == 0:
		t.Errorf("%s reported no connection to the context's observer (transport.ObserveConn)", what)
	case !network && w.conns > 0:
		t.Errorf("%s reported %d connections, but the transport says it uses no network (Caps.Network)", what, w.conns)
	case w.bad > 0:
		t.Errorf("%s reported %d connections without a remote address", what, w.bad)
	}
}

// testWatched checks that Stat and Download (and StatGet, for a
// Prefetcher) report the connections they use.
func testWatched(t *testing.T, d transport.Downloader, network bool, s Server) {
	c := content(14)
	r := s.Put(t, "watched.bin", c)
	ctx, w := watched()
	info, err := d.Stat(ctx, r)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	w.want(t, "Stat", network)

	ctx, w = watched()
	got, err := download(t, ctx, d, r, 0, -1, info, nil)
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	wantSum(t, got, c)
	w.want(t, "Download", network)

	if p, ok := d.(transport.Prefetcher); ok {
		ctx, w = watched()
		_, body, err := p.StatGet(ctx, r)
		if err != nil {
			t.Fatalf("StatGet: %v", err)
		}
		if body != nil {
			body.Close()
		}
		w.want(t, "StatGet", network)
	}
}

// testUploadWatched checks that Begin, Send, Commit and Cancel report the
// connections they use. (Resume may answer without asking the server.)
func testUploadWatched(t *testing.T, u transport.Uploader, network bool, s UploadServer) {
	const name = "upload-watched.bin"
	c := content(30)
	size := int64(len(c))
	r := s.Request(t, name)

	ctx, w := watched()
	session, err := u.Begin(ctx, r, size)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	w.want(t, "Begin", network)
	ctx, w = watched()
	if got, err := u.Send(ctx, r, session, 0, size, Section(c)); err != nil || got != size {
		t.Fatalf("Send = %d, %v; want %d", got, err, size)
	}
	w.want(t, "Send", network)
	ctx, w = watched()
	if err := u.Commit(ctx, r, session, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	w.want(t, "Commit", network)
	wantStored(t, s, name, c)

	session = begin(t, u, r, size)
	ctx, w = watched()
	if err := u.Cancel(ctx, r, session); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	w.want(t, "Cancel", network)
}

// countingPacer lets every byte go and counts them.
type countingPacer struct {
	mu sync.Mutex
	n  int64
}

func (p *countingPacer) Wait(ctx context.Context, n int) error {
	p.mu.Lock()
	p.n += int64(n)
	p.mu.Unlock()
	return nil
}

func (p *countingPacer) Rate() float64 { return 1 << 20 }

func (p *countingPacer) waited() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// gatePacer lets allow bytes go, then holds every later Wait until its
// context ends (or the test does).
type gatePacer struct {
	allow   int64
	blocked chan struct{} // closed at the first Wait held
	done    chan struct{} // closed when the test ends

	mu     sync.Mutex
	passed int64
	once   sync.Once
}

func (p *gatePacer) Wait(ctx context.Context, n int) error {
	p.mu.Lock()
	if p.passed+int64(n) <= p.allow {
		p.passed += int64(n)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	p.once.Do(func() { close(p.blocked) })
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return context.Canceled
	}
}

// Rate is slow enough that a paced read is a few KiB.
func (p *gatePacer) Rate() float64 { return 64 << 10 }

func (p *gatePacer) let() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.passed
}

// heldRead bounds what an uploader may send beyond what its pacer let
// go: the read the pacer was holding when its context ended, which
// PacedReader returns with the error (a few KiB at gatePacer's rate).
const heldRead = 64 << 10

// testPaced checks that Send's bytes go through the context's pacer: each
// byte is waited for, and a pacer that stops letting bytes go stops the
// Send until its context ends, which it then does promptly, having sent
// no more than the pacer let go.
func testPaced(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "paced.bin"
	c := content(31)
	size := int64(len(c))
	r := s.Request(t, name)

	count := &countingPacer{}
	session := begin(t, u, r, size)
	if got, err := u.Send(transport.WithPacer(context.Background(), count), r, session, 0, size, Section(c)); err != nil || got != size {
		t.Fatalf("Send = %d, %v; want %d", got, err, size)
	}
	if n := count.waited(); n < size {
		t.Fatalf("Send waited for its pacer for %d bytes of %d (transport.PacedReader)", n, size)
	}
	if err := u.Cancel(context.Background(), r, session); err != nil {
		t.Fatalf("Cancel: %v", err)
	}

	gate := &gatePacer{allow: size / 4, blocked: make(chan struct{}), done: make(chan struct{})}
	defer close(gate.done)
	session = begin(t, u, r, size)
	ctx, cancel := context.WithCancel(transport.WithPacer(context.Background(), gate))
	defer cancel()
	src := &hookReader{r: bytes.NewReader(c)}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := u.Send(ctx, r, session, 0, size, io.NewSectionReader(src, 0, size))
		done <- result{n, err}
	}()
	select {
	case res := <-done:
		t.Fatalf("Send = %d, %v although its pacer let only %d bytes of %d go", res.n, res.err, gate.allow, size)
	case <-gate.blocked:
	case <-time.After(prompt):
		t.Fatalf("Send neither finished nor waited for its pacer within %s", prompt)
	}
	cancel()
	canceledAt := time.Now()
	var res result
	select {
	case res = <-done:
	case <-time.After(prompt):
		t.Fatalf("Send did not return within %s of its context's end, its pacer waiting (does it pass the request's context to PacedReader?)", prompt)
	}
	if took := time.Since(canceledAt); took > prompt {
		t.Errorf("Send returned %s after its context was cancelled", took)
	}
	if res.err == nil {
		t.Fatalf("Send held by its pacer and then cancelled confirmed %d bytes and no error", res.n)
	}
	if let := gate.let(); res.n > let+heldRead {
		t.Fatalf("Send confirmed %d bytes; its pacer let %d go", res.n, let)
	}
	finish(t, u, s, name, r, session, c, res.n, src.read())
}
