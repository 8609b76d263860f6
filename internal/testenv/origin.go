// Package testenv starts real servers for tests and benchmarks. This file
// holds an HTTP origin that serves one file and injects the faults BITS must
// survive: no ranges, a wrong Content-Range, cut connections, a file that
// changes mid-transfer, error statuses, a slow first byte and a slow link.
package testenv

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// An Origin serves one file at /file; every other path is 404 unless
// added with Handle. Faults are chosen with OriginOptions.
type Origin struct {
	// Server is the running server; nil for an Origin from NewOriginHandler.
	Server *httptest.Server

	cfg       originConfig
	mux       *nethttp.ServeMux
	done      chan struct{}
	closeOnce sync.Once

	active atomic.Int64 // requests being served

	mu       sync.Mutex
	content  []byte
	etag     string
	modTime  time.Time
	gen      int
	served   int64 // body bytes sent by all responses
	changed  bool  // ChangeAfter has fired
	nFile    int   // requests for /file so far
	nCut     int   // responses cut so far
	requests []Request

	// Faults set while the origin runs, for suites that arrange each case
	// on a running server.
	status  int   // answer every request for /file with it; 0: serve
	cutNext int64 // cut the next GET of /file after this many bytes; -1: none
}

// Request is one request as the origin saw it.
type Request struct {
	Method  string
	Path    string
	Range   string
	IfRange string
	Time    time.Time
	Proto   string         // "HTTP/1.1", "HTTP/2.0"
	Header  nethttp.Header // all the request's headers
}

type originConfig struct {
	noRanges, wrongRange, noLength bool
	noETag, noLastModified         bool

	cutAfter int64 // -1: never
	cutTimes int   // <= 0: every response

	changeAfter int64
	changeTo    []byte

	failTimes  int
	failStatus int
	failHeader nethttp.Header

	headStatus int
	firstByte  time.Duration
	rate       int64 // body bytes per second; 0: unlimited

	http2     bool
	serverTLS *tls.Config
	digests   []servedDigest
	extra     nethttp.Header
}

// servedDigest is one digest header the origin computes from its content.
type servedDigest struct {
	field string
	algs  []string
}

// An OriginOption sets how an Origin misbehaves.
type OriginOption func(*originConfig)

// NoRanges makes the origin ignore Range and If-Range: every GET gets 200
// and the whole body, and no Accept-Ranges is sent.
func NoRanges() OriginOption { return func(c *originConfig) { c.noRanges = true } }

// WrongContentRange answers a range request with a 206 whose range starts
// elsewhere than asked.
func WrongContentRange() OriginOption { return func(c *originConfig) { c.wrongRange = true } }

// NoContentLength serves dynamic content: no Content-Length on HEAD, a
// chunked 200 with the whole body on GET, no ranges.
func NoContentLength() OriginOption { return func(c *originConfig) { c.noLength = true } }

// NoETag drops the ETag header.
func NoETag() OriginOption { return func(c *originConfig) { c.noETag = true } }

// NoLastModified drops the Last-Modified header.
func NoLastModified() OriginOption { return func(c *originConfig) { c.noLastModified = true } }

// CutAfter closes the connection after n body bytes of each of the first
// times GET responses (every response when times <= 0), without finishing
// the body. Responses shorter than n are not cut and do not count.
func CutAfter(n int64, times int) OriginOption {
	return func(c *originConfig) { c.cutAfter, c.cutTimes = n, times }
}

// ChangeAfter replaces the content (and so the ETag and Last-Modified) once
// n body bytes have been served in total. A response in flight keeps
// sending the old bytes, as a server streaming a replaced file would.
func ChangeAfter(n int64, content []byte) OriginOption {
	return func(c *originConfig) { c.changeAfter, c.changeTo = n, bytes.Clone(content) }
}

// FailFirst answers the first times requests for /file (HEAD included) with
// status, plus the given header name/value pairs, e.g.
// FailFirst(1, 503, "Retry-After", "7").
func FailFirst(times, status int, header ...string) OriginOption {
	return func(c *originConfig) {
		c.failTimes, c.failStatus = times, status
		c.failHeader = nethttp.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			c.failHeader.Add(header[i], header[i+1])
		}
	}
}

// HeadStatus answers every HEAD with status, e.g. 405 for a server that
// does not implement HEAD.
func HeadStatus(status int) OriginOption { return func(c *originConfig) { c.headStatus = status } }

// SlowFirstByte waits d before sending headers, or less if the client goes.
func SlowFirstByte(d time.Duration) OriginOption { return func(c *originConfig) { c.firstByte = d } }

