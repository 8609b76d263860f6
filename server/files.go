package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"syscall"
)

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	name, status := fileName(r.URL.Path)
	if status == http.StatusOK && s.root == nil {
		status = http.StatusNotFound
	}
	if status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
		return
	}
	// O_NONBLOCK so that a FIFO in the root cannot hold the request open;
	// it changes nothing for the regular files we go on to serve.
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		// Missing, outside the root (a symbolic link that leaves it) or
		// unreadable: all look the same from outside.
		status := http.StatusNotFound
		if errors.Is(err, fs.ErrPermission) {
			status = http.StatusForbidden
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	defer f.Close()
	s.serveOpenFile(w, r, f)
}

// serveOpenFile sends a regular file with ranges and validators.
func (s *Server) serveOpenFile(w http.ResponseWriter, r *http.Request, f *os.File) {
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	if !fi.Mode().IsRegular() {
		// No directory listings, no devices, no pipes.
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	// ServeContent checks If-Range, If-Match and If-None-Match against this
	// header, so BITS' resumed ranges detect a file that changed.
	w.Header().Set("ETag", etag(fi))
	if s.rate > 0 {
		w = newPacedWriter(r.Context(), w, s.rate)
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// fileName turns a request path into a name relative to the root, or says
// which status refuses it: 400 for a path that tries to climb out or hides a
// NUL, 404 for the root itself, folders (a trailing slash), paths that
// are not canonical (empty or "." elements) and the upload folders' private
// session folders.
func fileName(p string) (string, int) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", http.StatusBadRequest
	}
	name, ok := strings.CutPrefix(p, "/")
	if !ok {
		return "", http.StatusBadRequest
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", http.StatusBadRequest
		}
	}
	if !fs.ValidPath(name) || name == "." || hasPrivateElement(name) {
		return "", http.StatusNotFound
	}
	return name, http.StatusOK
}

// etag is a strong validator from what changes when a file is rewritten or
// replaced: its size, modification time and, where known, inode.
func etag(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	return fmt.Sprintf(`"%x-%x-%x"`, ino, fi.Size(), fi.ModTime().UnixNano())
}
