package server

import (
	"bits/internal/uploadproto"
	"net/http"
	"strconv"
)

// closeSession ends an upload. Without notification the file is moved to
// its name now (not at the last fragment), so until Close-Session a
// Cancel-Session still withdraws it. With notification it is moved only
// when the application asked for it (BITS-Copy-File-To-Destination). An
// empty upload with notification is notified at its first Close-Session.
// The data and reply are deleted; the record stays until it expires, so a
// repeated Close-Session is answered 200 again.
func (s *Server) closeSession(p *packet) (http.Header, error) {
	sess, h, unlock, err := s.openSession(p)
	if err != nil {
		return h, err
	}
	defer unlock()
	switch sess.State {
	case stateClosed:
		return h, nil
	case stateCancelled:
		return h, sessionNotFound()
	case stateReceiving:
		if p.vd.Notify != NotifyNone && sess.Total < 0 {
			// An empty upload has no last fragment to notify at: its
			// Close-Session does, names the reply and keeps the
			// session for it; the next Close-Session closes it.
			return s.lastAck(p, sess, h)
		}
		// All bytes are needed, and with notification the application
		// must have had them. No fragment at all is an empty file.
		if p.vd.Notify != NotifyNone || sess.Total >= 0 && !sess.complete() {
			h.Set(uploadproto.HeaderReceived, strconv.FormatInt(sess.Received, 10))
			return h, badPacket("Close-Session before the upload is complete")
		}
		if err := s.commit(p.vd, sess); err != nil {
			return h, err
		}
	case stateReplied:
		if sess.CopyToDestination {
			if err := s.commit(p.vd, sess); err != nil {
				return h, err
			}
		}
	}
	if err := s.finish(p.vd, sess, stateClosed); err != nil {
		return h, err
	}
	s.logf("session %s: closed, %d bytes", sess.Key, max(sess.Received, 0))
	return h, nil
}

// cancelSession abandons an upload and deletes its data. Cancelling one
// already closed or cancelled changes nothing and succeeds.
func (s *Server) cancelSession(p *packet) (http.Header, error) {
	sess, h, unlock, err := s.openSession(p)
	if err != nil {
		return h, err
	}
	defer unlock()
	if !sess.live() {
		return h, nil
	}
	if err := s.finish(p.vd, sess, stateCancelled); err != nil {
		return h, err
	}
	s.logf("session %s: cancelled", sess.Key)
	return h, nil
}

// finish records a session's end, which frees its place in the session
// limits, and deletes its data.
func (s *Server) finish(vd *vdir, sess *session, st sessionState) error {
	sess.State = st
	sess.Updated = s.now()
	if err := vd.saveSession(sess); err != nil {
		return err
	}
	s.limits.release(sess.Key)
	return vd.dropData(sess.Key)
}
