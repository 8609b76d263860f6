package server

import (
	"errors"
	"io/fs"
	"time"
)

// cleanupLoop sweeps expired sessions every CleanupInterval until Close.
func (s *Server) cleanupLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep deletes the sessions, live or finished, that have made no progress
// for longer than the session timeout, and anything else in the state
// folders that has not changed for as long. It counts the live sessions
// it finds against the session limits and, when it could read every
// folder, stops counting those it did not find (deleted by hand).
func (s *Server) sweep() {
	if s.store != nil {
		s.farmSweep()
		return
	}
	now := s.now()
	gen := s.limits.beginSweep()
	whole := true
	for _, vd := range s.vdirs {
		entries, err := fs.ReadDir(vd.root.FS(), stateDirName)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.logf("cleanup of %s: %v", vd.Folder, err)
			whole = false
			continue
		}
		for _, e := range entries {
			name := stateDirName + "/" + e.Name()
			key, ok := parseSessionID(e.Name())
			if !ok || key != e.Name() {
				if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > s.cfg.SessionTimeout {
					vd.root.RemoveAll(name)
				}
				continue
			}
			unlock := s.sessions.lock(key)
			expired := false
			if sess, err := vd.loadSession(key); err == nil {
				expired = sess.expired(now, s.cfg.SessionTimeout)
				if sess.live() && !expired {
					s.limits.found(key, sess.Client, sess.Updated, gen)
				}
			} else if fi, err := e.Info(); err == nil {
				expired = now.Sub(fi.ModTime()) > s.cfg.SessionTimeout
			}
			if expired {
				if err := vd.removeSession(key); err != nil {
					s.logf("session %s: removing: %v", key, err)
				} else {
					s.logf("session %s: expired", key)
				}
				s.limits.release(key)
			}
			unlock()
		}
	}
	if whole {
		s.limits.endSweep(gen)
	}
}
