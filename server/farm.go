package server

// This file answers upload packets from the shared S3 store (Config.Store)
// instead of the upload folders. Every packet reads the session afresh
// from the store, so that it does not matter which server of a farm got
// the packets before.

import (
	"bits/hresult"
	"bits/internal/uploadproto"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// stateExpiring marks a session a server is deleting for its age: the
// record is claimed with If-Match, so only one server does it.
const stateExpiring sessionState = "expiring"

// claimTimeout is how long a claim to delete a session holds before
// another server takes it over: far longer than the deletion takes.
const claimTimeout = 3 * s3Timeout

// A farmSession is a session as the store holds it.
type farmSession struct {
	*session
	etag  string // of the record, for If-Match
	frags []fragObject
}

// lastActive is when the session last made progress: its record's time
// or its newest fragment's, whichever is later.
func (f *farmSession) lastActive() time.Time {
	t := f.Updated
	for _, fr := range f.frags {
		if fr.modified.After(t) {
			t = fr.modified
		}
	}
	return t
}

// storeFailure is how a failing store is told to the client: a transient
// server error, which BITS clients retry.
func storeFailure(err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return err
	}
	return &refusal{status: http.StatusServiceUnavailable, code: hresult.E_FAIL, context: hresult.ContextRemoteFile, why: "the session store: " + err.Error()}
}

func (s *Server) storeContext(p *packet) (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.r.Context(), s3Timeout)
}

// farmCheckDestination refuses an upload whose file exists when the
// settings forbid overwriting it.
func (s *Server) farmCheckDestination(ctx context.Context, vd *vdir, name string) error {
	if vd.AllowOverwrites {
		return nil
	}
	_, exists, err := s.store.finishedBy(ctx, s.store.fileName(vd.Folder, name))
	switch {
	case err != nil:
		return storeFailure(err)
	case exists:
		return refuse(http.StatusConflict, hresult.E_ACCESSDENIED, "the destination exists")
	}
	return nil
}

