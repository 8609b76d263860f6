package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"bits/internal/testenv"
)

// bitsserver is a running bitsserver binary that a test can kill and
// start again on the same address and folders.
type bitsserver struct {
	t    *testing.T
	args []string
	env  []string // added to the test's environment
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
}

func startBitsserver(t *testing.T, args ...string) *bitsserver {
	s := &bitsserver{t: t, args: append([]string{"-listen", "127.0.0.1:0"}, args...)}
	s.start()
	// Later starts keep the address the first one got.
	s.args[1] = strings.TrimPrefix(s.url, "http://")
	t.Cleanup(s.kill)
	return s
}

func (s *bitsserver) start() {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "bitsserver"), s.args...)
	if s.env != nil {
		cmd.Env = append(os.Environ(), s.env...)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		s.t.Fatalf("bitsserver printed %q (%v)", line, err)
	}
	go io.Copy(io.Discard, out)
	s.cmd, s.url = cmd, url
}

// kill stops the server with SIGKILL, as a crash would.
func (s *bitsserver) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
}

// uploadSource writes n bytes of test content to a file and returns its
// path and SHA-256.
func uploadSource(t *testing.T, n int) (string, [32]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("src-%d.bin", n))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	block := testenv.RandomContent(min(n, 4<<20), uint64(n))
	for left := n; left > 0; left -= len(block) {
		chunk := block[:min(left, len(block))]
		f.Write(chunk)
		h.Write(chunk)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, [32]byte(h.Sum(nil))
}

// TestUploadSizes uploads files from 0 bytes to 1 GiB to a real bitsserver
// through bitsadmin and checks each arrives whole, and only at the end.
func TestUploadSizes(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/up="+dir)
	for _, n := range []int{0, 1, 5<<20 + 3, 1 << 30} {
		src, want := uploadSource(t, n)
		job := fmt.Sprintf("up%d", n)
		u.ok("/create", "/upload", job)
		u.ok("/addfile", job, srv.url+"/up/"+job+".bin", src)
		u.ok("/resume", job)
		u.waitState(job, "TRANSFERRED")
		if got := fileSum(t, filepath.Join(dir, job+".bin")); got != want {
			t.Fatalf("%d bytes: the server's file differs from the source", n)
		}
		u.ok("/complete", job)
		os.Remove(src)
	}
}

// TestUploadSurvivesWorkerAndServerCrashes kills the worker (SIGKILL)
// twice and the server once in the middle of a 1 GiB upload; the upload
// resumes from what the server holds and arrives whole. A proxy holds the
// upload at a quarter, a half and three quarters of the file while each
// kill happens, so no kill can race the end of the upload.
func TestUploadSurvivesWorkerAndServerCrashes(t *testing.T) {
	const size = 1 << 30
	u := newUser(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/up="+dir)
	proxy := testenv.NewTCPProxy(t, strings.TrimPrefix(srv.url, "http://"))
	src, want := uploadSource(t, size)
	u.ok("/create", "/upload", "big")
	u.ok("/addfile", "big", "http://"+proxy.Addr()+"/up/big.bin", src)
	u.ok("/setminretrydelay", "big", "5")
	proxy.Hold(size / 4)
	u.ok("/resume", "big")

	// holdThere waits until the upload is held at the proxy and the worker
	// has recorded progress past done.
	holdThere := func(done int64) {
		t.Helper()
		testenv.Eventually(t, "the upload to reach the hold", proxy.Holding)
		testenv.Eventually(t, "upload progress", func() bool { return u.bytesDone("big") > done })
	}
	var done int64
	for i := range 2 {
		holdThere(done)
		u.killAll()
		if done = u.bytesDone("big"); done >= size {
			t.Fatalf("kill %d: the upload finished before the worker was killed", i)
		}
		if _, err := os.Stat(filepath.Join(dir, "big.bin")); err == nil {
			t.Fatalf("kill %d: the file is under its final name on the server", i)
		}
		proxy.Hold(int64(i+2) * size / 4)
		u.ok("/resume", "big") // any command brings a worker back
	}
	holdThere(done)
	srv.kill()
	if at := u.bytesDone("big"); at >= size || u.raw("/getstate", "big") == "TRANSFERRED" {
		t.Fatal("the upload finished before the server was killed")
	}
	srv.start()
	proxy.Hold(-1)
	u.waitState("big", "TRANSFERRED")
	// The sessions outlived both kinds of crash: no upload started over.
	if log, _ := os.ReadFile(filepath.Join(u.home, "worker.log")); strings.Contains(string(log), "session lost") {
		t.Errorf("an upload session was lost; the worker log:\n%s", log)
	}
	if got := fileSum(t, filepath.Join(dir, "big.bin")); got != want {
		t.Fatal("the server's file differs from the source")
	}
	u.ok("/complete", "big")
}

// TestUploadReply uploads to a bitsserver that hands the file to an
// application by value; the application's answer comes back as the reply.
func TestUploadReply(t *testing.T) {
	u := newUser(t)
	app := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "got %d bytes, sha256 %x\n", n, h.Sum(nil))
	}))
	t.Cleanup(app.Close)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/forms="+dir, "-notify", "by-value", "-notify-url", app.URL+"/receive")
	src, want := uploadSource(t, 3<<20+5)
	reply := filepath.Join(t.TempDir(), "reply.txt")

	u.ok("/create", "/upload-reply", "form")
	u.ok("/addfile", "form", srv.url+"/forms/f.bin", src)
	u.ok("/setreplyfilename", "form", reply)
	u.ok("/resume", "form")
	u.waitState("form", "TRANSFERRED")
	wantReply := fmt.Sprintf("got %d bytes, sha256 %x\n", 3<<20+5, want)
	if got := u.raw("/getreplyprogress", "form"); got != fmt.Sprintf("%d / %d", len(wantReply), len(wantReply)) {
		t.Errorf("/getreplyprogress = %q", got)
	}
	if data := u.ok("/getreplydata", "form"); !strings.Contains(data, fmt.Sprintf("%d byte(s)", len(wantReply))) {
		t.Errorf("/getreplydata:\n%s", data)
	}
	if _, err := os.Stat(reply); err == nil {
		t.Fatal("the reply is under its final name before /complete")
	}
	u.ok("/complete", "form")
	if got, err := os.ReadFile(reply); err != nil || string(got) != wantReply {
		t.Fatalf("reply %q (%v), want %q", got, err, wantReply)
	}
}