// RateLimit paces response bodies to bytesPerSecond.
func RateLimit(bytesPerSecond int64) OriginOption {
	return func(c *originConfig) { c.rate = bytesPerSecond }
}

// HTTP2 lets a TLS origin speak HTTP/2 (negotiated by ALPN, with HTTP/1.1
// for clients that do not offer h2).
func HTTP2() OriginOption { return func(c *originConfig) { c.http2 = true } }

// ServerTLS starts a TLS origin with cfg: its certificates (httptest's
// when it has none) and its client-certificate policy.
func ServerTLS(cfg *tls.Config) OriginOption {
	return func(c *originConfig) { c.serverTLS = cfg.Clone() }
}

// ServeDigest sends a digest of the current content on every 2xx answer
// for /file, in field "Repr-Digest" (RFC 9530, algs "sha-256", "sha-512"),
// "Digest" (RFC 3230, algs "SHA-256", "SHA-512", "MD5") or "Content-MD5"
// (no algs; on 200 answers only, as it covers the body sent).
func ServeDigest(field string, algs ...string) OriginOption {
	return func(c *originConfig) { c.digests = append(c.digests, servedDigest{field, algs}) }
}

// ExtraHeader adds a fixed response header to every answer for /file.
func ExtraHeader(name, value string) OriginOption {
	return func(c *originConfig) {
		if c.extra == nil {
			c.extra = nethttp.Header{}
		}
		c.extra.Add(name, value)
	}
}

// NewOrigin starts a plain HTTP origin on 127.0.0.1 serving content. It is
// closed when the test or benchmark ends.
func NewOrigin(t testing.TB, content []byte, opts ...OriginOption) *Origin {
	t.Helper()
	return start(t, false, content, opts)
}

// NewTLSOrigin is NewOrigin over HTTPS with httptest's self-signed
// certificate; TLSConfig and Client trust it.
func NewTLSOrigin(t testing.TB, content []byte, opts ...OriginOption) *Origin {
	t.Helper()
	return start(t, true, content, opts)
}

func start(t testing.TB, useTLS bool, content []byte, opts []OriginOption) *Origin {
	o := NewOriginHandler(content, opts...)
	o.Server = httptest.NewUnstartedServer(o)
	o.Server.Config.ErrorLog = log.New(quietHandshakes{}, "", log.LstdFlags)
	if useTLS {
		o.Server.EnableHTTP2 = o.cfg.http2
		if o.cfg.serverTLS != nil {
			o.Server.TLS = o.cfg.serverTLS.Clone()
		}
		if o.cfg.http2 && (o.Server.TLS == nil || o.Server.TLS.NextProtos == nil) {
			if o.Server.TLS == nil {
				o.Server.TLS = &tls.Config{}
			}
			o.Server.TLS.NextProtos = []string{"h2", "http/1.1"}
		}
		o.Server.StartTLS()
	} else {
		o.Server.Start()
	}
	t.Cleanup(o.Close)
	return o
}

// NewOriginHandler returns an Origin that is not listening: serve it with
// any server (it is an http.Handler) and call Close when done.
func NewOriginHandler(content []byte, opts ...OriginOption) *Origin {
	o := &Origin{
		cfg:     originConfig{cutAfter: -1},
		mux:     nethttp.NewServeMux(),
		done:    make(chan struct{}),
		cutNext: -1,
	}
	for _, opt := range opts {
		opt(&o.cfg)
	}
	o.SetContent(content)
	o.mux.HandleFunc("/file", o.serveFile)
	return o
}

// ServeHTTP records the request and serves it.
func (o *Origin) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	o.active.Add(1)
	defer o.active.Add(-1)
	o.mu.Lock()
	o.requests = append(o.requests, Request{
		Method:  r.Method,
		Path:    r.URL.Path,
		Range:   r.Header.Get("Range"),
		IfRange: r.Header.Get("If-Range"),
		Time:    time.Now(),
		Proto:   r.Proto,
		Header:  r.Header.Clone(),
	})
	o.mu.Unlock()
	o.mux.ServeHTTP(w, r)
}

// Handle adds a route, for example a redirect to /file.
func (o *Origin) Handle(pattern string, h nethttp.Handler) { o.mux.Handle(pattern, h) }

// Close stops the server and wakes handlers that are sleeping or pacing.
func (o *Origin) Close() {
	o.closeOnce.Do(func() { close(o.done) })
	if o.Server != nil {
		o.Server.CloseClientConnections()
		o.Server.Close()
	}
}

// URL returns the absolute URL of path on the server.
func (o *Origin) URL(path string) string { return o.Server.URL + path }

