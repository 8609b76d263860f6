package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"bits/internal/testenv"
)

// TestLocalCopyBothWays copies a local file with a download job (a plain
// path and a file:// URL) and with an upload job, through bitsadmin.
func TestLocalCopyBothWays(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	content := testenv.RandomContent(3<<20+7, 41)
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()

	u.ok("/create", "copy")
	u.ok("/addfile", "copy", src, filepath.Join(out, "a.bin"))
	u.ok("/addfile", "copy", "file://"+src, filepath.Join(out, "b.bin"))
	u.ok("/resume", "copy")
	u.waitState("copy", "TRANSFERRED")
	u.ok("/complete", "copy")
	for _, name := range []string{"a.bin", "b.bin"} {
		if fileSum(t, filepath.Join(out, name)) != sum(content) {
			t.Errorf("%s differs from the source", name)
		}
	}

	dest := filepath.Join(out, "uploaded.bin")
	u.ok("/create", "/upload", "put")
	u.ok("/addfile", "put", dest, src)
	u.ok("/resume", "put")
	u.waitState("put", "TRANSFERRED")
	if fileSum(t, dest) != sum(content) {
		t.Error("the uploaded file differs from the source")
	}
	if left := testenv.TempFiles(t, out); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	u.ok("/complete", "put")
}
