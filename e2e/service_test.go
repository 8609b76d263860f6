package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/testenv"
)

// peek opens a state folder the way a program would, to read its jobs
// without any front end: no command, so nothing that would start a worker.
func peek(t *testing.T, home string) *engine.Manager {
	t.Helper()
	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// jobState reads a job's state and bytes through peek.
func jobState(t *testing.T, home, name string) (engine.State, int64) {
	t.Helper()
	m := peek(t, home)
	defer m.Close()
	j, err := m.Find(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return j.State, j.Files[0].BytesTransferred
}

// TestSupervisorRestartsKilledWorker kills the worker (not its supervising
// parent) with SIGKILL in the middle of a download. Nobody types a command:
// the supervisor starts a new worker, which resumes from the checkpoint and
// finishes the job. A normal transfer leaves no ERROR line in the log.
func TestSupervisorRestartsKilledWorker(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(24<<20, 31)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(6<<20))
	dest := filepath.Join(t.TempDir(), "big.bin")
	u.ok("/create", "big")
	u.ok("/addfile", "big", o.URL("/file"), dest)
	u.ok("/resume", "big")

	for i := range 2 {
		testenv.Eventually(t, "progress", func() bool { _, n := jobState(t, u.home, "big"); return n > int64(i+1)<<20 })
		pid, err := spawn.PID(u.home)
		if err != nil {
			t.Fatal(err)
		}
		seen := len(o.Requests())
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The supervisor reaps it at once and starts the next one a second
		// or more later: the checkpoint read in between is the one to
		// resume from.
		testenv.Eventually(t, "the worker to die", func() bool { return syscall.Kill(pid, 0) != nil })
		_, checkpoint := jobState(t, u.home, "big")
		resumedFrom(t, o, seen, checkpoint)
		if n, err := spawn.PID(u.home); err != nil || n == pid || !spawn.Running(u.home) {
			t.Fatalf("after the kill the worker is %d (%v), want a new one", n, err)
		}
	}
	testenv.Eventually(t, "TRANSFERRED", func() bool { s, _ := jobState(t, u.home, "big"); return s == engine.Transferred })
	u.ok("/complete", "big")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the result differs from the origin's")
	}
	log, err := os.ReadFile(filepath.Join(u.home, spawn.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), `msg="worker died; starting it again"`); n != 2 {
		t.Errorf("the supervisor logged %d restarts, want 2:\n%s", n, log)
	}
	if strings.Contains(string(log), "level=ERROR") {
		t.Errorf("the log of a transfer that ended normally has ERROR lines:\n%s", log)
	}
}

