package transporttest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"bits/engine/transport"
)

// RunDownloader checks e's Downloader against s, one subtest per behaviour:
//
//   - Stat reports the size, a validator that stays put, and range support.
//   - Download copies the whole file, the rest from an offset, a bounded
//     range (clamped at the end of the file), and an empty file.
//   - A file changed between Stat and Download gives ErrChanged (or
//     ErrNoRanges, the other restart signal) and writes nothing; a fresh
//     Stat then sees the new file.
//   - A connection cut mid-transfer gives a transient *hresult.Error, and
//     downloading from the bytes written completes the file.
//   - A missing file is fatal with a not-found code (Win32 file or path not
//     found, BG_E_FILE_NOT_FOUND, HTTP 404 or 410), a denied one fatal with
//     an access code (E_ACCESSDENIED, HTTP 401 or 403); both in the remote
//     file context, neither writing anything.
//   - A cancelled context ends Stat and Download promptly with an error
//     matching context.Canceled, before or during the transfer.
//   - Stat and Download (and StatGet) tell the context's connection
//     observer of their connections when e says it uses the network
//     (Caps.Network), and of none otherwise.
func RunDownloader(t *testing.T, e transport.Entry, s Server) {
	cases := []struct {
		name string
		run  func(*testing.T, transport.Downloader, Server)
	}{
		{"Stat", testStat},
		{"Full", testFull},
		{"FromOffset", testFromOffset},
		{"Range", testRange},
		{"Empty", testEmpty},
		{"ChangedSize", func(t *testing.T, d transport.Downloader, s Server) { testChanged(t, d, s, fileSize-1000, 0) }},
		{"ChangedSameSize", func(t *testing.T, d transport.Downloader, s Server) { testChanged(t, d, s, fileSize, 0) }},
		{"ChangedBeforeResume", func(t *testing.T, d transport.Downloader, s Server) { testChanged(t, d, s, fileSize, fileSize/2) }},
		{"Cut", testCut},
		{"Missing", testMissing},
		{"Denied", testDenied},
		{"CanceledBefore", testCanceledBefore},
		{"CanceledDuring", testCanceledDuring},
		{"Watched", func(t *testing.T, d transport.Downloader, s Server) { testWatched(t, d, e.Caps.Network, s) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, e.Downloader, s) })
	}
}

// recorder keeps what Download writes and runs after, if set, after each
// write with the total so far.
type recorder struct {
	bytes.Buffer
	after func(total int)
}

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.Buffer.Write(p)
	if r.after != nil {
		r.after(r.Len())
	}
	return n, err
}

func stat(t *testing.T, d transport.Downloader, r *transport.Request) transport.RemoteInfo {
	t.Helper()
	info, err := d.Stat(context.Background(), r)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	return info
}

// download runs Download into rec (a fresh one when nil) and checks that
// the count it returns is what it wrote.
func download(t *testing.T, ctx context.Context, d transport.Downloader, r *transport.Request, off, end int64, want transport.RemoteInfo, rec *recorder) ([]byte, error) {
	t.Helper()
	if rec == nil {
		rec = &recorder{}
	}
	n, err := d.Download(ctx, r, off, end, want, rec)
	if n != int64(rec.Len()) {
		t.Fatalf("Download(%d, %d) returned %d but wrote %d bytes (err %v)", off, end, n, rec.Len(), err)
	}
	return rec.Bytes(), err
}

func testStat(t *testing.T, d transport.Downloader, s Server) {
	c := content(1)
	r := s.Put(t, "stat.bin", c)
	info := stat(t, d, r)
	if info.Size != int64(len(c)) {
		t.Errorf("Size = %d, want %d", info.Size, len(c))
	}
	if info.Validator == "" {
		t.Error("Validator is empty: a resumed transfer could not tell a changed file")
	}
	if !info.Ranges {
		t.Error("Ranges = false, want true")
	}
	if again := stat(t, d, r); again.Validator != info.Validator || again.Size != info.Size {
		t.Errorf("a second Stat of the same file says %q, %d; the first said %q, %d",
			again.Validator, again.Size, info.Validator, info.Size)
	}
}

