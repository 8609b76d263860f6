package spawn

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// TestSuperviseRestartsUntilACleanExit supervises a stand-in worker (a
// shell script) that kills itself twice and then exits cleanly. The
// supervisor starts it again after each death, holds the worker lock all
// along, hands the lock to each run, and returns after the clean exit.
func TestSuperviseRestartsUntilACleanExit(t *testing.T) {
	home := t.TempDir()
	runs := filepath.Join(t.TempDir(), "runs")
	script := `echo run >> "$RUNS"
[ "$BITS_WORKER_LOCK_FD" = 3 ] && [ -e /proc/self/fd/3 ] || exit 3
[ "$(wc -l < "$RUNS")" -ge 3 ] && exit 0
kill -9 $$`
	var log testenv.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Supervise(context.Background(), Supervision{
			Home: home,
			Worker: func() *exec.Cmd {
				cmd := exec.Command("/bin/sh", "-c", script)
				cmd.Env = append(os.Environ(), "RUNS="+runs)
				return cmd
			},
			Log: &log,
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Supervise: %v\n%s", err, log.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the supervisor did not end after a clean exit\n%s", log.String())
	}
	b, _ := os.ReadFile(runs)
	if n := strings.Count(string(b), "run"); n != 3 {
		t.Errorf("the worker ran %d times, want 3 (two deaths, then a clean exit)\n%s", n, log.String())
	}
	if n := strings.Count(log.String(), "worker died; starting it again"); n != 2 {
		t.Errorf("%d restarts logged, want 2:\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "in=2s") {
		t.Errorf("the second restart did not wait longer than the first:\n%s", log.String())
	}
	if Running(home) {
		t.Error("the lock is still held after the supervisor returned")
	}
}

// TestSuperviseStopsTheWorker cancels a supervisor: the worker gets SIGTERM
// and the supervisor returns when it has exited. While the supervisor runs,
// the lock is held, so no second worker can start.
func TestSuperviseStopsTheWorker(t *testing.T) {
	home := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var log testenv.SyncBuffer
	go func() {
		done <- Supervise(ctx, Supervision{
			Home: home,
			Worker: func() *exec.Cmd {
				return exec.Command("/bin/sh", "-c", `trap 'echo stopped >> "$0"; exit 0' TERM; echo $$ > "$0"; while :; do sleep 0.05; done`, ready)
			},
			Log: &log,
		})
	}()
	testenv.Eventually(t, "the worker to start", func() bool { _, err := os.Stat(ready); return err == nil })
	if _, err := lock(home); !errors.Is(err, ErrRunning) {
		t.Errorf("Lock while supervised: %v, want ErrRunning", err)
	}
	if err := Supervise(ctx, Supervision{Home: home, Worker: func() *exec.Cmd { return exec.Command("true") }, Log: &log}); !errors.Is(err, ErrRunning) {
		t.Errorf("a second supervisor: %v, want ErrRunning", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the supervisor did not stop")
	}
	if b, _ := os.ReadFile(ready); !strings.Contains(string(b), "stopped") {
		t.Errorf("the worker was not asked to stop with SIGTERM: %q", b)
	}
}

// TestAcquireWaitsForTheOtherWorker: a worker that systemd started on a
// nudge waits for the running one to end instead of exiting.
func TestAcquireWaitsForTheOtherWorker(t *testing.T) {
	home := t.TempDir()
	first, err := Acquire(context.Background(), home, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(context.Background(), home, nil, false); !errors.Is(err, ErrRunning) {
		t.Fatalf("a second Acquire without waiting: %v, want ErrRunning", err)
	}
	got := make(chan *os.File, 1)
	go func() {
		f, err := Acquire(context.Background(), home, nil, true)
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	select {
	case <-got:
		t.Fatal("the waiting Acquire took a lock that is held")
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	select {
	case f := <-got:
		defer f.Close()
		if pid, err := PID(home); err != nil || pid != os.Getpid() {
			t.Errorf("PID after Acquire: %d, %v", pid, err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting Acquire never got the lock")
	}
}

// TestListenLeavesALiveSocketAlone: a socket file nobody answers on is
// replaced; one that a process listens on (systemd's) is left alone.
func TestListenLeavesALiveSocketAlone(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, socketFile)
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // as a worker killed with SIGKILL leaves it
	ln, err := Listen(home)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	if _, err := Listen(home); !errors.Is(err, errSocketTaken) {
		t.Errorf("Listen over a live socket: %v, want errSocketTaken", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	ln.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket outlived its listener: %v", err)
	}
}

func TestPIDOfNoWorker(t *testing.T) {
	home := t.TempDir()
	if _, err := PID(home); err == nil {
		t.Error("PID without a lock file")
	}
	os.WriteFile(filepath.Join(home, lockFile), []byte(strconv.Itoa(42)+"\n"), 0o600)
	if pid, err := PID(home); err != nil || pid != 42 {
		t.Errorf("PID = %d, %v", pid, err)
	}
}

// TestLogIsRotated writes 45 MB of log lines: the log never grows past
// 10 MB, and at most three older files are kept beside it.
func TestLogIsRotated(t *testing.T) {
	dir := t.TempDir()
	log := RotatingLog(filepath.Join(dir, LogFile))
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 45 << 10 {
		if _, err := log.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	log.Close()
	fi, err := os.Stat(filepath.Join(dir, LogFile))
	if err != nil || fi.Size() > 10<<20 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("worker.log: %v, %v", fi, err)
	}
	testenv.Eventually(t, "old logs pruned to three", func() bool {
		old, _ := filepath.Glob(filepath.Join(dir, "worker-*.log"))
		return len(old) == 3
	})
}
