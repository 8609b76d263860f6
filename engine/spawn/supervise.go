package spawn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Restart delays of a supervised worker that dies: the first restart comes
// soon, later ones back off while the worker keeps dying young, and a
// worker that lived a while starts the count again.
const (
	firstRestart = time.Second
	lastRestart  = 30 * time.Second
	settled      = time.Minute
)

// Supervision configures Supervise.
type Supervision struct {
	Home string
	// Worker returns a new command for the worker process; Supervise hands
	// it the lock and its output.
	Worker func() *exec.Cmd
	// Lock is the worker lock handed to this process (InheritedLock), or nil.
	Lock *os.File
	// Log receives the supervisor's lines and the worker's output.
	Log io.Writer
}

// Supervise runs the worker as a child process while holding the worker
// lock, so no front end starts a second one, and starts it again when it
// dies of anything but a clean exit (a crash, a kill, the out-of-memory
// killer). A clean exit (idle, or asked to stop) ends Supervise; so does ctx,
// after the worker it passes SIGTERM to has stopped. Another worker already
// running is ErrRunning.
func Supervise(ctx context.Context, s Supervision) error {
	lk, err := Acquire(ctx, s.Home, s.Lock, false)
	if err != nil {
		return err
	}
	defer lk.Close()
	log := slog.New(slog.NewTextHandler(s.Log, nil))
	delay := firstRestart
	for {
		started := time.Now()
		status, err := runChild(ctx, s, lk)
		if err != nil {
			return err
		}
		if status.Success() || ctx.Err() != nil {
			return nil
		}
		if time.Since(started) >= settled {
			delay = firstRestart
		}
		log.Warn("worker died; starting it again", "status", status.String(), "in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, lastRestart)
	}
}

// runChild runs one worker process to its end, passing it SIGTERM when ctx
// ends.
func runChild(ctx context.Context, s Supervision, lk *os.File) (*os.ProcessState, error) {
	cmd := s.Worker()
	cmd.Env = append(cmd.Environ(), "BITS_HOME="+s.Home, lockFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{lk} // descriptor 3
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	cmd.WaitDelay = 5 * time.Second // a program the worker started may hold its output open
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, err
	}
	return cmd.ProcessState, nil
}

// RotatingLog returns a log file that is rotated at 10 MB, keeping the
// three previous files beside it, named with the time of their rotation
// (worker-2026-12-05T08-44-04.000.log).
func RotatingLog(path string) io.WriteCloser {
	return &lumberjack.Logger{Filename: path, MaxSize: 10, MaxBackups: 3}
}
