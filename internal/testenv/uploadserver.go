package testenv

// This file is a BITS upload server ([MC-BUP], reference §6) written from
// the reference alone, without the project's server/ package or its
// client, so that the client is tested against behaviour the project did
// not write. By default it is as strict as Windows' IIS extension; options
// give it the quirks of other real servers, and faults can be switched on
// while it runs.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// uploadProtocol is the only upload protocol [MC-BUP] defines.
	uploadProtocol = "{7df0354d-249b-430f-820d-3d2a9bef4931}"

	hrInvalidArg       = "0x80070057" // E_INVALIDARG
	hrSessionNotFound  = "0x8020001F" // BG_E_SESSION_NOT_FOUND
	hrTooLarge         = "0x80200020" // BG_E_TOO_LARGE
	errorContextRemote = "0x5"        // BG_ERROR_CONTEXT_REMOTE_FILE

	maxUploadHeader = 4096 // Windows refuses longer header values
	// maxUploadHeld bounds what Lax may allocate for a claimed offset far
	// past what it holds; a real server would write a sparse file.
	maxUploadHeld = 1 << 30
)

// An UploadServer is a BITS upload server for tests. It keeps sessions and
// committed files in memory, and records every request but the downloads
// of replies.
type UploadServer struct {
	// Server is the running server.
	Server *httptest.Server

	cfg       uploadConfig
	done      chan struct{} // closed by Close: wakes paced reads
	closeOnce sync.Once

	mu          sync.Mutex
	conns       map[net.Conn]int64
	lastConn    int64
	lastSession int
	sessions    map[string]*uploadSession
	files       map[string][]byte
	replies     map[string][]byte // by URL path
	packets     []UploadPacket
	cutNext     int64 // cut the next fragment after this many body bytes; -1: none
}

// UploadPacket is one request as the server saw it, with its answer.
type UploadPacket struct {
	Method           string // BITS_POST, unless a client got it wrong
	Type             string // BITS-Packet-Type as sent
	Session          string // BITS-Session-Id as sent
	HasContentLength bool
	ContentLength    int64 // -1 when absent
	ContentRange     string
	BodyBytes        int64 // body bytes read
	Status           int   // 0: no answer (a cut, or the client went away)
	ErrorCode        string
	Received         string // BITS-Received-Content-Range answered (either spelling)
	Conn             int64  // which TCP connection carried it, from 1
	Host             string // the Host header
}

type uploadConfig struct {
	answer411          bool
	lax                bool
	perConnection      bool
	misspellReceived   bool
	nonGUIDSessions    bool
	closeEveryAnswer   bool
	reply              func(path string, body []byte) []byte
	bodyBytesPerSecond int64
}

// An UploadOption gives an UploadServer the quirk of some real server.
type UploadOption func(*uploadConfig)

// Answer411 answers a packet without Content-Length with 411, as [MC-BUP]
// says, instead of Windows' 400.
func Answer411() UploadOption { return func(c *uploadConfig) { c.answer411 = true } }

// Lax makes the server behave like lax public servers: packets need no
// Content-Length, and a Fragment is taken as it claims to be. Its body is
// written at the claimed first offset (holes stay zero), the answer is
// the claimed last offset + 1 even when the body is empty, and
// Close-Session commits whatever is held.
func Lax() UploadOption { return func(c *uploadConfig) { c.lax = true } }

// PerConnectionSessions ties a session to the TCP connection that created
// it: on any other connection, and once that one closed, it is unknown.
func PerConnectionSessions() UploadOption { return func(c *uploadConfig) { c.perConnection = true } }

// MisspelledReceived sends BITS-Recieved-Content-Range, as the GoBITS
// server does, instead of BITS-Received-Content-Range.
func MisspelledReceived() UploadOption { return func(c *uploadConfig) { c.misspellReceived = true } }

// NonGUIDSessions hands out session ids s1, s2, ... instead of GUIDs.
func NonGUIDSessions() UploadOption { return func(c *uploadConfig) { c.nonGUIDSessions = true } }

// CloseAfterEveryAnswer sends Connection: close with every answer, so that
// every packet comes on a new connection.
func CloseAfterEveryAnswer() UploadOption { return func(c *uploadConfig) { c.closeEveryAnswer = true } }

// UploadReply makes uploads upload-reply: when a session holds its whole
// file, reply(path, content) is the reply, which the server serves (GET
// and HEAD) at the BITS-Reply-URL that the final fragment's answer names,
// until Close-Session or Cancel-Session.
func UploadReply(reply func(path string, body []byte) []byte) UploadOption {
	return func(c *uploadConfig) { c.reply = reply }
}

// UploadRateLimit reads fragment bodies at most bytesPerSecond fast, so a
// test can act while an upload is in the middle.
func UploadRateLimit(bytesPerSecond int64) UploadOption {
	return func(c *uploadConfig) { c.bodyBytesPerSecond = bytesPerSecond }
}

