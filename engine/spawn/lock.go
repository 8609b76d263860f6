// Package spawn keeps one worker running for each state folder: the worker
// lock, starting the worker (through the supervisor that serves the folder,
// when one is installed), nudging it, supervising it, and installing it as a
// service of systemd, launchd or cron. It knows nothing of jobs.
package spawn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Files of the state folder that coordinate the worker and the front ends.
const (
	lockFile   = "worker.lock" // flock held by the running worker; holds its pid
	socketFile = "worker.sock" // any connection is a nudge: "jobs changed"
	// LogFile is where a worker that does not log to the journal writes.
	LogFile = "worker.log"
)

// ErrRunning is returned when another worker holds the lock.
var ErrRunning = errors.New("a worker is already running for this state folder")

// lock takes the worker lock of home without waiting.
func lock(home string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(home, lockFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrRunning
		}
		return nil, err
	}
	return f, nil
}

// Acquire returns the lock for a worker process about to run, with this
// process's pid written into it: the lock handed over by whoever started
// the process (see InheritedLock) if it still holds, else the lock taken now.
// A front end that checks whether a worker runs holds the lock for a few
// microseconds, so a moment's contention is waited out; a longer one is
// ErrRunning, unless wait is set: then Acquire waits until ctx ends for the
// other worker to exit (a worker that systemd started on a nudge must not
// exit at once, or the nudge would start it again and again).
func Acquire(ctx context.Context, home string, handed *os.File, wait bool) (*os.File, error) {
	f := handed
	if f == nil || syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		var err error
		if f, err = lockWaiting(ctx, home, wait); err != nil {
			return nil, err
		}
	}
	// Written over the old pid, then cut: a reader never sees an empty file.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(pid, 0); err == nil {
		f.Truncate(int64(len(pid)))
	}
	return f, nil
}

func lockWaiting(ctx context.Context, home string, forever bool) (*os.File, error) {
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		f, err := lock(home)
		if !errors.Is(err, ErrRunning) || (!forever && time.Now().After(deadline)) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ErrRunning
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Running reports whether a worker holds the lock of home.
func Running(home string) bool {
	f, err := lock(home)
	if err != nil {
		return errors.Is(err, ErrRunning)
	}
	f.Close()
	return false
}

// PID returns the pid that the running worker wrote into its lock file.
func PID(home string) (int, error) {
	b, err := os.ReadFile(filepath.Join(home, lockFile))
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		return 0, fmt.Errorf("no worker pid in %s", lockFile)
	}
	return pid, nil
}

// lockFDEnv names the descriptor through which a process that holds the
// worker lock hands it to the worker process it starts.
const lockFDEnv = "BITS_WORKER_LOCK_FD"

// InheritedLock returns the worker lock that the process which started this
// one handed over, or nil. It forgets the hand-over, so programs started
// later do not inherit it.
func InheritedLock() *os.File {
	v := os.Getenv(lockFDEnv)
	os.Unsetenv(lockFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), lockFile)
}
