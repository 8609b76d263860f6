package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// A vdir is a virtual directory with its folder open. Every file operation
// goes through root, so no name, however built, reaches outside the folder.
type vdir struct {
	VirtualDir
	root *os.Root
	abs  string // the folder's absolute path, for by-reference notifications
}

// Files of a session, in <folder>/.bits-sessions/<key>/.
const (
	metaFileName  = "session.json"
	dataFileName  = "request"
	replyFileName = "response"
	maxMetaSize   = 64 << 10
)

func sessionDir(key string) string        { return stateDirName + "/" + key }
func sessionFile(key, name string) string { return sessionDir(key) + "/" + name }

// errNoSession means the session's record does not exist (or is not one).
var errNoSession = errors.New("no such session")

func openVdir(v VirtualDir) (*vdir, error) {
	fi, err := os.Stat(v.Folder)
	if err != nil {
		return nil, fmt.Errorf("upload folder for %s: %w", v.Prefix, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("upload folder %s: not a folder", v.Folder)
	}
	abs, err := filepath.Abs(v.Folder)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	vd := &vdir{VirtualDir: v, root: root, abs: abs}
	if err := vd.ensureStateDir(); err != nil {
		root.Close()
		return nil, fmt.Errorf("upload folder %s: %w", v.Folder, err)
	}
	return vd, nil
}

// ensureStateDir makes the private folder of sessions, again if someone
// deleted it, and checks it is a real folder, not a link to one.
func (vd *vdir) ensureStateDir() error {
	if err := vd.root.Mkdir(stateDirName, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if fi, err := vd.root.Lstat(stateDirName); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s must be a folder", stateDirName)
	}
	return nil
}

// createSession makes the session's folder, its empty data file and its
// record. The folder is private: the data is nobody's business until the
// upload is closed.
func (vd *vdir) createSession(s *session) error {
	if err := vd.ensureStateDir(); err != nil {
		return err
	}
	if err := vd.root.Mkdir(sessionDir(s.Key), 0o700); err != nil {
		return err
	}
	f, err := vd.root.OpenFile(sessionFile(s.Key, dataFileName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		vd.root.RemoveAll(sessionDir(s.Key))
		return err
	}
	f.Close()
	if err := vd.saveSession(s); err != nil {
		vd.root.RemoveAll(sessionDir(s.Key))
		return err
	}
	return nil
}

// loadSession reads a session's record. A record that claims more bytes
// than its data file holds (a crash between the two writes) is believed
// only as far as the file goes.
func (vd *vdir) loadSession(key string) (*session, error) {
	f, err := vd.root.Open(sessionFile(key, metaFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var s session
	dec := json.NewDecoder(&limitedReader{f, maxMetaSize})
	if err := dec.Decode(&s); err != nil || s.Key != key {
		return nil, errNoSession
	}
	if s.live() {
		fi, err := vd.root.Lstat(sessionFile(key, dataFileName))
		if err != nil || !fi.Mode().IsRegular() {
			return nil, errNoSession
		}
		s.Received = min(s.Received, fi.Size())
	}
	return &s, nil
}

// saveSession replaces the record whole (write, sync, rename), so a
// reader or a crash sees the old one or the new one.
func (vd *vdir) saveSession(s *session) error { return vd.writeSession(s, true) }

// writeSession replaces the record whole; durable syncs it first. A record
// written without sync may outlive a power cut that loses data: loadSession
// believes it only as far as the data file goes.
func (vd *vdir) writeSession(s *session, durable bool) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := sessionFile(s.Key, metaFileName+".tmp")
	f, err := vd.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		vd.root.Remove(tmp)
		return err
	}
	return vd.root.Rename(tmp, sessionFile(s.Key, metaFileName))
}

// dropData deletes what a session holds but its record.
func (vd *vdir) dropData(key string) error {
	var first error
	for _, name := range []string{dataFileName, replyFileName} {
		if err := vd.root.Remove(sessionFile(key, name)); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
	}
	return first
}

func (vd *vdir) removeSession(key string) error { return vd.root.RemoveAll(sessionDir(key)) }

// syncDir makes a rename in dir durable, where the system allows it.
func (vd *vdir) syncDir(dir string) {
	if f, err := vd.root.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// parentDir is the folder of a slash-separated name, "." at the top.
func parentDir(name string) string { return path.Dir(name) }

// limitedReader fails instead of stopping at its limit, so that an
// oversized record is an error rather than a truncated one.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("record too large")
	}
	p = p[:min(int64(len(p)), l.n)]
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