// TestWorkerThatCannotStartFailsAtOnce runs the front ends where the
// bitsjob program is nowhere to be found: a transfer fails at once, says
// why, and leaves no job.
func TestWorkerThatCannotStartFailsAtOnce(t *testing.T) {
	u := newUser(t)
	lonely := t.TempDir()
	for _, name := range []string{"bitsadmin", "bitsjob"} {
		b, err := os.ReadFile(filepath.Join(binDir, name))
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(lonely, name)
		if name == "bitsjob" {
			to = filepath.Join(lonely, "bj") // not where front ends look
		}
		if err := os.WriteFile(to, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	u.env = append(u.env, "PATH=/usr/bin:/bin")
	o := testenv.NewOrigin(t, testenv.RandomContent(1<<20, 32))
	dest := filepath.Join(t.TempDir(), "f.bin")

	cmd := u.command(filepath.Join(lonely, "bitsadmin"), "/transfer", "nowhere", o.URL("/file"), dest)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "Unable to resume job - 0x80080005") ||
		!strings.Contains(string(out), "cannot find the bitsjob program") {
		t.Fatalf("bitsadmin /transfer without bitsjob: %v\n%s", err, out)
	}
	cmd = u.command(filepath.Join(lonely, "bj"), "--json", "transfer", o.URL("/file"), dest)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var e struct {
		Error struct{ HResult, Detail string }
	}
	if !errors.As(err, &exit) || json.Unmarshal(stderr.Bytes(), &e) != nil || e.Error.HResult != "0x80080005" ||
		!strings.Contains(e.Error.Detail, "cannot find the bitsjob program") {
		t.Fatalf("bitsjob transfer without a worker program: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
	}
	if out := u.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("a failed transfer left a job:\n%s", out)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a file appeared under its final name")
	}

	// /resume fails too, once, and says why once; the job stays queued for
	// the next worker, and other commands warn about it.
	u.ok("/create", "later")
	u.ok("/addfile", "later", o.URL("/file"), dest)
	out, err = u.command(filepath.Join(lonely, "bitsadmin"), "/resume", "later").CombinedOutput()
	if !errors.As(err, &exit) || strings.Count(string(out), "cannot find the bitsjob program") != 1 {
		t.Errorf("bitsadmin /resume without bitsjob: %v\n%s", err, out)
	}
	out, err = u.command(filepath.Join(lonely, "bitsadmin"), "/list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "'later' QUEUED") ||
		!strings.Contains(string(out), "Warning: jobs are waiting, but the transfer worker cannot start") {
		t.Errorf("bitsadmin /list with a job waiting for a worker that cannot start: %v\n%s", err, out)
	}
}

// TestIdleTimeoutZeroNeverExits runs `bitsjob worker --idle-timeout 0` and
// one with a short idle timeout side by side, with nothing to do: when the
// second has exited, the first still runs. Negative timeouts are refused.
func TestIdleTimeoutZeroNeverExits(t *testing.T) {
	forever, brief := newUser(t), newUser(t)
	never := forever.command("bitsjob", "worker", "--idle-timeout", "0")
	if err := never.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { never.Process.Kill(); never.Wait() })
	testenv.Eventually(t, "the worker to start", func() bool { return spawn.Running(forever.home) })

	short := brief.command("bitsjob", "worker", "--idle-timeout", "300ms")
	if out, err := short.CombinedOutput(); err != nil {
		t.Fatalf("worker --idle-timeout 300ms: %v\n%s", err, out)
	}
	if !spawn.Running(forever.home) {
		t.Fatal("the worker with --idle-timeout 0 exited for idleness")
	}
	if err := never.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := never.Wait(); err != nil {
		t.Errorf("the worker did not stop cleanly on SIGTERM: %v", err)
	}

	for _, args := range [][]string{{"worker", "--idle-timeout", "-1s"}} {
		out, err := brief.command("bitsjob", args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "0 means never exit") {
			t.Errorf("bitsjob %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	bad := brief.command("bitsjob", "worker")
	bad.Env = append(bad.Env, "BITS_WORKER_IDLE=soon")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "BITS_WORKER_IDLE") {
		t.Errorf("BITS_WORKER_IDLE=soon: %v\n%s", err, out)
	}
}

// TestSocketActivatedWorker runs the worker the way systemd's socket
// activation does (systemd-socket-activate holds worker.sock and starts
// the worker on the first connection, passing the socket): a front end's
// nudge starts it, and it transfers the job.
func TestSocketActivatedWorker(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		testenv.Missing(t, "systemd-socket-activate is missing (Debian: systemd)")
	}
	u := newUser(t)
	if err := os.MkdirAll(u.home, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(u.home, "worker.sock")
	// Like systemd, systemd-socket-activate passes no environment but what
	// it is told to (the unit's Environment=).
	sd := u.command(activate, "-l", sock, "-E", "BITS_HOME="+u.home, "-E", "BITS_CHECKPOINT_INTERVAL=100ms",
		filepath.Join(binDir, "bitsjob"), "worker")
	var log bytes.Buffer
	sd.Stdout, sd.Stderr = &log, &log
	if err := sd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sd.Process.Signal(syscall.SIGTERM); sd.Wait() })
	testenv.Eventually(t, "the socket", func() bool { _, err := os.Stat(sock); return err == nil })
	if spawn.Running(u.home) {
		t.Fatal("a worker runs before anything connected")
	}

	content := testenv.RandomContent(2<<20, 33)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "f.bin")
	u.ok("/create", "act")
	u.ok("/addfile", "act", o.URL("/file"), dest)
	u.ok("/resume", "act")
	u.waitState("act", "TRANSFERRED")
	pid, err := spawn.PID(u.home)
	if err != nil || pid != sd.Process.Pid {
		t.Errorf("the worker is pid %d (%v), want the one systemd-socket-activate started, %d\n%s", pid, err, sd.Process.Pid, &log)
	}
	u.ok("/complete", "act")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 differs")
	}
}

