package storage

import (
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileWrites tells of writes to a database's files: inotify on its
// folder, for the database and its write-ahead log (which every commit
// writes in WAL mode, and which SQLite may make anew).
type fileWrites struct {
	c chan struct{}
	f *os.File
}

// watchWrites follows writes to file and its log, or returns nil when the
// kernel cannot tell (out of inotify instances, say): Changes then polls.
func watchWrites(file string) *fileWrites {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(file), unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil
	}
	// Through the runtime's poller, so that Close ends a Read.
	w := &fileWrites{c: make(chan struct{}, 1), f: os.NewFile(uintptr(fd), "inotify")}
	go w.read(filepath.Base(file))
	return w
}

// read passes on each write to one of the database's files until the
// watch is closed. Notices coalesce: one waiting is enough.
func (w *fileWrites) read(base string) {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			start := off + unix.SizeofInotifyEvent
			off = start + int(ev.Len)
			if off > n {
				break
			}
			name := strings.TrimRight(string(buf[start:off]), "\x00")
			if name == base || strings.HasPrefix(name, base+"-") {
				select {
				case w.c <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (w *fileWrites) close() { w.f.Close() }
