package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const upload15 = "{7df0354d-249b-430f-820d-3d2a9bef4931}"

// upfix is a Server with an upload folder mapped to /up, a download root
// beside it and a folder outside both that nothing may touch, served on
// loopback. restart replaces the Server on the same folders and URL.
type upfix struct {
	t       *testing.T
	cfg     Config
	up      string // the upload folder
	outside string
	ts      *httptest.Server
	srv     atomic.Pointer[Server]
	clock   *fakeClock
}

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func startUploads(t *testing.T, change func(*Config)) *upfix {
	t.Helper()
	dir := t.TempDir()
	f := &upfix{t: t, up: filepath.Join(dir, "up"), outside: filepath.Join(dir, "outside"), clock: &fakeClock{now: t0}}
	root := filepath.Join(dir, "root")
	for _, d := range []string{f.up, f.outside, root, filepath.Join(f.up, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(f.outside, "secret.txt"), []byte(secret))
	write(t, filepath.Join(root, "hello.txt"), []byte("hello\n"))
	f.cfg = Config{
		Root:    root,
		Uploads: []VirtualDir{{Prefix: "/up", Folder: f.up}},
		Now:     f.clock.Now,
	}
	if change != nil {
		change(&f.cfg)
	}
	f.srv.Store(f.newServer())
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.srv.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.ts.Close()
		f.srv.Load().Close()
	})
	return f
}

func (f *upfix) newServer() *Server {
	f.t.Helper()
	s, err := New(f.cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return s
}

// restart closes the Server and starts a new one on the same folders, as
// a restarted bitsserver would.
func (f *upfix) restart() {
	f.t.Helper()
	old := f.srv.Swap(f.newServer())
	if err := old.Close(); err != nil {
		f.t.Fatalf("Close: %v", err)
	}
}

// post sends a BITS_POST with header pairs and a body.
func (f *upfix) post(path string, body []byte, header ...string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest("BITS_POST", f.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.send(req)
}

func (f *upfix) send(req *http.Request) *http.Response {
	f.t.Helper()
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (f *upfix) get(url string, header ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, body
}

// raw sends bytes as they are and reads one response.
func (f *upfix) raw(request string) *http.Response {
	f.t.Helper()
	c, err := net.DialTimeout("tcp", f.ts.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		f.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, request)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		f.t.Fatalf("%q: %v", request, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// rawPost is a BITS_POST with a target and headers written verbatim.
func (f *upfix) rawPost(target string, body string, header ...string) *http.Response {
	var b strings.Builder
	fmt.Fprintf(&b, "BITS_POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", target, f.ts.Listener.Addr())
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n" + body)
	return f.raw(b.String())
}

func (f *upfix) create(path string) string {
	f.t.Helper()
	resp := f.post(path, nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	expectAck(f.t, resp, http.StatusOK, "")
	id := resp.Header.Get("BITS-Session-Id")
	if _, ok := parseSessionID(id); !ok || id[0] != '{' {
		f.t.Fatalf("Create-Session: session id %q is not a GUID in braces", id)
	}
	return id
}

func (f *upfix) fragment(path, id string, first int64, total int64, data []byte) *http.Response {
	f.t.Helper()
	return f.post(path, data, "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id,
		"Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, first+int64(len(data))-1, total))
}

func (f *upfix) closeSession(path, id string) *http.Response {
	f.t.Helper()
	return f.post(path, nil, "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id)
}

func (f *upfix) cancelSession(path, id string) *http.Response {
	f.t.Helper()
	return f.post(path, nil, "BITS-Packet-Type", "Cancel-Session", "BITS-Session-Id", id)
}

// upload sends data in fragments of size n and closes the session.
func (f *upfix) upload(path string, data []byte, n int) {
	f.t.Helper()
	id := f.create(path)
	for off := 0; off < len(data); off += n {
		end := min(off+n, len(data))
		resp := f.fragment(path, id, int64(off), int64(len(data)), data[off:end])
		expectAck(f.t, resp, http.StatusOK, "")
		expectReceived(f.t, resp, int64(end))
	}
	expectAck(f.t, f.closeSession(path, id), http.StatusOK, "")
}

// expectAck checks an Ack's status and BITS-Error-Code ("" for none).
func expectAck(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %s (BITS-Error-Code %q), want %d", resp.Status, resp.Header.Get("BITS-Error-Code"), status)
	}
	if got := resp.Header.Get("BITS-Packet-Type"); got != "Ack" {
		t.Fatalf("BITS-Packet-Type %q, want Ack", got)
	}
	if got := resp.Header.Get("Content-Length"); got != "0" {
		t.Fatalf("Content-Length %q, want 0", got)
	}
	if got := resp.Header.Get("BITS-Error-Code"); got != code {
		t.Fatalf("BITS-Error-Code %q, want %q", got, code)
	}
	if code != "" && resp.Header.Get("BITS-Error-Context") == "" {
		t.Fatalf("BITS-Error-Code without BITS-Error-Context")
	}
}

func expectReceived(t *testing.T, resp *http.Response, n int64) {
	t.Helper()
	if got, want := resp.Header.Get("BITS-Received-Content-Range"), fmt.Sprint(n); got != want {
		t.Fatalf("BITS-Received-Content-Range %q, want %q", got, want)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustNotExist(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Lstat(name); !os.IsNotExist(err) {
		t.Fatalf("%s exists (err %v); it must not", name, err)
	}
}

// sessionDirs lists the session folders of an upload folder.
func sessionDirs(t *testing.T, up string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(up, stateDirName))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// tree lists every path under dir with its size, for before/after checks.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, info.Mode().Type(), info.Size()))
		return nil
	})
	sort.Strings(out)
	return out
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed + byte(i>>8)
	}
	return b
}
