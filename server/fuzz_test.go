package server

import (
	"bits/internal/uploadproto"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Statuses a BITS_POST may be answered with, and the error codes a 500
// may carry: anything else means a packet reached a failure it should not.
var (
	packetStatuses = []int{200, 400, 401, 403, 404, 409, 413, 416, 500, 501}
	codes500       = []string{"0x8020001f", "0x80200020"}
	getStatuses    = []int{200, 206, 304, 400, 404, 412, 416}
	errorCodeForm  = regexp.MustCompile(`^0x[0-9a-f]{8}$`)
)

// FuzzServeHTTP feeds arbitrary packets to a Server with an upload folder,
// a notifying one and a download root. Whatever comes in, it must not
// panic, must answer with a status of the protocol (as an Ack, with an
// error code where one is due), and must not change anything outside its
// folders. A session id of "$new" is replaced by a fresh session's, so
// fragments reach real sessions.
func FuzzServeHTTP(f *testing.F) {
	const live = "$new"
	for _, seed := range []struct {
		method, target, packet, id, rng, length, extra string
		body                                           []byte
	}{
		{"BITS_POST", "/up/a.bin", "Ping", "", "", "0", "", nil},
		{"BITS_POST", "/up/a.bin", "Create-Session", "", "", "0", "BITS-Supported-Protocols: " + upload15, nil},
		{"BITS_POST", "/up/a.bin", "Create-Session", "", "", "0", "BITS-Supported-Protocols: {00000000-0000-0000-0000-000000000000}", nil},
		{"BITS_POST", "/up/a.bin", "Fragment", live, "bytes 0-4/10", "5", "", []byte("01234")},
		{"BITS_POST", "/up/a.bin", "Fragment", live, "bytes 0-9/10", "10", "", []byte("0123456789")},
		{"BITS_POST", "/up/sub/b.bin", "Fragment", live, "bytes 3-4/10", "2", "", []byte("34")},
		{"BITS_POST", "/up/a.bin", "Fragment", live, "bytes 0-4/10", "5", "Content-Encoding: gzip", []byte("01234")},
		{"BITS_POST", "/up/a.bin", "Fragment", "{11111111-2222-4333-8444-555555555555}", "bytes 0-4/10", "5", "", []byte("01234")},
		{"BITS_POST", "/up/a.bin", "Close-Session", live, "", "0", "", nil},
		{"BITS_POST", "/up/a.bin", "Cancel-Session", live, "", "0", "", nil},
		{"BITS_POST", "/app/r.bin", "Fragment", live, "bytes 0-2/3", "3", "", []byte("abc")},
		{"BITS_POST", "/up/../outside/x", "Create-Session", "", "", "0", "BITS-Supported-Protocols: " + upload15, nil},
		{"BITS_POST", "/up/a%2fb", "Create-Session", "", "", "0", "BITS-Supported-Protocols: " + upload15, nil},
		{"BITS_POST", "/up/.bits-sessions/x", "Fragment", "../../outside", "bytes 0-0/1", "1", "", []byte("x")},
		{"GET", "/up/BITS-Sessions/Replies/11111111-2222-4333-8444-555555555555/response", "", "", "", "", "Range: bytes=0-1", nil},
		{"GET", "/hello.txt", "", "", "", "", "Range: bytes=1-2", nil},
		{"GET", "/up/.bits-sessions/", "", "", "", "", "", nil},
		{"PUT", "/up/a.bin", "", "", "", "", "", []byte("x")},
	} {
		f.Add(seed.method, seed.target, seed.packet, seed.id, seed.rng, seed.length, seed.extra, seed.body)
	}

	dir := f.TempDir()
	up, outside, root := filepath.Join(dir, "up"), filepath.Join(dir, "outside"), filepath.Join(dir, "root")
	for _, d := range []string{up, outside, root, filepath.Join(up, "sub"), filepath.Join(dir, "app")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(secret), 0o644)
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	os.Symlink(outside, filepath.Join(up, "out"))
	application := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}))
	f.Cleanup(application.Close)
	s, err := New(Config{
		Root: root,
		Uploads: []VirtualDir{
			{Prefix: "/up", Folder: up, MaxUploadSize: 1 << 20},
			{Prefix: "/app", Folder: filepath.Join(dir, "app"), Notify: NotifyByValue, NotifyURL: application.URL, NotifyTimeout: 2 * time.Second},
		},
		MaxFragmentSize: 1 << 16,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	outsideBefore, rootBefore := tree(f, outside), tree(f, root)
	top := []string{"app", "outside", "root", "up"}

	f.Fuzz(func(t *testing.T, method, target, packet, id, rng, length, extra string, body []byte) {
		if id == live {
			id = createForFuzz(s, target)
		}
		r := fuzzRequest(method, target, body)
		if r == nil {
			return
		}
		for k, v := range map[string]string{"BITS-Packet-Type": packet, "BITS-Session-Id": id, "Content-Range": rng, "Content-Length": length} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		for _, line := range strings.Split(extra, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k != "" {
				r.Header.Add(k, strings.TrimSpace(v))
			}
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)

		status := w.Code
		switch r.Method {
		case uploadproto.Method:
			if !slices.Contains(packetStatuses, status) {
				t.Fatalf("BITS_POST answered %d", status)
			}
			if w.Header().Get("BITS-Packet-Type") != "Ack" || w.Header().Get("Content-Length") != "0" || w.Body.Len() != 0 {
				t.Fatalf("%d: not an Ack: %v, %d body bytes", status, w.Header(), w.Body.Len())
			}
			code := w.Header().Get("BITS-Error-Code")
			switch {
			case status < 300 || status == 416 || status == 401:
				if code != "" {
					t.Fatalf("%d with BITS-Error-Code %s", status, code)
				}
			case !errorCodeForm.MatchString(code) || w.Header().Get("BITS-Error-Context") == "":
				t.Fatalf("%d without a proper error code: %q", status, code)
			case status == 500 && !slices.Contains(codes500, code):
				t.Fatalf("500 with %s: an unexpected failure", code)
			}
		case http.MethodGet, http.MethodHead:
			if !slices.Contains(getStatuses, status) {
				t.Fatalf("%s answered %d", r.Method, status)
			}
		default:
			if status != http.StatusMethodNotAllowed {
				t.Fatalf("%s answered %d", r.Method, status)
			}
		}
		if got := tree(t, outside); !slices.Equal(got, outsideBefore) {
			t.Fatalf("the folder outside changed: %v", got)
		}
		if got := tree(t, root); !slices.Equal(got, rootBefore) {
			t.Fatalf("the download root changed: %v", got)
		}
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, top) {
			t.Fatalf("the temporary folder holds %v", names)
		}
		if fi, err := os.Lstat(filepath.Join(up, "out")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("the link in the upload folder was replaced: %v", err)
		}
	})
}

// fuzzRequest builds the request a server would hand the handler, or nil
// for a target no server would accept.
func fuzzRequest(method, target string, body []byte) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil || method == "" {
		return nil
	}
	r := &http.Request{
		Method:     method,
		URL:        u,
		RequestURI: target,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       "bits.test",
		RemoteAddr: "127.0.0.1:1234",
		Body:       io.NopCloser(bytes.NewReader(body)),
	}
	r.ContentLength = int64(len(body))
	return r
}

// createForFuzz makes a session for target through the handler and
// returns its id, or "" when target takes none.
func createForFuzz(s *Server, target string) string {
	r := fuzzRequest(uploadproto.Method, target, nil)
	if r == nil {
		return ""
	}
	r.Header.Set("BITS-Packet-Type", "Create-Session")
	r.Header.Set("BITS-Supported-Protocols", upload15)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Header().Get("BITS-Session-Id")
}
