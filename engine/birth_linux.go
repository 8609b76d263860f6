package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// birth returns when an open file was made, in Unix nanoseconds, where the
// file system keeps it (ext4, XFS, Btrfs and tmpfs do).
func birth(f *os.File) (int64, bool) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &st); err != nil || st.Mask&unix.STATX_BTIME == 0 {
		return 0, false
	}
	return st.Btime.Sec*1e9 + int64(st.Btime.Nsec), true
}
