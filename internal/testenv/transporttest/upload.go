package transporttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"time"

	"bits/engine/transport"
)

// RunUploader checks e's Uploader against s, one subtest per behaviour:
//
//   - Begin, Send and Commit store the file; nothing appears under the
//     final name (and a file it replaces stays as it was) before Commit,
//     and nothing is left over after it. Empty files and files sent in
//     fragments work too.
//   - After a Send whose source fails, whose context is cancelled, or whose
//     connection is cut (a transient *hresult.Error), Resume, told what Send
//     confirmed, reports at least that and no more than Send read, and
//     sending on from there completes the file.
//   - Cancel deletes what the server holds; Resume then returns
//     transport.ErrSessionLost, as it does for a session the server never
//     knew, and Commit fails.
//   - A denied destination is fatal with an access code in the remote file
//     context, and leaves the file there unchanged.
//   - A cancelled context ends Begin promptly with context.Canceled.
//   - Begin, Send, Commit and Cancel tell the context's connection observer
//     of their connections when e says it uses the network (Caps.Network),
//     and of none otherwise.
//   - Send reads its bytes through the context's pacer: it waits for each
//     one, and a pacer that holds them holds the Send until its context
//     ends.
func RunUploader(t *testing.T, e transport.Entry, s UploadServer) {
	cases := []struct {
		name string
		run  func(*testing.T, transport.Uploader, UploadServer)
	}{
		{"Commit", testCommit},
		{"Replace", testReplace},
		{"Empty", testUploadEmpty},
		{"Fragments", testFragments},
		{"SourceFails", testSourceFails},
		{"CanceledSend", testCanceledSend},
		{"CutSend", testCutSend},
		{"Cancel", testCancel},
		{"UnknownSession", testUnknownSession},
		{"Denied", testUploadDenied},
		{"CanceledBegin", testCanceledBegin},
		{"Watched", func(t *testing.T, u transport.Uploader, s UploadServer) { testUploadWatched(t, u, e.Caps.Network, s) }},
		{"Paced", testPaced},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, e.Uploader, s) })
	}
}

var errSource = errors.New("transporttest: the local file could not be read")

// Section is b as the source of a Send.
func Section(b []byte) *io.SectionReader {
	return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
}

// failingSource is c as the source of a Send whose bytes from left on
// cannot be read.
func failingSource(c []byte, left int) *io.SectionReader {
	return io.NewSectionReader(failingReader{bytes.NewReader(c), int64(left)}, 0, int64(len(c)))
}

type failingReader struct {
	r    io.ReaderAt
	left int64
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= f.left {
		return f.r.ReadAt(p, off)
	}
	n, _ := f.r.ReadAt(p[:max(f.left-off, 0)], off)
	return n, errSource
}

// hookReader reads from r, keeps how far into it any read reached, and
// calls hook, if set, once a read reaches at. An uploader may read it from
// any goroutine.
type hookReader struct {
	r    io.ReaderAt
	at   int64
	hook func()

	mu      sync.Mutex
	reached int64
}

func (h *hookReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.r.ReadAt(p, off)
	h.mu.Lock()
	before := h.reached
	h.reached = max(h.reached, off+int64(n))
	call := h.hook != nil && before < h.at && h.reached >= h.at
	h.mu.Unlock()
	if call {
		h.hook()
	}
	return n, err
}

// read is how far into r any read reached.
func (h *hookReader) read() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return int(h.reached)
}

func begin(t *testing.T, u transport.Uploader, r *transport.Request, size int64) string {
	t.Helper()
	session, err := u.Begin(context.Background(), r, size)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if session == "" {
		t.Fatal("Begin returned an empty session")
	}
	return session
}

// send sends b as the file's bytes from off and wants them all confirmed.
func send(t *testing.T, u transport.Uploader, r *transport.Request, session string, off, size int64, b []byte) {
	t.Helper()
	got, err := u.Send(context.Background(), r, session, off, size, Section(b))
	if err != nil {
		t.Fatalf("Send(%d, %d bytes): %v", off, len(b), err)
	}
	if want := off + int64(len(b)); got != want {
		t.Fatalf("Send(%d, %d bytes) confirmed %d, want %d", off, len(b), got, want)
	}
}

// resume resumes a session whose last confirmed offset was recorded, as
// the engine does.
func resume(t *testing.T, u transport.Uploader, r *transport.Request, session string, recorded int64) int64 {
	t.Helper()
	n, err := u.Resume(context.Background(), r, session, recorded, recorded)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	return n
}

