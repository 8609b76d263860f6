package http

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"log"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/uploadproto"
)

// bitsServer is an upload server for tests, written from the protocol's
// specification ([MC-BUP], the BITS server documentation) rather than from
// the client: Ping, Create-Session, Fragment, Close-Session and
// Cancel-Session, Acks with BITS-Received-Content-Range, 416 for a
// fragment that does not start at the next expected byte (checked before
// its length, as [MC-BUP] orders the rules), BITS-Error-Code and
// BITS-Error-Context on refusals, upload-reply replies at /replies/<id>.
// Uploads go to /up/<name>; files are kept in memory and appear under
// their name at Close-Session. Its knobs are set before the first request;
// faults and hooks may be armed at any time.
type bitsServer struct {
	srv *httptest.Server

	// Knobs.
	maxFragment  int64                      // > 0: 413 for bigger fragments
	misspell     bool                       // answer BITS-Recieved-Content-Range
	overlap      bool                       // take fragments that start inside what is held, as the win32 docs describe
	reply        func(upload []byte) []byte // upload-reply: the server application's reply
	replyOnClose bool                       // give BITS-Reply-URL on the Close-Session Ack, relative
	user, pass   string                     // Basic authentication when user is set
	stall        chan struct{}              // set: fragments are never read, until it is closed
	http2        bool                       // offer HTTP/2 over TLS
	lengthFirst  bool                       // check a fragment's length before its session and offset
	hostID       string                     // set: Create-Session names this host (BITS-Host-Id)
	hostFallback string                     // with hostID: BITS-Host-Id-Fallback-Timeout

	mu       sync.Mutex
	files    map[string][]byte // by path
	sessions map[string]*bitsSession
	replies  map[string][]byte // by session id
	denied   map[string]bool   // paths
	cuts     map[string]int64  // path: fragment bytes to read before cutting the connection
	early    int64             // > 0: answer the next fragment 503 after reading this much of it
	faults   []bitsFault
	hook     func(packet string, s *bitsSession) // called with mu held, before a packet is handled
	stored   func(s *bitsSession)                // called with mu held, after a fragment is stored
	log      []bitsRequest
}

type bitsSession struct {
	id    string
	path  string
	data  []byte
	total int64 // -1 until the first fragment
}

// bitsFault answers the next packet of its type instead of the server.
type bitsFault struct {
	packet string
	status int
	header map[string]string
}

// bitsRequest is one request as the server saw it.
type bitsRequest struct {
	method, path, packet, session string
	proto                         string
	header                        nethttp.Header
	contentRange, expect, auth    string
	status                        int
	bodyRead                      int64 // body bytes the server read
	hasLength                     bool  // the request carried a Content-Length
	host                          string
}

func newBITSServer(t testing.TB, useTLS bool, knobs func(*bitsServer)) *bitsServer {
	t.Helper()
	b := &bitsServer{
		files: map[string][]byte{}, sessions: map[string]*bitsSession{}, replies: map[string][]byte{},
		denied: map[string]bool{}, cuts: map[string]int64{},
	}
	if knobs != nil {
		knobs(b)
	}
	b.srv = httptest.NewUnstartedServer(b)
	b.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		b.srv.EnableHTTP2 = b.http2
		b.srv.StartTLS()
	} else {
		b.srv.Start()
	}
	t.Cleanup(b.srv.Close)
	if b.stall != nil {
		t.Cleanup(func() { close(b.stall) }) // runs first: handlers return before Close waits for them
	}
	return b
}

// transport returns a Transport that trusts the server.
func (b *bitsServer) transport(t testing.TB, o Options) *Transport {
	if cert := b.srv.Certificate(); cert != nil && o.TLSConfig == nil {
		o.TLSConfig = b.tlsConfig()
	}
	tr := New(o)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// tlsConfig trusts the server's certificate.
func (b *bitsServer) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(b.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func (b *bitsServer) path(name string) string { return "/up/" + url.PathEscape(name) }

func (b *bitsServer) fault(f bitsFault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults = append(b.faults, f)
}

func (b *bitsServer) setHook(h func(packet string, s *bitsSession)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hook = h
}

func (b *bitsServer) requests() []bitsRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

// dropSessions forgets every session, as a server restart or its session
// timeout would.
func (b *bitsServer) dropSessions() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.sessions)
}

