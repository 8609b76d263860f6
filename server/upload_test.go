package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

func TestPing(t *testing.T) {
	f := startUploads(t, nil)
	for _, kind := range []string{"Ping", "PING", "ping", " Ping "} {
		expectAck(t, f.post("/up/a.bin", nil, "BITS-Packet-Type", kind), http.StatusOK, "")
	}
	// Outside every virtual directory uploads are disabled.
	expectAck(t, f.post("/elsewhere/a.bin", nil, "BITS-Packet-Type", "Ping"), http.StatusNotImplemented, "0x80070005")
}

func TestUnknownPacket(t *testing.T) {
	f := startUploads(t, nil)
	expectAck(t, f.post("/up/a.bin", nil), http.StatusBadRequest, "0x80070057")
	for _, kind := range []string{"Ack", "Upload", "Create-Sessions", "Fragment Fragment"} {
		expectAck(t, f.post("/up/a.bin", nil, "BITS-Packet-Type", kind), http.StatusBadRequest, "0x80070057")
	}
	long := strings.Repeat("x", maxHeaderValue+1)
	expectAck(t, f.post("/up/a.bin", nil, "BITS-Packet-Type", "Ping", "X-Long", long), http.StatusBadRequest, "0x80070057")
}

func TestCreateSessionProtocols(t *testing.T) {
	f := startUploads(t, func(c *Config) {
		c.HostID = "node7.example"
		c.HostIDFallbackTimeout = 3600e9
	})
	other := "{00000000-0000-0000-0000-000000000001}"
	many := strings.TrimSpace(strings.Repeat(other+" ", maxProtocols) + upload15)
	for _, c := range []struct {
		protocols string
		ok        bool
	}{
		{"", false},
		{other, false},
		{"7df0354d-249b-430f-820d-3d2a9bef4931", false}, // without braces it is not the GUID string
		{"{7df0354d-249b-430f-820d-3d2a9bef4932}", false},
		{upload15, true},
		{strings.ToUpper(upload15), true},
		{other + " " + upload15, true},
		{other + "," + upload15, true},
		{other + ", " + upload15 + " ", true},
		{many, false}, // over 100 GUIDs
	} {
		resp := f.post("/up/a.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", c.protocols)
		if !c.ok {
			expectAck(t, resp, http.StatusBadRequest, "0x80070057")
			if resp.Header.Get("BITS-Session-Id") != "" || resp.Header.Get("BITS-Protocol") != "" {
				t.Errorf("%q: refused but with a session", c.protocols)
			}
			continue
		}
		expectAck(t, resp, http.StatusOK, "")
		if got := resp.Header.Get("BITS-Protocol"); got != upload15 {
			t.Errorf("%q: BITS-Protocol %q", c.protocols, got)
		}
		if got := resp.Header.Get("Accept-Encoding"); got != "Identity" {
			t.Errorf("%q: Accept-Encoding %q", c.protocols, got)
		}
		if got := resp.Header.Get("BITS-Host-Id"); got != "node7.example" {
			t.Errorf("BITS-Host-Id %q", got)
		}
		if got := resp.Header.Get("BITS-Host-Id-Fallback-Timeout"); got != "3600" {
			t.Errorf("BITS-Host-Id-Fallback-Timeout %q", got)
		}
	}
	ids := map[string]bool{}
	for range 20 {
		id := f.create("/up/a.bin")
		if ids[id] {
			t.Fatalf("session id %s given twice", id)
		}
		ids[id] = true
	}
}

