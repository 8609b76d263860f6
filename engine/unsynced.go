package engine

import (
	"os"
	"sync"
)

// A small file of a job of several is not synced when its last byte is in.
// Each sync waits for the disk (the file's blocks, its inode, its folder,
// a flush of the disk's cache), and one a file made a thousand small files
// take twice as long as fetching them. The file is recorded complete with
// the boot whose page cache holds its bytes (File.Unsynced), and all such
// files of the job are synced at once before it becomes TRANSFERRED, which
// then means what it always did: every file is on disk. A worker killed in
// the same boot leaves their bytes in the page cache, for its next run to
// sync; a worker of a later boot (after a power cut) fetches them again
// (Tx.ForgetUnsynced). Complete syncs any it commits before TRANSFERRED.

// bootID names the running boot; empty where it cannot be known, and
// then every file is synced at its end.
var bootID = sync.OnceValue(readBootID)

// syncFilesAtOnce is how many files syncEach syncs at a time.
const syncFilesAtOnce = 8

// syncFiles makes the bytes of the files recorded unsynced durable.
func syncFiles(files []File) error {
	var pending []File
	var size int64
	for _, f := range files {
		if f.Unsynced != "" {
			pending = append(pending, f)
			size += max(f.BytesTotal, 0)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if tried, err := syncWhole(pending, size); tried {
		return err
	}
	return syncEach(pending)
}

// syncEach syncs files one by one, several at a time; the error is the
// first one met.
func syncEach(files []File) error {
	work := make(chan File)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for range min(syncFilesAtOnce, len(files)) {
		wg.Go(func() {
			for f := range work {
				errs <- syncOne(f)
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// syncOne syncs a temporary file, if it is still the one the job made.
func syncOne(f File) error {
	t, err := reopenTemp(f.TempName, f.TempID, os.O_RDONLY)
	if err != nil {
		return localError(f.TempName, err)
	}
	defer t.Close()
	if err := t.Sync(); err != nil {
		return localError(f.TempName, err)
	}
	return nil
}
