package engine

import (
	"os"
	"syscall"
)

// birth returns when an open file was made, in Unix nanoseconds.
func birth(f *os.File) (int64, bool) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Birthtimespec.Nano(), true
}
