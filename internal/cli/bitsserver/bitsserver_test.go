package bitsserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"bits/internal/testenv"
	"bits/internal/version"
)

const upload15 = "{7df0354d-249b-430f-820d-3d2a9bef4931}"

// syncBuffer is a strings.Builder safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a bitsserver run in-process.
type running struct {
	url    string
	stderr *syncBuffer
	stop   func() int // stops it and returns the exit code
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, outW := io.Pipe()
	stderr := &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, args, strings.NewReader(""), outW, stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("reading the address: %v (exit %d, stderr: %s)", err, <-exit, stderr.String())
	}
	go io.Copy(io.Discard, out)
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok || strings.HasSuffix(url, ":0") {
		t.Fatalf("first line %q: want listening on <url>", line)
	}
	r := &running{url: url, stderr: stderr}
	var once sync.Once
	code := -1
	r.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-exit:
			case <-time.After(shutdownGrace + 10*time.Second):
				t.Fatal("server did not stop")
			}
		})
		return code
	}
	t.Cleanup(func() { r.stop() })
	return r
}

func TestServeAndStop(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, "-listen", "127.0.0.1:0", "-root", root)
	if !strings.HasPrefix(r.url, "http://127.0.0.1:") {
		t.Fatalf("address %s", r.url)
	}
	url := r.url + "/hello.txt"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
		t.Fatalf("GET %s: %s %q", url, resp.Status, body)
	}
	if code := r.stop(); code != 0 {
		t.Fatalf("exit code %d after shutdown, want 0 (stderr: %s)", code, r.stderr.String())
	}
	if _, err := http.Get(url); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	config := func(text string) string {
		name := filepath.Join(t.TempDir(), "bitsserver.conf")
		os.WriteFile(name, []byte(text), 0o644)
		return name
	}
	badUsers := filepath.Join(dir, "users")
	os.WriteFile(badUsers, []byte("alice:plaintext\n"), 0o600)
	for _, c := range []struct {
		args []string
		code int
		say  string // in stderr
	}{
		{[]string{}, 2, "nothing to serve"},
		{[]string{"-root", dir, "extra"}, 2, "unexpected argument"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-h"}, 0, ""},
		{[]string{"-root", filepath.Join(dir, "missing"), "-listen", "127.0.0.1:0"}, 1, "missing"},
		{[]string{"-root", dir, "-rate", "-5", "-listen", "127.0.0.1:0"}, 1, "rate"},
		{[]string{"-root", dir, "-listen", "127.0.0.1:99999"}, 1, "99999"},
		{[]string{"-upload", "uploads=" + dir}, 2, "/prefix=folder"},
		{[]string{"-upload", "/up"}, 2, "/prefix=folder"},
		{[]string{"-root", dir, "-store", "s3://bucket/prefix"}, 2, "-store needs an -upload"},
		{[]string{"-upload", "/up=files", "-store", "http://bucket/prefix"}, 2, "s3://BUCKET/PREFIX"},
		{[]string{"-upload", "/up=files", "-store", "s3://bucket/", "-notify", "by-reference", "-notify-url", "http://app/"}, 2, "not available with -store"},
		{[]string{"-root", dir, "-s3-endpoint", "http://127.0.0.1:1"}, 2, "go with -store"},
		{[]string{"-upload", "/up/../x=" + dir, "-listen", "127.0.0.1:0"}, 1, "clean URL path"},
		{[]string{"-upload", "/up=" + dir, "-upload", "/up=" + dir, "-listen", "127.0.0.1:0"}, 1, "twice"},
		{[]string{"-root", dir, "-tls-cert", "c.pem"}, 2, "go together"},
		{[]string{"-upload", "/up=" + dir, "-notify", "by-value"}, 2, "-notify-url"},
		{[]string{"-upload", "/up=" + dir, "-notify", "sometimes"}, 2, "by-reference"},
		{[]string{"-upload", "/up=" + dir, "-notify", "by-value", "-notify-url", "/relative", "-listen", "127.0.0.1:0"}, 1, "absolute"},
		{[]string{"-upload", "/up=" + dir, "-max-upload-size", "lots"}, 2, "number of bytes"},
		{[]string{"-upload", "/up=" + dir, "-max-upload-size", "-1"}, 2, "number of bytes"},
		{[]string{"-upload", "/up=" + dir, "-session-timeout", "forever"}, 2, "duration"},
		{[]string{"-upload", "/up=" + dir, "-session-timeout", "0"}, 2, "at least 1s"},
		{[]string{"-upload", "/up=" + dir, "-max-sessions", "-1"}, 2, "-max-sessions must be 0 (no limit) or more"},
		{[]string{"-upload", "/up=" + dir, "-max-sessions", "many"}, 2, "-max-sessions"},
		{[]string{"-upload", "/up=" + dir, "-max-sessions-per-client", "-5"}, 2, "-max-sessions-per-client must be 0 (no limit) or more"},
		{[]string{"-upload", "/up=" + dir, "-session-rate", "-1"}, 2, "-session-rate must be 0 (no limit)"},
		{[]string{"-upload", "/up=" + dir, "-session-rate", "NaN"}, 2, "-session-rate must be 0 (no limit)"},
		{[]string{"-upload", "/up=" + dir, "-session-rate", "+Inf"}, 2, "-session-rate must be 0 (no limit)"},
		{[]string{"-upload", "/up=" + dir, "-session-rate", "fast"}, 2, "-session-rate"},
		{[]string{"-upload", "/up=" + dir, "-session-burst", "0"}, 2, "-session-burst must be at least 1"},
		{[]string{"-upload", "/up=" + dir, "-session-rate", "0.0001", "-listen", "127.0.0.1:0"}, 1, "session rate 0.0001"},
		{[]string{"-upload", "/up=" + dir, "-session-burst", "2000000", "-listen", "127.0.0.1:0"}, 1, "session burst 2000000"},
		{[]string{"-upload", "/up=" + dir, "-users", badUsers, "-listen", "127.0.0.1:0"}, 1, "not a bcrypt hash"},
		{[]string{"-root", dir, "-tls-cert", filepath.Join(dir, "none.pem"), "-tls-key", filepath.Join(dir, "none.key"), "-listen", "127.0.0.1:0"}, 1, "TLS certificate"},
		{[]string{"-config", filepath.Join(dir, "none.conf")}, 2, "none.conf"},
		{[]string{"-config", config("root " + dir + "\n")}, 2, "line 1: want key = value"},
		{[]string{"-config", config("# c\nroot = " + dir + "\nlisten-on = x\n")}, 2, `line 3: unknown setting "listen-on"`},
		{[]string{"-config", config("root = " + dir + "\nroot = " + dir + "\n")}, 2, "line 2: root is set twice"},
		{[]string{"-config", config("config = other\n")}, 2, "unknown setting"},
		{[]string{"-config", config("root = " + dir + "\nrate = fast\n")}, 2, "line 2: rate"},
		{[]string{"-config", config("upload = /up=" + dir + "\nsession-burst = lots\n")}, 2, "line 2: session-burst"},
		{[]string{"-hash-password", "a b"}, 2, "no spaces"},
		{[]string{"-hash-password", "alice"}, 1, "empty password"},
	} {
		var stdout strings.Builder
		stderr := &syncBuffer{}
		got := run(context.Background(), c.args, strings.NewReader(""), &stdout, stderr)
		if got != c.code {
			t.Errorf("bitsserver %q: exit %d, want %d (stderr: %s)", c.args, got, c.code, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.say) {
			t.Errorf("bitsserver %q: stderr %q does not say %q", c.args, stderr.String(), c.say)
		}
		if strings.Contains(stderr.String(), "goroutine ") || strings.Contains(stderr.String(), "panic") {
			t.Errorf("bitsserver %q: a stack trace: %s", c.args, stderr.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"-h"}, strings.NewReader(""), &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("-h: exit %d, stderr %q", code, stderr.String())
	}
	for _, name := range []string{"-config", "-listen", "-root", "-rate", "-tls-cert", "-tls-key", "-users", "-upload", "-max-upload-size",
		"-max-fragment-size", "-max-reply-size", "-allow-overwrites", "-notify", "-notify-url", "-notify-timeout", "-session-timeout",
		"-cleanup-interval", "-max-sessions", "-max-sessions-per-client", "-session-rate", "-session-burst",
		"-host-id", "-host-id-fallback-timeout", "-hash-password", "-version"} {
		if !strings.Contains(stdout.String(), "  "+name+" ") && !strings.Contains(stdout.String(), "  "+name+"\n") {
			t.Errorf("-h does not describe %s", name)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, flag := range []string{"-version", "--version"} {
		var stdout, stderr strings.Builder
		code := run(context.Background(), []string{flag}, strings.NewReader(""), &stdout, &stderr)
		if code != 0 || stdout.String() != "bitsserver "+version.Version+"\n" || stderr.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", flag, code, stdout.String(), stderr.String())
		}
	}
}

func TestHashPassword(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"-hash-password", "alice"}, strings.NewReader("s3cret\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	user, hash, ok := strings.Cut(strings.TrimSpace(stdout.String()), ":")
	if !ok || user != "alice" || bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")) != nil {
		t.Fatalf("output %q: want alice:<bcrypt hash of the password>", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "s3cret") {
		t.Error("the password was printed")
	}
}

// post sends a BITS packet and returns the response.
func post(t *testing.T, c *http.Client, url string, body []byte, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("BITS_POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func expectStatus(t *testing.T, what string, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: %s (BITS-Error-Code %q), want %d", what, resp.Status, resp.Header.Get("BITS-Error-Code"), status)
	}
}

// TestConfigFile: the file configures uploads and limits; a flag given on
// the command line wins over the file.
func TestConfigFile(t *testing.T) {
	up := t.TempDir()
	name := filepath.Join(t.TempDir(), "bitsserver.conf")
	os.WriteFile(name, []byte(fmt.Sprintf(`# bitsserver settings
listen = 127.0.0.1:1
root = %[1]s
upload = /up=%[1]s
upload = /other=%[2]s
max-upload-size = 1K
allow-overwrites = true
session-timeout = 14d
notify-url = http://127.0.0.1:9/app?x=1#not-a-comment
`, up, t.TempDir())), 0o644)
	r := start(t, "-config", name, "-listen", "127.0.0.1:0")
	c := http.DefaultClient
	resp := post(t, c, r.url+"/up/f.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	expectStatus(t, "Create-Session", resp, http.StatusOK)
	id := resp.Header.Get("BITS-Session-Id")
	resp = post(t, c, r.url+"/up/f.bin", []byte("x"), "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-0/1025")
	expectStatus(t, "a fragment of an upload over 1K", resp, http.StatusInternalServerError)
	if got := resp.Header.Get("BITS-Error-Code"); got != "0x80200020" {
		t.Errorf("BITS-Error-Code %q, want BG_E_TOO_LARGE", got)
	}
	resp = post(t, c, r.url+"/other/g.bin", nil, "BITS-Packet-Type", "Ping")
	expectStatus(t, "Ping to the second upload folder", resp, http.StatusOK)
}

// TestSessionLimitDefaults: without flags the limits are those of a real
// deployment: IIS's 50 sessions per client, 10000 in all, 10 new sessions
// a second with bursts of 50.
func TestSessionLimitDefaults(t *testing.T) {
	var o options
	if err := newFlagSet(&o).Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg := o.serverConfig()
	if cfg.MaxSessions != 10000 || cfg.MaxSessionsPerClient != 50 || cfg.SessionRate != 10 || cfg.SessionBurst != 50 {
		t.Errorf("defaults: %d sessions in all, %d per client, %v a second, bursts of %d",
			cfg.MaxSessions, cfg.MaxSessionsPerClient, cfg.SessionRate, cfg.SessionBurst)
	}
}

// TestSessionLimitSettings: the limits from the config file reach the
// server, a flag on the command line wins, and a Create-Session past a
// limit gets 503 with Retry-After.
func TestSessionLimitSettings(t *testing.T) {
	up := t.TempDir()
	name := filepath.Join(t.TempDir(), "bitsserver.conf")
	os.WriteFile(name, []byte(fmt.Sprintf(`upload = /up=%s
max-sessions = 5
max-sessions-per-client = 1
session-rate = 0.001
session-burst = 2
`, up)), 0o644)
	create := func(url string) *http.Response {
		return post(t, http.DefaultClient, url+"/up/f.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	}
	expectBusy := func(what string, resp *http.Response) int {
		t.Helper()
		expectStatus(t, what, resp, http.StatusServiceUnavailable)
		if got := resp.Header.Get("BITS-Error-Code"); got != "0x801901f7" {
			t.Errorf("%s: BITS-Error-Code %q, want BG_E_HTTP_ERROR_503", what, got)
		}
		wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil {
			t.Fatalf("%s: Retry-After %q", what, resp.Header.Get("Retry-After"))
		}
		return wait
	}

	r := start(t, "-config", name, "-listen", "127.0.0.1:0")
	expectStatus(t, "the first Create-Session", create(r.url), http.StatusOK)
	if wait := expectBusy("a second session with max-sessions-per-client = 1", create(r.url)); wait != 60 {
		t.Errorf("Retry-After %d at the limit of open sessions, want 60", wait)
	}
	r.stop()

	// The per-client limit lifted on the command line, the rate of the
	// file holds: its burst of 2 spent, the next session is 1000 s away.
	r = start(t, "-config", name, "-listen", "127.0.0.1:0", "-max-sessions-per-client", "0")
	expectStatus(t, "a second session", create(r.url), http.StatusOK)
	expectStatus(t, "a third session", create(r.url), http.StatusOK)
	if wait := expectBusy("a fourth session at 0.001 a second", create(r.url)); wait < 990 || wait > 1000 {
		t.Errorf("Retry-After %d past the rate, want about 1000", wait)
	}
}

// TestTLSAndUsers serves HTTPS with Basic authentication.
func TestTLSAndUsers(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("alice:"+string(hash)+"\n"), 0o600)
	r := start(t, "-listen", "127.0.0.1:0", "-upload", "/up="+t.TempDir(), "-tls-cert", certFile, "-tls-key", keyFile, "-users", users)
	if !strings.HasPrefix(r.url, "https://") {
		t.Fatalf("address %s: want https", r.url)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp := post(t, c, r.url+"/up/a.bin", nil, "BITS-Packet-Type", "Ping")
	expectStatus(t, "Ping without credentials", resp, http.StatusUnauthorized)
	req, _ := http.NewRequest("BITS_POST", r.url+"/up/a.bin", nil)
	req.Header.Set("BITS-Packet-Type", "Ping")
	req.SetBasicAuth("alice", "pw")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	expectStatus(t, "Ping as alice", resp, http.StatusOK)
	if strings.Contains(r.stderr.String(), "pw") {
		t.Errorf("the log mentions the password: %s", r.stderr.String())
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile = testenv.SelfSigned(t, dir)
	pemCert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	return certFile, keyFile, pool
}

// TestBinaryRestartMidUpload runs the real binary, stops it with SIGTERM
// in the middle of an upload, starts it again, finishes the upload and
// downloads the file back from the same server.
func TestBinaryRestartMidUpload(t *testing.T) {
	bin := t.TempDir()
	if err := testenv.BuildPrograms(bin, "bitsserver"); err != nil {
		t.Fatal(err)
	}
	folder := t.TempDir()
	conf := filepath.Join(t.TempDir(), "bitsserver.conf")
	os.WriteFile(conf, []byte("listen = 127.0.0.1:0\nroot = "+folder+"\nupload = /up="+folder+"\n"), 0o644)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	total := fmt.Sprint(len(data))
	c := http.DefaultClient

	url, stop := startBinary(t, filepath.Join(bin, "bitsserver"), "-config", conf)
	resp := post(t, c, url+"/up/big.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	expectStatus(t, "Create-Session", resp, http.StatusOK)
	id := resp.Header.Get("BITS-Session-Id")
	resp = post(t, c, url+"/up/big.bin", data[:30000], "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-29999/"+total)
	expectStatus(t, "first fragment", resp, http.StatusOK)
	stop()

	url, stop = startBinary(t, filepath.Join(bin, "bitsserver"), "-config", conf)
	defer stop()
	resp = post(t, c, url+"/up/big.bin", nil, "BITS-Packet-Type", "Ping")
	expectStatus(t, "Ping after the restart", resp, http.StatusOK)
	resp = post(t, c, url+"/up/big.bin", data[40000:], "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 40000-"+fmt.Sprint(len(data)-1)+"/"+total)
	expectStatus(t, "a fragment past the received bytes", resp, http.StatusRequestedRangeNotSatisfiable)
	if got := resp.Header.Get("BITS-Received-Content-Range"); got != "30000" {
		t.Fatalf("BITS-Received-Content-Range %q after the restart, want 30000", got)
	}
	resp = post(t, c, url+"/up/big.bin", data[30000:], "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 30000-"+fmt.Sprint(len(data)-1)+"/"+total)
	expectStatus(t, "the rest", resp, http.StatusOK)
	resp = post(t, c, url+"/up/big.bin", nil, "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id)
	expectStatus(t, "Close-Session", resp, http.StatusOK)

	get, err := c.Get(url + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if get.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET of the upload: %s, %d bytes", get.Status, len(body))
	}
}

// startBinary runs bitsserver and returns its URL and a function that
// stops it with SIGTERM and checks it exits 0.
func startBinary(t *testing.T, bin string, args ...string) (string, func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("bitsserver printed no address in 30 s: %s", stderr.String())
	}
	url, ok := strings.CutPrefix(line, "listening on ")
	if !ok {
		cmd.Process.Kill()
		t.Fatalf("bitsserver's first line is %q: %s", line, stderr.String())
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("bitsserver exited with %v: %s", err, stderr.String())
				}
			case <-time.After(shutdownGrace + 10*time.Second):
				cmd.Process.Kill()
				t.Errorf("bitsserver did not stop on SIGTERM")
			}
		})
	}
	t.Cleanup(stop)
	return url, stop
}
