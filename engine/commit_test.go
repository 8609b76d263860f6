package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tempWith makes a temporary file in dir holding content, as a transfer
// leaves it, and returns it as a finished file to be named local.
func tempWith(t *testing.T, dir, local, content string) File {
	t.Helper()
	f, id, err := createTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return File{TempName: f.Name(), TempID: id, LocalName: filepath.Join(dir, local), Complete: true}
}

func wantContent(t *testing.T, name, want string) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil || string(got) != want {
		t.Errorf("%s holds %q (%v), want %q", name, got, err, want)
	}
}

// TestCommitAllAcrossFolders commits files of two folders, in turn, each
// folder opened once: every file gets its final name, a file that
// replaces another takes its mode, and a file that an earlier Complete
// moved already is skipped.
func TestCommitAllAcrossFolders(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(b, "old.bin"), []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	files := []File{
		tempWith(t, a, "one.bin", "one"),
		tempWith(t, b, "old.bin", "two"),
		tempWith(t, a, "three.bin", "three"),
	}
	moved := tempWith(t, b, "moved.bin", "four")
	if err := os.Rename(moved.TempName, moved.LocalName); err != nil {
		t.Fatal(err)
	}
	files = append(files, moved)
	if err := commitAll(files); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"one", "two", "three", "four"} {
		wantContent(t, files[i].LocalName, want)
		if _, err := os.Lstat(files[i].TempName); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there (%v)", files[i].TempName, err)
		}
	}
	if fi, err := os.Stat(files[1].LocalName); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("the file that replaced one of mode 0640 has mode %v (%v)", fi.Mode().Perm(), err)
	}
}

// TestCommitAllStopsAtAFileNotOurs replaces a finished temporary file by a
// link to another file, and then by another file, before Complete: the
// files before it are committed, it is refused, and neither the link's
// target nor the files after it are touched.
func TestCommitAllStopsAtAFileNotOurs(t *testing.T) {
	for _, swap := range []string{"link", "other file"} {
		t.Run(swap, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			target := filepath.Join(elsewhere, "secret")
			if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			files := []File{
				tempWith(t, dir, "first.bin", "first"),
				tempWith(t, dir, "swapped.bin", "ours"),
				tempWith(t, dir, "last.bin", "last"),
			}
			swapped := files[1]
			if err := os.Remove(swapped.TempName); err != nil {
				t.Fatal(err)
			}
			if swap == "link" {
				if err := os.Symlink(target, swapped.TempName); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(swapped.TempName, []byte("someone's"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := commitAll(files)
			if err == nil || !strings.Contains(err.Error(), errNotOurs.Error()) {
				t.Fatalf("commitAll: %v, want the swapped file refused", err)
			}
			wantContent(t, files[0].LocalName, "first")
			if _, err := os.Lstat(swapped.LocalName); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the swapped file got the final name %s (%v)", swapped.LocalName, err)
			}
			if _, err := os.Lstat(files[2].LocalName); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file after the refused one was committed (%v)", err)
			}
			wantContent(t, target, "secret")
			if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the link's target changed mode: %v (%v)", fi.Mode().Perm(), err)
			}
		})
	}
}