func commit(t *testing.T, u transport.Uploader, r *transport.Request, session string) {
	t.Helper()
	if err := u.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// wantStored fails unless the server holds want under name and nothing
// left over from uploads to it.
func wantStored(t *testing.T, s UploadServer, name string, want []byte) {
	t.Helper()
	got, err := s.Read(t, name)
	if err != nil {
		t.Fatalf("reading %s back: %v", name, err)
	}
	wantSum(t, got, want)
	wantNoLeftovers(t, s, name)
}

func wantAbsent(t *testing.T, s UploadServer, name, when string) {
	t.Helper()
	got, err := s.Read(t, name)
	switch {
	case err == nil:
		t.Fatalf("%s: %d bytes are under the final name %s", when, len(got), name)
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatalf("%s: reading %s: %v", when, name, err)
	}
}

func wantNoLeftovers(t *testing.T, s UploadServer, name string) {
	t.Helper()
	if left := s.Leftovers(t, name); len(left) != 0 {
		t.Fatalf("the server still holds %v", left)
	}
}

func testCommit(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "commit.bin"
	c := content(20)
	r := s.Request(t, name)
	session := begin(t, u, r, int64(len(c)))
	wantAbsent(t, s, name, "after Begin")
	send(t, u, r, session, 0, int64(len(c)), c)
	wantAbsent(t, s, name, "after Send")
	if n := resume(t, u, r, session, int64(len(c))); n != int64(len(c)) {
		t.Fatalf("Resume after a whole Send = %d, want %d", n, len(c))
	}
	commit(t, u, r, session)
	wantStored(t, s, name, c)
}

func testReplace(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "replace.bin"
	old := content(21)[:1000]
	c := content(22)
	r := s.Put(t, name, old)
	session := begin(t, u, r, int64(len(c)))
	send(t, u, r, session, 0, int64(len(c)), c)
	got, err := s.Read(t, name)
	if err != nil {
		t.Fatalf("reading %s before Commit: %v", name, err)
	}
	wantSum(t, got, old)
	commit(t, u, r, session)
	wantStored(t, s, name, c)
}

func testUploadEmpty(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "upload-empty.bin"
	r := s.Request(t, name)
	session := begin(t, u, r, 0)
	send(t, u, r, session, 0, 0, nil)
	commit(t, u, r, session)
	wantStored(t, s, name, nil)
}

func testFragments(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "fragments.bin"
	const fragment = 1<<20 + 3
	c := content(23)
	size := int64(len(c))
	r := s.Request(t, name)
	session := begin(t, u, r, size)
	for off := int64(0); off < size; off += fragment {
		send(t, u, r, session, off, size, c[off:min(off+fragment, size)])
		if n := resume(t, u, r, session, min(off+fragment, size)); n != min(off+fragment, size) {
			t.Fatalf("Resume after the fragment at %d = %d, want %d", off, n, min(off+fragment, size))
		}
	}
	commit(t, u, r, session)
	wantStored(t, s, name, c)
}

// finish checks what the server holds after an interrupted Send that
// confirmed confirmed and had read read bytes, then sends the rest and
// commits.
func finish(t *testing.T, u transport.Uploader, s UploadServer, name string, r *transport.Request, session string, c []byte, confirmed int64, read int) {
	t.Helper()
	if confirmed < 0 || confirmed > int64(read) {
		t.Fatalf("the interrupted Send confirmed %d bytes after reading %d", confirmed, read)
	}
	held := resume(t, u, r, session, confirmed)
	if held < confirmed || held > int64(read) {
		t.Fatalf("Resume = %d; the interrupted Send confirmed %d and read %d", held, confirmed, read)
	}
	wantAbsent(t, s, name, "after an interrupted Send")
	send(t, u, r, session, held, int64(len(c)), c[held:])
	commit(t, u, r, session)
	wantStored(t, s, name, c)
}

func testSourceFails(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "source-fails.bin"
	c := content(24)
	r := s.Request(t, name)
	session := begin(t, u, r, int64(len(c)))
	read := len(c)/3 + 11
	confirmed, err := u.Send(context.Background(), r, session, 0, int64(len(c)), failingSource(c, read))
	if err == nil {
		t.Fatalf("Send confirmed %d bytes and no error although its source failed", confirmed)
	}
	finish(t, u, s, name, r, session, c, confirmed, read)
}

func testCanceledSend(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "canceled-send.bin"
	c := content(25)
	r := s.Request(t, name)
	session := begin(t, u, r, int64(len(c)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var canceledAt time.Time
	src := &hookReader{r: bytes.NewReader(c), at: int64(len(c) / 4), hook: func() {
		canceledAt = time.Now()
		cancel()
	}}
	confirmed, err := u.Send(ctx, r, session, 0, int64(len(c)), io.NewSectionReader(src, 0, int64(len(c))))
	wantCanceled(t, "Send cancelled mid-transfer", err)
	if took := time.Since(canceledAt); took > prompt {
		t.Errorf("Send returned %s after its context was cancelled", took)
	}
	finish(t, u, s, name, r, session, c, confirmed, src.read())
}

func testCutSend(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "cut-send.bin"
	c := content(26)
	r := s.Request(t, name)
	session := begin(t, u, r, int64(len(c)))
	if !s.CutNext(t, name, int64(len(c)/3)) {
		t.Log("the server has no connection to cut: checking that the transfer completes")
		send(t, u, r, session, 0, int64(len(c)), c)
		commit(t, u, r, session)
		wantStored(t, s, name, c)
		return
	}
	src := &hookReader{r: bytes.NewReader(c)}
	confirmed, err := u.Send(context.Background(), r, session, 0, int64(len(c)), io.NewSectionReader(src, 0, int64(len(c))))
	if err == nil {
		t.Fatalf("Send over a cut connection confirmed %d bytes and no error", confirmed)
	}
	wantTransient(t, "Send over a cut connection", err)
	finish(t, u, s, name, r, session, c, confirmed, src.read())
}

func testCancel(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "cancel.bin"
	c := content(27)
	r := s.Request(t, name)
	session := begin(t, u, r, int64(len(c)))
	send(t, u, r, session, 0, int64(len(c)), c[:len(c)/2])
	if err := u.Cancel(context.Background(), r, session); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	wantNoLeftovers(t, s, name)
	wantAbsent(t, s, name, "after Cancel")
	if n, err := u.Resume(context.Background(), r, session, int64(len(c)/2), int64(len(c)/2)); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Resume of a cancelled session = %d, %v; want ErrSessionLost", n, err)
	}
	if err := u.Commit(context.Background(), r, session, nil); err == nil {
		t.Fatal("Commit of a cancelled session succeeded")
	}
	wantAbsent(t, s, name, "after Commit of a cancelled session")
	// The engine does not retry Cancel (one try, bounded to 10 s), but it
	// may send it twice: from the front end that cancels and from a worker
	// that was sending. A repeat is harmless.
	if err := u.Cancel(context.Background(), r, session); err != nil && !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("a second Cancel: %v; want nil or ErrSessionLost", err)
	}
}

func testUnknownSession(t *testing.T, u transport.Uploader, s UploadServer) {
	r := s.Request(t, "unknown-session.bin")
	for _, session := range []string{"no-such-session", "../../no-such-session", "{6E1A9B55-0000-4000-8000-000000000000}"} {
		if n, err := u.Resume(context.Background(), r, session, 0, 0); !errors.Is(err, transport.ErrSessionLost) {
			t.Errorf("Resume(%q) = %d, %v; want ErrSessionLost", session, n, err)
		}
	}
}

func testUploadDenied(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "upload-denied.bin"
	old := content(28)[:1000]
	c := content(29)
	r := s.Put(t, name, old)
	s.Deny(t, name)
	// The server may refuse at any step; the first refusal must be fatal.
	session, err := u.Begin(context.Background(), r, int64(len(c)))
	if err == nil {
		_, err = u.Send(context.Background(), r, session, 0, int64(len(c)), Section(c))
		if err == nil {
			err = u.Commit(context.Background(), r, session, nil)
		}
		u.Cancel(context.Background(), r, session)
	}
	wantFatal(t, "uploading to a denied destination", err, deniedCodes)
	got, rerr := s.Read(t, name)
	if rerr != nil {
		t.Fatalf("reading %s back: %v", name, rerr)
	}
	wantSum(t, got, old)
}

func testCanceledBegin(t *testing.T, u transport.Uploader, s UploadServer) {
	const name = "canceled-begin.bin"
	r := s.Request(t, name)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := u.Begin(ctx, r, fileSize)
	wantCanceled(t, "Begin with a cancelled context", err)
	if took := time.Since(start); took > prompt {
		t.Errorf("Begin with a cancelled context took %s", took)
	}
	wantNoLeftovers(t, s, name)
	wantAbsent(t, s, name, "after a cancelled Begin")
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