// replyApp is a server application for notification by value: it answers
// each upload with its length and SHA-256, and asks bitsserver to store
// the file too, so the test can check the server's copy.
func replyApp(t *testing.T) *httptest.Server {
	app := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("BITS-Copy-File-To-Destination", "1")
		fmt.Fprintf(w, "got %d bytes, sha256 %x\n", n, h.Sum(nil))
	}))
	t.Cleanup(app.Close)
	return app
}

// TestUploadReplySizes runs upload-reply jobs of 0 bytes (no fragment at
// all) and of 1 GiB through bitsadmin: the reply is the application's
// answer to the whole file, and the server's copy is the source.
func TestUploadReplySizes(t *testing.T) {
	u := newUser(t)
	app := replyApp(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/forms="+dir, "-notify", "by-value", "-notify-url", app.URL+"/receive")
	for _, n := range []int{0, 1 << 30} {
		src, want := uploadSource(t, n)
		job := fmt.Sprintf("reply%d", n)
		reply := filepath.Join(t.TempDir(), job+".txt")
		u.ok("/create", "/upload-reply", job)
		u.ok("/addfile", job, srv.url+"/forms/"+job+".bin", src)
		u.ok("/setreplyfilename", job, reply)
		u.ok("/resume", job)
		u.waitState(job, "TRANSFERRED")
		if got := fileSum(t, filepath.Join(dir, job+".bin")); got != want {
			t.Fatalf("%d bytes: the server's file differs from the source", n)
		}
		u.ok("/complete", job)
		wantReply := fmt.Sprintf("got %d bytes, sha256 %x\n", n, want)
		if got, err := os.ReadFile(reply); err != nil || string(got) != wantReply {
			t.Fatalf("%d bytes: reply %q (%v), want %q", n, got, err, wantReply)
		}
		os.Remove(src)
	}
	if live := liveSessions(t, dir); len(live) != 0 {
		t.Errorf("sessions still open on the server: %v", live)
	}
}

// liveSessions lists the sessions of an upload folder that are neither
// closed nor cancelled.
func liveSessions(t *testing.T, dir string) []string {
	t.Helper()
	var live []string
	for _, s := range serverSessions(t, dir) {
		if st := sessionState(t, dir, s); st != "closed" && st != "cancelled" {
			live = append(live, s+" "+st)
		}
	}
	return live
}

// serverSessions lists the session folders of a bitsserver upload folder.
func serverSessions(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".bits-sessions"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// sessionState reads a session's state from its record on the server.
func sessionState(t *testing.T, dir, session string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".bits-sessions", session, "session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ State string }
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.State
}

// TestUploadReplySurvivesWorkerKill kills the worker (SIGKILL) of an
// upload-reply job after the server has the whole file: while the server
// waits for its application to answer the last fragment, and while the
// worker fetches the reply. The next worker gets the reply all the same.
func TestUploadReplySurvivesWorkerKill(t *testing.T) {
	const size = 3<<20 + 5
	for _, tc := range []struct {
		name   string
		static bool // the application names a reply URL that the test holds
	}{{"WhileNotifying", false}, {"WhileFetchingTheReply", true}} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUser(t)
			src, want := uploadSource(t, size)
			wantReply := fmt.Sprintf("got %d bytes, sha256 %x\n", size, want)
			// hold is where the test stops the job: the application (the
			// server waits on it before it answers the last fragment) or
			// the reply's server (the worker waits on it).
			arrived, release := make(chan struct{}, 8), make(chan struct{})
			var calls atomic.Int32
			hold := func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
				calls.Add(1)
				arrived <- struct{}{}
				select {
				case <-release:
					return true
				case <-r.Context().Done():
					return false
				}
			}
			replies := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
				if hold(w, r) {
					io.WriteString(w, wantReply)
				}
			}))
			t.Cleanup(replies.Close)
			app := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
				h := sha256.New()
				n, _ := io.Copy(h, r.Body)
				if tc.static {
					w.Header().Set("BITS-Static-Response-URL", replies.URL+"/reply")
				} else if !hold(w, r) {
					return
				}
				fmt.Fprintf(w, "got %d bytes, sha256 %x\n", n, h.Sum(nil))
			}))
			t.Cleanup(app.Close)
			dir := t.TempDir()
			srv := startBitsserver(t, "-upload", "/forms="+dir, "-notify", "by-value", "-notify-url", app.URL+"/receive")
			reply := filepath.Join(t.TempDir(), "reply.txt")
			u.ok("/create", "/upload-reply", "form")
			u.ok("/addfile", "form", srv.url+"/forms/f.bin", src)
			u.ok("/setreplyfilename", "form", reply)
			u.ok("/resume", "form")

			select {
			case <-arrived:
			case <-time.After(time.Minute):
				t.Fatal("timed out waiting for the upload to reach the test's hold")
			}
			u.killAll()
			if st := u.raw("/getstate", "form"); st == "TRANSFERRED" {
				t.Fatal("the job was TRANSFERRED before the worker was killed")
			}
			close(release)
			u.ok("/resume", "form") // brings a worker back
			u.waitState("form", "TRANSFERRED")
			u.ok("/complete", "form")
			if got, err := os.ReadFile(reply); err != nil || string(got) != wantReply {
				t.Fatalf("reply %q (%v), want %q", got, err, wantReply)
			}
			if n := calls.Load(); n < 2 {
				t.Errorf("the held step ran %d times; the new worker should have gone through it again", n)
			}
			if live := liveSessions(t, dir); len(live) != 0 {
				t.Errorf("sessions still open on the server: %v", live)
			}
		})
	}
}

