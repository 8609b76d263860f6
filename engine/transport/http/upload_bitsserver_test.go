package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"bits/engine/transport"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
	"bits/internal/uploadproto"
	"bits/server"
)

// Against bitsserver (package server), the project's own upload server.

func TestUploadConformanceBitsserver(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"HTTP", false}, {"HTTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRealServer(t, tc.tls, nil)
			tr := New(Options{TLSConfig: s.tlsConfig()})
			t.Cleanup(tr.CloseIdleConnections)
			transporttest.RunUploader(t, tr.Entry(), s)
		})
	}
}

func TestUploadReplyFromBitsserver(t *testing.T) {
	app := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		sum := sha256.New()
		io.Copy(sum, r.Body)
		w.Write(append([]byte("got "), sum.Sum(nil)...))
	}))
	t.Cleanup(app.Close)
	s := newRealServer(t, false, func(vd *server.VirtualDir) {
		vd.Notify, vd.NotifyURL = server.NotifyByValue, app.URL+"/app"
	})
	tr := New(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	content := testenv.RandomContent(3<<20+11, 30)
	r := s.Request(t, "reply.bin")
	ctx := context.Background()
	session, err := tr.Begin(ctx, r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	sendAll(t, tr, r, session, 0, content)
	var reply bytes.Buffer
	if err := tr.Commit(ctx, r, session, &reply); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	sum := sha256.Sum256(content)
	if want := append([]byte("got "), sum[:]...); !bytes.Equal(reply.Bytes(), want) {
		t.Fatalf("reply = %q, want %q", reply.Bytes(), want)
	}
}

// TestUploadReplyAfterARestartOnBitsserver: the reply of an upload-reply
// job survives a restart of the client (a new Transport, which remembers
// nothing) at any point after the server has the whole file: after the last
// Ack, while the server application was still being notified, and whether
// the client goes on as the engine does (Resume, then the last byte again),
// or with Send from a checkpoint a chunk behind.
func TestUploadReplyAfterARestartOnBitsserver(t *testing.T) {
	var mu sync.Mutex
	var calls int
	hang := false
	called := make(chan struct{}, 10)
	app := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		sum := sha256.New()
		io.Copy(sum, r.Body)
		mu.Lock()
		calls++
		h := hang
		mu.Unlock()
		called <- struct{}{}
		if h { // until the server gives up on it: its client went away
			<-r.Context().Done()
			return
		}
		fmt.Fprintf(w, "got %x", sum.Sum(nil))
	}))
	t.Cleanup(app.Close)
	s := newRealServer(t, false, func(vd *server.VirtualDir) {
		vd.Notify, vd.NotifyURL = server.NotifyByValue, app.URL+"/app"
	})
	content := testenv.RandomContent(3<<20+11, 32)
	size := int64(len(content))
	want := fmt.Appendf(nil, "got %x", sha256.Sum256(content))
	ctx := context.Background()

	for _, tc := range []struct {
		name      string
		interrupt bool                                                      // the client goes while the application is notified
		resume    func(tr *Transport, r *transport.Request, session string) // what the restarted client does before Commit
	}{
		// As the engine does: the record says the server has it all, and
		// the last byte goes again for the server to name the reply.
		{"Resume", false, func(tr *Transport, r *transport.Request, session string) {
			if held, err := tr.Resume(ctx, r, session, size, size); err != nil || held != size {
				t.Fatalf("Resume = %d, %v; want %d", held, err, size)
			}
			sendAll(t, tr, r, session, size-1, content)
		}},
		// The checkpoint is a chunk behind: the restarted client sends
		// from there, and the server's 416 names the reply.
		{"SendFromTheLastChunk", false, func(tr *Transport, r *transport.Request, session string) {
			sendAll(t, tr, r, session, size-1<<20, content)
		}},
		{"WhileNotifying", true, func(tr *Transport, r *transport.Request, session string) {
			if held, err := tr.Resume(ctx, r, session, size, size); err != nil || held != size {
				t.Fatalf("Resume = %d, %v; want %d", held, err, size)
			}
			sendAll(t, tr, r, session, size-1, content)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			calls, hang = 0, tc.interrupt
			mu.Unlock()
			for len(called) > 0 {
				<-called
			}
			tr := New(Options{})
			t.Cleanup(tr.CloseIdleConnections)
			r := s.Request(t, tc.name+".bin")
			session, err := tr.Begin(ctx, r, size)
			if err != nil {
				t.Fatal(err)
			}
			if tc.interrupt {
				sctx, cancel := context.WithCancel(ctx)
				go func() {
					<-called
					cancel()
				}()
				if got, err := tr.Send(sctx, r, session, 0, size, transporttest.Section(content)); err == nil {
					t.Fatalf("Send while the application hangs = %d, nil; want an error", got)
				}
				cancel()
				mu.Lock()
				hang = false
				mu.Unlock()
			} else {
				sendAll(t, tr, r, session, 0, content)
				<-called
			}
			tr.CloseIdleConnections()

			tr = New(Options{}) // the restart
			t.Cleanup(tr.CloseIdleConnections)
			tc.resume(tr, r, session)
			var reply bytes.Buffer
			if err := tr.Commit(ctx, r, session, &reply); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if !bytes.Equal(reply.Bytes(), want) {
				t.Fatalf("reply = %q, want %q", reply.Bytes(), want)
			}
			mu.Lock()
			n := calls
			mu.Unlock()
			if wantCalls := map[bool]int{false: 1, true: 2}[tc.interrupt]; n != wantCalls {
				t.Errorf("the application was notified %d times, want %d", n, wantCalls)
			}
			if left := s.Leftovers(t, tc.name+".bin"); len(left) != 0 {
				t.Errorf("sessions left with data: %v", left)
			}
		})
	}
}

