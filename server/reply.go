package server

import (
	"net/http"
	"os"
	"syscall"
)

// serveReply sends an upload's reply, with ranges, to the session's owner,
// from the application's answer until Close-Session or Cancel-Session.
func (s *Server) serveReply(w http.ResponseWriter, r *http.Request, vd *vdir, key, user string) {
	sess, err := vd.loadSession(key)
	if err != nil || sess.Prefix != vd.Prefix || sess.Owner != user || sess.State != stateReplied || sess.StaticReply != "" ||
		sess.expired(s.now(), s.cfg.SessionTimeout) {
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	f, err := vd.root.OpenFile(sessionFile(key, replyFileName), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	defer f.Close()
	s.serveOpenFile(w, r, f)
}
