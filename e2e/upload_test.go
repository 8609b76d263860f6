package e2e

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"bits/engine"
	"bits/internal/testenv"
)

// bitsserver is a running bitsserver binary that a test can kill and
// start again on the same address and folders.
type bitsserver struct {
	t    *testing.T
	args []string
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
// resumes from what the server holds and arrives whole.
func TestUploadSurvivesWorkerAndServerCrashes(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	srv := startBitsserver(t, "-upload", "/up="+dir)
	src, want := uploadSource(t, 1<<30)
	u.ok("/create", "/upload", "big")
	u.ok("/addfile", "big", srv.url+"/up/big.bin", src)
	u.ok("/setminretrydelay", "big", "5")
	u.ok("/resume", "big")

	var done int64
	for i := range 2 {
		testenv.Eventually(t, "upload progress", func() bool { return u.bytesDone("big") > done })
		pid, err := engine.WorkerPID(u.home)
		if err != nil {
			t.Fatal(err)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		u.waitWorkerGone()
		if done = u.bytesDone("big"); done >= 1<<30 {
			t.Fatalf("kill %d: the upload finished before the worker was killed", i)
		}
		if _, err := os.Stat(filepath.Join(dir, "big.bin")); err == nil {
			t.Fatalf("kill %d: the file is under its final name on the server", i)
		}
		u.ok("/resume", "big") // any command brings a worker back
	}
	testenv.Eventually(t, "upload progress", func() bool { return u.bytesDone("big") > done })
	srv.kill()
	if at := u.bytesDone("big"); at >= 1<<30 || u.raw("/getstate", "big") == "TRANSFERRED" {
		t.Fatal("the upload finished before the server was killed")
	}
	srv.start()
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