type uploadSession struct {
	id        string
	path      string // the URL path it uploads to
	conn      int64  // the connection that created it
	data      []byte
	total     int64  // -1 until a fragment is taken
	replyPath string // "" until the reply is made
}

// uploadAck is an answer before it is written.
type uploadAck struct {
	status    int
	errorCode string // BITS-Error-Code; "" on success and on 416
	session   string // BITS-Session-Id
	received  int64  // BITS-Received-Content-Range; -1: none
	replyURL  string
	created   bool // a new session: BITS-Protocol and Accept-Encoding
	noAnswer  bool // the connection is to be dropped instead
}

type uploadConnKey struct{}

// NewUploadServer starts an upload server on 127.0.0.1 over HTTP/1.1,
// closed when the test ends.
func NewUploadServer(tb testing.TB, opts ...UploadOption) *UploadServer {
	tb.Helper()
	s := &UploadServer{
		done:     make(chan struct{}),
		conns:    map[net.Conn]int64{},
		sessions: map[string]*uploadSession{},
		files:    map[string][]byte{},
		replies:  map[string][]byte{},
		cutNext:  -1,
	}
	for _, opt := range opts {
		opt(&s.cfg)
	}
	s.Server = httptest.NewUnstartedServer(s)
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // cuts are on purpose
	s.Server.Config.ConnContext = s.connContext
	s.Server.Config.ConnState = s.connState
	s.Server.Start()
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server and wakes paced reads.
func (s *UploadServer) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// URL returns the absolute URL of path on the server.
func (s *UploadServer) URL(path string) string { return s.Server.URL + path }

// CutNextFragment closes the connection of the next Fragment whose body
// the server reads after afterBytes bytes of it (all of it, if shorter),
// without an answer. The bytes read are not kept.
func (s *UploadServer) CutNextFragment(afterBytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutNext = afterBytes
}

// Packets returns the requests received so far, oldest first. A request
// is recorded before it is answered.
func (s *UploadServer) Packets() []UploadPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]UploadPacket(nil), s.packets...)
}

// File returns the file committed at URL path, if any.
func (s *UploadServer) File(path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[path]
	return bytes.Clone(b), ok
}

// OpenSessions returns how many sessions are neither closed nor cancelled.
func (s *UploadServer) OpenSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *UploadServer) connContext(ctx context.Context, c net.Conn) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastConn++
	s.conns[c] = s.lastConn
	return context.WithValue(ctx, uploadConnKey{}, s.lastConn)
}

// connState forgets a connection that ended, and with PerConnectionSessions
// the sessions it created.
func (s *UploadServer) connState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.conns[c]
	if !ok {
		return
	}
	delete(s.conns, c)
	if !s.cfg.perConnection {
		return
	}
	for _, sess := range s.sessions {
		if sess.conn == id {
			s.dropLocked(sess)
		}
	}
}

// ServeHTTP serves replies to GET and HEAD and answers every other
// request as a BITS packet.
func (s *UploadServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		s.serveReply(w, r)
		return
	}
	conn, _ := r.Context().Value(uploadConnKey{}).(int64)
	p := UploadPacket{
		Method:           r.Method,
		Type:             r.Header.Get("BITS-Packet-Type"),
		Session:          r.Header.Get("BITS-Session-Id"),
		HasContentLength: len(r.Header.Values("Content-Length")) > 0,
		ContentLength:    -1,
		ContentRange:     r.Header.Get("Content-Range"),
		Conn:             conn,
		Host:             r.Host,
	}
	if p.HasContentLength {
		p.ContentLength = r.ContentLength
	}
	a := s.answer(r, conn, &p)
	p.Status, p.ErrorCode = a.status, a.errorCode
	if a.received >= 0 {
		p.Received = strconv.FormatInt(a.received, 10)
	}
	s.mu.Lock()
	s.packets = append(s.packets, p)
	s.mu.Unlock()
	if a.noAnswer {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	s.writeAck(w, a)
}

