// Package e2e drives the real binaries, built once for the run, against real
// HTTP origins: the same way a user or a script does.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"bits/engine/spawn"
	"bits/internal/testenv"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bits-e2e-bin")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // other users run them too (allusers_test.go)
	if err := testenv.BuildPrograms(dir, "bitsadmin", "bitsjob", "bitsserver", "bits-pac"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// user is one user's shell: a state folder and an environment, and the
// network namespace its commands (and so its worker) run in, if any.
type user struct {
	t    *testing.T
	home string
	env  []string
	ns   string
}

// command returns a command for one of the user's programs.
func (u *user) command(name string, args ...string) *exec.Cmd {
	if !filepath.IsAbs(name) {
		if p := filepath.Join(binDir, name); fileExists(p) {
			name = p
		}
	}
	var cmd *exec.Cmd
	if u.ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", u.ns, name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Env = u.env
	return cmd
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func newUser(t *testing.T) *user {
	home := filepath.Join(t.TempDir(), "state")
	u := &user{t: t, home: home, env: append(os.Environ(),
		"BITS_HOME="+home,
		"BITS_CHECKPOINT_INTERVAL=100ms",
		"BITS_WORKER_IDLE=20s",
		"PATH="+binDir+":"+os.Getenv("PATH"),
	)}
	t.Cleanup(u.stopWorker)
	return u
}

// stopWorker ends the user's worker, if one runs, so no process outlives
// the test.
func (u *user) stopWorker() {
	if !spawn.Running(u.home) {
		return
	}
	if pid, err := spawn.PID(u.home); err == nil {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	u.waitWorkerGone()
}

// killAll kills the worker and the parent that supervises it with SIGKILL,
// as a crash of the whole session would: nothing restarts it until a
// command does. Both are in the process group the front end started.
func (u *user) killAll() {
	u.t.Helper()
	pid, err := spawn.PID(u.home)
	if err != nil {
		u.t.Fatal(err)
	}
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid != syscall.Getpgrp() {
		pid = -pgid
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		u.t.Fatal(err)
	}
	u.waitWorkerGone()
}

func (u *user) waitWorkerGone() {
	u.t.Helper()
	testenv.Eventually(u.t, "the worker to exit", func() bool { return !spawn.Running(u.home) })
}

// bitsadmin runs the real bitsadmin and returns its output and exit code.
func (u *user) bitsadmin(args ...string) (string, int) {
	u.t.Helper()
	cmd := u.command("bitsadmin", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	if err != nil {
		u.t.Fatalf("bitsadmin %v: %v", args, err)
	}
	return out.String(), 0
}

// ok runs bitsadmin and fails the test unless it exits 0.
func (u *user) ok(args ...string) string {
	u.t.Helper()
	out, code := u.bitsadmin(args...)
	if code != 0 {
		u.t.Fatalf("bitsadmin %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (u *user) raw(verb, job string) string { return u.ok("/rawreturn", verb, job) }

func (u *user) bytesDone(job string) int64 {
	u.t.Helper()
	n, err := strconv.ParseInt(u.raw("/getbytestransferred", job), 10, 64)
	if err != nil {
		u.t.Fatal(err)
	}
	return n
}

func (u *user) waitState(job, state string) {
	u.t.Helper()
	testenv.Eventually(u.t, job+" to be "+state, func() bool { return u.raw("/getstate", job) == state })
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum(b)
}

func TestManualFlowCompletesWithRightContent(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(5<<20, 1)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "out.bin")

	out := u.ok("/create", "manual")
	if !strings.Contains(out, "Created job {") {
		t.Fatalf("/create printed %q", out)
	}
	u.ok("/addfile", "manual", o.URL("/file"), dest)
	u.ok("/resume", "manual")
	u.waitState("manual", "TRANSFERRED")
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("the file is under its final name before /complete")
	}
	info := u.ok("/info", "manual", "/verbose")
	if !strings.Contains(info, "STATE: TRANSFERRED") {
		t.Errorf("/info /verbose lacks the state:\n%s", info)
	}
	u.ok("/complete", "manual")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the result differs from the origin's")
	}
	if left := testenv.TempFiles(t, filepath.Dir(dest)); len(left) != 0 {
		t.Errorf("temporary files after /complete: %v", left)
	}
	if out := u.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("/list after /complete:\n%s", out)
	}

	// The state folder is private.
	for path, mode := range map[string]os.FileMode{u.home: 0o700, filepath.Join(u.home, "jobs.db"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, mode)
		}
	}
}

// TestKillWorkerResumesFromCheckpoint kills the worker and its supervisor
// with SIGKILL twenty times in the middle of one large file. Each time, the next bitsadmin
// command starts a new worker, and the origin sees it ask for the rest with
// a Range that starts exactly at the recorded checkpoint.
func TestKillWorkerResumesFromCheckpoint(t *testing.T) {
	t.Parallel() // its own user and origin; most of its time is the origin's rate limit
	u := newUser(t)
	content := testenv.RandomContent(64<<20, 2)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(4<<20))
	dest := filepath.Join(t.TempDir(), "big.iso")
	u.ok("/create", "big")
	u.ok("/addfile", "big", o.URL("/file"), dest)
	u.ok("/resume", "big")

	var checkpoint int64
	for i := range 20 {
		testenv.Eventually(t, "progress past the checkpoint", func() bool { return u.bytesDone("big") > checkpoint })
		u.killAll()

		prev := checkpoint
		checkpoint = u.bytesDone("big")
		if checkpoint <= prev || checkpoint >= int64(len(content)) {
			log, _ := os.ReadFile(filepath.Join(u.home, "worker.log"))
			t.Fatalf("kill %d: checkpoint %d after %d of %d\nrequests: %+v\nworker log:\n%s", i, checkpoint, prev, len(content), o.Requests(), log)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Fatalf("kill %d: the file is under its final name", i)
		}
		seen := len(o.Requests())
		state := u.raw("/getstate", "big") // any command brings the worker back
		if state != "TRANSFERRING" && state != "CONNECTING" && state != "QUEUED" {
			t.Fatalf("kill %d: state %s", i, state)
		}
		resumedFrom(t, o, seen, checkpoint)
	}

	u.waitState("big", "TRANSFERRED")
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("the file is under its final name before /complete")
	}
	u.ok("/complete", "big")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the resumed file differs from the origin's")
	}
	if left := testenv.TempFiles(t, filepath.Dir(dest)); len(left) != 0 {
		t.Errorf("temporary files after /complete: %v", left)
	}
}

