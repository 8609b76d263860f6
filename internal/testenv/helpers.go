package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Eventually polls cond every 10 ms until it holds, and fails the test if
// it does not within a minute: a bounded wait for something another
// process or goroutine does, never a sleep standing in for it.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SyncBuffer is a log that a test reads while another goroutine writes it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TempFiles lists the BIT*.tmp files in dir.
func TempFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "BIT*.tmp"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BuildPrograms builds the named programs of cmd/ (bitsadmin, bitsjob,
// bitsserver) into dir, as `make build` does (without cgo), so tests and
// benchmarks run the real binaries. It takes no testing.TB so that a
// TestMain can build once for a whole run.
func BuildPrograms(dir string, names ...string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "bits/cmd/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Missing skips the test for want of a tool, or fails it under CI, where
// nothing may be skipped for that.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	missing(tb, why)
}

// ownedDir makes a folder for a server that drops root's privileges to
// account: tb.TempDir() is under a folder only root may enter, so this one
// is made in the system's temporary folder instead, mode 0755 and owned by
// account, and removed when the test ends (after the server, whose cleanup
// is registered later and so runs first).
func ownedDir(tb testing.TB, account string) (dir string, uid, gid int) {
	tb.Helper()
	u, err := user.Lookup(account)
	if err != nil {
		missing(tb, fmt.Sprintf("the account %s does not exist: %v", account, err))
	}
	uid, gid = atoi(tb, u.Uid), atoi(tb, u.Gid)
	dir, err = os.MkdirTemp("", "bits-testenv-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		tb.Fatal(err)
	}
	return dir, uid, gid
}

// writeOwned writes a file that only the account uid, gid may read: a
// password file or a copy of a keytab for a server without root.
func writeOwned(tb testing.TB, path string, data []byte, uid, gid int) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		tb.Fatal(err)
	}
}
