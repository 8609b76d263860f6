package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"bits/hresult"
)

// Temporary files live in the destination folder, which other users may be
// able to write (a shared folder). So they are made exclusively, without
// following a link, and their identity (device and inode) is recorded: the
// worker never writes into, renames or removes a file that someone put at
// the name while it was away, whether a link or another file.

// shortNames is how many BIT<4 hex digits>.tmp names (as Windows names its
// own) are tried before longer ones: a folder filled with all 65,536 of them
// must not stop a job.
const shortNames = 32

// createTemp makes a new temporary file in dir and returns it with its
// identity.
func createTemp(dir string) (*os.File, string, error) {
	for i := range shortNames + 32 {
		name := fmt.Sprintf("BIT%04X.tmp", rand.IntN(0x10000))
		if i >= shortNames {
			name = fmt.Sprintf("BIT%016X.tmp", rand.Uint64())
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		id, err := identity(f)
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, "", err
		}
		return f, id, nil
	}
	return nil, "", errors.New("no free temporary file name")
}

// errNotOurs means a temporary file's name now leads to something else
// than the file the transfer made.
var errNotOurs = errors.New("the temporary file is not the one this job made")

// reopenTemp opens a temporary file again for flag (O_RDWR, O_RDONLY)
// without following a link, and checks that it is the one whose identity
// was recorded: a regular file of this user, with no other name.
func reopenTemp(name, id string, flag int) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w (%s is a link)", errNotOurs, name)
	}
	if err != nil {
		return nil, err
	}
	got, err := identity(f)
	if err == nil && !sameFile(id, got) {
		err = fmt.Errorf("%w (%s)", errNotOurs, name)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// removeTemp removes a temporary file, if the name still leads to the one
// the job made.
func removeTemp(name, id string) error {
	f, err := reopenTemp(name, id, os.O_RDONLY)
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(name)
}

// identity returns an open temporary file's "device:inode:birth", once it
// is known to be a regular file owned by this process's user with one name.
// The birth time (where the file system keeps one) tells apart a file made
// at the same inode after ours was removed: file systems reuse a freed
// inode number at once.
func identity(f *os.File) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return "", errNotOurs
	case !fi.Mode().IsRegular(), int(st.Uid) != os.Geteuid(), st.Nlink > 1:
		return "", fmt.Errorf("%w (%s)", errNotOurs, f.Name())
	}
	id := fmt.Sprintf("%d:%d", uint64(st.Dev), st.Ino)
	if ns, ok := birth(f); ok {
		id += ":" + strconv.FormatInt(ns, 10)
	}
	return id, nil
}

// sameFile reports whether got, an identity read now, is the recorded one.
// An empty record (none was kept before the store kept them) matches any
// file, and a record of device and inode alone (before birth times were
// kept) matches on those.
func sameFile(recorded, got string) bool {
	switch {
	case recorded == "" || recorded == got:
		return true
	case strings.Count(recorded, ":") == 1:
		return strings.HasPrefix(got, recorded+":")
	}
	return false
}

// linked reports whether an open file still has a name: its folder was not
// removed, nor the file itself.
func linked(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink > 0
}

// errTempGone ends a transfer whose temporary file lost its name (its
// folder was removed): the file starts again from 0 once it can.
func errTempGone(name string) error {
	return hresult.Transient(hresult.E_PATH_NOT_FOUND, hresult.ContextLocalFile,
		"%s was removed (or its folder): the file starts again from byte 0 when its folder is back", name)
}

// finalMode is the mode a downloaded file takes at Complete: that of the
// file it replaces, else 0666 without the umask's bits, as curl and wget
// leave theirs. (While it transfers it is 0600: nobody reads half a file.)
// The file it replaces is name in the folder dir.
func finalMode(dir int, name string) os.FileMode {
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && isKind(&st, unix.S_IFREG) {
		return os.FileMode(st.Mode).Perm()
	}
	return 0o666 &^ umask()
}

// umask is this process's file mode creation mask, read once: on Linux
// when first needed (a front end that creates no file never reads it),
// elsewhere at start, since reading it there means setting it, which must
// happen before any other goroutine creates a file.
var umask = sync.OnceValue(readUmask)

func init() {
	if runtime.GOOS != "linux" {
		umask()
	}
}

func readUmask() os.FileMode {
	// Linux says it without changing it; elsewhere it is set and put back
	// before any other goroutine runs.
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(n)
				}
			}
		}
	}
	m := syscall.Umask(0o22)
	syscall.Umask(m)
	return os.FileMode(m)
}