func (s *Server) farmCreateSession(p *packet) (http.Header, error) {
	ctx, cancel := s.storeContext(p)
	defer cancel()
	if err := s.farmCheckDestination(ctx, p.vd, p.name); err != nil {
		return nil, err
	}
	now := s.now()
	sess := newSession(p, now)
	err := s.limits.admit(sess.Key, sess.Client, now)
	if err != nil && s.limits.atLimit(sess.Client) && s.farmRecount(ctx) {
		// Sessions this server counts may have ended on another.
		err = s.limits.admit(sess.Key, sess.Client, now)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.createRecord(ctx, sess); err != nil {
		s.limits.release(sess.Key)
		return nil, storeFailure(err)
	}
	s.limits.touch(sess.Key, now)
	s.logf("session %s: %s%s created in the store", sess.Key, p.vd.Prefix, "/"+p.name)
	return createdHeader(s, sess), nil
}

// farmOpenSession loads the session named by BITS-Session-Id with its
// fragments. As openSession, anything not this URL's and user's is
// unknown, and an expired session is deleted on the spot. The in-process
// lock only spares this server's own requests from racing each other;
// other servers are kept in line by the store's conditional writes.
func (s *Server) farmOpenSession(ctx context.Context, p *packet) (fs *farmSession, h http.Header, unlock func(), err error) {
	key, h, err := packetSession(p)
	if err != nil {
		return nil, nil, nil, err
	}
	unlock = s.sessions.lock(key)
	fs, err = s.loadFarmSession(ctx, key)
	switch {
	case errors.Is(err, errNoSession):
		err = sessionNotFound()
	case err != nil:
		err = storeFailure(err)
	case fs.Prefix != p.vd.Prefix || fs.Name != p.name || fs.Owner != p.user:
		err = sessionNotFound()
	case fs.State == stateExpiring:
		err = sessionNotFound()
	case s.now().Sub(fs.lastActive()) > s.cfg.SessionTimeout:
		s.expireFarmSession(ctx, fs)
		err = sessionNotFound()
	}
	if err != nil {
		unlock()
		return nil, h, nil, err
	}
	return fs, h, unlock, nil
}

func (s *Server) loadFarmSession(ctx context.Context, key string) (*farmSession, error) {
	sess, etag, err := s.store.loadRecord(ctx, key)
	if err != nil {
		return nil, err
	}
	frags, err := s.store.listFragments(ctx, key)
	if err != nil {
		return nil, err
	}
	sess.Received = received(frags)
	return &farmSession{session: sess, etag: etag, frags: frags}, nil
}

// expireFarmSession deletes a session idle past the timeout, if this
// server wins the claim on its record. A fragment that arrived meanwhile
// (on another server, which does not touch the record) revives it.
func (s *Server) expireFarmSession(ctx context.Context, fs *farmSession) bool {
	claimed := *fs.session
	claimed.State = stateExpiring
	claimed.ClaimedAt = s.now()
	etag, err := s.store.updateRecord(ctx, &claimed, fs.etag)
	if err != nil {
		return false // another server changed or deleted it first
	}
	frags, err := s.store.listFragments(ctx, fs.Key)
	if err != nil {
		return false
	}
	fs.frags = frags
	if s.now().Sub(fs.lastActive()) <= s.cfg.SessionTimeout {
		fs.State = stateReceiving
		s.store.updateRecord(ctx, fs.session, etag)
		return false
	}
	if err := s.store.removeSession(ctx, fs.Key); err != nil {
		s.logf("session %s: removing from the store: %v", fs.Key, err)
		return false
	}
	s.limits.release(fs.Key)
	s.logf("session %s: expired", fs.Key)
	return true
}

func (s *Server) farmFragment(p *packet, first, last, total int64) (http.Header, error) {
	ctx, cancel := s.storeContext(p)
	defer cancel()
	fs, h, unlock, err := s.farmOpenSession(ctx, p)
	if err != nil {
		return h, err
	}
	defer unlock()
	if !fs.live() {
		return h, sessionNotFound()
	}
	switch {
	case fs.Total < 0:
		// The first fragment fixes the total, once: a server that
		// loses the race reads the winner's.
		fs.Total = total
		fs.Updated = s.now()
		if etag, err := s.store.updateRecord(ctx, fs.session, fs.etag); err == nil {
			fs.etag = etag
		} else if !errors.Is(err, errStoreConflict) {
			return h, storeFailure(err)
		} else if again, err := s.loadFarmSession(ctx, fs.Key); err != nil {
			return h, storeFailure(err)
		} else if !again.live() {
			return h, sessionNotFound()
		} else {
			fs = again
		}
		if fs.Total != total {
			return h, badPacket("the total length changed")
		}
	case total != fs.Total:
		return h, badPacket("the total length changed")
	}
	if first > fs.Received {
		h.Set(uploadproto.HeaderReceived, strconv.FormatInt(fs.Received, 10))
		return h, &refusal{status: http.StatusRequestedRangeNotSatisfiable, why: "gap before the fragment"}
	}
	if last < fs.Received {
		// As resend: the last fragment again is how a client retries
		// the notification or asks for the Ack it lost.
		h.Set(uploadproto.HeaderReceived, strconv.FormatInt(fs.Received, 10))
		if p.vd.Notify != NotifyNone && last == fs.Total-1 {
			return s.farmLastAck(ctx, p, fs, h)
		}
		if p.vd.Notify != NotifyNone && fs.State == stateReplied {
			if reply := replyURL(p.r, p.vd, fs.session); len(reply) <= maxNotifyURL {
				h.Set(uploadproto.HeaderReplyURL, reply)
			}
		}
		return h, &refusal{status: http.StatusRequestedRangeNotSatisfiable, why: "the fragment holds nothing new"}
	}
	if cl, ok := parseContentLength(p.r.Header.Values("Content-Length")); !ok || cl != last-first+1 {
		return h, badPacket("Content-Length missing or unlike the range")
	}
	if enc := p.r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return h, badPacket("only the identity encoding is accepted")
	}

	src := &idleReader{r: p.r.Body, rc: http.NewResponseController(p.w)}
	body := &countingReader{r: io.LimitReader(src, last-first+1)}
	if skip := fs.Received - first; skip > 0 {
		if n, _ := io.CopyN(io.Discard, body, skip); n < skip {
			h.Set(uploadproto.HeaderReceived, strconv.FormatInt(fs.Received, 10))
			return h, badPacket("body shorter than Content-Length")
		}
	}
	from := fs.Received
	err = s.store.putFragment(ctx, fs.Key, from, last, body)
	if err != nil {
		h.Set(uploadproto.HeaderReceived, strconv.FormatInt(fs.Received, 10))
		if body.n < last-first+1 || src.err != nil {
			return h, badPacket(fmt.Sprintf("body shorter than Content-Length: %v", err))
		}
		return h, storeFailure(err)
	}
	fs.frags = append(fs.frags, fragObject{first: from, last: last, name: s.store.fragName(fs.Key, from, last), modified: s.now()})
	fs.Received = received(fs.frags)
	s.limits.touch(fs.Key, s.now())
	h.Set(uploadproto.HeaderReceived, strconv.FormatInt(fs.Received, 10))
	if !fs.complete() || p.vd.Notify == NotifyNone {
		return h, nil
	}
	return s.farmLastAck(ctx, p, fs, h)
}

