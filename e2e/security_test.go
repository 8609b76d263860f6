package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// canary is a file an attacker would like the worker to write into: the
// test checks it keeps its content and mode.
type canary struct {
	path    string
	content []byte
	mode    os.FileMode
}

func newCanary(t *testing.T) canary {
	t.Helper()
	c := canary{path: filepath.Join(t.TempDir(), "precious"), content: []byte("do not touch\n"), mode: 0o640}
	if err := os.WriteFile(c.path, c.content, c.mode); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c canary) check(t *testing.T) {
	t.Helper()
	fi, err := os.Lstat(c.path)
	if err != nil {
		t.Fatalf("the canary is gone: %v", err)
	}
	got, _ := os.ReadFile(c.path)
	if !bytes.Equal(got, c.content) || fi.Mode().Perm() != c.mode || !fi.Mode().IsRegular() {
		t.Fatalf("the canary changed: %q, mode %v", got, fi.Mode())
	}
}

// tempOf waits for the job's one temporary file in dir and returns it.
func tempOf(t *testing.T, dir string) string {
	t.Helper()
	var tmp string
	testenv.Eventually(t, "a temporary file", func() bool {
		left := testenv.TempFiles(t, dir)
		if len(left) == 1 {
			tmp = left[0]
		}
		return tmp != ""
	})
	return tmp
}

// TestTemporaryFileSwappedWhileAway suspends a download, puts something
// else at its temporary file's name (a link to a canary, or another file
// renamed there), and resumes it: the worker writes into neither, starts
// the file again under a new name, and the result is the origin's file.
func TestTemporaryFileSwappedWhileAway(t *testing.T) {
	for _, swap := range []string{"link", "other file"} {
		t.Run(swap, func(t *testing.T) {
			u := newUser(t)
			content := testenv.RandomContent(6<<20, 51)
			o := testenv.NewOrigin(t, content, testenv.RateLimit(4<<20))
			dir := t.TempDir()
			dest := filepath.Join(dir, "f.bin")
			c := newCanary(t)
			u.ok("/create", "swap")
			u.ok("/addfile", "swap", o.URL("/file"), dest)
			u.ok("/resume", "swap")
			testenv.Eventually(t, "progress", func() bool { return u.bytesDone("swap") > 1<<20 })
			u.ok("/suspend", "swap")
			tmp := tempOf(t, dir)
			u.stopWorker()
			if err := os.Remove(tmp); err != nil {
				t.Fatal(err)
			}
			if swap == "link" {
				if err := os.Symlink(c.path, tmp); err != nil {
					t.Fatal(err)
				}
			} else {
				other := filepath.Join(dir, "mine.txt")
				os.WriteFile(other, c.content, 0o600)
				if err := os.Rename(other, tmp); err != nil {
					t.Fatal(err)
				}
				c.path = tmp
				c.mode = 0o600
			}
			u.ok("/resume", "swap")
			u.waitState("swap", "TRANSFERRED")
			c.check(t)
			u.ok("/complete", "swap")
			if fileSum(t, dest) != sum(content) {
				t.Fatal("the file differs from the origin's")
			}
			c.check(t)
		})
	}
}

// TestFolderFullOfTemporaryNames fills the destination folder with every
// BIT<4 hex digits>.tmp name: the download takes a longer one.
func TestFolderFullOfTemporaryNames(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	for i := range 0x10000 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("BIT%04X.tmp", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	content := testenv.RandomContent(100_000, 52)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(dir, "f.bin")
	u.ok("/transfer", "full", o.URL("/file"), dest)
	if fileSum(t, dest) != sum(content) {
		t.Fatal("the file differs from the origin's")
	}
}

// TestDownloadModesFollowTheUmask: a new file gets 0666 without the
// worker's umask (inherited from the command that started it), as curl
// and wget give; a file that is replaced keeps its mode.
func TestDownloadModesFollowTheUmask(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	o := testenv.NewOrigin(t, testenv.RandomContent(10_000, 53))
	kept := filepath.Join(dir, "kept.bin")
	if err := os.WriteFile(kept, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(kept, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"new.bin", "kept.bin"} {
		cmd := exec.Command("/bin/sh", "-c", `umask 027 && exec "$0" "$@"`, filepath.Join(binDir, "bitsadmin"),
			"/transfer", name, o.URL("/file"), filepath.Join(dir, name))
		cmd.Env = u.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bitsadmin /transfer under umask 027: %v\n%s", err, out)
		}
	}
	for name, want := range map[string]os.FileMode{"new.bin": 0o640, "kept.bin": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode().Perm(), err, want)
		}
	}
}

// TestDestinationFolderRemovedMidTransfer removes the destination folder
// in the middle of a download: the job goes to TRANSIENT_ERROR saying so,
// not to TRANSFERRED with its bytes lost; once the folder is back the file
// starts again and arrives whole.
func TestDestinationFolderRemovedMidTransfer(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(8<<20, 54)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(4<<20))
	dir := filepath.Join(t.TempDir(), "incoming")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "f.bin")
	u.ok("/create", "gone")
	u.ok("/addfile", "gone", o.URL("/file"), dest)
	u.ok("/setminretrydelay", "gone", "5")
	u.ok("/resume", "gone")
	testenv.Eventually(t, "progress", func() bool { return u.bytesDone("gone") > 1<<20 })
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	u.waitState("gone", "TRANSIENT_ERROR")
	if msg := u.ok("/geterror", "gone"); !strings.Contains(msg, "0x80070003") || !strings.Contains(msg, "removed") {
		t.Errorf("/geterror after the folder went:\n%s", msg)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u.waitState("gone", "TRANSFERRED")
	u.ok("/complete", "gone")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("the file differs from the origin's")
	}
}
