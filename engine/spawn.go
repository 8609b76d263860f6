package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Files of the state folder that coordinate the worker and the front ends.
const (
	lockFile   = "worker.lock" // flock held by the running worker; holds its pid
	socketFile = "worker.sock" // any connection is a nudge: "jobs changed"
	logFile    = "worker.log"
)

// ErrWorkerRunning is returned by RunWorker when another worker holds the lock.
var ErrWorkerRunning = errors.New("a worker is already running for this state folder")

// lock takes the worker lock without waiting.
func lock(home string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(home, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrWorkerRunning
		}
		return nil, err
	}
	return f, nil
}

// lockPatiently takes the worker lock, retrying for a moment: a front end
// that checks whether a worker runs holds the lock for a few microseconds,
// and a worker starting just then must not mistake it for another worker.
func lockPatiently(home string) (*os.File, error) {
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		f, err := lock(home)
		if !errors.Is(err, ErrWorkerRunning) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WorkerRunning reports whether a worker holds the lock of this state folder.
func WorkerRunning(home string) bool {
	f, err := lock(home)
	if err != nil {
		return errors.Is(err, ErrWorkerRunning)
	}
	f.Close()
	return false
}

// WorkerPID returns the pid the running worker wrote into its lock file.
func WorkerPID(home string) (int, error) {
	b, err := os.ReadFile(filepath.Join(home, lockFile))
	if err != nil {
		return 0, err
	}
	var pid int
	_, err = fmt.Sscan(string(b), &pid)
	return pid, err
}

// lockFDEnv names the descriptor through which a front end hands the
// worker lock to the worker it starts.
const lockFDEnv = "BITS_WORKER_LOCK_FD"

// StartWorker makes sure a worker runs for home: if none holds the lock, it
// takes the lock itself and starts `bitsjob worker` detached (its own
// session, output to worker.log) holding that same lock, so there is no
// moment when another front end could find the lock free and start a
// second worker. Then it nudges the worker.
func StartWorker(home string) error {
	lk, err := lock(home)
	switch {
	case errors.Is(err, ErrWorkerRunning):
	case err != nil:
		return err
	default:
		err = spawnWorker(home, lk)
		lk.Close() // the worker holds the lock through its own descriptor now
		if err != nil {
			return err
		}
	}
	NudgeWorker(home)
	return nil
}

// InheritedLock returns the worker lock a front end handed to this process
// when it started it as the worker, or nil. It forgets the hand-over, so
// programs the worker runs do not inherit it.
func InheritedLock() *os.File {
	v := os.Getenv(lockFDEnv)
	os.Unsetenv(lockFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), lockFile)
}

func spawnWorker(home string, lk *os.File) error {
	exe, err := workerBinary()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(home, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(exe, "worker")
	cmd.Env = append(os.Environ(), "BITS_HOME="+home, lockFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{lk} // descriptor 3: the lock, already held
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", exe, err)
	}
	go cmd.Wait() // reap it if this process outlives it
	return nil
}

// workerBinary finds bitsjob: $BITS_WORKER_BIN, then beside this program,
// then on PATH.
func workerBinary() (string, error) {
	if p := os.Getenv("BITS_WORKER_BIN"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "bitsjob")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("bitsjob")
	if err != nil {
		return "", errors.New("cannot find the bitsjob program to run the worker: put it on PATH or set BITS_WORKER_BIN")
	}
	return p, nil
}

// NudgeWorker tells a running worker that jobs changed. It is best effort:
// the worker also rescans the store every second.
func NudgeWorker(home string) {
	c, err := net.DialTimeout("unix", filepath.Join(home, socketFile), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
}