// Client returns an http.Client that trusts the server.
func (o *Origin) Client() *nethttp.Client { return o.Server.Client() }

// TLSConfig returns a config that trusts a TLS origin's certificate, or
// nil for a plain origin.
func (o *Origin) TLSConfig() *tls.Config {
	cert := o.Server.Certificate()
	if cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}
}

// SetContent replaces the file; the ETag and Last-Modified change with it.
func (o *Origin) SetContent(content []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.setContentLocked(content)
}

func (o *Origin) setContentLocked(content []byte) {
	o.content = bytes.Clone(content)
	o.gen++
	sum := sha256.Sum256(content)
	o.etag = fmt.Sprintf(`"%d-%x"`, o.gen, sum[:8])
	// A fixed past instant plus the generation: each version gets its own
	// second, which is Last-Modified's resolution.
	o.modTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(o.gen) * time.Second)
}

// FailAll answers every request for /file with status from now on, for
// example 403 for a file the client may not read; 0 serves the file again.
func (o *Origin) FailAll(status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status = status
}

// CutNext closes the connection of the next GET of /file after n body
// bytes, as CutAfter does, once. It does not count towards CutAfter's
// times. Unlike cutting a response already in flight, the client sees
// exactly n bytes, however much the socket buffers could hold.
func (o *Origin) CutNext(n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cutNext = n
}

// Content returns the current file (do not modify it) and its ETag.
func (o *Origin) Content() ([]byte, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.content, o.etag
}

// Active returns how many requests are being served right now. A slow or
// paced response ends soon after its client goes away, so this drops to 0
// once clients have stopped.
func (o *Origin) Active() int { return int(o.active.Load()) }

// Requests returns the requests received so far, oldest first.
func (o *Origin) Requests() []Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Request(nil), o.requests...)
}

func (o *Origin) serveFile(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !o.sleep(r.Context(), o.cfg.firstByte) {
		return
	}
	o.mu.Lock()
	o.nFile++
	fail := o.nFile <= o.cfg.failTimes
	content, etag, modTime := o.content, o.etag, o.modTime
	cutAt, once := int64(-1), false
	if o.cfg.cutAfter >= 0 && r.Method == nethttp.MethodGet && (o.cfg.cutTimes <= 0 || o.nCut < o.cfg.cutTimes) {
		cutAt = o.cfg.cutAfter
	}
	if o.cutNext >= 0 && r.Method == nethttp.MethodGet {
		cutAt, once, o.cutNext = o.cutNext, true, -1
	}
	status := o.status
	o.mu.Unlock()

	h := w.Header()
	switch {
	case status != 0:
		nethttp.Error(w, nethttp.StatusText(status), status)
		return
	case fail:
		for k, v := range o.cfg.failHeader {
			h[k] = v
		}
		nethttp.Error(w, nethttp.StatusText(o.cfg.failStatus), o.cfg.failStatus)
		return
	case r.Method == nethttp.MethodHead && o.cfg.headStatus != 0:
		w.WriteHeader(o.cfg.headStatus)
		return
	case r.Method != nethttp.MethodGet && r.Method != nethttp.MethodHead:
		nethttp.Error(w, "method not allowed", nethttp.StatusMethodNotAllowed)
		return
	}

	h.Set("Content-Type", "application/octet-stream")
	for k, v := range o.cfg.extra {
		h[k] = v
	}
	o.setDigests(h, content, r)
	if !o.cfg.noETag {
		h.Set("ETag", etag) // ServeContent checks If-Range against it
	}
	if o.cfg.noLastModified {
		modTime = time.Time{}
	} else {
		h.Set("Last-Modified", modTime.Format(nethttp.TimeFormat))
	}
	bw := &bodyWriter{ResponseWriter: w, o: o, ctx: r.Context(), cutAt: cutAt, once: once, start: time.Now()}
	switch {
	case o.cfg.noLength:
		w.WriteHeader(nethttp.StatusOK)
		if r.Method == nethttp.MethodGet {
			// Headers go out now, so the server cannot add a length.
			nethttp.NewResponseController(w).Flush()
			bw.Write(content)
		}
	case o.cfg.noRanges:
		h.Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(nethttp.StatusOK)
		if r.Method == nethttp.MethodGet {
			bw.Write(content)
		}
	case o.cfg.wrongRange && r.Header.Get("Range") != "" && len(content) > 1:
		start := 0
		if rangeStart(r.Header.Get("Range")) == 0 {
			start = 1
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(content)-1, len(content)))
		h.Set("Content-Length", strconv.Itoa(len(content)-start))
		w.WriteHeader(nethttp.StatusPartialContent)
		bw.Write(content[start:])
	default:
		nethttp.ServeContent(bw, r, "", modTime, bytes.NewReader(content))
	}
}

