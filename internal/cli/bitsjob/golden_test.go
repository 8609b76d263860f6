package bitsjob

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"bits/engine"
	"bits/engine/spawn"
	"bits/hresult"
	"bits/internal/testenv"
)

// Each test records commands and compares what they print, on both streams,
// and their exit codes with testdata/<name>.golden. JSON lines are shown
// indented there. Run `go test ./internal/cli/bitsjob/ -run Golden -update`
// to rewrite the files after an intended change, and read the diff.

func TestGoldenCreate(t *testing.T) {
	h := newHarness(t)
	h.record("create", "--json")
	h.record("create", "--json", "--name", "up", "--type", "upload")
	h.record("create", "--json", "--name", "nightly", "--type", "UploadReply", "--priority", "low",
		"--description", "Nightly images", "--retry-interval", "5m", "--retry-timeout", "0",
		"--transfer-policy", "BelowCap, NearCap")
	h.record("create", "--json", "--name", "files", "http://127.0.0.1/a.iso", "$DIR/a.iso",
		"http://127.0.0.1/b.iso", "$DIR/b.iso")
	h.record("create", "--name", "table", "http://127.0.0.1/c.iso", "$DIR/c.iso")
	// Refused input leaves no job behind.
	h.record("create", "--json", "--name", "bad", "ftp://127.0.0.1/a", "$DIR/a")
	h.record("create", "--json", "--name", "bad", "--http-method", "GET /", "http://127.0.0.1/a", "$DIR/a")
	h.record("create", "--json", "--type", "sideways")
	h.record("create", "--json", "http://127.0.0.1/only-remote")
	h.record("create", "--json", "--priority", "urgent")
	h.record("list")
	h.check("create")
}

func TestGoldenAdd(t *testing.T) {
	h := newHarness(t)
	h.must("create", "--name", "job")
	h.source("up")
	h.must("create", "--name", "up", "--type", "upload", "http://127.0.0.1/up", "$DIR/up")
	h.record("add", "--json", "job", "http://127.0.0.1/a.iso", "$DIR/a.iso")
	h.record("add", "--json", id(1), "http://127.0.0.1/b.iso", "$DIR/b.iso", "http://127.0.0.1/c.iso", "$DIR/c.iso")
	h.record("add", "--json", "job", "--ranges", "0:100,200:eof", "http://127.0.0.1/d.bin", "$DIR/d.part")
	h.record("add", "--json", "job", "--ranges", "100:0,100:5", "http://127.0.0.1/e.bin", "$DIR/e.part")
	h.record("add", "--json", "job", "--ranges", "0:1", "http://127.0.0.1/f", "$DIR/f", "http://127.0.0.1/g", "$DIR/g")
	h.record("add", "--json", "job", "http://127.0.0.1/h", "$DIR/no/such/folder/h")
	h.record("add", "--json", "up", "http://127.0.0.1/up2", "$DIR/up2")
	h.record("add", "--json", "nosuch", "http://127.0.0.1/a", "$DIR/x")
	h.record("add", "--json", "job")
	h.record("add", "job", "http://127.0.0.1/i", "$DIR/i")
	h.check("add")
}

func TestGoldenLifecycle(t *testing.T) {
	h := newHarness(t)
	h.must("create", "--name", "empty")
	h.must("create", "--name", "one", "http://127.0.0.1/a", "$DIR/a")
	h.must("create", "--name", "two", "http://127.0.0.1/b", "$DIR/b")
	h.record("resume", "--json", "empty")
	h.record("resume", "--json", "one", "two")
	h.record("suspend", "--json", "one")
	h.record("suspend", "--json", "one") // a no-op
	h.record("suspend", "--json", "nosuch", "two", "empty")
	h.record("resume", "one")
	h.record("complete", "--json", "one") // its file never arrived
	h.record("cancel", "--json", "two", "two")
	h.record("cancel", "empty")
	h.record("list", "--json")
	h.check("lifecycle")
}

