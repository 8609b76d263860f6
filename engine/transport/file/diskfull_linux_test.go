package file_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"bits/engine/transport/file"
	"bits/hresult"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

// TestDiskFull uploads more than a small tmpfs holds: ENOSPC is fatal
// E_DISK_FULL, Send confirms only what is on the disk, and Resume agrees.
// A tmpfs of a given size is Linux's, hence the file's name.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		testenv.Missing(t, fmt.Sprintf("cannot mount a tmpfs to fill (%v): run as root to test a full disk", err))
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })

	tr := file.New()
	r := request(t, filepath.Join(dir, "big.bin"))
	content := testenv.RandomContent(1<<20, 1)
	session, err := tr.Begin(ctx, r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := tr.Send(ctx, r, session, 0, int64(len(content)), transporttest.Section(content))
	wantHR(t, err, hresult.E_DISK_FULL, false)
	if n <= 0 || n >= int64(len(content)) {
		t.Fatalf("Send on a full disk confirmed %d of %d bytes (%v)", n, len(content), err)
	}
	held, err := tr.Resume(ctx, r, session, 0, 0)
	if err != nil || held != n {
		t.Fatalf("Resume = %d, %v; Send confirmed %d", held, err, n)
	}
	got, err := os.ReadFile(filepath.Join(dir, session))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content[:n]) {
		t.Fatal("the temporary file is not the confirmed prefix")
	}
	if err := tr.Cancel(ctx, r, session); err != nil {
		t.Fatal(err)
	}
	if left := testenv.TempFiles(t, dir); len(left) != 0 {
		t.Fatalf("Cancel left %v", left)
	}
}
