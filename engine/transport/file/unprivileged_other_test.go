//go:build !linux

package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"bits/internal/testenv"
)

// Only Linux lets one thread give up root's override of file modes, so
// elsewhere the suite runs as a user, whom the modes already stop, and
// each call runs where it is.
func onUnprivilegedThread(fn func()) { fn() }

// checkUnprivilegedThread shows that the permission cases test something
// real: a file with mode 0 is not readable here.
func checkUnprivilegedThread(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		testenv.Missing(t, "root is not held to file modes, and only Linux can take that from a thread: run this test as a user")
	}
	p := filepath.Join(t.TempDir(), "mode0")
	if err := os.WriteFile(p, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(p); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("reading a mode-0 file: err = %v, want EACCES", err)
	}
}
