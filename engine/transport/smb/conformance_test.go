package smb

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

func TestConformance(t *testing.T) {
	s, tr := setup(t, Options{})
	srv := &shareServer{s: s, proxy: startCutProxy(t, s.Addr())}
	t.Run("Downloader", func(t *testing.T) { transporttest.RunDownloader(t, tr.Entry(), srv) })
	t.Run("Uploader", func(t *testing.T) { transporttest.RunUploader(t, tr.Entry(), srv) })
}

// shareServer keeps each name in a folder of its own on the share, so
// that Deny can forbid creating files beside one name only. The transport
// reaches smbd through a proxy that can cut its connection.
type shareServer struct {
	s     *testenv.SMBD
	proxy *cutProxy
}

// path is name's place on disk, its folder made and owned by the share
// user.
func (v *shareServer) path(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(v.s.Dir(), name+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	v.chown(t, dir)
	return filepath.Join(dir, name)
}

func (v *shareServer) chown(t testing.TB, p string) {
	t.Helper()
	uid, gid := v.s.Owner()
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
}

func (v *shareServer) Put(t testing.TB, name string, content []byte) *transport.Request {
	t.Helper()
	p := v.path(t, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	v.chown(t, p)
	return v.Request(t, name)
}

func (v *shareServer) Request(t testing.TB, name string) *transport.Request {
	t.Helper()
	v.path(t, name)
	u, err := names.Parse("smb://" + v.proxy.addr() + "/" + testenv.SMBShare + "/" + name + ".d/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Request{URL: u, Settings: transport.Settings{Credentials: []transport.Credential{ntlm(v.s.User(), v.s.Password())}}}
}

func (v *shareServer) Read(t testing.TB, name string) ([]byte, error) {
	return os.ReadFile(v.path(t, name))
}

func (v *shareServer) Leftovers(t testing.TB, name string) []string {
	return testenv.TempFiles(t, filepath.Dir(v.path(t, name)))
}

// Deny gives the file and its folder to root, with no rights on the file
// for anyone else and no right to add to the folder.
func (v *shareServer) Deny(t testing.TB, name string) {
	t.Helper()
	p := v.path(t, name)
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{p, 0}, {filepath.Dir(p), 0o755}} {
		if err := os.Chown(c.path, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(c.path, c.mode); err != nil {
			t.Fatal(err)
		}
	}
}

// Change rewrites the file with a later modification time.
func (v *shareServer) Change(t testing.TB, name string, content []byte) {
	t.Helper()
	p := v.path(t, name)
	old, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	later := old.ModTime().Add(time.Second)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
}

func (v *shareServer) CutNext(t testing.TB, name string, n int64) bool {
	v.proxy.arm(n)
	return true
}

// A cutProxy forwards TCP connections to smbd and, once armed, breaks the
// connection that carries the next n bytes (either way), before those
// bytes arrive.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	left  int64 // bytes until the cut; 0 when not armed
	conns map[net.Conn]bool
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) arm(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.left = n
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		end := func() {
			c.Close()
			s.Close()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, s)
			p.mu.Unlock()
		}
		go p.copy(s, c, end)
		go p.copy(c, s, end)
	}
}

// copy forwards src to dst until either fails or the cut comes.
func (p *cutProxy) copy(dst, src net.Conn, end func()) {
	defer end()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.spend(int64(n)) {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// spend counts n bytes against an armed cut and reports whether they
// reach it.
func (p *cutProxy) spend(n int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left <= 0 {
		return false
	}
	p.left -= n
	if p.left <= 0 {
		p.left = 0
		return true
	}
	return false
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}