func TestUploadWhole(t *testing.T) {
	f := startUploads(t, nil)
	data := pattern(100_000, 1)
	id := f.create("/up/sub/file.bin")
	for _, fr := range [][2]int{{0, 40_000}, {40_000, 80_000}, {80_000, 100_000}} {
		resp := f.fragment("/up/sub/file.bin", id, int64(fr[0]), int64(len(data)), data[fr[0]:fr[1]])
		expectAck(t, resp, http.StatusOK, "")
		expectReceived(t, resp, int64(fr[1]))
		if resp.Header.Get("BITS-Session-Id") != id {
			t.Errorf("fragment Ack: BITS-Session-Id %q, want %q", resp.Header.Get("BITS-Session-Id"), id)
		}
		if resp.Header.Get("BITS-Reply-URL") != "" {
			t.Errorf("a reply URL without notification")
		}
	}
	dest := filepath.Join(f.up, "sub", "file.bin")
	mustNotExist(t, dest) // nothing under the final name before Close-Session
	resp := f.closeSession("/up/sub/file.bin", id)
	expectAck(t, resp, http.StatusOK, "")
	if resp.Header.Get("BITS-Session-Id") != id {
		t.Errorf("close Ack: BITS-Session-Id %q", resp.Header.Get("BITS-Session-Id"))
	}
	if got := readFile(t, dest); !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs: %d bytes", len(got))
	}
	// Closing again (a lost Ack) is answered the same; the data is gone.
	expectAck(t, f.closeSession("/up/sub/file.bin", id), http.StatusOK, "")
	key, _ := parseSessionID(id)
	mustNotExist(t, filepath.Join(f.up, stateDirName, key, dataFileName))
	// A session id is case-insensitive, with or without braces.
	id2 := f.create("/up/two.bin")
	expectAck(t, f.fragment("/up/two.bin", strings.ToLower(strings.Trim(id2, "{}")), 0, 3, []byte("abc")), http.StatusOK, "")
	expectAck(t, f.closeSession("/up/two.bin", strings.ToLower(id2)), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "two.bin")); string(got) != "abc" {
		t.Errorf("two.bin = %q", got)
	}
}

// TestEmptyUpload: BITS sends no fragment for an empty file.
func TestEmptyUpload(t *testing.T) {
	f := startUploads(t, nil)
	id := f.create("/up/empty")
	expectAck(t, f.closeSession("/up/empty", id), http.StatusOK, "")
	if fi, err := os.Stat(filepath.Join(f.up, "empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty upload: %v, %v", fi, err)
	}
}

// TestFragmentOverlap follows the win32 Fragment page: overlapping bytes
// are not written again, only the new part; a resend of received bytes is
// acknowledged with the current end; a gap is 416 with the end.
func TestFragmentOverlap(t *testing.T) {
	f := startUploads(t, nil)
	const path = "/up/o.bin"
	data := pattern(300, 2)
	id := f.create(path)
	expectAck(t, f.fragment(path, id, 0, 300, data[:101]), http.StatusOK, "") // 0-100

	// 50-150: bytes 50-100 differ in this copy but must not be written.
	changed := bytes.Clone(data[50:151])
	for i := range 51 {
		changed[i] ^= 0xff
	}
	resp := f.fragment(path, id, 50, 300, changed)
	expectAck(t, resp, http.StatusOK, "")
	expectReceived(t, resp, 151)

	// A resend of what is there already is refused with 416 and where to
	// go on, like a gap; its body is not looked at.
	resp = f.fragment(path, id, 0, 300, data[:101])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 151)
	resp = f.fragment(path, id, 150, 300, data[150:151])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 151)
	resp = f.post(path, nil, "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 100-150/300")
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 151)
	if resp.Header.Get("BITS-Reply-URL") != "" {
		t.Error("a 416 names a reply without notification")
	}

	// A gap: the client is told where to resume. The 416 carries no error code.
	resp = f.fragment(path, id, 200, 300, data[200:])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 151)
	if resp.Header.Get("BITS-Session-Id") != id {
		t.Errorf("416 without the session id")
	}
	resp = f.fragment(path, id, 152, 300, data[152:])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")

	resp = f.fragment(path, id, 151, 300, data[151:])
	expectAck(t, resp, http.StatusOK, "")
	expectReceived(t, resp, 300)
	// All in: even the last fragment again only says so.
	resp = f.fragment(path, id, 299, 300, data[299:])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 300)
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "o.bin")); !bytes.Equal(got, data) {
		t.Fatal("overlapping bytes were rewritten or lost")
	}
}