// farmLastAck is lastAck over the store: the application is notified
// unless it has answered, and the Ack names the reply.
func (s *Server) farmLastAck(ctx context.Context, p *packet, fs *farmSession, h http.Header) (http.Header, error) {
	if fs.State == stateReceiving {
		if err := s.farmNotify(ctx, p, fs); err != nil {
			return h, err
		}
	}
	reply := replyURL(p.r, p.vd, fs.session)
	if len(reply) > maxNotifyURL {
		return h, badPacket("the reply URL would be too long")
	}
	h.Set(uploadproto.HeaderReplyURL, reply)
	return h, nil
}

// farmNotify hands the upload to the application by value, the bytes
// read back from the store, and keeps its reply in the store beside the
// session. Two servers notifying at once (a client's retry racing the
// first try) both call the application, which must bear duplicates as
// it must anyway; the record keeps the first answer recorded.
func (s *Server) farmNotify(ctx context.Context, p *packet, fs *farmSession) error {
	vd := p.vd
	nctx, cancel := context.WithTimeout(ctx, vd.NotifyTimeout)
	defer cancel()
	body := &pieceReader{ctx: nctx, st: s.store, ps: pieces(fs.frags)}
	resp, err := s.askApplication(nctx, vd, fs.session, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	static, err := staticReply(resp)
	if err != nil {
		return err
	}
	if static == "" {
		reply, err := io.ReadAll(io.LimitReader(resp.Body, vd.MaxReplySize+1))
		switch {
		case err != nil:
			return appRefusal(http.StatusBadGateway, hresult.HTTP(http.StatusBadGateway), fmt.Sprintf("reading the reply: %v", err))
		case int64(len(reply)) > vd.MaxReplySize:
			return appRefusal(http.StatusInternalServerError, hresult.BG_E_TOO_LARGE, "the reply is too large")
		}
		if err := s.store.putReply(ctx, fs.Key, reply); err != nil {
			return storeFailure(err)
		}
	}
	fs.StaticReply = static
	_, fs.CopyToDestination = resp.Header[http.CanonicalHeaderKey(uploadproto.HeaderCopyFileToDestination)]
	fs.State = stateReplied
	fs.Updated = s.now()
	etag, err := s.store.updateRecord(ctx, fs.session, fs.etag)
	if errors.Is(err, errStoreConflict) {
		again, err := s.loadFarmSession(ctx, fs.Key)
		if err != nil {
			return storeFailure(err)
		}
		if again.State != stateReplied {
			return storeFailure(errStoreConflict)
		}
		*fs = *again
		return nil
	}
	if err != nil {
		return storeFailure(err)
	}
	fs.etag = etag
	s.limits.touch(fs.Key, fs.Updated)
	s.logf("session %s: the application answered", fs.Key)
	return nil
}

// farmServeReply sends a session's reply from the store to its owner.
func (s *Server) farmServeReply(w http.ResponseWriter, r *http.Request, vd *vdir, key, user string) {
	ctx, cancel := context.WithTimeout(r.Context(), s3Timeout)
	defer cancel()
	sess, _, err := s.store.loadRecord(ctx, key)
	if err != nil || sess.Prefix != vd.Prefix || sess.Owner != user || sess.State != stateReplied || sess.StaticReply != "" {
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	o, info, err := s.store.openFile(ctx, s.store.replyName(key))
	if err != nil || o == nil {
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	defer o.Close()
	w.Header().Set("ETag", `"`+strings.Trim(info.ETag, `"`)+`"`)
	http.ServeContent(w, r, replyFileName, info.LastModified, o)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// farmCloseSession assembles the upload under its name in the store and
// deletes the session. The finished object names its session in its
// metadata, so a Close-Session sent again, after the record is gone or
// after a server died between the two steps, is answered 200 again.
func (s *Server) farmCloseSession(p *packet) (http.Header, error) {
	ctx, cancel := s.storeContext(p)
	defer cancel()
	fs, h, unlock, err := s.farmOpenSession(ctx, p)
	if err != nil {
		if r := asRefusal(err); r.code == hresult.BG_E_SESSION_NOT_FOUND && h != nil {
			if key, _ := parseSessionID(strings.TrimSpace(p.r.Header.Get(uploadproto.HeaderSessionID))); key != "" {
				if by, _, err := s.store.finishedBy(ctx, s.store.fileName(p.vd.Folder, p.name)); err == nil && by == key {
					return h, nil
				}
			}
		}
		return h, err
	}
	defer unlock()
	switch {
	case !fs.live():
		return h, sessionNotFound()
	case fs.State == stateReceiving && p.vd.Notify != NotifyNone && fs.Total < 0:
		// An empty upload is notified at its first Close-Session.
		return s.farmLastAck(ctx, p, fs, h)
	case fs.State == stateReceiving && (p.vd.Notify != NotifyNone || fs.Total >= 0 && !fs.complete()):
		h.Set(uploadproto.HeaderReceived, strconv.FormatInt(fs.Received, 10))
		return h, badPacket("Close-Session before the upload is complete")
	case fs.State == stateReplied && !fs.CopyToDestination:
		// The application took the upload; nothing goes under its name.
	default:
		if err := s.farmCommit(ctx, p, fs); err != nil {
			return h, err
		}
	}
	if err := s.store.removeSession(ctx, fs.Key); err != nil {
		// The file is in place; the sweep deletes what is left.
		s.logf("session %s: removing from the store: %v", fs.Key, err)
	}
	s.limits.release(fs.Key)
	s.logf("session %s: closed, %d bytes", fs.Key, max(fs.Total, 0))
	return h, nil
}

// farmCommit assembles the upload under its name, unless it is there
// already from this session.
func (s *Server) farmCommit(ctx context.Context, p *packet, fs *farmSession) error {
	name := s.store.fileName(p.vd.Folder, fs.Name)
	by, exists, err := s.store.finishedBy(ctx, name)
	if err != nil {
		return storeFailure(err)
	}
	if exists && by != fs.Key && !p.vd.AllowOverwrites {
		return refuse(http.StatusConflict, hresult.E_ACCESSDENIED, "the destination exists")
	}
	if by != fs.Key {
		err := s.store.assemble(ctx, name, fs.Key, fs.frags, max(fs.Total, 0), p.vd.AllowOverwrites)
		if errors.Is(err, errStoreExists) {
			// Ours if a server racing this one finished it first.
			if by, _, err2 := s.store.finishedBy(ctx, name); err2 != nil || by != fs.Key {
				return refuse(http.StatusConflict, hresult.E_ACCESSDENIED, "the destination exists")
			}
		} else if err != nil {
			return storeFailure(err)
		}
	}
	return nil
}

// farmCancelSession deletes the session and its fragments. Once deleted
// a session is unknown, so a Cancel-Session sent again gets 404.
func (s *Server) farmCancelSession(p *packet) (http.Header, error) {
	ctx, cancel := s.storeContext(p)
	defer cancel()
	fs, h, unlock, err := s.farmOpenSession(ctx, p)
	if err != nil {
		return h, err
	}
	defer unlock()
	if err := s.store.removeSession(ctx, fs.Key); err != nil {
		return h, storeFailure(err)
	}
	s.limits.release(fs.Key)
	s.logf("session %s: cancelled", fs.Key)
	return h, nil
}

// recountEvery bounds how often a server at a session limit recounts the
// open sessions from the store.
const recountEvery = 5 * time.Second

// farmRecount counts the live sessions in the store, of every server,
// against the session limits, and stops counting those that ended; false
// if it did not run (too soon after the last one at a limit) or could not
// list them all. Between recounts each server counts what it saw itself.
func (s *Server) farmRecount(ctx context.Context) bool {
	s.recountMu.Lock()
	defer s.recountMu.Unlock()
	now := time.Now()
	if now.Sub(s.lastRecount) < recountEvery {
		return false
	}
	s.lastRecount = now
	return s.recount(ctx)
}

func (s *Server) recount(ctx context.Context) bool {
	gen := s.limits.beginSweep()
	keys, err := s.store.sessionKeys(ctx)
	if err != nil {
		return false
	}
	for _, key := range keys {
		sess, _, err := s.store.loadRecord(ctx, key)
		switch {
		case errors.Is(err, errNoSession):
		case err != nil:
			return false
		case sess.live():
			s.limits.found(key, sess.Client, sess.Updated, gen)
		}
	}
	s.limits.endSweep(gen)
	return true
}

// farmSweep deletes the sessions in the store idle past the timeout, and
// the assemblies of crashed servers as old. Every server of a farm sweeps;
// the claim on each record makes one of them delete it.
func (s *Server) farmSweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*s3Timeout)
	defer cancel()
	keys, err := s.store.sessionKeys(ctx)
	if err != nil {
		s.logf("cleanup of the store: %v", err)
		return
	}
	now := s.now()
	for _, key := range keys {
		unlock := s.sessions.lock(key)
		fs, err := s.loadFarmSession(ctx, key)
		switch {
		case errors.Is(err, errNoSession):
			// Fragments without a record: a server died while
			// deleting the session.
			frags, err := s.store.listFragments(ctx, key)
			if err == nil && len(frags) > 0 && now.Sub((&farmSession{session: &session{}, frags: frags}).lastActive()) > s.cfg.SessionTimeout {
				s.store.removeObjects(ctx, frags)
			}
		case err != nil:
			s.logf("cleanup of session %s: %v", key, err)
		case fs.State == stateExpiring:
			if now.Sub(fs.ClaimedAt) > claimTimeout {
				// The claimer died: claim it again.
				s.expireFarmSession(ctx, fs)
			}
		case now.Sub(fs.lastActive()) > s.cfg.SessionTimeout:
			s.expireFarmSession(ctx, fs)
		}
		unlock()
	}
	if err := s.store.abortStaleUploads(ctx, now.Add(-s.cfg.SessionTimeout)); err != nil {
		s.logf("cleanup of the store: %v", err)
	}
	s.recountMu.Lock()
	s.recount(ctx)
	s.recountMu.Unlock()
}

// serveStoredFile sends a finished upload from the store, with ranges
// and the store's ETag; false if p is not under a virtual directory.
func (s *Server) serveStoredFile(w http.ResponseWriter, r *http.Request, p string) bool {
	vd, rel := s.matchVdir(p)
	if vd == nil || rel == "" {
		return false
	}
	if _, status := fileName(p); status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
		return true
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	o, info, err := s.store.openFile(ctx, s.store.fileName(vd.Folder, rel))
	switch {
	case err != nil:
		s.logf("GET %q: %v", p, err)
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return true
	case o == nil:
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return true
	}
	defer o.Close()
	w.Header().Set("ETag", `"`+strings.Trim(info.ETag, `"`)+`"`)
	if s.rate > 0 {
		w = newPacedWriter(r.Context(), w, s.rate)
	}
	http.ServeContent(w, r, rel, info.LastModified, o)
	return true
}