func TestGoldenGet(t *testing.T) {
	h := newHarness(t)
	h.must("create", "--name", "Nightly backup", "http://127.0.0.1/a", "$DIR/a")
	h.must("create", "--name", "nightly backup")
	h.must("create", "--name", "other")
	h.must("set", "other", "--proxy-usage", "override", "--proxy-list", "proxy1:8080, proxy2:81",
		"--proxy-bypass", "<local>", "--custom-header", "X-Token: 1", "--custom-header", "Accept: */*",
		"--notify-cmdline", "/usr/bin/logger", "--notify-cmdline", "job done", "--acl-flags", "og",
		"--cert-store-location", "LOCAL_MACHINE", "--cert-store-name", "my",
		"--cert-hash", "00112233445566778899AABBCCDDEEFF00112233")
	h.record("get", "--json", "{"+strings.ToUpper(id(1))+"}")
	h.record("get", "--json", id(3))
	h.record("get", "--json", "NIGHTLY BACKUP")
	h.record("get", "--json", "*back*", "oth?r")
	h.record("get", "--json", "nomatch*")
	h.record("get", "--json", "missing", "other", id(9))
	h.record("get", "--json", "--all-users", "other")
	h.record("get", id(1), "other")
	h.record("list")
	h.record("list", "--json", "--all-users")
	h.allUsers = func(context.Context, func(*engine.Manager) error) error {
		return &hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextGeneralQueueManager,
			Msg: "seeing every user's jobs needs root"}
	}
	h.record("list", "--json", "--all-users")
	h.record("list", "--all-users")
	h.record("list", "extra")
	h.check("get")
}

func TestGoldenSet(t *testing.T) {
	h := newHarness(t)
	h.must("create", "--name", "job", "http://127.0.0.1/a", "$DIR/a")
	h.record("set", "--json", "job", "--name", "renamed", "--description", "d", "--priority", "high",
		"--retry-interval", "1", "--retry-timeout", "3600", "--max-download-time", "2h",
		"--notify-flags", "0x2", "--security-flags", "0x108", "--peer-caching-flags", "1",
		"--helper-token", "alice", "--helper-token-flags", "3", "--transfer-policy", "Always",
		"--dynamic")
	// The password comes on standard input and is never shown.
	h.stdin = "s3cret-password\n"
	h.record("set", "--json", "renamed", "--credential", "server:basic", "--user", "alice", "--password-stdin")
	h.record("set", "--json", "renamed", "--credential", "proxy:negotiate")
	h.record("set", "--json", "renamed", "--credential", "proxy:basic")
	h.record("set", "--json", "renamed", "--remove-credential", "proxy:negotiate", "--custom-header", "X-A: 1",
		"--custom-headers-write-only")
	h.record("set", "--json", "renamed", "--take-ownership")
	h.record("set", "--json", "renamed", "--dynamic=false")
	h.record("set", "--json", "renamed", "--http-method", "PUT")
	h.record("set", "--json", "renamed", "--priority", "low") // a custom method keeps it Foreground
	h.record("set", "--json", "renamed", "--proxy-usage", "override")
	h.record("set", "--json", "renamed", "--credential", "server:basic", "--user", "bob")
	h.record("set", "--json", "renamed", "--credential", "nowhere:basic")
	h.record("set", "--json", "renamed", "--custom-header", "not a header")
	h.record("set", "--json", "renamed", "--transfer-policy", "Cheap")
	h.record("set", "--json", "renamed", "--retry-interval", "soon")
	h.record("set", "--json", "renamed", "--reply-file", "$DIR/reply")
	h.record("set", "--json", "renamed", "other")
	h.record("set", "renamed", "--notify-cmdline", "")
	h.check("set")
	if strings.Contains(h.script.String(), "s3cret") {
		t.Error("a password appears in the output")
	}
}