func testFull(t *testing.T, d transport.Downloader, s Server) {
	c := content(2)
	r := s.Put(t, "full.bin", c)
	got, err := download(t, context.Background(), d, r, 0, -1, stat(t, d, r), nil)
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	wantSum(t, got, c)
}

func testFromOffset(t *testing.T, d transport.Downloader, s Server) {
	c := content(3)
	r := s.Put(t, "offset.bin", c)
	off := int64(fileSize/3 + 7)
	got, err := download(t, context.Background(), d, r, off, -1, stat(t, d, r), nil)
	if err != nil {
		t.Fatalf("Download from %d: %v", off, err)
	}
	wantSum(t, got, c[off:])
}

func testRange(t *testing.T, d transport.Downloader, s Server) {
	c := content(4)
	r := s.Put(t, "range.bin", c)
	info := stat(t, d, r)
	size := int64(len(c))
	for _, tc := range []struct {
		name     string
		off, end int64 // asked for
		from, to int64 // the bytes that must arrive
	}{
		{"inside", 1000, 1000 + 300001, 1000, 1000 + 300001},
		{"first byte", 0, 1, 0, 1},
		{"last byte", size - 1, size, size - 1, size},
		{"past the end", size - 5000, size + 100, size - 5000, size},
		{"at the end", size, -1, size, size},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := download(t, context.Background(), d, r, tc.off, tc.end, info, nil)
			if err != nil {
				t.Fatalf("Download(%d, %d): %v", tc.off, tc.end, err)
			}
			wantSum(t, got, c[tc.from:tc.to])
		})
	}
}

func testEmpty(t *testing.T, d transport.Downloader, s Server) {
	r := s.Put(t, "empty.bin", nil)
	info := stat(t, d, r)
	if info.Size != 0 {
		t.Fatalf("Size = %d, want 0", info.Size)
	}
	if info.Validator == "" {
		t.Error("Validator is empty for an empty file")
	}
	got, err := download(t, context.Background(), d, r, 0, -1, info, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Download of an empty file: %d bytes, %v", len(got), err)
	}
}

// testChanged changes the file to one of size bytes between Stat and a
// Download from off.
func testChanged(t *testing.T, d transport.Downloader, s Server, size int, off int64) {
	old := content(5)
	r := s.Put(t, "changed.bin", old)
	info := stat(t, d, r)
	if off > 0 {
		// A first part arrived before the change, as for a resumed job.
		got, err := download(t, context.Background(), d, r, 0, off, info, nil)
		if err != nil {
			t.Fatalf("Download(0, %d): %v", off, err)
		}
		wantSum(t, got, old[:off])
	}
	fresh := content(6)[:size]
	s.Change(t, "changed.bin", fresh)

	got, err := download(t, context.Background(), d, r, off, -1, info, nil)
	if !errors.Is(err, transport.ErrChanged) && !errors.Is(err, transport.ErrNoRanges) {
		t.Fatalf("Download after the change: err = %v, want ErrChanged (or ErrNoRanges)", err)
	}
	if len(got) != 0 {
		t.Fatalf("Download after the change wrote %d bytes; it must write none", len(got))
	}

	now := stat(t, d, r)
	if now.Validator == info.Validator && now.Size == info.Size {
		t.Fatalf("Stat after the change still says %q, %d", now.Validator, now.Size)
	}
	if now.Size != int64(len(fresh)) {
		t.Errorf("Size after the change = %d, want %d", now.Size, len(fresh))
	}
	got, err = download(t, context.Background(), d, r, 0, -1, now, nil)
	if err != nil {
		t.Fatalf("Download of the new file: %v", err)
	}
	wantSum(t, got, fresh)
}

