package engine

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// folders remembers what the checks of local names learnt of their
// folders: whether each exists, whether its user may create files in it,
// and which of its entries are folders or links, from one listing. The
// files of one call share one; an import shares one for a second at a
// time (foldersFor). A nil *folders remembers nothing.
type folders struct {
	made             time.Time
	found, canCreate map[string]error // checkFolder's and checkWritableFolder's outcomes
	// entries holds, for each folder that held two of the names checked,
	// the names in it that are or may be folders (links), or nil when it
	// has more than maxListed entries: then each name is looked up.
	entries map[string]map[string]bool
}

// maxListed is the most entries a folder's listing reads: beyond it, a
// lookup per name costs less.
const maxListed = 256

func newFolders() *folders {
	return &folders{made: time.Now(), found: map[string]error{}, canCreate: map[string]error{}, entries: map[string]map[string]bool{}}
}

// foldersFor returns f while it is younger than a second, or a new one:
// what an import learnt of a folder holds while it reads the next jobs,
// and no longer.
func foldersFor(f *folders) *folders {
	if f == nil || time.Since(f.made) > time.Second {
		return newFolders()
	}
	return f
}

// exists checks that dir is a folder.
func (f *folders) exists(dir string) error {
	if f == nil {
		return checkFolder(dir)
	}
	return remember(f.found, dir, checkFolder)
}

// writable checks that its user may create files in dir.
func (f *folders) writable(dir string) error {
	if f == nil {
		return checkWritableFolder(dir)
	}
	return remember(f.canCreate, dir, checkWritableFolder)
}

func remember(memo map[string]error, dir string, check func(string) error) error {
	if err, ok := memo[dir]; ok {
		return err
	}
	err := check(dir)
	memo[dir] = err
	return err
}

// isFolder reports whether local names a folder or a link to one. The
// first name of a folder is looked up alone; at the second, the folder is
// listed, so that the names of a job of many files cost one listing
// rather than a lookup each.
func (f *folders) isFolder(local string) bool {
	if f != nil {
		dir, base := filepath.Dir(local), filepath.Base(local)
		maybe, listed := f.entries[dir]
		if !listed {
			if _, seen := f.found[dir]; seen {
				maybe = listFolders(dir)
				f.entries[dir] = maybe
				listed = true
			}
		}
		if listed && maybe != nil && !maybe[base] {
			return false
		}
	}
	fi, err := os.Stat(local)
	return err == nil && fi.IsDir()
}

// listFolders returns the names in dir of the entries that are folders or
// links, or nil when dir cannot be read or has more than maxListed entries.
func listFolders(dir string) map[string]bool {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	es, err := d.ReadDir(maxListed + 1)
	if (err != nil && !errors.Is(err, io.EOF)) || len(es) > maxListed {
		return nil
	}
	out := map[string]bool{}
	for _, e := range es {
		if t := e.Type(); t.IsDir() || t&fs.ModeSymlink != 0 {
			out[e.Name()] = true
		}
	}
	return out
}
