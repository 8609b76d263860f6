package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// onUnprivilegedThread runs fn on a thread of its own whose effective
// capabilities lack the two that bypass file modes. Capabilities belong to
// a thread on Linux, and the goroutine never unlocks its thread, so the
// runtime ends the thread with it: no other goroutine ever runs there.
// checkUnprivilegedThread has shown that dropping them works, so a failure
// here is a broken machine.
func onUnprivilegedThread(fn func()) {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := dropFileOverride(); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		panic("dropping CAP_DAC_OVERRIDE: " + err.Error())
	}
}

func dropFileOverride() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
	return unix.Capset(&hdr, &data[0])
}

// checkUnprivilegedThread shows that the permission cases test something
// real: a file with mode 0 is readable here (as root) and not on an
// unprivileged thread.
func checkUnprivilegedThread(t *testing.T) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mode0")
	if err := os.WriteFile(p, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	var err error
	onUnprivilegedThread(func() { _, err = os.ReadFile(p) })
	if !errors.Is(err, syscall.EACCES) {
		t.Fatalf("reading a mode-0 file without CAP_DAC_OVERRIDE: err = %v, want EACCES", err)
	}
	if os.Geteuid() == 0 {
		if _, err := os.ReadFile(p); err != nil {
			t.Fatalf("root cannot read a mode-0 file with its capabilities: %v", err)
		}
	}
}