// TestCronServiceResumesAfterReboot installs the cron service as a real
// second user, kills every process of that user's worker in the middle of a
// download, then runs exactly the @reboot command of its crontab, as cron
// does at boot. With no front-end command, the job finishes. Installing is
// idempotent, status tells what runs, and uninstall removes the line.
func TestCronServiceResumesAfterReboot(t *testing.T) {
	if _, err := exec.LookPath("crontab"); err != nil {
		testenv.Missing(t, "crontab is missing (Debian: cron)")
	}
	other := newOtherUser(t)
	folder := filepath.Join(other.home, ".local", "state", "bits")
	run := func(name string, args ...string) (string, int) {
		t.Helper()
		return other.run(t, name, args...)
	}
	must := func(name string, args ...string) string {
		t.Helper()
		out, code := run(name, args...)
		if code != 0 {
			t.Fatalf("%s %s as %s: exit %d\n%s", name, strings.Join(args, " "), other.name, code, out)
		}
		return out
	}
	t.Cleanup(func() { run("crontab", "-r") })

	out := must("bitsjob", "service", "install")
	if !strings.Contains(out, "Supervisor: cron") || !strings.Contains(out, "State folder: "+folder) {
		t.Errorf("service install on a machine without systemd:\n%s", out)
	}
	again := must("bitsjob", "service", "install")
	if !strings.Contains(again, "Installed already: nothing changed.") {
		t.Errorf("a second install:\n%s", again)
	}
	tab := must("crontab", "-l")
	var line string
	for _, l := range strings.Split(strings.TrimSpace(tab), "\n") {
		if strings.HasPrefix(l, "@reboot") {
			if line != "" {
				t.Fatalf("more than one @reboot line after two installs:\n%s", tab)
			}
			line = l
		}
	}
	command, ok := spawn.CronCommand(line)
	if !ok {
		t.Fatalf("no @reboot line in the crontab:\n%s", tab)
	}

	content := testenv.RandomContent(24<<20, 34)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(6<<20))
	dir := filepath.Join(other.home, "dl")
	must("mkdir", "-p", dir)
	dest := filepath.Join(dir, "big.bin")
	must("bitsadmin", "/create", "nightly")
	must("bitsadmin", "/addfile", "nightly", o.URL("/file"), dest)
	must("bitsadmin", "/resume", "nightly")
	testenv.Eventually(t, "progress", func() bool { _, n := jobState(t, folder, "nightly"); return n > 2<<20 })

	var st struct {
		Supervisor    string
		Active        bool
		WorkerRunning bool
		WorkerPID     int
		JobsWaiting   int
	}
	if err := json.Unmarshal([]byte(must("bitsjob", "--json", "service", "status")), &st); err != nil {
		t.Fatal(err)
	}
	pid, _ := spawn.PID(folder)
	if st.Supervisor != "cron" || !st.Active || !st.WorkerRunning || st.WorkerPID != pid || st.JobsWaiting != 1 {
		t.Errorf("service status %+v, want cron, active, worker pid %d, 1 job waiting", st, pid)
	}
	text := must("bitsjob", "service", "status")
	for _, want := range []string{"Supervisor:   cron", "Worker:       running, pid " + strconv.Itoa(pid), "Jobs waiting: 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("service status lacks %q:\n%s", want, text)
		}
	}

	// The machine goes down: every process of the user's worker dies.
	killUser(t, other.uid)
	testenv.Eventually(t, "no worker", func() bool { return !spawn.Running(folder) })
	_, before := jobState(t, folder, "nightly")
	// It boots: cron runs the @reboot command, and nothing else happens.
	boot := exec.Command("/bin/sh", "-c", command)
	other.as(boot)
	var bootOut bytes.Buffer
	boot.Stdout, boot.Stderr = &bootOut, &bootOut
	if err := boot.Start(); err != nil {
		t.Fatal(err)
	}
	booted := make(chan error, 1)
	go func() { booted <- boot.Wait() }()
	testenv.Eventually(t, "a worker", func() bool { return spawn.Running(folder) })
	testenv.Eventually(t, "TRANSFERRED", func() bool { s, _ := jobState(t, folder, "nightly"); return s == engine.Transferred })
	reqs := o.Requests()
	if r := reqs[len(reqs)-1]; r.Range != fmt.Sprintf("bytes=%d-", before) {
		t.Errorf("after the reboot the download asked for %q, want the rest from the checkpoint at %d", r.Range, before)
	}
	must("bitsadmin", "/complete", "nightly")
	// With nothing left to do the worker exits, and so does the command.
	if err := <-booted; err != nil {
		t.Errorf("the @reboot command %q: %v\n%s", command, err, &bootOut)
	}
	got, err := os.ReadFile(dest)
	if err != nil || sum(got) != sum(content) {
		t.Fatalf("the file after the reboot differs from the origin's (%v)", err)
	}

	out = must("bitsjob", "service", "uninstall")
	if !strings.Contains(out, "Removed from your crontab") {
		t.Errorf("uninstall:\n%s", out)
	}
	if tab, code := run("crontab", "-l"); code == 0 && strings.Contains(tab, "bits") {
		t.Errorf("the crontab after uninstall:\n%s", tab)
	}
	if _, err := os.Stat(filepath.Join(folder, "service.json")); err == nil {
		t.Error("uninstall left its record in the state folder")
	}
	if out := must("bitsjob", "service", "uninstall"); !strings.Contains(out, "Nothing to remove") {
		t.Errorf("a second uninstall:\n%s", out)
	}
}