func TestFragmentBadHeaders(t *testing.T) {
	f := startUploads(t, nil)
	const path = "/up/h.bin"
	id := f.create(path)
	expectAck(t, f.fragment(path, id, 0, 10, []byte("01234")), http.StatusOK, "")

	for _, c := range []struct {
		name   string
		header []string
		body   string
		status int
		code   string
	}{
		{"no Content-Range", []string{"BITS-Session-Id", id}, "56789", 400, "0x80070057"},
		{"reversed range", []string{"BITS-Session-Id", id, "Content-Range", "bytes 9-5/10"}, "56789", 400, "0x80070057"},
		{"past the total", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-10/10"}, "567890", 400, "0x80070057"},
		{"negative", []string{"BITS-Session-Id", id, "Content-Range", "bytes -5-9/10"}, "56789", 400, "0x80070057"},
		{"signed", []string{"BITS-Session-Id", id, "Content-Range", "bytes +5-9/10"}, "56789", 400, "0x80070057"},
		{"other unit", []string{"BITS-Session-Id", id, "Content-Range", "items 5-9/10"}, "56789", 400, "0x80070057"},
		{"no total", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9"}, "56789", 400, "0x80070057"},
		{"unknown total", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9/*"}, "56789", 400, "0x80070057"},
		{"trailing junk", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9/10x"}, "56789", 400, "0x80070057"},
		{"overflow", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9/99999999999999999999"}, "56789", 400, "0x80070057"},
		{"total changed", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9/11"}, "56789", 400, "0x80070057"},
		{"length unlike the range", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9/10"}, "5678", 400, "0x80070057"},
		{"gzip", []string{"BITS-Session-Id", id, "Content-Range", "bytes 5-9/10", "Content-Encoding", "gzip"}, "56789", 400, "0x80070057"},
		{"no session id", []string{"Content-Range", "bytes 5-9/10"}, "56789", 400, "0x80070057"},
		{"garbled session id", []string{"BITS-Session-Id", "{../../etc}", "Content-Range", "bytes 5-9/10"}, "56789", 500, "0x8020001f"},
		{"unknown session id", []string{"BITS-Session-Id", "{11111111-2222-4333-8444-555555555555}", "Content-Range", "bytes 5-9/10"}, "56789", 500, "0x8020001f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.post(path, []byte(c.body), append([]string{"BITS-Packet-Type", "Fragment"}, c.header...)...)
			expectAck(t, resp, c.status, c.code)
		})
	}
	// Content-Length can only be got wrong on a raw connection.
	for _, c := range []struct {
		name   string
		header []string
	}{
		{"no Content-Length", nil},
		{"chunked", []string{"Transfer-Encoding", "chunked"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := ""
			if c.header != nil {
				body = "5\r\n56789\r\n0\r\n\r\n"
			}
			resp := f.rawPost(path, body, append([]string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 5-9/10"}, c.header...)...)
			expectAck(t, resp, http.StatusBadRequest, "0x80070057")
		})
	}
	// After all that, the session still takes the right fragment.
	resp := f.fragment(path, id, 5, 10, []byte("56789"))
	expectAck(t, resp, http.StatusOK, "")
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "h.bin")); string(got) != "0123456789" {
		t.Fatalf("h.bin = %q", got)
	}
}

// TestSessionBoundToURL: a session id only works on its own URL.
func TestSessionBoundToURL(t *testing.T) {
	f := startUploads(t, nil)
	id := f.create("/up/mine.bin")
	expectAck(t, f.fragment("/up/other.bin", id, 0, 3, []byte("abc")), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, f.closeSession("/up/other.bin", id), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, f.cancelSession("/up/other.bin", id), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, f.fragment("/up/mine.bin", id, 0, 3, []byte("abc")), http.StatusOK, "")
}

func TestMaxUploadSize(t *testing.T) {
	f := startUploads(t, func(c *Config) {
		c.Uploads[0].MaxUploadSize = 1000
		c.MaxFragmentSize = 600
	})
	id := f.create("/up/big.bin")
	resp := f.fragment("/up/big.bin", id, 0, 1001, pattern(100, 3))
	expectAck(t, resp, http.StatusInternalServerError, "0x80200020")
	// A fragment over the fragment limit: 413, and smaller ones go through.
	resp = f.fragment("/up/big.bin", id, 0, 1000, pattern(601, 3))
	expectAck(t, resp, http.StatusRequestEntityTooLarge, "0x80200020")
	data := pattern(1000, 3)
	for off := 0; off < 1000; off += 500 {
		expectAck(t, f.fragment("/up/big.bin", id, int64(off), 1000, data[off:off+500]), http.StatusOK, "")
	}
	expectAck(t, f.closeSession("/up/big.bin", id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "big.bin")); !bytes.Equal(got, data) {
		t.Fatal("big.bin differs")
	}
}

func TestCloseIncomplete(t *testing.T) {
	f := startUploads(t, nil)
	const path = "/up/part.bin"
	data := pattern(1000, 4)
	id := f.create(path)
	expectAck(t, f.fragment(path, id, 0, 1000, data[:400]), http.StatusOK, "")
	resp := f.closeSession(path, id)
	expectAck(t, resp, http.StatusBadRequest, "0x80070057")
	expectReceived(t, resp, 400)
	mustNotExist(t, filepath.Join(f.up, "part.bin"))
	// The session lives on: the rest, then Close-Session, work.
	expectAck(t, f.fragment(path, id, 400, 1000, data[400:]), http.StatusOK, "")
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "part.bin")); !bytes.Equal(got, data) {
		t.Fatal("part.bin differs")
	}
}

func TestCancel(t *testing.T) {
	f := startUploads(t, nil)
	const path = "/up/c.bin"
	id := f.create(path)
	key, _ := parseSessionID(id)
	expectAck(t, f.fragment(path, id, 0, 10, []byte("0123456789")), http.StatusOK, "")
	resp := f.cancelSession(path, id)
	expectAck(t, resp, http.StatusOK, "")
	if resp.Header.Get("BITS-Session-Id") != id {
		t.Errorf("cancel Ack: BITS-Session-Id %q", resp.Header.Get("BITS-Session-Id"))
	}
	mustNotExist(t, filepath.Join(f.up, stateDirName, key, dataFileName))
	expectAck(t, f.cancelSession(path, id), http.StatusOK, "") // again: no harm
	expectAck(t, f.fragment(path, id, 0, 10, []byte("0123456789")), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, f.closeSession(path, id), http.StatusInternalServerError, "0x8020001f")
	mustNotExist(t, filepath.Join(f.up, "c.bin"))

	// Cancelling a closed session changes nothing.
	id = f.create(path)
	expectAck(t, f.fragment(path, id, 0, 3, []byte("abc")), http.StatusOK, "")
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	expectAck(t, f.cancelSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "c.bin")); string(got) != "abc" {
		t.Fatalf("c.bin = %q after a late cancel", got)
	}
}

// TestRestartMidSession: sessions live on disk, so a new Server on the
// same folders carries on where the old one stopped.
func TestRestartMidSession(t *testing.T) {
	f := startUploads(t, nil)
	const path = "/up/r.bin"
	data := pattern(50_000, 5)
	id := f.create(path)
	expectAck(t, f.fragment(path, id, 0, 50_000, data[:20_000]), http.StatusOK, "")
	f.restart()
	// The client resumes from its own idea of the offset: told the truth.
	resp := f.fragment(path, id, 30_000, 50_000, data[30_000:])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 20_000)
	expectAck(t, f.fragment(path, id, 20_000, 50_000, data[20_000:40_000]), http.StatusOK, "")
	f.restart()
	expectAck(t, f.fragment(path, id, 40_000, 50_000, data[40_000:]), http.StatusOK, "")
	f.restart()
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "r.bin")); !bytes.Equal(got, data) {
		t.Fatal("r.bin differs after restarts")
	}
}

// TestRecordAheadOfData: a crash between writing data and the record can
// leave the record claiming more than the file holds; the file wins.
func TestRecordAheadOfData(t *testing.T) {
	f := startUploads(t, nil)
	const path = "/up/crash.bin"
	data := pattern(100, 6)
	id := f.create(path)
	key, _ := parseSessionID(id)
	expectAck(t, f.fragment(path, id, 0, 100, data[:60]), http.StatusOK, "")
	if err := os.Truncate(filepath.Join(f.up, stateDirName, key, dataFileName), 40); err != nil {
		t.Fatal(err)
	}
	f.restart()
	resp := f.fragment(path, id, 60, 100, data[60:])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 40)
	expectAck(t, f.fragment(path, id, 40, 100, data[40:]), http.StatusOK, "")
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "crash.bin")); !bytes.Equal(got, data) {
		t.Fatal("crash.bin differs")
	}
}

func TestAllowOverwrites(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		f := startUploads(t, nil)
		dest := filepath.Join(f.up, "x.bin")
		write(t, dest, []byte("original"))
		resp := f.post("/up/x.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
		expectAck(t, resp, http.StatusConflict, "0x80070005")

		// The file appears while the upload runs: Close-Session refuses
		// to replace it.
		id := f.create("/up/y.bin")
		expectAck(t, f.fragment("/up/y.bin", id, 0, 3, []byte("new")), http.StatusOK, "")
		write(t, filepath.Join(f.up, "y.bin"), []byte("first"))
		expectAck(t, f.closeSession("/up/y.bin", id), http.StatusConflict, "0x80070005")
		if got := readFile(t, filepath.Join(f.up, "y.bin")); string(got) != "first" {
			t.Fatalf("y.bin = %q, replaced without overwrites", got)
		}
		if got := readFile(t, dest); string(got) != "original" {
			t.Fatalf("x.bin = %q", got)
		}
		// A folder under the name is refused as such.
		if err := os.Mkdir(filepath.Join(f.up, "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		resp = f.post("/up/dir", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
		expectAck(t, resp, http.StatusBadRequest, "0x80070057")
	})
	t.Run("on", func(t *testing.T) {
		f := startUploads(t, func(c *Config) { c.Uploads[0].AllowOverwrites = true })
		dest := filepath.Join(f.up, "x.bin")
		write(t, dest, []byte("original"))
		f.upload("/up/x.bin", []byte("replacement"), 4)
		if got := readFile(t, dest); string(got) != "replacement" {
			t.Fatalf("x.bin = %q", got)
		}
	})
}

// TestSessionExpiry: idle sessions are deleted by the timer, at start,
// and when touched after their time.
func TestSessionExpiry(t *testing.T) {
	const timeout = 3600e9 // an hour
	t.Run("timer", func(t *testing.T) {
		f := startUploads(t, func(c *Config) {
			c.SessionTimeout = timeout
			c.CleanupInterval = 5e6 // 5 ms
		})
		id := f.create("/up/e.bin")
		expectAck(t, f.fragment("/up/e.bin", id, 0, 10, []byte("01234")), http.StatusOK, "")
		closed := f.create("/up/closed.bin")
		expectAck(t, f.closeSession("/up/closed.bin", closed), http.StatusOK, "")
		f.clock.advance(timeout / 2)
		// Progress resets the clock of e.bin.
		expectAck(t, f.fragment("/up/e.bin", id, 5, 10, []byte("5")), http.StatusOK, "")
		f.clock.advance(timeout/2 + 1e9)
		testenv.Eventually(t, "the closed session to be swept", func() bool { return len(sessionDirs(t, f.up)) == 1 })
		f.clock.advance(timeout / 2)
		testenv.Eventually(t, "the idle session to be swept", func() bool { return len(sessionDirs(t, f.up)) == 0 })
		expectAck(t, f.fragment("/up/e.bin", id, 6, 10, []byte("6789")), http.StatusInternalServerError, "0x8020001f")
	})
	t.Run("at start", func(t *testing.T) {
		f := startUploads(t, func(c *Config) { c.SessionTimeout = timeout })
		f.create("/up/e.bin")
		write(t, filepath.Join(f.up, stateDirName, "junk"), []byte("x"))
		os.Chtimes(filepath.Join(f.up, stateDirName, "junk"), t0.Add(-2*timeout), t0.Add(-2*timeout))
		f.clock.advance(timeout + 1e9)
		f.restart()
		if dirs := sessionDirs(t, f.up); len(dirs) != 0 {
			t.Fatalf("after a restart past the timeout: %v", dirs)
		}
	})
	t.Run("on access", func(t *testing.T) {
		f := startUploads(t, func(c *Config) { c.SessionTimeout = timeout })
		id := f.create("/up/e.bin")
		f.clock.advance(timeout + 1e9)
		expectAck(t, f.fragment("/up/e.bin", id, 0, 1, []byte("0")), http.StatusInternalServerError, "0x8020001f")
		if dirs := sessionDirs(t, f.up); len(dirs) != 0 {
			t.Fatalf("expired session still on disk: %v", dirs)
		}
	})
}

func TestDownloadsAndUploadsTogether(t *testing.T) {
	// One folder for both: uploads become downloadable, sessions never.
	dir := t.TempDir()
	s, err := New(Config{Root: dir, Uploads: []VirtualDir{{Prefix: "/", Folder: dir}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := &upfix{t: t, up: dir}
	f.ts = httptest.NewServer(s)
	defer f.ts.Close()
	id := f.create("/both.bin")
	key, _ := parseSessionID(id)
	expectAck(t, f.fragment("/both.bin", id, 0, 5, []byte("hello")), http.StatusOK, "")
	for _, p := range []string{"/.bits-sessions/" + key + "/request", "/.BITS-SESSIONS/" + key + "/session.json", "/.bits-sessions/"} {
		if resp, body := f.get(f.ts.URL + p); resp.StatusCode != http.StatusNotFound || len(body) > 100 {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
	expectAck(t, f.closeSession("/both.bin", id), http.StatusOK, "")
	resp, body := f.get(f.ts.URL+"/both.bin", "Range", "bytes=1-3")
	if resp.StatusCode != http.StatusPartialContent || string(body) != "ell" {
		t.Fatalf("GET of the upload: %s %q", resp.Status, body)
	}
	for _, m := range []string{"PUT", "POST"} {
		req, _ := http.NewRequest(m, f.ts.URL+"/both.bin", nil)
		if resp := f.send(req); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, BITS_POST" {
			t.Errorf("%s: %s, Allow %q", m, resp.Status, resp.Header.Get("Allow"))
		}
	}
}

func TestNewRefusesUploads(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	write(t, file, nil)
	ok := VirtualDir{Prefix: "/up", Folder: dir}
	with := func(change func(*VirtualDir)) []VirtualDir {
		v := ok
		change(&v)
		return []VirtualDir{v}
	}
	for name, c := range map[string]Config{
		"empty prefix":         {Uploads: with(func(v *VirtualDir) { v.Prefix = "" })},
		"relative prefix":      {Uploads: with(func(v *VirtualDir) { v.Prefix = "up" })},
		"trailing slash":       {Uploads: with(func(v *VirtualDir) { v.Prefix = "/up/" })},
		"unclean prefix":       {Uploads: with(func(v *VirtualDir) { v.Prefix = "/up/../x" })},
		"state folder prefix":  {Uploads: with(func(v *VirtualDir) { v.Prefix = "/.bits-sessions" })},
		"reply prefix":         {Uploads: with(func(v *VirtualDir) { v.Prefix = "/a/BITS-Sessions" })},
		"no folder":            {Uploads: with(func(v *VirtualDir) { v.Folder = "" })},
		"missing folder":       {Uploads: with(func(v *VirtualDir) { v.Folder = filepath.Join(dir, "missing") })},
		"file as folder":       {Uploads: with(func(v *VirtualDir) { v.Folder = file })},
		"negative size":        {Uploads: with(func(v *VirtualDir) { v.MaxUploadSize = -1 })},
		"unknown notify":       {Uploads: with(func(v *VirtualDir) { v.Notify = 7 })},
		"notify without URL":   {Uploads: with(func(v *VirtualDir) { v.Notify = NotifyByValue })},
		"relative notify URL":  {Uploads: with(func(v *VirtualDir) { v.Notify, v.NotifyURL = NotifyByValue, "app.asp" })},
		"ftp notify URL":       {Uploads: with(func(v *VirtualDir) { v.Notify, v.NotifyURL = NotifyByReference, "ftp://h/app" })},
		"notify URL too long":  {Uploads: with(func(v *VirtualDir) { v.Notify, v.NotifyURL = NotifyByValue, "http://h/"+strings.Repeat("a", 2200) })},
		"same prefix twice":    {Uploads: []VirtualDir{ok, ok}},
		"host id with a space": {Uploads: []VirtualDir{ok}, HostID: "a b"},
		"negative timeout":     {Uploads: []VirtualDir{ok}, SessionTimeout: -1},
	} {
		if s, err := New(c); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	for _, in := range []string{"none", "by-reference", "By-Value", "0", "1", "2", "reference", "value"} {
		if _, err := ParseNotifyType(in); err != nil {
			t.Errorf("ParseNotifyType(%q): %v", in, err)
		}
	}
	if _, err := ParseNotifyType("3"); err == nil {
		t.Error("ParseNotifyType(3) succeeded")
	}
}

// TestStateFolderDeleted: someone deletes the sessions' folder; sessions
// are lost, but new ones can begin.
func TestStateFolderDeleted(t *testing.T) {
	f := startUploads(t, nil)
	id := f.create("/up/a.bin")
	if err := os.RemoveAll(filepath.Join(f.up, stateDirName)); err != nil {
		t.Fatal(err)
	}
	expectAck(t, f.fragment("/up/a.bin", id, 0, 3, []byte("abc")), http.StatusInternalServerError, "0x8020001f")
	f.upload("/up/a.bin", []byte("abc"), 2)
	if got := readFile(t, filepath.Join(f.up, "a.bin")); string(got) != "abc" {
		t.Fatalf("a.bin = %q", got)
	}
}
