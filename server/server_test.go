package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const secret = "TOP-SECRET-OUTSIDE-THE-ROOT"

// fixture is a root folder served on 127.0.0.1 and, beside it, a folder
// the server must never reveal.
type fixture struct {
	url     string
	addr    string
	root    string
	content []byte // of /data.bin
}

func start(t *testing.T, rate int64) *fixture {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	outside := filepath.Join(dir, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	content := make([]byte, 100_000)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	write(t, filepath.Join(root, "data.bin"), content)
	write(t, filepath.Join(root, "sub", "a.txt"), []byte("inside\n"))
	write(t, filepath.Join(outside, "secret.txt"), []byte(secret))
	links := map[string]string{
		"out-dir":  "../outside",                         // relative, leaves the root
		"out-file": "../outside/secret.txt",              // relative, leaves the root
		"abs-file": filepath.Join(outside, "secret.txt"), // absolute
		"abs-in":   filepath.Join(root, "sub", "a.txt"),  // absolute, even inside: refused
		"in-file":  "sub/a.txt",                          // relative, stays inside: served
		"sub/up":   "../../outside/secret.txt",           // climbs from a subfolder
		"etc":      "/etc",                               // a system folder
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	h, err := New(Config{Root: root, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &fixture{url: srv.URL, addr: ln.Addr().String(), root: root, content: content}
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) do(t *testing.T, method, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// raw sends a request line exactly as written, so that no client cleans
// or re-escapes the path first.
func (f *fixture) raw(t *testing.T, target string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, f.addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestGetWhole(t *testing.T) {
	f := start(t, 0)
	resp, body := f.do(t, "GET", "/data.bin")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, f.content) {
		t.Fatalf("GET /data.bin: %s, %d bytes; want 200 and the file", resp.Status, len(body))
	}
	for _, h := range []string{"ETag", "Last-Modified"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if got := resp.Header.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("Accept-Ranges = %q, want bytes", got)
	}
	if etag := resp.Header.Get("ETag"); strings.HasPrefix(etag, "W/") || !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag %s: want a strong one, If-Range needs it", etag)
	}
	resp, body = f.do(t, "GET", "/sub/a.txt")
	if resp.StatusCode != http.StatusOK || string(body) != "inside\n" {
		t.Errorf("GET /sub/a.txt: %s %q", resp.Status, body)
	}
}

func TestHead(t *testing.T) {
	f := start(t, 0)
	resp, body := f.do(t, "HEAD", "/data.bin")
	if resp.StatusCode != http.StatusOK || len(body) != 0 {
		t.Fatalf("HEAD: %s with %d body bytes", resp.Status, len(body))
	}
	if resp.ContentLength != int64(len(f.content)) {
		t.Errorf("HEAD Content-Length = %d, want %d", resp.ContentLength, len(f.content))
	}
	get, _ := f.do(t, "GET", "/data.bin")
	for _, h := range []string{"ETag", "Last-Modified", "Accept-Ranges"} {
		if resp.Header.Get(h) == "" || resp.Header.Get(h) != get.Header.Get(h) {
			t.Errorf("%s: HEAD %q, GET %q", h, resp.Header.Get(h), get.Header.Get(h))
		}
	}
}

func TestRanges(t *testing.T) {
	f := start(t, 0)
	n := len(f.content)
	for _, c := range []struct {
		rng          string
		from, to     int // inclusive
		contentRange string
	}{
		{"bytes=10-19", 10, 19, fmt.Sprintf("bytes 10-19/%d", n)},
		{"bytes=99990-", 99990, n - 1, fmt.Sprintf("bytes 99990-%d/%d", n-1, n)},
		{"bytes=-5", n - 5, n - 1, fmt.Sprintf("bytes %d-%d/%d", n-5, n-1, n)},
		{"bytes=0-0", 0, 0, fmt.Sprintf("bytes 0-0/%d", n)},
		{"bytes=50000-999999", 50000, n - 1, fmt.Sprintf("bytes 50000-%d/%d", n-1, n)},
	} {
		resp, body := f.do(t, "GET", "/data.bin", "Range", c.rng)
		if resp.StatusCode != http.StatusPartialContent {
			t.Errorf("%s: %s, want 206", c.rng, resp.Status)
			continue
		}
		if got := resp.Header.Get("Content-Range"); got != c.contentRange {
			t.Errorf("%s: Content-Range %q, want %q", c.rng, got, c.contentRange)
		}
		if !bytes.Equal(body, f.content[c.from:c.to+1]) {
			t.Errorf("%s: wrong %d bytes", c.rng, len(body))
		}
	}

	resp, body := f.do(t, "GET", "/data.bin", "Range", "bytes=0-1,10-11")
	if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
		t.Errorf("two ranges: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	} else if !bytes.Contains(body, f.content[10:12]) {
		t.Errorf("two ranges: second part missing")
	}

	resp, _ = f.do(t, "GET", "/data.bin", "Range", fmt.Sprintf("bytes=%d-", n))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %s, want 416", resp.Status)
	}
}

// TestValidators checks what resuming relies on: If-Range with the current
// validator gives the range, with a stale one the whole new file.
func TestValidators(t *testing.T) {
	f := start(t, 0)
	first, _ := f.do(t, "HEAD", "/data.bin")
	etag, lastMod := first.Header.Get("ETag"), first.Header.Get("Last-Modified")

	for _, v := range []string{etag, lastMod} {
		resp, body := f.do(t, "GET", "/data.bin", "Range", "bytes=100-199", "If-Range", v)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, f.content[100:200]) {
			t.Errorf("If-Range %s (current): %s, %d bytes; want 206 and the range", v, resp.Status, len(body))
		}
	}
	if resp, _ := f.do(t, "GET", "/data.bin", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match current: %s, want 304", resp.Status)
	}

	changed := append([]byte("changed "), f.content...)
	write(t, filepath.Join(f.root, "data.bin"), changed)
	later := time.Now().Add(time.Hour) // a different second, whatever the clock's resolution
	if err := os.Chtimes(filepath.Join(f.root, "data.bin"), later, later); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{etag, lastMod} {
		resp, body := f.do(t, "GET", "/data.bin", "Range", "bytes=100-199", "If-Range", v)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, changed) {
			t.Errorf("If-Range %s (stale): %s, %d bytes; want 200 and the whole new file", v, resp.Status, len(body))
		}
	}
	if resp, _ := f.do(t, "HEAD", "/data.bin"); resp.Header.Get("ETag") == etag {
		t.Errorf("ETag %s unchanged after the file changed", etag)
	}
}

func TestNotFound(t *testing.T) {
	f := start(t, 0)
	for _, p := range []string{
		"/missing", "/sub/missing", "/data.bin/x",
		"/", "/sub", "/sub/", // folders: no listings
		"/fifo",                                     // not a regular file; must not block either
		"//data.bin", "/./data.bin", "/sub/./a.txt", // not canonical
	} {
		resp, body := f.raw(t, p)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", p, resp.Status)
		}
		if bytes.Contains(body, []byte("a.txt")) {
			t.Errorf("GET %s lists the folder: %q", p, body)
		}
	}
}

