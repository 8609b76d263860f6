package server

import (
	"bits/hresult"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"syscall"
)

// checkDestination says whether an upload may be stored as name: every
// folder on the way must exist and be a real folder (not a symbolic link),
// and what is there already must be a regular file the settings allow to
// replace.
func (s *Server) checkDestination(vd *vdir, name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		fi, err := vd.root.Lstat(strings.Join(parts[:i], "/"))
		switch {
		case err != nil:
			return fileRefusal(err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return refuse(http.StatusForbidden, hresult.E_ACCESSDENIED, "a folder on the way is a symbolic link")
		case !fi.IsDir():
			return refuse(http.StatusNotFound, hresult.E_PATH_NOT_FOUND, "a folder on the way is a file")
		}
	}
	fi, err := vd.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fileRefusal(err)
	case fi.IsDir():
		return badPacket("the URL is a folder")
	case !fi.Mode().IsRegular():
		return refuse(http.StatusForbidden, hresult.E_ACCESSDENIED, "the destination is not a regular file")
	case !vd.AllowOverwrites:
		return refuse(http.StatusConflict, hresult.E_ACCESSDENIED, "the destination exists")
	}
	return nil
}

// fileRefusal says what a failed look-up of the destination means to the
// client.
func fileRefusal(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return refuse(http.StatusNotFound, hresult.E_PATH_NOT_FOUND, "the destination's folder does not exist")
	case errors.Is(err, fs.ErrPermission):
		return refuse(http.StatusForbidden, hresult.E_ACCESSDENIED, err.Error())
	}
	return err
}

// commit moves a finished upload's data to its name. Without overwrites a
// hard link makes the name only if it is free, atomically; with them a
// rename replaces what is there.
func (s *Server) commit(vd *vdir, sess *session) error {
	unlock := s.dests.lock(vd.abs + "\x00" + sess.Name)
	defer unlock()
	if err := s.checkDestination(vd, sess.Name); err != nil {
		return err
	}
	src := sessionFile(sess.Key, dataFileName)
	if err := syncFile(vd.root, src); err != nil {
		return err
	}
	if vd.AllowOverwrites {
		if err := vd.root.Rename(src, sess.Name); err != nil {
			return err
		}
	} else {
		err := vd.root.Link(src, sess.Name)
		switch {
		case errors.Is(err, fs.ErrExist):
			return refuse(http.StatusConflict, hresult.E_ACCESSDENIED, "the destination exists")
		case err != nil:
			// A file system without hard links: the name was free a
			// moment ago under the lock, which is the best left.
			if err := vd.root.Rename(src, sess.Name); err != nil {
				return err
			}
		default:
			vd.root.Remove(src)
		}
	}
	vd.syncDir(parentDir(sess.Name))
	return nil
}

func syncFile(root *os.Root, name string) error {
	f, err := root.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