func TestGoldenTransfer(t *testing.T) {
	h := newHarness(t)
	t.Chdir(h.dir) // relative local names are taken from the current folder
	h.origin(testenv.RandomContent(100_000, 1))
	h.record("transfer", "--json", "--name", "fetch", "$ORIGIN/file", "$DIR/file")
	if b, err := os.ReadFile(h.dir + "/file"); err != nil || len(b) != 100_000 {
		t.Errorf("the transferred file: %d bytes, %v", len(b), err)
	}
	h.record("transfer", "--json", "--name", "missing", "$ORIGIN/missing", "$DIR/missing")
	h.record("transfer", "--name", "plain", "$ORIGIN/file", "$DIR/plain")
	h.record("transfer", "--json", "--priority", "sometimes", "$ORIGIN/file", "$DIR/x")
	h.record("transfer", "--name", "relative", "$ORIGIN/file", "relative.bin")
	if _, err := os.Stat(h.dir + "/relative.bin"); err != nil {
		t.Errorf("a relative local name is not taken from the current folder: %v", err)
	}
	h.record("transfer", "--json")
	// -O: each argument a remote name, saved under its own name.
	h.record("transfer", "-O", "--output-dir", "$DIR", "$ORIGIN/file")
	h.record("transfer", "-O", "$ORIGIN/")
	h.record("transfer", "--output-dir", "$DIR", "$ORIGIN/file", "$DIR/y")
	// --no-complete: the job stays Transferred, its file under no final name.
	h.record("transfer", "--no-complete", "--name", "kept", "$ORIGIN/file", "$DIR/kept")
	if _, err := os.Stat(h.dir + "/kept"); err == nil {
		t.Error("--no-complete completed the job")
	}
	h.record("complete", "kept")
	// Ctrl+C: the wait ends with the context's error and the job is
	// cancelled (no one to ask: not a terminal), or kept when asked to.
	h.wait = func(context.Context) error { return context.Canceled }
	h.record("transfer", "--json", "--name", "stopped", "$ORIGIN/file", "$DIR/stopped")
	h.record("transfer", "--on-interrupt", "keep", "--name", "left", "$ORIGIN/file", "$DIR/left")
	h.record("transfer", "--on-interrupt", "sometimes", "$ORIGIN/file", "$DIR/left")
	h.stdin = "y\n"
	h.record("transfer", "--on-interrupt", "ask", "--name", "asked-yes", "$ORIGIN/file", "$DIR/asked")
	h.stdin = "\n"
	h.record("transfer", "--on-interrupt", "ask", "--name", "asked-no", "$ORIGIN/file", "$DIR/asked")
	h.record("list", "--json")
	h.check("transfer")
	if tmps := testenv.TempFiles(t, h.dir); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

func TestGoldenWatch(t *testing.T) {
	h := newHarness(t)
	h.origin(testenv.RandomContent(50_000, 2))
	h.record("watch", "--json") // no jobs: nothing to wait for
	h.must("create", "--name", "good", "$ORIGIN/file", "$DIR/good")
	h.must("create", "--name", "bad", "$ORIGIN/missing", "$DIR/bad")
	h.must("resume", "good", "bad")
	h.record("watch", "--json")
	h.record("watch", "good", "bad")
	h.record("watch", "--json", "nosuch")
	h.must("complete", "good")
	h.must("cancel", "bad")

	// A suspended job is waited for until it goes.
	h.must("create", "--name", "parked", "$ORIGIN/file", "$DIR/parked")
	h.wait = func(context.Context) error {
		_, err := h.m.Cancel(context.Background(), h.job(3).ID)
		return err
	}
	h.record("watch", "--json", "parked")
	h.must("create", "--name", "parked again", "$ORIGIN/file", "$DIR/parked")
	h.wait = func(context.Context) error { return errors.New("interrupted") }
	h.record("watch", "--json", "parked again")
	h.check("watch")
}

func TestGoldenMisc(t *testing.T) {
	h := newHarness(t)
	h.must("create", "--name", "one")
	h.must("create", "--name", "two")
	h.record("version")
	h.record("version", "--json")
	h.record("version", "extra")
	h.record("--version")
	h.record("nosuch", "--json")
	h.record("nosuch")
	h.record("list", "--bogus", "--json")
	h.record("resume", "--json")
	h.record("get", "--json=false", "--bogus")
	// Shell completion offers the jobs.
	h.record("__complete", "resume", "")
	h.record("completion", "--json", "nosuch-shell")
	h.check("misc")
}

// The worker command keeps working as it did: a second worker for a state
// folder exits at once, successfully.
func TestWorkerAlreadyRunning(t *testing.T) {
	h := newHarness(t)
	t.Setenv("BITS_HOME", h.home)
	h.startWorker()
	testenv.Eventually(t, "the worker to hold its lock", func() bool { return spawn.Running(h.home) })
	h.record("worker", "--idle-timeout", "1s")
	h.check("worker")
}

func TestCompletionScript(t *testing.T) {
	h := newHarness(t)
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, errs, code := h.run("completion", shell)
		if code != 0 || errs != "" || !strings.Contains(out, "bitsjob") {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes", shell, code, errs, len(out))
		}
	}
}