func TestMethods(t *testing.T) {
	f := start(t, 0)
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		resp, _ := f.do(t, m, "/data.bin")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %s, Allow %q; want 405 and GET, HEAD", m, resp.Status, resp.Header.Get("Allow"))
		}
	}
	// A download-only server has uploads disabled everywhere.
	resp, _ := f.do(t, "BITS_POST", "/data.bin", "BITS-Packet-Type", "Ping")
	if resp.StatusCode != http.StatusNotImplemented || resp.Header.Get("BITS-Error-Code") != "0x80070005" {
		t.Errorf("BITS_POST: %s, BITS-Error-Code %q; want 501 and 0x80070005", resp.Status, resp.Header.Get("BITS-Error-Code"))
	}
}

func TestTraversalRefused(t *testing.T) {
	f := start(t, 0)
	for _, c := range []struct {
		target string
		status int // 0: any refusal
	}{
		{"/../etc/passwd", http.StatusBadRequest},
		{"/%2e%2e/etc/passwd", http.StatusBadRequest},
		{"/%2E%2E%2Fetc%2Fpasswd", http.StatusBadRequest},
		{"/sub/../../outside/secret.txt", http.StatusBadRequest},
		{"/sub/..%2f..%2foutside%2fsecret.txt", http.StatusBadRequest},
		{"/../outside/secret.txt", http.StatusBadRequest},
		{"/..", http.StatusBadRequest},
		{"/data.bin%00.txt", http.StatusBadRequest},
		{"/%00", http.StatusBadRequest},
		{"/out-dir/secret.txt", http.StatusNotFound},
		{"/out-file", http.StatusNotFound},
		{"/abs-file", http.StatusNotFound},
		{"/abs-in", http.StatusNotFound},
		{"/sub/up", http.StatusNotFound},
		{"/etc/passwd", http.StatusNotFound},
		{"/etc/hostname", http.StatusNotFound},
		{"../etc/passwd", 0},
		{"http://127.0.0.1/../outside/secret.txt", http.StatusBadRequest},
	} {
		resp, body := f.raw(t, c.target)
		switch {
		case c.status == 0 && resp.StatusCode < 400,
			c.status != 0 && resp.StatusCode != c.status:
			t.Errorf("GET %s: %s, want %d", c.target, resp.Status, c.status)
		}
		if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("root:")) {
			t.Errorf("GET %s leaked a file from outside the root: %q", c.target, body)
		}
	}
	// A link that stays inside is fine.
	if resp, body := f.raw(t, "/in-file"); resp.StatusCode != http.StatusOK || string(body) != "inside\n" {
		t.Errorf("GET /in-file: %s %q, want 200 inside", resp.Status, body)
	}
}

// TestRatePaces checks the limiter on a real connection, loosely: a paced
// response can never arrive sooner than the rate allows (the pacing math is
// exact in TestPacedWriterPace), and it arrives whole.
func TestRatePaces(t *testing.T) {
	const rate = 400_000 // 100 000 B: 0.25 s, less the 40 000 B burst
	f := start(t, rate)
	begin := time.Now()
	resp, body := f.do(t, "GET", "/data.bin")
	took := time.Since(begin)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, f.content) {
		t.Fatalf("paced GET: %s, %d bytes", resp.Status, len(body))
	}
	if least := byteTime(int64(len(body))-rate/10, rate); took < least {
		t.Errorf("%d B at %d B/s took %v, less than %v", len(body), rate, took, least)
	}
	resp, body = f.do(t, "GET", "/data.bin", "Range", "bytes=0-99")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, f.content[:100]) {
		t.Errorf("paced range: %s, %d bytes", resp.Status, len(body))
	}
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	write(t, file, nil)
	for _, c := range []Config{
		{Root: ""},
		{Root: filepath.Join(dir, "missing")},
		{Root: file},
		{Root: dir, Rate: -1},
	} {
		if s, err := New(c); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}