// TestUploadResumesAfterCutConnections cuts the upload's connection three
// times, in the middle of fragments, with a proxy in front of bitsserver.
// Each time the worker retries from its last checkpoint, learns from the
// server's answer where it stands and sends the rest, in the same session.
func TestUploadResumesAfterCutConnections(t *testing.T) {
	t.Parallel() // its own user, server and proxy; most of its time is the retry delay
	const size = 48 << 20
	u := newUser(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/up="+dir)
	proxy := testenv.NewTCPProxy(t, strings.TrimPrefix(srv.url, "http://"))
	proxy.CutAt(size/4, size/2, 3*size/4)
	src, want := uploadSource(t, size)
	u.ok("/create", "/upload", "cut")
	u.ok("/addfile", "cut", "http://"+proxy.Addr()+"/up/cut.bin", src)
	u.ok("/setminretrydelay", "cut", "5")
	u.ok("/resume", "cut")
	u.waitState("cut", "TRANSFERRED")
	if n := proxy.Cuts(); n != 3 {
		t.Fatalf("%d connections cut, want 3", n)
	}
	if got := fileSum(t, filepath.Join(dir, "cut.bin")); got != want {
		t.Fatal("the server's file differs from the source")
	}
	// Starting again from 0 would have sent at least another 1.5 times the
	// file; resuming sends each byte about once, plus, for each cut, what
	// the server took of the cut fragment, which goes again with the first
	// fragment from the last checkpoint (at most a 1 MiB chunk), and the
	// packets' headers.
	if sent := proxy.Forwarded(); sent > size+4<<20 {
		t.Errorf("%d bytes went to the server for a %d-byte file: the upload did not resume where it was cut", sent, size)
	}
	if s := serverSessions(t, dir); len(s) != 1 {
		t.Errorf("%d sessions on the server, want the one", len(s))
	}
	u.ok("/complete", "cut")
}

// holdUpload starts an upload job through a proxy that holds it at hold
// bytes, and suspends it there.
func holdUpload(t *testing.T, u *user, proxy *testenv.TCPProxy, job, url, src string, hold int64) {
	t.Helper()
	proxy.Hold(hold)
	u.ok("/create", "/upload", job)
	u.ok("/addfile", job, url, src)
	u.ok("/resume", job)
	testenv.Eventually(t, "the upload to reach the hold", proxy.Holding)
	u.ok("/suspend", job)
	u.waitState(job, "SUSPENDED")
}

// TestUploadCancelEndsTheServerSession cancels an upload job in the middle:
// bitsadmin /cancel sends Cancel-Session, and bitsserver deletes what it
// held.
func TestUploadCancelEndsTheServerSession(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/up="+dir)
	proxy := testenv.NewTCPProxy(t, strings.TrimPrefix(srv.url, "http://"))
	src, _ := uploadSource(t, 32<<20)
	holdUpload(t, u, proxy, "gone", "http://"+proxy.Addr()+"/up/gone.bin", src, 8<<20)
	sessions := serverSessions(t, dir)
	if len(sessions) != 1 || sessionState(t, dir, sessions[0]) != "receiving" {
		t.Fatalf("server sessions %v; want one, receiving", sessions)
	}
	data := filepath.Join(dir, ".bits-sessions", sessions[0], "request")
	if fi, err := os.Stat(data); err != nil || fi.Size() == 0 {
		t.Fatalf("the session holds no data (%v)", err)
	}
	proxy.Hold(-1)
	if out := u.ok("/cancel", "gone"); !strings.Contains(out, "Job canceled.") || strings.Contains(out, "0x0020001a") {
		t.Fatalf("/cancel printed:\n%s", out)
	}
	if st := sessionState(t, dir, sessions[0]); st != "cancelled" {
		t.Errorf("the server's session is %s after /cancel, want cancelled", st)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the session's data is still on the server (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.bin")); !os.IsNotExist(err) {
		t.Errorf("the cancelled upload is under its name on the server (%v)", err)
	}
}

// TestUploadSessionLostStartsAgain restarts bitsserver without the upload's
// session (its folder deleted, as an expiry would): the worker is told the
// session is unknown, begins a new one and uploads the file whole.
func TestUploadSessionLostStartsAgain(t *testing.T) {
	const size = 32 << 20
	u := newUser(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/up="+dir)
	proxy := testenv.NewTCPProxy(t, strings.TrimPrefix(srv.url, "http://"))
	src, want := uploadSource(t, size)
	holdUpload(t, u, proxy, "lost", "http://"+proxy.Addr()+"/up/lost.bin", src, 8<<20)
	first := serverSessions(t, dir)
	if len(first) != 1 {
		t.Fatalf("server sessions %v; want one", first)
	}
	srv.kill()
	if err := os.RemoveAll(filepath.Join(dir, ".bits-sessions", first[0])); err != nil {
		t.Fatal(err)
	}
	srv.start()
	proxy.Hold(-1)
	u.ok("/resume", "lost")
	u.waitState("lost", "TRANSFERRED")
	if got := fileSum(t, filepath.Join(dir, "lost.bin")); got != want {
		t.Fatal("the server's file differs from the source")
	}
	if log, _ := os.ReadFile(filepath.Join(u.home, "worker.log")); !strings.Contains(string(log), "session lost") {
		t.Errorf("the worker log does not tell of the lost session:\n%s", log)
	}
	if s := serverSessions(t, dir); len(s) != 1 || s[0] == first[0] || sessionState(t, dir, s[0]) != "closed" {
		t.Errorf("server sessions %v after the upload; want one new, closed", s)
	}
	u.ok("/complete", "lost")
}

// TestUploadToAWebFarmNode runs two bitsservers over one upload folder, as
// a web farm over shared storage: the one the job names answers
// Create-Session with BITS-Host-Id (-host-id), and every fragment goes to
// the node it names. The file arrives whole.
func TestUploadToAWebFarmNode(t *testing.T) {
	const size = 6 << 20
	u := newUser(t)
	dir := t.TempDir()
	node := startBitsserver(t, "-upload", "/up="+dir)
	toNode := testenv.NewTCPProxy(t, strings.TrimPrefix(node.url, "http://"))
	farm := startBitsserver(t, "-upload", "/up="+dir, "-host-id", toNode.Addr())
	src, want := uploadSource(t, size)
	u.ok("/create", "/upload", "farm")
	u.ok("/addfile", "farm", farm.url+"/up/farm.bin", src)
	u.ok("/resume", "farm")
	u.waitState("farm", "TRANSFERRED")
	if got := fileSum(t, filepath.Join(dir, "farm.bin")); got != want {
		t.Fatal("the file differs from the source")
	}
	if sent := toNode.Forwarded(); sent < size {
		t.Errorf("%d bytes went to the node the farm named, want the whole %d-byte file", sent, size)
	}
	u.ok("/complete", "farm")
}
