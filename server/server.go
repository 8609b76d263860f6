// Package server is bitsserver as an http.Handler. This first slice is a
// download origin: it serves GET and HEAD of the regular files under one
// folder, with byte ranges, ETag and Last-Modified, optionally paced to a
// fixed rate per response. The BITS upload protocol will be added here.
//
// It owns the HTTP side only and must not import the engine, storage or any
// front end.
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

// Config says what a Server serves.
type Config struct {
	// Root is the folder whose files are served. Nothing outside it is:
	// not through "..", nor through symbolic links that leave it (absolute
	// symbolic links are refused even when they point inside).
	Root string
	// Rate caps each response body at this many bytes per second, for
	// demonstrations and tests of slow links. 0 means unlimited.
	Rate int64
}

// A Server serves the files under Config.Root. Its zero value is not
// usable; create one with New and release it with Close.
type Server struct {
	root *os.Root
	rate int64
}

var _ http.Handler = (*Server)(nil)

// New opens cfg.Root and returns a Server for it.
func New(cfg Config) (*Server, error) {
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("rate %d: must be 0 (unlimited) or more", cfg.Rate)
	}
	if cfg.Root == "" {
		return nil, errors.New("no root folder to serve")
	}
	fi, err := os.Stat(cfg.Root)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: not a folder", cfg.Root)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, err
	}
	return &Server{root: root, rate: cfg.Rate}, nil
}

// Close releases the root folder. Requests after Close fail.
func (s *Server) Close() error { return s.root.Close() }

// ServeHTTP serves GET and HEAD of files; every other method is refused.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.serveFile(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	name, status := fileName(r.URL.Path)
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
// NUL, 404 for the root itself, folders (a trailing slash) and paths that
// are not canonical (empty or "." elements).
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
	if !fs.ValidPath(name) || name == "." {
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