// setDigests adds the ServeDigest headers for content. Content-MD5 is
// left out when the answer may be a 206, since it would cover the part.
func (o *Origin) setDigests(h nethttp.Header, content []byte, r *nethttp.Request) {
	sums := map[string][]byte{}
	s256, s512, m5 := sha256.Sum256(content), sha512.Sum512(content), md5.Sum(content)
	sums["sha-256"], sums["sha-512"], sums["md5"] = s256[:], s512[:], m5[:]
	b64 := base64.StdEncoding.EncodeToString
	for _, d := range o.cfg.digests {
		var parts []string
		for _, alg := range d.algs {
			sum := sums[strings.ToLower(alg)]
			if d.field == "Repr-Digest" {
				parts = append(parts, fmt.Sprintf("%s=:%s:", alg, b64(sum)))
			} else {
				parts = append(parts, fmt.Sprintf("%s=%s", alg, b64(sum)))
			}
		}
		switch {
		case d.field == "Content-MD5" && (r.Header.Get("Range") == "" || o.cfg.noRanges || o.cfg.noLength):
			h.Set("Content-MD5", b64(sums["md5"]))
		case d.field != "Content-MD5":
			h.Set(d.field, strings.Join(parts, ", "))
		}
	}
}

// rangeStart returns a in "bytes=a-...", or -1.
func rangeStart(v string) int64 {
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return -1
	}
	a, _, _ := strings.Cut(spec, "-")
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// sleep waits d; it reports false if the client or the origin went first.
func (o *Origin) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-o.done:
	}
	return false
}

// count adds n to the bytes served and fires ChangeAfter.
func (o *Origin) count(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.served += int64(n)
	if o.cfg.changeTo != nil && !o.changed && o.served >= o.cfg.changeAfter {
		o.changed = true
		o.setContentLocked(o.cfg.changeTo)
	}
}

var errCut = errors.New("testenv: connection cut on purpose")

// bodyWriter carries a response body and applies the body faults: pacing,
// counting and the cut.
type bodyWriter struct {
	nethttp.ResponseWriter
	o     *Origin
	ctx   context.Context
	cutAt int64 // -1: never
	once  bool  // the cut is CutNext's, not CutAfter's
	sent  int64
	start time.Time
}

// Unwrap lets http.ResponseController reach the real writer.
func (b *bodyWriter) Unwrap() nethttp.ResponseWriter { return b.ResponseWriter }

func (b *bodyWriter) Write(p []byte) (int, error) {
	rate := b.o.cfg.rate
	written := 0
	for len(p) > 0 {
		chunk := p
		if b.cutAt >= 0 && b.sent+int64(len(chunk)) > b.cutAt {
			chunk = chunk[:b.cutAt-b.sent]
		}
		if rate > 0 {
			chunk = chunk[:min(int64(len(chunk)), max(rate/50, 1))] // about 20ms a chunk
			due := b.start.Add(time.Duration(float64(b.sent) / float64(rate) * float64(time.Second)))
			if !b.o.sleep(b.ctx, time.Until(due)) {
				return written, b.ctx.Err()
			}
		}
		n, err := b.ResponseWriter.Write(chunk)
		b.sent += int64(n)
		written += n
		p = p[n:]
		b.o.count(n)
		if err != nil {
			return written, err
		}
		if rate > 0 {
			nethttp.NewResponseController(b.ResponseWriter).Flush()
		}
		if b.cutAt >= 0 && b.sent == b.cutAt && len(p) > 0 {
			b.cut()
			return written, errCut
		}
	}
	return written, nil
}

// cut sends what was written so far, then closes the connection under the
// unfinished body, so the client sees exactly cutAt bytes.
func (b *bodyWriter) cut() {
	if !b.once {
		b.o.mu.Lock()
		b.o.nCut++
		b.o.mu.Unlock()
	}
	rc := nethttp.NewResponseController(b.ResponseWriter)
	rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		conn.Close()
	}
}

// quietHandshakes drops the server's log lines about TLS handshakes that
// tests fail on purpose (an untrusted client), and passes the rest on.
type quietHandshakes struct{}

func (quietHandshakes) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte("TLS handshake error")) {
		os.Stderr.Write(p)
	}
	return len(p), nil
}

// RandomContent returns n reproducible pseudo-random bytes.
func RandomContent(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}
