package server

import (
	"bits/hresult"
	"bits/internal/uploadproto"
	"errors"
	"net/http"
	"strings"
	"time"
)

const (
	// maxHeaderValue is Windows servers' limit on any header value.
	maxHeaderValue = 4096
	// maxProtocols is how many GUIDs BITS-Supported-Protocols may list.
	maxProtocols = 100
)

// A packet is one BITS_POST request, once its URL has been checked.
type packet struct {
	w    http.ResponseWriter
	r    *http.Request
	vd   *vdir
	name string // the file's name in vd's folder
	user string // "" without authentication
}

// servePacket answers a BITS_POST with an Ack. Every packet names its
// upload URL, which must lie in a virtual directory.
func (s *Server) servePacket(w http.ResponseWriter, r *http.Request, user string) {
	for _, vs := range r.Header {
		for _, v := range vs {
			if len(v) > maxHeaderValue {
				writeRefusal(w, badPacket("header value over 4 KB"), nil)
				return
			}
		}
	}
	vd, name, ref := s.uploadTarget(r)
	if ref != nil {
		writeRefusal(w, ref, nil)
		return
	}
	p := &packet{w: w, r: r, vd: vd, name: name, user: user}
	var h http.Header
	var err error
	kind := strings.TrimSpace(r.Header.Get(uploadproto.HeaderPacketType))
	is := func(packet string) bool { return strings.EqualFold(kind, packet) } // clients vary the case
	switch {
	case is(uploadproto.PacketPing):
		h = http.Header{}
	case is(uploadproto.PacketCreateSession):
		h, err = s.createSession(p)
	case is(uploadproto.PacketFragment):
		h, err = s.fragment(p)
	case is(uploadproto.PacketCloseSession) && s.store != nil:
		h, err = s.farmCloseSession(p)
	case is(uploadproto.PacketCancelSession) && s.store != nil:
		h, err = s.farmCancelSession(p)
	case is(uploadproto.PacketCloseSession):
		h, err = s.closeSession(p)
	case is(uploadproto.PacketCancelSession):
		h, err = s.cancelSession(p)
	default:
		err = badPacket("unknown or missing BITS-Packet-Type")
	}
	if err != nil {
		e := asRefusal(err)
		if e.code == hresult.E_FAIL || e.code == hresult.E_DISK_FULL {
			// The server's own failures, not the clients' mistakes.
			s.logf("%s %q: %v", kind, r.URL.Path, e)
		}
		writeRefusal(w, e, h)
		return
	}
	writeAck(w, http.StatusOK, h)
}

// createSession starts an upload: it agrees on the protocol, checks that
// the file may be stored under its name and that the client is within the
// session limits, and makes the session.
func (s *Server) createSession(p *packet) (http.Header, error) {
	if !offersUpload15(p.r.Header.Get(uploadproto.HeaderSupportedProtocols)) {
		return nil, badPacket("no supported protocol offered")
	}
	if s.store != nil {
		return s.farmCreateSession(p)
	}
	if p.vd.Notify == NotifyNone {
		// With notification the application decides where the file
		// goes, if anywhere; without, it goes under its name.
		if err := s.checkDestination(p.vd, p.name); err != nil {
			return nil, err
		}
	}
	now := s.now()
	sess := newSession(p, now)
	// Locked until its record is written, so that a sweep finds it whole.
	unlock := s.sessions.lock(sess.Key)
	defer unlock()
	if err := s.limits.admit(sess.Key, sess.Client, now); err != nil {
		return nil, err
	}
	if err := p.vd.createSession(sess); err != nil {
		s.limits.release(sess.Key)
		return nil, err
	}
	s.limits.touch(sess.Key, now)
	s.logf("session %s: %s%s created", sess.Key, p.vd.Prefix, "/"+p.name)
	return createdHeader(s, sess), nil
}

// newSession is the record of an upload the packet p starts.
func newSession(p *packet, now time.Time) *session {
	return &session{
		Key:     newSessionKey(),
		Prefix:  p.vd.Prefix,
		Name:    p.name,
		URL:     requestURL(p.r),
		Owner:   p.user,
		Client:  clientOf(p.r, p.user),
		Total:   -1,
		State:   stateReceiving,
		Created: now,
		Updated: now,
	}
}

// createdHeader is the Ack header of a new session.
func createdHeader(s *Server, sess *session) http.Header {
	h := http.Header{}
	h.Set(uploadproto.HeaderProtocol, uploadproto.Protocol)
	h.Set(uploadproto.HeaderSessionID, sessionID(sess.Key))
	h.Set("Accept-Encoding", "Identity")
	if s.cfg.HostID != "" {
		h.Set(uploadproto.HeaderHostID, s.cfg.HostID)
		if t := s.cfg.HostIDFallbackTimeout; t > 0 {
			h.Set(uploadproto.HeaderHostFallback, formatSeconds(t))
		}
	}
	return h
}

// offersUpload15 reports whether a BITS-Supported-Protocols value lists
// the upload protocol; GUIDs are separated by spaces or commas.
func offersUpload15(v string) bool {
	guids := strings.FieldsFunc(v, func(c rune) bool { return c == ' ' || c == ',' || c == '\t' })
	if len(guids) > maxProtocols {
		return false
	}
	for _, g := range guids {
		if strings.EqualFold(g, uploadproto.Protocol) {
			return true
		}
	}
	return false
}

// packetSession reads the session key that p's BITS-Session-Id names, and
// the header that echoes it; a key that is no session id is as unknown as
// a session that never was.
func packetSession(p *packet) (key string, h http.Header, err error) {
	raw := p.r.Header.Get(uploadproto.HeaderSessionID)
	if raw == "" {
		return "", nil, badPacket("no BITS-Session-Id")
	}
	key, ok := parseSessionID(strings.TrimSpace(raw))
	if !ok {
		return "", nil, sessionNotFound()
	}
	h = http.Header{}
	h.Set(uploadproto.HeaderSessionID, sessionID(key))
	return key, h, nil
}

// openSession locks and loads the session named by BITS-Session-Id. It
// must belong to this URL and user: anything else is as unknown as a
// session that never was. Expired sessions are deleted on the spot. The
// returned header echoes the id; unlock is nil when err is not.
func (s *Server) openSession(p *packet) (sess *session, h http.Header, unlock func(), err error) {
	key, h, err := packetSession(p)
	if err != nil {
		return nil, nil, nil, err
	}
	unlock = s.sessions.lock(key)
	sess, err = p.vd.loadSession(key)
	switch {
	case errors.Is(err, errNoSession):
		err = sessionNotFound()
	case err != nil:
	case sess.Prefix != p.vd.Prefix || sess.Name != p.name || sess.Owner != p.user:
		err = sessionNotFound()
	case sess.expired(s.now(), s.cfg.SessionTimeout):
		p.vd.removeSession(key)
		s.limits.release(key)
		s.logf("session %s: expired", key)
		err = sessionNotFound()
	}
	if err != nil {
		unlock()
		return nil, h, nil, err
	}
	return sess, h, unlock, nil
}
