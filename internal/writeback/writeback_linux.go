package writeback

import (
	"os"

	"golang.org/x/sys/unix"
)

// Start asks the kernel to begin writing [off, off+n) of f to disk and
// returns without waiting for it (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It is a hint: only an fsync makes data durable.
func Start(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