// resumedFrom waits for the first GET after the first seen requests and
// fails the test unless it asks for the rest from checkpoint.
func resumedFrom(t *testing.T, o *testenv.Origin, seen int, checkpoint int64) {
	t.Helper()
	want := fmt.Sprintf("bytes=%d-", checkpoint)
	testenv.Eventually(t, "the resumed GET", func() bool {
		for _, r := range o.Requests()[seen:] {
			if r.Method == "GET" {
				if r.Range != want {
					t.Fatalf("resumed with Range %q, want %q", r.Range, want)
				}
				return true
			}
		}
		return false
	})
}

func TestTransferPipedPrintsPlainLines(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(3<<20, 3)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "t.bin")
	out := u.ok("/transfer", "oneshot", "/priority", "foreground", o.URL("/file"), dest)
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "\r") {
		t.Errorf("piped output has terminal escapes: %q", out)
	}
	if !strings.Contains(out, "STATE: TRANSFERRED") || !strings.HasSuffix(strings.TrimSpace(out), "Transfer complete.") {
		t.Errorf("output:\n%s", out)
	}
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 differs")
	}
}

func TestTransferOfMissingFileFailsAndCleansUp(t *testing.T) {
	u := newUser(t)
	o := testenv.NewOrigin(t, []byte("x"))
	dir := t.TempDir()
	out, code := u.bitsadmin("/transfer", "broken", o.URL("/missing"), filepath.Join(dir, "m"))
	if code == 0 || !strings.Contains(out, "0x80190194") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if out := u.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the failed job was left behind:\n%s", out)
	}
	if left := testenv.TempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestInterruptedTransferLeavesNothing(t *testing.T) {
	u := newUser(t)
	o := testenv.NewOrigin(t, testenv.RandomContent(32<<20, 4), testenv.RateLimit(1<<20))
	dir := t.TempDir()
	cmd := exec.CommandContext(context.Background(), filepath.Join(binDir, "bitsadmin"),
		"/transfer", "interrupted", o.URL("/file"), filepath.Join(dir, "i.bin"))
	cmd.Env = u.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the transfer to start", func() bool { return len(testenv.TempFiles(t, dir)) > 0 && u.bytesDone("interrupted") > 0 })
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Errorf("an interrupted /transfer exited 0:\n%s", out.String())
	}
	if left := testenv.TempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files after Ctrl+C: %v", left)
	}
	if out := u.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the interrupted job was left behind:\n%s", out)
	}
	// The worker stops its download of the cancelled job and creates nothing.
	testenv.Eventually(t, "the worker to drop the download", func() bool { return o.Active() == 0 })
	if left := testenv.TempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files after the worker stopped: %v", left)
	}
}

func TestCancelRemovesTemporaryFiles(t *testing.T) {
	u := newUser(t)
	o := testenv.NewOrigin(t, testenv.RandomContent(32<<20, 5), testenv.RateLimit(1<<20))
	dir := t.TempDir()
	u.ok("/create", "c")
	u.ok("/addfile", "c", o.URL("/file"), filepath.Join(dir, "c.bin"))
	u.ok("/resume", "c")
	testenv.Eventually(t, "a checkpoint", func() bool { return u.bytesDone("c") > 0 })
	if len(testenv.TempFiles(t, dir)) != 1 {
		t.Fatalf("want one temporary file while transferring, have %v", testenv.TempFiles(t, dir))
	}
	u.ok("/cancel", "c")
	if left := testenv.TempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files after /cancel: %v", left)
	}
	testenv.Eventually(t, "the worker to drop the download", func() bool { return o.Active() == 0 })
	if left := testenv.TempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files after the worker stopped: %v", left)
	}
	if out, code := u.bitsadmin("/getstate", "c"); code == 0 {
		t.Errorf("the cancelled job is still found:\n%s", out)
	}
}