// killUser kills every process of uid with SIGKILL, as a power cut would.
func killUser(t *testing.T, uid uint32) {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == uid {
			if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	testenv.Eventually(t, "the user's processes to die", func() bool {
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			b, _ := os.ReadFile(filepath.Join(d, "status"))
			if strings.Contains(string(b), fmt.Sprintf("\nUid:\t%d\t", uid)) && !strings.Contains(string(b), "State:\tZ") {
				return false
			}
		}
		return true
	})
}

// TestSystemCronStartsEveryUsersWorker installs the machine-wide cron
// service as root and runs its @reboot command: the worker of a user with
// a job waiting starts, as that user, and finishes the job.
func TestSystemCronStartsEveryUsersWorker(t *testing.T) {
	other := newOtherUser(t)
	root := newUser(t)
	folder := filepath.Join(other.home, ".local", "state", "bits")
	if _, err := os.Stat("/etc/cron.d"); err != nil {
		if err := os.Mkdir("/etc/cron.d", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/etc/cron.d") })
	}
	out, stderr, code := root.bitsjob("service", "install", "--system", "--supervisor", "cron")
	if code != 0 || !strings.Contains(out, "/etc/cron.d/bits-worker") {
		t.Fatalf("service install --system: exit %d\n%s%s", code, out, stderr)
	}
	t.Cleanup(func() { root.bitsjob("service", "uninstall", "--system") })
	tab, err := os.ReadFile("/etc/cron.d/bits-worker")
	if err != nil {
		t.Fatal(err)
	}
	var command string
	for _, l := range strings.Split(string(tab), "\n") {
		if rest, ok := strings.CutPrefix(l, "@reboot root "); ok {
			command = strings.ReplaceAll(rest, `\%`, "%")
		}
	}
	if command == "" {
		t.Fatalf("no @reboot line for root in /etc/cron.d/bits-worker:\n%s", tab)
	}

	if out, _ := other.run(t, "bitsjob", "service", "status"); !strings.Contains(out, "Supervisor:   cron") ||
		!strings.Contains(out, "The machine-wide service (bitsjob service install --system) serves this state folder.") {
		t.Errorf("a user's service status under the machine-wide service:\n%s", out)
	}

	content := testenv.RandomContent(4<<20, 35)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(8<<20))
	dest := filepath.Join(other.home, "f.bin")
	for _, args := range [][]string{{"/create", "mine"}, {"/addfile", "mine", o.URL("/file"), dest}, {"/resume", "mine"}} {
		if out, code := other.bitsadmin(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	killUser(t, other.uid)
	boot := exec.Command("/bin/sh", "-c", command)
	boot.Env = []string{"PATH=/usr/bin:/bin"}
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("the @reboot command %q: %v\n%s", command, err, out)
	}
	var pid int
	testenv.Eventually(t, "the user's worker", func() bool {
		var err error
		pid, err = spawn.PID(folder)
		return err == nil && spawn.Running(folder)
	})
	if fi, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil || fi.Sys().(*syscall.Stat_t).Uid != other.uid {
		t.Errorf("the worker (pid %d) does not run as the user %d: %v", pid, other.uid, err)
	}
	testenv.Eventually(t, "TRANSFERRED", func() bool { s, _ := jobState(t, folder, "mine"); return s == engine.Transferred })
	if out, code := other.bitsadmin(t, "/complete", "mine"); code != 0 {
		t.Fatalf("/complete: %d\n%s", code, out)
	}
	if got, err := os.ReadFile(dest); err != nil || sum(got) != sum(content) {
		t.Fatalf("the file differs from the origin's (%v)", err)
	}
	out, _, _ = root.bitsjob("service", "uninstall", "--system")
	if _, err := os.Stat("/etc/cron.d/bits-worker"); err == nil || !strings.Contains(out, "Removed /etc/cron.d/bits-worker") {
		t.Errorf("uninstall --system left /etc/cron.d/bits-worker:\n%s", out)
	}
}