func (s *UploadServer) writeAck(w http.ResponseWriter, a uploadAck) {
	h := w.Header()
	// Header names as the reference spells them; Go would canonicalize
	// them to Bits-..., which clients must accept but Windows never sends.
	set := func(name, value string) { h[name] = []string{value} }
	set("BITS-Packet-Type", "Ack")
	if a.session != "" {
		set("BITS-Session-Id", a.session)
	}
	if a.created {
		set("BITS-Protocol", uploadProtocol)
		set("Accept-Encoding", "Identity")
	}
	if a.received >= 0 {
		name := "BITS-Received-Content-Range"
		if s.cfg.misspellReceived {
			name = "BITS-Recieved-Content-Range"
		}
		set(name, strconv.FormatInt(a.received, 10))
	}
	if a.replyURL != "" {
		set("BITS-Reply-URL", a.replyURL)
	}
	if a.errorCode != "" {
		set("BITS-Error-Code", a.errorCode)
		set("BITS-Error-Context", errorContextRemote)
	}
	if s.cfg.closeEveryAnswer {
		h.Set("Connection", "close")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(a.status)
}

func (s *UploadServer) answer(r *http.Request, conn int64, p *UploadPacket) uploadAck {
	if r.Method != "BITS_POST" {
		return uploadRefusal(http.StatusMethodNotAllowed, "")
	}
	if !s.cfg.lax {
		for _, vs := range r.Header {
			for _, v := range vs {
				if len(v) > maxUploadHeader {
					return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
				}
			}
		}
		if !p.HasContentLength {
			if s.cfg.answer411 {
				return uploadRefusal(http.StatusLengthRequired, hrInvalidArg)
			}
			return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
		}
	}
	switch strings.ToLower(strings.TrimSpace(p.Type)) {
	case "ping":
		return uploadAck{status: http.StatusOK, received: -1}
	case "create-session":
		return s.createSession(r, conn)
	case "fragment":
		return s.fragment(r, conn, p)
	case "close-session":
		return s.closeSession(r, conn)
	case "cancel-session":
		return s.cancelSession(r, conn)
	}
	return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
}

func uploadRefusal(status int, errorCode string) uploadAck {
	return uploadAck{status: status, errorCode: errorCode, received: -1}
}

func (s *UploadServer) createSession(r *http.Request, conn int64) uploadAck {
	offered := strings.FieldsFunc(r.Header.Get("BITS-Supported-Protocols"), func(c rune) bool {
		return c == ' ' || c == ',' || c == '\t'
	})
	known := false
	for _, g := range offered {
		known = known || strings.EqualFold(g, uploadProtocol)
	}
	if !known {
		return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSession++
	id := fmt.Sprintf("s%d", s.lastSession)
	if !s.cfg.nonGUIDSessions {
		id = newGUID()
	}
	s.sessions[id] = &uploadSession{id: id, path: r.URL.Path, conn: conn, total: -1}
	return uploadAck{status: http.StatusOK, session: id, received: -1, created: true}
}

// newGUID returns a random GUID as Windows writes one: upper case, in braces.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("{%X-%X-%X-%X-%X}", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// sessionLocked finds the packet's session, which must be at the URL it
// was created for (and, with PerConnectionSessions, on its connection).
func (s *UploadServer) sessionLocked(r *http.Request, conn int64) (*uploadSession, uploadAck, bool) {
	id := r.Header.Get("BITS-Session-Id")
	if id == "" {
		return nil, uploadRefusal(http.StatusBadRequest, hrInvalidArg), false
	}
	sess := s.sessions[id]
	if sess == nil || sess.path != r.URL.Path || s.cfg.perConnection && sess.conn != conn {
		return nil, uploadRefusal(http.StatusInternalServerError, hrSessionNotFound), false
	}
	return sess, uploadAck{}, true
}

func (s *UploadServer) dropLocked(sess *uploadSession) {
	delete(s.sessions, sess.id)
	if sess.replyPath != "" {
		delete(s.replies, sess.replyPath)
	}
}

func (s *UploadServer) fragment(r *http.Request, conn int64, p *UploadPacket) uploadAck {
	s.mu.Lock()
	cutAt := s.cutNext
	s.cutNext = -1
	s.mu.Unlock()
	body, cut, err := s.readFragment(r, cutAt)
	p.BodyBytes = int64(len(body))
	if cut || err != nil {
		return uploadAck{noAnswer: true, received: -1}
	}
	first, last, total, ok := parseFragmentRange(p.ContentRange)

	s.mu.Lock()
	sess, a, found := s.sessionLocked(r, conn)
	if !found {
		s.mu.Unlock()
		return a
	}
	if !ok {
		s.mu.Unlock()
		return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
	}
	if s.cfg.lax {
		a = s.takeClaimedLocked(sess, first, last, body)
	} else {
		a = s.takeStrictLocked(sess, r, first, last, total, body)
	}
	final := last == total-1 && (a.status == http.StatusOK || a.status == http.StatusRequestedRangeNotSatisfiable)
	makeReply := final && s.cfg.reply != nil && sess.replyPath == "" && a.status == http.StatusOK
	var content []byte
	if makeReply {
		content = bytes.Clone(sess.data)
	}
	s.mu.Unlock()

	if !final || s.cfg.reply == nil {
		return a
	}
	if makeReply {
		// The application is the test's code: it runs outside the lock.
		reply := s.cfg.reply(sess.path, content)
		s.mu.Lock()
		if s.sessions[sess.id] == sess {
			sess.replyPath = path.Join(path.Dir(sess.path), "BITS-Sessions", "Replies", sess.id, "response")
			s.replies[sess.replyPath] = bytes.Clone(reply)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	replyPath := sess.replyPath
	s.mu.Unlock()
	if replyPath != "" {
		a.replyURL = (&url.URL{Scheme: "http", Host: r.Host, Path: replyPath}).String()
	}
	return a
}

// takeStrictLocked takes only a fragment that continues exactly what the
// session holds, as Windows does.
func (s *UploadServer) takeStrictLocked(sess *uploadSession, r *http.Request, first, last, total int64, body []byte) uploadAck {
	held := int64(len(sess.data))
	switch enc := r.Header.Get("Content-Encoding"); {
	case last >= total, int64(len(body)) != last-first+1:
		return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
	case enc != "" && !strings.EqualFold(enc, "identity"):
		return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
	case sess.total >= 0 && total != sess.total:
		return uploadRefusal(http.StatusBadRequest, hrInvalidArg)
	case first != held:
		a := uploadRefusal(http.StatusRequestedRangeNotSatisfiable, "")
		a.session, a.received = sess.id, held
		return a
	}
	sess.total = total
	sess.data = append(sess.data, body...)
	return uploadAck{status: http.StatusOK, session: sess.id, received: last + 1}
}

// takeClaimedLocked writes the body where the fragment says it starts and
// acknowledges what it claims, as lax servers do.
func (s *UploadServer) takeClaimedLocked(sess *uploadSession, first, last int64, body []byte) uploadAck {
	end := first + int64(len(body))
	if end > maxUploadHeld {
		return uploadRefusal(http.StatusInternalServerError, hrTooLarge)
	}
	if len(body) > 0 && end > int64(len(sess.data)) {
		sess.data = append(sess.data, make([]byte, end-int64(len(sess.data)))...)
	}
	copy(sess.data[min(first, int64(len(sess.data))):], body)
	return uploadAck{status: http.StatusOK, session: sess.id, received: last + 1}
}

func (s *UploadServer) closeSession(r *http.Request, conn int64) uploadAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, a, ok := s.sessionLocked(r, conn)
	if !ok {
		return a
	}
	// With no fragment taken the total is unknown: that is an empty upload.
	complete := sess.total < 0 && len(sess.data) == 0 || int64(len(sess.data)) == sess.total
	if !s.cfg.lax && !complete {
		a := uploadRefusal(http.StatusBadRequest, hrInvalidArg)
		a.session = sess.id
		return a
	}
	s.files[sess.path] = sess.data
	s.dropLocked(sess)
	return uploadAck{status: http.StatusOK, session: sess.id, received: -1}
}

func (s *UploadServer) cancelSession(r *http.Request, conn int64) uploadAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, a, ok := s.sessionLocked(r, conn)
	if !ok {
		return a
	}
	s.dropLocked(sess)
	return uploadAck{status: http.StatusOK, session: sess.id, received: -1}
}

// readFragment reads a fragment's body, no faster than the rate limit.
// With cutAt >= 0 it stops after that many bytes (or at the body's end)
// and reports a cut.
func (s *UploadServer) readFragment(r *http.Request, cutAt int64) (body []byte, cut bool, err error) {
	rate := s.cfg.bodyBytesPerSecond
	buf := make([]byte, 32<<10)
	if rate > 0 {
		buf = buf[:min(int64(len(buf)), max(rate/50, 1))] // about 20ms a read
	}
	start := time.Now()
	for {
		want := int64(len(buf))
		if cutAt >= 0 {
			if int64(len(body)) >= cutAt {
				return body, true, nil
			}
			want = min(want, cutAt-int64(len(body)))
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(len(body)) / float64(rate) * float64(time.Second)))
			if err := s.sleep(r.Context(), time.Until(due)); err != nil {
				return body, false, err
			}
		}
		n, err := r.Body.Read(buf[:want])
		body = append(body, buf[:n]...)
		switch {
		case err == io.EOF:
			return body, cutAt >= 0, nil
		case err != nil:
			return body, false, err
		}
	}
}

var errUploadServerClosed = errors.New("testenv: upload server closed")

// sleep waits d, unless the client or the server goes first.
func (s *UploadServer) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errUploadServerClosed
	}
}

// serveReply serves an upload-reply's reply, with ranges as a download
// origin would.
func (s *UploadServer) serveReply(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	reply, ok := s.replies[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(reply))
}

// parseFragmentRange reads "bytes first-last/total", first <= last.
func parseFragmentRange(v string) (first, last, total int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, size, found := strings.Cut(spec, "/")
	a, b, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	first, ok1 := parseOffset(a)
	last, ok2 := parseOffset(b)
	total, ok3 := parseOffset(size)
	return first, last, total, ok1 && ok2 && ok3 && first <= last
}

// parseOffset reads a decimal without sign or blanks.
func parseOffset(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
