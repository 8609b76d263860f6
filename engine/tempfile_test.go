package engine

import (
	"errors"
	"os"
	"testing"
)

// TestTempIdentityOutlivesInodeReuse removes a temporary file and makes
// another at its name, as someone with write access to the folder could
// while the worker is away: file systems often give the new file the old
// inode, and the temporary file's identity must still tell them apart.
func TestTempIdentityOutlivesInodeReuse(t *testing.T) {
	dir := t.TempDir()
	reused := 0
	for range 20 {
		f, id, err := createTemp(dir)
		if err != nil {
			t.Fatal(err)
		}
		name := f.Name()
		var before os.FileInfo
		if before, err = f.Stat(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte("someone else's\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		after, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if os.SameFile(before, after) {
			reused++
		}
		g, err := reopenTemp(name, id, os.O_RDWR)
		if err == nil {
			g.Close()
			t.Fatalf("a file made at %s after the temporary file was removed was taken for it (identity %s)", name, id)
		}
		if !errors.Is(err, errNotOurs) {
			t.Fatalf("reopenTemp: %v, want errNotOurs", err)
		}
		os.Remove(name)
	}
	t.Logf("the new file had the old one's inode %d times in 20", reused)
}

func TestSameFile(t *testing.T) {
	for _, c := range []struct {
		recorded, got string
		want          bool
	}{
		{"", "1:2:3", true},       // nothing recorded
		{"1:2:3", "1:2:3", true},  // the same file
		{"1:2:3", "1:2:4", false}, // the inode reused by a newer file
		{"1:2", "1:2:3", true},    // a record from before birth times were kept
		{"1:2", "1:20:3", false},  // not the prefix: another inode
		{"1:2:3", "1:2", false},   // no birth time now: not known to be the same
		{"1:2", "1:2", true},      // no birth time kept here
	} {
		if got := sameFile(c.recorded, c.got); got != c.want {
			t.Errorf("sameFile(%q, %q) = %v, want %v", c.recorded, c.got, got, c.want)
		}
	}
}