// TestUploadResendOnBitsserver: bitsserver answers a fragment of bytes it
// holds with 416 and its offset, before the body crosses the link; Send
// goes on from there and sends only what the server lacks.
func TestUploadResendOnBitsserver(t *testing.T) {
	s := newRealServer(t, false, nil)
	tr := New(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	content := testenv.RandomContent(3<<20+7, 33)
	r := s.Request(t, "resend.bin")
	session, half := sendHalf(t, tr, r, content)
	before := s.bodyBytes.Load()
	tr = New(Options{}) // a restart: the caller's checkpoint is a little behind
	t.Cleanup(tr.CloseIdleConnections)
	sendAll(t, tr, r, session, half-5000, content)
	if read, lacked := s.bodyBytes.Load()-before, int64(len(content))-half; read < lacked || read > lacked+5000 {
		t.Errorf("the server read %d fragment bytes, want the %d it lacked and at most the 5000 it held again", read, lacked)
	}
	if err := tr.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(t, "resend.bin"); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the server holds %d bytes (%v), want the %d sent", len(got), err, len(content))
	}
}

func TestUploadSessionLostOnBitsserver(t *testing.T) {
	s := newRealServer(t, false, nil)
	tr := New(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	content := testenv.RandomContent(3<<20, 31)
	r := s.Request(t, "lost.bin")
	session, half := sendHalf(t, tr, r, content)
	state := filepath.Join(s.dir, ".bits-sessions")
	dirs, err := os.ReadDir(state)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no session folders (%v)", err)
	}
	for _, d := range dirs {
		if err := os.RemoveAll(filepath.Join(state, d.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// After a restart this Transport remembers nothing: the first
	// fragment's answer says the session is gone.
	tr = New(Options{})
	t.Cleanup(tr.CloseIdleConnections)
	ctx := context.Background()
	if held, err := tr.Resume(ctx, r, session, half, half); err != nil || held != half {
		t.Fatalf("Resume = %d, %v; want the record, %d", held, err, half)
	}
	if _, err := tr.Send(ctx, r, session, half, int64(len(content)), transporttest.Section(content[half:])); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Send = %v; want ErrSessionLost", err)
	}
	upload(t, tr, r, content)
	got, err := s.Read(t, "lost.bin")
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("after beginning again, the server holds %d bytes (%v), want the %d sent", len(got), err, len(content))
	}
}

// realServer is a transporttest.UploadServer over bitsserver: its files are
// in a folder mapped to /up. Deny puts a symbolic link in the file's place,
// which bitsserver refuses to replace (403); CutNext breaks the connection
// under the fragments' bodies.
type realServer struct {
	dir   string // the upload folder
	aside string // where denied files' content goes
	srv   *server.Server
	ts    *httptest.Server

	mu   sync.Mutex
	cuts map[string]int64 // by URL path: fragment bytes to pass before the cut

	bodyBytes atomic.Int64 // fragment body bytes the server read
}

func newRealServer(t *testing.T, useTLS bool, vd func(*server.VirtualDir)) *realServer {
	t.Helper()
	s := &realServer{dir: t.TempDir(), aside: t.TempDir(), cuts: map[string]int64{}}
	v := server.VirtualDir{Prefix: "/up", Folder: s.dir, AllowOverwrites: true}
	if vd != nil {
		vd(&v)
	}
	srv, err := server.New(server.Config{Uploads: []server.VirtualDir{v}})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	t.Cleanup(func() {
		s.ts.Close()
		srv.Close()
	})
	return s
}

// tlsConfig trusts the server's certificate; nil over plain HTTP.
func (s *realServer) tlsConfig() *tls.Config {
	cert := s.ts.Certificate()
	if cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}
}

