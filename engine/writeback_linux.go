package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) of f to
// disk and returns without waiting for it. A download that does this as it
// goes leaves its final fsync little to do, so it is durable at about the
// disk's speed rather than the network's plus the disk's.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) // a hint: the fsync that follows is what counts
	})
}
