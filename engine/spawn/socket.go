package spawn

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Nudge tells a running worker that jobs changed; where a supervisor listens
// on the worker socket instead (socket activation), the connection starts
// the worker. It is best effort: the worker also rescans the store every
// second.
func Nudge(home string) {
	if c, err := dial(home); err == nil {
		c.Close()
	}
}

func dial(home string) (net.Conn, error) {
	return net.DialTimeout("unix", filepath.Join(home, socketFile), 200*time.Millisecond)
}

// Activated returns the socket that systemd passed to this process (socket
// activation, sd_listen_fds), or nil. It forgets the passing, so programs
// started later do not take the socket for theirs.
func Activated() net.Listener {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if pid != os.Getpid() || n < 1 {
		return nil
	}
	const first = 3 // SD_LISTEN_FDS_START
	f := os.NewFile(first, socketFile)
	defer f.Close() // FileListener keeps a duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil
	}
	return ln
}

// removeStaleSocket removes a worker socket that nobody answers on.
func removeStaleSocket(home string) {
	if c, err := dial(home); err == nil {
		c.Close()
	} else if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(filepath.Join(home, socketFile))
	}
}

// errSocketTaken means another process listens on the worker socket: a
// supervisor's socket, while this worker was started some other way.
var errSocketTaken = errors.New("another process listens on " + socketFile)

// Listen makes the worker socket of home. A socket file that nobody
// answers on is left from a worker that died, and replaced; one that a live
// process listens on is left alone (errSocketTaken).
func Listen(home string) (net.Listener, error) {
	path := filepath.Join(home, socketFile)
	if _, err := os.Lstat(path); err == nil {
		c, err := dial(home)
		if err == nil {
			c.Close()
			return nil, errSocketTaken
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOTSOCK) {
			return nil, err
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return ln, nil
}