func (s *realServer) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	s.mu.Lock()
	left, cutting := s.cuts[r.URL.Path]
	s.mu.Unlock()
	if cutting && r.Method == uploadproto.Method && r.Header.Get(uploadproto.HeaderPacketType) == uploadproto.PacketFragment && r.ContentLength > 0 {
		r.Body = &cuttingBody{ReadCloser: r.Body, s: s, path: r.URL.Path, left: left, rc: nethttp.NewResponseController(w)}
	}
	if r.Method == uploadproto.Method {
		r.Body = &countingBody{ReadCloser: r.Body, n: &s.bodyBytes}
	}
	s.srv.ServeHTTP(w, r)
}

// cuttingBody passes left bytes of fragment bodies, then closes the
// connection under the handler.
type cuttingBody struct {
	io.ReadCloser
	s    *realServer
	path string
	left int64
	rc   *nethttp.ResponseController
}

var errCut = errors.New("the test cut the connection")

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *cuttingBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.s.mu.Lock()
		delete(c.s.cuts, c.path)
		c.s.mu.Unlock()
		if conn, _, err := c.rc.Hijack(); err == nil {
			conn.Close()
		}
		return 0, errCut
	}
	n, err := c.ReadCloser.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	c.s.mu.Lock()
	if _, ok := c.s.cuts[c.path]; ok {
		c.s.cuts[c.path] = c.left
	}
	c.s.mu.Unlock()
	return n, err
}

func (s *realServer) file(name string) string { return filepath.Join(s.dir, name) }

func (s *realServer) Put(t testing.TB, name string, content []byte) *transport.Request {
	t.Helper()
	os.Remove(s.file(name))
	if err := os.WriteFile(s.file(name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return s.Request(t, name)
}

func (s *realServer) Request(t testing.TB, name string) *transport.Request {
	t.Helper()
	u, err := url.Parse(s.ts.URL + "/up/" + url.PathEscape(name))
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Request{URL: u}
}

func (s *realServer) Deny(t testing.TB, name string) {
	t.Helper()
	aside := filepath.Join(s.aside, name)
	if err := os.Rename(s.file(name), aside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(aside, s.file(name)); err != nil {
		t.Fatal(err)
	}
}

func (s *realServer) Change(t testing.TB, name string, content []byte) { s.Put(t, name, content) }

func (s *realServer) CutNext(t testing.TB, name string, n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cuts["/up/"+url.PathEscape(name)] = n
	return true
}

func (s *realServer) Read(t testing.TB, name string) ([]byte, error) {
	return os.ReadFile(s.file(name))
}

// Leftovers lists the sessions for name that still hold data; bitsserver
// keeps the record of a closed or cancelled session, without its data,
// until it expires.
func (s *realServer) Leftovers(t testing.TB, name string) []string {
	t.Helper()
	dirs, err := os.ReadDir(filepath.Join(s.dir, ".bits-sessions"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range dirs {
		dir := filepath.Join(s.dir, ".bits-sessions", d.Name())
		meta, err := os.ReadFile(filepath.Join(dir, "session.json"))
		if err != nil {
			continue
		}
		var rec struct{ Name string }
		if json.Unmarshal(meta, &rec) != nil || rec.Name != name {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "request")); err == nil {
			left = append(left, d.Name())
		}
	}
	return left
}