func testCut(t *testing.T, d transport.Downloader, s Server) {
	c := content(7)
	r := s.Put(t, "cut.bin", c)
	info := stat(t, d, r)
	if !s.CutNext(t, "cut.bin", fileSize/3) {
		t.Log("the server has no connection to cut: checking that the transfer completes")
		got, err := download(t, context.Background(), d, r, 0, -1, info, nil)
		if err != nil {
			t.Fatalf("Download: %v", err)
		}
		wantSum(t, got, c)
		return
	}
	got, err := download(t, context.Background(), d, r, 0, -1, info, nil)
	if err == nil {
		t.Fatalf("Download over a cut connection succeeded with %d of %d bytes", len(got), len(c))
	}
	wantTransient(t, "Download over a cut connection", err)
	if len(got) >= len(c) {
		t.Fatalf("Download over a cut connection wrote %d of %d bytes and failed", len(got), len(c))
	}
	wantSum(t, got, c[:len(got)])

	rest, err := download(t, context.Background(), d, r, int64(len(got)), -1, info, nil)
	if err != nil {
		t.Fatalf("Download from %d after the cut: %v", len(got), err)
	}
	wantSum(t, append(bytes.Clone(got), rest...), c)
}

func testMissing(t *testing.T, d transport.Downloader, s Server) {
	r := s.Request(t, "missing.bin")
	_, err := d.Stat(context.Background(), r)
	wantFatal(t, "Stat of a missing file", err, missingCodes)

	// As if the file went away after a Stat in an earlier run.
	was := transport.RemoteInfo{Size: fileSize, Validator: `"gone"`, Ranges: true}
	got, err := download(t, context.Background(), d, r, 0, -1, was, nil)
	wantFatal(t, "Download of a missing file", err, missingCodes)
	if len(got) != 0 {
		t.Errorf("Download of a missing file wrote %d bytes", len(got))
	}
}

func testDenied(t *testing.T, d transport.Downloader, s Server) {
	r := s.Put(t, "denied.bin", content(8))
	info := stat(t, d, r)
	s.Deny(t, "denied.bin")
	// A server may still describe a file it will not hand over; if Stat
	// fails it must be for the right reason.
	if _, err := d.Stat(context.Background(), r); err != nil {
		wantFatal(t, "Stat of a denied file", err, deniedCodes)
	}
	got, err := download(t, context.Background(), d, r, 0, -1, info, nil)
	wantFatal(t, "Download of a denied file", err, deniedCodes)
	if len(got) != 0 {
		t.Errorf("Download of a denied file wrote %d bytes", len(got))
	}
}

func testCanceledBefore(t *testing.T, d transport.Downloader, s Server) {
	r := s.Put(t, "canceled-before.bin", content(9))
	info := stat(t, d, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := d.Stat(ctx, r)
	wantCanceled(t, "Stat with a cancelled context", err)
	got, err := download(t, ctx, d, r, 0, -1, info, nil)
	wantCanceled(t, "Download with a cancelled context", err)
	if len(got) != 0 {
		t.Errorf("Download with a cancelled context wrote %d bytes", len(got))
	}
	if took := time.Since(start); took > prompt {
		t.Errorf("cancelled calls took %s", took)
	}
}

func testCanceledDuring(t *testing.T, d transport.Downloader, s Server) {
	c := content(10)
	r := s.Put(t, "canceled-during.bin", c)
	info := stat(t, d, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var canceledAt time.Time
	rec := &recorder{after: func(int) {
		if canceledAt.IsZero() {
			canceledAt = time.Now()
			cancel()
		}
	}}
	got, err := download(t, ctx, d, r, 0, -1, info, rec)
	wantCanceled(t, "Download cancelled mid-transfer", err)
	if took := time.Since(canceledAt); took > prompt {
		t.Errorf("Download returned %s after its context was cancelled", took)
	}
	if len(got) >= len(c) {
		t.Fatalf("Download cancelled after its first write still copied all %d bytes", len(got))
	}
	wantSum(t, got, c[:len(got)])

	// What arrived is good to resume from.
	rest, err := download(t, context.Background(), d, r, int64(len(got)), -1, info, nil)
	if err != nil {
		t.Fatalf("Download from %d after the cancel: %v", len(got), err)
	}
	wantSum(t, append(bytes.Clone(got), rest...), c)
}

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
