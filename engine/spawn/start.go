package spawn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Start makes sure a worker runs for home and knows that jobs changed. A
// running worker is nudged. Otherwise the worker is started through the
// supervisor that serves home, when one is installed: a connection to the
// socket that systemd holds starts it, or systemctl or launchctl does, or
// the machine-wide service's socket, so the worker never lives in a login
// session that logout ends. With no such supervisor, Start runs `bitsjob worker --supervise` detached (its own
// session), handing it the lock it took so that no other front end can
// start a second worker meanwhile.
//
// A state folder that belongs to another user (root acting on a user's
// jobs) gets only a nudge: a worker there must run as its owner.
func Start(home string) error {
	if !ownedByCaller(home) {
		Nudge(home)
		return nil
	}
	lk, err := lock(home)
	switch {
	case errors.Is(err, ErrRunning):
		Nudge(home)
		return nil
	case err != nil:
		return err
	}
	defer lk.Close() // a worker started here holds it through its own descriptor
	if c, err := dial(home); err == nil {
		c.Close() // a supervisor listens in the worker's stead: the connection starts it
		return nil
	}
	if r, err := readRecord(home); err == nil && r.Kind.throughSupervisor() {
		lk.Close()
		return r.start()
	}
	if systemActivation(home) {
		if c, err := net.DialTimeout("unix", activateSocketPath, time.Second); err == nil {
			c.Close() // the machine-wide service starts this user's worker
			return nil
		}
	}
	return startSupervised(home, lk)
}

func ownedByCaller(home string) bool {
	fi, err := os.Lstat(home)
	if err != nil {
		return true // Open creates it as ours
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || int(st.Uid) == os.Geteuid()
}

// startSupervised runs `bitsjob worker --supervise` in its own session,
// with the lock as its descriptor 3 and early output in the log file.
func startSupervised(home string, lk *os.File) error {
	exe, err := workerProgram()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(home, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(exe, "worker", "--supervise")
	cmd.Env = append(os.Environ(), "BITS_HOME="+home, lockFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{lk}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the worker (%s): %w", exe, err)
	}
	go cmd.Wait() // reap it if this process outlives it
	return nil
}

// errNoProgram means the bitsjob program, which runs the worker, is nowhere
// to be found.
var errNoProgram = errors.New("cannot find the bitsjob program: put it on PATH, beside this program, or name it in BITS_WORKER_BIN")

// workerProgram finds the bitsjob program that runs the worker, as an absolute
// path: $BITS_WORKER_BIN, else beside this program, else on PATH.
func workerProgram() (string, error) {
	if p := os.Getenv("BITS_WORKER_BIN"); p != "" {
		return executable(p)
	}
	if self, err := os.Executable(); err == nil {
		if p, err := executable(filepath.Join(filepath.Dir(self), "bitsjob")); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("bitsjob")
	if err != nil {
		return "", errNoProgram
	}
	return filepath.Abs(p)
}

func executable(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w (%s is not an executable file)", errNoProgram, p)
	}
	return filepath.Abs(p)
}