// The transporttest.UploadServer methods.

func (b *bitsServer) Put(t testing.TB, name string, content []byte) *transport.Request {
	b.mu.Lock()
	b.files[b.path(name)] = slices.Clone(content)
	b.mu.Unlock()
	return b.Request(t, name)
}

func (b *bitsServer) Request(t testing.TB, name string) *transport.Request {
	t.Helper()
	u, err := url.Parse(b.srv.URL + b.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Request{URL: u}
}

func (b *bitsServer) Deny(t testing.TB, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.denied[b.path(name)] = true
}

func (b *bitsServer) Change(t testing.TB, name string, content []byte) { b.Put(t, name, content) }

func (b *bitsServer) CutNext(t testing.TB, name string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cuts[b.path(name)] = n
	return true
}

func (b *bitsServer) Read(t testing.TB, name string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.files[b.path(name)]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return slices.Clone(c), nil
}

func (b *bitsServer) Leftovers(t testing.TB, name string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var left []string
	for id, s := range b.sessions {
		if s.path == b.path(name) {
			left = append(left, "session "+id)
		}
	}
	return left
}

// ServeHTTP answers one request.
func (b *bitsServer) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	rec := &bitsRequest{
		method: r.Method, path: r.URL.Path, proto: r.Proto, header: r.Header.Clone(), packet: r.Header.Get("BITS-Packet-Type"),
		session: r.Header.Get("BITS-Session-Id"), contentRange: r.Header.Get("Content-Range"),
		expect: r.Header.Get("Expect"), auth: r.Header.Get("Authorization"),
		hasLength: len(r.Header.Values("Content-Length")) > 0, host: r.Host,
	}
	sw := &statusWriter{ResponseWriter: w, status: 200}
	defer func() {
		rec.status = sw.status
		b.mu.Lock()
		b.log = append(b.log, *rec)
		b.mu.Unlock()
	}()
	if u, p, ok := r.BasicAuth(); b.user != "" && (!ok || u != b.user || p != b.pass) {
		sw.Header().Set("WWW-Authenticate", `Basic realm="bits"`)
		sw.WriteHeader(nethttp.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == nethttp.MethodGet && strings.HasPrefix(r.URL.Path, "/replies/"):
		b.serveReply(sw, strings.TrimPrefix(r.URL.Path, "/replies/"))
		return
	case r.Method != uploadproto.Method:
		sw.Header().Set("Allow", uploadproto.Method)
		sw.WriteHeader(nethttp.StatusMethodNotAllowed)
		return
	}
	if b.answerFault(sw, rec.packet) {
		return
	}
	switch strings.ToLower(rec.packet) {
	case "ping":
		ackWith(sw, "", 200)
	case "create-session":
		b.createSession(sw, r)
	case "fragment":
		rec.bodyRead = b.fragment(sw, r)
	case "close-session":
		b.closeSession(sw, r)
	case "cancel-session":
		b.cancelSession(sw, r)
	default:
		refuse(sw, 400, hresult.E_INVALIDARG, hresult.ContextRemoteFile)
	}
}

func (b *bitsServer) answerFault(w nethttp.ResponseWriter, packet string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, f := range b.faults {
		if strings.EqualFold(f.packet, packet) {
			b.faults = slices.Delete(b.faults, i, i+1)
			h := w.Header()
			h.Set("BITS-Packet-Type", "Ack")
			h.Set("Content-Length", "0")
			for k, v := range f.header {
				h.Set(k, v)
			}
			w.WriteHeader(f.status)
			return true
		}
	}
	return false
}

func (b *bitsServer) createSession(w nethttp.ResponseWriter, r *nethttp.Request) {
	offered := strings.FieldsFunc(r.Header.Get("BITS-Supported-Protocols"), func(c rune) bool { return c == ' ' || c == ',' })
	if !slices.ContainsFunc(offered, func(g string) bool { return strings.EqualFold(g, uploadproto.Protocol) }) {
		refuse(w, 400, hresult.BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH, hresult.ContextRemoteFile)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.denied[r.URL.Path] {
		refuse(w, 403, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile)
		return
	}
	s := &bitsSession{id: newGUID(), path: r.URL.Path, total: -1}
	b.sessions[s.id] = s
	w.Header().Set("BITS-Protocol", strings.ToUpper(uploadproto.Protocol))
	w.Header().Set("Accept-Encoding", "Identity")
	if b.hostID != "" {
		w.Header().Set("BITS-Host-Id", b.hostID)
		if b.hostFallback != "" {
			w.Header().Set("BITS-Host-Id-Fallback-Timeout", b.hostFallback)
		}
	}
	ackWith(w, s.id, 201)
}

// session finds the session a packet names, or answers that there is
// none; called with mu held.
func (b *bitsServer) session(w nethttp.ResponseWriter, r *nethttp.Request) *bitsSession {
	s := b.sessions[r.Header.Get("BITS-Session-Id")]
	if s == nil || s.path != r.URL.Path {
		refuse(w, 500, hresult.BG_E_SESSION_NOT_FOUND, hresult.ContextRemoteFile)
		return nil
	}
	if b.hook != nil {
		b.hook(r.Header.Get("BITS-Packet-Type"), s)
	}
	return s
}

// fragment takes a Fragment and returns how many body bytes it read.
func (b *bitsServer) fragment(w nethttp.ResponseWriter, r *nethttp.Request) int64 {
	if first, last, _, ok := strictRange(r.Header.Get("Content-Range")); b.lengthFirst && (!ok || r.ContentLength != last-first+1) {
		refuse(w, 400, hresult.E_INVALIDARG, hresult.ContextRemoteFile)
		return 0
	}
	b.mu.Lock()
	s := b.session(w, r)
	if s == nil {
		b.mu.Unlock()
		return 0
	}
	first, last, total, ok := strictRange(r.Header.Get("Content-Range"))
	held := int64(len(s.data))
	var skip int64 // bytes of the body already held
	switch {
	case !ok || (s.total >= 0 && total != s.total):
		b.mu.Unlock()
		refuse(w, 400, hresult.E_INVALIDARG, hresult.ContextRemoteFile)
		return 0
	case first == held:
	case b.overlap && last < held:
		b.mu.Unlock()
		b.received(w, s.id, held, 200) // nothing new: the body is not wanted
		return 0
	case b.overlap && first < held:
		skip = held - first
	default:
		b.mu.Unlock()
		b.received(w, s.id, held, nethttp.StatusRequestedRangeNotSatisfiable)
		return 0
	}
	n := last - first + 1
	if r.ContentLength != n {
		b.mu.Unlock()
		refuse(w, 400, hresult.E_INVALIDARG, hresult.ContextRemoteFile)
		return 0
	}
	if b.maxFragment > 0 && n > b.maxFragment {
		b.mu.Unlock()
		refuse(w, nethttp.StatusRequestEntityTooLarge, 0, 0)
		return 0
	}
	// A cut counts the bytes of the fragments that cross the connection.
	cut, cutting := b.cuts[s.path]
	switch {
	case cutting && cut >= n:
		b.cuts[s.path] = cut - n
		cutting = false
	case cutting:
		delete(b.cuts, s.path)
	}
	early := b.early
	b.early = 0
	b.mu.Unlock()

	if early > 0 {
		got, _ := io.ReadFull(r.Body, make([]byte, min(early, n)))
		refuse(w, nethttp.StatusServiceUnavailable, 0, 0)
		return int64(got)
	}
	if b.stall != nil {
		<-b.stall
		return 0
	}
	if cutting {
		got, _ := io.ReadFull(r.Body, make([]byte, cut))
		if conn, _, err := nethttp.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return int64(got)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return 0 // the client went away; it will ask where to resume
	}

	b.mu.Lock()
	if b.sessions[s.id] != s {
		b.mu.Unlock()
		refuse(w, 500, hresult.BG_E_SESSION_NOT_FOUND, hresult.ContextRemoteFile)
		return n
	}
	if now := int64(len(s.data)); now != held {
		// Another fragment landed while this one was read (one the client
		// gave up on, finished all the same): the true offset, as IIS
		// answers a fragment that does not start there.
		b.mu.Unlock()
		b.received(w, s.id, now, nethttp.StatusRequestedRangeNotSatisfiable)
		return n
	}
	s.total = total
	s.data = append(s.data, body[skip:]...)
	if b.stored != nil {
		b.stored(s)
	}
	held = int64(len(s.data))
	if b.reply != nil && !b.replyOnClose && held == total {
		b.replies[s.id] = b.reply(s.data)
		w.Header().Set("BITS-Reply-URL", b.srv.URL+"/replies/"+s.id)
	}
	b.mu.Unlock()
	b.received(w, s.id, held, 200)
	return n
}

func (b *bitsServer) received(w nethttp.ResponseWriter, id string, held int64, status int) {
	name := "BITS-Received-Content-Range"
	if b.misspell {
		name = "BITS-Recieved-Content-Range"
	}
	w.Header().Set(name, strconv.FormatInt(held, 10))
	ackWith(w, id, status)
}

func (b *bitsServer) closeSession(w nethttp.ResponseWriter, r *nethttp.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.session(w, r)
	if s == nil {
		return
	}
	if s.total >= 0 && int64(len(s.data)) != s.total {
		refuse(w, 400, hresult.E_INVALIDARG, hresult.ContextRemoteFile)
		return
	}
	b.files[s.path] = s.data
	delete(b.sessions, s.id)
	if b.reply != nil && b.replyOnClose {
		b.replies[s.id] = b.reply(s.data)
		w.Header().Set("BITS-Reply-URL", "/replies/"+s.id)
	}
	ackWith(w, s.id, 200)
}

func (b *bitsServer) cancelSession(w nethttp.ResponseWriter, r *nethttp.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.session(w, r)
	if s == nil {
		return
	}
	delete(b.sessions, s.id)
	delete(b.replies, s.id)
	ackWith(w, s.id, 200)
}

func (b *bitsServer) serveReply(w nethttp.ResponseWriter, id string) {
	b.mu.Lock()
	reply, ok := b.replies[id]
	b.mu.Unlock()
	if !ok {
		w.WriteHeader(nethttp.StatusNotFound)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
	w.Write(reply)
}

func ackWith(w nethttp.ResponseWriter, session string, status int) {
	h := w.Header()
	h.Set("BITS-Packet-Type", "Ack")
	h.Set("Content-Length", "0")
	if session != "" {
		h.Set("BITS-Session-Id", session)
	}
	w.WriteHeader(status)
}

// refuse answers with an error Ack; code 0 sends no error headers.
func refuse(w nethttp.ResponseWriter, status int, code hresult.Code, where hresult.Context) {
	if code != 0 {
		w.Header().Set("BITS-Error-Code", fmt.Sprintf("0x%08X", uint32(code)))
		w.Header().Set("BITS-Error-Context", fmt.Sprintf("0x%X", int(where)))
	}
	ackWith(w, "", status)
}

// strictRange parses "bytes first-last/total" as RFC 9110 defines it.
func strictRange(v string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	var extra string
	if n, _ := fmt.Sscanf(rest, "%d-%d/%d%s", &first, &last, &total, &extra); n != 3 {
		return 0, 0, 0, false
	}
	if strings.ContainsAny(rest, "+ ") || first < 0 || last < first || last >= total {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

func newGUID() string {
	var g [16]byte
	rand.Read(g[:])
	return fmt.Sprintf("{%X-%X-%X-%X-%X}", g[0:4], g[4:6], g[6:8], g[8:10], g[10:])
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	nethttp.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Unwrap() nethttp.ResponseWriter { return s.ResponseWriter }
